//! The handler: parse, call the core, map errors. Generic over the ports so the same code runs on
//! AWS and on the simulator.

use lambda_runtime::LambdaEvent;
use relay_chain::router::{self, RouteOutcome, RouterConfig};
use relay_core::ports::RouterPorts;
use relay_lambda::{detail_type, event_id, failed, HandlerError, LoadedPolicy};
use serde_json::Value;

pub struct CopyRouter<P> {
    ports: P,
    policy: LoadedPolicy,
    config: RouterConfig,
}

impl<P: RouterPorts> CopyRouter<P> {
    pub fn new(ports: P, policy: LoadedPolicy, config: RouterConfig) -> Self {
        Self {
            ports,
            policy,
            config,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    #[tracing::instrument(name = "event", skip_all,
        fields(event_id = %event_id(&event.payload), detail_type = %detail_type(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<RouteOutcome, HandlerError> {
        let payload = event.payload;
        let policy = self
            .policy
            .get(&self.ports, &event_id(&payload))
            .await
            .map_err(failed)?;
        let outcome = router::handle_event(&self.ports, &policy.policy, &payload, &self.config)
            .await
            .map_err(failed)?;
        tracing::info!(
            started = outcome.started.len(),
            duplicates_suppressed = outcome.already_claimed.len(),
            failures_recorded = outcome.failures_recorded,
            alerts_sent = outcome.alerts_sent,
            ignored = outcome.ignored.as_deref().unwrap_or(""),
            "event handled"
        );
        Ok(outcome)
    }
}
