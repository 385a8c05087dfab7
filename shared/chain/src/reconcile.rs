//! The reconciler: on a schedule, walks every route and finds recovery points whose copy is missing
//! (lost events, failed copies, crashed invocations), re-drives them through the same planning and
//! ledger (exactly-once still holds), retries retryable failures with exponential backoff, gives up
//! after `max_attempts` with one alert, and re-checks every never_expire vault with the guard.
//!
//! Work is bounded: pages of up to 1000, a page budget or deadline per run, and a cursor saved after
//! every page so the next run resumes where this one stopped.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::existing::Listing;
use crate::incident;
use crate::patience::{Patience, Patient};
use crate::retention_guard::{self, is_never_expire, GuardOutcome};
use crate::router::{self, RouteOutcome, RouterConfig};

mod closing;
mod hop;
mod never_expire;
mod pieces;
mod route;
mod tags;

pub use pieces::{
    coordinate, pieces, run_piece, Coordination, Piece, Slice, MAX_SLICES, SOURCES_PER_SLICE,
};

use closing::close_resolved;
use never_expire::guard_phase;
use relay_core::arn::{RecoveryPointArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::ledger::{
    retry_backoff, HopKey, HopRecord, HopState, Original, VAULT_MISSING_CAUSE,
};
use relay_core::plan::{self, classify_copy_failure, FailureClass, Observed, Tags};
use relay_core::policy::{Policy, Route, Vault};
use relay_core::ports::{
    Alert, ErrorKind, HopFailure, Incident, LedgerPort, ListQuery, PortError, RouterPorts,
};
use relay_core::retention::VaultLock;
use route::{route_phase, RouteCtx};

#[derive(Debug, Clone)]
pub struct ReconcileConfig {
    /// Source recovery points older than this are not re-driven.
    pub lookback: Duration,
    /// A point that landed less than this ago may still have its event on the way: left alone.
    pub settle: Duration,
    pub page_size: u32,
    /// Attempts per hop, the first included.
    pub max_attempts: u32,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A STARTED hop older than this has its copy job looked up (its events may be lost).
    pub started_check_after: Duration,
    /// A copy job still not finished this long after it started is stuck: alerted once, still watched.
    pub stuck_after: Duration,
    /// A point this close to leaving the look-back window without its copy is alerted once.
    pub final_notice: Duration,
    pub router: RouterConfig,
    /// Tries per call within a run (the run's deadline bounds them too).
    pub patience: Patience,
    /// The UTC hour whose runs re-check every point of the never_expire vaults; the other runs
    /// check those created within the look-back (events cover the rest), so a run's cost does
    /// not grow with the vault's whole history.
    pub full_guard_hour: u32,
    /// No clean pass for longer than this is one alert (every chain may be incomplete).
    pub behind_after: Duration,
    /// Copies of source points completed this recently are checked for their tags (a lost
    /// event or a failed TagResource left them bare); older ones were checked while recent.
    pub tag_check_within: Duration,
    /// An account and Region whose routes' sources gather the copies of more member vaults than
    /// this is walked in slices at once (see [`pieces`]).
    pub sources_per_slice: usize,
}

impl Default for ReconcileConfig {
    fn default() -> Self {
        Self {
            lookback: Duration::days(7),
            settle: Duration::hours(1),
            page_size: 1000,
            max_attempts: 3,
            backoff_base: Duration::minutes(30),
            backoff_max: Duration::hours(6),
            started_check_after: Duration::hours(1),
            stuck_after: Duration::hours(24),
            final_notice: Duration::days(1),
            router: RouterConfig::default(),
            patience: Patience::default(),
            full_guard_hour: 3,
            behind_after: Duration::hours(6),
            tag_check_within: Duration::days(2),
            sources_per_slice: SOURCES_PER_SLICE,
        }
    }
}

/// How much one run may do: stop before the Lambda deadline (on the ports' [`Clock::instant`]),
/// or after so many pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunBudget {
    pub deadline: Option<Instant>,
    pub max_pages: Option<u32>,
}

impl RunBudget {
    /// Until `deadline`, however many pages.
    pub fn until(deadline: Instant) -> Self {
        Self {
            deadline: Some(deadline),
            max_pages: None,
        }
    }

