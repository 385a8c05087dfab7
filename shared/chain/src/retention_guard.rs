//! The retention guard over the ports: a recovery point landing in a `never_expire` vault keeps its
//! 100 years, or is recorded as a violation and alerted once. Used by the `retention-guard`
//! function (events) and by the reconciler (every point it finds there).

use serde::Serialize;
use serde_json::Value;

use crate::incident;
use crate::patience::Patient;
use crate::router::{account_unreachable, observe, parse_event, RouterConfig, RouterError};
use relay_core::arn::VaultArn;
use relay_core::event::ParsedEvent;
use relay_core::event::{EventDetail, JobState};
use relay_core::guard::PointView;
use relay_core::plan::{self, guard_action, Action, RetentionViolation, UpdateLifecycle};
use relay_core::policy::{Policy, Vault};
use relay_core::ports::{Alert, ErrorKind, Incident, PortError, RouterPorts};
use relay_core::retention::{Retention, VaultLock};

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
    let ports = &Patient::new(ports, RouterConfig::default().patience);
    let event = parse_event(raw)?;
    let event_id = event.envelope.id.clone();
    let fail = |source: PortError| RouterError::from_port(&event_id, source);
    let mut out = GuardOutcome {
        event_id: event_id.clone(),
        ..Default::default()
    };
    match guard_event(ports, policy, &event, &mut out).await {
        Ok(()) => {}
        // The vault's account is unreachable: one incident for it; the reconciler re-checks later.
        Err(e) if e.is_account_denied() => {
            out.alerts_sent += u32::from(account_unreachable(ports, &e).await.map_err(&fail)?);
            out.ignored = Some(format!("account unreachable: {e}"));
        }
        Err(e) => return Err(fail(e)),
    }
    tracing::info!(
        repaired = out.repaired,
        violations = out.violations,
        "retention checked"
    );
    Ok(out)
}

