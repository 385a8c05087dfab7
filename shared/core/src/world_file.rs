//! The world file (design.md's contract): a simulated organisation for `simulate`, `report`,
//! `doctor`, `restore` and `emulate`. Every field is optional; what is left out is generated from
//! the policy as `relay simulate` does without it. Read like the policy: YAML or JSON, at most
//! 1 MB, every error at once, each naming where it is and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::arn::{is_issued_account_id, is_table_name};
use crate::policy::{
    days_value, error_list, fields, parse_document, tags_at, text, Errors, Node, Policy,
    PolicyError,
};
use crate::retention::VaultLock;

mod organization;
pub use organization::{policy_accounts, GenerateSpec, OrganizationSpec, MAX_GENERATED_ACCOUNTS};
use organization::{read_generate, read_organization};

/// Every error found in one world file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct WorldErrors(pub Vec<PolicyError>);

impl fmt::Display for WorldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&error_list("invalid world file", &self.0))
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct WorldFile {
    /// `None`: generated from the policy (as `relay simulate --tables N` does).
    pub tables: Option<Vec<TableSpec>>,
    /// `None`: one plan per root vault, daily, every table of its account and Region, 35 days.
    pub backup_plans: Option<Vec<BackupPlanSpec>>,
    /// Per account id; an account not listed has both roles.
    pub accounts: BTreeMap<String, AccountSpec>,
    /// Per (account, Region); one not listed has advanced features on.
    pub regions: BTreeMap<(String, String), RegionSpec>,
    pub organization: OrganizationSpec,
    /// Per policy alias; a vault not listed exists, unlocked, open to the organisation.
    pub vaults: BTreeMap<String, VaultSpec>,
    /// `None`: the simulation's own faults (its `--faults`).
    pub faults: Option<FaultSpec>,
    /// Many accounts in a few lines, added to the rest.
    pub generate: Option<GenerateSpec>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TableSpec {
    pub name: String,
    pub account: String,
    pub region: String,
    pub tags: BTreeMap<String, String>,
    pub pitr: bool,
    pub size_gb: u32,
    /// DynamoDB-native backups the table has (made outside AWS Backup).
    pub native_backups: u32,
}

impl TableSpec {
    /// The table's ARN (its Region's partition).
    pub fn arn(&self) -> crate::arn::TableArn {
        crate::arn::TableArn {
            partition: crate::arn::partition_of_region(&self.region).to_string(),
            region: self.region.clone(),
            account: self.account.clone(),
            table: self.name.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackupPlanSpec {
    /// A policy alias: the vault the plan backs up into.
    pub vault: String,
    pub every_hours: u32,
    pub delete_after_days: u32,
    /// Tables of the vault's account and Region carrying all these tags (none: every table).
    pub select_tags: BTreeMap<String, String>,
    /// A policy alias the plan's own copy action copies into, lifecycle "never".
    pub copy_to: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSpec {
    /// The role the functions assume there.
    pub executor_role: bool,
    /// The role AWS Backup assumes to copy from there.
    pub copy_role: bool,
}

impl Default for AccountSpec {
    fn default() -> Self {
        Self {
            executor_role: true,
            copy_role: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionSpec {
    pub advanced_features: bool,
    /// An EventBridge rule forwards its aws.backup events to the hub (the spoke's). Default true.
    pub event_forwarding: bool,
}

/// Who a vault lets in: the whole organisation, these accounts, or nobody else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    Organization,
    Accounts(BTreeSet<String>),
}

impl Principals {
    /// Does this admit `account`, a member (or not) of the organisation?
    pub fn admits(&self, account: &str, is_member: bool) -> bool {
        match self {
            Self::Organization => is_member,
            Self::Accounts(a) => a.contains(account),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultSpec {
    pub exists: bool,
    pub lock: Option<VaultLock>,
    /// Accounts whose copies the access policy allows in (`backup:CopyIntoBackupVault`).
    pub access_policy_allows_copy_from: Principals,
    /// Accounts the vault's KMS key is shared with: copies out of it to others fail.
    pub kms_key_shared_with: Principals,
    pub deny_manual_deletion: bool,
    /// COMPLETED recovery points the vault holds before the run (copies made in the days
    /// before it, of the world's tables in turn, kept as the vault's retention says): a bunker
    /// of years of copies, for the scale model.
    pub held_points: u32,
}

/// The most `held_points` a vault may be given.
pub const MAX_HELD_POINTS: u32 = 10_000_000;

impl Default for VaultSpec {
    fn default() -> Self {
        Self {
            exists: true,
            lock: None,
            access_policy_allows_copy_from: Principals::Organization,
            kms_key_shared_with: Principals::Organization,
            deny_manual_deletion: false,
            held_points: 0,
        }
    }
}

/// The faults a world file names; one it does not name keeps the simulation's default (as
/// `--faults` does), so `faults: {lose: 0.5}` changes only `lose`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FaultSpec {
    pub lose: Option<f64>,
    pub duplicate: Option<f64>,
    pub reorder_minutes: Option<i64>,
    pub fail: Option<f64>,
    pub throttle: Option<f64>,
    pub deny_account: Option<BTreeSet<String>>,
}

/// The longest delivery delay a world file may ask for, as the CLI's `--faults reorder`.
pub const MAX_REORDER_MINUTES: i64 = 1440;

impl WorldFile {
    /// YAML or JSON; text over 1 MB is refused before parsing. Checked against the policy (its
    /// aliases and accounts); every error found is returned.
    pub fn parse(text: &str, policy: &Policy) -> Result<Self, WorldErrors> {
        let node = parse_document(text, "world file").map_err(|e| WorldErrors(e.0))?;
        let mut errors = Errors(Vec::new());
        let world = read(&node, policy, &mut errors);
        if errors.0.is_empty() {
            Ok(world)
        } else {
            Err(WorldErrors(errors.0))
        }
    }
}

/// The most tables and backup plans a world file may list: a simulation of more would run for days.
pub const MAX_TABLES: usize = 10_000;
pub const MAX_PLANS: usize = 100;

fn read(root: &Node, policy: &Policy, errors: &mut Errors) -> WorldFile {
    // An empty file (or `---`) is a world of defaults.
    if matches!(root, Node::Null) {
        return WorldFile::default();
    }
    let allowed = [
        "tables",
        "backup_plans",
        "accounts",
        "regions",
        "organization",
        "vaults",
        "faults",
        "generate",
    ];
    let top = fields(root, "world", "(document)", &allowed, errors);
    let tables = top.get("tables").map(|n| {
        // Numbered as written, so an error names the table the reader sees.
        let read: Vec<(usize, TableSpec)> = list(n, "world", "tables", errors)
            .iter()
            .enumerate()
            .filter_map(|(i, n)| read_table(i, n, errors).map(|t| (i, t)))
            .collect();
        check_unique_tables(&read, errors);
        if read.len() > MAX_TABLES {
            let n = read.len();
            errors.add(
                "world",
                "tables",
                format!("{n} tables; at most {MAX_TABLES}"),
            );
        }
        read.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    });
    let backup_plans = top.get("backup_plans").map(|n| {
        let plans: Vec<BackupPlanSpec> = list(n, "world", "backup_plans", errors)
            .iter()
            .enumerate()
            .filter_map(|(i, n)| read_plan(i, n, policy, errors))
            .collect();
        check_plans(&plans, errors);
        plans
    });
    WorldFile {
        tables,
        backup_plans,
        accounts: top
            .get("accounts")
            .map(|n| read_accounts(n, errors))
            .unwrap_or_default(),
        regions: top
            .get("regions")
            .map(|n| read_regions(n, errors))
            .unwrap_or_default(),
        organization: top
            .get("organization")
            .map(|n| read_organization(n, errors))
            .unwrap_or_default(),
        vaults: top
            .get("vaults")
            .map(|n| read_vaults(n, policy, errors))
            .unwrap_or_default(),
        faults: top.get("faults").map(|n| read_faults(n, errors)),
        generate: top.get("generate").map(|n| read_generate(n, errors)),
    }
}

fn list<'a>(node: &'a Node, loc: &str, field: &str, errors: &mut Errors) -> &'a [Node] {
    match node {
        Node::Seq(items) => items,
        other => {
            errors.add(
                loc,
                field,
                format!("must be a list, found {}", other.kind()),
            );
            &[]
        }
    }
}

fn flag(node: Option<&&Node>, default: bool, loc: &str, field: &str, errors: &mut Errors) -> bool {
    match node {
        None => default,
        Some(Node::Bool(b)) => *b,
        Some(other) => {
            errors.add(
                loc,
                field,
                format!("must be true or false, found {}", other.kind()),
            );
            default
        }
    }
}

/// A whole number within `range`, at `field`.
fn number(
    node: Option<&&Node>,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
    loc: &str,
    field: &str,
    errors: &mut Errors,
) -> u32 {
    match node {
        None => default,
        Some(Node::Int(i)) if u32::try_from(*i).is_ok_and(|n| range.contains(&n)) => {
            u32::try_from(*i).unwrap_or(default)
        }
        Some(Node::Int(i)) => {
            let (lo, hi) = (range.start(), range.end());
            errors.add(loc, field, format!("{i} is outside {lo}..={hi}"));
            default
        }
        Some(Node::Float(f)) if f.fract() == 0.0 => {
            let (lo, hi) = (range.start(), range.end());
            errors.add(loc, field, format!("{f:e} is outside {lo}..={hi}"));
            default
        }
        Some(other) => {
            errors.add(
                loc,
                field,
                format!("must be a whole number, found {}", other.kind()),
            );
            default
        }
    }
}

fn probability(node: Option<&&Node>, loc: &str, field: &str, errors: &mut Errors) -> f64 {
    let value = match node {
        None => return 0.0,
        Some(Node::Int(i)) => *i as f64,
        Some(Node::Float(f)) => *f,
        Some(other) => {
            errors.add(
                loc,
                field,
                format!("must be a number, found {}", other.kind()),
            );
            return 0.0;
        }
    };
    if (0.0..=1.0).contains(&value) {
        value
    } else {
        errors.add(
            loc,
            field,
            format!("{value} is not a probability within 0..=1"),
        );
        0.0
    }
}

fn account_id(node: Option<&&Node>, loc: &str, field: &str, errors: &mut Errors) -> Option<String> {
    let Some(node) = node else {
        errors.add(loc, field, "required");
        return None;
    };
    let id = match node {
        Node::Str(s) => s.clone(),
        // An unquoted YAML account id reads as a number.
        Node::Int(i) => i.to_string(),
        other => {
            errors.add(
                loc,
                field,
                format!("must be an account id, found {}", other.kind()),
            );
            return None;
        }
    };
    if is_issued_account_id(&id) {
        Some(id)
    } else {
        errors.add(
            loc,
            field,
            format!("'{id}' is not a 12-digit account id (quote it in YAML)"),
        );
        None
    }
}

fn region(node: Option<&&Node>, loc: &str, errors: &mut Errors) -> Option<String> {
    let Some(node) = node else {
        errors.add(loc, "region", "required");
        return None;
    };
    let r = text(node, loc, "region", errors)?;
    match crate::regions::region_problem(r) {
        None => Some(r.to_string()),
        Some(problem) => {
            errors.add(loc, "region", problem);
            None
        }
    }
}

fn read_table(i: usize, node: &Node, errors: &mut Errors) -> Option<TableSpec> {
    let allowed = [
        "name",
        "account",
        "region",
        "tags",
        "pitr",
        "size_gb",
        "native_backups",
    ];
    let loc = format!("table {}", i + 1);
    let f = fields(node, &loc, "(table)", &allowed, errors);
    let name = match f.get("name") {
        None => {
            errors.add(&loc, "name", "required");
            None
        }
        Some(n) => text(n, &loc, "name", errors).and_then(|s| {
            let ok = is_table_name(s);
            if !ok {
                errors.add(
                    &loc,
                    "name",
                    format!("'{s}' is not a DynamoDB table name (3-255 of a-z A-Z 0-9 _ - .)"),
                );
            }
            ok.then(|| s.to_string())
        }),
    };
    let loc = name
        .as_deref()
        .map(|n| format!("table {} ({n})", i + 1))
        .unwrap_or(loc);
    let account = account_id(f.get("account"), &loc, "account", errors);
    let region = region(f.get("region"), &loc, errors);
    let tags = tags_at(f.get("tags").copied(), &loc, "tags", errors);
    let pitr = flag(f.get("pitr"), true, &loc, "pitr", errors);
    let size_gb = number(f.get("size_gb"), 1, 0..=1_000_000, &loc, "size_gb", errors);
    let native = number(
        f.get("native_backups"),
        0,
        0..=10_000,
        &loc,
        "native_backups",
        errors,
    );
    Some(TableSpec {
        name: name?,
        account: account?,
        region: region?,
        tags,
        pitr,
        size_gb,
        native_backups: native,
    })
}

fn check_unique_tables(tables: &[(usize, TableSpec)], errors: &mut Errors) {
    let mut seen = BTreeSet::new();
    for (i, t) in tables {
        if !seen.insert((&t.account, &t.region, &t.name)) {
            let loc = format!("table {} ({})", i + 1, t.name);
            errors.add(
                &loc,
                "name",
                format!(
                    "a table '{}' is already listed in {}/{}",
                    t.name, t.account, t.region
                ),
            );
        }
    }
}

fn alias_of<'a>(
    node: Option<&&'a Node>,
    policy: &Policy,
    loc: &str,
    field: &str,
    errors: &mut Errors,
) -> Option<&'a str> {
    let alias = text(node?, loc, field, errors)?;
    if policy.vault(alias).is_none() && policy.set(alias).is_none() {
        errors.add(
            loc,
            field,
            format!("'{alias}' is not a vault of the policy"),
        );
        return None;
    }
    Some(alias)
}

fn read_plan(
    i: usize,
    node: &Node,
    policy: &Policy,
    errors: &mut Errors,
) -> Option<BackupPlanSpec> {
    let allowed = [
        "vault",
        "every_hours",
        "delete_after_days",
        "select_tags",
        "copy_to",
    ];
    let loc = format!("backup_plan {}", i + 1);
    let f = fields(node, &loc, "(backup plan)", &allowed, errors);
    if !f.contains_key("vault") {
        errors.add(&loc, "vault", "required");
    }
    let vault = alias_of(f.get("vault"), policy, &loc, "vault", errors);
    let every_hours = number(
        f.get("every_hours"),
        24,
        1..=24 * 31,
        &loc,
        "every_hours",
        errors,
    );
    let delete = f.get("delete_after_days").map_or(Some(35), |n| {
        days_value(n, &loc, "delete_after_days", errors)
    });
    let select_tags = tags_at(f.get("select_tags").copied(), &loc, "select_tags", errors);
    let copy_to = match f.get("copy_to") {
        None | Some(Node::Null) => None,
        Some(n) => Some(alias_of(Some(n), policy, &loc, "copy_to", errors)?.to_string()),
    };
    Some(BackupPlanSpec {
        vault: vault?.to_string(),
        every_hours,
        delete_after_days: delete?,
        select_tags,
        copy_to,
    })
}

/// One plan per vault (two plans backing up a table at once are one job at AWS, not two), and
/// not too many to simulate.
fn check_plans(plans: &[BackupPlanSpec], errors: &mut Errors) {
    if plans.len() > MAX_PLANS {
        let n = plans.len();
        errors.add(
            "world",
            "backup_plans",
            format!("{n} plans; at most {MAX_PLANS}"),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, p) in plans.iter().enumerate() {
        let loc = format!("backup_plan {}", i + 1);
        if !seen.insert(&p.vault) {
            let v = &p.vault;
            errors.add(
                &loc,
                "vault",
                format!("another plan already backs up into '{v}': one plan per vault"),
            );
        }
        if p.copy_to.as_deref() == Some(p.vault.as_str()) {
            errors.add(&loc, "copy_to", "copies into the plan's own vault");
        }
    }
}

fn read_accounts(node: &Node, errors: &mut Errors) -> BTreeMap<String, AccountSpec> {
    let mut out = BTreeMap::new();
    let Node::Map(entries) = node else {
        errors.add(
            "world",
            "accounts",
            format!("must be a mapping of account ids, found {}", node.kind()),
        );
        return out;
    };
    for (id, spec) in entries {
        let loc = format!("account '{id}'");
        if !is_issued_account_id(id) {
            errors.add(
                &loc,
                "(key)",
                "not a 12-digit account id (quote it in YAML)",
            );
        }
        let f = fields(
            spec,
            &loc,
            "(account)",
            &["executor_role", "copy_role"],
            errors,
        );
        let spec = AccountSpec {
            executor_role: flag(f.get("executor_role"), true, &loc, "executor_role", errors),
            copy_role: flag(f.get("copy_role"), true, &loc, "copy_role", errors),
        };
        if out.insert(id.clone(), spec).is_some() {
            errors.add(&loc, "(key)", "given more than once");
        }
    }
    out
}

fn read_regions(node: &Node, errors: &mut Errors) -> BTreeMap<(String, String), RegionSpec> {
    let mut out = BTreeMap::new();
    for (i, n) in list(node, "world", "regions", errors).iter().enumerate() {
        let loc = format!("region {}", i + 1);
        let f = fields(
            n,
            &loc,
            "(region)",
            &["account", "region", "advanced_features", "event_forwarding"],
            errors,
        );
        let account = account_id(f.get("account"), &loc, "account", errors);
        let region = region(f.get("region"), &loc, errors);
        let spec = RegionSpec {
            advanced_features: flag(
                f.get("advanced_features"),
                true,
                &loc,
                "advanced_features",
                errors,
            ),
            event_forwarding: flag(
                f.get("event_forwarding"),
                true,
                &loc,
                "event_forwarding",
                errors,
            ),
        };
        if let (Some(a), Some(r)) = (account, region) {
            if out.insert((a.clone(), r.clone()), spec).is_some() {
                errors.add(&loc, "region", format!("{a}/{r} is already listed"));
            }
        }
    }
    out
}

fn principals(node: Option<&&Node>, loc: &str, field: &str, errors: &mut Errors) -> Principals {
    let Some(node) = node else {
        return Principals::Organization;
    };
    let items = list(node, loc, field, errors);
    if matches!(items, [Node::Str(s)] if s == "org") {
        return Principals::Organization;
    }
    Principals::Accounts(
        items
            .iter()
            .filter_map(|n| match n {
                Node::Str(s) if s == "org" => {
                    errors.add(
                        loc,
                        field,
                        "'org' stands alone: [org], a list of account ids, or []",
                    );
                    None
                }
                n => account_id(Some(&n), loc, field, errors),
            })
            .collect(),
    )
}

fn read_lock(node: &Node, loc: &str, errors: &mut Errors) -> Option<VaultLock> {
    let f = fields(
        node,
        loc,
        "lock",
        &["min_retention_days", "max_retention_days"],
        errors,
    );
    let min = f
        .get("min_retention_days")
        .and_then(|n| days_value(n, loc, "lock.min_retention_days", errors));
    let max = f
        .get("max_retention_days")
        .and_then(|n| days_value(n, loc, "lock.max_retention_days", errors));
    if let (Some(a), Some(b)) = (min, max) {
        if a > b {
            errors.add(
                loc,
                "lock",
                format!("min_retention_days {a} is over max_retention_days {b}"),
            );
            return None;
        }
    }
    Some(VaultLock {
        min_retention_days: min,
        max_retention_days: max,
    })
}

fn read_vaults(node: &Node, policy: &Policy, errors: &mut Errors) -> BTreeMap<String, VaultSpec> {
    let mut out = BTreeMap::new();
    let Node::Map(entries) = node else {
        errors.add(
            "world",
            "vaults",
            format!("must be a mapping of policy aliases, found {}", node.kind()),
        );
        return out;
    };
    let allowed = [
        "exists",
        "lock",
        "access_policy_allows_copy_from",
        "kms_key_shared_with",
        "deny_manual_deletion",
        "held_points",
    ];
    for (alias, spec) in entries {
        let loc = format!("vault '{alias}'");
        if policy.vault(alias).is_none() && policy.set(alias).is_none() {
            errors.add(&loc, "(key)", "not a vault of the policy");
        }
        let f = fields(spec, &loc, "(vault)", &allowed, errors);
        let spec = VaultSpec {
            exists: flag(f.get("exists"), true, &loc, "exists", errors),
            lock: f.get("lock").and_then(|n| read_lock(n, &loc, errors)),
            access_policy_allows_copy_from: principals(
                f.get("access_policy_allows_copy_from"),
                &loc,
                "access_policy_allows_copy_from",
                errors,
            ),
            kms_key_shared_with: principals(
                f.get("kms_key_shared_with"),
                &loc,
                "kms_key_shared_with",
                errors,
            ),
            deny_manual_deletion: flag(
                f.get("deny_manual_deletion"),
                false,
                &loc,
                "deny_manual_deletion",
                errors,
            ),
            held_points: number(
                f.get("held_points"),
                0,
                0..=MAX_HELD_POINTS,
                &loc,
                "held_points",
                errors,
            ),
        };
        if out.insert(alias.clone(), spec).is_some() {
            errors.add(&loc, "(key)", "given more than once");
        }
    }
    out
}

fn read_faults(node: &Node, errors: &mut Errors) -> FaultSpec {
    let loc = "faults";
    let allowed = [
        "lose",
        "duplicate",
        "reorder_minutes",
        "fail",
        "throttle",
        "deny_account",
    ];
    let f = fields(node, loc, "(faults)", &allowed, errors);
    let reorder = f.get("reorder_minutes").map(|n| {
        number(
            Some(n),
            0,
            0..=1440, // MAX_REORDER_MINUTES
            loc,
            "reorder_minutes",
            errors,
        )
    });
    let deny_account = f.get("deny_account").map(|n| {
        list(n, loc, "deny_account", errors)
            .iter()
            .filter_map(|a| account_id(Some(&a), loc, "deny_account", errors))
            .collect()
    });
    let mut chance = |name: &str| f.get(name).map(|n| probability(Some(n), loc, name, errors));
    FaultSpec {
        lose: chance("lose"),
        duplicate: chance("duplicate"),
        fail: chance("fail"),
        throttle: chance("throttle"),
        reorder_minutes: reorder.map(i64::from),
        deny_account,
    }
}

#[cfg(test)]
mod tests;
