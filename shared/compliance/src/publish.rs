//! One report run: inventory, evaluate, compare with the previous verdicts, write, alert.
//! Generic over the ports so it runs on AWS, the simulator and in-memory fakes alike; the
//! compliance-report function only loads the policy, calls [`Publisher::run`] and logs.
//!
//! Order of effects, so that no failure loses an alert or leaves a half-written `latest`:
//! findings imported into Security Hub (what it did not take is a gap of the report) -> dated
//! files -> change alert and change events -> latest files (`verdicts.json`, the baseline, last).
//! A run that fails before the baseline is written is compared, next time, against the same
//! previous verdicts: its changes are alerted and put again rather than never.

use chrono::{DateTime, Utc};
use serde::Serialize;

use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, LedgerPort, PortError, RestoreEvidence, RouterPorts,
};
use relay_core::Policy;

use crate::alert::change_alert;
use crate::change_events::{self, ChangeEventsPort};
use crate::findings::import::{self as findings_import, FindingsPort};
use crate::findings::outcome::{FindingsSummary, Outcome};
use crate::findings::plan as findings_plan;
use crate::pieces::{self, PartStore, PieceError, PieceRef, RunRef, Started};
use crate::store::{self, ReportFile, ReportStore, WriteError, BASELINE_KEY};
use crate::tables::{MergedReport, SpoolError};
use crate::{changes_in, emf, render, InventoryPort, ObjectLinks, Verdicts, VERDICTS_SCHEMA};

/// Everything the report reaches: the inventory reads in every account and Region, the ledger's
/// open incidents, the alert topic, Security Hub in every account and Region, the hub's event
/// bus and the time.
pub trait ReportPorts:
    InventoryPort + BackupPort + AlertPort + FindingsPort + ChangeEventsPort + Clock + Sync
{
    type Ledger: LedgerPort + RestoreEvidence;
    fn ledger(&self) -> &Self::Ledger;
}

