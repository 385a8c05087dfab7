use lambda_runtime::{service_fn, LambdaEvent};
use relay_lambda::{aws_ports, config_from_env, init_tracing, LoadedPolicy};
use retention_guard::handler::RetentionGuard;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = config_from_env()?;
    let guard = RetentionGuard::new(
        aws_ports(&config).await,
        LoadedPolicy::parse(&config.policy),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| guard.handle(event))).await
}
