//! Before a hop is copied: does its vault already hold a copy of the original, or is a copy of it
//! on its way, whoever made or started it (a backup plan's own copy action, a person, an earlier
//! try of ours whose answer was lost)? design.md's hop identity: a COMPLETED copy is held, a copy
//! job under way is a claim, and a route that finds either stops there.

use chrono::Duration;

use relay_core::arn::{Location, TableArn, VaultArn};
use relay_core::ledger::{self, HopRecord, Original};
use relay_core::plan::StartCopyJob;
use relay_core::ports::{
    BackupPort, CopyJobQuery, CopyJobSummary, ErrorKind, ListQuery, PortError, StartedJob,
};

/// What a hop's vault already has of the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// Nothing: the hop is ours to copy.
    Nothing,
    /// A COMPLETED copy (its recovery point ARN): the hop is done.
    Held(String),
    /// A copy job not yet ended: the hop is claimed by it.
    UnderWay(StartedJob),
}

/// Jobs of a later backup of the same table into the vault also match a ListCopyJobs query by
/// resource and destination; jobs older than the original (less a margin for clocks) cannot be
/// of it.
const JOB_MARGIN_MINUTES: i64 = 5;

/// What the caller already knows of the destination's listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    /// Nothing: list it.
    Unread,
    /// Listed moments ago (the reconciler's own pass): it did not hold the copy.
    NotHeld,
}

/// The destination's listing first (what it holds, however it got there), then the copy jobs of
/// the original's table into it where they run: the original's own account and Region (a backup
/// plan's copy action runs there) and, after a claim taken over, where every earlier try ran.
pub async fn existing_copy<P: BackupPort>(
    ports: &P,
    job: &StartCopyJob,
    previous: Option<&HopRecord>,
    listing: Listing,
) -> Result<Existing, PortError> {
    let Ok(destination) = VaultArn::parse(&job.destination_backup_vault_arn) else {
        return Ok(Existing::Nothing);
    };
    let listed = match listing {
        Listing::NotHeld => Ok(None),
        Listing::Unread => held_in(ports, &destination, &job.original).await,
    };
    let listed = match listed {
        Ok(Some(point)) => return Ok(Existing::Held(point)),
        Ok(None) => true,
        // A destination that cannot be read (another account's broken role, a vault gone): the
        // copy jobs still tell what is under way, and StartCopyJob gives AWS's own answer.
        Err(e) if matches!(e.kind, ErrorKind::AccessDenied | ErrorKind::NotFound) => {
            tracing::warn!(vault = %destination, error = %e, "destination cannot be listed; judging by its copy jobs");
            false
        }
        Err(e) => return Err(e),
    };
    let query = CopyJobQuery {
        resource_arn: job.original.resource_arn.clone(),
        destination_vault_arn: job.destination_backup_vault_arn.clone(),
        created_after: job.original.creation_date - Duration::minutes(JOB_MARGIN_MINUTES),
    };
    let known = known_sources(job, previous);
    for place in job_places(job, previous) {
        let jobs = match ports.find_copy_jobs(&place, &query).await {
            Ok(jobs) => jobs,
            // A place we may not look into (its account's role is broken) cannot be judged;
            // the places that can still are.
            Err(e) if e.kind == ErrorKind::AccessDenied && place.account != job.account => {
                tracing::warn!(at = %place, error = %e, "copy jobs there cannot be listed");
                continue;
            }
            Err(e) => return Err(e),
        };
        for found in jobs.iter().filter(|j| j.is_live()) {
            if !of_original(ports, &job.original, &known, found).await? {
                continue;
            }
            match (found.state.as_str(), listed) {
                // The vault was listed and does not hold it: deleted or expired since.
                ("COMPLETED", true) => continue,
                ("COMPLETED", false) => {
                    if let Some(point) = &found.destination_recovery_point_arn {
                        return Ok(Existing::Held(point.clone()));
                    }
                }
                _ => return Ok(Existing::UnderWay(started(found, &place, &destination))),
            }
        }
    }
    Ok(Existing::Nothing)
}

