//! `relay plan`: what the functions would do with an event, as the contract's JSON; touches nothing.

use std::path::{Path, PathBuf};

use relay_chain::router;
use relay_core::plan::Observed;
use relay_core::retention::{VaultLock, MIN_DAYS, NEVER_EXPIRE_DAYS};

use crate::{input, load_policy, out, read_limited, Failure, EVENT_LIMIT};

#[derive(clap::Args)]
pub(crate) struct PlanArgs {
    /// Policy file, at most 1 MB.
    #[arg(long)]
    pub(crate) policy: PathBuf,
    /// Event file (EventBridge JSON), at most 256 KB.
    #[arg(long)]
    pub(crate) event: PathBuf,
    /// A tag of the backed-up resource, KEY=VALUE (repeatable).
    #[arg(long = "resource-tag", value_name = "KEY=VALUE")]
    pub(crate) resource_tags: Vec<String>,
    /// An observed vault lock, ALIAS=MIN:MAX in days, 1 <= MIN <= MAX <= 36500 (either side
    /// may be empty; repeatable).
    #[arg(long = "vault-lock", value_name = "ALIAS=MIN:MAX")]
    pub(crate) vault_locks: Vec<String>,
}

pub(crate) fn run(args: PlanArgs) -> Result<(), Failure> {
    plan(
        &args.policy,
        &args.event,
        &args.resource_tags,
        &args.vault_locks,
    )
}

fn plan(
    policy: &Path,
    event: &Path,
    resource_tags: &[String],
    vault_locks: &[String],
) -> Result<(), Failure> {
    let p = load_policy(policy)?;
    let text = read_limited(event, &EVENT_LIMIT)?;
    let raw: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| input(format!("{}: not valid JSON: {e}", event.display())))?;
    // Reading no AWS, the event's account is taken as a member of the policy's sets.
    let account = raw
        .get("account")
        .and_then(|a| a.as_str())
        .unwrap_or_default();
    let p = p.assuming_member(account);
    let mut observed = Observed::default();
    for tag in resource_tags {
        let (k, v) = tag
            .split_once('=')
            .ok_or_else(|| input(format!("--resource-tag {tag}: expected KEY=VALUE")))?;
        observed.resource_tags.insert(k.to_string(), v.to_string());
    }
    for lock in vault_locks {
        let (alias, lock) = parse_lock(lock).map_err(input)?;
        let vault = p
            .vault(&alias)
            .ok_or_else(|| input(format!("--vault-lock: no vault '{alias}' in the policy")))?;
        observed.vault_locks.insert(vault.arn.clone(), lock);
    }
    let plan = router::plan_only(&raw, &p, &observed)
        .map_err(|e| input(format!("{}: {e}", event.display())))?;
    let json = serde_json::to_string_pretty(&plan)
        .map_err(|e| input(format!("cannot render the plan: {e}")))?;
    out(&format!("{json}\n"))
}

/// `ALIAS=MIN:MAX`, days as a vault lock takes them: 1 <= MIN <= MAX <= 36500, either side may be
/// empty (no bound).
fn parse_lock(spec: &str) -> Result<(String, VaultLock), String> {
    let bad = |why: String| {
        format!("--vault-lock {spec}: {why} (expected ALIAS=MIN:MAX, e.g. bunker=1:3650)")
    };
    let (alias, range) = spec.split_once('=').ok_or_else(|| bad("no '='".into()))?;
    if alias.is_empty() {
        return Err(bad("no vault alias".into()));
    }
    let (min, max) = range
        .split_once(':')
        .ok_or_else(|| bad("no ':' between MIN and MAX".into()))?;
    let days = |s: &str| -> Result<Option<u32>, String> {
        if s.is_empty() {
            return Ok(None);
        }
        match s.parse::<u32>() {
            Ok(d) if (MIN_DAYS..=NEVER_EXPIRE_DAYS).contains(&d) => Ok(Some(d)),
            _ => Err(bad(format!(
                "'{s}' is not a whole number of days within {MIN_DAYS}..={NEVER_EXPIRE_DAYS}"
            ))),
        }
    };
    let (min, max) = (days(min)?, days(max)?);
    if let (Some(lo), Some(hi)) = (min, max) {
        if lo > hi {
            return Err(bad(format!("MIN {lo} is greater than MAX {hi}")));
        }
    }
    let lock = VaultLock {
        min_retention_days: min,
        max_retention_days: max,
    };
    Ok((alias.to_string(), lock))
}
