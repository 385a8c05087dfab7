//! The copy router: what the `copy-router` function does with one event, over the ports. The
//! decisions are the planner's; this only looks up what the plan needs, applies the plan through
//! the ledger so every side effect is claimed first, and reports what happened.

use std::collections::BTreeMap;

use chrono::Duration;
use serde::Serialize;
use serde_json::Value;

use crate::arn::VaultArn;
use crate::event::{EventDetail, EventError, JobState, ParsedEvent};
use crate::incident;
use crate::ledger::{self, ClaimOutcome, ClaimRequest, HopKey, HopRecord, Original};
use crate::patience::{Patience, Patient};
use crate::plan::{
    self, Action, CopyFailure, FailureClass, Observed, Plan, SkippedRoute, StartCopyJob,
};
use crate::policy::Policy;
use crate::ports::{
    Alert, Clock, CopyJobQuery, ErrorKind, HopFailure, LedgerPort, PortError, RouterPorts,
    StartedJob,
};

#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// A claim older than this belongs to an invocation that died (Lambda's limit is 15 minutes).
    pub stale_claim_after: Duration,
    /// How often a throttled or failed call is tried again before the event is retried whole.
    pub patience: Patience,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            stale_claim_after: Duration::minutes(15),
            patience: Patience {
                tries: 4,
                ..Patience::default()
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RouterError {
    /// The event cannot be read: it must go to the dead-letter path with its id.
    #[error("unreadable event{}: {source}", id.as_deref().map(|i| format!(" {i}")).unwrap_or_default())]
    UnreadableEvent {
        id: Option<String>,
        source: EventError,
    },
    /// AWS failed transiently: retrying the whole event is safe (every side effect is claimed).
    #[error("event {event_id}: {source}")]
    Transient { event_id: String, source: PortError },
    /// AWS refused in a way retrying the event cannot fix, and the refusal could not be recorded.
    #[error("event {event_id}: {source}")]
    Permanent { event_id: String, source: PortError },
}

impl RouterError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::UnreadableEvent { .. } => "UnreadableEvent",
            Self::Transient { source, .. } if source.kind == ErrorKind::Throttled => "Throttled",
            Self::Transient { .. } => "TransientAwsError",
            Self::Permanent { source, .. } if source.kind == ErrorKind::AccessDenied => {
                "AccessDenied"
            }
            Self::Permanent { .. } => "PermanentAwsError",
        }
    }
}

impl RouterError {
    /// An AWS failure while handling `event_id`: a transient one is retried with the whole event.
    pub fn from_port(event_id: &str, source: PortError) -> Self {
        let event_id = event_id.to_string();
        if source.kind.is_transient() {
            Self::Transient { event_id, source }
        } else {
            Self::Permanent { event_id, source }
        }
    }
}

/// Parse an event for a function; an unreadable one keeps its id, if it had one, for the dead letters.
pub fn parse_event(raw: &Value) -> Result<ParsedEvent, RouterError> {
    ParsedEvent::parse(raw).map_err(|source| RouterError::UnreadableEvent {
        id: raw.get("id").and_then(Value::as_str).map(str::to_string),
        source,
    })
}

/// What one event led to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RouteOutcome {
    pub event_id: String,
    pub ignored: Option<String>,
    /// Copy jobs started: (route, copy job id).
    pub started: Vec<(String, String)>,
    /// Hops another delivery already claimed: the duplicates suppressed.
    pub already_claimed: Vec<String>,
    /// Copy jobs an earlier try had started, found and recorded instead of starting another.
    pub adopted: Vec<(String, String)>,
    pub failures_recorded: u32,
    pub retries_started: u32,
    pub hops_completed: u32,
    pub lock_adjustments: Vec<String>,
    pub skipped: Vec<String>,
    pub alerts_sent: u32,
}

