//! Vaults and their recovery points: ListBackupVaults, DescribeBackupVault,
//! ListRecoveryPointsByBackupVault, DescribeRecoveryPoint, UpdateRecoveryPointLifecycle, and
//! DescribeRegionSettings.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Extension;
use relay_compliance::inventory::VaultFacts;
use relay_compliance::InventoryPort;
use relay_core::guard::PointView;
use relay_core::ports::{BackupPort, ListQuery};
use relay_core::retention::Lifecycle;
use relay_sim::world::{vault_key_arn, SimVault, World};
use serde_json::{json, Value};

use super::api::{here, ok, vault_at, Answer, Shared, Tokens};
use super::copy_jobs::table_bytes;
use super::error::AwsError;
use super::request::{body_json, lifecycle_in, max_results, query_time};
use super::shapes::{self, PointFacts};
use super::tokens::Scope;

fn facts_of(v: &SimVault, recovery_points: usize) -> VaultFacts {
    VaultFacts {
        arn: v.arn.clone(),
        lock: v.lock,
        encryption_key_arn: Some(vault_key_arn(&v.arn)),
        deny_manual_deletion: v.deny_manual_deletion,
        recovery_points: Some(recovery_points as u64),
        created: Some(v.created),
    }
}

/// ListBackupVaults' filters: every simulated vault is a standard one, none shared through RAM.
fn vaults_shown(query: &BTreeMap<String, String>) -> Result<bool, AwsError> {
    let by_type = match query.get("vaultType").map(String::as_str) {
        None | Some("BACKUP_VAULT") => true,
        Some("LOGICALLY_AIR_GAPPED_BACKUP_VAULT" | "RESTORE_ACCESS_BACKUP_VAULT") => false,
        Some(other) => {
            return Err(AwsError::invalid(format!(
                "ByVaultType: '{other}' is not a vault type"
            )))
        }
    };
    let by_shared = match query.get("shared").map(String::as_str) {
        None | Some("false") => true,
        Some("true") => false,
        Some(other) => {
            return Err(AwsError::invalid(format!(
                "ByShared: '{other}' is not a boolean"
            )))
        }
    };
    Ok(by_type && by_shared)
}

pub(crate) async fn list(
    State(state): State<Shared>,
    Extension(tokens): Tokens,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let shown = vaults_shown(&query)?;
    let size = max_results(&query)?;
    let scope = Scope {
        operation: "ListBackupVaults",
        at: &at,
        vault: "",
        query: &query,
    };
    // The position is how many vaults earlier pages held, in ARN order.
    let from = match query.get("nextToken") {
        Some(t) => tokens
            .open(&scope, t)?
            .parse::<usize>()
            .map_err(|_| AwsError::invalid("NextToken is not valid"))?,
        None => 0,
    };
    let sim = state.lock().await;
    let mut w = sim.sim.world();
    w.call_in(&at.account, &at.region, "ListBackupVaults")?;
    let here: Vec<&SimVault> = w
        .vaults
        .values()
        .filter(|v| shown && v.arn.location() == at)
        .collect();
    let list: Vec<Value> = here
        .iter()
        .skip(from)
        .take(size)
        .map(|v| shapes::vault(&facts_of(v, w.points_in(&v.arn).count())))
        .collect();
    let mut out = json!({ "BackupVaultList": list });
    if from + size < here.len() {
        out["NextToken"] = json!(tokens.seal(&scope, &(from + size).to_string()));
    }
    ok(out)
}

pub(crate) async fn describe(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_at(&at, &name, &query)?;
    let sim = state.lock().await;
    let mut w = sim.sim.world();
    w.call_in(&at.account, &at.region, "DescribeBackupVault")?;
    let v = w.vaults.get(&vault).ok_or_else(|| {
        AwsError::not_found(format!(
            "Backup vault {name} does not exist in {}/{}",
            at.account, at.region
        ))
    })?;
    ok(shapes::vault(&facts_of(v, w.points_in(&vault).count())))
}

