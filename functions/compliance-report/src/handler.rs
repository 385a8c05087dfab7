//! The handler: the policy in force, then what the payload asks. The hub's state machine sends
//! the steps of a run in pieces (`{"phase": "start"}`, `inventory` and `evaluate` per piece,
//! `merge`); any other payload (a schedule's event, an on-demand `{}`) is a whole run in this
//! invocation. The work is `relay_compliance::publish`; here only parsing, logs and errors.

use lambda_runtime::LambdaEvent;
use relay_compliance::pieces::{EvaluateDone, InventoryDone, PartStore, PieceRef, RunRef, Started};
use relay_compliance::publish::{PublishSummary, Published, Publisher, ReportPorts};
use relay_compliance::ReportStore;
use relay_core::policy::Policy;
use relay_lambda::{event_id, failed, HandlerError, LoadedPolicy};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use relay_compliance::policy_digest;

/// One step of a run in pieces, as the state machine sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    Start {},
    Inventory { piece: PieceRef },
    Evaluate { piece: PieceRef },
    Merge { run: RunRef },
}

impl Step {
    /// `None` for a payload with no `phase`: a whole run.
    pub fn of(payload: &Value) -> Result<Option<Self>, serde_json::Error> {
        if payload.get("phase").is_none() {
            return Ok(None);
        }
        serde_json::from_value(payload.clone()).map(Some)
    }
}

/// The answer to the invoker: counts and keys, never the report itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    Published(PublishSummary),
    Started(StartAnswer),
    Inventoried(InventoryDone),
    Evaluated(EvaluateDone),
}

/// A started run, and how many of its pieces the state machine's maps run at once
/// (`MaxConcurrencyPath`): this function's `INVENTORY_CONCURRENCY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StartAnswer {
    #[serde(flatten)]
    pub started: Started,
    pub concurrency: usize,
}

pub struct ReportFunction<P, S, W> {
    publisher: Publisher<P, S, W>,
    policy: LoadedPolicy,
}

impl<P: ReportPorts, S: ReportStore, W: PartStore> ReportFunction<P, S, W> {
    pub fn new(ports: P, store: S, parts: W, policy: LoadedPolicy, concurrency: usize) -> Self {
        Self {
            publisher: Publisher::new(ports, store, parts, concurrency),
            policy,
        }
    }

    pub fn ports(&self) -> &P {
        self.publisher.ports()
    }

    pub fn store(&self) -> &S {
        self.publisher.store()
    }

    pub fn parts(&self) -> &W {
        self.publisher.parts()
    }

    #[tracing::instrument(name = "report", skip_all, fields(event_id = %event_id(&event.payload)))]
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Answer, HandlerError> {
        let step =
            Step::of(&event.payload).map_err(|e| failed(HandlerError::Payload(e.to_string())))?;
        let ports = self.ports();
        let policy = self
            .policy
            .get_with(ports.ledger(), ports, ports, &event_id(&event.payload))
            .await
            .map_err(failed)?;
        let (policy, digest) = (&policy.policy, policy.digest.as_str());
        let p = &self.publisher;
        let answer = match step {
            None => Answer::Published(published(p.run(policy, digest).await.map_err(failed)?)),
            Some(Step::Start {}) => {
                let started = p.start(policy).await.map_err(failed)?;
                tracing::info!(run = %started.run.run, pieces = started.pieces, "report run started");
                Answer::Started(StartAnswer {
                    started,
                    concurrency: p.concurrency(),
                })
            }
            Some(Step::Inventory { piece }) => {
                let done = p.inventory(&piece).await.map_err(failed)?;
                tracing::info!(account = %piece.account, region = %piece.region, tables = done.tables, points = done.points, gaps = done.gaps, "report piece inventoried");
                Answer::Inventoried(done)
            }
            Some(Step::Evaluate { piece }) => {
                let done = p.evaluate(policy, &piece, digest).await.map_err(failed)?;
                tracing::info!(account = %piece.account, region = %piece.region, tables = done.tables, non_compliant = done.non_compliant, "report piece evaluated");
                Answer::Evaluated(done)
            }
            Some(Step::Merge { run }) => {
                let merged = p.merge(policy, &run, digest).await.map_err(failed)?;
                Answer::Published(published(merged))
            }
        };
        Ok(answer)
    }

    /// A whole run in this invocation (what a payload with no `phase` asks).
    pub async fn run(&self, policy: &Policy, digest: &str) -> Result<Published, HandlerError> {
        self.publisher.run(policy, digest).await.map_err(failed)
    }
}

/// A published report's EMF lines and log line; its summary.
fn published(published: Published) -> PublishSummary {
    // EMF: each line is one log event, which CloudWatch Logs turns into metrics.
    for line in &published.metrics {
        println!("{line}");
    }
    tracing::info!(
        resources = published.report.frame.summary.resources,
        non_compliant = published.report.frame.summary.non_compliant,
        inventory_gaps = published.report.frame.gaps.len(),
        changes = published.changes,
        alerted = published.alert.is_some(),
        "compliance report written"
    );
    published.summary()
}

#[cfg(test)]
mod tests;
