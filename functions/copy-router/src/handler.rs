//! The handler: parse, call the core, map errors. Generic over the ports so the same code runs on
//! AWS and on the simulator.

use lambda_runtime::{Diagnostic, LambdaEvent};
use relay_core::policy::{Policy, PolicyErrors};
use relay_core::ports::RouterPorts;
use relay_core::router::{self, RouterConfig, RouterError};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The policy failed validation at start-up: nothing is done until it is fixed.
    #[error("event {event_id}: no action taken, the policy is invalid: {errors}")]
    InvalidPolicy {
        event_id: String,
        errors: PolicyErrors,
    },
    #[error(transparent)]
    Router(#[from] RouterError),
}

impl From<HandlerError> for Diagnostic {
    fn from(e: HandlerError) -> Self {
        let error_type = match &e {
            HandlerError::InvalidPolicy { .. } => "InvalidPolicy",
            HandlerError::Router(r) => r.error_type(),
        };
        Diagnostic {
            error_type: error_type.to_string(),
            error_message: e.to_string(),
        }
    }
}

pub struct CopyRouter<P> {
    ports: P,
    /// Validated once per cold start; an invalid policy is kept as its errors.
    policy: Result<Policy, PolicyErrors>,
    config: RouterConfig,
}

impl<P: RouterPorts> CopyRouter<P> {
    pub fn new(ports: P, policy: Result<Policy, PolicyErrors>, config: RouterConfig) -> Self {
        if let Err(errors) = &policy {
            tracing::error!(error_type = "InvalidPolicy", errors = %errors, "invalid policy: every event will fail until it is fixed");
        }
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
        let event_id = payload
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("(no id)")
            .to_string();
        let detail_type = payload
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let policy = match &self.policy {
            Ok(p) => p,
            Err(errors) => {
                let e = HandlerError::InvalidPolicy {
                    event_id,
                    errors: errors.clone(),
                };
                tracing::error!(error_type = "InvalidPolicy", error = %e, "event not processed");
                return Err(e);
            }
        };
        match router::handle_event(&self.ports, policy, &payload, &self.config).await {
            Ok(outcome) => {
                tracing::info!(
                    event_id = %event_id,
                    detail_type = %detail_type,
                    started = outcome.started.len(),
                    duplicates_suppressed = outcome.already_claimed.len(),
                    failures_recorded = outcome.failures_recorded,
                    retries_started = outcome.retries_started,
                    alerts_sent = outcome.alerts_sent,
                    ignored = outcome.ignored.as_deref().unwrap_or(""),
                    "event handled"
                );
                Ok(serde_json::to_value(&outcome).unwrap_or(Value::Null))
            }
            Err(e) => {
                // The error carries the event id; the on-failure destination keeps the event itself.
                tracing::error!(event_id = %event_id, detail_type = %detail_type, error_type = e.error_type(), error = %e, "event failed");
                Err(e.into())
            }
        }
    }
}
