//! The handler. A scheduled invocation either walks the whole policy in one bounded run (a
//! single-account deployment) or, with a pieces queue, coordinates: the outbox, the watch over
//! every piece, and one SQS message per account and Region. Each SQS message is then a piece's
//! invocation: a bounded run from its own cursor; cut by its deadline, it sends itself again;
//! failed, it is reported in the batch response (retried alone, then the dead-letter queue).

use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;
use relay_chain::reconcile::{self, Piece, ReconcileConfig, ReconcileReport, RunBudget};
use relay_core::policy::keeper::InForce;
use relay_core::ports::{ErrorKind, PieceQueue, PortError, RouterPorts};
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
use serde_json::Value;

/// Time kept back from the deadline to save the cursor and return.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(20);

pub struct Reconciler<P> {
    ports: P,
    policy: LoadedPolicy,
    config: ReconcileConfig,
    /// Scheduled runs coordinate pieces (the hub's pieces queue is configured).
    fan_out: bool,
}

impl<P: RouterPorts + PieceQueue> Reconciler<P> {
    pub fn new(ports: P, policy: LoadedPolicy, config: ReconcileConfig) -> Self {
        Self {
            ports,
            policy,
            config,
            fan_out: false,
        }
    }

    /// Scheduled runs send pieces to the queue instead of walking everything themselves.
    pub fn fanned_out(mut self, fan_out: bool) -> Self {
        self.fan_out = fan_out;
        self
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    #[tracing::instrument(name = "run", skip_all, fields(event_id = %event_id(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
        let (payload, context) = event.into_parts();
        let left = context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let budget = RunBudget::until(self.ports.instant() + left.saturating_sub(DEADLINE_MARGIN));
        let policy = self.policy_or_drain(&event_id(&payload)).await?;
        if is_sqs(&payload) {
            let event: SqsEvent = serde_json::from_value(payload).map_err(|e| {
                let why = format!("not an SQS batch: {e}");
                failed(HandlerError::Reconcile(PortError::new(
                    ErrorKind::Permanent,
                    "SqsEvent",
                    None,
                    why,
                )))
            })?;
            let answer = self
                .pieces(&policy, event, budget, &context.request_id)
                .await;
            return Ok(serde_json::to_value(answer).unwrap_or_default());
        }
        if self.fan_out {
            let coordination = reconcile::coordinate(&self.ports, &policy.policy, &self.config)
                .await
                .map_err(|e| failed(HandlerError::Reconcile(e)))?;
            let messages: Vec<String> = coordination
                .pieces
                .iter()
                .filter_map(|p| serde_json::to_string(p).ok())
                .collect();
            self.ports
                .send_pieces(&messages)
                .await
                .map_err(|e| failed(HandlerError::Reconcile(e)))?;
            tracing::info!(
                pieces = messages.len(),
                behind = coordination.pieces_behind,
                alerts_sent = coordination.alerts_sent,
                "reconciler pieces sent"
            );
            return Ok(serde_json::to_value(coordination).unwrap_or_default());
        }
        let report = self.run(&policy.policy, budget).await?;
        Ok(serde_json::to_value(report).unwrap_or_default())
    }

    /// The policy in force; without one, alerts already opened (the refused policy's own among
    /// them) still go out: the outbox needs no policy.
    async fn policy_or_drain(
        &self,
        event_id: &str,
    ) -> Result<std::sync::Arc<InForce>, HandlerError> {
        match self.policy.get(&self.ports, event_id).await {
            Ok(p) => Ok(p),
            Err(e) => {
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
                Err(failed(e))
            }
        }
    }

    /// Each message a piece; the ones that failed are retried alone (partial batch response).
    async fn pieces(
        &self,
        policy: &InForce,
        event: SqsEvent,
        budget: RunBudget,
        request_id: &str,
    ) -> SqsBatchResponse {
        let mut answer = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let body = record.body.unwrap_or_default();
            // The piece's lease holder: this invocation (a message id where there is no
            // request id, as in a local invoke).
            let holder = if request_id.is_empty() {
                &id
            } else {
                request_id
            };
            let run = match serde_json::from_str::<Piece>(&body) {
                Ok(piece) => self.piece(policy, &piece, &body, budget, holder).await,
                // Never readable: to the dead-letter queue after its receives, and its alarm.
                Err(e) => Err(format!("unreadable piece: {e}")),
            };
            if let Err(e) = run {
                tracing::warn!(message_id = %id, error = %e, "piece failed; retried alone");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                answer.batch_item_failures.push(failure);
            }
        }
        answer
    }

    async fn piece(
        &self,
        policy: &InForce,
        piece: &Piece,
        body: &str,
        budget: RunBudget,
        holder: &str,
    ) -> Result<(), String> {
        let config = &self.config;
        let report =
            reconcile::run_piece(&self.ports, &policy.policy, piece, config, budget, holder)
                .await
                .map_err(|e| e.to_string())?;
        log(&report);
        if report.leased_elsewhere {
            // Another invocation walks it now and sends its own continuation.
            return Ok(());
        }
        if !report.pass_complete {
            // Cut by its deadline: the next invocation resumes from the saved cursor.
            self.ports
                .send_pieces(&[body.to_string()])
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    pub async fn run(
        &self,
        policy: &relay_core::policy::Policy,
        budget: RunBudget,
    ) -> Result<ReconcileReport, HandlerError> {
        let report = reconcile::run(&self.ports, policy, &self.config, budget)
            .await
            .map_err(|e| failed(HandlerError::Reconcile(e)))?;
        log(&report);
        Ok(report)
    }
}

fn is_sqs(payload: &Value) -> bool {
    payload["Records"]
        .as_array()
        .and_then(|r| r.first())
        .is_some_and(|r| r["eventSource"] == "aws:sqs")
}

fn log(report: &ReconcileReport) {
    tracing::info!(
        piece = %report.piece,
        pass_complete = report.pass_complete,
        leased_elsewhere = report.leased_elsewhere,
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
}
