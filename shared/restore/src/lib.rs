//! Planning a restore, pure: which COMPLETED copy of a table to restore, whether it must first be
//! copied back into the target account and Region (restores cannot cross either, facts §11), and
//! the StartRestoreJob that makes a new table of it. Nothing here calls AWS.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use relay_core::arn::{is_table_name, RecoveryPointArn, TableArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::retention::{Lifecycle, Retention, VaultLock, NEVER_EXPIRE_DAYS};
use relay_core::Policy;

/// How long a copied-back point is kept after the copy, in days (the issue: at most 35).
pub const COPY_BACK_KEEP_DAYS: i64 = 35;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreRequest {
    pub table: TableArn,
    /// Latest at or before this time; `None`: the latest.
    pub at: Option<DateTime<Utc>>,
    /// Where the new table goes; `None`: the table's own account and Region.
    pub target_account: Option<String>,
    pub target_region: Option<String>,
    pub target_table: String,
    /// Only copies in this policy vault.
    pub from: Option<String>,
    /// Encrypt the new table with this KMS key instead of the default.
    pub kms_key_arn: Option<String>,
    /// CopySourceTagsToRestoredResource. Not for drills: a drill table tagged like its source
    /// would be selected by the same backup plans and routes.
    pub copy_source_tags: bool,
}

/// The point chosen, and the steps that restore it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestorePlan {
    pub recovery_point: ChosenPoint,
    pub steps: Vec<RestoreStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChosenPoint {
    pub arn: String,
    pub vault: String,
    pub creation_date: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RestoreStep {
    /// Copy the point back into the target account and Region; runs in the source's.
    StartCopyJob {
        account: String,
        region: String,
        recovery_point_arn: String,
        source_backup_vault_arn: String,
        destination_backup_vault_arn: String,
        iam_role_arn: String,
        lifecycle: Lifecycle,
    },
    /// Restore into a new table; `recovery_point_arn` is the copied-back point when a copy
    /// precedes (known once that copy completes: `None` until then).
    StartRestoreJob {
        account: String,
        region: String,
        recovery_point_arn: Option<String>,
        backup_vault_arn: String,
        iam_role_arn: String,
        metadata: BTreeMap<String, String>,
        #[serde(default)]
        copy_source_tags: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RestoreRefusal {
    #[error("'{0}' is not a DynamoDB table name (3 to 255 of a-z A-Z 0-9 _ - .)")]
    BadTableName(String),
    #[error("a table named '{name}' already exists in {account}/{region}: a restore always makes a new table")]
    TableExists {
        name: String,
        account: String,
        region: String,
    },
    #[error("the policy has no vault '{0}'")]
    UnknownVault(String),
    #[error("no COMPLETED copy of {table}{at}{unmovable}{oldest}")]
    NoCopy {
        table: String,
        at: String,
        oldest: String,
        /// Why copies that exist could not serve, when some could not.
        unmovable: String,
    },
    #[error("no vault of the policy is in {account}/{region} to copy the backup back into (restores cannot cross accounts or Regions): add one{why}")]
    NoVaultInTarget {
        account: String,
        region: String,
        why: String,
    },
    #[error(
        "the copy back into '{vault}' needs {days} days, outside its lock's {min}..{max} days"
    )]
    LockRefuses {
        vault: String,
        days: u32,
        min: String,
        max: String,
    },
}

/// The plan, or why there is none. `points` are every recovery point the inventory holds of any
/// table (only this table's COMPLETED ones count); `existing` the table names in the target
/// account and Region; `locks` the vaults' locks as read.
pub fn plan_restore(
    policy: &Policy,
    points: &[PointView],
    existing: &BTreeSet<String>,
    locks: &BTreeMap<VaultArn, VaultLock>,
    req: &RestoreRequest,
    now: DateTime<Utc>,
) -> Result<RestorePlan, RestoreRefusal> {
    let account = req
        .target_account
        .clone()
        .unwrap_or_else(|| req.table.account.clone());
    let region = req
        .target_region
        .clone()
        .unwrap_or_else(|| req.table.region.clone());
    if !is_table_name(&req.target_table) {
        return Err(RestoreRefusal::BadTableName(req.target_table.clone()));
    }
    if existing.contains(&req.target_table) {
        return Err(RestoreRefusal::TableExists {
            name: req.target_table.clone(),
            account,
            region,
        });
    }
    if let Some(alias) = &req.from {
        if policy.vault(alias).is_none() {
            return Err(RestoreRefusal::UnknownVault(alias.clone()));
        }
    }
    let point = choose(policy, points, req, (&account, &region))?;
    let chosen = ChosenPoint {
        arn: point.recovery_point_arn.clone(),
        vault: point.vault.to_string(),
        creation_date: point.creation_date,
    };
    let mut steps = Vec::new();
    let restore_vault = if point.vault.account == account && point.vault.region == region {
        point.vault.clone()
    } else {
        let (dest, lifecycle) = copy_back_target(policy, locks, point, (&account, &region), now)?;
        steps.push(RestoreStep::StartCopyJob {
            account: point.vault.account.clone(),
            region: point.vault.region.clone(),
            recovery_point_arn: point.recovery_point_arn.clone(),
            source_backup_vault_arn: point.vault.to_string(),
            destination_backup_vault_arn: dest.to_string(),
            iam_role_arn: policy.copy_role_for(&point.vault.account),
            lifecycle,
        });
        dest
    };
    let copied = !steps.is_empty();
    steps.push(RestoreStep::StartRestoreJob {
        account: account.clone(),
        region: region.clone(),
        recovery_point_arn: (!copied).then(|| point.recovery_point_arn.clone()),
        backup_vault_arn: restore_vault.to_string(),
        iam_role_arn: policy.copy_role_for(&account),
        metadata: metadata(req),
        copy_source_tags: req.copy_source_tags,
    });
    Ok(RestorePlan {
        recovery_point: chosen,
        steps,
    })
}

/// DynamoDB's restore metadata (facts §11): the new table's name and its encryption.
fn metadata(req: &RestoreRequest) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([("targetTableName".to_string(), req.target_table.clone())]);
    match &req.kms_key_arn {
        Some(key) => {
            m.insert("encryptionType".into(), "KMS".into());
            m.insert("kmsMasterKeyArn".into(), key.clone());
        }
        None => {
            m.insert("encryptionType".into(), "Default".into());
        }
    }
    m
}