    fn exhausted(&self, pages: u32, now: Instant) -> bool {
        self.max_pages.is_some_and(|m| pages >= m) || self.past_deadline(now)
    }

    /// Checked between points too: one page can hold 1000 points that each need a call.
    fn past_deadline(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

/// Where a pass stands: the phase, the creation-date window within a route's look-back, and the
/// page token within that window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    phase: usize,
    token: Option<String>,
    #[serde(default)]
    window_start: Option<DateTime<Utc>>,
    #[serde(default)]
    window_minutes: Option<i64>,
    /// When the last pass ended with every phase walked (or when watching began).
    #[serde(default)]
    clean_at: Option<DateTime<Utc>>,
    /// A phase of this pass failed: the pass is not clean.
    #[serde(default)]
    unclean: bool,
    /// Route incidents (`queued#`, `window#`) this pass found cause for so far, and those the
    /// last whole pass found, ended at `passed_at`: a route's incident is closed only after a
    /// whole pass (of every slice) found none, whichever run of the pass saw it.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    seen: BTreeSet<String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    last_seen: BTreeSet<String>,
    #[serde(default)]
    passed_at: Option<DateTime<Utc>>,
}

/// What a pass found of its routes' incidents, carried from run to run in the cursor.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PassSeen {
    seen: BTreeSet<String>,
    last_seen: BTreeSet<String>,
    passed_at: Option<DateTime<Utc>>,
    /// This run ended the pass: the cursor it saves begins the next one with nothing seen.
    ended: bool,
}

/// Whether the reconciler is doing its work: kept in the cursor from run to run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PassWatch {
    pub clean_at: Option<DateTime<Utc>>,
    pub unclean: bool,
}

/// The smallest window: below this a window is walked even past the page budget, so every run
/// makes progress.
const MIN_WINDOW_MINUTES: i64 = 1;

/// Windows overlap by this on each side: AWS filters by whole seconds and does not say whether its
/// bounds are inclusive. A point seen in two windows is examined twice, which changes nothing.
const EDGE: Duration = Duration::seconds(1);

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReconcileReport {
    /// This run continued a pass an earlier run had to stop.
    pub resumed: bool,
    /// The pass reached its end (else the cursor is saved for the next run).
    pub pass_complete: bool,
    /// Another invocation holds the piece's lease: this one did nothing (and sends no
    /// continuation: the holder does).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub leased_elsewhere: bool,
    pub pages: u32,
    pub points_scanned: u64,
    /// Tables a fan-in route did not ask the destination about, a page at a time: the ledger
    /// accounted for their hops there.
    pub lookups_spared: u64,
    /// Copies the repair found without the policy's tags and tagged.
    pub copies_tagged: u64,
    /// Destination vaults whose tagging was refused in this run: not tried again in it.
    #[serde(skip)]
    pub tags_refused_in: BTreeSet<String>,
    pub copies_missing: u64,
    /// Hops with no ledger record at all: the event that should have started them never came.
    pub redriven: u64,
    /// Released or abandoned claims taken again with the same attempt.
    pub reclaimed: u64,
    pub retries: u64,
    pub waiting_for_backoff: u64,
    pub escalated: u64,
    pub in_flight: u64,
    /// Landed too recently to judge: their events may still be on the way.
    pub settling: u64,
    pub stuck_jobs_resolved: u64,
    /// Missing copies that cannot be made (cold tier, DynamoDB-native backups).
    pub not_copyable: u64,
    pub lifecycles_repaired: u64,
    pub retention_violations: u64,
    pub lock_adjustments: u64,
    pub alerts_sent: u64,
    /// Alerts sent now whose first send had failed (the outbox).
    pub alerts_resent: u64,
    /// Copy jobs an earlier try had started, found and recorded instead of starting another.
    pub adopted: u64,
    /// Missing copies someone else had made meanwhile (a backup plan, a person): none started.
    pub already_held: u64,
    /// Copies in a source vault from outside the routes that no route claimed: not chained on.
    pub unrouted: u64,
    /// Phases that failed this run (a broken account or route): the others went on.
    pub phases_failed: u64,
    pub accounts_unreachable: BTreeSet<String>,
    /// Accounts a call reached this run: their account incidents are closed.
    #[serde(skip)]
    pub accounts_reached: BTreeSet<String>,
    /// Phases that ran through this run: their phase incidents are closed.
    #[serde(skip)]
    pub phases_done: BTreeSet<String>,
    /// Tables whose copies are known stuck (an open incident): their chains are announced.
    #[serde(skip)]
    pub stuck_tables: BTreeSet<String>,
    /// Routes whose copies are known to wait to start (an open incident): one alert covers them.
    #[serde(skip)]
    pub queued_routes: BTreeSet<String>,
    /// Routes with a copy job found waiting to start for a day this run: their incident stays.
    #[serde(skip)]
    pub queued_seen: BTreeSet<String>,
    /// Hops with an open incident of their own (alerted already): a route's notice leaves them be.
    #[serde(skip)]
    pub alerted_hops: BTreeSet<String>,
    /// Routes whose copies about to leave the look-back window are announced (an open incident).
    #[serde(skip)]
    pub window_routes: BTreeSet<String>,
    /// Routes with a copy found at the look-back window's edge this run: their incident stays.
    #[serde(skip)]
    pub window_seen: BTreeSet<String>,
    #[serde(skip)]
    pub watch: PassWatch,
    #[serde(skip)]
    pub pass_seen: PassSeen,
    /// The newest creation date seen in each source vault this run: a vault whose backups
    /// failed has its incident closed once a newer backup is there.
    #[serde(skip)]
    pub newest_in: BTreeMap<String, DateTime<Utc>>,
    /// The newest source point whose copy each destination vault was found holding, by its ARN
    /// and by `ARN#SOURCE_ACCOUNT`: its vault incidents (copies into it failing; from one
    /// account, for a cause of one) close once this is newer than they are.
    #[serde(skip)]
    pub copied_into: BTreeMap<String, DateTime<Utc>>,
    /// Destination vaults (by ARN) a route into ran through this run: they exist.
    #[serde(skip)]
    pub destinations_answered: BTreeSet<String>,
    /// The pass ended this run with every phase walked.
    pub pass_clean: bool,
    /// The piece this run walks (its cursor's key; "" for the whole policy).
    pub piece: String,
    pub errors: Vec<String>,
}

