//! The `compliance:` section of the policy: Audit Manager's parameters (same meaning, same
//! defaults) and ours, validated like the rest of the policy.

use serde::{Deserialize, Serialize};

use crate::arn::is_issued_account_id;
use crate::policy::{fields, AccountScope, Errors, Node};

/// Audit Manager's `recoveryPointAgeValue` is at most 744 hours (31 days).
pub const MAX_RECOVERY_POINT_AGE_HOURS: u32 = 744;
/// A year of hours: a frequency or a deadline beyond it is a typing mistake.
const MAX_HOURS: u32 = 8784;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parameters {
    /// `requiredRetentionDays` (minimum retention and plan checks): 35.
    pub required_retention_days: u32,
    /// `requiredFrequencyValue` in hours (plan check): 24 (1 day).
    pub required_frequency_hours: u32,
    /// `recoveryPointAgeValue` in hours (last recovery point): 24 (1 day).
    pub recovery_point_max_age_hours: u32,
    /// `crossRegionList`: Regions a copy must be in; empty means any other Region.
    pub cross_region_list: Vec<String>,
    /// `crossAccountList`: accounts a copy must be in; empty means any other account.
    pub cross_account_list: Vec<String>,
    /// `minRetentionDays` / `maxRetentionDays` of the vault lock check, when set.
    pub vault_lock_min_retention_days: Option<u32>,
    pub vault_lock_max_retention_days: Option<u32>,
    /// `maxRestoreTime` in minutes; Audit Manager has no default, so unset means not evaluated.
    pub max_restore_time_minutes: Option<u32>,
    /// RELAY_CHAIN_COMPLETE: originals older than this must be in every vault their routes reach.
    pub chain_deadline_hours: u32,
    /// RELAY_COPY_TAGS: copies whose tags one run reads in one account and Region (AWS Backup
    /// answers 20 ListTags a second there); where its vaults hold more copies to judge, their
    /// tags are read for a sample of tables (and their originals' in the tables' own accounts).
    /// 4,800: four minutes of the rate.
    #[serde(default = "default_tag_reads")]
    pub tag_reads_per_site: u32,
    /// `scope`: the accounts and Regions whose every table is in the report (`None`: every
    /// account and Region of the policy's vaults and sets).
    #[serde(skip)]
    pub scope: Option<ReportScope>,
    /// The scope's accounts as Organizations answered them (set by [`Policy::expand`]).
    ///
    /// [`Policy::expand`]: crate::policy::Policy::expand
    #[serde(skip)]
    pub scope_members: Option<std::collections::BTreeSet<String>>,
}

/// The report's scope (design.md): its accounts and Regions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportScope {
    /// `None`: the accounts of the policy's vaults and sets.
    pub accounts: Option<AccountScope>,
    /// Empty: the Regions of the policy's vaults and sets.
    pub regions: Vec<String>,
}

impl Parameters {
    /// The account scope the report reads Organizations for, when it names one.
    pub fn scope_accounts(&self) -> Option<&AccountScope> {
        self.scope.as_ref().and_then(|s| s.accounts.as_ref())
    }
}

impl Default for Parameters {
    fn default() -> Self {
        Self {
            required_retention_days: 35,
            required_frequency_hours: 24,
            recovery_point_max_age_hours: 24,
            cross_region_list: Vec::new(),
            cross_account_list: Vec::new(),
            vault_lock_min_retention_days: None,
            vault_lock_max_retention_days: None,
            max_restore_time_minutes: None,
            chain_deadline_hours: 24,
            tag_reads_per_site: DEFAULT_TAG_READS,
            scope: None,
            scope_members: None,
        }
    }
}

/// Four minutes of AWS Backup's 20 ListTags a second.
pub const DEFAULT_TAG_READS: u32 = 4_800;

/// The default of `tag_reads_per_site` (serde's default of the fields that carry it).
pub fn default_tag_reads() -> u32 {
    DEFAULT_TAG_READS
}

