//! Configuration from the environment, validated once at start-up.

use chrono::Duration;
use relay_core::reconcile::ReconcileConfig;
use relay_core::router::RouterConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The policy document itself (YAML or JSON).
    pub policy: String,
    pub ledger_table: String,
    pub alert_topic_arn: String,
    /// Role to assume in member accounts; unset for single-account use.
    pub executor_role_name: Option<String>,
    /// The account the function runs in (no role is assumed there).
    pub home_account: Option<String>,
    /// Reconciler: attempts per hop, the first included.
    pub max_attempts: u32,
    /// Reconciler: how far back source recovery points are re-driven.
    pub lookback_days: u32,
}

impl Config {
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &'static str| {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .ok_or(ConfigError::Missing(name))
        };
        let optional = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let bounded = |name: &'static str, default: u32, range: std::ops::RangeInclusive<u32>| {
            match optional(name) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        reason: format!(
                            "'{v}' is not a whole number from {} to {}",
                            range.start(),
                            range.end()
                        ),
                    }),
            }
        };
        let defaults = ReconcileConfig::default();
        let max_attempts = bounded("MAX_ATTEMPTS", defaults.max_attempts, 1..=20)?;
        let lookback_days = bounded(
            "LOOKBACK_DAYS",
            u32::try_from(defaults.lookback.num_days()).unwrap_or(7),
            1..=365,
        )?;
        Ok(Self {
            policy: required("RELAY_POLICY")?,
            ledger_table: required("LEDGER_TABLE")?,
            alert_topic_arn: required("ALERT_TOPIC_ARN")?,
            executor_role_name: optional("EXECUTOR_ROLE_NAME"),
            home_account: optional("HOME_ACCOUNT_ID"),
            max_attempts,
            lookback_days,
        })
    }

    pub fn router(&self) -> RouterConfig {
        RouterConfig::default()
    }

    pub fn reconcile(&self) -> ReconcileConfig {
        ReconcileConfig {
            max_attempts: self.max_attempts,
            lookback: Duration::days(i64::from(self.lookback_days)),
            ..ReconcileConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: [(&str, &str); 3] = [
        ("RELAY_POLICY", "version: 1"),
        ("LEDGER_TABLE", "ledger"),
        ("ALERT_TOPIC_ARN", "arn:aws:sns:us-east-1:1:t"),
    ];

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            Config::from_env(env(&FULL[..2])),
            Err(ConfigError::Missing("ALERT_TOPIC_ARN"))
        );
        assert_eq!(
            Config::from_env(env(&[])),
            Err(ConfigError::Missing("RELAY_POLICY"))
        );
        let mut blank = FULL.to_vec();
        blank[1] = ("LEDGER_TABLE", "  ");
        assert_eq!(
            Config::from_env(env(&blank)),
            Err(ConfigError::Missing("LEDGER_TABLE"))
        );
    }

    #[test]
    fn optional_values_and_bounds() {
        let c = Config::from_env(env(&FULL)).unwrap();
        assert_eq!(
            (c.max_attempts, c.executor_role_name, c.home_account),
            (3, None, None)
        );
        let mut more = FULL.to_vec();
        more.extend([
            ("MAX_ATTEMPTS", "5"),
            ("EXECUTOR_ROLE_NAME", "backup-relay-executor"),
        ]);
        let c = Config::from_env(env(&more)).unwrap();
        assert_eq!(c.max_attempts, 5);
        assert_eq!(
            c.executor_role_name.as_deref(),
            Some("backup-relay-executor")
        );
        let mut bad = FULL.to_vec();
        bad.push(("MAX_ATTEMPTS", "0"));
        assert!(matches!(
            Config::from_env(env(&bad)),
            Err(ConfigError::Invalid {
                name: "MAX_ATTEMPTS",
                ..
            })
        ));
    }
}
