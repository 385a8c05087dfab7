// The handler futures nest deeply (ports, patience, the ledger); rustc's default depth of 128
// is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use relay_lambda::Startup;
use restore_drill::handler::DrillFunction;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Startup { ports, policy, .. } = relay_lambda::start(env!("CARGO_PKG_NAME")).await?;
    let drill = relay_lambda::settings(|env| restore_drill::settings::from_env(env))?;
    let function = DrillFunction::new(ports, policy, drill);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        // Boxed: a handler future is some 20 KB, too large to move about on the stack.
        Box::pin(function.handle(event))
    }))
    .await
}
