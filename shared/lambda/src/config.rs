//! Configuration from the environment, validated once at start-up.

use chrono::Duration;
use relay_aws::S3Address;
use relay_chain::reconcile::ReconcileConfig;
use relay_chain::router::RouterConfig;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Where the policy is, exactly one of: `RELAY_POLICY_PARAMETER` (a Parameter Store parameter)
/// or `RELAY_POLICY_S3` (an object in a versioned bucket), both looked at again every five
/// minutes, or `RELAY_POLICY` (the text itself, for small single-account use).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    Inline(String),
    Object(S3Address),
    Parameter(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub policy: PolicySource,
    /// `COPY_ROLE_NAME`: the role the functions may pass to AWS Backup; the policy must name it.
    pub copy_role_name: Option<String>,
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
    /// `ORGANIZATIONS_ROLE_ARN`: the role in the management or delegated administrator account
    /// that vault sets of OUs or of the organisation are read through (unset: no sets of those).
    pub organizations_role_arn: Option<String>,
    /// `PIECES_QUEUE_URL`: the reconciler's pieces queue; set, the scheduled run coordinates and
    /// each piece (an account and Region) is its own invocation. Unset: one run walks everything.
    pub pieces_queue_url: Option<String>,
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
        let policy = policy_source(&optional)?;
        let organizations_role_arn = optional("ORGANIZATIONS_ROLE_ARN");
        if let Some(arn) = &organizations_role_arn {
            if relay_core::arn::RoleArn::parse(arn).is_err() {
                return Err(ConfigError::Invalid {
                    name: "ORGANIZATIONS_ROLE_ARN",
                    reason: format!("'{arn}' is not an IAM role ARN"),
                });
            }
        }
        Ok(Self {
            organizations_role_arn,
            pieces_queue_url: optional("PIECES_QUEUE_URL"),
            policy,
            copy_role_name: optional("COPY_ROLE_NAME"),
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

/// Where the policy is: exactly one of the three variables.
fn policy_source(optional: &impl Fn(&str) -> Option<String>) -> Result<PolicySource, ConfigError> {
    let required = |name: &'static str| optional(name).ok_or(ConfigError::Missing(name));
    let given: Vec<&'static str> = ["RELAY_POLICY_PARAMETER", "RELAY_POLICY_S3", "RELAY_POLICY"]
        .into_iter()
        .filter(|name| optional(name).is_some())
        .collect();
    let policy = match given.as_slice() {
        [] => {
            return Err(ConfigError::Missing(
                "RELAY_POLICY_PARAMETER, RELAY_POLICY_S3 or RELAY_POLICY",
            ))
        }
        ["RELAY_POLICY_PARAMETER"] => PolicySource::Parameter(required("RELAY_POLICY_PARAMETER")?),
        ["RELAY_POLICY_S3"] => {
            PolicySource::Object(S3Address::parse(&required("RELAY_POLICY_S3")?).map_err(
                |reason| ConfigError::Invalid {
                    name: "RELAY_POLICY_S3",
                    reason,
                },
            )?)
        }
        ["RELAY_POLICY"] => PolicySource::Inline(required("RELAY_POLICY")?),
        [first, ..] => {
            return Err(ConfigError::Invalid {
                name: first,
                reason: format!(
                    "set together with {}: set exactly one",
                    given[1..].join(" and ")
                ),
            })
        }
    };
    Ok(policy)
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
    fn the_organizations_role_is_an_iam_role_arn_when_given() {
        let mut with = FULL.to_vec();
        with.push((
            "ORGANIZATIONS_ROLE_ARN",
            "arn:aws:iam::999999999999:role/backup-relay-organizations-read",
        ));
        let c = Config::from_env(env(&with)).unwrap();
        assert!(c.organizations_role_arn.is_some());
        assert_eq!(
            Config::from_env(env(&FULL)).unwrap().organizations_role_arn,
            None
        );
        with.pop();
        with.push(("ORGANIZATIONS_ROLE_ARN", "backup-relay-organizations-read"));
        assert!(matches!(
            Config::from_env(env(&with)),
            Err(ConfigError::Invalid {
                name: "ORGANIZATIONS_ROLE_ARN",
                ..
            })
        ));
    }

    #[test]
    fn names_the_missing_variable() {
        assert_eq!(
            Config::from_env(env(&FULL[..2])),
            Err(ConfigError::Missing("ALERT_TOPIC_ARN"))
        );
        assert_eq!(
            Config::from_env(env(&[])),
            Err(ConfigError::Missing(
                "RELAY_POLICY_PARAMETER, RELAY_POLICY_S3 or RELAY_POLICY"
            ))
        );
        let mut blank = FULL.to_vec();
        blank[1] = ("LEDGER_TABLE", "  ");
        assert_eq!(
            Config::from_env(env(&blank)),
            Err(ConfigError::Missing("LEDGER_TABLE"))
        );
    }

    #[test]
    fn the_policy_from_exactly_one_of_ssm_s3_or_inline() {
        let mut s3 = FULL.to_vec();
        s3[0] = ("RELAY_POLICY_S3", "s3://relay-config/policy.yaml");
        s3.push(("COPY_ROLE_NAME", "backup-relay-copy"));
        let c = Config::from_env(env(&s3)).unwrap();
        assert_eq!(
            c.policy,
            PolicySource::Object(S3Address {
                bucket: "relay-config".into(),
                key: "policy.yaml".into()
            })
        );
        assert_eq!(c.copy_role_name.as_deref(), Some("backup-relay-copy"));
        let mut both = FULL.to_vec();
        both.push(("RELAY_POLICY_S3", "s3://relay-config/policy.yaml"));
        assert_eq!(
            Config::from_env(env(&both)).unwrap_err().to_string(),
            "environment variable RELAY_POLICY_S3 is invalid: set together with RELAY_POLICY: set exactly one"
        );
        let mut ssm = FULL.to_vec();
        ssm[0] = ("RELAY_POLICY_PARAMETER", "/backup-relay/policy");
        assert_eq!(
            Config::from_env(env(&ssm)).unwrap().policy,
            PolicySource::Parameter("/backup-relay/policy".into())
        );
        ssm.push(("RELAY_POLICY_S3", "s3://relay-config/policy.yaml"));
        ssm.push(("RELAY_POLICY", "version: 1"));
        assert_eq!(
            Config::from_env(env(&ssm)).unwrap_err().to_string(),
            "environment variable RELAY_POLICY_PARAMETER is invalid: set together with RELAY_POLICY_S3 and RELAY_POLICY: set exactly one"
        );
        s3[0] = ("RELAY_POLICY_S3", "relay-config/policy.yaml");
        assert!(matches!(
            Config::from_env(env(&s3)),
            Err(ConfigError::Invalid {
                name: "RELAY_POLICY_S3",
                ..
            })
        ));
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