const FIELDS: [&str; 11] = [
    "scope",
    "required_retention_days",
    "required_frequency_hours",
    "recovery_point_max_age_hours",
    "cross_region_list",
    "cross_account_list",
    "vault_lock_min_retention_days",
    "vault_lock_max_retention_days",
    "max_restore_time_minutes",
    "chain_deadline_hours",
    "tag_reads_per_site",
];

/// A whole number within `range` at field `name`, or an error added (and `None`).
fn whole_number(
    node: Option<&Node>,
    name: &str,
    range: std::ops::RangeInclusive<u32>,
    errors: &mut Errors,
) -> Option<u32> {
    let loc = "compliance";
    match node? {
        Node::Int(i) if u32::try_from(*i).is_ok_and(|v| range.contains(&v)) => {
            u32::try_from(*i).ok()
        }
        Node::Int(i) => {
            let (lo, hi) = (range.start(), range.end());
            errors.add(loc, name, format!("{i} is outside {lo}..={hi}"));
            None
        }
        other => {
            let why = format!("must be a whole number, found {}", other.kind());
            errors.add(loc, name, why);
            None
        }
    }
}

/// The `compliance:` section; absent means every default. Errors are added, never returned early.
pub(crate) fn parse_parameters(node: Option<&Node>, errors: &mut Errors) -> Parameters {
    let mut p = Parameters::default();
    let Some(node) = node else { return p };
    let loc = "compliance";
    let f = fields(node, loc, "compliance", &FIELDS, errors);
    let mut int = |name: &str, range: std::ops::RangeInclusive<u32>| {
        whole_number(f.get(name).copied(), name, range, errors)
    };
    if let Some(v) = int("required_retention_days", 1..=36500) {
        p.required_retention_days = v;
    }
    if let Some(v) = int("required_frequency_hours", 1..=MAX_HOURS) {
        p.required_frequency_hours = v;
    }
    if let Some(v) = int(
        "recovery_point_max_age_hours",
        1..=MAX_RECOVERY_POINT_AGE_HOURS,
    ) {
        p.recovery_point_max_age_hours = v;
    }
    p.vault_lock_min_retention_days = int("vault_lock_min_retention_days", 1..=36500);
    p.vault_lock_max_retention_days = int("vault_lock_max_retention_days", 1..=36500);
    p.max_restore_time_minutes = int("max_restore_time_minutes", 1..=43_200);
    if let Some(v) = int("chain_deadline_hours", 1..=MAX_HOURS) {
        p.chain_deadline_hours = v;
    }
    if let Some(v) = int("tag_reads_per_site", 1..=1_000_000) {
        p.tag_reads_per_site = v;
    }
    if let (Some(min), Some(max)) = (
        p.vault_lock_min_retention_days,
        p.vault_lock_max_retention_days,
    ) {
        if min > max {
            errors.add(
                loc,
                "vault_lock_min_retention_days",
                format!("{min} is more than vault_lock_max_retention_days ({max})"),
            );
        }
    }
    p.scope = f.get("scope").map(|n| parse_scope_section(n, errors));
    p.cross_region_list = list(
        f.get("cross_region_list").copied(),
        "cross_region_list",
        errors,
        |s| {
            crate::regions::partition_of_region(s)
                .map(|_| ())
                .ok_or("is not a Region AWS has (like us-east-1)")
        },
    );
    p.cross_account_list = list(
        f.get("cross_account_list").copied(),
        "cross_account_list",
        errors,
        |s| {
            is_issued_account_id(s)
                .then_some(())
                .ok_or("is not a 12-digit account id (quote it in YAML)")
        },
    );
    p
}