impl ReconcileReport {
    /// The route incidents this pass found cause for, in this run and the runs before it.
    fn seen_in_pass(&self) -> BTreeSet<String> {
        let mut seen = self.pass_seen.seen.clone();
        seen.extend(
            self.queued_seen
                .iter()
                .map(|r| format!("{QUEUED_PREFIX}{r}")),
        );
        seen.extend(
            self.window_seen
                .iter()
                .map(|r| format!("{WINDOW_PREFIX}{r}")),
        );
        seen
    }
}

enum Phase<'p> {
    Route(&'p Route),
    NeverExpire(&'p Vault),
}

enum Progress {
    Done,
    /// The budget ran out: save this and resume from it next run.
    Stopped(Cursor),
}

/// The phases of `piece`: its routes (by where their source vault is) and its never_expire
/// vaults, in the policy's order.
fn phases<'p>(policy: &'p Policy, piece: &Piece) -> Vec<Phase<'p>> {
    let here = |v: &Vault| piece.holds(&v.arn);
    // By alias, once: an organisation's policy has thousands of member vaults.
    let local: HashSet<&str> = policy
        .vaults
        .iter()
        .filter(|v| here(v))
        .map(|v| v.alias.as_str())
        .collect();
    let mut out: Vec<Phase<'_>> = policy
        .routes
        .iter()
        .filter(|r| local.contains(r.from.as_str()))
        .map(Phase::Route)
        .collect();
    out.extend(
        policy
            .vaults
            .iter()
            .filter(|v| is_never_expire(v) && here(v) && piece.guards())
            .map(Phase::NeverExpire),
    );
    out
}

