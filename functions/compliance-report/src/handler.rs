//! The handler: inventory, evaluate, compare with the previous report, write, alert, emit
//! metrics. Generic over the ports so it runs on AWS and on in-memory fakes alike.
//!
//! Order of effects, so that no failure loses an alert or leaves a half-written `latest`:
//! dated files -> change alert -> latest files (`report.json` last) -> EMF lines. A run that
//! fails before `latest/report.json` is written is compared, next time, against the same
//! previous report: its changes are alerted again rather than never.

use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use relay_compliance::alert::change_alert;
use relay_compliance::inventory::take_inventory;
use relay_compliance::store::{self, ReportFile, ReportStore, BASELINE_KEY};
use relay_compliance::{
    changes, emf, evaluate, render, InventoryPort, Report, Verdicts, VERDICTS_SCHEMA,
};
use relay_core::policy::Policy;
use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, LedgerPort, PortError, RestoreEvidence, RouterPorts,
};
use relay_lambda::{event_id, HandlerError, LoadedPolicy};
use serde_json::{json, Value};

/// Everything the report reaches: the inventory reads in every account and Region, the ledger's
/// open incidents, the alert topic and the time.
pub trait ReportPorts: InventoryPort + BackupPort + AlertPort + Clock + Sync {
    type Ledger: LedgerPort + RestoreEvidence;
    fn ledger(&self) -> &Self::Ledger;
}

