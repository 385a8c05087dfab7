//! StartRestoreJob and DescribeRestoreJob: a DynamoDB recovery point restored into a new table
//! in the caller's account and Region.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use relay_core::ports::{RestorePort, StartRestore};
use serde_json::json;

use super::api::{here, ok, Answer, Shared};
use super::error::AwsError;
use super::request::{body_json, optional_bool, optional_text, optional_text_map, required_text};
use super::shapes::{self, RestoreFacts};

pub(crate) async fn start(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let at = here(&state, &headers).await?;
    let input = body_json(&body)?;
    let recovery_point_arn = required_text(&input, "RecoveryPointArn")?;
    let metadata =
        optional_text_map(&input, "Metadata")?.ok_or_else(|| AwsError::missing("Metadata"))?;
    // The simulator's recovery points are all DynamoDB's.
    if let Some(t) = optional_text(&input, "ResourceType")?.filter(|t| t != "DynamoDB") {
        return Err(AwsError::invalid(format!(
            "ResourceType {t} does not match the recovery point's resource type DynamoDB"
        )));
    }
    let req = StartRestore {
        account: at.account.clone(),
        region: at.region.clone(),
        partition: at.partition.clone(),
        recovery_point_arn,
        iam_role_arn: optional_text(&input, "IamRoleArn")?.unwrap_or_default(),
        metadata,
        idempotency_token: optional_text(&input, "IdempotencyToken")?.unwrap_or_default(),
        copy_source_tags: optional_bool(&input, "CopySourceTagsToRestoredResource")?
            .unwrap_or(false),
    };
    let sim = state.lock().await;
    let id = sim.sim.start_restore_job(&req).await?;
    ok(json!({ "RestoreJobId": id }))
}

pub(crate) async fn describe(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    // The port answers as the SDK adapter does (faults, and only in the job's own account).
    sim.sim.restore_job_status(&at, &id).await?;
    let w = sim.sim.world();
    let job = w
        .restore_jobs
        .iter()
        .find(|j| j.id == id && j.account == at.account && j.region == at.region)
        .ok_or_else(|| AwsError::not_found(format!("restore job {id} not found")))?;
    let point = w.recovery_points.get(&job.recovery_point_arn);
    let facts = RestoreFacts {
        vault: point.map(|p| p.vault.to_string()),
        point_created: point.map(|p| p.creation_date),
    };
    ok(shapes::restore_job(job, &facts))
}
