//! The world file's organisation (contract): its ACTIVE members, its OU tree, the day each late
//! account joins and each leaver leaves, and `generate:` for many accounts in a few lines. The tree on a given day is
//! what a simulated AWS Organizations answers, so vault sets expand as they would on AWS.

use super::*;
use crate::policy::{is_ou_id, AccountScope, OrgTree, OrgUnit};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationSpec {
    pub cross_account_backup: bool,
    /// ACTIVE member accounts; `None`: every account named anywhere.
    pub members: Option<BTreeSet<String>>,
    /// OU id -> its accounts and child OU ids.
    pub organizational_units: BTreeMap<String, Vec<String>>,
    /// Account -> the simulated day (0 = the first) it joins; a member from then.
    pub joins: BTreeMap<String, u32>,
    /// Account -> the simulated day it leaves the organisation (removed, or suspended): no
    /// member from then. Its vaults and what they hold stay.
    pub leaves: BTreeMap<String, u32>,
    /// AWS Backup's concurrent copy jobs from one account into one Region, as the
    /// organisation's quota stands: 100 by default, more once AWS raises it on request.
    pub concurrent_copy_jobs: u32,
}

/// AWS Backup's default quota of concurrent copy jobs from one account into one Region.
const DEFAULT_CONCURRENT_COPY_JOBS: u32 = 100;