pub async fn handle_event<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    raw: &Value,
    config: &RouterConfig,
) -> Result<RouteOutcome, RouterError> {
    let ports = &Patient::new(ports, config.patience);
    let event = parse_event(raw)?;
    let event_id = event.envelope.id.clone();
    let fail = |source: PortError| RouterError::from_port(&event_id, source);
    let mut out = RouteOutcome {
        event_id: event_id.clone(),
        ..Default::default()
    };

    let needs = plan::plan_needs(&event, policy);
    let observed = match observe(ports, &needs).await {
        Ok(o) => o,
        // Nothing can be done in that account until a person fixes it; the reconciler re-drives then.
        Err(e) if e.is_account_denied() => {
            out.alerts_sent += u32::from(account_unreachable(ports, &e).await.map_err(&fail)?);
            out.ignored = Some(format!("account unreachable: {e}"));
            return Ok(out);
        }
        Err(e) => return Err(fail(e)),
    };
    let plan = plan::plan_event(&event, policy, &observed);
    out.ignored = plan.ignored.clone();

    if let (EventDetail::CopyJob(c), Some(point)) = (&event.detail, &observed.point) {
        if let (JobState::Completed, Some(dst), Some(resource)) = (
            &c.state,
            &c.destination_backup_vault_arn,
            &point.resource_arn,
        ) {
            let hop = HopKey::new(
                Original::new(resource.clone(), point.creation_date),
                dst.clone(),
            );
            let now = ports.now();
            if ports
                .ledger()
                .mark_completed(&hop, c.destination_recovery_point_arn.as_deref(), now)
                .await
                .map_err(&fail)?
            {
                out.hops_completed += 1;
            }
        }
    }

    // A deferred transient error: the rest of the plan still runs, then the event is retried.
    let mut retry_event: Option<PortError> = None;
    for skip in &plan.skipped_routes {
        let result = record_skip(ports, skip, &mut out).await;
        settle(ports, result, &mut retry_event, &mut out)
            .await
            .map_err(&fail)?;
    }
    for action in &plan.actions {
        let result = match action {
            Action::StartCopyJob(job) => start_hop(ports, job, config, &mut out).await,
            Action::RecordCopyFailure(failure) => record_failure(ports, failure, &mut out).await,
            // The retention guard's actions: its own function handles these events.
            Action::UpdateRecoveryPointLifecycle(_) | Action::RecordRetentionViolation(_) => Ok(()),
        };
        settle(ports, result, &mut retry_event, &mut out)
            .await
            .map_err(&fail)?;
    }
    match retry_event {
        Some(source) => Err(RouterError::Transient { event_id, source }),
        None => Ok(out),
    }
}

