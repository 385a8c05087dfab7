//! The handler: the policy in force, one [`Publisher::run`] (inventory, evaluate, compare,
//! write, alert: `relay_compliance::publish`), then the EMF lines and a log line. Generic over
//! the ports so it runs on AWS and on in-memory fakes alike.

use lambda_runtime::LambdaEvent;
use relay_compliance::publish::{PublishSummary, Published, Publisher, ReportPorts};
use relay_compliance::ReportStore;
use relay_core::policy::Policy;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
use serde_json::Value;

pub use relay_compliance::policy_digest;

pub struct ReportFunction<P, S> {
    publisher: Publisher<P, S>,
    policy: LoadedPolicy,
}

impl<P: ReportPorts, S: ReportStore> ReportFunction<P, S> {
    pub fn new(ports: P, store: S, policy: LoadedPolicy, concurrency: usize) -> Self {
        Self {
            publisher: Publisher::new(ports, store, concurrency),
            policy,
        }
    }

    pub fn ports(&self) -> &P {
        self.publisher.ports()
    }

    pub fn store(&self) -> &S {
        self.publisher.store()
    }

    /// A scheduled event or an on-demand invoke: the payload is not read beyond its id. The
    /// answer is counts and where the report is, never the report itself.
    #[tracing::instrument(name = "report", skip_all, fields(event_id = %event_id(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<PublishSummary, HandlerError> {
        let ports = self.ports();
        let policy = self
            .policy
            .get_with(ports.ledger(), ports, ports, &event_id(&event.payload))
            .await
            .map_err(failed)?;
        let published = self.run(&policy.policy, &policy.digest).await?;
        // EMF: each line is one log event, which CloudWatch Logs turns into metrics.
        for line in &published.metrics {
            println!("{line}");
        }
        tracing::info!(
            resources = published.report.summary.resources,
            non_compliant = published.report.summary.non_compliant,
            inventory_gaps = published.report.gaps.len(),
            changes = published.changes,
            alerted = published.alert.is_some(),
            "compliance report written"
        );
        Ok(published.summary())
    }

    pub async fn run(&self, policy: &Policy, digest: &str) -> Result<Published, HandlerError> {
        self.publisher.run(policy, digest).await.map_err(failed)
    }
}

#[cfg(test)]
mod tests;
