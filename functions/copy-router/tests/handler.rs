//! The fixtures run through the real handler, on the simulator's ports.

use chrono::{DateTime, Utc};
use copy_router::handler::CopyRouter;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::Lifecycle;
use relay_core::router::RouterConfig;
use relay_lambda::{HandlerError, LoadedPolicy};
use relay_sim::world::{SimRecoveryPoint, SimTable};
use relay_sim::{Faults, Sim, World};
use serde_json::Value;

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");
const BACKUP_COMPLETED: &[u8] = include_bytes!("../../../tests/events/backup-job-completed.json");
const MALFORMED: &[u8] = include_bytes!("../../../tests/events/malformed-missing-detail.json");
const COPY_FAILED_ACCESS: &[u8] =
    include_bytes!("../../../tests/events/copy-job-failed-access-denied.json");

const TABLE: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";
const RP: &str =
    "arn:aws:backup:us-east-1:111111111111:recovery-point:0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";

fn event(bytes: &[u8]) -> LambdaEvent<Value> {
    LambdaEvent::new(serde_json::from_slice(bytes).unwrap(), Context::default())
}

/// The example organisation, with the fixtures' table and the recovery point of backup-job-completed.json.
fn world(policy: &Policy) -> Sim {
    let now = DateTime::parse_from_rfc3339("2026-11-20T05:45:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut w = World::new(now, 7, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
    }
    w.tables.push(SimTable::new(
        TableArn::parse(TABLE).unwrap(),
        [("backup-tier".to_string(), "gold".to_string())].into(),
    ));
    w.recovery_points.insert(
        RP.to_string(),
        SimRecoveryPoint {
            arn: RP.to_string(),
            vault: VaultArn::parse("arn:aws:backup:us-east-1:111111111111:backup-vault:primary")
                .unwrap(),
            resource_arn: TABLE.to_string(),
            creation_date: now,
            lifecycle: Lifecycle {
                delete_after_days: Some(35),
                move_to_cold_storage_after_days: None,
            },
            delete_at: None,
            source: None,
            completed_at: now,
            status: "COMPLETED",
        },
    );
    Sim::new(w)
}

fn router() -> CopyRouter<Sim> {
    let policy = Policy::parse(POLICY).unwrap();
    CopyRouter::new(
        world(&policy),
        LoadedPolicy::new(Ok(policy)),
        RouterConfig::default(),
    )
}

#[tokio::test]
async fn a_completed_backup_starts_one_copy_and_a_redelivery_starts_none() {
    let r = router();
    let first = r.handle(event(BACKUP_COMPLETED)).await.unwrap();
    assert_eq!(first["started"].as_array().unwrap().len(), 1, "{first}");
    assert_eq!(first["started"][0][0], "primary->central");
    let again = r.handle(event(BACKUP_COMPLETED)).await.unwrap();
    assert_eq!(again["started"].as_array().unwrap().len(), 0);
    assert_eq!(again["already_claimed"][0], "primary->central");
    let w = r.ports().world();
    assert_eq!(w.jobs.len(), 1);
    assert_eq!(w.jobs[0].lifecycle.unwrap().delete_after_days, Some(35));
}

#[tokio::test]
async fn an_unreadable_event_fails_with_its_id_for_the_dead_letter_queue() {
    let r = router();
    let err = r.handle(event(MALFORMED)).await.unwrap_err();
    assert!(matches!(err, HandlerError::Event(_)));
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "UnreadableEvent");
    assert!(
        d.error_message
            .contains("6a7e8feb-b491-4cf7-a9f1-bf3703bad001"),
        "{}",
        d.error_message
    );
}

#[tokio::test]
async fn an_invalid_policy_takes_no_action_and_says_why() {
    let bad = POLICY.replace("delete_after_days: 35", "delete_after_days: 0");
    let errors = Policy::parse(&bad).unwrap_err();
    let r = CopyRouter::new(
        world(&Policy::parse(POLICY).unwrap()),
        LoadedPolicy::new(Err(errors)),
        RouterConfig::default(),
    );
    let err = r.handle(event(BACKUP_COMPLETED)).await.unwrap_err();
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "InvalidPolicy");
    assert!(
        d.error_message
            .contains("delete_after_days: 0 is outside 1..=36500"),
        "{}",
        d.error_message
    );
    assert!(
        d.error_message
            .contains("6a7e8feb-b491-4cf7-a9f1-bf3703000006"),
        "{}",
        d.error_message
    );
    assert!(r.ports().world().jobs.is_empty());
    assert!(r.ports().world().ledger.is_empty());
}

#[tokio::test]
async fn a_failure_for_a_hop_we_never_started_is_not_ours() {
    // The ledger has no such hop: a stale or foreign failure is logged, not acted on.
    let r = router();
    let out = r.handle(event(COPY_FAILED_ACCESS)).await.unwrap();
    assert_eq!(out["failures_recorded"], 0);
    assert!(r.ports().world().alerts.is_empty());
}

#[tokio::test]
async fn every_fixture_goes_through_the_handler_without_a_panic() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/events");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let result = router().handle(event(&bytes)).await;
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if name.starts_with("malformed") {
            assert!(result.is_err(), "{name}");
        } else {
            assert!(result.is_ok(), "{name}: {:?}", result.err());
        }
        count += 1;
    }
    assert!(count >= 30, "only {count} fixtures");
}
