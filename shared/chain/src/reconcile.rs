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
use relay_core::arn::{RecoveryPointArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::ledger::{retry_backoff, HopKey, HopRecord, HopState, Original};
use relay_core::plan::{self, classify_copy_failure, FailureClass, Observed, Tags};
use relay_core::policy::{Policy, Route, Vault};
use relay_core::ports::{
    Alert, ErrorKind, HopFailure, Incident, LedgerPort, ListQuery, PortError, RouterPorts,
};
use relay_core::retention::VaultLock;

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
        }
    }
}

/// How much one run may do: stop before the Lambda deadline, or after so many pages.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunBudget {
    pub deadline: Option<Instant>,
    pub max_pages: Option<u32>,
}

impl RunBudget {
    fn exhausted(&self, pages: u32) -> bool {
        self.max_pages.is_some_and(|m| pages >= m) || self.past_deadline()
    }

    /// Checked between points too: one page can hold 1000 points that each need a call.
    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
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
    pub pages: u32,
    pub points_scanned: u64,
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
    #[serde(skip)]
    pub watch: PassWatch,
    /// The newest creation date seen in each source vault this run: a vault whose backups
    /// failed has its incident closed once a newer backup is there.
    #[serde(skip)]
    pub newest_in: BTreeMap<String, DateTime<Utc>>,
    /// The pass ended this run with every phase walked.
    pub pass_clean: bool,
    pub errors: Vec<String>,
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

fn phases(policy: &Policy) -> Vec<Phase<'_>> {
    let mut out: Vec<Phase<'_>> = policy.routes.iter().map(Phase::Route).collect();
    out.extend(
        policy
            .vaults
            .iter()
            .filter(|v| is_never_expire(v))
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
    report.stuck_tables = open
        .iter()
        .filter_map(|i| i.id.strip_prefix("stuck#"))
        .map(str::to_string)
        .collect();
    let walked = walk(ports, policy, config, budget, &mut report).await;
    behind(ports, config, &mut report).await;
    walked?;
    close_resolved(ports, &open, &mut report).await;
    Ok(report)
}

/// The phases from the saved cursor on, until the pass ends or the budget does. A phase that fails
/// (a broken account, a route AWS refuses) is reported and passed: the cursor never pins on it.
async fn walk<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    config: &ReconcileConfig,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let saved = ports.ledger().load_cursor().await?;
    let mut cursor = match saved.as_deref().map(serde_json::from_str::<Cursor>) {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            tracing::warn!(error = %e, "unreadable reconciler cursor; starting a new pass");
            Cursor::default()
        }
        None => Cursor::default(),
    };
    report.resumed = cursor.phase > 0 || cursor.token.is_some() || cursor.window_start.is_some();
    report.watch = PassWatch {
        // The first run ever starts the watch.
        clean_at: cursor.clean_at.or(Some(ports.now())),
        unclean: cursor.unclean,
    };
    let phases = phases(policy);
    while let Some(phase) = phases.get(cursor.phase) {
        let result = match phase {
            Phase::Route(route) => {
                let ctx = RouteCtx::new(ports, policy, route, config);
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
            Ok(Progress::Done) => {
                report.phases_done.insert(phase_name(phase));
            }
            Ok(Progress::Stopped(at)) => {
                save(ports, &at, &report.watch).await?;
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
                phase_failed(ports, phase, &e, report).await
            }
        }
        cursor = Cursor {
            phase: cursor.phase + 1,
            ..Cursor::default()
        };
        save(ports, &cursor, &report.watch).await?;
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
    // The next run begins a new pass.
    save(ports, &Cursor::default(), &watch).await?;
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
        subject: "Backup Relay: the reconciler is behind".into(),
        message: format!(
            "The reconciler has not walked every route and never_expire vault for {hours} hours \
             (since {clean_at}): lost events are not repaired and failed copies are not retried \
             where it could not walk, so any chain may stay incomplete until it can. This \
             incident closes when a pass walks every phase.\nRecent errors:\n  {last}\nLikely \
             fix: AWS is throttling or refusing its calls (check AWS Backup's and DynamoDB's \
             throttling metrics and the executor roles), or a pass needs more time than its \
             schedule gives."
        ),
        hop: None,
        account: None,
        resource: None,
        route: None,
        all_chains: true,
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
    phase: &Phase<'_>,
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
    let alert = Alert {
        subject: format!("Backup Relay: cannot reconcile {name}"),
        message: format!(
            "The reconciler cannot walk {name}: lost events there are not repaired and failed \
             copies not retried until it can.\nAWS said: {e}\nLikely fix: check that the vaults \
             of the policy exist and the executor role may list and describe them."
        ),
        hop: None,
        account: None,
        resource: None,
        route: match phase {
            Phase::Route(r) => Some(r.name()),
            Phase::NeverExpire(_) => None,
        },
        all_chains: false,
    };
    match incident::raise(ports, format!("phase#{name}"), alert).await {
        Ok(sent) => report.alerts_sent += u64::from(sent),
        Err(e) => report.errors.push(format!("{name}: {e}")),
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

/// Conditions that are gone close their incidents, so a new breakage alerts again: an account
/// reached this run and refused nowhere, a phase that ran through.
async fn close_resolved<P: RouterPorts>(
    ports: &P,
    open: &[Incident],
    report: &mut ReconcileReport,
) {
    for incident in open {
        let resolved = match incident.id.split_once('#') {
            Some(("account", account)) => {
                report.accounts_reached.contains(account)
                    && !report.accounts_unreachable.contains(account)
            }
            Some(("phase", name)) => report.phases_done.contains(name),
            _ if incident.id == BEHIND_INCIDENT => report.pass_clean,
            // Backups into the vault work again: a newer one is there.
            Some(("backup", rest)) => rest.rsplit_once('#').is_some_and(|(vault, _)| {
                report
                    .newest_in
                    .get(vault)
                    .is_some_and(|t| *t > incident.opened_at)
            }),
            _ => false,
        };
        if resolved {
            if let Err(e) = ports.ledger().close_incident(&incident.id).await {
                report.errors.push(format!("closing {}: {e}", incident.id));
            }
        }
    }
}

async fn save<P: RouterPorts>(
    ports: &P,
    cursor: &Cursor,
    watch: &PassWatch,
) -> Result<(), PortError> {
    let cursor = Cursor {
        clean_at: watch.clean_at,
        unclean: watch.unclean,
        ..cursor.clone()
    };
    let text = serde_json::to_string(&cursor)
        .map_err(|e| PortError::new(ErrorKind::Permanent, "cursor", None, e.to_string()))?;
    ports.ledger().save_cursor(Some(&text), ports.now()).await
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

/// What one route's phase works with.
struct RouteCtx<'a, P> {
    ports: &'a P,
    policy: &'a Policy,
    route: &'a Route,
    from: &'a Vault,
    to: &'a Vault,
    config: &'a ReconcileConfig,
}

impl<'a, P: RouterPorts> RouteCtx<'a, P> {
    fn new(
        ports: &'a P,
        policy: &'a Policy,
        route: &'a Route,
        config: &'a ReconcileConfig,
    ) -> Option<Self> {
        Some(Self {
            ports,
            policy,
            route,
            from: policy.vault(&route.from)?,
            to: policy.vault(&route.to)?,
            config,
        })
    }
}

/// What the destination holds: (resource, creation date) of its COMPLETED points, the originals.
type Held = HashMap<String, HashSet<i64>>;

/// One route: the look-back is walked in creation-date windows. For each window, first what the
/// destination holds, then the sources. A window whose destination listing does not fit in a run
/// is halved for the next run; after a sparse window the next one is twice as long.
async fn route_phase<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    cursor: Cursor,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let (ports, config) = (ctx.ports, ctx.config);
    let now = ports.now();
    let since = now - config.lookback;
    let whole = config.lookback.num_minutes() + 60;
    let mut start = cursor.window_start.filter(|w| *w >= since).unwrap_or(since);
    let mut minutes = cursor
        .window_minutes
        .unwrap_or(whole)
        .clamp(MIN_WINDOW_MINUTES, whole);
    let mut token = cursor.token;
    let mut observed = Observed::default();
    match ports.vault_lock(&ctx.to.arn).await {
        Ok(Some(lock)) => {
            observed.vault_locks.insert(ctx.to.arn.clone(), lock);
        }
        Ok(None) => {}
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        Err(e) => report.errors.push(format!("{}: {e}", ctx.route.name())),
    }
    let mut tags: BTreeMap<String, Tags> = BTreeMap::new();
    while start <= now {
        let end = start + Duration::minutes(minutes);
        let here = |token: Option<String>, minutes: i64| Cursor {
            phase: cursor.phase,
            token,
            window_start: Some(start),
            window_minutes: Some(minutes),
            ..Cursor::default()
        };
        // Only a window that had a whole run to itself and still did not fit is made smaller.
        let fresh = report.pages == 0;
        let index_start = report.pages;
        let held = match held_in(ctx, start, end, fresh, minutes, budget, report).await? {
            Ok(held) => held,
            Err(stop) => return Ok(Progress::Stopped(here(stop.0, stop.1))),
        };
        let index_pages = report.pages - index_start;
        let mut sources_read = 0;
        loop {
            if budget.exhausted(report.pages) {
                // A run that began on this window must read at least one page of sources, or
                // the window is too big: without this a window that fills the budget recurs forever.
                if !(fresh && sources_read == 0) {
                    return Ok(Progress::Stopped(here(token, minutes)));
                }
                if minutes > MIN_WINDOW_MINUTES {
                    return Ok(Progress::Stopped(here(
                        None,
                        (minutes / 2).max(MIN_WINDOW_MINUTES),
                    )));
                }
            }
            sources_read += 1;
            let page_token = token.clone();
            let query = ListQuery {
                created_after: Some(start - EDGE),
                created_before: Some(end + EDGE),
                resource_arn: None,
                page_token: token,
                page_size: config.page_size,
            };
            let p = page(ports, &ctx.from.arn, query, report).await?;
            if let Some(newest) = p.items.iter().map(|p| p.creation_date).max() {
                let seen = report
                    .newest_in
                    .entry(ctx.from.arn.to_string())
                    .or_insert(newest);
                *seen = (*seen).max(newest);
            }
            for point in &p.items {
                if budget.past_deadline() {
                    // This page again next run: what was done here is found done then.
                    return Ok(Progress::Stopped(here(page_token, minutes)));
                }
                report.points_scanned += 1;
                if let Err(e) = examine(ctx, point, &held, &observed, &mut tags, report).await {
                    point_failed(ports, ctx.route, point, &e, report).await;
                }
            }
            token = p.next_token;
            match &token {
                None => break,
                Some(_) => save(ports, &here(token.clone(), minutes), &report.watch).await?,
            }
        }
        start = end;
        // Sparse stretches (a one-page destination listing) grow the next window; dense ones keep it.
        if index_pages <= 1 {
            minutes = (minutes * 2).min(whole);
        }
        let next = Cursor {
            phase: cursor.phase,
            window_start: Some(start),
            window_minutes: Some(minutes),
            ..Cursor::default()
        };
        save(ports, &next, &report.watch).await?;
    }
    Ok(Progress::Done)
}

/// One point's failure stays with that point: the run goes on with the next.
async fn point_failed<P: RouterPorts>(
    ports: &P,
    route: &Route,
    point: &PointView,
    e: &PortError,
    report: &mut ReconcileReport,
) {
    report.errors.push(format!(
        "{} {}: {e}",
        route.name(),
        point.recovery_point_arn
    ));
    if e.is_account_denied() {
        account_denied(ports, e, report).await;
    }
}

/// The destination's COMPLETED points in a window; `Err((token, minutes))` when the run must stop
/// and resume there.
#[allow(clippy::type_complexity)]
async fn held_in<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    fresh: bool,
    minutes: i64,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Result<Held, (Option<String>, i64)>, PortError> {
    let mut held = Held::new();
    let mut to_token = None;
    loop {
        if budget.exhausted(report.pages) {
            if !fresh {
                return Ok(Err((None, minutes)));
            }
            if minutes > MIN_WINDOW_MINUTES {
                // Its source walk starts over in the smaller window.
                return Ok(Err((None, (minutes / 2).max(MIN_WINDOW_MINUTES))));
            }
            // The smallest window is finished past the budget, so every run makes progress.
        }
        let query = ListQuery {
            created_after: Some(start - EDGE),
            created_before: Some(end + EDGE),
            resource_arn: None,
            page_token: to_token,
            page_size: ctx.config.page_size,
        };
        let p = page(ctx.ports, &ctx.to.arn, query, report).await?;
        for point in p.items.into_iter().filter(is_held) {
            if let Some(resource) = point.resource_arn {
                held.entry(resource)
                    .or_default()
                    .insert(point.creation_date.timestamp_millis());
            }
        }
        to_token = p.next_token;
        if to_token.is_none() {
            return Ok(Ok(held));
        }
    }
}

/// Only a COMPLETED copy counts as held (PARTIAL, EXPIRED, DELETING do not).
fn is_held(point: &PointView) -> bool {
    point
        .status
        .as_deref()
        .is_none_or(|s| matches!(s, "COMPLETED" | "AVAILABLE"))
}

/// One source point of a route: is its copy missing, and if so, what does the hop need?
async fn examine<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    observed: &Observed,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let Some(original) = missing_copy(ctx, point, held, report) else {
        return Ok(());
    };
    if !selected(ctx, point, &original, tags).await? {
        return Ok(());
    }
    if !chainable(ctx, point, &original, tags, report).await? {
        return Ok(());
    }
    let hop = HopKey::new(original.clone(), ctx.to.arn.to_string());
    if let Some(why) = not_copyable(point) {
        report.not_copyable += 1;
        return alert_not_copyable(ctx, point, &hop, why, report).await;
    }
    report.copies_missing += 1;
    let acted = match ctx.ports.ledger().get(&hop).await {
        Ok(None) => start(ctx, point, &original, 1, observed, report)
            .await
            .inspect(|n| report.redriven += n),
        Ok(Some(record)) => {
            let missing = Missing {
                point,
                original: &original,
                hop: &hop,
            };
            on_record(ctx, &missing, &record, observed, report).await
        }
        Err(e) => Err(e),
    };
    // Whatever went wrong above, a copy about to leave the look-back is announced.
    if !matches!(acted, Ok(1..)) {
        final_notice(ctx, point, &hop, report).await?;
    }
    acted.map(|_| ())
}

/// Only routes are chained: a copy in the source vault that came from outside the routes is
/// copied on only when the policy routes its table there (a backup plan's copy action beside the
/// route serves the route's hop) or a route claimed it; anything else is alerted once per flow.
async fn chainable<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    original: &Original,
    tags: &mut BTreeMap<String, Tags>,
    report: &mut ReconcileReport,
) -> Result<bool, PortError> {
    use relay_core::provenance::{expected_in, provenance, Provenance, UnroutedCopy};
    let Provenance::Outside { source_vault_arn } =
        provenance(ctx.policy, ctx.from, point.source_vault_arn.as_deref())
    else {
        return Ok(true);
    };
    let table_tags = tags_of(ctx, &original.resource_arn, tags).await?;
    let kind = point.resource_type.as_deref();
    if expected_in(ctx.policy, ctx.from, original, kind, &table_tags) {
        return Ok(true);
    }
    let own = HopKey::new(original.clone(), ctx.from.arn.to_string());
    if ctx.ports.ledger().get(&own).await?.is_some() {
        return Ok(true);
    }
    report.unrouted += 1;
    let copy = UnroutedCopy {
        recovery_point_arn: point.recovery_point_arn.clone(),
        backup_vault_arn: ctx.from.arn.to_string(),
        source_vault_arn,
        original: original.clone(),
    };
    let mut out = RouteOutcome::default();
    router::unrouted_copy(ctx.ports, &copy, &mut out).await?;
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(false)
}