/// What the world knows of a point beyond the port's view: where a copy came from, whether a
/// backup plan made it, its size.
fn point_facts(w: &World, p: &PointView) -> PointFacts {
    let point = w.recovery_points.get(&p.recovery_point_arn);
    let source = point.and_then(|r| r.source.as_ref());
    PointFacts {
        source_vault: source
            .and_then(|s| w.recovery_points.get(s))
            .map(|s| s.vault.to_string()),
        by_plan: point.is_some() && source.is_none(),
        size_bytes: p
            .resource_arn
            .as_deref()
            .map_or(1 << 30, |r| table_bytes(w, r)),
    }
}

/// ListRecoveryPointsByBackupVault's filters beyond the creation window (the simulator's).
fn point_shown(query: &BTreeMap<String, String>, p: &PointView, facts: &PointFacts) -> bool {
    let is =
        |name: &str, value: Option<&str>| query.get(name).is_none_or(|v| Some(v.as_str()) == value);
    is("resourceArn", p.resource_arn.as_deref())
        && is("resourceType", p.resource_type.as_deref())
        && is("backupPlanId", facts.by_plan.then_some(shapes::SIM_PLAN_ID))
        // No composite recovery points here: none has a parent.
        && !query.contains_key("parentRecoveryPointArn")
}

pub(crate) async fn list_points(
    State(state): State<Shared>,
    Extension(tokens): Tokens,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_at(&at, &name, &query)?;
    let scope = Scope {
        operation: "ListRecoveryPointsByBackupVault",
        at: &at,
        vault: &name,
        query: &query,
    };
    let q = ListQuery {
        created_after: query_time(&query, "createdAfter")?,
        created_before: query_time(&query, "createdBefore")?,
        resource_arn: query.get("resourceArn").cloned(),
        page_token: query
            .get("nextToken")
            .map(|t| tokens.open(&scope, t))
            .transpose()?,
        page_size: u32::try_from(max_results(&query)?).unwrap_or(1000),
    };
    let sim = state.lock().await;
    let page = sim.sim.list_recovery_points(&vault, &q).await?;
    let w = sim.sim.world();
    let points: Vec<Value> = page
        .items
        .iter()
        .filter_map(|p| {
            let facts = point_facts(&w, p);
            point_shown(&query, p, &facts).then(|| shapes::recovery_point(p, &facts, false))
        })
        .collect();
    let mut out = json!({ "RecoveryPoints": points });
    if let Some(position) = page.next_token {
        out["NextToken"] = json!(tokens.seal(&scope, &position));
    }
    ok(out)
}

pub(crate) async fn describe_point(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((name, arn)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_at(&at, &name, &query)?;
    let sim = state.lock().await;
    let view = sim.sim.describe_recovery_point(&vault, &arn).await?;
    let w = sim.sim.world();
    ok(shapes::recovery_point(&view, &point_facts(&w, &view), true))
}

/// UpdateRecoveryPointLifecycle. The model does not require `Lifecycle`, and AWS warns that a
/// member left out "may result in your plan updating with null values": absent is no setting.
pub(crate) async fn update_lifecycle(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path((name, arn)): Path<(String, String)>,
    body: Bytes,
) -> Answer {
    let at = here(&state, &headers).await?;
    let vault = vault_at(&at, &name, &BTreeMap::new())?;
    let input = body_json(&body)?;
    let lifecycle = match input.get("Lifecycle").filter(|l| !l.is_null()) {
        Some(l) => lifecycle_in(l)?,
        None => Lifecycle::default(),
    };
    let sim = state.lock().await;
    sim.sim
        .update_recovery_point_lifecycle(&vault, &arn, &lifecycle)
        .await?;
    let view = sim.sim.describe_recovery_point(&vault, &arn).await?;
    let mut out = json!({"BackupVaultArn": vault.to_string(), "RecoveryPointArn": arn,
                         "Lifecycle": shapes::lifecycle_out(&view.lifecycle)});
    if let Some(calculated) = shapes::calculated_lifecycle(&view) {
        out["CalculatedLifecycle"] = calculated;
    }
    ok(out)
}

pub(crate) async fn region_settings(State(state): State<Shared>, headers: HeaderMap) -> Answer {
    let at = here(&state, &headers).await?;
    let sim = state.lock().await;
    let managed = InventoryPort::advanced_features(&sim.sim, &at)
        .await?
        .unwrap_or(false);
    ok(shapes::region_settings(managed))
}
