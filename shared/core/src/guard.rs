//! The retention guard's decision, pure: does a recovery point in a `never_expire` vault keep its
//! 100 years, and if not, what lifecycle repairs it? Never shortens, never deletes.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::arn::{RecoveryPointArn, VaultArn};
use crate::policy::Vault;
use crate::retention::{Lifecycle, Retention, VaultLock, COLD_MIN_DAYS, NEVER_EXPIRE_DAYS};

/// What is known of a recovery point, from an event or from ListRecoveryPointsByBackupVault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
    /// AWS's calculated delete date; `None` when AWS reports none, which for a copy does not mean
    /// it never expires (it may inherit its source's expiry).
    pub delete_at: Option<DateTime<Utc>>,
    /// WARM, COLD or DELETED.
    pub storage_class: Option<String>,
    /// IsEncrypted, when the listing reports it.
    pub encrypted: Option<bool>,
    /// The vault it was copied from (SourceBackupVaultArn); `None` for a backup made in its own
    /// vault: only copies that came by a route (or that a route found held) are chained on.
    pub source_vault_arn: Option<String>,
    /// Its tags, when they were read (ListTags: listings do not return them): the compliance
    /// inventory reads them for the newest copy of each table in each vault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<crate::policy::Tags>,
    /// BackupSizeInBytes, when the listing reports it: what the point costs to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_size_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum GuardDecision {
    /// Not a `never_expire` vault, or the point already keeps 36500 days from creation.
    Compliant { reason: String },
    /// A point UpdateRecoveryPointLifecycle cannot change (DynamoDB-native or continuous): left alone.
    Ignored { reason: String },
    /// UpdateRecoveryPointLifecycle with this lifecycle (both fields the point uses).
    Repair {
        lifecycle: Lifecycle,
        current_delete_at: Option<DateTime<Utc>>,
    },
    /// It falls short and cannot be repaired here: record it and alert.
    Violation { reason: String },
}

