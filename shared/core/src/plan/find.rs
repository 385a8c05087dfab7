//! What an event is about, as far as planning goes: a landed recovery point to copy on, a failed
//! copy or backup to record, a point for the retention guard, or nothing (and why, in words).
//! An event that contradicts itself, or comes from another account or Region than its job's,
//! is nothing.

use super::*;
use crate::event::{CopyJobEvent, Envelope};

/// A recovery point that has just landed in a vault, ready to be copied on.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Landing {
    pub(super) recovery_point: String,
    pub(super) vault: VaultArn,
    pub(super) resource_arn: Option<String>,
    pub(super) resource_type: Option<String>,
    /// From the event: the creation date it carries (the original's only for backup jobs).
    pub(super) event_creation_date: Option<chrono::DateTime<chrono::Utc>>,
    /// The vault a copy came from (`None`: a backup made in `vault`).
    pub(super) source_vault: Option<String>,
    /// Where AWS emits this event: the job's own account and Region (a copy job's source).
    pub(super) emitted_at: Option<Location>,
    /// The recovery point a copy was made from (`resources[0]` of its event).
    pub(super) source_point: Option<String>,
}

pub(super) enum Found<'p> {
    Landed(Landing, &'p Vault),
    Failed(CopyFailure),
    /// A backup job into a vault of the policy failed: no original was made.
    BackupFailed(BackupFailure),
    /// A recovery point in a never_expire vault, for the guard.
    Guarded(PointView, &'p Vault),
    Nothing(String),
}

pub(super) fn guard_found<'p>(r: &RecoveryPointEvent, policy: &'p Policy) -> Found<'p> {
    if !matches!(r.status.as_str(), "COMPLETED" | "AVAILABLE") {
        return Found::Nothing(format!(
            "recovery point is {}: only COMPLETED or AVAILABLE points are checked",
            r.status
        ));
    }
    let Some(vault_arn) = event_vault(r, r.recovery_point_arn.as_deref()) else {
        return Found::Nothing("recovery point event names no readable vault".into());
    };
    let Some(vault) = policy.vault_by_arn(&vault_arn) else {
        return Found::Nothing(format!("vault {vault_arn} is not in the policy"));
    };
    if let Some(why) = r
        .recovery_point_arn
        .as_deref()
        .and_then(|rp| misplaced(rp, &vault_arn))
    {
        return Found::Nothing(why);
    }
    if !matches!(vault.retention, Some(Retention::NeverExpire { .. })) {
        return Found::Nothing(format!(
            "vault '{}' is not a never_expire vault: nothing for the retention guard",
            vault.alias
        ));
    }
    match point_from_event(r, &vault_arn) {
        Some(point) => Found::Guarded(point, vault),
        None => Found::Nothing("the event lacks the recovery point's ARN or creation date".into()),
    }
}

