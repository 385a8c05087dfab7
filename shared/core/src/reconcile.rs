//! The reconciler: on a schedule, walks every route and finds recovery points whose copy is missing
//! (lost events, failed copies, crashed invocations), re-drives them through the same planning and
//! ledger (exactly-once still holds), retries retryable failures with exponential backoff, gives up
//! after `max_attempts` with one alert, and re-checks every never_expire vault with the guard.
//!
//! Work is bounded: pages of up to 1000, a page budget or deadline per run, and a cursor saved after
//! every page so the next run resumes where this one stopped.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::arn::{RecoveryPointArn, VaultArn};
use crate::guard::PointView;
use crate::ledger::{retry_backoff, HopKey, HopState};
use crate::plan::{self, classify_copy_failure, FailureClass, Observed, Tags};
use crate::policy::{Policy, Route, Vault};
use crate::ports::{Alert, ErrorKind, HopFailure, LedgerPort, ListQuery, PortError, RouterPorts};
use crate::retention::VaultLock;
use crate::retention_guard::{self, is_never_expire, GuardOutcome};
use crate::router::{self, RouteOutcome, RouterConfig};

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
    pub router: RouterConfig,
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
            started_check_after: Duration::hours(6),
            router: RouterConfig::default(),
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
    let mut report = ReconcileReport::default();
    let saved = ports.ledger().load_cursor().await?;
    let mut cursor = match saved.as_deref().map(serde_json::from_str::<Cursor>) {
        Some(Ok(c)) => {
            report.resumed = true;
            c
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "unreadable reconciler cursor; starting a new pass");
            Cursor::default()
        }
        None => Cursor::default(),
    };
    let phases = phases(policy);
    while let Some(phase) = phases.get(cursor.phase) {
        let progress = match phase {
            Phase::Route(route) => {
                route_phase(
                    ports,
                    policy,
                    route,
                    cursor.clone(),
                    config,
                    budget,
                    &mut report,
                )
                .await?
            }
            Phase::NeverExpire(vault) => {
                guard_phase(ports, vault, cursor.clone(), budget, &mut report).await?
            }
        };
        match progress {
            Progress::Done => {
                cursor = Cursor {
                    phase: cursor.phase + 1,
                    ..Cursor::default()
                };
                save(ports, &cursor).await?;
            }
            Progress::Stopped(at) => {
                save(ports, &at).await?;
                tracing::info!(
                    phase = at.phase,
                    pages = report.pages,
                    "run budget used; the next run resumes here"
                );
                return Ok(report);
            }
        }
    }
    ports.ledger().save_cursor(None, ports.now()).await?;
    report.pass_complete = true;
    Ok(report)
}

async fn save<P: RouterPorts>(ports: &P, cursor: &Cursor) -> Result<(), PortError> {
    let text = serde_json::to_string(cursor)
        .map_err(|e| PortError::new(ErrorKind::Permanent, "cursor", None, e.to_string()))?;
    ports.ledger().save_cursor(Some(&text), ports.now()).await
}

/// List a page; a page token AWS no longer accepts restarts the listing.
async fn page<P: RouterPorts>(
    ports: &P,
    vault: &VaultArn,
    query: ListQuery,
    report: &mut ReconcileReport,
) -> Result<crate::ports::Page<PointView>, PortError> {
    report.pages += 1;
    match ports.list_recovery_points(vault, &query).await {
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
    }
}

