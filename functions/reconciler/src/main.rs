use lambda_runtime::{service_fn, LambdaEvent};
use reconciler::handler::Reconciler;
use relay_lambda::{aws_ports, config_from_env, init_tracing, LoadedPolicy};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = config_from_env()?;
    let reconciler = Reconciler::new(
        aws_ports(&config).await,
        LoadedPolicy::parse(&config.policy),
        config.reconcile(),
    );
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        reconciler.handle(event)
    }))
    .await
}