/// The ports the other functions use, plus the inventory reads: `AwsPorts` and the simulator.
impl<T: RouterPorts + InventoryPort + FindingsPort + ChangeEventsPort + Sync> ReportPorts for T
where
    T::Ledger: RestoreEvidence,
{
    type Ledger = T::Ledger;
    fn ledger(&self) -> &T::Ledger {
        RouterPorts::ledger(self)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot render verdicts.json: {0}")]
    Json(#[source] serde_json::Error),
    /// A rendering written in pieces failed before its last piece: nothing of it was written
    /// (the files before it in the write order were; reports/latest did not move, so the next
    /// run writes the day again). Rendering plain data does not fail in practice; reading the
    /// merge's tables back from local disk can (classified `SpillFailed`).
    #[error("cannot render {key}; nothing of it was written: {source}")]
    Render {
        key: String,
        #[source]
        source: render::RenderError,
    },
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
    #[error("cannot put the change events; reports/latest not moved, so they are put again: {0}")]
    Events(#[source] PortError),
    /// A piece of the run, or the merge, could not do its part.
    #[error(transparent)]
    Piece(#[from] Box<PieceError>),
    /// The merge's tables could not be read back from local disk.
    #[error(transparent)]
    Tables(#[from] SpoolError),
}

impl PublishError {
    pub fn error_type(&self) -> &'static str {
        match self {
            // The tables did not read back from local disk while a file was rendered.
            Self::Render {
                source: render::RenderError::Tables(_),
                ..
            } => "SpillFailed",
            Self::Json(_) | Self::Render { .. } => "RenderFailed",
            Self::ReadPrevious(_) => "PreviousReportUnreadable",
            Self::Write { .. } => "ReportWriteFailed",
            Self::Alert(_) => "AlertFailed",
            Self::Events(_) => "ChangeEventsFailed",
            Self::Piece(e) => e.error_type(),
            Self::Tables(_) => "SpillFailed",
        }
    }
}

/// Change events made and put at a time: a batch of a few MB.
pub const CHANGE_EVENTS_AT_ONCE: usize = 5_000;

/// What one run did.
#[derive(Debug)]
pub struct Published {
    /// The report: in memory, its summary, gaps and verdicts; its tables on local disk.
    pub report: MergedReport,
    /// Keys written, in order.
    pub written: Vec<String>,
    pub changes: usize,
    pub alert: Option<Alert>,
    /// The EMF lines, one log event each.
    pub metrics: Vec<String>,
    /// What Security Hub took.
    pub findings: FindingsSummary,
    /// Change events put on the hub's bus.
    pub events: usize,
}

/// A run's answer to its invoker: counts and where the report is, never the report itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishSummary {
    pub generated_at: DateTime<Utc>,
    pub resources: u64,
    pub compliant: u64,
    pub non_compliant: u64,
    pub inventory_gaps: usize,
    pub changes: usize,
    pub alerted: bool,
    pub written: Vec<String>,
    pub findings: FindingsSummary,
    pub events: usize,
}

impl Published {
    pub fn summary(&self) -> PublishSummary {
        let frame = &self.report.frame;
        let s = &frame.summary;
        PublishSummary {
            generated_at: frame.generated_at,
            resources: s.resources,
            compliant: s.compliant,
            non_compliant: s.non_compliant,
            inventory_gaps: frame.gaps.len(),
            changes: self.changes,
            alerted: self.alert.is_some(),
            written: self.written.clone(),
            findings: self.findings.clone(),
            events: self.events,
        }
    }
}

/// The previous verdicts to compare with, or why there are none to trust.
#[derive(Debug, Default)]
struct Baseline {
    verdicts: Option<Verdicts>,
    note: Option<String>,
}

impl Baseline {
    fn unreadable(why: String) -> Self {
        tracing::warn!(error_type = "PreviousReportUnreadable", error = %why, "comparing with no previous report");
        Self {
            verdicts: None,
            note: Some(format!(
                "the previous report could not be read ({why}), so every non-compliant table is listed"
            )),
        }
    }
}

/// The verdicts file, the next run's baseline: small (a few hundred bytes a table), so written
/// whole. `imported`: how the findings' import went, kept in the verdicts (each account and
/// Region's last full import, and where a cut one goes on).
fn verdicts_body(
    report: &MergedReport,
    imported: &Outcome<'_>,
    previous: Option<&Verdicts>,
) -> Result<String, PublishError> {
    let generated_at = report.frame.generated_at;
    let mut verdicts = Verdicts::new(generated_at, report.verdicts.clone());
    verdicts.findings_synced = imported.synced(generated_at);
    verdicts.findings_cursor = imported.cursors();
    verdicts.findings_to_archive = imported.pending_archives(&report.verdicts, previous);
    serde_json::to_string(&verdicts).map_err(PublishError::Json)
}

/// The report's machinery: where it reads, where it writes its parts and its report, how many
/// pieces at once when it runs them all itself.
pub struct Publisher<P, S, W> {
    ports: P,
    store: S,
    parts: W,
    concurrency: usize,
}

impl<P: ReportPorts, S: ReportStore, W: PartStore> Publisher<P, S, W> {
    pub fn new(ports: P, store: S, parts: W, concurrency: usize) -> Self {
        Self {
            ports,
            store,
            parts,
            concurrency,
        }
    }

    pub fn ports(&self) -> &P {
        &self.ports
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn parts(&self) -> &W {
        &self.parts
    }

    /// Pieces run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// A whole run in this invocation: every piece, `concurrency` at a time, then the merge and
    /// the publication. Memory is the largest piece's, as fanned out; time is all of theirs.
    pub async fn run(
        &self,
        policy: &Policy,
        policy_digest: &str,
    ) -> Result<Published, PublishError> {
        let now = self.ports.now();
        let ledger = self.ports.ledger();
        let (report, _failures) = pieces::run_all(
            &self.ports,
            ledger,
            &self.parts,
            policy,
            now,
            policy_digest,
            self.concurrency,
        )
        .await
        .map_err(Box::new)?;
        self.publish(report).await
    }

    /// The state machine's first step: the ledger read and the pieces listed.
    pub async fn start(&self, policy: &Policy) -> Result<Started, PublishError> {
        let now = self.ports.now();
        Ok(pieces::start(policy, self.ports.ledger(), &self.parts, now)
            .await
            .map_err(Box::new)?)
    }

    pub async fn inventory(&self, piece: &PieceRef) -> Result<pieces::InventoryDone, PublishError> {
        Ok(
            pieces::inventory_piece(&self.ports, &self.parts, piece, pieces::Limits::default())
                .await
                .map_err(Box::new)?,
        )
    }

    pub async fn evaluate(
        &self,
        policy: &Policy,
        piece: &PieceRef,
        policy_digest: &str,
    ) -> Result<pieces::EvaluateDone, PublishError> {
        Ok(
            pieces::evaluate_piece(&self.ports, policy, &self.parts, piece, policy_digest)
                .await
                .map_err(Box::new)?,
        )
    }

    /// The state machine's last step: the parts merged into the report, published.
    pub async fn merge(
        &self,
        policy: &Policy,
        run: &RunRef,
        policy_digest: &str,
    ) -> Result<Published, PublishError> {
        let report = pieces::merge(policy, &self.parts, run, policy_digest)
            .await
            .map_err(Box::new)?;
        self.publish(report).await
    }

    /// The report compared with the previous verdicts, its findings imported, written, alerted
    /// on, its changes put as events. Its tables are read from where the merge left them, a
    /// table at a time, once for each file and for what changed.
    pub async fn publish(&self, mut report: MergedReport) -> Result<Published, PublishError> {
        let now = report.frame.generated_at;
        let baseline = self.previous().await?;
        let previous = baseline.verdicts.as_ref();
        let sites = findings_plan::plan_in(
            &report.frame,
            (report.tables(), &report.verdicts),
            previous,
            findings_plan::Budget::default(),
        )?;
        let results = findings_import::import_all(&self.ports, &sites, self.concurrency).await;
        let imported = Outcome {
            sites: &sites,
            results: &results,
        };
        report.frame.gaps.extend(imported.gaps());
        let order = store::write_order(now);
        let (dated, latest) = order.split_at(ReportFile::ALL.len());
        let rendered = (&report, &imported, previous);
        let mut written = self.write(dated, rendered).await?;
        let changed = changes_in(previous, report.tables(), &report.verdicts)?;
        let alert = change_alert(
            &changed,
            &report.frame,
            &self.links(now),
            baseline.note.as_deref(),
        );
        if let Some(a) = &alert {
            self.ports.send(a).await.map_err(PublishError::Alert)?;
        }
        let report_key = store::dated_key(now, ReportFile::Json);
        self.put_events(&changed, previous, &report, &report_key)
            .await?;
        if let Err(e) = imported
            .tell(self.ports.ledger(), &self.ports, &self.ports)
            .await
        {
            tracing::warn!(error_type = "FindingsIncidentFailed", error = %e, "the findings' incidents are told by the next run");
        }
        written.extend(self.write(latest, rendered).await?);
        Ok(Published {
            metrics: emf::lines(&report.frame),
            changes: changed.len(),
            findings: imported.summary(),
            events: changed.len(),
            report,
            written,
            alert,
        })
    }

    /// The change events put, [`CHANGE_EVENTS_AT_ONCE`] made at a time (a day when every table
    /// changes holds a batch of events, not all). A transient failure fails the run before the
    /// baseline moves, so the next run puts them again; a lasting one (the bus, its policy, the
    /// role) is one incident and the report goes on: a person must fix it, and the report must
    /// not go stale.
    async fn put_events(
        &self,
        changed: &[crate::Change],
        previous: Option<&Verdicts>,
        report: &MergedReport,
        report_key: &str,
    ) -> Result<(), PublishError> {
        let ledger = self.ports.ledger();
        let mut refused = None;
        for batch in changed.chunks(CHANGE_EVENTS_AT_ONCE) {
            let tables = (
                report.frame.generated_at,
                report.tables(),
                &report.verdicts[..],
            );
            let events = change_events::change_events_in(batch, previous, tables, report_key)?;
            if let Err(e) = change_events::put_all(&self.ports, &events).await {
                refused = Some(e);
                break;
            }
        }
        match refused {
            None => {
                let open = ledger.open_incidents().await.unwrap_or_default();
                if open.iter().any(|i| i.id == change_events::INCIDENT_ID) {
                    if let Err(e) = ledger.close_incident(change_events::INCIDENT_ID).await {
                        tracing::warn!(error = %e, "the change events' incident is closed by the next run");
                    }
                }
                Ok(())
            }
            Some(e) if e.kind.is_transient() => Err(PublishError::Events(e)),
            Some(e) => {
                let alert = change_events::refused_alert(&e, changed.len());
                let id = change_events::INCIDENT_ID.to_string();
                relay_core::incident::raise_with(ledger, &self.ports, &self.ports, id, alert)
                    .await
                    .map_err(PublishError::Alert)?;
                Ok(())
            }
        }
    }

    /// The last verdicts written, when there are some that read as verdicts of this schema.
    async fn previous(&self) -> Result<Baseline, PublishError> {
        let text = match self.store.get_baseline().await {
            Ok(None) => return Ok(Baseline::default()),
            Ok(Some(text)) => text,
            Err(e) if e.kind.is_transient() => return Err(PublishError::ReadPrevious(e)),
            Err(e) => return Ok(Baseline::unreadable(e.to_string())),
        };
        match serde_json::from_str::<Verdicts>(&text) {
            Ok(v) if v.schema == VERDICTS_SCHEMA => Ok(Baseline {
                verdicts: Some(v),
                note: None,
            }),
            Ok(v) => Ok(Baseline::unreadable(format!(
                "{BASELINE_KEY} has schema {}",
                v.schema
            ))),
            Err(e) => Ok(Baseline::unreadable(format!(
                "{BASELINE_KEY} is not a verdicts file: {e}"
            ))),
        }
    }

    /// Each file in turn: the renderings written in pieces as they are rendered (the merge
    /// holds a table and a part, never a whole rendering), the verdicts whole.
    async fn write(
        &self,
        keys: &[(String, ReportFile)],
        (report, imported, previous): (&MergedReport, &Outcome<'_>, Option<&Verdicts>),
    ) -> Result<Vec<String>, PublishError> {
        let mut written = Vec::with_capacity(keys.len());
        for (key, file) in keys {
            let content_type = file.content_type();
            let done = match render::merged_chunks(report, *file) {
                Some(chunks) => self.store.put_chunks(key, content_type, chunks).await,
                None => {
                    let body = verdicts_body(report, imported, previous)?;
                    self.store
                        .put(key, &body, content_type)
                        .await
                        .map_err(WriteError::from)
                }
            };
            done.map_err(|e| match e {
                WriteError::Render(source) => PublishError::Render {
                    key: key.clone(),
                    source,
                },
                WriteError::Store(source) => PublishError::Write {
                    key: key.clone(),
                    source,
                },
            })?;
            written.push(key.clone());
        }
        Ok(written)
    }

    /// The day's report for people (HTML) and tools (JSON).
    fn links(&self, now: DateTime<Utc>) -> Vec<ObjectLinks> {
        [ReportFile::Html, ReportFile::Json]
            .map(|f| self.store.links(&store::dated_key(now, f)))
            .to_vec()
    }
}