pub async fn run<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    config: &ReconcileConfig,
    budget: RunBudget,
) -> Result<ReconcileReport, PortError> {
    let patience = Patience {
        deadline: budget.deadline,
        ..config.patience
    };
    let ports = &Patient::new(ports, patience);
    let mut report = ReconcileReport::default();
    // The outbox first: alerts whose first send failed go out now.
    let open = match incident::drain(ports).await {
        Ok((sent, open, failed)) => {
            report.alerts_resent = sent;
            report.alerts_sent += sent;
            report
                .errors
                .extend(failed.iter().map(|e| format!("outbox: {e}")));
            open
        }
        Err(e) => {
            report.errors.push(format!("outbox: {e}"));
            Vec::new()
        }
    };
    report.stuck_tables = stuck_tables(&open);
    report.queued_routes = open_routes(&open, QUEUED_PREFIX);
    report.window_routes = open_routes(&open, WINDOW_PREFIX);
    report.alerted_hops = open.iter().map(|i| i.id.clone()).collect();
    let walked = walk(ports, policy, &Piece::whole(), config, budget, &mut report).await;
    behind(ports, config, &mut report).await;
    walked?;
    close_resolved(ports, &open, &mut report).await;
    Ok(report)
}

/// Tables whose copies are known stuck (their open incidents): their chains are announced.
/// The routes with an open incident of this kind (`QUEUED_PREFIX`, `WINDOW_PREFIX`).
pub(crate) fn open_routes(open: &[Incident], prefix: &str) -> BTreeSet<String> {
    open.iter()
        .filter_map(|i| i.id.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

/// The incident id of a route whose copies are a day behind: `queued#FROM->TO`.
pub(crate) const QUEUED_PREFIX: &str = "queued#";
/// The incident id of a route with copies about to leave the look-back window: `window#FROM->TO`.
pub(crate) const WINDOW_PREFIX: &str = "window#";

fn stuck_tables(open: &[Incident]) -> BTreeSet<String> {
    open.iter()
        .filter_map(|i| i.id.strip_prefix("stuck#"))
        .map(str::to_string)
        .collect()
}

/// The phases from the saved cursor on, until the pass ends or the budget does. A phase that fails
/// (a broken account, a route AWS refuses) is reported and passed: the cursor never pins on it.
/// The piece's saved cursor; an unreadable one starts a new pass.
async fn load<P: RouterPorts>(ports: &P, piece: &str) -> Result<Cursor, PortError> {
    let saved = ports.ledger().load_cursor(piece).await?;
    Ok(match saved.as_deref().map(serde_json::from_str::<Cursor>) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "unreadable reconciler cursor; starting a new pass");
            Cursor::default()
        }
        None => Cursor::default(),
    })
}

async fn walk<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    piece: &Piece,
    config: &ReconcileConfig,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    report.piece = piece.key();
    let mut cursor = load(ports, &report.piece).await?;
    report.resumed = cursor.phase > 0 || cursor.token.is_some() || cursor.window_start.is_some();
    report.watch = PassWatch {
        // The first run ever starts the watch.
        clean_at: cursor.clean_at.or(Some(ports.now())),
        unclean: cursor.unclean,
    };
    report.pass_seen = PassSeen {
        seen: std::mem::take(&mut cursor.seen),
        last_seen: std::mem::take(&mut cursor.last_seen),
        passed_at: cursor.passed_at,
        ended: false,
    };
    let phases = phases(policy, piece);
    while let Some(phase) = phases.get(cursor.phase) {
        let result = match phase {
            Phase::Route(route) => {
                let ctx = RouteCtx::new(ports, policy, route, config, piece);
                match ctx {
                    Some(ctx) => route_phase(&ctx, cursor.clone(), budget, report).await,
                    None => Ok(Progress::Done),
                }
            }
            Phase::NeverExpire(vault) => {
                let now = ports.now();
                let since = (now.hour() != config.full_guard_hour).then(|| now - config.lookback);
                guard_phase(ports, vault, cursor.clone(), since, budget, report).await
            }
        };
        match result {
            Ok(Progress::Done) => phase_done(policy, phase, report),
            Ok(Progress::Stopped(at)) => {
                save(ports, &at, report).await?;
                tracing::info!(
                    phase = at.phase,
                    pages = report.pages,
                    "run budget used; the next run resumes here"
                );
                return Ok(());
            }
            Err(e) => {
                // A refused account or a broken route is its own incident; only a phase that
                // failed for no reason yet told (AWS throttling or failing) leaves the pass unclean.
                report.watch.unclean |= e.kind.is_transient();
                phase_failed(ports, (policy, phase), &e, report).await
            }
        }
        cursor = Cursor {
            phase: cursor.phase + 1,
            ..Cursor::default()
        };
        save(ports, &cursor, report).await?;
    }
    report.pass_clean = !report.watch.unclean;
    let watch = PassWatch {
        clean_at: match report.pass_clean {
            true => Some(ports.now()),
            false => report.watch.clean_at,
        },
        unclean: false,
    };
    report.watch = watch;
    end_pass(ports, report).await
}

