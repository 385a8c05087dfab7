use compliance_report::handler::{policy_digest, ReportFunction};
use compliance_report::settings::Settings;
use lambda_runtime::{service_fn, LambdaEvent};
use relay_aws::S3ReportStore;
use relay_lambda::{aws_ports, config_from_env, init_tracing, LoadedPolicy};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = config_from_env()?;
    let settings = Settings::from_env(|name| std::env::var(name).ok()).inspect_err(|e| {
        tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
    })?;
    let ports = aws_ports(&config).await;
    let store = S3ReportStore::new(
        aws_sdk_s3::Client::new(ports.sessions.base()),
        &settings.bucket,
    );
    let function = ReportFunction::new(
        ports,
        store,
        LoadedPolicy::parse(&config.policy),
        policy_digest(&config.policy),
        settings.concurrency,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        function.handle(event)
    }))
    .await
}