/// The ports the other functions use, plus the inventory reads: `AwsPorts` and the simulator.
impl<T: RouterPorts + InventoryPort + Sync> ReportPorts for T
where
    T::Ledger: RestoreEvidence,
{
    type Ledger = T::Ledger;
    fn ledger(&self) -> &T::Ledger {
        RouterPorts::ledger(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The policy failed validation at start-up (boxed: it carries every error found).
    #[error(transparent)]
    Policy(Box<HandlerError>),
    #[error("cannot render report.json: {0}")]
    Json(#[source] serde_json::Error),
    #[error("cannot render report.csv: {0}")]
    Csv(#[source] csv::Error),
    /// A transient failure: nothing was written, the retry starts over.
    #[error("cannot read the previous report; nothing written: {0}")]
    ReadPrevious(#[source] PortError),
    #[error("cannot write {key}; reports/latest still holds the previous report: {source}")]
    Write {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("cannot send the change alert; reports/latest not moved, so it is sent again: {0}")]
    Alert(#[source] PortError),
}

impl From<HandlerError> for ReportError {
    fn from(e: HandlerError) -> Self {
        Self::Policy(Box::new(e))
    }
}

impl ReportError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Policy(_) => "InvalidPolicy",
            Self::Json(_) | Self::Csv(_) => "RenderFailed",
            Self::ReadPrevious(_) => "PreviousReportUnreadable",
            Self::Write { .. } => "ReportWriteFailed",
            Self::Alert(_) => "AlertFailed",
        }
    }
}

impl From<ReportError> for Diagnostic {
    fn from(e: ReportError) -> Self {
        match e {
            ReportError::Policy(h) => Diagnostic::from(*h),
            e => Diagnostic {
                error_type: e.error_type().to_string(),
                error_message: e.to_string(),
            },
        }
    }
}

pub use relay_compliance::policy_digest;

/// What one run did.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    /// Keys written, in order.
    pub written: Vec<String>,
    pub changes: usize,
    pub alert: Option<Alert>,
    /// The EMF lines, one log event each.
    pub metrics: Vec<String>,
}

impl Outcome {
    /// The invocation's answer: counts and where the report is, never the report itself.
    pub fn summary(&self) -> Value {
        let s = &self.report.summary;
        json!({
            "generated_at": self.report.generated_at,
            "resources": s.resources,
            "compliant": s.compliant,
            "non_compliant": s.non_compliant,
            "inventory_gaps": self.report.gaps.len(),
            "changes": self.changes,
            "alerted": self.alert.is_some(),
            "written": self.written,
        })
    }
}

/// The previous report to compare with, or why there is none to trust.
#[derive(Debug, Default)]
struct Baseline {
    report: Option<Verdicts>,
    note: Option<String>,
}

impl Baseline {
    fn unreadable(why: String) -> Self {
        tracing::warn!(error_type = "PreviousReportUnreadable", error = %why, "comparing with no previous report");
        Self {
            report: None,
            note: Some(format!(
                "the previous report could not be read ({why}), so every non-compliant table is listed"
            )),
        }
    }
}

/// The three renderings of one report.
struct Bodies {
    json: String,
    csv: String,
    html: String,
    verdicts: String,
}

impl Bodies {
    fn render(report: &Report) -> Result<Self, ReportError> {
        Ok(Self {
            json: render::json(report).map_err(ReportError::Json)?,
            csv: render::csv(report).map_err(ReportError::Csv)?,
            html: render::html(report),
            verdicts: serde_json::to_string(&Verdicts::of(report)).map_err(ReportError::Json)?,
        })
    }

    fn get(&self, file: ReportFile) -> &str {
        match file {
            ReportFile::Json => &self.json,
            ReportFile::Csv => &self.csv,
            ReportFile::Html => &self.html,
            ReportFile::Verdicts => &self.verdicts,
        }
    }
}

pub struct ReportFunction<P, S> {
    ports: P,
    store: S,
    policy: LoadedPolicy,
    concurrency: usize,
}

impl<P: ReportPorts, S: ReportStore> ReportFunction<P, S> {
    pub fn new(ports: P, store: S, policy: LoadedPolicy, concurrency: usize) -> Self {
        Self {
            ports,
            store,
            policy,
            concurrency,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// A scheduled event or an on-demand invoke: the payload is not read beyond its id.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<Value, ReportError> {
        let id = event_id(&event.payload);
        let policy = self
            .policy
            .get_with(self.ports.ledger(), &self.ports, &self.ports, &id)
            .await?;
        let outcome = self.run(&policy.policy, &policy.digest).await.inspect_err(|e| {
            tracing::error!(event_id = %id, error_type = e.error_type(), error = %e, "compliance report failed");
        })?;
        // EMF: each line is one log event, which CloudWatch Logs turns into metrics.
        for line in &outcome.metrics {
            println!("{line}");
        }
        let summary = outcome.summary();
        tracing::info!(
            event_id = %id,
            resources = outcome.report.summary.resources,
            non_compliant = outcome.report.summary.non_compliant,
            inventory_gaps = outcome.report.gaps.len(),
            changes = outcome.changes,
            alerted = outcome.alert.is_some(),
            "compliance report written"
        );
        Ok(summary)
    }

    pub async fn run(&self, policy: &Policy, policy_digest: &str) -> Result<Outcome, ReportError> {
        let now = self.ports.now();
        let ledger = self.ports.ledger();
        let inventory = take_inventory(&self.ports, ledger, policy, self.concurrency, now).await;
        let report = evaluate(policy, &inventory, now, policy_digest);
        let baseline = self.previous().await?;
        let bodies = Bodies::render(&report)?;
        let order = store::write_order(now);
        let (dated, latest) = order.split_at(ReportFile::ALL.len());
        let mut written = self.write(dated, &bodies).await?;
        let changed = changes(baseline.report.as_ref(), &report);
        let alert = change_alert(
            &changed,
            &report,
            &self.links(now),
            baseline.note.as_deref(),
        );
        if let Some(a) = &alert {
            self.ports.send(a).await.map_err(ReportError::Alert)?;
        }
        written.extend(self.write(latest, &bodies).await?);
        Ok(Outcome {
            metrics: emf::lines(&report),
            changes: changed.len(),
            report,
            written,
            alert,
        })
    }

    /// The last verdicts written, when there are some that read as verdicts of this schema.
    async fn previous(&self) -> Result<Baseline, ReportError> {
        let text = match self.store.get_baseline().await {
            Ok(None) => return Ok(Baseline::default()),
            Ok(Some(text)) => text,
            Err(e) if e.kind.is_transient() => return Err(ReportError::ReadPrevious(e)),
            Err(e) => return Ok(Baseline::unreadable(e.to_string())),
        };
        match serde_json::from_str::<Verdicts>(&text) {
            Ok(r) if r.schema == VERDICTS_SCHEMA => Ok(Baseline {
                report: Some(r),
                note: None,
            }),
            Ok(r) => Ok(Baseline::unreadable(format!(
                "{BASELINE_KEY} has schema {}",
                r.schema
            ))),
            Err(e) => Ok(Baseline::unreadable(format!(
                "{BASELINE_KEY} is not a verdicts file: {e}"
            ))),
        }
    }

    async fn write(
        &self,
        keys: &[(String, ReportFile)],
        bodies: &Bodies,
    ) -> Result<Vec<String>, ReportError> {
        let mut written = Vec::with_capacity(keys.len());
        for (key, file) in keys {
            self.store
                .put(key, bodies.get(*file), file.content_type())
                .await
                .map_err(|source| ReportError::Write {
                    key: key.clone(),
                    source,
                })?;
            written.push(key.clone());
        }
        Ok(written)
    }

    /// The day's report for people (HTML) and tools (JSON).
    fn links(&self, now: DateTime<Utc>) -> Vec<relay_compliance::ObjectLinks> {
        [ReportFile::Html, ReportFile::Json]
            .map(|f| self.store.links(&store::dated_key(now, f)))
            .to_vec()
    }
}

#[cfg(test)]
mod tests;