/// A phase ran through: its incident may close, and a route's destination answered.
fn phase_done(policy: &Policy, phase: &Phase<'_>, report: &mut ReconcileReport) {
    report.phases_done.insert(phase_name(phase));
    if let Phase::Route(r) = phase {
        report.phases_done.insert(format!("destination#{}", r.to));
        if let Some(to) = policy.vault(&r.to) {
            report.destinations_answered.insert(to.arn.to_string());
        }
    }
}

/// The pass is whole: what it saw of its routes' incidents becomes the last pass's (closing
/// them, here and in the coordinator, reads the whole pass), and the next run begins a new one.
async fn end_pass<P: RouterPorts>(
    ports: &P,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    report.pass_seen.last_seen = report.seen_in_pass();
    report.pass_seen.passed_at = Some(ports.now());
    report.pass_seen.ended = true;
    save(ports, &Cursor::default(), report).await?;
    report.pass_complete = true;
    Ok(())
}

/// The reconciler has not finished a clean pass (every phase walked) for longer than the
/// config allows: lost events are not repaired and failed copies not retried anywhere it could
/// not walk, so every chain may stay incomplete. One incident until a clean pass closes it.
async fn behind<P: RouterPorts>(ports: &P, config: &ReconcileConfig, report: &mut ReconcileReport) {
    let Some(clean_at) = report.watch.clean_at else {
        return;
    };
    let now = ports.now();
    if report.pass_clean || now - clean_at <= config.behind_after {
        return;
    }
    let hours = (now - clean_at).num_hours();
    let last = report
        .errors
        .iter()
        .take(5)
        .cloned()
        .collect::<Vec<_>>()
        .join("\n  ");
    let alert = Alert {
        all_chains: true,
        ..Alert::plain(
            "Backup Relay: the reconciler is behind".into(),
            format!(
            "The reconciler has not walked every route and never_expire vault for {hours} hours \
             (since {clean_at}): lost events are not repaired and failed copies are not retried \
             where it could not walk, so any chain may stay incomplete until it can. This \
             incident closes when a pass walks every phase.\nRecent errors:\n  {last}\nLikely \
             fix: AWS is throttling or refusing its calls (check AWS Backup's and DynamoDB's \
             throttling metrics and the executor roles), or a pass needs more time than its \
             schedule gives."
        ),
        )
    };
    match incident::raise(ports, BEHIND_INCIDENT.to_string(), alert).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("reconciler behind: {e}")),
    }
}

/// The one incident of a reconciler that cannot do its work.
pub const BEHIND_INCIDENT: &str = "reconciler#behind";

fn phase_name(phase: &Phase<'_>) -> String {
    match phase {
        Phase::Route(r) => format!("route {}", r.name()),
        Phase::NeverExpire(v) => format!("never_expire vault '{}'", v.alias),
    }
}

