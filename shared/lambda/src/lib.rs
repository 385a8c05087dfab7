//! What every Backup Relay function shares: configuration from the environment, the policy
//! validated once per cold start, the mapping of errors to Lambda diagnostics, and the wiring of
//! logs and SDK clients. The functions themselves only parse, call the core and map errors.

pub mod config;
pub mod policy;

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use lambda_runtime::Diagnostic;
use relay_aws::{AwsPorts, DynamoLedger, SessionConfig, Sessions, SnsAlerts};
use relay_chain::router::RouterError;
use relay_core::policy::PolicyErrors;
use relay_core::ports::PortError;
use serde_json::Value;
use tracing_subscriber::EnvFilter;

pub use config::{Config, ConfigError, PolicySource};
pub use policy::LoadedPolicy;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The policy failed validation at start-up: nothing is done until it is fixed.
    #[error("event {event_id}: no action taken, the policy is invalid: {errors}")]
    InvalidPolicy {
        event_id: String,
        errors: PolicyErrors,
    },
    /// The policy's store could not be read and no version is in force yet: retried.
    #[error("event {event_id}: no action taken, the policy could not be read: {source}")]
    PolicyUnavailable { event_id: String, source: PortError },
    #[error(transparent)]
    Event(#[from] RouterError),
    /// A reconciler run that could not go on (its cursor keeps its place for the next run).
    #[error("reconciler run stopped: {0}")]
    Reconcile(PortError),
}

impl HandlerError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidPolicy { .. } => "InvalidPolicy",
            Self::PolicyUnavailable { .. } => "PolicyUnavailable",
            Self::Event(r) => r.error_type(),
            Self::Reconcile(p) if p.kind.is_transient() => "TransientAwsError",
            Self::Reconcile(_) => "PermanentAwsError",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

/// The event's id for logs and errors, whatever else is wrong with it.
pub fn event_id(payload: &Value) -> String {
    payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("(no id)")
        .to_string()
}

/// Log an event's failure with its id and error type, and pass the error on.
pub fn failed(event_id: &str, detail_type: &str, e: RouterError) -> HandlerError {
    tracing::error!(event_id = %event_id, detail_type = %detail_type, error_type = e.error_type(), error = %e, "event failed");
    HandlerError::Event(e)
}

/// JSON logs with structured fields; `RUST_LOG` sets the level (info by default).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .init();
}

/// The configuration, or a logged error naming what is missing.
pub fn config_from_env() -> Result<Config, ConfigError> {
    Config::from_env(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
    })
}

/// The policy from where the configuration says, read at the first invocation.
pub fn loaded_policy(config: &Config, ports: &AwsPorts) -> LoadedPolicy {
    let store = match &config.policy {
        PolicySource::Inline(text) => relay_aws::AwsPolicyStore::Inline(text.clone()),
        PolicySource::Object(address) => relay_aws::AwsPolicyStore::Object {
            client: aws_sdk_s3::Client::new(ports.sessions.base()),
            address: address.clone(),
            expected_owner: config.home_account.clone(),
        },
        PolicySource::Parameter(name) => relay_aws::AwsPolicyStore::Parameter {
            client: aws_sdk_ssm::Client::new(ports.sessions.base()),
            name: name.clone(),
        },
    };
    LoadedPolicy::from_store(store, config.copy_role_name.clone())
}

/// The SDK-backed ports, built once per cold start and reused by every invocation. `function`
/// names the sessions it assumes in other accounts (`backup-relay-<function>`), so CloudTrail
/// tells the functions apart.
pub async fn aws_ports(config: &Config, function: &str) -> AwsPorts {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    AwsPorts {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&base), &config.ledger_table),
        alerts: SnsAlerts::new(aws_sdk_sns::Client::new(&base), &config.alert_topic_arn),
        sessions: Sessions::new(
            base,
            SessionConfig {
                home_account: config.home_account.clone(),
                executor_role_name: config.executor_role_name.clone(),
                session_name: relay_aws::session_name(function),
            },
        ),
    }
}