/// A backup job's recovery point, once COMPLETED; a failed backup into a vault of the policy is a
/// shortfall to record (no original, so no chain).
pub(super) fn backup_landing<'p>(
    b: &BackupJobEvent,
    env: &Envelope,
    policy: &'p Policy,
) -> Result<Landing, Box<Found<'p>>> {
    let vault = match (&b.backup_vault_arn, &b.backup_vault_name) {
        (Some(arn), _) => VaultArn::parse(arn).ok(),
        (None, Some(name)) => {
            let partition = b
                .recovery_point_arn
                .as_deref()
                .and_then(|rp| RecoveryPointArn::parse(rp).ok())
                .map(|p| p.location().partition)
                .unwrap_or_else(|| crate::arn::partition_of_region(&env.region).to_string());
            VaultArn::parse(&format!(
                "arn:{partition}:backup:{}:{}:backup-vault:{name}",
                env.region, env.account
            ))
            .ok()
        }
        (None, None) => None,
    };
    if matches!(
        b.state,
        JobState::Failed | JobState::Aborted | JobState::Expired
    ) {
        let in_policy = vault.as_ref().and_then(|v| policy.vault_by_arn(v));
        return Err(Box::new(match (in_policy, vault) {
            (Some(_), Some(vault)) => Found::BackupFailed(BackupFailure {
                account: vault.account.clone(),
                region: vault.region.clone(),
                backup_vault_arn: vault.to_string(),
                resource_arn: b.resource_arn.clone(),
                backup_job_id: b.backup_job_id.clone(),
                state: b.state.as_str().to_string(),
                status_message: b
                    .status_message
                    .clone()
                    .unwrap_or_else(|| "(no status message)".into()),
            }),
            _ => Found::Nothing(format!(
                "backup job is {} into a vault outside the policy",
                b.state.as_str()
            )),
        }));
    }
    if b.state != JobState::Completed {
        return Err(Box::new(Found::Nothing(format!(
            "backup job is {}: only COMPLETED backups are copied",
            b.state.as_str()
        ))));
    }
    let Some(rp) = b.recovery_point_arn.clone() else {
        return Err(Box::new(Found::Nothing(
            "completed backup job names no recovery point (resources is empty)".into(),
        )));
    };
    let Some(vault) = vault else {
        return Err(Box::new(Found::Nothing(
            "backup job event names no readable backup vault".into(),
        )));
    };
    Ok(Landing {
        recovery_point: rp,
        emitted_at: Some(vault.location()),
        vault,
        resource_arn: b.resource_arn.clone(),
        resource_type: b.resource_type.clone(),
        event_creation_date: b.creation_date,
        source_vault: None,
        source_point: None,
    })
}

pub(super) fn find<'p>(event: &ParsedEvent, policy: &'p Policy) -> Found<'p> {
    let env = &event.envelope;
    let landing = match &event.detail {
        EventDetail::BackupJob(b) => match backup_landing(b, env, policy) {
            Ok(landing) => landing,
            Err(found) => return *found,
        },
        EventDetail::CopyJob(c) => match copy_landing(c, env, policy) {
            Ok(landing) => landing,
            Err(found) => return *found,
        },
        EventDetail::RecoveryPoint(r) => return guard_found(r, policy),
        EventDetail::Other => {
            return Found::Nothing(format!(
                "'{}' events need no action from the copy router",
                env.detail_type
            ))
        }
        EventDetail::Unknown => {
            return Found::Nothing(format!(
                "unknown aws.backup detail-type '{}'",
                env.detail_type
            ))
        }
        EventDetail::ForeignSource => {
            return Found::Nothing(format!("event source '{}' is not aws.backup", env.source))
        }
    };
    if let Some(why) = misplaced(&landing.recovery_point, &landing.vault) {
        return Found::Nothing(why);
    }
    if let Some(why) = landing
        .emitted_at
        .as_ref()
        .and_then(|at| foreign_envelope(env, at))
    {
        return Found::Nothing(why);
    }
    if let Ok(rp) = RecoveryPointArn::parse(&landing.recovery_point) {
        if rp.is_dynamodb_native() {
            return Found::Nothing(format!(
                "{} is a DynamoDB-native backup: it cannot be copied (only backups made with AWS Backup advanced features for DynamoDB can); it is reported, not copied",
                landing.recovery_point
            ));
        }
    }
    let Some(vault) = policy.vault_by_arn(&landing.vault) else {
        return Found::Nothing(format!("vault {} is not in the policy", landing.vault));
    };
    Found::Landed(landing, vault)
}

/// A copy job's landed recovery point, once COMPLETED; a FAILED or PARTIAL one is a failure to
/// record (a PARTIAL copy is not a held copy: it is retried).
pub(super) fn copy_landing<'p>(
    c: &CopyJobEvent,
    env: &Envelope,
    policy: &'p Policy,
) -> Result<Landing, Box<Found<'p>>> {
    let nothing = |why: String| Box::new(Found::Nothing(why));
    let Some(dest) = c
        .destination_backup_vault_arn
        .as_deref()
        .and_then(|a| VaultArn::parse(a).ok())
    else {
        return Err(nothing(
            "copy job event names no readable destination vault".into(),
        ));
    };
    match c.state {
        JobState::Completed => {}
        JobState::Failed | JobState::Partial => {
            return Err(Box::new(failed_copy(c, env, policy, &dest)));
        }
        ref other => {
            return Err(nothing(format!(
                "copy job is {}: only COMPLETED copies are chained and FAILED ones recorded",
                other.as_str()
            )))
        }
    }
    let Some(rp) = c.destination_recovery_point_arn.clone() else {
        return Err(nothing(
            "completed copy job names no destination recovery point".into(),
        ));
    };
    Ok(Landing {
        recovery_point: rp,
        vault: dest,
        resource_arn: c.resource_arn.clone(),
        resource_type: c.resource_type.clone(),
        event_creation_date: c.creation_date,
        source_vault: c.source_backup_vault_arn.clone(),
        source_point: c.source_recovery_point_arn.clone(),
        emitted_at: c
            .source_recovery_point_arn
            .as_deref()
            .and_then(|rp| RecoveryPointArn::parse(rp).ok())
            .map(|rp| rp.location()),
    })
}

