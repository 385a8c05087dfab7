//! The handler: a scheduled start or look, in; the drills started, waiting and finished, out
//! (`relay_restore::drill::scheduled` does the work).

use lambda_runtime::LambdaEvent;
use relay_core::ports::RestoreEvidence;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
use relay_restore::drill::{self, DrillConfig, DrillPorts, DrillStore, TickReport};
use serde_json::Value;

pub struct DrillFunction<P> {
    ports: P,
    policy: LoadedPolicy,
    config: DrillConfig,
}

impl<P> DrillFunction<P>
where
    P: DrillPorts,
    P::Ledger: RestoreEvidence + DrillStore,
{
    pub fn new(ports: P, policy: LoadedPolicy, config: DrillConfig) -> Self {
        Self {
            ports,
            policy,
            config,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    /// `{"start": true}` begins a run; anything else only looks at the drills under way.
    #[tracing::instrument(name = "drill", skip_all, fields(event_id = %event_id(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<TickReport, HandlerError> {
        let payload = event.payload;
        let in_force = self
            .policy
            .get(&self.ports, &event_id(&payload))
            .await
            .map_err(failed)?;
        let start = payload.get("start").and_then(Value::as_bool) == Some(true);
        let report = drill::scheduled(&self.ports, &in_force.policy, &self.config, start)
            .await
            .map_err(failed)?;
        let passed = report.finished.iter().filter(|t| t.passed).count();
        tracing::info!(
            started = report.started.len(),
            waiting = report.waiting.len(),
            finished = report.finished.len(),
            passed,
            "restore drills looked at"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