/// The latest COMPLETED copy at or before the time; among copies of that backup, the nearest to
/// the target: in its account and Region, then its account, then its Region.
fn choose<'a>(
    policy: &Policy,
    points: &'a [PointView],
    req: &RestoreRequest,
    (account, region): (&str, &str),
) -> Result<&'a PointView, RestoreRefusal> {
    let table = req.table.to_string();
    let from = req
        .from
        .as_deref()
        .and_then(|a| policy.vault(a))
        .map(|v| &v.arn);
    let target_location = |p: &PointView| p.vault.account == account && p.vault.region == region;
    let held: Vec<&PointView> = points
        .iter()
        .filter(|p| p.resource_arn.as_deref() == Some(table.as_str()))
        .filter(|p| p.status.as_deref() == Some("COMPLETED"))
        .filter(|p| from.is_none_or(|f| &p.vault == f))
        .collect();
    // A DynamoDB-native backup, or a point in the cold tier, cannot be copied: only where it
    // already is (facts §3).
    let movable = |p: &&PointView| (!is_native(p) && !is_cold(p)) || target_location(p);
    let candidates: Vec<&PointView> = held.iter().copied().filter(movable).collect();
    let unmovable = held
        .iter()
        .filter(|p| !movable(p) && req.at.is_none_or(|at| p.creation_date <= at))
        .count();
    let in_time: Vec<&PointView> = candidates
        .iter()
        .copied()
        .filter(|p| req.at.is_none_or(|at| p.creation_date <= at))
        .collect();
    // Latest first; then nearest; then warm (a cold restore is slower); then by ARN, so the
    // same holdings always give the same choice whatever order they were listed in.
    let nearness = |p: &PointView| {
        (
            p.creation_date,
            target_location(p),
            p.vault.account == account,
            p.vault.region == region,
            !is_cold(p),
            std::cmp::Reverse(p.recovery_point_arn.clone()),
        )
    };
    in_time
        .into_iter()
        .max_by_key(|p| nearness(p))
        .ok_or_else(|| RestoreRefusal::NoCopy {
            table,
            at: req
                .at
                .map(|t| format!(" at or before {}", t.to_rfc3339()))
                .unwrap_or_default(),
            oldest: candidates
                .iter()
                .map(|p| p.creation_date)
                .min()
                .map(|d| format!(" (the oldest is of {})", d.to_rfc3339()))
                .unwrap_or_default(),
            unmovable: match unmovable {
                0 => String::new(),
                n => format!(
                    " that can be copied back to {account}/{region}: {n} copies of that time are \
                     in the cold tier (or DynamoDB-native) in another account or Region, and AWS \
                     copies neither; restore one where it is (--to-account, --to-region)"
                ),
            },
        })
}