/// A failed (or partial) copy job between vaults of the policy: recorded against its own job,
/// classified as retryable or needing a person.
pub(super) fn failed_copy<'p>(
    c: &CopyJobEvent,
    env: &Envelope,
    policy: &'p Policy,
    dest: &VaultArn,
) -> Found<'p> {
    let Some(source_rp) = c.source_recovery_point_arn.clone() else {
        return Found::Nothing(
            "failed copy job names no source recovery point (resources is empty)".into(),
        );
    };
    let alias_of = |arn: Option<&str>| {
        arn.and_then(|a| VaultArn::parse(a).ok())
            .and_then(|v| policy.vault_by_arn(&v).map(|v| v.alias.clone()))
    };
    let src_alias = alias_of(c.source_backup_vault_arn.as_deref());
    let dst_alias = policy.vault_by_arn(dest).map(|v| v.alias.clone());
    if src_alias.is_none() && dst_alias.is_none() {
        return Found::Nothing(format!(
            "copy job failed between vaults outside the policy (to {dest})"
        ));
    }
    let route = match (&src_alias, &dst_alias) {
        (Some(s), Some(d)) if policy.routes.iter().any(|r| &r.from == s && &r.to == d) => {
            Some(format!("{s}->{d}"))
        }
        _ => None,
    };
    let message = match (&c.status_message, &c.state) {
        (Some(m), _) => m.clone(),
        (None, JobState::Partial) => "the copy job ended PARTIAL: the copy is incomplete".into(),
        (None, _) => "(no status message)".into(),
    };
    let (class, likely_fix) = classify_copy_failure(&message);
    Found::Failed(CopyFailure {
        route,
        original: None,
        account: env.account.clone(),
        region: env.region.clone(),
        copy_job_id: c.copy_job_id.clone(),
        source_recovery_point_arn: source_rp,
        source_backup_vault_arn: c.source_backup_vault_arn.clone(),
        destination_backup_vault_arn: dest.to_string(),
        status_message: message,
        class,
        likely_fix: likely_fix.to_string(),
    })
}

/// AWS emits a job's events in the account and Region the job runs in (a copy job's source): an
/// event that names another is not AWS's about that point (forwarded from elsewhere, or forged by
/// a principal that may put events on the hub's bus), and is not acted on.
pub(super) fn foreign_envelope(env: &Envelope, at: &Location) -> Option<String> {
    (env.account != at.account || env.region != at.region).then(|| {
        format!(
            "the event comes from {}/{}, but the job it reports runs in {at}: not acted on",
            env.account, env.region
        )
    })
}

/// A recovery point ARN names the account and Region it lives in: one that is not the vault's is
/// an event that contradicts itself, and acting on it would copy from the wrong place.
pub(super) fn misplaced(recovery_point: &str, vault: &VaultArn) -> Option<String> {
    let rp = match RecoveryPointArn::parse(recovery_point) {
        Ok(rp) => rp,
        Err(e) => {
            return Some(format!(
                "recovery point '{recovery_point}' is not a recovery point ARN: {e}"
            ))
        }
    };
    (rp.location() != vault.location()).then(|| {
        format!(
            "recovery point {recovery_point} is not in the partition, account and Region of vault {vault}: the event contradicts itself"
        )
    })
}
