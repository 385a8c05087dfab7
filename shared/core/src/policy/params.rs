//! The `compliance:` section of the policy: Audit Manager's parameters (same meaning, same
//! defaults) and ours, validated like the rest of the policy.

use serde::{Deserialize, Serialize};

use crate::arn::is_issued_account_id;
use crate::policy::{fields, Errors, Node};

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
        }
    }
}

const FIELDS: [&str; 9] = [
    "required_retention_days",
    "required_frequency_hours",
    "recovery_point_max_age_hours",
    "cross_region_list",
    "cross_account_list",
    "vault_lock_min_retention_days",
    "vault_lock_max_retention_days",
    "max_restore_time_minutes",
    "chain_deadline_hours",
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