impl Default for OrganizationSpec {
    fn default() -> Self {
        Self {
            cross_account_backup: true,
            members: None,
            organizational_units: BTreeMap::new(),
            joins: BTreeMap::new(),
            leaves: BTreeMap::new(),
            concurrent_copy_jobs: DEFAULT_CONCURRENT_COPY_JOBS,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateSpec {
    pub accounts: u32,
    pub first_account: u64,
    /// Where the accounts are (`None`: directly under the root).
    pub organizational_unit: Option<String>,
    pub regions: Vec<String>,
    pub tables_per_account_region: u32,
    pub tags: BTreeMap<String, String>,
    pub size_gb: u32,
}

/// The most accounts `generate:` may make (AWS's default quota is 10 per organisation, raised on
/// request; the largest organisations have some thousands).
pub const MAX_GENERATED_ACCOUNTS: u32 = 10_000;

impl GenerateSpec {
    pub fn account_ids(&self) -> impl Iterator<Item = String> + '_ {
        (0..u64::from(self.accounts)).map(|i| format!("{:012}", self.first_account + i))
    }

    /// The generated tables: in each account and Region, `tables_per_account_region` of them.
    pub fn tables(&self) -> Vec<TableSpec> {
        let mut out = Vec::new();
        for account in self.account_ids() {
            for region in &self.regions {
                for i in 0..self.tables_per_account_region {
                    out.push(TableSpec {
                        name: format!("generated-{i:03}"),
                        account: account.clone(),
                        region: region.clone(),
                        tags: self.tags.clone(),
                        pitr: true,
                        size_gb: self.size_gb,
                        native_backups: 0,
                    });
                }
            }
        }
        out
    }
}

impl WorldFile {
    /// What AWS Organizations answers on simulated `day` (`None`: every account that is a member
    /// on any day, late joiners and leavers in):
    /// the ACTIVE accounts, and each OU's ACTIVE accounts and child OUs. `named` are the accounts
    /// the policy and the rest of the world name, members when `members` is not given.
    pub fn org_tree(&self, named: &BTreeSet<String>, day: Option<u32>) -> OrgTree {
        let org = &self.organization;
        let joined = |a: &String| day.is_none_or(|d| org.joins.get(a).is_none_or(|j| *j <= d));
        let left = |a: &String| day.is_some_and(|d| org.leaves.get(a).is_some_and(|l| *l <= d));
        let mut active: BTreeSet<String> = match &org.members {
            Some(m) => m.clone(),
            None => named.clone(),
        };
        let mut units: BTreeMap<String, OrgUnit> = BTreeMap::new();
        for (ou, entries) in &org.organizational_units {
            let unit = units.entry(ou.clone()).or_default();
            for e in entries {
                if is_ou_id(e) {
                    unit.children.push(e.clone());
                } else {
                    unit.accounts.insert(e.clone());
                }
            }
            if org.members.is_none() {
                active.extend(unit.accounts.iter().cloned());
            }
        }
        if let Some(g) = &self.generate {
            let ids: Vec<String> = g.account_ids().collect();
            if let Some(ou) = &g.organizational_unit {
                units
                    .entry(ou.clone())
                    .or_default()
                    .accounts
                    .extend(ids.iter().cloned());
            }
            active.extend(ids);
        }
        active.retain(|a| joined(a) && !left(a));
        for unit in units.values_mut() {
            unit.accounts.retain(|a| active.contains(a));
        }
        OrgTree {
            active,
            units,
            missing: BTreeSet::new(),
        }
    }

    /// Every account the world names: tables, accounts, Regions, the organisation, generated.
    pub fn named_accounts(&self) -> BTreeSet<String> {
        let mut out: BTreeSet<String> = self.accounts.keys().cloned().collect();
        out.extend(self.regions.keys().map(|(a, _)| a.clone()));
        out.extend(self.tables.iter().flatten().map(|t| t.account.clone()));
        out.extend(self.organization.joins.keys().cloned());
        out.extend(self.organization.leaves.keys().cloned());
        out
    }
}

/// The accounts a policy names outright: its vaults' and its listed sets'.
pub fn policy_accounts(policy: &Policy) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = policy
        .vaults
        .iter()
        .map(|v| v.arn.account.clone())
        .collect();
    for set in &policy.sets {
        if let AccountScope::Accounts(list) = &set.accounts {
            out.extend(list.iter().cloned());
        }
    }
    out
}

pub(super) fn read_organization(node: &Node, errors: &mut Errors) -> OrganizationSpec {
    let loc = "organization";
    let allowed = [
        "cross_account_backup",
        "members",
        "organizational_units",
        "joins",
        "leaves",
        "concurrent_copy_jobs",
    ];
    let f = fields(node, loc, "(organization)", &allowed, errors);
    let members = f.get("members").map(|n| {
        list(n, loc, "members", errors)
            .iter()
            .filter_map(|m| account_id(Some(&m), loc, "members", errors))
            .collect()
    });
    let joins = account_days(f.get("joins").copied(), "joins", errors);
    let leaves = account_days(f.get("leaves").copied(), "leaves", errors);
    for (account, leaves_on) in &leaves {
        if let Some(joins_on) = joins.get(account).filter(|j| *j >= leaves_on) {
            errors.add(
                loc,
                &format!("leaves.{account}"),
                format!("day {leaves_on} is not after the day it joins ({joins_on})"),
            );
        }
    }
    OrganizationSpec {
        cross_account_backup: flag(
            f.get("cross_account_backup"),
            true,
            loc,
            "cross_account_backup",
            errors,
        ),
        members,
        organizational_units: f
            .get("organizational_units")
            .map(|n| read_units(n, errors))
            .unwrap_or_default(),
        joins,
        leaves,
        concurrent_copy_jobs: number(
            f.get("concurrent_copy_jobs"),
            DEFAULT_CONCURRENT_COPY_JOBS,
            1..=100_000,
            loc,
            "concurrent_copy_jobs",
            errors,
        ),
    }
}

/// `{ account: day }`: each account id and day (0 to 3650) checked.
fn account_days(node: Option<&Node>, field: &str, errors: &mut Errors) -> BTreeMap<String, u32> {
    let loc = "organization";
    let mut out = BTreeMap::new();
    let Some(node) = node else {
        return out;
    };
    for (account, day) in map_entries(node, loc, field, errors) {
        let field = format!("{field}.{account}");
        let day = number(Some(&day), 0, 0..=3650, loc, &field, errors);
        if account_id(Some(&&Node::Str(account.clone())), loc, &field, errors).is_some() {
            out.insert(account.clone(), day);
        }
    }
    out
}

fn map_entries<'a>(
    node: &'a Node,
    loc: &str,
    field: &str,
    errors: &mut Errors,
) -> &'a [(String, Node)] {
    match node {
        Node::Map(entries) => entries,
        other => {
            let found = other.kind();
            errors.add(loc, field, format!("must be a mapping, found {found}"));
            &[]
        }
    }
}

/// OU id -> [account ids and child OU ids]; a child named twice, or two parents, is an error.
fn read_units(node: &Node, errors: &mut Errors) -> BTreeMap<String, Vec<String>> {
    let loc = "organization";
    let mut out = BTreeMap::new();
    let mut parent_of: BTreeMap<String, String> = BTreeMap::new();
    for (ou, entries) in map_entries(node, loc, "organizational_units", errors) {
        let field = format!("organizational_units.{ou}");
        if !is_ou_id(ou) {
            errors.add(
                loc,
                &field,
                format!("'{ou}' is not an OU id (ou-xxxx-xxxxxxxx)"),
            );
            continue;
        }
        let mut children = Vec::new();
        for entry in list(entries, loc, &field, errors) {
            let id = match entry {
                Node::Str(s) if is_ou_id(s) => s.clone(),
                _ => match account_id(Some(&entry), loc, &field, errors) {
                    Some(a) => a,
                    None => continue,
                },
            };
            // The first parent stays: a third mention names it, not the one refused.
            if let Some(other) = parent_of.get(&id) {
                errors.add(
                    loc,
                    &field,
                    format!("{id} is already under {other}: one parent each"),
                );
                continue;
            }
            parent_of.insert(id.clone(), ou.clone());
            children.push(id);
        }
        if out.insert(ou.clone(), children).is_some() {
            errors.add(loc, &field, "given more than once");
        }
    }
    check_nesting(&out, &parent_of, errors);
    out
}