/// A list of strings each `check` accepts; an unquoted account id (a number) is read as text.
fn list(
    node: Option<&Node>,
    field: &str,
    errors: &mut Errors,
    check: impl Fn(&str) -> Result<(), &'static str>,
) -> Vec<String> {
    let Some(node) = node else { return Vec::new() };
    let Node::Seq(items) = node else {
        errors.add(
            "compliance",
            field,
            format!("must be a list, found {}", node.kind()),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let value = match item {
            Node::Str(s) => s.clone(),
            Node::Int(n) => n.to_string(),
            other => {
                errors.add(
                    "compliance",
                    &format!("{field}[{i}]"),
                    format!("must be a string, found {}", other.kind()),
                );
                continue;
            }
        };
        match check(&value) {
            Ok(()) if out.contains(&value) => {
                errors.add(
                    "compliance",
                    &format!("{field}[{i}]"),
                    format!("'{value}' is listed twice"),
                );
            }
            Ok(()) => out.push(value),
            Err(why) => errors.add(
                "compliance",
                &format!("{field}[{i}]"),
                format!("'{value}' {why}"),
            ),
        }
    }
    out
}

/// `scope: { accounts: organization | [...] | { organizational_units: [...] }, regions: [...] }`.
fn parse_scope_section(node: &Node, errors: &mut Errors) -> ReportScope {
    let loc = "compliance";
    let f = fields(node, loc, "scope", &["accounts", "regions"], errors);
    let accounts = f
        .get("accounts")
        .and_then(|n| super::sets::parse_scope(n, loc, "scope.accounts", errors));
    let regions = match f.get("regions") {
        None => Vec::new(),
        Some(n) => {
            let partition = match n {
                Node::Seq(items) => items.iter().find_map(|i| match i {
                    Node::Str(r) => crate::regions::partition_of_region(r),
                    _ => None,
                }),
                _ => None,
            };
            let field = Some(*n);
            super::sets::parse_regions(field, Some(partition.unwrap_or("aws")), loc, errors)
        }
    };
    ReportScope { accounts, regions }
}

/// The report reads its scope with the policy's credentials, which reach one partition: the
/// copy role's (a Region of another is never read, and would only ever be an unreachable gap).
pub(super) fn check_scope_partition(
    compliance: &Parameters,
    role_partition: Option<&str>,
    errors: &mut Errors,
) {
    let (Some(scope), Some(partition)) = (compliance.scope.as_ref(), role_partition) else {
        return;
    };
    let elsewhere: Vec<&str> = scope
        .regions
        .iter()
        .filter(|r| crate::regions::partition_of_region(r).is_some_and(|p| p != partition))
        .map(String::as_str)
        .collect();
    if !elsewhere.is_empty() {
        errors.add(
            "compliance",
            "scope.regions",
            format!(
                "{} not in partition '{partition}', the copy role's: a report reads one partition",
                elsewhere.join(", ")
            ),
        );
    }
}

impl crate::policy::Policy {
    /// Every account and Region whose tables the report covers: the scope's accounts (as
    /// Organizations answered, or as listed) times its Regions; by default every account and
    /// every Region of the policy's vaults and sets (so a table in a policy account and Region
    /// that holds no vault is in the report too).
    pub fn report_locations(&self) -> Vec<crate::arn::Location> {
        use std::collections::BTreeSet;
        let scope = self.compliance.scope.as_ref();
        let accounts: BTreeSet<String> = match (
            scope.and_then(|s| s.accounts.as_ref()),
            &self.compliance.scope_members,
        ) {
            (Some(AccountScope::Accounts(list)), _) => list.iter().cloned().collect(),
            (Some(_), Some(members)) => members.clone(),
            // Organizations not read (a policy never expanded): nothing to add.
            (Some(_), None) => BTreeSet::new(),
            (None, _) => self.vaults.iter().map(|v| v.arn.account.clone()).collect(),
        };
        let mut regions: BTreeSet<String> = scope
            .map(|s| s.regions.iter().cloned().collect())
            .unwrap_or_default();
        if regions.is_empty() {
            regions.extend(self.vaults.iter().map(|v| v.arn.region.clone()));
            regions.extend(self.sets.iter().flat_map(|s| s.regions.iter().cloned()));
        }
        let mut out = Vec::new();
        for account in &accounts {
            for region in &regions {
                out.push(crate::arn::Location {
                    partition: crate::arn::partition_of_region(region).to_string(),
                    account: account.clone(),
                    region: region.clone(),
                });
            }
        }
        out
    }
}
