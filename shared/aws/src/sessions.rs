//! One client per account and Region. Other accounts are reached by assuming the executor role
//! there; the credentials are cached per account by the SDK's identity cache and refreshed before
//! they expire. Single-account use assumes nothing.
//!
//! AWS's request-rate quotas are per account and Region (AWS Backup's: 5 to 20 calls a second per
//! operation, 50 for all together), and AWS asks callers who meet ThrottlingException to use a
//! rate limiter. Each client retries in the SDK's adaptive mode, whose client-side rate limiter
//! slows its sending when AWS throttles, and has a retry partition of its own account and Region:
//! by default every client of one Region shares one retry token bucket and one limiter, so one
//! throttled account would slow, and spend the retries of, every other account in that Region.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_config::sts::AssumeRoleProvider;
use aws_config::{Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_backup::config::retry::{RetryConfig, RetryPartition};
use relay_core::arn::Location;

use crate::aws_clock::{AwsClock, ObserveDate};

#[derive(Debug, Clone, Default)]
pub struct SessionConfig {
    /// The account the functions run in: reached with the function's own role.
    pub home_account: Option<String>,
    /// The role name to assume in other accounts; `None`: never assume (single-account use).
    pub executor_role_name: Option<String>,
    /// The session name of every role assumed (CloudTrail's name for who called).
    pub session_name: String,
}

/// `backup-relay-<who>`, as STS takes session names: 2 to 64 of `\w+=,.@-`, anything else `-`.
pub fn session_name(who: &str) -> String {
    let name: String = format!("backup-relay-{who}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    name
}

pub struct Sessions {
    base: SdkConfig,
    config: SessionConfig,
    credentials: Mutex<HashMap<String, SharedCredentialsProvider>>,
    backup: Mutex<HashMap<Location, aws_sdk_backup::Client>>,
    dynamodb: Mutex<HashMap<Location, aws_sdk_dynamodb::Client>>,
    clock: Arc<AwsClock>,
}

impl Sessions {
    pub fn new(base: SdkConfig, config: SessionConfig) -> Self {
        Self {
            base,
            config,
            credentials: Mutex::new(HashMap::new()),
            backup: Mutex::new(HashMap::new()),
            dynamodb: Mutex::new(HashMap::new()),
            clock: Arc::new(AwsClock::default()),
        }
    }

    /// AWS Backup's clock, as its answers tell it.
    pub fn clock(&self) -> &AwsClock {
        &self.clock
    }

    pub fn base(&self) -> &SdkConfig {
        &self.base
    }

    /// The executor role ARN for `location.account`, when that account needs a role assumed.
    pub fn role_for(&self, location: &Location) -> Option<String> {
        let role = self.config.executor_role_name.as_deref()?;
        if self.config.home_account.as_deref() == Some(location.account.as_str()) {
            return None;
        }
        Some(format!(
            "arn:{}:iam::{}:role/{role}",
            location.partition, location.account
        ))
    }

    async fn credentials_for(&self, location: &Location) -> Option<SharedCredentialsProvider> {
        let role = self.role_for(location)?;
        if let Some(p) = lock(&self.credentials).get(&location.account) {
            return Some(p.clone());
        }
        let provider = AssumeRoleProvider::builder(role)
            .session_name(if self.config.session_name.is_empty() {
                "backup-relay"
            } else {
                self.config.session_name.as_str()
            })
            .configure(&self.base)
            .build()
            .await;
        let shared = SharedCredentialsProvider::new(provider);
        lock(&self.credentials).insert(location.account.clone(), shared.clone());
        Some(shared)
    }

    /// The SDK configuration for `location`: its Region, the adaptive retries, and the executor
    /// role's credentials where one is assumed. For clients used too rarely to cache (the
    /// doctor's reads). An SdkConfig has no retry partition of its own: a client built from it
    /// shares the service's, so callers set [`partition`] on the client's config (the doctor
    /// does; Security Hub's imports take [`Self::securityhub`]).
    pub async fn config_for(&self, location: &Location) -> SdkConfig {
        let mut builder = self
            .base
            .to_builder()
            .region(Region::new(location.region.clone()))
            .retry_config(self.adaptive_retries());
        if let Some(creds) = self.credentials_for(location).await {
            builder = builder.credentials_provider(creds);
        }
        builder.build()
    }

    /// Security Hub in `location`, retrying on its own account and Region's partition: the
    /// report imports findings into many accounts at once, and one throttled account must not
    /// spend the others' retries.
    pub async fn securityhub(&self, location: &Location) -> aws_sdk_securityhub::Client {
        let config = self.config_for(location).await;
        let conf = aws_sdk_securityhub::config::Builder::from(&config)
            .retry_partition(partition("securityhub", location))
            .build();
        aws_sdk_securityhub::Client::from_conf(conf)
    }

    pub async fn backup(&self, location: &Location) -> aws_sdk_backup::Client {
        if let Some(c) = lock(&self.backup).get(location) {
            return c.clone();
        }
        let mut builder = aws_sdk_backup::config::Builder::from(&self.base)
            .region(Region::new(location.region.clone()))
            .retry_config(self.adaptive_retries())
            .retry_partition(partition("backup", location))
            .interceptor(ObserveDate(Arc::clone(&self.clock)));
        if let Some(creds) = self.credentials_for(location).await {
            builder = builder.credentials_provider(creds);
        }
        let client = aws_sdk_backup::Client::from_conf(builder.build());
        lock(&self.backup).insert(location.clone(), client.clone());
        client
    }

    pub async fn dynamodb(&self, location: &Location) -> aws_sdk_dynamodb::Client {
        if let Some(c) = lock(&self.dynamodb).get(location) {
            return c.clone();
        }
        let mut builder = aws_sdk_dynamodb::config::Builder::from(&self.base)
            .region(Region::new(location.region.clone()))
            .retry_config(self.adaptive_retries())
            .retry_partition(partition("dynamodb", location));
        if let Some(creds) = self.credentials_for(location).await {
            builder = builder.credentials_provider(creds);
        }
        let client = aws_sdk_dynamodb::Client::from_conf(builder.build());
        lock(&self.dynamodb).insert(location.clone(), client.clone());
        client
    }
}

impl Sessions {
    /// The adaptive mode, with as many attempts as the base configuration allows (the SDK's
    /// default, or `AWS_MAX_ATTEMPTS`).
    fn adaptive_retries(&self) -> RetryConfig {
        let attempts = self
            .base
            .retry_config()
            .map_or(3, |r| r.max_attempts())
            .max(1);
        RetryConfig::adaptive().with_max_attempts(attempts)
    }
}

/// The retry state of one service in one account and Region: a throttled account spends its own
/// retries, not those of the others a process calls at once.
pub fn partition(service: &str, location: &Location) -> RetryPartition {
    RetryPartition::new(format!(
        "{service}-{}-{}",
        location.account, location.region
    ))
}

/// A poisoned cache is still a valid cache: clients are immutable handles.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_backup::config::retry::RetryMode;

    fn location(account: &str, region: &str) -> Location {
        Location {
            partition: "aws".into(),
            account: account.into(),
            region: region.into(),
        }
    }

    #[tokio::test]
    async fn each_account_and_region_retries_adaptively_on_its_own() {
        let base = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .build();
        let sessions = Sessions::new(base, SessionConfig::default());
        let a = sessions
            .backup(&location("111111111111", "us-east-1"))
            .await;
        let b = sessions
            .backup(&location("222222222222", "us-east-1"))
            .await;
        let retry = a.config().retry_config().unwrap();
        assert_eq!(retry.mode(), RetryMode::Adaptive);
        // The base's attempts are kept.
        assert_eq!(retry.max_attempts(), 5);
        let name = |c: &aws_sdk_backup::Client| c.config().retry_partition().map(|p| p.to_string());
        assert_ne!(name(&a), name(&b));
        let d = sessions
            .dynamodb(&location("111111111111", "us-east-1"))
            .await;
        assert_eq!(
            d.config().retry_config().unwrap().mode(),
            RetryMode::Adaptive
        );
        assert!(d.config().retry_partition().is_some());
        let h1 = sessions
            .securityhub(&location("111111111111", "eu-west-1"))
            .await;
        let h2 = sessions
            .securityhub(&location("222222222222", "eu-west-1"))
            .await;
        let name =
            |c: &aws_sdk_securityhub::Client| c.config().retry_partition().map(|p| p.to_string());
        assert_ne!(name(&h1), name(&h2));
        assert_eq!(
            h1.config().retry_config().unwrap().mode(),
            RetryMode::Adaptive
        );
    }
}
