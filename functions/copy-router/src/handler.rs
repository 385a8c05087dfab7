//! The handler: parse, call the core, map errors. Generic over the ports so the same code runs on
//! AWS and on the simulator.

use lambda_runtime::LambdaEvent;
use relay_chain::router::{self, RouterConfig};
use relay_core::ports::RouterPorts;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
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

    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let payload = event.payload;
        let id = event_id(&payload);
        let detail_type = payload
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let policy = self.policy.get(&self.ports, &id).await?;
        let outcome = router::handle_event(&self.ports, &policy.policy, &payload, &self.config)
            .await
            .map_err(|e| failed(&id, &detail_type, e))?;
        tracing::info!(
            event_id = %id,
            detail_type = %detail_type,
            started = outcome.started.len(),
            duplicates_suppressed = outcome.already_claimed.len(),
            failures_recorded = outcome.failures_recorded,
            alerts_sent = outcome.alerts_sent,
            ignored = outcome.ignored.as_deref().unwrap_or(""),
            "event handled"
        );
        Ok(serde_json::to_value(&outcome).unwrap_or(Value::Null))
    }
}