/// A table's tags, read once per resource per run.
async fn tags_of<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    resource: &str,
    tags: &mut BTreeMap<String, Tags>,
) -> Result<Tags, PortError> {
    if let Some(t) = tags.get(resource) {
        return Ok(t.clone());
    }
    let t = match ctx.ports.resource_tags(resource).await {
        Ok(t) => t,
        Err(e) if e.kind == ErrorKind::NotFound => Tags::new(),
        Err(e) => return Err(e),
    };
    tags.insert(resource.to_string(), t.clone());
    Ok(t)
}

/// Why a source point can never be copied, if it cannot.
fn not_copyable(point: &PointView) -> Option<&'static str> {
    let native =
        RecoveryPointArn::parse(&point.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native());
    if native {
        return Some("it is a DynamoDB-native backup (advanced features for DynamoDB are off in its account and Region)");
    }
    match point.storage_class.as_deref() {
        Some("COLD") => Some("it is in the cold tier, and cold recovery points cannot be copied"),
        Some("DELETED") => Some("it is deleted"),
        _ => None,
    }
}

/// A copy that can never be made needs a person: native backups once per account and Region
/// (every backup there is one), a cold point once for its hop.
async fn alert_not_copyable<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    hop: &HopKey,
    why: &str,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let native =
        RecoveryPointArn::parse(&point.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native());
    if !native {
        let why = format!(
            "recovery point {} cannot be copied: {why}",
            point.recovery_point_arn
        );
        return alert_hop(ctx, hop, ("cannot be made", &why), report).await;
    }
    let (account, region) = (&ctx.from.arn.account, &ctx.from.arn.region);
    let alert = Alert {
        subject: format!("Backup Relay: backups in {account}/{region} cannot be copied"),
        message: format!(
            "Recovery point {} in vault '{}' is a DynamoDB-native backup: {why}. No backup of a \
             DynamoDB table made there can be copied until advanced features are switched on \
             (UpdateRegionSettings, ResourceTypeOptInPreference and \
             ResourceTypeManagementPreference DynamoDB=true); they apply to new backups only.",
            point.recovery_point_arn, ctx.from.alias
        ),
        hop: None,
        account: Some(account.clone()),
        resource: None,
        route: None,
        all_chains: false,
    };
    let id = format!("native#{account}#{region}");
    report.alerts_sent += u64::from(incident::raise(ctx.ports, id, alert).await?);
    Ok(())
}

