//! What every Backup Relay function shares: the start-up (logs, configuration, SDK clients, the
//! policy validated once per cold start), the event's id for spans and errors, and the one
//! mapping of every function's errors to Lambda diagnostics. The functions themselves only
//! parse, call the core and log.

pub mod config;
mod membership;
pub mod policy;

use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use lambda_runtime::Diagnostic;
use relay_aws::{AwsPorts, DynamoLedger, SessionConfig, Sessions, SnsAlerts};
use relay_chain::router::RouterError;
use relay_compliance::publish::PublishError;
use relay_core::policy::PolicyErrors;
use relay_core::ports::PortError;
use relay_restore::drill::DrillError;
use serde_json::Value;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::{Format, Json, JsonFields};
use tracing_subscriber::fmt::MakeWriter;
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
    #[error(transparent)]
    Report(#[from] PublishError),
    #[error(transparent)]
    Drill(#[from] DrillError),
    /// An invocation's payload that is not one the function takes: nothing done.
    #[error("the payload is not one this function takes: {0}")]
    Payload(String),
}

impl HandlerError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidPolicy { .. } => "InvalidPolicy",
            Self::PolicyUnavailable { source, .. }
                if source.code.as_deref() == Some("OrganizationsRoleNotConfigured") =>
            {
                "OrganizationsRoleNotConfigured"
            }
            Self::PolicyUnavailable { .. } => "PolicyUnavailable",
            Self::Event(r) => r.error_type(),
            Self::Reconcile(p) if p.kind.is_transient() => "TransientAwsError",
            Self::Reconcile(_) => "PermanentAwsError",
            Self::Report(e) => e.error_type(),
            Self::Payload(_) => "InvalidPayload",
            Self::Drill(e) => e.error_type(),
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

/// The event's id for spans and errors, whatever else is wrong with it.
pub fn event_id(payload: &Value) -> String {
    payload
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("(no id)")
        .to_string()
}

/// The event's detail-type for spans; empty for an invoke that is not an EventBridge event.
pub fn detail_type(payload: &Value) -> &str {
    payload
        .get("detail-type")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Log a failure with its error type (the span says which event), and pass it on.
pub fn failed(e: impl Into<HandlerError>) -> HandlerError {
    let e = e.into();
    tracing::error!(error_type = e.error_type(), error = %e, "invocation failed");
    e
}

/// What every function starts with: the configuration, the SDK-backed ports, and the policy
/// (read at the first invocation).
pub struct Startup {
    pub config: Config,
    pub ports: AwsPorts,
    pub policy: LoadedPolicy,
}

/// JSON logs, then the configuration (a logged error names what is missing), the ports and the
/// policy's source. `function` names the sessions assumed in other accounts.
pub async fn start(function: &str) -> Result<Startup, ConfigError> {
    init_tracing();
    let config = config_from_env()?;
    let ports = aws_ports(&config, function).await;
    let mut policy = loaded_policy(&config, &ports);
    // Without the read role, a policy with sets of OUs or of the organisation is refused at its
    // first use, naming the setting (the hub's own role may not read Organizations).
    if let Some(role) = config.organizations_role_arn.as_deref() {
        let org = relay_aws::AwsOrganizations::through_role(
            ports.sessions.base(),
            Some(role),
            &relay_aws::session_name(function),
        )
        .await;
        policy = policy.with_organizations(org);
    }
    Ok(Startup {
        config,
        ports,
        policy,
    })
}

/// A function's own settings from the environment; a logged error names what is wrong.
pub fn settings<T, E: std::fmt::Display>(
    parse: impl FnOnce(fn(&str) -> Option<String>) -> Result<T, E>,
) -> Result<T, E> {
    parse(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
    })
}

/// JSON logs with structured fields; `RUST_LOG` sets the level (info by default). Each line
/// carries its invocation's span (the event's id and detail-type) and no span list.
fn init_tracing() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    logs(std::io::stdout).with_env_filter(filter).init();
}

/// The log lines' format: JSON, the current span's fields, no time (CloudWatch stamps each).
fn logs<W>(
    writer: W,
) -> tracing_subscriber::fmt::SubscriberBuilder<JsonFields, Format<Json, ()>, LevelFilter, W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .without_time()
        .with_writer(writer)
}

/// The configuration, or a logged error naming what is missing.
fn config_from_env() -> Result<Config, ConfigError> {
    Config::from_env(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
    })
}

/// The policy from where the configuration says, read at the first invocation.
fn loaded_policy(config: &Config, ports: &AwsPorts) -> LoadedPolicy {
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
async fn aws_ports(config: &Config, function: &str) -> AwsPorts {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    AwsPorts {
        // The compliance-report function sets its bus (EVENT_BUS_NAME) itself.
        change_events: None,
        findings_sessions: None,
        pieces: config
            .pieces_queue_url
            .as_deref()
            .map(|url| relay_aws::SqsQueue::new(aws_sdk_sqs::Client::new(&base), url)),
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use serde_json::json;

    use super::*;

    /// The lines written, shared with the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_of_an_invocation_carries_its_event_id_and_detail_type() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = logs(move || writer.clone()).finish();
        let payload = json!({"id": "ev-1", "detail-type": "Copy Job State Change", "detail": {}});
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("event", event_id = %event_id(&payload),
                detail_type = %detail_type(&payload));
            let _in = span.enter();
            tracing::info!(started = 1, "event handled");
        });
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        let line: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["span"]["event_id"], "ev-1", "{text}");
        assert_eq!(line["span"]["detail_type"], "Copy Job State Change");
        assert_eq!(line["fields"]["message"], "event handled");
        assert!(
            line.get("spans").is_none() && line.get("timestamp").is_none(),
            "{text}"
        );
    }

    #[test]
    fn an_event_without_an_id_or_detail_type_still_names_itself() {
        assert_eq!(event_id(&json!({"detail": 1})), "(no id)");
        assert_eq!(detail_type(&json!([])), "");
    }
}
