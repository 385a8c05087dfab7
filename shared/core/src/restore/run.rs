//! Following a restore plan to its end: the copy back (when there is one), then the restore job,
//! each polled until AWS says it is done. Generic over the ports, so the CLI runs it on the
//! simulator and on AWS, and the restore drill on either.

use std::time::Duration as StdDuration;

use sha2::{Digest, Sha256};

use super::{RestorePlan, RestoreStep};
use crate::arn::{Location, TableArn, VaultArn};
use crate::ledger::Original;
use crate::plan::StartCopyJob;
use crate::ports::{BackupPort, Clock, PortError, RestorePort, StartRestore};

/// How long to wait between polls, and how many polls before giving up (the default: every
/// minute, for two days: copies may wait their turn behind other jobs of the same table).
#[derive(Debug, Clone, Copy)]
pub struct Follow {
    pub poll: StdDuration,
    pub max_polls: u32,
}

impl Default for Follow {
    fn default() -> Self {
        Self {
            poll: StdDuration::from_secs(60),
            max_polls: 2 * 24 * 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RestoreResult {
    pub status: String,
    pub restored_table_arn: String,
    /// From StartRestoreJob to COMPLETED, as AWS dates the job.
    pub restore_minutes: i64,
    /// The point copied back into the target, when one was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copied_back_recovery_point_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the copy back ended {state}: {message}")]
    CopyFailed { state: String, message: String },
    #[error("the restore job ended {state}: {message}")]
    RestoreFailed { state: String, message: String },
    #[error("{what} not done after {polls} polls: still {state}")]
    TimedOut {
        what: &'static str,
        polls: u32,
        state: String,
    },
    #[error("the plan has no restore step")]
    NoRestoreStep,
}

/// Run the plan. `progress` hears one line per state change.
pub async fn execute<P: BackupPort + RestorePort + Clock>(
    ports: &P,
    plan: &RestorePlan,
    table: &TableArn,
    follow: Follow,
    progress: &mut dyn FnMut(&str),
) -> Result<RestoreResult, RestoreError> {
    let mut copied_back = None;
    for step in &plan.steps {
        match step {
            RestoreStep::StartCopyJob { .. } => {
                let job = copy_back_job(step, table, plan)?;
                let id = ports.start_copy_job(&job).await?;
                progress(&format!(
                    "copy back started: copy job {id} in {}/{}",
                    job.account, job.region
                ));
                let at = Location {
                    partition: job.partition.clone(),
                    account: job.account.clone(),
                    region: job.region.clone(),
                };
                copied_back = Some(wait_for_copy(ports, &at, &id, follow, progress).await?);
            }
            RestoreStep::StartRestoreJob { .. } => {
                let result =
                    restore(ports, step, copied_back.clone(), table, follow, progress).await?;
                return Ok(RestoreResult {
                    copied_back_recovery_point_arn: copied_back,
                    ..result
                });
            }
        }
    }
    Err(RestoreError::NoRestoreStep)
}

fn copy_back_job(
    step: &RestoreStep,
    table: &TableArn,
    plan: &RestorePlan,
) -> Result<StartCopyJob, RestoreError> {
    let RestoreStep::StartCopyJob {
        account,
        region,
        recovery_point_arn,
        source_backup_vault_arn,
        destination_backup_vault_arn,
        iam_role_arn,
        lifecycle,
    } = step
    else {
        return Err(RestoreError::NoRestoreStep);
    };
    let source = VaultArn::parse(source_backup_vault_arn).map_err(|e| {
        PortError::new(
            crate::ports::ErrorKind::Permanent,
            "StartCopyJob",
            None,
            e.to_string(),
        )
    })?;
    Ok(StartCopyJob {
        route: "restore copy back".into(),
        original: Original::new(table.to_string(), plan.recovery_point.creation_date),
        account: account.clone(),
        region: region.clone(),
        partition: source.partition.clone(),
        recovery_point_arn: recovery_point_arn.clone(),
        source_backup_vault_name: source.name.clone(),
        source_backup_vault_arn: source_backup_vault_arn.clone(),
        destination_backup_vault_arn: destination_backup_vault_arn.clone(),
        iam_role_arn: iam_role_arn.clone(),
        idempotency_token: token(&[
            "copy back",
            recovery_point_arn,
            destination_backup_vault_arn,
            &target_name(plan),
        ]),
        attempt: 1,
        lifecycle: Some(*lifecycle),
        lock_adjustment: None,
        resource_arn: Some(table.to_string()),
    })
}

fn target_name(plan: &RestorePlan) -> String {
    plan.steps
        .iter()
        .find_map(|s| match s {
            RestoreStep::StartRestoreJob { metadata, .. } => {
                metadata.get("targetTableName").cloned()
            }
            RestoreStep::StartCopyJob { .. } => None,
        })
        .unwrap_or_default()
}

/// The same restore, the same token: length-prefixed parts, so no two differ only in framing.
fn token(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_be_bytes());
        h.update(p.as_bytes());
    }
    hex::encode(&h.finalize()[..16])
}

async fn wait_for_copy<P: BackupPort + Clock>(
    ports: &P,
    at: &Location,
    id: &str,
    follow: Follow,
    progress: &mut dyn FnMut(&str),
) -> Result<String, RestoreError> {
    let mut last = String::new();
    for _ in 0..follow.max_polls {
        let s = ports.copy_job_status(at, id).await?;
        if s.state != last {
            progress(&format!("copy back {}", s.state));
            last = s.state.clone();
        }
        match (s.state.as_str(), s.destination_recovery_point_arn) {
            ("COMPLETED", Some(rp)) => return Ok(rp),
            ("FAILED" | "ABORTED" | "PARTIAL", _) | ("COMPLETED", None) => {
                return Err(RestoreError::CopyFailed {
                    state: s.state,
                    message: s.status_message.unwrap_or_default(),
                });
            }
            _ => ports.pause(follow.poll).await,
        }
    }
    Err(RestoreError::TimedOut {
        what: "the copy back",
        polls: follow.max_polls,
        state: last,
    })
}

async fn restore<P: RestorePort + Clock>(
    ports: &P,
    step: &RestoreStep,
    copied_back: Option<String>,
    table: &TableArn,
    follow: Follow,
    progress: &mut dyn FnMut(&str),
) -> Result<RestoreResult, RestoreError> {
    let RestoreStep::StartRestoreJob {
        account,
        region,
        recovery_point_arn,
        iam_role_arn,
        metadata,
        ..
    } = step
    else {
        return Err(RestoreError::NoRestoreStep);
    };
    let Some(point) = copied_back.or_else(|| recovery_point_arn.clone()) else {
        return Err(RestoreError::NoRestoreStep);
    };
    let name = metadata.get("targetTableName").cloned().unwrap_or_default();
    let req = StartRestore {
        account: account.clone(),
        region: region.clone(),
        partition: table.partition.clone(),
        recovery_point_arn: point.clone(),
        iam_role_arn: iam_role_arn.clone(),
        metadata: metadata.clone(),
        idempotency_token: token(&["restore", &point, account, region, &name]),
        copy_source_tags: true,
    };
    let id = ports.start_restore_job(&req).await?;
    progress(&format!(
        "restore started: restore job {id} in {account}/{region}"
    ));
    let at = Location {
        partition: table.partition.clone(),
        account: account.clone(),
        region: region.clone(),
    };
    let mut last = String::new();
    for _ in 0..follow.max_polls {
        let s = ports.restore_job_status(&at, &id).await?;
        if s.state != last {
            progress(&format!("restore {}", s.state));
            last = s.state.clone();
        }
        match s.state.as_str() {
            "COMPLETED" => {
                let minutes = match (s.creation_date, s.completion_date) {
                    (Some(a), Some(b)) => b.signed_duration_since(a).num_minutes(),
                    _ => 0,
                };
                return Ok(RestoreResult {
                    status: s.state,
                    restored_table_arn: s.created_resource_arn.unwrap_or_default(),
                    restore_minutes: minutes,
                    copied_back_recovery_point_arn: None,
                });
            }
            "FAILED" | "ABORTED" => {
                return Err(RestoreError::RestoreFailed {
                    state: s.state,
                    message: s.status_message.unwrap_or_default(),
                })
            }
            _ => ports.pause(follow.poll).await,
        }
    }
    Err(RestoreError::TimedOut {
        what: "the restore",
        polls: follow.max_polls,
        state: last,
    })
}