/// The original of a source point whose copy the destination does not hold, if it is one to judge
/// now: completed, of a selected type, and not so fresh that its events may still be on the way.
fn missing_copy<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    held: &Held,
    report: &mut ReconcileReport,
) -> Option<Original> {
    if !is_held(point) {
        return None;
    }
    let type_selected = point
        .resource_type
        .as_deref()
        .is_none_or(|t| ctx.route.select.resource_types.iter().any(|rt| rt == t));
    if !type_selected {
        return None;
    }
    let resource = point.resource_arn.clone()?;
    let now = ctx.ports.now();
    if point
        .completion_date
        .is_some_and(|c| c > now - ctx.config.settle)
    {
        report.settling += 1;
        return None;
    }
    if held
        .get(&resource)
        .is_some_and(|s| s.contains(&point.creation_date.timestamp_millis()))
    {
        return None;
    }
    Some(Original::new(resource, point.creation_date))
}

/// Does the route select this point's resource by its tags (read once per resource per run)?
async fn selected<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    original: &Original,
    tags: &mut BTreeMap<String, Tags>,
) -> Result<bool, PortError> {
    if ctx.route.select.tags.is_empty() {
        return Ok(true);
    }
    let t = tags_of(ctx, &original.resource_arn, tags).await?;
    Ok(ctx.route.select.matches(point.resource_type.as_deref(), &t))
}