/// One route: the look-back is walked in creation-date windows. For each window, first what the
/// destination holds, then the sources. A window whose destination listing does not fit in a run
/// is halved for the next run; after a sparse window the next one is twice as long.
async fn route_phase<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    route: &Route,
    cursor: Cursor,
    config: &ReconcileConfig,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let (Some(from), Some(to)) = (policy.vault(&route.from), policy.vault(&route.to)) else {
        return Ok(Progress::Done);
    };
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
    match ports.vault_lock(&to.arn).await {
        Ok(Some(lock)) => {
            observed.vault_locks.insert(to.arn.clone(), lock);
        }
        Ok(None) => {}
        Err(e) if e.kind.is_transient() => return Err(e),
        Err(e) => report.errors.push(format!("{}: {e}", route.name())),
    }
    let mut tags: BTreeMap<String, Tags> = BTreeMap::new();
    while start <= now {
        let end = start + Duration::minutes(minutes);
        let here = |token: Option<String>, minutes: i64| Cursor {
            phase: cursor.phase,
            token,
            window_start: Some(start),
            window_minutes: Some(minutes),
        };
        // What the destination holds in this window: copies keep their source's resource and creation date.
        let mut held: HashMap<String, HashSet<i64>> = HashMap::new();
        let mut to_token = None;
        // Only a window that had a whole run to itself and still did not fit is made smaller.
        let fresh = report.pages == 0;
        let index_start = report.pages;
        loop {
            if budget.exhausted(report.pages) {
                if !fresh {
                    return Ok(Progress::Stopped(here(token, minutes)));
                }
                if minutes > MIN_WINDOW_MINUTES {
                    // Its source walk starts over in the smaller window.
                    return Ok(Progress::Stopped(here(
                        None,
                        (minutes / 2).max(MIN_WINDOW_MINUTES),
                    )));
                }
                // The smallest window is finished past the budget, so every run makes progress.
            }
            let query = ListQuery {
                created_after: Some(start - EDGE),
                created_before: Some(end + EDGE),
                page_token: to_token,
                page_size: config.page_size,
            };
            let p = page(ports, &to.arn, query, report).await?;
            for point in p.items {
                if let Some(resource) = point.resource_arn {
                    held.entry(resource)
                        .or_default()
                        .insert(point.creation_date.timestamp_millis());
                }
            }
            to_token = p.next_token;
            if to_token.is_none() {
                break;
            }
        }
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
                page_token: token,
                page_size: config.page_size,
            };
            let p = page(ports, &from.arn, query, report).await?;
            for point in &p.items {
                if budget.past_deadline() {
                    // This page again next run: what was done here is found done then.
                    return Ok(Progress::Stopped(here(page_token, minutes)));
                }
                report.points_scanned += 1;
                if let Err(e) = examine(
                    ports, policy, route, from, to, point, &held, &observed, &mut tags, config,
                    report,
                )
                .await
                {
                    if e.kind.is_transient() {
                        report.errors.push(format!(
                            "{} {}: {e}",
                            route.name(),
                            point.recovery_point_arn
                        ));
                    } else {
                        return Err(e);
                    }
                }
            }
            token = p.next_token;
            match &token {
                None => break,
                Some(_) => save(ports, &here(token.clone(), minutes)).await?,
            }
        }
        start = end;
        // Sparse stretches (a one-page destination listing) grow the next window; dense ones keep it.
        if index_pages <= 1 {
            minutes = (minutes * 2).min(whole);
        }
        save(
            ports,
            &Cursor {
                phase: cursor.phase,
                token: None,
                window_start: Some(start),
                window_minutes: Some(minutes),
            },
        )
        .await?;
    }
    Ok(Progress::Done)
}

