//! Lifecycle arithmetic, kept apart from any API call. AWS's rules (facts §3, §5):
//! DeleteAfterDays in 1..=36500; DeleteAfterDays >= MoveToColdStorageAfterDays + 90; "never expire"
//! does not survive a copy, so it is written as 36500 days; days count from the ORIGINAL backup's
//! creation date; a vault lock fails copies whose retention is outside [MinRetentionDays, MaxRetentionDays].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The API maximum and AWS's advice for "never expire" on a copy (100 years).
pub const NEVER_EXPIRE_DAYS: u32 = 36500;
pub const MIN_DAYS: u32 = 1;
/// DeleteAfterDays must be at least MoveToColdStorageAfterDays + 90.
pub const COLD_MIN_DAYS: u32 = 90;

/// A recovery point's lifecycle as AWS Backup's API carries it; `None` means "not set".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Lifecycle {
    pub delete_after_days: Option<u32>,
    pub move_to_cold_storage_after_days: Option<u32>,
}

/// What a policy vault asks of the recovery points copied into it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// AWS's default: the copy keeps its source's expiry.
    Inherit,
    Days {
        delete_after_days: u32,
        move_to_cold_storage_after_days: Option<u32>,
    },
    NeverExpire {
        move_to_cold_storage_after_days: Option<u32>,
    },
}

impl Retention {
    /// The lifecycle to send with StartCopyJob; `None` for `inherit`.
    pub fn copy_lifecycle(&self) -> Option<Lifecycle> {
        match *self {
            Self::Inherit => None,
            Self::Days {
                delete_after_days,
                move_to_cold_storage_after_days,
            } => Some(Lifecycle {
                delete_after_days: Some(delete_after_days),
                move_to_cold_storage_after_days,
            }),
            Self::NeverExpire {
                move_to_cold_storage_after_days,
            } => Some(Lifecycle {
                delete_after_days: Some(NEVER_EXPIRE_DAYS),
                move_to_cold_storage_after_days,
            }),
        }
    }

    pub fn cold_after_days(&self) -> Option<u32> {
        match *self {
            Self::Inherit => None,
            Self::Days {
                move_to_cold_storage_after_days,
                ..
            }
            | Self::NeverExpire {
                move_to_cold_storage_after_days,
            } => move_to_cold_storage_after_days,
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Self::Inherit => "inherit (the copy keeps its source's expiry)".to_string(),
            Self::Days {
                delete_after_days,
                move_to_cold_storage_after_days: None,
            } => format!("delete after {delete_after_days} days"),
            Self::Days {
                delete_after_days,
                move_to_cold_storage_after_days: Some(c),
            } => format!("cold after {c} days, delete after {delete_after_days} days"),
            Self::NeverExpire {
                move_to_cold_storage_after_days: None,
            } => format!("never expire ({NEVER_EXPIRE_DAYS} days)"),
            Self::NeverExpire {
                move_to_cold_storage_after_days: Some(c),
            } => format!("never expire ({NEVER_EXPIRE_DAYS} days), cold after {c} days"),
        }
    }
}

/// When a recovery point with this lifecycle is deleted: counted from the original creation date,
/// which copies keep. `None`: never (no DeleteAfterDays), or a date past the end of the calendar
/// chrono can hold (an event may carry any u32 of days): checked, so odd input cannot panic, and
/// a point kept beyond year 262,000 is kept for ever as far as any decision here goes.
pub fn delete_at(creation_date: DateTime<Utc>, lifecycle: &Lifecycle) -> Option<DateTime<Utc>> {
    let days = Duration::try_days(i64::from(lifecycle.delete_after_days?))?;
    creation_date.checked_add_signed(days)
}

/// A vault's lock, as DescribeBackupVault / ListBackupVaults report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct VaultLock {
    pub min_retention_days: Option<u32>,
    pub max_retention_days: Option<u32>,
}

impl VaultLock {
    /// Does the lock admit a job that keeps its point `days` (`None`: for ever)? Backup and copy
    /// jobs outside [min, max] fail (facts §5); for ever is past any MaxRetentionDays.
    pub fn admits(&self, days: Option<u32>) -> bool {
        match days {
            Some(d) => {
                self.min_retention_days.is_none_or(|m| d >= m)
                    && self.max_retention_days.is_none_or(|m| d <= m)
            }
            None => self.max_retention_days.is_none(),
        }
    }
}

/// What to do when a vault lock forbids the retention the policy asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockConflict {
    /// Lower the retention to MaxRetentionDays and report it.
    #[default]
    Clamp,
    /// Do not copy; alert.
    Skip,
}

/// The result of fitting a lifecycle into a vault lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockFit {
    /// No lock, or the lifecycle is within its bounds.
    Fits(Option<Lifecycle>),
    /// Raised to MinRetentionDays: longer never loses data.
    Raised {
        lifecycle: Lifecycle,
        from_days: u32,
    },
    /// Lowered to MaxRetentionDays because `on_lock_conflict: clamp`.
    Clamped {
        lifecycle: Lifecycle,
        from_days: u32,
    },
    /// Not copied because `on_lock_conflict: skip`.
    Skipped { reason: String },
}

