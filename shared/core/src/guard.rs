//! The retention guard's decision, pure: does a recovery point in a `never_expire` vault keep its
//! 100 years, and if not, what lifecycle repairs it? Never shortens, never deletes.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::arn::VaultArn;
use crate::policy::Vault;
use crate::retention::{Lifecycle, Retention, VaultLock, COLD_MIN_DAYS, NEVER_EXPIRE_DAYS};

/// What is known of a recovery point, from an event or from ListRecoveryPointsByBackupVault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PointView {
    pub recovery_point_arn: String,
    pub vault: VaultArn,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    /// COMPLETED, PARTIAL, EXPIRED, ... as AWS reports it.
    pub status: Option<String>,
    pub creation_date: DateTime<Utc>,
    /// When the backup or copy that made it finished: how long it has been in this vault.
    pub completion_date: Option<DateTime<Utc>>,
    pub lifecycle: Lifecycle,
    /// AWS's calculated delete date; `None` when it never expires.
    pub delete_at: Option<DateTime<Utc>>,
    /// WARM, COLD or DELETED.
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum GuardDecision {
    /// Not a `never_expire` vault, or the point already keeps 36500 days (or never expires).
    Compliant { reason: String },
    /// UpdateRecoveryPointLifecycle with this lifecycle (both fields the point uses).
    Repair {
        lifecycle: Lifecycle,
        current_delete_at: Option<DateTime<Utc>>,
    },
    /// It falls short and cannot be repaired here: record it and alert.
    Violation { reason: String },
}

/// The date a `never_expire` point must reach: creation + 36500 days.
pub fn never_expire_until(creation_date: DateTime<Utc>) -> DateTime<Utc> {
    creation_date + Duration::days(i64::from(NEVER_EXPIRE_DAYS))
}