/// One action's result: a transient error is kept to retry the event after the rest ran; an
/// unreachable account becomes its one incident; anything else fails the event.
async fn settle<P: RouterPorts>(
    ports: &P,
    result: Result<(), PortError>,
    retry_event: &mut Option<PortError>,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind.is_transient() => {
            retry_event.get_or_insert(e);
            Ok(())
        }
        Err(e) if e.is_account_denied() => {
            out.alerts_sent += u32::from(account_unreachable(ports, &e).await?);
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// The one incident of an account whose executor role cannot be assumed.
pub(crate) async fn account_unreachable<P: RouterPorts>(
    ports: &P,
    error: &PortError,
) -> Result<bool, PortError> {
    let account = error.account.as_deref().unwrap_or_default();
    tracing::warn!(account, error = %error, "account unreachable");
    incident::raise_account(ports, account, error).await
}

/// Plan an event without touching anything: the `relay plan` command.
pub fn plan_only(raw: &Value, policy: &Policy, observed: &Observed) -> Result<Plan, EventError> {
    let event = ParsedEvent::parse(raw)?;
    Ok(plan::plan_event(&event, policy, observed))
}

pub(crate) async fn observe<P: RouterPorts>(
    ports: &P,
    needs: &plan::PlanNeeds,
) -> Result<Observed, PortError> {
    let mut observed = Observed::default();
    if let Some(resource) = &needs.tags_of {
        observed.resource_tags = match ports.resource_tags(resource).await {
            Ok(tags) => tags,
            // A deleted table has no tags: routes that select on tags do not match it.
            Err(e) if e.kind == ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => return Err(e),
        };
    }
    for vault in &needs.locks_of {
        match ports.vault_lock(vault).await {
            Ok(Some(lock)) => {
                observed.vault_locks.insert(vault.clone(), lock);
            }
            Ok(None) => {}
            // StartCopyJob gives the authoritative answer for a vault we cannot describe.
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::AccessDenied) => {
                tracing::warn!(vault = %vault, error = %e, "vault lock state unknown; planning without it");
            }
            Err(e) => return Err(e),
        }
    }
    if let Some((vault, recovery_point)) = &needs.describe {
        match ports.describe_recovery_point(vault, recovery_point).await {
            Ok(point) => observed.point = Some(point),
            Err(e) if e.kind == ErrorKind::NotFound => observed.point_missing = true,
            Err(e) => return Err(e),
        }
    }
    Ok(observed)
}

pub(crate) async fn start_hop<P: RouterPorts>(
    ports: &P,
    job: &StartCopyJob,
    config: &RouterConfig,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let hop = HopKey::new(
        job.original.clone(),
        job.destination_backup_vault_arn.clone(),
    );
    let req = ClaimRequest::new(job, ports.now(), config.stale_claim_after);
    let claim = ports.ledger().claim(&hop, &req).await?;
    if let ClaimOutcome::AlreadyTaken(_) = claim {
        tracing::info!(route = %job.route, attempt = job.attempt, "hop already claimed or held; duplicate suppressed");
        out.already_claimed.push(job.route.clone());
        return Ok(());
    }
    if let Some(previous) = claim.takeover() {
        // AWS's memory of the token is undocumented: look for the copy job the earlier try made.
        if let Some(found) = existing_copy_job(ports, job, previous).await? {
            tracing::info!(route = %job.route, copy_job_id = %found.copy_job_id, "copy job of an earlier try found; adopted");
            if !ports
                .ledger()
                .mark_started(&hop, job.attempt, &found, ports.now())
                .await?
            {
                tracing::warn!(route = %job.route, "claim lost before the adopted job was recorded");
            }
            out.adopted.push((job.route.clone(), found.copy_job_id));
            return Ok(());
        }
    }
    if let Some(adj) = &job.lock_adjustment {
        out.lock_adjustments.push(format!("{}: {adj}", job.route));
    }
    match ports.start_copy_job(job).await {
        Ok(copy_job_id) => {
            tracing::info!(route = %job.route, attempt = job.attempt, copy_job_id = %copy_job_id,
                account = %job.account, region = %job.region, "copy job started");
            let started = StartedJob::new(
                &copy_job_id,
                &job.recovery_point_arn,
                &job.source_backup_vault_arn,
            );
            if !ports
                .ledger()
                .mark_started(&hop, job.attempt, &started, ports.now())
                .await?
            {
                // Another invocation took the claim over meanwhile; its search finds this job.
                tracing::warn!(route = %job.route, copy_job_id = %copy_job_id, "claim lost before the started job was recorded");
            }
            out.started.push((job.route.clone(), copy_job_id));
            Ok(())
        }
        // Released: the same attempt is taken again later (after the account is fixed, if denied).
        Err(e) if e.kind.is_transient() || e.is_account_denied() => {
            tracing::warn!(route = %job.route, error = %e, "StartCopyJob did not go through; claim released");
            ports
                .ledger()
                .release(&hop, job.attempt, &e.to_string(), ports.now())
                .await?;
            Err(e)
        }
        Err(e) => refused(ports, job, hop, &e, out).await,
    }
}

/// StartCopyJob refused outright: retrying cannot help. Recorded, and alerted once for the hop.
async fn refused<P: RouterPorts>(
    ports: &P,
    job: &StartCopyJob,
    hop: HopKey,
    e: &PortError,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let failure = HopFailure {
        copy_job_id: None,
        attempt: Some(job.attempt),
        class: FailureClass::NeedsPerson,
        message: e.to_string(),
    };
    if ports
        .ledger()
        .mark_failed(&hop, &failure, ports.now())
        .await?
        .is_some()
    {
        out.failures_recorded += 1;
        let alert = Alert::about_hop(
            format!("Backup Relay: cannot start copy {}", job.route),
            format!(
                "StartCopyJob for route {} was refused in {}/{}.\nRecovery point: {}\nDestination: {}\nAWS said: {}\nLikely fix: {}",
                job.route, job.account, job.region, job.recovery_point_arn, job.destination_backup_vault_arn, e,
                refusal_fix(e.kind)
            ),
            hop.clone(),
        );
        out.alerts_sent += u32::from(incident::raise(ports, hop.incident_id(), alert).await?);
    }
    Ok(())
}

/// A copy job of this hop that an earlier try started and did not record: one not failed, from
/// the point this try copies or any point an earlier claim copied, found where each runs.
async fn existing_copy_job<P: RouterPorts>(
    ports: &P,
    job: &StartCopyJob,
    previous: &HopRecord,
) -> Result<Option<StartedJob>, PortError> {
    // No copy of this hop can predate its original; a claim's own time moves with every
    // takeover, so it is no bound for the first try's job.
    let since = job.original.creation_date - Duration::minutes(5);
    let mut places = vec![(
        job.source_backup_vault_arn.clone(),
        job.recovery_point_arn.clone(),
    )];
    let earlier = previous
        .source_vault_arn
        .as_deref()
        .zip(previous.source_recovery_point_arn.as_deref())
        .into_iter()
        .chain(
            previous
                .tried_sources
                .iter()
                .filter_map(|e| ledger::parse_source_entry(e)),
        );
    for (v, rp) in earlier {
        if !places
            .iter()
            .any(|(pv, prp)| (pv.as_str(), prp.as_str()) == (v, rp))
        {
            places.push((v.to_string(), rp.to_string()));
        }
    }
    for (vault_arn, recovery_point) in places {
        let Ok(vault) = VaultArn::parse(&vault_arn) else {
            continue;
        };
        let query = CopyJobQuery {
            resource_arn: job.original.resource_arn.clone(),
            destination_vault_arn: job.destination_backup_vault_arn.clone(),
            created_after: since,
        };
        let jobs = ports.find_copy_jobs(&vault.location(), &query).await?;
        // A job that may still make the copy, or made it: a FAILED or PARTIAL one is an earlier
        // attempt's, already recorded as failed.
        if let Some(found) = jobs.into_iter().find(|j| {
            j.source_recovery_point_arn.as_deref() == Some(recovery_point.as_str())
                && matches!(
                    j.state.as_str(),
                    "CREATED" | "PENDING" | "RUNNING" | "COMPLETED"
                )
        }) {
            return Ok(Some(StartedJob::new(
                &found.copy_job_id,
                &recovery_point,
                &vault_arn,
            )));
        }
    }
    Ok(None)
}

fn refusal_fix(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::AccessDenied => "the executor role in the source account must allow backup:StartCopyJob and iam:PassRole on the copy role",
        ErrorKind::NotFound => "the recovery point or a vault no longer exists: check the policy's vault ARNs",
        _ => "check the request against the policy (vault ARNs, copy role, retention)",
    }
}

