//! The handler: parse, call the core's retention guard, map errors.

use lambda_runtime::LambdaEvent;
use relay_chain::retention_guard;
use relay_core::ports::RouterPorts;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
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

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let payload = event.payload;
        let id = event_id(&payload);
        let detail_type = payload
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let policy = self.policy.get(&self.ports, &id).await?;
        let outcome = retention_guard::handle_event(&self.ports, &policy.policy, &payload)
            .await
            .map_err(|e| failed(&id, &detail_type, e))?;
        Ok(serde_json::to_value(&outcome).unwrap_or(Value::Null))
    }
}