pub fn decide(vault: &Vault, point: &PointView, lock: Option<&VaultLock>) -> GuardDecision {
    let Some(Retention::NeverExpire {
        move_to_cold_storage_after_days: vault_cold,
    }) = vault.retention
    else {
        return GuardDecision::Compliant {
            reason: format!("vault '{}' is not a never_expire vault", vault.alias),
        };
    };
    if point.storage_class.as_deref() == Some("DELETED") {
        return GuardDecision::Compliant {
            reason: "the recovery point is already deleted".into(),
        };
    }
    let wanted = never_expire_until(point.creation_date);
    let keeps = match (point.delete_at, point.lifecycle.delete_after_days) {
        (Some(at), _) => at >= wanted,
        (None, Some(days)) => days >= NEVER_EXPIRE_DAYS,
        (None, None) => true, // no delete date at all: it never expires
    };
    if keeps {
        return GuardDecision::Compliant {
            reason: format!("kept until at least {}", wanted.date_naive()),
        };
    }
    let short = format!(
        "deleted on {} instead of {} (creation + {NEVER_EXPIRE_DAYS} days)",
        point
            .delete_at
            .map(|d| d.date_naive().to_string())
            .unwrap_or_else(|| "an inherited date".into()),
        wanted.date_naive()
    );
    // A locked vault denies lifecycle changes (facts §5).
    if let Some(lock) = lock {
        let max = lock
            .max_retention_days
            .map(|m| format!(", MaxRetentionDays {m}"))
            .unwrap_or_default();
        return GuardDecision::Violation {
            reason: format!(
                "{short}; vault '{}' is locked{max}: lifecycle changes are denied",
                vault.alias
            ),
        };
    }
    // The cold setting cannot change once the point is cold; otherwise keep what the point uses,
    // or the vault's own, so long as the 90-day rule holds.
    let is_cold = point.storage_class.as_deref() == Some("COLD");
    let cold = point
        .lifecycle
        .move_to_cold_storage_after_days
        .or(if is_cold { None } else { vault_cold });
    if cold.is_some_and(|c| NEVER_EXPIRE_DAYS < c + COLD_MIN_DAYS) {
        return GuardDecision::Violation {
            reason: format!("{short}; its cold transition leaves fewer than {COLD_MIN_DAYS} days before {NEVER_EXPIRE_DAYS}"),
        };
    }
    GuardDecision::Repair {
        lifecycle: Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: cold,
        },
        current_delete_at: point.delete_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::LockConflict;

    fn vault(retention: Retention) -> Vault {
        Vault {
            alias: "bunker".into(),
            arn: VaultArn::parse("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker")
                .unwrap(),
            retention: Some(retention),
            on_lock_conflict: LockConflict::Clamp,
        }
    }

    fn never() -> Vault {
        vault(Retention::NeverExpire {
            move_to_cold_storage_after_days: None,
        })
    }

    fn point(delete_after: Option<u32>, inherited_days: Option<i64>) -> PointView {
        let created = DateTime::parse_from_rfc3339("2026-11-20T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let delete_at = delete_after
            .map(|d| created + Duration::days(i64::from(d)))
            .or(inherited_days.map(|d| created + Duration::days(d)));
        PointView {
            recovery_point_arn: "arn:aws:backup:eu-west-1:333333333333:recovery-point:rp".into(),
            vault: never().arn,
            resource_arn: None,
            resource_type: Some("DynamoDB".into()),
            status: Some("COMPLETED".into()),
            creation_date: created,
            completion_date: None,
            lifecycle: Lifecycle {
                delete_after_days: delete_after,
                move_to_cold_storage_after_days: None,
            },
            delete_at,
            storage_class: Some("WARM".into()),
        }
    }

    #[test]
    fn a_100_year_point_is_compliant() {
        assert!(matches!(
            decide(&never(), &point(Some(36500), None), None),
            GuardDecision::Compliant { .. }
        ));
        assert!(matches!(
            decide(&never(), &point(None, None), None),
            GuardDecision::Compliant { .. }
        ));
    }

    #[test]
    fn an_inherited_expiry_is_repaired_to_36500_days() {
        // A plan's copy action set "never" (no DeleteAfterDays) but inherited its source's 35 days.
        let d = decide(&never(), &point(None, Some(35)), None);
        let GuardDecision::Repair {
            lifecycle,
            current_delete_at,
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(
            lifecycle,
            Lifecycle {
                delete_after_days: Some(36500),
                move_to_cold_storage_after_days: None
            }
        );
        assert!(current_delete_at.is_some());
        let GuardDecision::Repair { .. } = decide(&never(), &point(Some(3650), None), None) else {
            panic!()
        };
    }

    #[test]
    fn cold_storage_is_kept_and_the_vaults_cold_applies_to_warm_points() {
        let mut p = point(Some(365), None);
        p.lifecycle.move_to_cold_storage_after_days = Some(30);
        let GuardDecision::Repair { lifecycle, .. } = decide(&never(), &p, None) else {
            panic!()
        };
        assert_eq!(lifecycle.move_to_cold_storage_after_days, Some(30));
        let cold_vault = vault(Retention::NeverExpire {
            move_to_cold_storage_after_days: Some(90),
        });
        let GuardDecision::Repair { lifecycle, .. } =
            decide(&cold_vault, &point(Some(365), None), None)
        else {
            panic!()
        };
        assert_eq!(lifecycle.move_to_cold_storage_after_days, Some(90));
        // Already cold without a cold setting recorded: the setting cannot change now.
        let mut cold = point(Some(365), None);
        cold.storage_class = Some("COLD".into());
        let GuardDecision::Repair { lifecycle, .. } = decide(&cold_vault, &cold, None) else {
            panic!()
        };
        assert_eq!(lifecycle.move_to_cold_storage_after_days, None);
    }

    #[test]
    fn a_locked_vault_is_a_violation_not_an_update() {
        let lock = VaultLock {
            min_retention_days: Some(1),
            max_retention_days: Some(3650),
        };
        let GuardDecision::Violation { reason } =
            decide(&never(), &point(Some(3650), None), Some(&lock))
        else {
            panic!()
        };
        assert!(reason.contains("locked, MaxRetentionDays 3650"), "{reason}");
    }

    #[test]
    fn other_vaults_are_not_the_guards_business() {
        let v = vault(Retention::Days {
            delete_after_days: 35,
            move_to_cold_storage_after_days: None,
        });
        assert!(matches!(
            decide(&v, &point(Some(35), None), None),
            GuardDecision::Compliant { .. }
        ));
    }
}
