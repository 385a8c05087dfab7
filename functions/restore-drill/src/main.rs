use lambda_runtime::{service_fn, LambdaEvent};
use relay_lambda::{aws_ports, config_from_env, init_tracing, LoadedPolicy};
use restore_drill::handler::DrillFunction;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = config_from_env()?;
    let drill =
        restore_drill::settings::from_env(|name| std::env::var(name).ok()).inspect_err(|e| {
            tracing::error!(error_type = "InvalidConfiguration", error = %e, "cannot start");
        })?;
    let function = DrillFunction::new(
        aws_ports(&config).await,
        LoadedPolicy::parse(&config.policy),
        drill,
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        function.handle(event)
    }))
    .await
}