/// A COMPLETED copy of the original in the vault, from its listing: copies keep the original's
/// resource and creation date, so one narrow window finds it.
pub async fn held_in<P: BackupPort>(
    ports: &P,
    vault: &VaultArn,
    original: &Original,
) -> Result<Option<String>, PortError> {
    // AWS filters by whole seconds and does not say whether its bounds are inclusive.
    let edge = Duration::seconds(1);
    let mut query = ListQuery {
        created_after: Some(original.creation_date - edge),
        created_before: Some(original.creation_date + edge),
        resource_arn: Some(original.resource_arn.clone()),
        page_token: None,
        page_size: 100,
    };
    let want = original.creation_date.timestamp_millis();
    loop {
        let page = ports.list_recovery_points(vault, &query).await?;
        let held = page.items.into_iter().find(|p| {
            p.resource_arn.as_deref() == Some(original.resource_arn.as_str())
                && p.creation_date.timestamp_millis() == want
                && p.status
                    .as_deref()
                    .is_none_or(|s| matches!(s, "COMPLETED" | "AVAILABLE"))
        });
        if let Some(point) = held {
            return Ok(Some(point.recovery_point_arn));
        }
        match page.next_token {
            Some(token) => query.page_token = Some(token),
            None => return Ok(None),
        }
    }
}

/// Recovery points known to be copies of this hop's original: the one this try copies and every
/// one an earlier claim of the hop copied (a hop's record is per original).
fn known_sources(job: &StartCopyJob, previous: Option<&HopRecord>) -> Vec<String> {
    let mut known = vec![job.recovery_point_arn.clone()];
    if let Some(r) = previous {
        known.extend(r.source_recovery_point_arn.clone());
        known.extend(
            r.tried_sources
                .iter()
                .filter_map(|e| ledger::parse_source_entry(e))
                .map(|(_, rp)| rp.to_string()),
        );
    }
    known
}

/// Where copy jobs of the original into the vault may run, each place once: the original's own
/// account and Region (a backup plan's copy action runs there) and, after a claim taken over,
/// this try's source and every earlier try's (their StartCopyJob may have reached AWS).
fn job_places(job: &StartCopyJob, previous: Option<&HopRecord>) -> Vec<Location> {
    let home = TableArn::parse(&job.original.resource_arn)
        .ok()
        .map(|t| t.location());
    let here = previous.map(|_| Location {
        partition: job.partition.clone(),
        account: job.account.clone(),
        region: job.region.clone(),
    });
    let earlier = previous.into_iter().flat_map(|r| {
        r.source_vault_arn.iter().cloned().chain(
            r.tried_sources
                .iter()
                .filter_map(|e| ledger::parse_source_entry(e))
                .map(|(v, _)| v.to_string()),
        )
    });
    let mut places: Vec<Location> = Vec::new();
    let candidates = home
        .into_iter()
        .chain(here)
        .chain(earlier.filter_map(|v| VaultArn::parse(&v).ok().map(|v| v.location())));
    for place in candidates {
        if !places.contains(&place) {
            places.push(place);
        }
    }
    places
}

/// Is a job into the vault a copy of this original? Its source is a known copy of it, or a point
/// of the same creation date (a later backup of the table is another original).
async fn of_original<P: BackupPort>(
    ports: &P,
    original: &Original,
    known: &[String],
    found: &CopyJobSummary,
) -> Result<bool, PortError> {
    let Some(source) = found.source_recovery_point_arn.as_deref() else {
        return Ok(false);
    };
    if known.iter().any(|k| k == source) {
        return Ok(true);
    }
    let Some(vault) = found
        .source_backup_vault_arn
        .as_deref()
        .and_then(|v| VaultArn::parse(v).ok())
    else {
        return Ok(false);
    };
    match ports.describe_recovery_point(&vault, source).await {
        Ok(point) => Ok(point.creation_date.timestamp_millis()
            == original.creation_date.timestamp_millis()
            && point.resource_arn.as_deref() == Some(original.resource_arn.as_str())),
        // A source gone or out of reach: a job from it will not make this copy, or cannot be told.
        Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::AccessDenied) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The job as the ledger records an adopted one: where it runs is where it was found.
fn started(found: &CopyJobSummary, place: &Location, destination: &VaultArn) -> StartedJob {
    let source_vault = found
        .source_backup_vault_arn
        .clone()
        .filter(|v| VaultArn::parse(v).is_ok_and(|v| v.location() == *place))
        .unwrap_or_else(|| {
            // Only its location is read back (DescribeCopyJob where the job runs).
            format!(
                "arn:{}:backup:{}:{}:backup-vault:{}",
                place.partition, place.region, place.account, destination.name
            )
        });
    StartedJob::new(
        &found.copy_job_id,
        found
            .source_recovery_point_arn
            .as_deref()
            .unwrap_or_default(),
        &source_vault,
    )
}
