// The handler futures nest deeply (ports, patience, the ledger); rustc's default depth of 128
// is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use relay_lambda::{aws_ports, config_from_env, init_tracing, loaded_policy};
use retention_guard::handler::RetentionGuard;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    let config = config_from_env()?;
    let ports = aws_ports(&config, env!("CARGO_PKG_NAME")).await;
    let policy = loaded_policy(&config, &ports);
    let guard = RetentionGuard::new(ports, policy);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| guard.handle(event))).await
}