async fn guard_event<P: RouterPorts>(
    ports: &P,
    policy: &Policy,
    event: &ParsedEvent,
    out: &mut GuardOutcome,
) -> Result<(), PortError> {
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
                return Ok(());
            };
            // The event does not carry the copy's lifecycle: ask AWS.
            let point = ports.describe_recovery_point(&vault.arn, rp).await?;
            let lock = ports.vault_lock(&vault.arn).await?;
            check_point(ports, vault, &point, lock.as_ref(), out).await
        }
        EventDetail::RecoveryPoint(_) => {
            let needs = plan::plan_needs(event, policy);
            let observed = observe(ports, &needs).await?;
            let planned = plan::plan_event(event, policy, &observed);
            out.ignored = planned.ignored.clone();
            for action in &planned.actions {
                out.checked += 1;
                apply(ports, action, out).await?;
            }
            Ok(())
        }
        _ => {
            out.ignored = Some(format!(
                "'{}' events need no action from the retention guard",
                event.envelope.detail_type
            ));
            Ok(())
        }
    }
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
        Action::StartCopyJob(_)
        | Action::RecordCopyFailure(_)
        | Action::RecordBackupFailure(_)
        | Action::RecordUnroutedCopy(_)
        | Action::TagRecoveryPoint(_) => Ok(()),
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
        // Transient, or the vault's account unreachable (its one incident, raised by the caller;
        // the points are repaired once it is reachable again): not a violation of the point.
        Err(e) if e.kind.is_transient() || e.is_account_denied() => Err(e),
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
    let alert = Alert::plain(format!("Backup Relay: never-expire not kept in {}", v.backup_vault_name), format!(
            "Recovery point {} in vault {} ({}/{}) will not be kept 36500 days: {}.\nNothing was shortened or deleted. Likely fix: the vault lock's MaxRetentionDays must allow 36500 days, or set the lifecycle when the copy is made (a backup plan's copy action: its own lifecycle; a copy set to never expire still inherits its source's expiry).",
            v.recovery_point_arn, v.backup_vault_name, v.account, v.region, v.reason
        ));
    let id = Incident::retention_id(&v.recovery_point_arn);
    out.alerts_sent += u32::from(incident::raise(ports, id, alert).await?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, Duration, Utc};
    use serde_json::json;

    use super::*;
    use relay_core::arn::Location;
    use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey, HopRecord};
    use relay_core::plan::{StartCopyJob, Tags};
    use relay_core::ports::{
        AlertPort, BackupPort, Clock, CopyJobStatus, HopFailure, Incident, LedgerPort, ListQuery,
        Page, PortResult, TagPort,
    };
    use relay_core::retention::{self, Lifecycle, NEVER_EXPIRE_DAYS};

    const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");
    const RP_EVENT: &str = include_str!("../../../tests/events/recovery-point-completed.json");
    const COPY_EVENT: &str =
        include_str!("../../../tests/events/copy-job-completed-dr-to-bunker.json");
    const RP: &str =
        "arn:aws:backup:eu-west-1:333333333333:recovery-point:3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f";
    const BUNKER: &str = "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker";

    /// Only what the guard uses: one recovery point in the bunker, the bunker's lock, and a record
    /// of lifecycle updates, violations and alerts. Everything else answers "not used here".
    #[derive(Default)]
    struct Fake {
        lock: Option<VaultLock>,
        point: Mutex<Option<PointView>>,
        updates: Mutex<Vec<(VaultArn, String, Lifecycle)>>,
        violations: Mutex<Vec<String>>,
        alerts: Mutex<Vec<Alert>>,
    }

    fn unused<T>() -> PortResult<T> {
        Err(PortError::new(
            ErrorKind::Permanent,
            "fake",
            None,
            "not used by the retention guard",
        ))
    }

    impl BackupPort for Fake {
        async fn start_copy_job(&self, _: &StartCopyJob) -> PortResult<String> {
            unused()
        }
        async fn vault_lock(&self, _: &VaultArn) -> PortResult<Option<VaultLock>> {
            Ok(self.lock)
        }
        async fn list_recovery_points(
            &self,
            _: &VaultArn,
            _: &ListQuery,
        ) -> PortResult<Page<PointView>> {
            unused()
        }
        async fn find_copy_jobs(
            &self,
            _: &Location,
            _: &relay_core::ports::CopyJobQuery,
        ) -> PortResult<Vec<relay_core::ports::CopyJobSummary>> {
            unused()
        }
        async fn describe_recovery_point(&self, _: &VaultArn, arn: &str) -> PortResult<PointView> {
            let point = self.point.lock().unwrap().clone();
            point
                .filter(|p| p.recovery_point_arn == arn)
                .ok_or_else(|| {
                    PortError::new(ErrorKind::NotFound, "DescribeRecoveryPoint", None, arn)
                })
        }
        /// Applies the lifecycle as AWS would: the delete date counts from creation.
        async fn update_recovery_point_lifecycle(
            &self,
            vault: &VaultArn,
            arn: &str,
            lifecycle: &Lifecycle,
        ) -> PortResult<()> {
            self.updates
                .lock()
                .unwrap()
                .push((vault.clone(), arn.to_string(), *lifecycle));
            if let Some(p) = self.point.lock().unwrap().as_mut() {
                p.lifecycle = *lifecycle;
                p.delete_at = retention::delete_at(p.creation_date, lifecycle);
            }
            Ok(())
        }
        async fn copy_job_status(&self, _: &Location, _: &str) -> PortResult<CopyJobStatus> {
            unused()
        }
    }

    impl TagPort for Fake {
        async fn resource_tags(&self, _: &str) -> PortResult<Tags> {
            unused()
        }
    }

    impl relay_core::ports::CopyTagPort for Fake {
        async fn recovery_point_tags(&self, _: &VaultArn, _: &str) -> PortResult<Tags> {
            unused()
        }
        async fn tag_recovery_point(&self, _: &VaultArn, _: &str, _: &Tags) -> PortResult<()> {
            unused()
        }
    }

    impl AlertPort for Fake {
        async fn send(&self, alert: &Alert) -> PortResult<()> {
            self.alerts.lock().unwrap().push(alert.clone());
            Ok(())
        }
    }

    impl Clock for Fake {
        fn now(&self) -> DateTime<Utc> {
            created() + Duration::hours(2)
        }
    }

    impl LedgerPort for Fake {
        async fn claim(&self, _: &HopKey, _: &ClaimRequest) -> PortResult<ClaimOutcome> {
            unused()
        }
        async fn mark_started(
            &self,
            _: &HopKey,
            _: u32,
            _: &relay_core::ports::StartedJob,
            _: DateTime<Utc>,
        ) -> PortResult<bool> {
            unused()
        }
        async fn release(&self, _: &HopKey, _: u32, _: &str, _: DateTime<Utc>) -> PortResult<bool> {
            unused()
        }
        async fn mark_completed(
            &self,
            _: &HopKey,
            _: Option<&str>,
            _: DateTime<Utc>,
        ) -> PortResult<bool> {
            unused()
        }
        async fn mark_failed(
            &self,
            _: &HopKey,
            _: &HopFailure,
            _: DateTime<Utc>,
        ) -> PortResult<Option<HopRecord>> {
            unused()
        }
        async fn record_skipped(
            &self,
            _: &HopKey,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
        ) -> PortResult<bool> {
            unused()
        }
        async fn get(&self, _: &HopKey) -> PortResult<Option<HopRecord>> {
            unused()
        }
        async fn mark_tagged(
            &self,
            _: &HopKey,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
        ) -> PortResult<()> {
            unused()
        }
        async fn escalate(
            &self,
            _: &HopKey,
            _: u32,
            _: &str,
            _: DateTime<Utc>,
        ) -> PortResult<bool> {
            unused()
        }
        /// `true` the first time an incident is opened, as the real ledger's conditional write.
        async fn open_incident(&self, incident: &Incident) -> PortResult<bool> {
            let arn = incident.id.trim_start_matches("retention#");
            let mut seen = self.violations.lock().unwrap();
            let first = !seen.iter().any(|a| a == arn);
            if first {
                seen.push(arn.to_string());
            }
            Ok(first)
        }
        async fn incident_alerted(&self, _: &str, _: DateTime<Utc>) -> PortResult<()> {
            Ok(())
        }
        async fn open_incidents(&self) -> PortResult<Vec<Incident>> {
            unused()
        }
        async fn close_incident(&self, _: &str) -> PortResult<()> {
            unused()
        }
        async fn load_cursor(&self, _: &str) -> PortResult<Option<String>> {
            unused()
        }
        async fn take_lease(
            &self,
            _: &str,
            _: &str,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> PortResult<bool> {
            unreachable!()
        }
        async fn release_lease(&self, _: &str, _: &str) -> PortResult<()> {
            unreachable!()
        }
        async fn save_cursor(&self, _: &str, _: Option<&str>, _: DateTime<Utc>) -> PortResult<()> {
            unused()
        }
    }

    impl RouterPorts for Fake {
        type Ledger = Self;
        fn ledger(&self) -> &Self {
            self
        }
    }

    fn policy() -> Policy {
        Policy::parse(POLICY).unwrap()
    }

    fn created() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-20T05:00:09.461Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The fixture's Recovery Point State Change in the bunker, with a "never" lifecycle and no
    /// calculated delete date: what a backup plan's copy action leaves behind.
    fn never_event() -> Value {
        let mut ev: Value = serde_json::from_str(RP_EVENT).unwrap();
        ev["detail"]["lifecycle"] = json!({"deleteAfterDays": -1});
        ev["detail"]
            .as_object_mut()
            .unwrap()
            .remove("calculatedLifeCycle");
        ev
    }

    fn hundred_years() -> Lifecycle {
        Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: None,
        }
    }

    #[tokio::test]
    async fn a_never_lifecycle_event_is_repaired_to_36500_days() {
        let ports = Fake::default();
        let out = handle_event(&ports, &policy(), &never_event())
            .await
            .unwrap();
        assert_eq!((out.checked, out.repaired, out.violations), (1, 1, 0));
        let updates = ports.updates.lock().unwrap();
        let [(vault, arn, lifecycle)] = updates.as_slice() else {
            panic!("{updates:?}")
        };
        assert_eq!(vault.to_string(), BUNKER);
        assert_eq!(arn, RP);
        assert_eq!(*lifecycle, hundred_years());
    }

    #[tokio::test]
    async fn after_the_repair_the_same_point_is_compliant() {
        let mut ev = never_event();
        ev["detail"]["lifecycle"] = json!({"deleteAfterDays": 36500});
        ev["detail"]["calculatedLifeCycle"] = json!({"deleteAt": "2126-10-27T00:00:00Z"});
        let ports = Fake::default();
        let out = handle_event(&ports, &policy(), &ev).await.unwrap();
        assert_eq!((out.repaired, out.violations), (0, 0));
        assert!(out.ignored.is_some(), "{out:?}");
        assert!(ports.updates.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_never_lifecycle_in_a_locked_bunker_is_a_violation_alerted_once() {
        let ports = Fake {
            lock: Some(VaultLock {
                min_retention_days: Some(1),
                max_retention_days: Some(3650),
            }),
            ..Default::default()
        };
        for _ in 0..2 {
            let out = handle_event(&ports, &policy(), &never_event())
                .await
                .unwrap();
            assert_eq!((out.repaired, out.violations), (0, 1));
        }
        assert!(ports.updates.lock().unwrap().is_empty());
        assert_eq!(ports.alerts.lock().unwrap().len(), 1);
    }

    /// A copy landing in the bunker with "never" and no reported date: repaired once, then left
    /// alone when the copy event is delivered again.
    #[tokio::test]
    async fn a_copy_with_a_never_lifecycle_is_repaired_once_across_redeliveries() {
        let ports = Fake::default();
        *ports.point.lock().unwrap() = Some(PointView {
            recovery_point_arn: RP.into(),
            vault: VaultArn::parse(BUNKER).unwrap(),
            resource_arn: None,
            resource_type: Some("DynamoDB".into()),
            status: Some("COMPLETED".into()),
            creation_date: created(),
            completion_date: None,
            lifecycle: Lifecycle::default(),
            delete_at: None,
            storage_class: Some("WARM".into()),
            encrypted: None,
            source_vault_arn: None,
            tags: None,
            backup_size_bytes: None,
        });
        let ev: Value = serde_json::from_str(COPY_EVENT).unwrap();
        let mut repaired = Vec::new();
        for _ in 0..3 {
            repaired.push(handle_event(&ports, &policy(), &ev).await.unwrap().repaired);
        }
        assert_eq!(repaired, [1, 0, 0]);
        assert_eq!(ports.updates.lock().unwrap().len(), 1);
    }
}