pub fn fit_to_lock(
    lifecycle: Option<Lifecycle>,
    lock: Option<&VaultLock>,
    on_conflict: LockConflict,
) -> LockFit {
    let (Some(lock), Some(mut lc)) = (lock, lifecycle) else {
        // No lock, or an inherited expiry that only AWS knows: nothing to fit here.
        return LockFit::Fits(lifecycle);
    };
    let Some(days) = lc.delete_after_days else {
        return LockFit::Fits(Some(lc));
    };
    if let Some(min) = lock.min_retention_days.filter(|min| days < *min) {
        lc.delete_after_days = Some(min);
        return LockFit::Raised {
            lifecycle: lc,
            from_days: days,
        };
    }
    match lock.max_retention_days.filter(|max| days > *max) {
        None => LockFit::Fits(Some(lc)),
        Some(max) => match on_conflict {
            LockConflict::Skip => LockFit::Skipped {
                reason: format!(
                    "the destination vault's lock allows at most {max} days but the policy asks for {days}; on_lock_conflict is skip"
                ),
            },
            LockConflict::Clamp => {
                lc.delete_after_days = Some(max);
                // Keep the 90-day cold rule true after lowering the delete date.
                if let Some(cold) = lc.move_to_cold_storage_after_days {
                    if max < cold.saturating_add(COLD_MIN_DAYS) {
                        lc.move_to_cold_storage_after_days = max
                            .checked_sub(COLD_MIN_DAYS)
                            .filter(|c| *c >= MIN_DAYS);
                    }
                }
                LockFit::Clamped {
                    lifecycle: lc,
                    from_days: days,
                }
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(d: u32, cold: Option<u32>) -> Lifecycle {
        Lifecycle {
            delete_after_days: Some(d),
            move_to_cold_storage_after_days: cold,
        }
    }

    #[test]
    fn never_expire_is_36500_days_and_keeps_cold() {
        let r = Retention::NeverExpire {
            move_to_cold_storage_after_days: Some(30),
        };
        assert_eq!(r.copy_lifecycle(), Some(days(36500, Some(30))));
        assert_eq!(Retention::Inherit.copy_lifecycle(), None);
    }

    #[test]
    fn delete_date_counts_from_the_original_creation_date() {
        let created = DateTime::parse_from_rfc3339("2026-01-01T05:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            delete_at(created, &days(35, None)).unwrap().to_rfc3339(),
            "2026-02-05T05:00:00+00:00"
        );
        assert_eq!(delete_at(created, &Lifecycle::default()), None);
        // Any u32 an event may carry: no panic, and past chrono's calendar it is "never".
        assert_eq!(delete_at(created, &days(u32::MAX, None)), None);
        assert!(delete_at(DateTime::<Utc>::MAX_UTC, &days(1, None)).is_none());
    }

    #[test]
    fn delete_date_past_the_last_representable_date_is_none_not_a_panic() {
        let late = DateTime::<Utc>::MAX_UTC - Duration::days(10);
        assert_eq!(delete_at(late, &days(35, None)), None);
        assert_eq!(delete_at(DateTime::<Utc>::MAX_UTC, &days(1, None)), None);
        assert_eq!(
            delete_at(late, &days(5, None)),
            Some(DateTime::<Utc>::MAX_UTC - Duration::days(5))
        );
    }

    #[test]
    fn lock_clamps_or_skips_and_raises_to_min() {
        let lock = VaultLock {
            min_retention_days: Some(7),
            max_retention_days: Some(3650),
        };
        assert_eq!(
            fit_to_lock(Some(days(36500, None)), Some(&lock), LockConflict::Clamp),
            LockFit::Clamped {
                lifecycle: days(3650, None),
                from_days: 36500
            }
        );
        assert!(matches!(
            fit_to_lock(Some(days(36500, None)), Some(&lock), LockConflict::Skip),
            LockFit::Skipped { .. }
        ));
        assert_eq!(
            fit_to_lock(Some(days(3, None)), Some(&lock), LockConflict::Skip),
            LockFit::Raised {
                lifecycle: days(7, None),
                from_days: 3
            }
        );
        assert_eq!(
            fit_to_lock(Some(days(365, Some(30))), Some(&lock), LockConflict::Clamp),
            LockFit::Fits(Some(days(365, Some(30))))
        );
        assert_eq!(
            fit_to_lock(None, Some(&lock), LockConflict::Clamp),
            LockFit::Fits(None)
        );
    }

    #[test]
    fn clamping_keeps_the_cold_rule() {
        let lock = VaultLock {
            min_retention_days: None,
            max_retention_days: Some(100),
        };
        assert_eq!(
            fit_to_lock(
                Some(days(36500, Some(30))),
                Some(&lock),
                LockConflict::Clamp
            ),
            LockFit::Clamped {
                lifecycle: days(100, Some(10)),
                from_days: 36500
            }
        );
        let tight = VaultLock {
            min_retention_days: None,
            max_retention_days: Some(60),
        };
        assert_eq!(
            fit_to_lock(
                Some(days(36500, Some(30))),
                Some(&tight),
                LockConflict::Clamp
            ),
            LockFit::Clamped {
                lifecycle: days(60, None),
                from_days: 36500
            }
        );
    }
}