#[allow(clippy::too_many_arguments)]
async fn examine<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    route: &Route,
    from: &Vault,
    to: &Vault,
    point: &PointView,
    held: &HashMap<String, HashSet<i64>>,
    observed: &Observed,
    tags: &mut BTreeMap<String, Tags>,
    config: &ReconcileConfig,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    if !point
        .status
        .as_deref()
        .is_none_or(|s| matches!(s, "COMPLETED" | "AVAILABLE"))
    {
        return Ok(());
    }
    if !point
        .resource_type
        .as_deref()
        .is_none_or(|t| route.select.resource_types.iter().any(|rt| rt == t))
    {
        return Ok(());
    }
    let Some(resource) = point.resource_arn.clone() else {
        return Ok(());
    };
    let now = ports.now();
    if point
        .completion_date
        .is_some_and(|c| c > now - config.settle)
    {
        report.settling += 1;
        return Ok(());
    }
    if held
        .get(&resource)
        .is_some_and(|s| s.contains(&point.creation_date.timestamp_millis()))
    {
        return Ok(());
    }
    if !route.select.tags.is_empty() {
        if !tags.contains_key(&resource) {
            let t = match ports.resource_tags(&resource).await {
                Ok(t) => t,
                Err(e) if e.kind == ErrorKind::NotFound => Tags::new(),
                Err(e) => return Err(e),
            };
            tags.insert(resource.clone(), t);
        }
        if !tags
            .get(&resource)
            .is_some_and(|t| route.select.matches(point.resource_type.as_deref(), t))
        {
            return Ok(());
        }
    }
    let native =
        RecoveryPointArn::parse(&point.recovery_point_arn).is_ok_and(|a| a.is_dynamodb_native());
    if native || matches!(point.storage_class.as_deref(), Some("COLD" | "DELETED")) {
        report.not_copyable += 1;
        return Ok(());
    }
    report.copies_missing += 1;
    let hop = HopKey::new(point.recovery_point_arn.clone(), to.arn.to_string());
    let Some(record) = ports.ledger().get(&hop).await? else {
        report.redriven += start(ports, policy, route, point, 1, observed, config, report).await?;
        return Ok(());
    };
    let abandoned = record.state == HopState::Released
        || (record.state == HopState::Claimed
            && record
                .claimed_at
                .is_some_and(|t| t < now - config.router.stale_claim_after));
    if abandoned {
        // A released claim, or one left by a dead invocation: the same attempt, the same token.
        report.reclaimed += start(
            ports,
            policy,
            route,
            point,
            record.attempt,
            observed,
            config,
            report,
        )
        .await?;
        return Ok(());
    }
    match record.state {
        HopState::Claimed | HopState::Released => report.in_flight += 1,
        HopState::Started if record.updated_at < now - config.started_check_after => {
            resolve_started(
                ports,
                route,
                from,
                &hop,
                record.copy_job_id.as_deref(),
                report,
            )
            .await?
        }
        HopState::Started => report.in_flight += 1,
        HopState::Failed if record.failure_class == Some(FailureClass::Retryable) => {
            if record.attempt >= config.max_attempts {
                let message = record.status_message.clone().unwrap_or_default();
                let reason = format!("gave up after {} attempts", record.attempt);
                if ports
                    .ledger()
                    .escalate(&hop, record.attempt, &reason, now)
                    .await?
                {
                    report.escalated += 1;
                    let (_, fix) = classify_copy_failure(&message);
                    let alert = Alert {
                        subject: format!("Backup Relay: copy {} failed ({reason})", route.name()),
                        message: format!(
                            "Recovery point {} was not copied to {} after {} attempts.\nLast status from AWS: {message}\nLikely fix: {fix}",
                            point.recovery_point_arn, to.arn, record.attempt
                        ),
                        hop: Some(hop),
                    };
                    ports.send(&alert).await?;
                    report.alerts_sent += 1;
                }
            } else if now
                >= record.updated_at
                    + retry_backoff(record.attempt + 1, config.backoff_base, config.backoff_max)
            {
                report.retries += start(
                    ports,
                    policy,
                    route,
                    point,
                    record.attempt + 1,
                    observed,
                    config,
                    report,
                )
                .await?;
            } else {
                report.waiting_for_backoff += 1;
            }
        }
        // Needs a person (already alerted), deliberately skipped, or done.
        HopState::Failed | HopState::Skipped | HopState::Completed => {}
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
/// Start one attempt of a hop through the router's own claim-then-start. Returns 1 if a copy job started.
async fn start<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    route: &Route,
    point: &PointView,
    attempt: u32,
    observed: &Observed,
    config: &ReconcileConfig,
    report: &mut ReconcileReport,
) -> Result<u64, PortError> {
    let mut out = RouteOutcome::default();
    match plan::plan_hop(
        policy,
        &route.name(),
        &point.recovery_point_arn,
        point.resource_arn.clone(),
        attempt,
        observed,
    ) {
        Some(Ok(job)) => router::start_hop(ports, &job, &config.router, &mut out).await?,
        Some(Err(skip)) => router::record_skip(ports, &skip, &mut out).await?,
        None => {}
    }
    report.lock_adjustments += out.lock_adjustments.len() as u64;
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(out.started.len() as u64)
}

