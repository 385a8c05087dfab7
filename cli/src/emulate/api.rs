//! AWS Backup's REST-JSON API over the simulator, as the SDKs speak it (paths, members and errors
//! from AWS's own service model of AWS Backup), and the two STS calls the functions make
//! (AssumeRole, GetCallerIdentity) so that assumed-role credentials name their account.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use chrono::{DateTime, Utc};
use relay_core::arn::{Location, VaultArn};
use relay_core::compliance::InventoryPort;
use relay_core::ledger::Original;
use relay_core::plan::StartCopyJob;
use relay_core::ports::{
    BackupPort, CopyJobQuery, ErrorKind, ListQuery, PortError, RestorePort, StartRestore,
};
use relay_core::retention::Lifecycle;
use relay_sim::Simulation;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::shapes::{self, epoch};

pub(crate) type Shared = Arc<Mutex<Simulation>>;

/// The emulator's routes. The same paths serve every account and Region: the request's
/// signature names them.
pub(crate) fn router(state: Shared) -> Router {
    // The service model's list paths end in "/"; the SDKs differ in whether they send it.
    Router::new()
        .route("/copy-jobs", put(start_copy_job).get(list_copy_jobs))
        .route("/copy-jobs/", get(list_copy_jobs))
        .route("/copy-jobs/{id}", get(describe_copy_job))
        .route("/backup-vaults", get(list_backup_vaults))
        .route("/backup-vaults/", get(list_backup_vaults))
        .route("/backup-vaults/{vault}", get(describe_backup_vault))
        .route(
            "/backup-vaults/{vault}/recovery-points",
            get(list_recovery_points),
        )
        .route(
            "/backup-vaults/{vault}/recovery-points/",
            get(list_recovery_points),
        )
        .route(
            "/backup-vaults/{vault}/recovery-points/{arn}",
            get(describe_recovery_point).post(update_lifecycle),
        )
        .route("/account-settings", get(describe_region_settings))
        .route("/restore-jobs", put(start_restore_job))
        .route("/restore-jobs/{id}", get(describe_restore_job))
        .route("/", post(sts))
        .route("/_relay/summary", get(summary))
        .fallback(unknown)
        .layer(axum::middleware::map_response_with_state(
            state.clone(),
            simulated_date,
        ))
        .with_state(state)
}

/// An AWS error as REST-JSON carries it: the type in `x-amzn-ErrorType` and the body.
pub(crate) struct AwsError {
    status: StatusCode,
    code: String,
    message: String,
}

impl AwsError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn invalid_member(member: &str, value: &Value) -> Self {
        Self::invalid(format!(
            "{member}: {value} is not a whole number of days from 1"
        ))
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "InvalidParameterValueException",
            message,
        )
    }

    fn missing(member: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "MissingParameterValueException",
            format!("{member} is required"),
        )
    }
}

impl From<PortError> for AwsError {
    fn from(e: PortError) -> Self {
        let (status, fallback) = match e.kind {
            // AWS's model gives its client errors no status of their own: 400.
            ErrorKind::NotFound => (StatusCode::BAD_REQUEST, "ResourceNotFoundException"),
            ErrorKind::Throttled => (StatusCode::BAD_REQUEST, "ThrottlingException"),
            ErrorKind::Retryable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
            ErrorKind::AccessDenied => (StatusCode::FORBIDDEN, "AccessDeniedException"),
            ErrorKind::Permanent | ErrorKind::ConditionFailed => {
                (StatusCode::BAD_REQUEST, "InvalidRequestException")
            }
        };
        let code = e.code.clone().unwrap_or_else(|| fallback.to_string());
        Self::new(status, &code, e.message)
    }
}

impl IntoResponse for AwsError {
    fn into_response(self) -> Response {
        let body = json!({"Message": self.message, "message": self.message, "Code": self.code});
        (
            self.status,
            [
                ("x-amzn-ErrorType", self.code.as_str()),
                ("content-type", "application/json"),
            ],
            body.to_string(),
        )
            .into_response()
    }
}

type Answer = Result<Response, AwsError>;

/// Every answer's `Date` is the simulated clock's: the functions take AWS's time from it.
async fn simulated_date(State(state): State<Shared>, mut response: Response) -> Response {
    let now = state.lock().await.now();
    let date = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = axum::http::HeaderValue::from_str(&date) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, value);
    }
    response
}

/// A request the emulator does not know: said plainly, in AWS's shape.
async fn unknown(method: axum::http::Method, uri: axum::http::Uri) -> AwsError {
    AwsError::new(
        StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!("relay emulate does not serve {method} {uri}"),
    )
}