/// AWS Organizations nests OUs at most five deep under the root, and a tree has no cycle.
const MAX_OU_DEPTH: usize = 5;

/// Each OU's depth under the root (1 for one the file puts under no other), each OU walked once:
/// an OU in a cycle, or deeper than [`MAX_OU_DEPTH`], is an error of its own. An OU below a
/// cycle is the cycle's error, not another.
fn check_nesting(
    units: &BTreeMap<String, Vec<String>>,
    parent_of: &BTreeMap<String, String>,
    errors: &mut Errors,
) {
    // `None`: in a cycle, or below one.
    let mut depth: BTreeMap<&str, Option<usize>> = BTreeMap::new();
    for ou in units.keys() {
        let (mut path, mut on_path) = (Vec::new(), std::collections::HashSet::new());
        let mut at = ou.as_str();
        let above = loop {
            if let Some(known) = depth.get(at) {
                break *known;
            }
            if !on_path.insert(at) {
                let start = path.iter().position(|p| *p == at).unwrap_or(0);
                let cycle = path[start..].join(" under ");
                for member in path.drain(start..) {
                    let field = format!("organizational_units.{member}");
                    let why = format!("{member} is in a cycle of OUs ({cycle} under {at})");
                    errors.add("organization", &field, why);
                    depth.insert(member, None);
                }
                break None;
            }
            path.push(at);
            match parent_of.get(at) {
                Some(parent) => at = parent,
                None => break Some(0),
            }
        };
        for (i, member) in path.iter().rev().enumerate() {
            let d = above.map(|a| a + i + 1);
            depth.insert(member, d);
            if d.is_some_and(|d| d > MAX_OU_DEPTH) {
                let field = format!("organizational_units.{member}");
                let why = format!(
                    "{member} is nested {} OUs deep; AWS Organizations allows at most {MAX_OU_DEPTH}",
                    d.unwrap_or_default()
                );
                errors.add("organization", &field, why);
            }
        }
    }
}

pub(super) fn read_generate(node: &Node, errors: &mut Errors) -> GenerateSpec {
    let loc = "generate";
    let allowed = [
        "accounts",
        "first_account",
        "organizational_unit",
        "regions",
        "tables_per_account_region",
        "tags",
        "size_gb",
    ];
    let f = fields(node, loc, "(generate)", &allowed, errors);
    let accounts = number(
        f.get("accounts"),
        0,
        1..=MAX_GENERATED_ACCOUNTS,
        loc,
        "accounts",
        errors,
    );
    let first_account = match f.get("first_account") {
        None => 100_000_000_000,
        Some(n) => account_id(Some(n), loc, "first_account", errors)
            .and_then(|a| a.parse::<u64>().ok())
            .unwrap_or(100_000_000_000),
    };
    if first_account + u64::from(accounts) > 999_999_999_999 {
        errors.add(loc, "accounts", "the generated ids pass 999999999999");
    }
    let organizational_unit = match f.get("organizational_unit") {
        None => None,
        Some(Node::Str(ou)) if is_ou_id(ou) => Some(ou.clone()),
        Some(_) => {
            errors.add(
                loc,
                "organizational_unit",
                "must be an OU id (ou-xxxx-xxxxxxxx)",
            );
            None
        }
    };
    let regions = match f.get("regions") {
        None => {
            errors.add(loc, "regions", "required");
            Vec::new()
        }
        Some(n) => list(n, loc, "regions", errors)
            .iter()
            .filter_map(|r| region(Some(&r), loc, errors))
            .collect(),
    };
    let tables = number(
        f.get("tables_per_account_region"),
        1,
        0..=1000,
        loc,
        "tables_per_account_region",
        errors,
    );
    if u64::from(accounts) * regions.len() as u64 * u64::from(tables) > 1_000_000 {
        errors.add(
            loc,
            "tables_per_account_region",
            "more than 1,000,000 tables in all",
        );
    }
    GenerateSpec {
        accounts,
        first_account,
        organizational_unit,
        regions,
        tables_per_account_region: tables,
        tags: tags_at(f.get("tags").copied(), loc, "tags", errors),
        size_gb: number(f.get("size_gb"), 1, 1..=1_000_000, loc, "size_gb", errors),
    }
}

#[cfg(test)]
mod tests;