/// Record a failed copy job against its own attempt. Retryable failures are retried by the
/// reconciler, with backoff; failures that need a person are alerted here, once.
async fn record_failure<P: RouterPorts>(
    ports: &P,
    failure: &CopyFailure,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let Some(original) = failure.original.clone() else {
        tracing::info!(copy_job_id = ?failure.copy_job_id, "failed copy's source point cannot be described; the reconciler finds the hop");
        return Ok(());
    };
    let hop = HopKey::new(original, failure.destination_backup_vault_arn.clone());
    let recorded = HopFailure {
        copy_job_id: failure.copy_job_id.clone(),
        attempt: None,
        class: failure.class,
        message: failure.status_message.clone(),
    };
    let Some(record) = ports
        .ledger()
        .mark_failed(&hop, &recorded, ports.now())
        .await?
    else {
        tracing::info!(copy_job_id = ?failure.copy_job_id, "copy failure already recorded or not ours");
        return Ok(());
    };
    out.failures_recorded += 1;
    if failure.class == FailureClass::Retryable {
        tracing::info!(route = ?failure.route, attempt = record.attempt, "retryable copy failure recorded; the reconciler retries it");
        return Ok(());
    }
    let alert = copy_failure_alert(failure, &hop, record.attempt, "needs a person");
    out.alerts_sent += u32::from(incident::raise(ports, hop.incident_id(), alert).await?);
    Ok(())
}

/// The alert for a hop that will not be copied without a person.
pub fn copy_failure_alert(failure: &CopyFailure, hop: &HopKey, attempt: u32, why: &str) -> Alert {
    Alert::about_hop(
        format!(
            "Backup Relay: copy {} failed ({why})",
            failure.route.as_deref().unwrap_or("outside the policy's routes")
        ),
        format!(
            "Copy job {} from {} failed in {}/{} (attempt {attempt}).\nSource recovery point: {}\nDestination vault: {}\nAWS said: {}\nLikely fix: {}",
            failure.copy_job_id.as_deref().unwrap_or("(no id)"),
            failure.source_backup_vault_arn.as_deref().unwrap_or("(unknown vault)"),
            failure.account,
            failure.region,
            failure.source_recovery_point_arn,
            failure.destination_backup_vault_arn,
            failure.status_message,
            failure.likely_fix
        ),
        hop.clone(),
    )
}

pub(crate) async fn record_skip<P: RouterPorts>(
    ports: &P,
    skip: &SkippedRoute,
    out: &mut RouteOutcome,
) -> Result<(), PortError> {
    let hop = HopKey::new(
        skip.original.clone(),
        skip.destination_backup_vault_arn.clone(),
    );
    out.skipped.push(format!("{}: {}", skip.route, skip.reason));
    if ports
        .ledger()
        .record_skipped(&hop, &skip.route, &skip.reason, ports.now())
        .await?
    {
        let alert = Alert::about_hop(
            format!("Backup Relay: copy {} skipped (vault lock)", skip.route),
            format!(
                "Recovery point {} was not copied to {}: {}.\nLikely fix: widen the vault lock's MaxRetentionDays, or set on_lock_conflict: clamp.",
                skip.recovery_point_arn, skip.destination_backup_vault_arn, skip.reason
            ),
            hop.clone(),
        );
        out.alerts_sent += u32::from(incident::raise(ports, hop.incident_id(), alert).await?);
    }
    Ok(())
}