/// A source point whose copy the destination lacks: the point, its original, and the hop.
struct Missing<'a> {
    point: &'a PointView,
    original: &'a Original,
    hop: &'a HopKey,
}

/// A missing copy whose hop has a record: reclaim, watch, retry, or make sure a person knows.
/// Returns 1 when a copy job started.
async fn on_record<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    missing: &Missing<'_>,
    record: &HopRecord,
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Missing {
        point,
        original,
        hop,
    } = *missing;
    let now = ctx.ports.now();
    let abandoned = record.state == HopState::Released
        || (record.state == HopState::Claimed
            && record
                .claimed_at
                .is_some_and(|t| t < now - ctx.config.router.stale_claim_after));
    if abandoned {
        // A released claim, or one left by a dead invocation: the same attempt, the same token.
        let n = start(ctx, point, original, record.attempt, observed, report).await?;
        report.reclaimed += n;
        return Ok(n);
    }
    match record.state {
        // A live claim (a released or stale one was taken over above).
        HopState::Claimed | HopState::Released => report.in_flight += 1,
        HopState::Started if record.updated_at < now - ctx.config.started_check_after => {
            // The copy was made after all: no final notice for it.
            return resolve_started(ctx, hop, record, report).await;
        }
        HopState::Started => report.in_flight += 1,
        HopState::Failed if record.failure_class == Some(FailureClass::Retryable) => {
            return retry_failed(ctx, missing, record, observed, report).await;
        }
        // Needs a person, or deliberately skipped: the router alerted; make sure it did.
        HopState::Failed | HopState::Skipped => {
            let why = record.status_message.as_deref().unwrap_or("needs a person");
            alert_hop(ctx, hop, ("not made (needs a person)", why), report).await?;
        }
        HopState::Completed => {
            let why = "the ledger records this copy as made, but the destination vault does not hold a COMPLETED copy";
            alert_hop(ctx, hop, ("missing (recorded as made)", why), report).await?;
        }
    }
    Ok(0)
}

