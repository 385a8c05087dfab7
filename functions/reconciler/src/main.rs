// The handler futures nest deeply (ports, patience, the ledger); rustc's default depth of 128
// is not enough to lay them out.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, LambdaEvent};
use reconciler::handler::Reconciler;
use relay_lambda::Startup;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let Startup {
        config,
        ports,
        policy,
    } = relay_lambda::start(env!("CARGO_PKG_NAME")).await?;
    let fan_out = config.pieces_queue_url.is_some();
    let reconciler = Reconciler::new(ports, policy, config.reconcile()).fanned_out(fan_out);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        // Boxed: a handler future is some 20 KB, too large to move about on the stack.
        Box::pin(reconciler.handle(event))
    }))
    .await
}
