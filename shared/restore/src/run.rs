//! Following a restore plan to its end: the copy back (when there is one), then the restore job,
//! each polled until AWS says it is done. Step by step ([`start`], then [`advance`] once per
//! look), so a Lambda can look every few minutes and keep the state in between (restores of
//! large tables take hours, a Lambda at most 15 minutes); [`execute`] loops them for the CLI.

use std::time::Duration as StdDuration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{RestorePlan, RestoreStep};
use relay_core::arn::{Location, TableArn, VaultArn};
use relay_core::ledger::Original;
use relay_core::plan::StartCopyJob;
use relay_core::ports::{BackupPort, Clock, ErrorKind, PortError, RestorePort, StartRestore};

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreResult {
    pub status: String,
    pub restored_table_arn: String,
    /// From StartRestoreJob to COMPLETED, as AWS dates the job.
    pub restore_minutes: i64,
    /// The point copied back into the target, when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copied_back_recovery_point_arn: Option<String>,
    /// From the first step to the restore's end, copy back included, as this run saw it
    /// (followed to the end only; 0 when looked at step by step).
    #[serde(default)]
    pub elapsed_minutes: i64,
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

/// A restore under way, as kept between looks: what runs now and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub table: String,
    pub plan: RestorePlan,
    pub stage: Stage,
    /// The last state AWS reported.
    pub last_state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum Stage {
    Copying {
        copy_job_id: String,
        partition: String,
        account: String,
        region: String,
    },
    Restoring {
        restore_job_id: String,
        partition: String,
        account: String,
        region: String,
        copied_back: Option<String>,
    },
}

impl Stage {
    fn location(&self) -> Location {
        let (partition, account, region) = match self {
            Self::Copying {
                partition,
                account,
                region,
                ..
            }
            | Self::Restoring {
                partition,
                account,
                region,
                ..
            } => (partition, account, region),
        };
        Location {
            partition: partition.clone(),
            account: account.clone(),
            region: region.clone(),
        }
    }
}

/// What a look found.
#[derive(Debug)]
pub enum Step {
    Waiting(InFlight),
    Done(RestoreResult),
}

/// Start the plan's first step: the copy back, or the restore itself.
pub async fn start<P: BackupPort + RestorePort>(
    ports: &P,
    plan: &RestorePlan,
    table: &TableArn,
) -> Result<InFlight, RestoreError> {
    let stage = match plan.steps.first() {
        Some(step @ RestoreStep::StartCopyJob { .. }) => {
            let job = copy_back_job(step, table, plan)?;
            let copy_job_id = ports.start_copy_job(&job).await?;
            Stage::Copying {
                copy_job_id,
                partition: job.partition,
                account: job.account,
                region: job.region,
            }
        }
        Some(RestoreStep::StartRestoreJob { .. }) => {
            start_restore(ports, plan, table, None).await?
        }
        None => return Err(RestoreError::NoRestoreStep),
    };
    Ok(InFlight {
        table: table.to_string(),
        plan: plan.clone(),
        stage,
        last_state: "STARTED".into(),
    })
}

/// One look at what runs: still running, the next step started, done, or failed.
pub async fn advance<P: BackupPort + RestorePort>(
    ports: &P,
    mut flight: InFlight,
) -> Result<Step, RestoreError> {
    let at = flight.stage.location();
    match flight.stage.clone() {
        Stage::Copying { copy_job_id, .. } => {
            let s = ports.copy_job_status(&at, &copy_job_id).await?;
            flight.last_state = s.state.clone();
            match (s.state.as_str(), s.destination_recovery_point_arn) {
                ("COMPLETED", Some(rp)) => {
                    let table = table_of(&flight)?;
                    flight.stage = start_restore(ports, &flight.plan, &table, Some(rp)).await?;
                    flight.last_state = "STARTED".into();
                    Ok(Step::Waiting(flight))
                }
                ("FAILED" | "ABORTED" | "PARTIAL", _) | ("COMPLETED", None) => {
                    Err(RestoreError::CopyFailed {
                        state: s.state,
                        message: s.status_message.unwrap_or_default(),
                    })
                }
                _ => Ok(Step::Waiting(flight)),
            }
        }
        Stage::Restoring {
            restore_job_id,
            copied_back,
            ..
        } => {
            let s = ports.restore_job_status(&at, &restore_job_id).await?;
            flight.last_state = s.state.clone();
            match s.state.as_str() {
                "COMPLETED" => Ok(Step::Done(RestoreResult {
                    restore_minutes: match (s.creation_date, s.completion_date) {
                        (Some(a), Some(b)) => b.signed_duration_since(a).num_minutes(),
                        _ => 0,
                    },
                    status: s.state,
                    restored_table_arn: s.created_resource_arn.unwrap_or_default(),
                    copied_back_recovery_point_arn: copied_back,
                    elapsed_minutes: 0,
                })),
                "FAILED" | "ABORTED" => Err(RestoreError::RestoreFailed {
                    state: s.state,
                    message: s.status_message.unwrap_or_default(),
                }),
                _ => Ok(Step::Waiting(flight)),
            }
        }
    }
}

/// Run the plan to its end, looking every `follow.poll`. `progress` hears each state change.
pub async fn execute<P: BackupPort + RestorePort + Clock>(
    ports: &P,
    plan: &RestorePlan,
    table: &TableArn,
    follow: Follow,
    progress: &mut dyn FnMut(&str),
) -> Result<RestoreResult, RestoreError> {
    let began = ports.now();
    let mut flight = start(ports, plan, table).await?;
    progress(&describe(&flight));
    for _ in 0..follow.max_polls {
        ports.pause(follow.poll).await;
        let before = (flight.stage.clone(), flight.last_state.clone());
        match advance(ports, flight).await? {
            Step::Done(result) => {
                progress("restore COMPLETED");
                let elapsed_minutes = ports.now().signed_duration_since(began).num_minutes();
                return Ok(RestoreResult {
                    elapsed_minutes,
                    ..result
                });
            }
            Step::Waiting(next) => {
                if (next.stage.clone(), next.last_state.clone()) != before {
                    progress(&describe(&next));
                }
                flight = next;
            }
        }
    }
    Err(RestoreError::TimedOut {
        what: match flight.stage {
            Stage::Copying { .. } => "the copy back",
            Stage::Restoring { .. } => "the restore",
        },
        polls: follow.max_polls,
        state: flight.last_state,
    })
}

fn describe(flight: &InFlight) -> String {
    match &flight.stage {
        Stage::Copying {
            copy_job_id,
            account,
            region,
            ..
        } => {
            format!(
                "copy back {} (copy job {copy_job_id} in {account}/{region})",
                flight.last_state
            )
        }
        Stage::Restoring {
            restore_job_id,
            account,
            region,
            ..
        } => {
            format!(
                "restore {} (restore job {restore_job_id} in {account}/{region})",
                flight.last_state
            )
        }
    }
}

fn table_of(flight: &InFlight) -> Result<TableArn, RestoreError> {
    TableArn::parse(&flight.table).map_err(|e| {
        RestoreError::Port(PortError::new(
            ErrorKind::Permanent,
            "restore",
            None,
            e.to_string(),
        ))
    })
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
    let source = VaultArn::parse(source_backup_vault_arn)
        .map_err(|e| PortError::new(ErrorKind::Permanent, "StartCopyJob", None, e.to_string()))?;
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

/// StartRestoreJob from the plan's point, or from the point the copy back made.
async fn start_restore<P: RestorePort>(
    ports: &P,
    plan: &RestorePlan,
    table: &TableArn,
    copied_back: Option<String>,
) -> Result<Stage, RestoreError> {
    let Some(RestoreStep::StartRestoreJob {
        account,
        region,
        recovery_point_arn,
        iam_role_arn,
        metadata,
        copy_source_tags,
        ..
    }) = plan.steps.last()
    else {
        return Err(RestoreError::NoRestoreStep);
    };
    let Some(point) = copied_back.clone().or_else(|| recovery_point_arn.clone()) else {
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
        copy_source_tags: *copy_source_tags,
    };
    let restore_job_id = ports.start_restore_job(&req).await?;
    Ok(Stage::Restoring {
        restore_job_id,
        partition: table.partition.clone(),
        account: account.clone(),
        region: region.clone(),
        copied_back,
    })
}

/// Put back on the restored table what the restore does not bring (facts §11), read from the
/// source table when it still exists: PITR, TTL, the stream, deletion protection, the tags.
/// `None` when the source is gone (nothing to read them from).
pub async fn reapply<P: RestorePort>(
    ports: &P,
    plan: &RestorePlan,
    table: &TableArn,
) -> Result<Option<relay_core::ports::TableSettings>, RestoreError> {
    let Some(RestoreStep::StartRestoreJob {
        account,
        region,
        metadata,
        ..
    }) = plan.steps.last()
    else {
        return Err(RestoreError::NoRestoreStep);
    };
    let source = Location {
        partition: table.partition.clone(),
        account: table.account.clone(),
        region: table.region.clone(),
    };
    let Some(settings) = ports.table_settings(&source, &table.table).await? else {
        return Ok(None);
    };
    let target = Location {
        partition: table.partition.clone(),
        account: account.clone(),
        region: region.clone(),
    };
    let name = metadata.get("targetTableName").cloned().unwrap_or_default();
    ports
        .apply_table_settings(&target, &name, &settings)
        .await?;
    Ok(Some(settings))
}