/// A retryable failure: the next attempt after its backoff, or, out of attempts, one alert.
async fn retry_failed<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    missing: &Missing<'_>,
    record: &HopRecord,
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Missing {
        point,
        original,
        hop,
    } = *missing;
    let now = ctx.ports.now();
    let config = ctx.config;
    if record.attempt >= config.max_attempts {
        let reason = format!("failed (gave up after {} attempts)", record.attempt);
        if ctx
            .ports
            .ledger()
            .escalate(hop, record.attempt, &reason, now)
            .await?
        {
            report.escalated += 1;
        }
        let message = record.status_message.clone().unwrap_or_default();
        let (_, fix) = classify_copy_failure(&message);
        let why = format!("{reason}. Last status from AWS: {message}. Likely fix: {fix}");
        alert_hop(ctx, hop, (&reason, &why), report).await?;
        return Ok(0);
    }
    // The record is stored data: checked, so a corrupt date cannot panic (it waits instead).
    let backoff = retry_backoff(record.attempt + 1, config.backoff_base, config.backoff_max);
    let due = record
        .updated_at
        .checked_add_signed(backoff)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    if now < due {
        report.waiting_for_backoff += 1;
        return Ok(0);
    }
    let n = start(ctx, point, original, record.attempt + 1, observed, report).await?;
    report.retries += n;
    Ok(n)
}