fn ok(body: Value) -> Answer {
    Ok((
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// The caller's account and Region: the signature's credential scope names the Region; an access
/// key of 12 digits is the account (as moto does, and as the emulator's own AssumeRole issues).
pub(crate) fn caller(headers: &HeaderMap, default_account: &str) -> Result<Location, AwsError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AwsError::new(
                StatusCode::FORBIDDEN,
                "MissingAuthenticationTokenException",
                "no Authorization header",
            )
        })?;
    let scope = auth
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split([',', ' ']).next())
        .unwrap_or_default();
    let parts: Vec<&str> = scope.split('/').collect();
    let (key, region) = match parts.as_slice() {
        [key, _date, region, ..] => (*key, *region),
        _ => {
            return Err(AwsError::new(
                StatusCode::FORBIDDEN,
                "IncompleteSignatureException",
                "the Authorization header has no credential scope",
            ))
        }
    };
    let account = if key.len() == 12 && key.bytes().all(|b| b.is_ascii_digit()) {
        key
    } else {
        default_account
    };
    Ok(Location {
        partition: relay_core::arn::partition_of_region(region).to_string(),
        account: account.to_string(),
        region: region.to_string(),
    })
}

async fn here(state: &Shared, headers: &HeaderMap) -> Result<Location, AwsError> {
    let default = state.lock().await.default_account();
    caller(headers, &default)
}

fn vault_at(at: &Location, name: &str) -> VaultArn {
    VaultArn {
        partition: at.partition.clone(),
        region: at.region.clone(),
        account: at.account.clone(),
        name: name.to_string(),
    }
}

fn body_json(body: &Bytes) -> Result<Value, AwsError> {
    if body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            StatusCode::BAD_REQUEST,
            "SerializationException",
            e.to_string(),
        )
    })
}

fn text(v: &Value, member: &str) -> Result<String, AwsError> {
    v.get(member)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| AwsError::missing(member))
}

/// A query-string timestamp (ISO 8601, as the SDKs send it) or epoch seconds.
fn timestamp(value: &str) -> Result<DateTime<Utc>, AwsError> {
    if let Ok(d) = DateTime::parse_from_rfc3339(value) {
        return Ok(d.with_timezone(&Utc));
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64))
        .ok_or_else(|| AwsError::invalid(format!("'{value}' is not a timestamp")))
}

async fn start_copy_job(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let at = here(&state, &headers).await?;
    let input = body_json(&body)?;
    let recovery_point_arn = text(&input, "RecoveryPointArn")?;
    let source = vault_at(&at, &text(&input, "SourceBackupVaultName")?);
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
        destination_backup_vault_arn: text(&input, "DestinationBackupVaultArn")?,
        iam_role_arn: text(&input, "IamRoleArn")?,
        idempotency_token: input
            .get("IdempotencyToken")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        attempt: 1,
        lifecycle: input
            .get("Lifecycle")
            .map(shapes::lifecycle_in)
            .transpose()?,
        lock_adjustment: None,
        resource_arn: point.resource_arn,
    };
    let id = sim.sim.start_copy_job(&job).await?;
    let now = sim.sim.world().now;
    ok(json!({"CopyJobId": id, "CreationDate": epoch(now), "IsParent": false}))
}

async fn describe_copy_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let status = sim.sim.copy_job_status(&at, &id).await?;
    ok(json!({"CopyJob": shapes::copy_job(&id, &at, &status)}))
}

async fn list_copy_jobs(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let (Some(resource), Some(destination)) =
        (query.get("resourceArn"), query.get("destinationVaultArn"))
    else {
        return Err(AwsError::invalid(
            "the emulator answers ListCopyJobs by resource and destination vault",
        ));
    };
    let created_after = match query.get("createdAfter") {
        Some(t) => timestamp(t)?,
        None => DateTime::<Utc>::MIN_UTC,
    };
    let q = CopyJobQuery {
        resource_arn: resource.clone(),
        destination_vault_arn: destination.clone(),
        created_after,
    };
    let sim = state.lock().await;
    let jobs = sim.sim.find_copy_jobs(&at, &q).await?;
    let items: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({"CopyJobId": j.copy_job_id, "SourceRecoveryPointArn": j.source_recovery_point_arn,
                   "SourceBackupVaultArn": j.source_backup_vault_arn,
                   "DestinationRecoveryPointArn": j.destination_recovery_point_arn,
                   "State": j.state, "ResourceArn": resource, "DestinationBackupVaultArn": destination,
                   "AccountId": at.account})
        })
        .collect();
    ok(json!({"CopyJobs": items}))
}

async fn list_backup_vaults(State(state): State<Shared>, headers: HeaderMap) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let vaults = InventoryPort::vaults(&sim.sim, &at).await?;
    let list: Vec<Value> = vaults.iter().map(shapes::vault).collect();
    ok(json!({"BackupVaultList": list}))
}

async fn describe_backup_vault(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let vaults = InventoryPort::vaults(&sim.sim, &at).await?;
    let vault = vaults.iter().find(|v| v.arn.name == name).ok_or_else(|| {
        AwsError::new(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            format!(
                "Backup vault {name} does not exist in {}/{}",
                at.account, at.region
            ),
        )
    })?;
    ok(shapes::vault(vault))
}