/// A STARTED hop whose events never came: ask AWS how its copy job ended.
async fn resolve_started<P: RouterPorts>(
    ports: &P,
    route: &Route,
    from: &Vault,
    hop: &HopKey,
    copy_job_id: Option<&str>,
    report: &mut ReconcileReport,
) -> Result<(), PortError> {
    let Some(job) = copy_job_id else {
        report.in_flight += 1;
        return Ok(());
    };
    let status = match ports.copy_job_status(&from.arn.location(), job).await {
        Ok(s) => s,
        Err(e) if e.kind == ErrorKind::NotFound => crate::ports::CopyJobStatus {
            state: "FAILED".into(),
            status_message: Some(format!("copy job {job} is unknown to AWS Backup")),
            destination_recovery_point_arn: None,
        },
        Err(e) => return Err(e),
    };
    let now = ports.now();
    match status.state.as_str() {
        "COMPLETED" => {
            ports
                .ledger()
                .mark_completed(hop, status.destination_recovery_point_arn.as_deref(), now)
                .await?;
            report.stuck_jobs_resolved += 1;
        }
        "FAILED" | "ABORTED" | "EXPIRED" => {
            let message = status
                .status_message
                .unwrap_or_else(|| "(no status message)".into());
            let (class, fix) = classify_copy_failure(&message);
            let failure = HopFailure {
                copy_job_id: Some(job.to_string()),
                attempt: None,
                class,
                message: message.clone(),
            };
            if let Some(record) = ports.ledger().mark_failed(hop, &failure, now).await? {
                report.stuck_jobs_resolved += 1;
                if class == FailureClass::NeedsPerson {
                    let alert = Alert {
                        subject: format!("Backup Relay: copy {} failed (needs a person)", route.name()),
                        message: format!(
                            "Copy job {job} failed (attempt {}).\nSource recovery point: {}\nDestination vault: {}\nAWS said: {message}\nLikely fix: {fix}",
                            record.attempt, hop.source_recovery_point_arn, hop.destination_vault_arn
                        ),
                        hop: Some(hop.clone()),
                    };
                    ports.send(&alert).await?;
                    report.alerts_sent += 1;
                }
            }
        }
        _ => report.in_flight += 1,
    }
    Ok(())
}

async fn guard_phase<P: RouterPorts>(
    ports: &P,
    vault: &Vault,
    cursor: Cursor,
    budget: RunBudget,
    report: &mut ReconcileReport,
) -> Result<Progress, PortError> {
    let phase = cursor.phase;
    let start = cursor.token;
    let lock: Option<VaultLock> = match ports.vault_lock(&vault.arn).await {
        Ok(l) => l,
        Err(e) if e.kind.is_transient() => return Err(e),
        Err(e) => {
            report.errors.push(format!("vault '{}': {e}", vault.alias));
            None
        }
    };
    let mut out = GuardOutcome::default();
    let mut token = start;
    let progress = loop {
        if budget.exhausted(report.pages) {
            break Progress::Stopped(Cursor {
                phase,
                token,
                ..Cursor::default()
            });
        }
        let page_token = token.clone();
        let p = page(
            ports,
            &vault.arn,
            ListQuery {
                created_after: None,
                created_before: None,
                page_token: token,
                page_size: 1000,
            },
            report,
        )
        .await?;
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
                if e.kind.is_transient() {
                    report
                        .errors
                        .push(format!("{}: {e}", point.recovery_point_arn));
                } else {
                    return Err(e);
                }
            }
        }
        if out_of_time {
            // This page again next run: the points repaired here are compliant by then.
            break Progress::Stopped(Cursor {
                phase,
                token: page_token,
                ..Cursor::default()
            });
        }
        token = p.next_token;
        match &token {
            None => break Progress::Done,
            Some(_) => {
                save(
                    ports,
                    &Cursor {
                        phase,
                        token: token.clone(),
                        ..Cursor::default()
                    },
                )
                .await?
            }
        }
    };
    report.lifecycles_repaired += u64::from(out.repaired);
    report.retention_violations += u64::from(out.violations);
    report.alerts_sent += u64::from(out.alerts_sent);
    Ok(progress)
}
