//! StartCopyJob, DescribeCopyJob and ListCopyJobs. A copy job runs in (and is listed by) its
//! source vault's account and Region; DescribeCopyJob and ListCopyJobs answer the model's full
//! CopyJob.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Extension;
use chrono::{DateTime, Utc};
use relay_core::arn::Location;
use relay_core::ledger::Original;
use relay_core::plan::StartCopyJob;
use relay_core::ports::BackupPort;
use relay_sim::world::{job_state, SimCopyJob, World};
use serde_json::{json, Value};

use super::api::{here, ok, vault_at, Answer, Shared, Tokens};
use super::error::AwsError;
use super::request::{
    body_json, lifecycle_in, max_results, optional_text, query_time, required_text,
};
use super::shapes::{self, epoch};
use super::tokens::Scope;

/// The model's CopyJobState.
const STATES: [&str; 5] = ["CREATED", "RUNNING", "COMPLETED", "FAILED", "PARTIAL"];

/// A restored or copied DynamoDB backup is a full copy of its table: its size.
pub(crate) fn table_bytes(w: &World, resource_arn: &str) -> u64 {
    let gb = w.table(resource_arn).map_or(1, |t| t.size_gb);
    u64::from(gb) << 30
}

pub(crate) async fn start(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let at = here(&state, &headers).await?;
    let input = body_json(&body)?;
    let recovery_point_arn = required_text(&input, "RecoveryPointArn")?;
    let source_name = required_text(&input, "SourceBackupVaultName")?;
    let destination = required_text(&input, "DestinationBackupVaultArn")?;
    let iam_role_arn = required_text(&input, "IamRoleArn")?;
    let token = optional_text(&input, "IdempotencyToken")?.unwrap_or_default();
    let lifecycle = match input.get("Lifecycle").filter(|l| !l.is_null()) {
        Some(l) => Some(lifecycle_in(l)?),
        None => None,
    };
    let source = vault_at(&at, &source_name, &BTreeMap::new())?;
    let sim = state.lock().await;
    // The point's own resource and creation date: what the simulator keys its jobs by.
    let point = sim
        .sim
        .describe_recovery_point(&source, &recovery_point_arn)
        .await?;
    let job = StartCopyJob {
        route: String::new(),
        original: Original::new(
            point.resource_arn.clone().unwrap_or_default(),
            point.creation_date,
        ),
        partition: at.partition.clone(),
        account: at.account.clone(),
        region: at.region.clone(),
        recovery_point_arn,
        source_backup_vault_name: source.name.clone(),
        source_backup_vault_arn: source.to_string(),
        destination_backup_vault_arn: destination,
        iam_role_arn,
        idempotency_token: token,
        attempt: 1,
        lifecycle,
        lock_adjustment: None,
        resource_arn: point.resource_arn,
    };
    let id = sim.sim.start_copy_job(&job).await?;
    let w = sim.sim.world();
    let created = w.copy_job(&id).map_or(w.now, |j| j.created_at);
    ok(json!({"CopyJobId": id, "CreationDate": epoch(created), "IsParent": false}))
}

pub(crate) async fn describe(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    // The port answers as the SDK adapter does (faults, and only in the job's own account).
    let status = sim.sim.copy_job_status(&at, &id).await?;
    let w = sim.sim.world();
    let job = w
        .copy_job(&id)
        .ok_or_else(|| AwsError::not_found(format!("copy job {id} not found")))?;
    let shape = shapes::copy_job(job, &status.state, table_bytes(&w, &job.resource_arn));
    ok(json!({ "CopyJob": shape }))
}

/// ListCopyJobs' filters (the model's `By...` members, by their query names).
struct Filter {
    query: BTreeMap<String, String>,
    created_after: Option<DateTime<Utc>>,
    created_before: Option<DateTime<Utc>>,
    complete_after: Option<DateTime<Utc>>,
    complete_before: Option<DateTime<Utc>>,
}

impl Filter {
    fn new(query: &BTreeMap<String, String>) -> Result<Self, AwsError> {
        if let Some(state) = query.get("state").filter(|s| !STATES.contains(&s.as_str())) {
            return Err(AwsError::invalid(format!(
                "ByState: '{state}' is not one of {STATES:?}"
            )));
        }
        if let Some(c) = query
            .get("messageCategory")
            .filter(|c| !matches!(c.as_str(), "AGGREGATE_ALL" | "SUCCESS"))
        {
            return Err(AwsError::invalid(format!(
                "ByMessageCategory: relay emulate filters by AGGREGATE_ALL and SUCCESS only, not '{c}'"
            )));
        }
        Ok(Self {
            query: query.clone(),
            created_after: query_time(query, "createdAfter")?,
            created_before: query_time(query, "createdBefore")?,
            complete_after: query_time(query, "completeAfter")?,
            complete_before: query_time(query, "completeBefore")?,
        })
    }

    fn is(&self, name: &str, value: &str) -> bool {
        self.query.get(name).is_none_or(|v| v == value)
    }

    fn matches(&self, j: &SimCopyJob, at: &Location) -> bool {
        let state = job_state(j.state);
        let category_ok = self.query.get("messageCategory").map(String::as_str) != Some("SUCCESS")
            || state == "COMPLETED";
        j.source_vault.location() == *at
            && self.is("state", state)
            && self.is("resourceArn", &j.resource_arn)
            && self.is("resourceType", "DynamoDB")
            && self.is("destinationVaultArn", &j.dest_vault.to_string())
            && self.is("accountId", &j.source_vault.account)
            && self.is("sourceRecoveryPointArn", &j.source_rp)
            && !self.query.contains_key("parentJobId") // no composite jobs here
            && category_ok
            && self.created_after.is_none_or(|t| j.created_at > t)
            && self.created_before.is_none_or(|t| j.created_at < t)
            && self.complete_after.is_none_or(|t| j.ended_at.is_some_and(|e| e > t))
            && self.complete_before.is_none_or(|t| j.ended_at.is_some_and(|e| e < t))
    }
}

pub(crate) async fn list(
    State(state): State<Shared>,
    Extension(tokens): Tokens,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let filter = Filter::new(&query)?;
    let size = max_results(&query)?;
    let scope = Scope {
        operation: "ListCopyJobs",
        at: &at,
        vault: "",
        query: &query,
    };
    // The position is the index of the next job in the simulator's list (jobs are only added).
    let from = match query.get("nextToken") {
        Some(t) => tokens
            .open(&scope, t)?
            .parse::<usize>()
            .map_err(|_| AwsError::invalid("NextToken is not valid"))?,
        None => 0,
    };
    let sim = state.lock().await;
    let mut w = sim.sim.world();
    w.call_in(&at.account, &at.region, "ListCopyJobs")?;
    let mut items: Vec<Value> = Vec::new();
    let mut next = None;
    for (i, j) in w.jobs.iter().enumerate().skip(from) {
        if !filter.matches(j, &at) {
            continue;
        }
        if items.len() == size {
            next = Some(i);
            break;
        }
        items.push(shapes::copy_job(
            j,
            job_state(j.state),
            table_bytes(&w, &j.resource_arn),
        ));
    }
    let mut out = json!({ "CopyJobs": items });
    if let Some(i) = next {
        out["NextToken"] = json!(tokens.seal(&scope, &i.to_string()));
    }
    ok(out)
}
