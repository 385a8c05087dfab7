use aws_config::retry::RetryConfig;
use aws_config::BehaviorVersion;
use copy_router::config::Config;
use copy_router::handler::CopyRouter;
use lambda_runtime::{service_fn, LambdaEvent};
use relay_aws::{AwsPorts, DynamoLedger, SessionConfig, Sessions, SnsAlerts};
use relay_core::policy::Policy;
use serde_json::Value;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .init();

    let config = Config::from_env(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
    })?;
    // Clients are built once per cold start and reused by every invocation.
    let base = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    let ports = AwsPorts {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&base), &config.ledger_table),
        alerts: SnsAlerts::new(aws_sdk_sns::Client::new(&base), &config.alert_topic_arn),
        sessions: Sessions::new(
            base,
            SessionConfig {
                home_account: config.home_account.clone(),
                executor_role_name: config.executor_role_name.clone(),
            },
        ),
    };
    let router = CopyRouter::new(ports, Policy::parse(&config.policy), config.router());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| router.handle(event))).await
}
