//! The handler: one bounded reconciler pass per scheduled invocation, stopping before the Lambda
//! deadline with its cursor saved.

use std::time::{Duration, SystemTime};

use lambda_runtime::LambdaEvent;
use relay_chain::reconcile::{self, ReconcileConfig, ReconcileReport, RunBudget};
use relay_core::ports::RouterPorts;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
use serde_json::Value;

/// Time kept back from the deadline to save the cursor and return.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

pub struct Reconciler<P> {
    ports: P,
    policy: LoadedPolicy,
    config: ReconcileConfig,
}

impl<P: RouterPorts> Reconciler<P> {
    pub fn new(ports: P, policy: LoadedPolicy, config: ReconcileConfig) -> Self {
        Self {
            ports,
            policy,
            config,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    #[tracing::instrument(name = "run", skip_all, fields(event_id = %event_id(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<ReconcileReport, HandlerError> {
        let (payload, context) = event.into_parts();
        let policy = match self.policy.get(&self.ports, &event_id(&payload)).await {
            Ok(p) => p,
            Err(e) => {
                // No policy to reconcile with, but alerts already opened (the refused policy's
                // own among them) must still go out: the outbox needs no policy.
                match relay_chain::incident::drain(&self.ports).await {
                    Ok((sent, _, failed)) => {
                        tracing::info!(
                            sent,
                            failed = failed.len(),
                            "outbox drained without a policy"
                        )
                    }
                    Err(d) => tracing::warn!(error = %d, "outbox not drained"),
                }
                return Err(failed(e));
            }
        };
        let left = context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let budget = RunBudget::until(self.ports.instant() + left.saturating_sub(DEADLINE_MARGIN));
        self.run(&policy.policy, budget).await
    }

    pub async fn run(
        &self,
        policy: &relay_core::policy::Policy,
        budget: RunBudget,
    ) -> Result<ReconcileReport, HandlerError> {
        let report = reconcile::run(&self.ports, policy, &self.config, budget)
            .await
            .map_err(|e| failed(HandlerError::Reconcile(e)))?;
        tracing::info!(
            pass_complete = report.pass_complete,
            resumed = report.resumed,
            pages = report.pages,
            copies_missing = report.copies_missing,
            redriven = report.redriven,
            retries = report.retries,
            escalated = report.escalated,
            lifecycles_repaired = report.lifecycles_repaired,
            retention_violations = report.retention_violations,
            errors = report.errors.len(),
            "reconciler run"
        );
        Ok(report)
    }
}
