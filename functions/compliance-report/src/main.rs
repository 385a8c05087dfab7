// The handler futures nest deeply (ports, patience, the ledger); rustc's default depth of 128
// is not enough to lay them out.
#![recursion_limit = "256"]

use compliance_report::handler::ReportFunction;
use compliance_report::settings::Settings;
use lambda_runtime::{service_fn, LambdaEvent};
use relay_aws::{EventBus, S3PartStore, S3ReportStore, SessionConfig, Sessions};
use relay_lambda::Startup;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // A process before this one, stopped at its deadline, may have left its spool in /tmp.
    // Only a directory no living process holds is removed.
    let cleared = relay_compliance::scratch::clear_left_behind();
    let Startup {
        mut ports,
        policy,
        config,
    } = relay_lambda::start(env!("CARGO_PKG_NAME")).await?;
    let settings = relay_lambda::settings(|env| Settings::from_env(env))?;
    if cleared > 0 {
        tracing::info!(
            cleared,
            "removed scratch directories an earlier process left behind"
        );
    }
    let events = aws_sdk_eventbridge::Client::new(ports.sessions.base());
    ports.change_events = Some(EventBus::new(events, &settings.event_bus));
    if let Some(role) = settings.findings_role {
        ports.findings_sessions = Some(Sessions::new(
            ports.sessions.base().clone(),
            SessionConfig {
                home_account: config.home_account.clone(),
                executor_role_name: Some(role),
                session_name: relay_aws::session_name(env!("CARGO_PKG_NAME")),
            },
        ));
    }
    let s3 = aws_sdk_s3::Client::new(ports.sessions.base());
    let store = S3ReportStore::new(s3.clone(), &settings.bucket);
    let parts = S3PartStore::new(s3, &settings.work_bucket);
    let function = ReportFunction::new(ports, store, parts, policy, settings.concurrency);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        // Boxed: a handler future is some 20 KB, too large to move about on the stack.
        Box::pin(function.handle(event))
    }))
    .await
}
