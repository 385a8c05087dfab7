//! AWS Backup's REST-JSON API over the simulator, as the SDKs speak it (paths, members and errors
//! from AWS's own service model of AWS Backup), and the two STS calls the functions make
//! (AssumeRole, GetCallerIdentity) so that assumed-role credentials name their account.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use relay_core::arn::{Location, VaultArn};
use relay_sim::Simulation;
use serde_json::{json, Value};
use tokio::sync::Mutex;

use super::error::{aws_shaped, uri_too_long, AwsError, MAX_URI_BYTES};
use super::tokens::PageTokens;
use super::{copy_jobs, restores, shapes, tags, vaults};

pub(crate) type Shared = Arc<Mutex<Simulation>>;
pub(crate) type Tokens = Extension<Arc<PageTokens>>;
pub(crate) type Answer = Result<Response, AwsError>;

/// The emulator's routes. The same paths serve every account and Region: the request's
/// signature names them.
pub(crate) fn router(state: Shared) -> Router {
    // The service model's list paths end in "/"; the SDKs differ in whether they send it.
    Router::new()
        .route("/copy-jobs", put(copy_jobs::start).get(copy_jobs::list))
        .route("/copy-jobs/", get(copy_jobs::list))
        .route("/copy-jobs/{id}", get(copy_jobs::describe))
        .route("/backup-vaults", get(vaults::list))
        .route("/backup-vaults/", get(vaults::list))
        .route("/backup-vaults/{vault}", get(vaults::describe))
        .route(
            "/backup-vaults/{vault}/recovery-points",
            get(vaults::list_points),
        )
        .route(
            "/backup-vaults/{vault}/recovery-points/",
            get(vaults::list_points),
        )
        .route(
            "/backup-vaults/{vault}/recovery-points/{arn}",
            get(vaults::describe_point).post(vaults::update_lifecycle),
        )
        .route("/account-settings", get(vaults::region_settings))
        .route("/tags/{arn}", get(tags::list).post(tags::tag))
        .route("/tags/{arn}/", get(tags::list))
        .route("/untag/{arn}", post(tags::untag))
        .route("/restore-jobs", put(restores::start))
        .route("/restore-jobs/{id}", get(restores::describe))
        .route("/", post(sts))
        .route("/_relay/summary", get(summary))
        .fallback(unknown)
        .method_not_allowed_fallback(unknown)
        .layer(middleware::map_response(aws_shaped))
        .layer(middleware::from_fn(uri_limit))
        .layer(middleware::map_response_with_state(
            state.clone(),
            simulated_date,
        ))
        .layer(Extension(Arc::new(PageTokens::new())))
        .with_state(state)
}

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

/// A URI too long for AWS's front end is refused before it is routed.
async fn uri_limit(request: Request, next: Next) -> Response {
    let len = request.uri().to_string().len();
    if len > MAX_URI_BYTES {
        return uri_too_long(len);
    }
    next.run(request).await
}

/// A request the emulator does not know (no such path, or not with this method): said plainly,
/// in AWS's shape.
async fn unknown(method: axum::http::Method, uri: axum::http::Uri) -> AwsError {
    AwsError::new(
        "UnknownOperationException",
        format!("relay emulate does not serve {method} {}", uri.path()),
    )
}

pub(crate) fn ok(body: Value) -> Answer {
    Ok((
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response())
}

/// The caller's account and Region: the signature's credential scope names the Region, which
/// must be one AWS has (else AWS's answer to a request signed for a made-up Region); an access
/// key of 12 digits is the account (as moto does, and as the emulator's own AssumeRole issues).
pub(crate) fn caller(headers: &HeaderMap, default_account: &str) -> Result<Location, AwsError> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            AwsError::new(
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
    let [key, _date, region, ..] = parts.as_slice() else {
        return Err(AwsError::new(
            "IncompleteSignatureException",
            "the Authorization header has no credential scope",
        ));
    };
    let Some(partition) = relay_core::regions::partition_of_region(region) else {
        return Err(AwsError::new(
            "InvalidSignatureException",
            format!("Credential should be scoped to a valid region, not '{region}'."),
        ));
    };
    let account = if key.len() == 12 && key.bytes().all(|b| b.is_ascii_digit()) {
        key
    } else {
        default_account
    };
    Ok(Location {
        partition: partition.to_string(),
        account: account.to_string(),
        region: region.to_string(),
    })
}

pub(crate) async fn here(state: &Shared, headers: &HeaderMap) -> Result<Location, AwsError> {
    let default = state.lock().await.default_account();
    caller(headers, &default)
}

/// The caller's vault of that name (the name checked against the model's pattern). A vault of
/// another account (`backupVaultAccountId`) is refused: only copies may cross accounts.
pub(crate) fn vault_at(
    at: &Location,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<VaultArn, AwsError> {
    super::request::vault_name(name)?;
    if let Some(account) = query.get("backupVaultAccountId") {
        if account != &at.account {
            return Err(AwsError::new(
                "AccessDeniedException",
                format!("{} may not read vaults of account {account}", at.account),
            ));
        }
    }
    Ok(VaultArn {
        partition: at.partition.clone(),
        region: at.region.clone(),
        account: at.account.clone(),
        name: name.to_string(),
    })
}

/// Not AWS's: what the simulated AWS holds now, counted from its state (chains, copy jobs,
/// duplicates), and its clock, for tests and people watching the local loop.
async fn summary(State(state): State<Shared>) -> Answer {
    let sim = state.lock().await;
    let summary = serde_json::to_value(sim.summary())
        .map_err(|e| AwsError::new("InternalFailure", format!("summary: {e}")))?;
    ok(json!({"now": sim.now().to_rfc3339(), "summary": summary}))
}

/// STS (query protocol, XML answers): AssumeRole issues credentials whose access key is the
/// role's account, so every later call names its account as the functions' sessions expect.
async fn sts(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: BTreeMap<String, String> = serde_urlencoded_pairs(&String::from_utf8_lossy(&body));
    let action = form.get("Action").map(String::as_str).unwrap_or_default();
    let default = state.lock().await.default_account();
    let account = match caller(&headers, &default) {
        Ok(at) => at.account,
        Err(e) if e.code() == "InvalidSignatureException" => {
            return sts_error("SignatureDoesNotMatch", e.message())
        }
        Err(_) => default,
    };
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
                    return sts_error(
                        "ValidationError",
                        &format!("RoleArn '{role}' is not a role ARN of a 12-digit account"),
                    )
                }
            }
        }
        "GetCallerIdentity" => shapes::caller_identity_xml(&account),
        other => return sts_error("InvalidAction", &format!("{other} is not emulated")),
    };
    (StatusCode::OK, [("content-type", "text/xml")], xml).into_response()
}

/// STS's error answer (query protocol: XML, the code in the body). It also carries
/// `x-amzn-ErrorType`, so the REST-JSON shaping of other errors leaves it as it is.
fn sts_error(code: &str, message: &str) -> Response {
    let status = if code == "SignatureDoesNotMatch" {
        StatusCode::FORBIDDEN
    } else {
        StatusCode::BAD_REQUEST
    };
    let body = format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error></ErrorResponse>",
        shapes::xml_escape(message)
    );
    (
        status,
        [("content-type", "text/xml"), ("x-amzn-ErrorType", code)],
        body,
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