/// The date a `never_expire` point must reach: creation + 36500 days. Saturates at chrono's last
/// date instead of panicking: the creation date comes from input.
pub fn never_expire_until(creation_date: DateTime<Utc>) -> DateTime<Utc> {
    after_days(creation_date, NEVER_EXPIRE_DAYS).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn after_days(date: DateTime<Utc>, days: u32) -> Option<DateTime<Utc>> {
    date.checked_add_signed(Duration::days(i64::from(days)))
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
    // What a partial copy left, or a copy still being written, is not a copy to keep 100 years.
    if let Some(status) = point
        .status
        .as_deref()
        .filter(|s| !matches!(*s, "COMPLETED" | "AVAILABLE"))
    {
        return GuardDecision::Ignored {
            reason: format!(
                "{} is {status}: only completed copies are kept 100 years",
                point.recovery_point_arn
            ),
        };
    }
    if let Some(reason) = not_changeable(point) {
        return GuardDecision::Ignored { reason };
    }
    let short = match kept_100_years(point) {
        Ok(reason) => return GuardDecision::Compliant { reason },
        Err(short) => short,
    };
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
    match repair_lifecycle(point, vault_cold) {
        Ok(lifecycle) => GuardDecision::Repair {
            lifecycle,
            current_delete_at: point.delete_at,
        },
        Err(why) => GuardDecision::Violation {
            reason: format!("{short}; {why}"),
        },
    }
}

/// Why UpdateRecoveryPointLifecycle cannot apply to this point, if it cannot. An ARN that does not
/// parse is not ignored: the repair is tried, and AWS's refusal is recorded as a violation.
fn not_changeable(point: &PointView) -> Option<String> {
    let arn = RecoveryPointArn::parse(&point.recovery_point_arn).ok()?;
    if arn.is_dynamodb_native() {
        return Some(format!(
            "{} is a DynamoDB-native backup: its lifecycle is DynamoDB's, not AWS Backup's to change",
            point.recovery_point_arn
        ));
    }
    if arn.is_continuous() {
        return Some(format!(
            "{} is a continuous backup: UpdateRecoveryPointLifecycle does not support continuous backups",
            point.recovery_point_arn
        ));
    }
    None
}

/// Whether the point is kept 36500 days from creation. `Ok`: why it is; `Err`: how it falls short.
///
/// Judged in whole days, not instants, so a repaired point is never judged short again: AWS rounds
/// calculated delete dates (and the SDKs to whole seconds), so a point set to 36500 days may report
/// a date some hours short of creation + 36500 days. Short by less than one day counts as kept;
/// a whole day short is a lifecycle of 36499 days, and is repaired.
///
/// A lifecycle of "never" (-1), null or absent is NOT kept: a copy so marked still inherits its
/// source's expiry (facts §3), and AWS may not report the inherited date.
fn kept_100_years(point: &PointView) -> Result<String, String> {
    if let Some(days) = point
        .lifecycle
        .delete_after_days
        .filter(|d| *d >= NEVER_EXPIRE_DAYS)
    {
        return Ok(format!("its lifecycle keeps it {days} days from creation"));
    }
    let created = point.creation_date;
    let (Some(wanted), Some(last_short)) = (
        after_days(created, NEVER_EXPIRE_DAYS),
        after_days(created, NEVER_EXPIRE_DAYS - 1),
    ) else {
        // Any delete date AWS could hold is past what chrono can represent: nothing to repair.
        return Ok(format!(
            "creation ({created}) + {NEVER_EXPIRE_DAYS} days is past the last representable date: kept long enough"
        ));
    };
    let wanted = wanted.date_naive();
    match (point.delete_at, point.lifecycle.delete_after_days) {
        (Some(at), _) if at > last_short => Ok(format!(
            "kept until {} (creation + {NEVER_EXPIRE_DAYS} days, to the day)",
            at.date_naive()
        )),
        (Some(at), _) => Err(format!(
            "deleted on {} instead of {wanted} (creation + {NEVER_EXPIRE_DAYS} days)",
            at.date_naive()
        )),
        (None, Some(days)) => Err(format!(
            "its lifecycle keeps it {days} days, not {NEVER_EXPIRE_DAYS} (until {wanted})"
        )),
        (None, None) => Err(format!(
            "its lifecycle is 'never' or not set, so it inherits its source's expiry (which AWS may not report) instead of lasting until {wanted}"
        )),
    }
}

/// The lifecycle that repairs the point: 36500 days and the cold setting it may have. Both fields
/// are sent: UpdateRecoveryPointLifecycle may null one left out.
fn repair_lifecycle(point: &PointView, vault_cold: Option<u32>) -> Result<Lifecycle, String> {
    // The cold setting cannot change once the point is cold; otherwise keep what the point uses,
    // or the vault's own.
    let is_cold = point.storage_class.as_deref() == Some("COLD");
    let cold = point
        .lifecycle
        .move_to_cold_storage_after_days
        .or(if is_cold { None } else { vault_cold });
    // The 90-day rule; saturating, as the cold days come from input.
    if cold.is_some_and(|c| c.saturating_add(COLD_MIN_DAYS) > NEVER_EXPIRE_DAYS) {
        return Err(format!(
            "its cold transition leaves fewer than {COLD_MIN_DAYS} days before {NEVER_EXPIRE_DAYS}"
        ));
    }
    Ok(Lifecycle {
        delete_after_days: Some(NEVER_EXPIRE_DAYS),
        move_to_cold_storage_after_days: cold,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventDetail, ParsedEvent};
    use crate::plan::{guard_action, point_from_event};
    use crate::retention::LockConflict;
    use serde_json::{json, Value};

    const BUNKER: &str = "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker";
    const RP: &str = "arn:aws:backup:eu-west-1:333333333333:recovery-point:rp";

    fn vault(retention: Retention) -> Vault {
        Vault {
            alias: "bunker".into(),
            arn: VaultArn::parse(BUNKER).unwrap(),
            retention: Some(retention),
            on_lock_conflict: LockConflict::Clamp,
            member_of: None,
        }
    }

    fn never() -> Vault {
        vault(Retention::NeverExpire {
            move_to_cold_storage_after_days: None,
        })
    }

    fn date(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// Odd seconds and milliseconds on purpose: the comparison must not hang on them.
    fn created() -> DateTime<Utc> {
        date("2026-11-20T05:00:09.461Z")
    }

    fn plus_days(days: i64) -> Option<DateTime<Utc>> {
        Some(created() + Duration::days(days))
    }

    fn point_at(
        created: DateTime<Utc>,
        delete_after: Option<u32>,
        delete_at: Option<DateTime<Utc>>,
    ) -> PointView {
        PointView {
            recovery_point_arn: RP.into(),
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
            encrypted: None,
            source_vault_arn: None,
            tags: None,
            backup_size_bytes: None,
        }
    }

    fn point(delete_after: Option<u32>, delete_at: Option<DateTime<Utc>>) -> PointView {
        point_at(created(), delete_after, delete_at)
    }

    /// A Recovery Point State Change event for the bunker, parsed as the guard sees it;
    /// `lifecycle: None` leaves the field out.
    fn event_point(lifecycle: Option<Value>, delete_at: Option<DateTime<Utc>>) -> PointView {
        let mut detail = json!({
            "backupVaultArn": BUNKER, "backupVaultName": "bunker", "status": "COMPLETED",
            "creationDate": "2026-11-20T05:00:09.461Z", "resourceType": "DynamoDB",
            "storageClass": "WARM"
        });
        if let Some(l) = lifecycle {
            detail["lifecycle"] = l;
        }
        if let Some(at) = delete_at {
            detail["calculatedLifeCycle"] = json!({"deleteAt": at.to_rfc3339()});
        }
        let ev = json!({"id": "e1", "detail-type": "Recovery Point State Change",
                        "source": "aws.backup", "account": "333333333333", "region": "eu-west-1",
                        "resources": [RP], "detail": detail});
        let EventDetail::RecoveryPoint(r) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!("recovery point event expected")
        };
        point_from_event(&r, &never().arn).unwrap()
    }

    /// "never" (-1), null, an empty lifecycle, a null lifecycle, no lifecycle at all.
    fn never_lifecycles() -> [Option<Value>; 5] {
        [
            Some(json!({"deleteAfterDays": -1})),
            Some(json!({"deleteAfterDays": null})),
            Some(json!({})),
            Some(json!(null)),
            None,
        ]
    }

    fn repaired(d: &GuardDecision) -> Lifecycle {
        match d {
            GuardDecision::Repair { lifecycle, .. } => *lifecycle,
            other => panic!("repair expected, got {other:?}"),
        }
    }

    fn hundred_years() -> Lifecycle {
        Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: None,
        }
    }

    fn is_compliant(d: &GuardDecision) -> bool {
        matches!(d, GuardDecision::Compliant { .. })
    }

    #[test]
    fn never_null_and_absent_lifecycles_without_a_delete_date_are_repaired() {
        for l in never_lifecycles() {
            let p = event_point(l.clone(), None);
            assert_eq!(p.lifecycle, Lifecycle::default(), "{l:?}");
            let d = decide(&never(), &p, None);
            assert_eq!(repaired(&d), hundred_years(), "{l:?}");
            let GuardDecision::Repair {
                current_delete_at, ..
            } = d
            else {
                unreachable!()
            };
            assert_eq!(current_delete_at, None);
        }
        // The same straight from a PointView, as listings give it.
        assert_eq!(
            repaired(&decide(&never(), &point(None, None), None)),
            hundred_years()
        );
    }

    #[test]
    fn never_lifecycles_with_an_inherited_delete_date_are_repaired() {
        for l in never_lifecycles() {
            let d = decide(&never(), &event_point(l.clone(), plus_days(35)), None);
            assert_eq!(repaired(&d), hundred_years(), "{l:?}");
            let GuardDecision::Repair {
                current_delete_at, ..
            } = d
            else {
                unreachable!()
            };
            assert_eq!(current_delete_at, plus_days(35));
        }
    }

    #[test]
    fn never_lifecycles_with_a_100_year_delete_date_are_compliant() {
        for l in never_lifecycles() {
            let p = event_point(l.clone(), plus_days(36500));
            assert!(is_compliant(&decide(&never(), &p, None)), "{l:?}");
        }
    }

    #[test]
    fn exactly_36500_days_is_compliant() {
        for p in [
            point(Some(36500), plus_days(36500)),
            point(Some(36500), None),
            point(None, plus_days(36500)),
        ] {
            let d = decide(&never(), &p, None);
            assert!(is_compliant(&d), "{p:?}: {d:?}");
        }
    }

    #[test]
    fn a_lifecycle_of_36500_days_is_compliant_whatever_date_is_reported() {
        // The lifecycle is what the repair sets: it alone must stop a second repair.
        let d = decide(&never(), &point(Some(36500), plus_days(35)), None);
        assert!(is_compliant(&d), "{d:?}");
    }

    #[test]
    fn thirty_six_thousand_four_hundred_and_ninety_nine_days_is_repaired() {
        for p in [
            point(Some(36499), None),
            point(Some(36499), plus_days(36499)),
            point(None, plus_days(36499)),
        ] {
            assert_eq!(
                repaired(&decide(&never(), &p, None)),
                hundred_years(),
                "{p:?}"
            );
        }
    }

    #[test]
    fn a_delete_date_short_by_seconds_or_hours_is_compliant_by_days() {
        let exact = created() + Duration::days(36500);
        for short in [
            Duration::seconds(5),
            Duration::milliseconds(461),
            Duration::hours(5),
            Duration::hours(23) + Duration::minutes(59),
        ] {
            for days in [None, Some(36499)] {
                let d = decide(&never(), &point(days, Some(exact - short)), None);
                assert!(is_compliant(&d), "{short:?} {days:?}: {d:?}");
            }
        }
    }

    #[test]
    fn a_delete_date_two_days_short_is_repaired() {
        let d = decide(&never(), &point(None, plus_days(36498)), None);
        assert_eq!(repaired(&d), hundred_years());
        let a_whole_day_short = created() + Duration::days(36499) - Duration::seconds(1);
        let d = decide(&never(), &point(None, Some(a_whole_day_short)), None);
        assert_eq!(repaired(&d), hundred_years());
    }

    /// What AWS might report after UpdateRecoveryPointLifecycle to 36500 days: the exact date,
    /// whole seconds, the day's midnight before or after, with or without the lifecycle.
    fn reported_after_repair(created: DateTime<Utc>, lifecycle: Lifecycle) -> Vec<PointView> {
        let exact = crate::retention::delete_at(created, &lifecycle).unwrap();
        let seconds = DateTime::from_timestamp(exact.timestamp(), 0).unwrap();
        let midnight = exact.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc();
        let mut views = Vec::new();
        for at in [exact, seconds, midnight, midnight + Duration::days(1)] {
            for reported in [lifecycle, Lifecycle::default()] {
                let mut p = point_at(created, None, Some(at));
                p.lifecycle = reported;
                views.push(p);
            }
        }
        views
    }

    #[test]
    fn a_point_repaired_once_is_compliant_on_the_next_pass() {
        for created in [
            "2026-11-20T05:00:09.461Z",
            "2024-02-29T23:59:59.999Z",
            "2026-01-01T00:00:00Z",
            "2031-07-15T21:39:07.000001Z",
        ]
        .map(date)
        {
            let first = point_at(created, None, Some(created + Duration::days(35)));
            let lifecycle = repaired(&decide(&never(), &first, None));
            for next in reported_after_repair(created, lifecycle) {
                let d = decide(&never(), &next, None);
                assert!(is_compliant(&d), "{next:?}: {d:?}");
            }
        }
    }

    #[test]
    fn a_locked_vault_is_a_violation_not_an_update() {
        let lock = VaultLock {
            min_retention_days: Some(1),
            max_retention_days: Some(3650),
        };
        let GuardDecision::Violation { reason } =
            decide(&never(), &point(Some(3650), plus_days(3650)), Some(&lock))
        else {
            panic!()
        };
        assert!(reason.contains("locked, MaxRetentionDays 3650"), "{reason}");
        for l in never_lifecycles() {
            let d = decide(&never(), &event_point(l, None), Some(&lock));
            let GuardDecision::Violation { reason } = d else {
                panic!("{d:?}")
            };
            assert!(reason.contains("'never' or not set"), "{reason}");
        }
        // A compliant point in a locked vault is simply compliant.
        let d = decide(&never(), &point(Some(36500), None), Some(&lock));
        assert!(is_compliant(&d));
    }

    #[test]
    fn cold_storage_is_kept_and_the_vaults_cold_applies_to_warm_points() {
        let mut p = point(Some(365), None);
        p.lifecycle.move_to_cold_storage_after_days = Some(30);
        let lifecycle = repaired(&decide(&never(), &p, None));
        assert_eq!(lifecycle.move_to_cold_storage_after_days, Some(30));
        let cold_vault = vault(Retention::NeverExpire {
            move_to_cold_storage_after_days: Some(90),
        });
        let lifecycle = repaired(&decide(&cold_vault, &point(Some(365), None), None));
        assert_eq!(lifecycle.move_to_cold_storage_after_days, Some(90));
        // Already cold without a cold setting recorded: the setting cannot change now.
        let mut cold = point(None, None);
        cold.storage_class = Some("COLD".into());
        let lifecycle = repaired(&decide(&cold_vault, &cold, None));
        assert_eq!(lifecycle, hundred_years());
        // Already cold with its setting: both fields are sent, the cold one unchanged.
        cold.lifecycle.move_to_cold_storage_after_days = Some(7);
        let lifecycle = repaired(&decide(&cold_vault, &cold, None));
        assert_eq!(lifecycle.move_to_cold_storage_after_days, Some(7));
        assert_eq!(lifecycle.delete_after_days, Some(NEVER_EXPIRE_DAYS));
    }

    #[test]
    fn a_cold_setting_that_breaks_the_90_day_rule_is_a_violation_not_a_panic() {
        for cold_days in [36411, u32::MAX] {
            let mut p = point(None, None);
            p.lifecycle.move_to_cold_storage_after_days = Some(cold_days);
            let d = decide(&never(), &p, None);
            let GuardDecision::Violation { reason } = d else {
                panic!("{d:?}")
            };
            assert!(reason.contains("fewer than 90 days"), "{reason}");
        }
        let mut p = point(None, None);
        p.lifecycle.move_to_cold_storage_after_days = Some(36410);
        assert_eq!(
            repaired(&decide(&never(), &p, None)).move_to_cold_storage_after_days,
            Some(36410)
        );
    }

    #[test]
    fn native_and_continuous_points_are_ignored_with_a_reason() {
        let lock = VaultLock::default();
        for (arn, why) in [
            (
                "arn:aws:dynamodb:eu-west-1:333333333333:table/orders/backup/01595000000000-abcdef12",
                "DynamoDB-native",
            ),
            (
                "arn:aws:backup:eu-west-1:333333333333:recovery-point:continuous:db-abc-1a2b3c4d",
                "does not support continuous backups",
            ),
        ] {
            let mut p = point(None, plus_days(35));
            p.recovery_point_arn = arn.into();
            for lock in [None, Some(&lock)] {
                let d = decide(&never(), &p, lock);
                let GuardDecision::Ignored { reason } = &d else {
                    panic!("{d:?}")
                };
                assert!(reason.contains(why) && reason.contains(arn), "{reason}");
                assert_eq!(serde_json::to_value(&d).unwrap()["decision"], "ignored");
                assert_eq!(guard_action(&never(), &p, lock), Err(reason.clone()));
            }
        }
    }

    #[test]
    fn an_unreadable_arn_is_still_repaired() {
        // Not ignored: AWS's refusal of the repair is recorded as a violation downstream.
        let mut p = point(None, None);
        p.recovery_point_arn = "not-an-arn".into();
        assert_eq!(repaired(&decide(&never(), &p, None)), hundred_years());
    }

    #[test]
    fn creation_dates_near_the_end_of_time_do_not_panic() {
        let max = DateTime::<Utc>::MAX_UTC;
        assert_eq!(never_expire_until(max), max);
        for created in [max, max - Duration::days(1), max - Duration::days(36499)] {
            for (days, delete_at) in [(None, None), (Some(35), None), (None, Some(max))] {
                let d = decide(&never(), &point_at(created, days, delete_at), None);
                let GuardDecision::Compliant { reason } = &d else {
                    panic!("{created}: {d:?}")
                };
                assert!(
                    reason.contains("past the last representable date"),
                    "{reason}"
                );
            }
        }
        // 36500 days still fit: judged as usual.
        let created = max - Duration::days(36500);
        let d = decide(&never(), &point_at(created, None, None), None);
        assert_eq!(repaired(&d), hundred_years());
        assert!(is_compliant(&decide(
            &never(),
            &point_at(created, None, Some(max)),
            None
        )));
        // And the other end of time.
        let d = decide(
            &never(),
            &point_at(DateTime::<Utc>::MIN_UTC, None, None),
            None,
        );
        assert_eq!(repaired(&d), hundred_years());
    }

    #[test]
    fn other_vaults_are_not_the_guards_business() {
        let v = vault(Retention::Days {
            delete_after_days: 35,
            move_to_cold_storage_after_days: None,
        });
        assert!(is_compliant(&decide(&v, &point(Some(35), None), None)));
        let mut deleted = point(None, None);
        deleted.storage_class = Some("DELETED".into());
        assert!(is_compliant(&decide(&never(), &deleted, None)));
    }
}