/// The hop's one alert (its incident): sent the first time, a no-op after.
async fn alert_hop<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    (headline, why): (&str, &str),
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let alert = Alert::about_hop(
        format!("Backup Relay: copy {} {headline}", ctx.route.name()),
        format!(
            "The copy of {} (created {}) into {} is not made: {why}",
            hop.original.resource_arn, hop.original.creation_date, hop.destination_vault_arn
        ),
        hop.clone(),
    );
    report.alerts_sent += u64::from(incident::raise(ctx.ports, hop.incident_id(), alert).await?);
    Ok(())
}

/// A copy still missing this close to the end of the look-back window is about to be dropped from
/// the reconciler's view: a person must know, once.
async fn final_notice<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    hop: &HopKey,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let now = ctx.ports.now();
    let config = ctx.config;
    if point.creation_date >= now - config.lookback + config.final_notice
        || report.stuck_tables.contains(&hop.original.resource_arn)
    {
        return Ok(());
    }
    let why = format!(
        "still missing {} days after the backup; the reconciler looks back {} days and stops re-driving it then",
        (now - point.creation_date).num_days(),
        config.lookback.num_days()
    );
    alert_hop(
        ctx,
        hop,
        ("about to leave the look-back window", &why),
        report,
    )
    .await
}

/// Start one attempt of a hop through the router's own claim-then-start. Returns 1 if a copy job started.
async fn start<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    point: &PointView,
    original: &Original,
    attempt: u32,
    observed: &Observed,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let mut out = RouteOutcome::default();
    // The source point as listed: what an inherited lifecycle is fitted to a lock from.
    let observed = Observed {
        point: Some(point.clone()),
        ..observed.clone()
    };
    let result = match plan::plan_hop(
        ctx.policy,
        &ctx.route.name(),
        &point.recovery_point_arn,
        original,
        attempt,
        &observed,
    ) {
        // The destination was listed by this pass moments ago and did not hold the copy.
        Some(Ok(job)) => {
            let listing = Listing::NotHeld;
            router::start_hop(ctx.ports, &job, listing, &ctx.config.router, &mut out).await
        }
        Some(Err(skip)) => router::record_skip(ctx.ports, &skip, &mut out).await,
        None => Ok(()),
    };
    report.lock_adjustments += out.lock_adjustments.len() as u64;
    report.alerts_sent += u64::from(out.alerts_sent);
    report.adopted += out.adopted.len() as u64;
    report.already_held += out.held.len() as u64;
    result?;
    Ok((out.started.len() + out.adopted.len()) as u64)
}

