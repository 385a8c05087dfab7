//! The retention guard's handler on the simulator, with the fixtures.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use relay_core::arn::VaultArn;
use relay_core::policy::Policy;
use relay_core::retention::{Lifecycle, VaultLock};
use relay_lambda::LoadedPolicy;
use relay_sim::world::SimRecoveryPoint;
use relay_sim::{Faults, Sim, World};
use retention_guard::handler::RetentionGuard;
use serde_json::Value;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");
const RP_COMPLETED: &[u8] = include_bytes!("../../../tests/events/recovery-point-completed.json");
const COPY_TO_BUNKER: &[u8] =
    include_bytes!("../../../tests/events/copy-job-completed-dr-to-bunker.json");
const MALFORMED: &[u8] = include_bytes!("../../../tests/events/malformed-missing-detail.json");

const RP_B: &str =
    "arn:aws:backup:eu-west-1:333333333333:recovery-point:3c4d5e6f-7a8b-4c9d-0e1f-2a3b4c5d6e7f";

fn event(bytes: &[u8]) -> LambdaEvent<Value> {
    LambdaEvent::new(serde_json::from_slice(bytes).unwrap(), Context::default())
}

fn created() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T05:00:09.461Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// The bunker holds the fixtures' copy with the 365 days it inherited.
fn guard(lock: Option<VaultLock>) -> RetentionGuard<Sim> {
    let policy = Policy::parse(POLICY).unwrap();
    let mut w = World::new(created() + Duration::hours(2), 3, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
    }
    let bunker =
        VaultArn::parse("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker").unwrap();
    w.vault_mut(&bunker).unwrap().lock = lock;
    let lifecycle = Lifecycle {
        delete_after_days: Some(365),
        move_to_cold_storage_after_days: None,
    };
    w.insert_point(SimRecoveryPoint {
        arn: RP_B.into(),
        vault: bunker,
        resource_arn: "arn:aws:dynamodb:us-east-1:111111111111:table/orders".into(),
        creation_date: created(),
        lifecycle,
        delete_at: Some(created() + Duration::days(365)),
        source: None,
        completed_at: created(),
        status: "COMPLETED",
        source_vault: None,
    });
    RetentionGuard::new(Sim::new(w), LoadedPolicy::new(Ok(policy)))
}

#[tokio::test]
async fn a_short_point_in_the_bunker_is_set_to_36500_days_from_its_creation() {
    for fixture in [RP_COMPLETED, COPY_TO_BUNKER] {
        let g = guard(None);
        let out = answer(g.handle(event(fixture)).await.unwrap());
        assert_eq!(out["repaired"], 1, "{out}");
        let w = g.ports().world();
        let rp = &w.recovery_points[RP_B];
        assert_eq!(rp.lifecycle.delete_after_days, Some(36500));
        assert_eq!(rp.delete_at, Some(created() + Duration::days(36500)));
    }
}

#[tokio::test]
async fn a_locked_bunker_is_a_violation_alerted_once_and_nothing_is_shortened() {
    let g = guard(Some(VaultLock {
        min_retention_days: Some(1),
        max_retention_days: Some(3650),
    }));
    for _ in 0..3 {
        let out = answer(g.handle(event(RP_COMPLETED)).await.unwrap());
        assert_eq!(
            (out["repaired"].as_u64(), out["violations"].as_u64()),
            (Some(0), Some(1))
        );
    }
    let w = g.ports().world();
    assert_eq!(w.alerts.len(), 1, "one alert per point, not per delivery");
    assert!(w.alerts[0].message.contains("locked"));
    assert_eq!(
        w.recovery_points[RP_B].delete_at,
        Some(created() + Duration::days(365))
    );
    assert_eq!(
        w.incidents
            .keys()
            .filter(|k| k.starts_with("retention#"))
            .count(),
        1
    );
}

#[tokio::test]
async fn unreadable_events_fail_with_their_id() {
    let d: Diagnostic = guard(None)
        .handle(event(MALFORMED))
        .await
        .unwrap_err()
        .into();
    assert_eq!(d.error_type, "UnreadableEvent");
    assert!(d
        .error_message
        .contains("6a7e8feb-b491-4cf7-a9f1-bf3703bad001"));
}

#[tokio::test]
async fn other_events_are_ignored_with_a_reason() {
    let out = guard(None)
        .handle(event(include_bytes!(
            "../../../tests/events/backup-job-completed.json"
        )))
        .await
        .unwrap();
    assert_eq!(out.repaired, 0);
    assert!(out
        .ignored
        .is_some_and(|why| why.contains("no action from the retention guard")));
}

/// The answer as the Lambda runtime sends it to the invoker.
fn answer(out: impl serde::Serialize) -> Value {
    serde_json::to_value(out).unwrap()
}