fn is_cold(p: &PointView) -> bool {
    p.storage_class.as_deref() == Some("COLD")
}

fn is_native(p: &PointView) -> bool {
    RecoveryPointArn::parse(&p.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native())
}

/// The policy vault in the target account and Region to copy back into, and the lifecycle that
/// keeps the copy 35 days from now. Days count from the ORIGINAL backup's creation date (facts
/// §3), so an old backup needs its age plus 35. Never a never_expire vault: the retention guard
/// would keep the copy 100 years.
fn copy_back_target(
    policy: &Policy,
    locks: &BTreeMap<VaultArn, VaultLock>,
    point: &PointView,
    (account, region): (&str, &str),
    now: DateTime<Utc>,
) -> Result<(VaultArn, Lifecycle), RestoreRefusal> {
    let here: Vec<&relay_core::policy::Vault> = policy
        .vaults
        .iter()
        .filter(|v| v.arn.account == account && v.arn.region == region)
        .collect();
    let Some(vault) = here
        .iter()
        .find(|v| !matches!(v.retention, Some(Retention::NeverExpire { .. })))
    else {
        let why = match here.first() {
            Some(v) => format!(
                " ('{}' is never_expire: a copy there would be kept 100 years)",
                v.alias
            ),
            None => String::new(),
        };
        return Err(RestoreRefusal::NoVaultInTarget {
            account: account.into(),
            region: region.into(),
            why,
        });
    };
    let age = now
        .signed_duration_since(point.creation_date)
        .max(Duration::zero())
        .num_days();
    let wanted = age
        .saturating_add(COPY_BACK_KEEP_DAYS)
        .clamp(1, i64::from(NEVER_EXPIRE_DAYS));
    let mut days = u32::try_from(wanted).unwrap_or(NEVER_EXPIRE_DAYS);
    if let Some(lock) = locks.get(&vault.arn) {
        // A longer life is more protection: raise to the lock's minimum; a maximum below is a refusal.
        days = days.max(lock.min_retention_days.unwrap_or(0));
        if lock.max_retention_days.is_some_and(|m| days > m) {
            let show = |d: Option<u32>| d.map_or("any".to_string(), |d| d.to_string());
            return Err(RestoreRefusal::LockRefuses {
                vault: vault.alias.clone(),
                days,
                min: show(lock.min_retention_days),
                max: show(lock.max_retention_days),
            });
        }
    }
    Ok((
        vault.arn.clone(),
        Lifecycle {
            delete_after_days: Some(days),
            move_to_cold_storage_after_days: None,
        },
    ))
}

pub mod drill;
pub mod run;

#[cfg(test)]
mod tests;
