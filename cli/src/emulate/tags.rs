//! ListTags, TagResource and UntagResource on recovery points, as AWS Backup answers them: only
//! in the account and Region that hold the point (AWS refuses tagging across accounts), only
//! `arn:aws:backup:` ARNs, within AWS's limits (the simulator's rules).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use relay_core::arn::{Location, VaultArn};
use relay_core::ports::CopyTagPort;
use serde_json::{json, Value};

use super::api::{here, ok, Answer, Shared};
use super::error::AwsError;
use super::request::{body_json, optional_text_map};

/// The vault of a recovery point the caller's account and Region hold.
async fn vault_of(state: &Shared, at: &Location, arn: &str) -> Result<VaultArn, AwsError> {
    if !arn.contains(":backup:") {
        return Err(AwsError::invalid(format!(
            "{arn} is not an AWS Backup resource: only arn:aws:backup: ARNs can be tagged"
        )));
    }
    let sim = state.lock().await;
    let w = sim.sim.world();
    w.recovery_points
        .get(arn)
        .map(|rp| rp.vault.clone())
        .filter(|v| v.account == at.account && v.region == at.region)
        .ok_or_else(|| AwsError::not_found(format!("Resource {arn} not found")))
}

pub(crate) async fn list(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(arn): Path<String>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_of(&state, &at, &arn).await?;
    let sim = state.lock().await;
    let tags = sim.sim.recovery_point_tags(&vault, &arn).await?;
    ok(json!({ "Tags": tags }))
}

/// A tagging request: the point's vault (the caller's own) and the request's body.
async fn request(
    state: &Shared,
    headers: &HeaderMap,
    arn: &str,
    body: &Bytes,
) -> Result<(VaultArn, serde_json::Map<String, Value>), AwsError> {
    let at = here(state, headers).await?;
    let input = body_json(body)?;
    Ok((vault_of(state, &at, arn).await?, input))
}

pub(crate) async fn tag(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(arn): Path<String>,
    body: Bytes,
) -> Answer {
    let (vault, input) = request(&state, &headers, &arn, &body).await?;
    let tags = optional_text_map(&input, "Tags")?.ok_or_else(|| AwsError::missing("Tags"))?;
    let sim = state.lock().await;
    sim.sim.tag_recovery_point(&vault, &arn, &tags).await?;
    Ok(StatusCode::OK.into_response())
}

pub(crate) async fn untag(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(arn): Path<String>,
    body: Bytes,
) -> Answer {
    let (vault, input) = request(&state, &headers, &arn, &body).await?;
    let keys = match input.get("TagKeyList") {
        Some(Value::Array(keys)) => keys
            .iter()
            .map(|k| match k {
                Value::String(s) => Ok(s.clone()),
                other => Err(AwsError::serialization(format!(
                    "TagKeyList must be strings, not {other}"
                ))),
            })
            .collect::<Result<Vec<String>, AwsError>>()?,
        Some(other) => {
            return Err(AwsError::serialization(format!(
                "TagKeyList must be a list, not {other}"
            )))
        }
        None => return Err(AwsError::missing("TagKeyList")),
    };
    let sim = state.lock().await;
    sim.sim.world().untag_point(&vault, &arn, &keys)?;
    Ok(StatusCode::OK.into_response())
}
