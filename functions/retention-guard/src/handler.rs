//! The handler: parse, call the core's retention guard, map errors.

use lambda_runtime::LambdaEvent;
use relay_chain::retention_guard::{self, GuardOutcome};
use relay_core::ports::RouterPorts;
use relay_lambda::{detail_type, event_id, failed, HandlerError, LoadedPolicy};
use serde_json::Value;

pub struct RetentionGuard<P> {
    ports: P,
    policy: LoadedPolicy,
}

impl<P: RouterPorts> RetentionGuard<P> {
    pub fn new(ports: P, policy: LoadedPolicy) -> Self {
        Self { ports, policy }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    #[tracing::instrument(name = "event", skip_all,
        fields(event_id = %event_id(&event.payload), detail_type = %detail_type(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<GuardOutcome, HandlerError> {
        let payload = event.payload;
        let policy = self
            .policy
            .get(&self.ports, &event_id(&payload))
            .await
            .map_err(failed)?;
        retention_guard::handle_event(&self.ports, &policy.policy, &payload)
            .await
            .map_err(failed)
    }
}