/// A STARTED hop whose events never came: ask AWS how its copy job ended. 1 when it completed.
async fn resolve_started<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    record: &HopRecord,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let Some(job) = record.copy_job_id.as_deref() else {
        report.in_flight += 1;
        return Ok(0);
    };
    // The job runs where its source vault is: the claiming route's, which may not be this one.
    let at = record
        .source_vault_arn
        .as_deref()
        .and_then(|v| VaultArn::parse(v).ok())
        .unwrap_or_else(|| ctx.from.arn.clone());
    let status = match ctx.ports.copy_job_status(&at.location(), job).await {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::NotFound => relay_core::ports::CopyJobStatus {
            state: "FAILED".into(),
            status_message: Some(format!("copy job {job} is unknown to AWS Backup")),
            destination_recovery_point_arn: None,
        },
        Err(e) => return Err(e),
    };
    let now = ctx.ports.now();
    match status.state.as_str() {
        "COMPLETED" => {
            ctx.ports
                .ledger()
                .mark_completed(hop, status.destination_recovery_point_arn.as_deref(), now)
                .await?;
            report.stuck_jobs_resolved += 1;
            return Ok(1);
        }
        "FAILED" | "ABORTED" | "EXPIRED" | "PARTIAL" => {
            let message = status
                .status_message
                .unwrap_or_else(|| format!("the copy job ended {}", status.state));
            let (class, fix) = classify_copy_failure(&message);
            let failure = HopFailure {
                copy_job_id: Some(job.to_string()),
                attempt: None,
                class,
                message: message.clone(),
            };
            if ctx
                .ports
                .ledger()
                .mark_failed(hop, &failure, now)
                .await?
                .is_some()
            {
                report.stuck_jobs_resolved += 1;
                if class == FailureClass::NeedsPerson {
                    let why = format!("copy job {job} failed: {message}. Likely fix: {fix}");
                    alert_hop(ctx, hop, ("failed (needs a person)", &why), report).await?;
                }
            }
        }
        _ => {
            report.in_flight += 1;
            if record.updated_at < now - ctx.config.stuck_after {
                stuck(ctx, hop, job, &status.state, record.updated_at, report).await?;
            }
        }
    }
    Ok(0)
}

