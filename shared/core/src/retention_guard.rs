//! The retention guard over the ports: a recovery point landing in a `never_expire` vault keeps its
//! 100 years, or is recorded as a violation and alerted once. Used by the `retention-guard`
//! function (events) and by the reconciler (every point it finds there).

use serde::Serialize;
use serde_json::Value;

use crate::arn::VaultArn;
use crate::event::{EventDetail, JobState};
use crate::guard::PointView;
use crate::plan::{self, guard_action, Action, RetentionViolation, UpdateLifecycle};
use crate::policy::{Policy, Vault};
use crate::ports::{Alert, ErrorKind, LedgerPort, PortError, RouterPorts};
use crate::retention::{Retention, VaultLock};
use crate::router::{observe, parse_event, RouterError};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GuardOutcome {
    pub event_id: String,
    pub ignored: Option<String>,
    pub checked: u32,
    pub repaired: u32,
    pub violations: u32,
    pub alerts_sent: u32,
}

pub async fn handle_event<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    raw: &Value,
) -> Result<GuardOutcome, RouterError> {
    let event = parse_event(raw)?;
    let event_id = event.envelope.id.clone();
    let fail = |source: PortError| RouterError::from_port(&event_id, source);
    let mut out = GuardOutcome {
        event_id: event_id.clone(),
        ..Default::default()
    };
    match &event.detail {
        EventDetail::CopyJob(c) if c.state == JobState::Completed => {
            let dest = c
                .destination_backup_vault_arn
                .as_deref()
                .and_then(|a| VaultArn::parse(a).ok());
            let vault = dest
                .as_ref()
                .and_then(|d| policy.vault_by_arn(d))
                .filter(|v| is_never_expire(v));
            let (Some(vault), Some(rp)) = (vault, c.destination_recovery_point_arn.as_deref())
            else {
                out.ignored =
                    Some("the copy did not land in a never_expire vault of the policy".into());
                return Ok(out);
            };
            // The event does not carry the copy's lifecycle: ask AWS.
            let point = ports
                .describe_recovery_point(&vault.arn, rp)
                .await
                .map_err(&fail)?;
            let lock = ports.vault_lock(&vault.arn).await.map_err(&fail)?;
            check_point(ports, vault, &point, lock.as_ref(), &mut out)
                .await
                .map_err(&fail)?;
        }
        EventDetail::RecoveryPoint(_) => {
            let needs = plan::plan_needs(&event, policy);
            let observed = observe(ports, &needs).await.map_err(&fail)?;
            let planned = plan::plan_event(&event, policy, &observed);
            out.ignored = planned.ignored.clone();
            for action in &planned.actions {
                out.checked += 1;
                apply(ports, action, &mut out).await.map_err(&fail)?;
            }
        }
        _ => {
            out.ignored = Some(format!(
                "'{}' events need no action from the retention guard",
                event.envelope.detail_type
            ))
        }
    }
    tracing::info!(event_id = %event_id, repaired = out.repaired, violations = out.violations, "retention checked");
    Ok(out)
}

pub fn is_never_expire(vault: &Vault) -> bool {
    matches!(vault.retention, Some(Retention::NeverExpire { .. }))
}

/// Decide on one point and carry the decision out.
pub async fn check_point<P: RouterPorts>(
    ports: &P,
    vault: &Vault,
    point: &PointView,
    lock: Option<&VaultLock>,
    out: &mut GuardOutcome,
) -> Result<(), PortError> {
    out.checked += 1;
    match guard_action(vault, point, lock) {
        Ok(action) => apply(ports, &action, out).await,
        Err(_compliant) => Ok(()),
    }
}

async fn apply<P: RouterPorts>(
    ports: &P,
    action: &Action,
    out: &mut GuardOutcome,
) -> Result<(), PortError> {
    match action {
        Action::UpdateRecoveryPointLifecycle(u) => repair(ports, u, out).await,
        Action::RecordRetentionViolation(v) => violation(ports, v, out).await,
        Action::StartCopyJob(_) | Action::RecordCopyFailure(_) => Ok(()),
    }
}

async fn repair<P: RouterPorts>(
    ports: &P,
    u: &UpdateLifecycle,
    out: &mut GuardOutcome,
) -> Result<(), PortError> {
    let vault = VaultArn::parse(&u.backup_vault_arn).map_err(|e| {
        PortError::new(
            ErrorKind::Permanent,
            "UpdateRecoveryPointLifecycle",
            None,
            e.to_string(),
        )
    })?;
    match ports
        .update_recovery_point_lifecycle(&vault, &u.recovery_point_arn, &u.lifecycle)
        .await
    {
        Ok(()) => {
            tracing::info!(recovery_point = %u.recovery_point_arn, vault = %u.backup_vault_name, "lifecycle set to 36500 days");
            out.repaired += 1;
            Ok(())
        }
        Err(e) if e.kind.is_transient() => Err(e),
        // Refused (a lock, a cold point, permissions): recorded as a violation, alerted once.
        Err(e) => {
            let v = RetentionViolation {
                account: u.account.clone(),
                region: u.region.clone(),
                recovery_point_arn: u.recovery_point_arn.clone(),
                backup_vault_name: u.backup_vault_name.clone(),
                reason: format!("AWS refused UpdateRecoveryPointLifecycle to 36500 days: {e}"),
            };
            violation(ports, &v, out).await
        }
    }
}

async fn violation<P: RouterPorts>(
    ports: &P,
    v: &RetentionViolation,
    out: &mut GuardOutcome,
) -> Result<(), PortError> {
    out.violations += 1;
    let vault_arn = format!("{}/{}/{}", v.account, v.region, v.backup_vault_name);
    if ports
        .ledger()
        .record_retention_violation(&v.recovery_point_arn, &vault_arn, &v.reason, ports.now())
        .await?
    {
        let alert = Alert {
            subject: format!("Backup Relay: never-expire not kept in {}", v.backup_vault_name),
            message: format!(
                "Recovery point {} in vault {} ({}/{}) will not be kept 36500 days: {}.\nNothing was shortened or deleted. Likely fix: the vault lock's MaxRetentionDays must allow 36500 days, or set the lifecycle when the copy is made.",
                v.recovery_point_arn, v.backup_vault_name, v.account, v.region, v.reason
            ),
            hop: None,
        };
        ports.send(&alert).await?;
        out.alerts_sent += 1;
    }
    Ok(())
}
