//! What this function needs beyond the shared configuration, from the environment.

use relay_lambda::ConfigError;

/// Account-Regions inventoried at once when `INVENTORY_CONCURRENCY` is unset.
pub const DEFAULT_CONCURRENCY: usize = 8;
const MAX_CONCURRENCY: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `REPORT_BUCKET`: where the reports are written.
    pub bucket: String,
    /// `WORK_BUCKET`: where a run's parts are written; not the report bucket, whose Object Lock
    /// would keep a day's scratch for years.
    pub work_bucket: String,
    /// `INVENTORY_CONCURRENCY`: account-Regions inventoried at once (1 to 64).
    pub concurrency: usize,
    /// `EVENT_BUS_NAME`: the hub's bus, where each compliance change is put as an event.
    pub event_bus: String,
    /// `FINDINGS_ROLE_NAME`: the role assumed in member accounts to import their findings into
    /// Security Hub; unset: the one EXECUTOR_ROLE_NAME names (single-account use assumes none).
    pub findings_role: Option<String>,
}

impl Settings {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket = get("REPORT_BUCKET")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::Missing("REPORT_BUCKET"))?;
        let concurrency = match get("INVENTORY_CONCURRENCY").filter(|v| !v.trim().is_empty()) {
            None => DEFAULT_CONCURRENCY,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_CONCURRENCY).contains(n))
                .ok_or_else(|| ConfigError::Invalid {
                    name: "INVENTORY_CONCURRENCY",
                    reason: format!("'{v}' is not a whole number from 1 to {MAX_CONCURRENCY}"),
                })?,
        };
        let work_bucket = get("WORK_BUCKET")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::Missing("WORK_BUCKET"))?;
        if work_bucket == bucket {
            return Err(ConfigError::Invalid {
                name: "WORK_BUCKET",
                reason: "is REPORT_BUCKET: a run's parts would stay under the reports' lock".into(),
            });
        }
        let event_bus = get("EVENT_BUS_NAME")
            .map(|b| b.trim().to_string())
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::Missing("EVENT_BUS_NAME"))?;
        let findings_role = get("FINDINGS_ROLE_NAME")
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        Ok(Self {
            bucket,
            work_bucket,
            concurrency,
            event_bus,
            findings_role,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_bucket_is_required_and_concurrency_defaults_to_eight() {
        assert_eq!(
            Settings::from_env(env(&[])),
            Err(ConfigError::Missing("REPORT_BUCKET"))
        );
        assert_eq!(
            Settings::from_env(env(&[("REPORT_BUCKET", " ")])),
            Err(ConfigError::Missing("REPORT_BUCKET"))
        );
        assert_eq!(
            Settings::from_env(env(&[("REPORT_BUCKET", "reports")])),
            Err(ConfigError::Missing("WORK_BUCKET"))
        );
        assert!(matches!(
            Settings::from_env(env(&[
                ("REPORT_BUCKET", "reports"),
                ("WORK_BUCKET", "reports")
            ])),
            Err(ConfigError::Invalid {
                name: "WORK_BUCKET",
                ..
            })
        ));
        assert_eq!(
            Settings::from_env(env(&[
                ("REPORT_BUCKET", "reports"),
                ("WORK_BUCKET", "work")
            ])),
            Err(ConfigError::Missing("EVENT_BUS_NAME"))
        );
        let s = Settings::from_env(env(&[
            ("REPORT_BUCKET", "reports"),
            ("WORK_BUCKET", "work"),
            ("EVENT_BUS_NAME", "backup-relay"),
        ]))
        .unwrap();
        assert_eq!(s.event_bus, "backup-relay");
        assert_eq!((s.bucket.as_str(), s.concurrency), ("reports", 8));
        assert_eq!(s.work_bucket, "work");
        let s = Settings::from_env(env(&[
            ("REPORT_BUCKET", "reports"),
            ("WORK_BUCKET", "work"),
            ("EVENT_BUS_NAME", "backup-relay"),
            ("INVENTORY_CONCURRENCY", "16"),
        ]))
        .unwrap();
        assert_eq!(s.concurrency, 16);
    }

    #[test]
    fn a_concurrency_out_of_range_is_named() {
        for bad in ["0", "65", "eight", "-1"] {
            assert!(matches!(
                Settings::from_env(env(&[
                    ("REPORT_BUCKET", "reports"),
                    ("WORK_BUCKET", "work"),
                    ("EVENT_BUS_NAME", "backup-relay"),
                    ("INVENTORY_CONCURRENCY", bad)
                ])),
                Err(ConfigError::Invalid {
                    name: "INVENTORY_CONCURRENCY",
                    ..
                })
            ));
        }
    }
}