/// A copy job not finished a day after it started. AWS runs one job per table at a time, so when
/// a table's chain needs more copying than a day holds, all its jobs queue: that is one shortfall
/// of the table (one alert), not one per hop.
async fn stuck<P: RouterPorts>(
    ctx: &RouteCtx<'_, P>,
    hop: &HopKey,
    job: &str,
    state: &str,
    since: DateTime<Utc>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let table = &hop.original.resource_arn;
    let alert = Alert {
        subject: format!("Backup Relay: copies of {table} are stuck"),
        message: format!(
            "Copy job {job} ({}, into {}) is still {state} {} hours after it started. AWS Backup \
             runs one job per table at a time: when a table's chain needs more copying than a day \
             holds, its copies queue and fall further behind every day, and copies of backups that \
             leave the look-back window are no longer watched.\nLikely fix: fewer vaults in the \
             chain of this table, or a less frequent backup plan; check AWS Backup's job list for \
             jobs waiting in CREATED.",
            ctx.route.name(),
            hop.destination_vault_arn,
            (ctx.ports.now() - since).num_hours()
        ),
        hop: Some(hop.clone()),
        account: None,
        resource: Some(table.clone()),
        route: None,
        all_chains: false,
    };
    report.alerts_sent +=
        u64::from(incident::raise(ctx.ports, format!("stuck#{table}"), alert).await?);
    report.stuck_tables.insert(table.clone());
    Ok(())
}

async fn guard_phase<P: RouterPorts>(
    ports: &P,
    vault: &Vault,
    cursor: Cursor,
    since: Option<DateTime<Utc>>,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let phase = cursor.phase;
    let lock: Option<VaultLock> = match ports.vault_lock(&vault.arn).await {
        Ok(l) => l,
        Err(e) if e.kind.is_transient() || e.is_account_denied() => return Err(e),
        Err(e) => {
            report.errors.push(format!("vault '{}': {e}", vault.alias));
            None
        }
    };
    let at = |token: Option<String>| Cursor {
        phase,
        token,
        ..Cursor::default()
    };
    let mut out = GuardOutcome::default();
    let mut token = cursor.token;
    let progress = loop {
        if budget.exhausted(report.pages) {
            break Progress::Stopped(at(token));
        }
        let page_token = token.clone();
        let query = ListQuery {
            created_after: since,
            created_before: None,
            resource_arn: None,
            page_token: token,
            page_size: 1000,
        };
        let p = page(ports, &vault.arn, query, report).await?;
        let mut out_of_time = false;
        for point in &p.items {
            if budget.past_deadline() {
                out_of_time = true;
                break;
            }
            report.points_scanned += 1;
            if let Err(e) =
                retention_guard::check_point(ports, vault, point, lock.as_ref(), &mut out).await
            {
                report
                    .errors
                    .push(format!("{}: {e}", point.recovery_point_arn));
            }
        }
        if out_of_time {
            // This page again next run: the points repaired here are compliant by then.
            break Progress::Stopped(at(page_token));
        }
        token = p.next_token;
        match &token {
            None => break Progress::Done,
            Some(_) => save(ports, &at(token.clone()), &report.watch).await?,
        }
    };
    report.lifecycles_repaired += u64::from(out.repaired);
    report.retention_violations += u64::from(out.violations);
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(progress)
}