async fn list_recovery_points(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_at(&at, &name);
    let page_size = match query.get("maxResults") {
        Some(n) => n
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| AwsError::invalid("maxResults must be 1 to 1000"))?,
        None => 1000,
    };
    let q = ListQuery {
        created_after: query
            .get("createdAfter")
            .map(|t| timestamp(t))
            .transpose()?,
        created_before: query
            .get("createdBefore")
            .map(|t| timestamp(t))
            .transpose()?,
        resource_arn: query.get("resourceArn").cloned(),
        page_token: query.get("nextToken").cloned(),
        page_size,
    };
    let sim = state.lock().await;
    let page = sim.sim.list_recovery_points(&vault, &q).await?;
    let points: Vec<Value> = page.items.iter().map(shapes::recovery_point).collect();
    let mut out = json!({"RecoveryPoints": points});
    if let Some(token) = page.next_token {
        out["NextToken"] = json!(token);
    }
    ok(out)
}

async fn describe_recovery_point(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((name, arn)): Path<(String, String)>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let view = sim
        .sim
        .describe_recovery_point(&vault_at(&at, &name), &arn)
        .await?;
    ok(shapes::recovery_point(&view))
}

async fn update_lifecycle(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((name, arn)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let at = here(&state, &headers).await?;
    let input = body_json(&body)?;
    let lifecycle: Lifecycle = match input.get("Lifecycle") {
        Some(l) => shapes::lifecycle_in(l)?,
        None => return Err(AwsError::missing("Lifecycle")),
    };
    let vault = vault_at(&at, &name);
    let sim = state.lock().await;
    sim.sim
        .update_recovery_point_lifecycle(&vault, &arn, &lifecycle)
        .await?;
    let view = sim.sim.describe_recovery_point(&vault, &arn).await?;
    let point = shapes::recovery_point(&view);
    ok(
        json!({"BackupVaultArn": vault.to_string(), "RecoveryPointArn": arn,
              "Lifecycle": point["Lifecycle"], "CalculatedLifecycle": point["CalculatedLifecycle"]}),
    )
}

async fn describe_region_settings(State(state): State<Shared>, headers: HeaderMap) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let managed = InventoryPort::advanced_features(&sim.sim, &at)
        .await?
        .unwrap_or(false);
    ok(json!({"ResourceTypeOptInPreference": {"DynamoDB": true},
              "ResourceTypeManagementPreference": {"DynamoDB": managed}}))
}

async fn start_restore_job(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Answer {
    let at = here(&state, &headers).await?;
    let input = body_json(&body)?;
    let metadata = input
        .get("Metadata")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let req = StartRestore {
        account: at.account.clone(),
        region: at.region.clone(),
        partition: at.partition.clone(),
        recovery_point_arn: text(&input, "RecoveryPointArn")?,
        iam_role_arn: input
            .get("IamRoleArn")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        metadata,
        idempotency_token: input
            .get("IdempotencyToken")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        copy_source_tags: input
            .get("CopySourceTagsToRestoredResource")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    };
    let sim = state.lock().await;
    let id = sim.sim.start_restore_job(&req).await?;
    ok(json!({"RestoreJobId": id}))
}

async fn describe_restore_job(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let status = sim.sim.restore_job_status(&at, &id).await?;
    ok(shapes::restore_job(&id, &at, &status))
}

/// Not AWS's: what the simulated AWS holds now, counted from its state (chains, copy jobs,
/// duplicates), and its clock, for tests and people watching the local loop.
async fn summary(State(state): State<Shared>) -> Answer {
    let sim = state.lock().await;
    let summary = serde_json::to_value(sim.summary())
        .map_err(|e| AwsError::invalid(format!("summary: {e}")))?;
    ok(json!({"now": sim.now().to_rfc3339(), "summary": summary}))
}

/// STS (query protocol, XML answers): AssumeRole issues credentials whose access key is the
/// role's account, so every later call names its account as the functions' sessions expect.
async fn sts(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = serde_urlencoded_pairs(&String::from_utf8_lossy(&body));
    let action = form.get("Action").map(String::as_str).unwrap_or_default();
    let default = state.lock().await.default_account();
    let account = caller(&headers, &default)
        .map(|l| l.account)
        .unwrap_or(default);
    let xml = match action {
        "AssumeRole" => {
            let role = form.get("RoleArn").cloned().unwrap_or_default();
            match relay_core::arn::RoleArn::parse(&role) {
                Ok(r) if r.account.len() == 12 && r.account.bytes().all(|b| b.is_ascii_digit()) => {
                    shapes::assume_role_xml(
                        &r,
                        form.get("RoleSessionName").map_or("relay", String::as_str),
                    )
                }
                _ => {
                    return sts_error(&format!(
                        "RoleArn '{role}' is not a role ARN of a 12-digit account"
                    ))
                }
            }
        }
        "GetCallerIdentity" => shapes::caller_identity_xml(&account),
        other => return sts_error(&format!("{other} is not emulated")),
    };
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}

fn sts_error(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("content-type", "text/xml")],
        format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>{}</Message></Error></ErrorResponse>",
            shapes::xml_escape(message)
        ),
    )
        .into_response()
}

/// `application/x-www-form-urlencoded` pairs (the STS query protocol's body).
fn serde_urlencoded_pairs(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .to_string()
            };
            Some((decode(k), decode(v)))
        })
        .collect()
}