/// A phase that failed: the run goes on with the next. A refused account is its account's
/// incident; a failure retrying cannot fix (a deleted vault, a missing permission) is the phase's
/// own, closed when the phase runs through again. A transient one is tried again next run.
async fn phase_failed<P: RouterPorts>(
    ports: &P,
    (policy, phase): (&Policy, &Phase<'_>),
    e: &PortError,
    report: &mut ReconcileReport,
) {
    report.phases_failed += 1;
    let name = phase_name(phase);
    tracing::warn!(phase = %name, error = %e, "phase failed; the run goes on with the next");
    report.errors.push(format!("{name}: {e}"));
    if e.is_account_denied() {
        return account_denied(ports, e, report).await;
    }
    if e.kind.is_transient() {
        return;
    }
    // A vault of the route that does not exist: the vault's incident, not the route's (a
    // central vault of an organisation has thousands of routes into and out of it).
    if let Phase::Route(r) = phase {
        let missing = (e.operation == route::DESTINATION_MISSING)
            .then(|| policy.vault(&r.to))
            .flatten();
        if let Some(vault) = missing {
            return vault_missing(ports, (r, vault), e, report).await;
        }
    }
    let alert = Alert {
        route: match phase {
            Phase::Route(r) => Some(r.name()),
            Phase::NeverExpire(_) => None,
        },
        ..Alert::plain(
            format!("Backup Relay: cannot reconcile {name}"),
            format!(
                "The reconciler cannot walk {name}: lost events there are not repaired and failed \
             copies not retried until it can.\nAWS said: {e}\nLikely fix: check that the vaults \
             of the policy exist and the executor role may list and describe them."
            ),
        )
    };
    match incident::raise(ports, format!("phase#{name}"), alert).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("{name}: {e}")),
    }
}

/// One incident for a vault that does not exist, whatever the number of routes into and out of
/// it, and the same the router raises when copies into it fail for it; closed once a copy of
/// a newer backup lands in it.
async fn vault_missing<P: RouterPorts>(
    ports: &P,
    (route, vault): (&Route, &Vault),
    e: &PortError,
    report: &mut ReconcileReport,
) {
    let to = &vault.alias;
    let alert = Alert {
        subject: format!("Backup Relay: vault '{to}' does not exist"),
        message: format!(
            "The reconciler cannot copy into vault '{to}': AWS says it does not exist ({e}). No \
             route into it can make its copies until it does.\nLikely fix: deploy the spoke \
             stack (or create the vault) in its account and Region."
        ),
        hop: None,
        account: None,
        resource: None,
        // Any route into the vault stands for them all: the vault is what is missing.
        route: Some(route.name()),
        all_chains: false,
        vault: Some(vault.arn.to_string()),
    };
    let id = relay_core::ledger::vault_incident(&vault.arn.to_string(), VAULT_MISSING_CAUSE, "");
    match incident::raise(ports, id, alert).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("vault '{to}': {e}")),
    }
}

async fn account_denied<P: RouterPorts>(ports: &P, e: &PortError, report: &mut ReconcileReport) {
    let account = e.account.clone().unwrap_or_default();
    report.accounts_unreachable.insert(account.clone());
    match incident::raise_account(ports, &account, e).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("account {account}: {e}")),
    }
}

async fn save<P: RouterPorts>(
    ports: &P,
    cursor: &Cursor,
    report: &ReconcileReport,
) -> Result<(), PortError> {
    let watch = &report.watch;
    let cursor = Cursor {
        clean_at: watch.clean_at,
        unclean: watch.unclean,
        seen: match report.pass_seen.ended {
            true => BTreeSet::new(),
            false => report.seen_in_pass(),
        },
        last_seen: report.pass_seen.last_seen.clone(),
        passed_at: report.pass_seen.passed_at,
        ..cursor.clone()
    };
    let text = serde_json::to_string(&cursor)
        .map_err(|e| PortError::new(ErrorKind::Permanent, "cursor", None, e.to_string()))?;
    ports
        .ledger()
        .save_cursor(&report.piece, Some(&text), ports.now())
        .await
}

/// List a page; a page token AWS no longer accepts restarts the listing.
async fn page<P: RouterPorts>(
    ports: &P,
    vault: &VaultArn,
    query: ListQuery,
    report: &mut ReconcileReport,
) -> Result<relay_core::ports::Page<PointView>, PortError> {
    report.pages += 1;
    let result = match ports.list_recovery_points(vault, &query).await {
        Err(e) if e.kind == ErrorKind::Permanent && query.page_token.is_some() => {
            tracing::warn!(vault = %vault, error = %e, "page token refused; listing again from the start");
            report.pages += 1;
            ports
                .list_recovery_points(
                    vault,
                    &ListQuery {
                        page_token: None,
                        ..query
                    },
                )
                .await
        }
        other => other,
    };
    if result.is_ok() {
        report.accounts_reached.insert(vault.account.clone());
    }
    result
}
