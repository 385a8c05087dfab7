//! The reconciler's handler on the simulator.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Duration, Utc};
use lambda_runtime::{Context, LambdaEvent};
use reconciler::handler::Reconciler;
use relay_chain::reconcile::{ReconcileConfig, RunBudget};
use relay_core::arn::{TableArn, VaultArn};
use relay_core::policy::Policy;
use relay_core::retention::Lifecycle;
use relay_lambda::LoadedPolicy;
use relay_sim::world::SimTable;
use relay_sim::{Faults, Sim, World};
use serde_json::{json, Value};

const POLICY: &str = include_str!("../../../infra/examples/policy.yaml");

/// A backup in primary whose Backup Job event never arrived.
fn reconciler() -> Reconciler<Sim> {
    let policy = Policy::parse(POLICY).unwrap();
    let now = DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut w = World::new(now, 5, Faults::none());
    for v in &policy.vaults {
        w.add_vault(v.arn.clone());
    }
    let table = TableArn::parse("arn:aws:dynamodb:us-east-1:111111111111:table/orders").unwrap();
    w.tables.push(SimTable::new(
        table.clone(),
        [("backup-tier".to_string(), "gold".to_string())].into(),
    ));
    let primary =
        VaultArn::parse("arn:aws:backup:us-east-1:111111111111:backup-vault:primary").unwrap();
    let lifecycle = Lifecycle {
        delete_after_days: Some(35),
        move_to_cold_storage_after_days: None,
    };
    // The backup finished three hours ago: long enough for its events to have arrived, had they not been lost.
    w.now = now - Duration::hours(3);
    w.complete_backup(&table, &primary, now - Duration::hours(3), lifecycle, None);
    w.now = now;
    w.pending.clear(); // the events are lost
    Reconciler::new(
        Sim::new(w),
        LoadedPolicy::new(Ok(policy)),
        ReconcileConfig::default(),
    )
}

fn scheduled(deadline_in: Duration) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.deadline = u64::try_from((Utc::now() + deadline_in).timestamp_millis()).unwrap();
    let payload = json!({"version": "0", "id": "sched-1", "detail-type": "Scheduled Event", "source": "aws.events",
                         "account": "222222222222", "time": "2026-11-20T12:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    LambdaEvent::new(payload, context)
}

#[tokio::test]
async fn a_scheduled_run_redrives_the_hop_whose_event_was_lost() {
    let r = reconciler();
    let report = answer(r.handle(scheduled(Duration::minutes(5))).await.unwrap());
    assert_eq!(report["redriven"], 1, "{report}");
    assert_eq!(report["pass_complete"], true);
    let w = r.ports().world();
    assert_eq!(w.jobs.len(), 1);
    assert_eq!(w.jobs[0].dest_vault.name, "central");
    // The next run begins a new pass; the cursor keeps when this clean pass ended.
    let cursor: Value = serde_json::from_str(w.reconciler_cursors[""].as_str()).unwrap();
    assert_eq!(
        (cursor["phase"].as_u64(), cursor["unclean"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(cursor["clean_at"].is_string(), "{cursor}");
}

#[tokio::test]
async fn a_run_that_reaches_its_deadline_stops_with_its_cursor_saved() {
    let r = reconciler();
    // Less time left than the margin: the run must not start a page.
    let report = answer(r.handle(scheduled(Duration::seconds(5))).await.unwrap());
    assert_eq!(
        (report["pages"].as_u64(), report["pass_complete"].as_bool()),
        (Some(0), Some(false))
    );
    assert!(r.ports().world().reconciler_cursors.contains_key(""));
    // The next run resumes and finishes.
    let policy = Policy::parse(POLICY).unwrap();
    let report = answer(r.run(&policy, RunBudget::default()).await.unwrap());
    assert_eq!(
        (
            report["resumed"].as_bool(),
            report["pass_complete"].as_bool()
        ),
        (Some(true), Some(true))
    );
    assert_eq!(report["redriven"], 1);
}

#[tokio::test]
async fn without_a_valid_policy_the_outbox_still_sends_what_is_open() {
    let r = reconciler();
    let sim = r.ports();
    {
        let mut w = sim.world();
        let now = w.now;
        let unsent = relay_core::ports::Incident::new(
            "policy#2#abc".into(),
            relay_core::ports::Alert::plain(
                "Backup Relay: policy version 2 refused".into(),
                "invalid".into(),
            ),
            now - Duration::hours(1),
        );
        w.incidents.insert(unsent.id.clone(), unsent);
    }
    let refused = Reconciler::new(
        Sim::new(std::mem::replace(
            &mut *sim.world(),
            World::new(Utc::now(), 1, Faults::none()),
        )),
        LoadedPolicy::parse("version: 1"),
        ReconcileConfig::default(),
    );
    let e = refused
        .handle(scheduled(Duration::minutes(5)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid"), "{e}");
    let w = refused.ports().world();
    let subjects: Vec<&str> = w.alerts.iter().map(|a| a.subject.as_str()).collect();
    assert!(
        subjects.contains(&"Backup Relay: policy version 2 refused"),
        "{subjects:?}"
    );
    assert!(w.incidents["policy#2#abc"].alerted_at.is_some());
}

/// The answer as the Lambda runtime sends it to the invoker.
fn answer(out: impl serde::Serialize) -> Value {
    serde_json::to_value(out).unwrap()
}

/// An SQS batch of these message bodies, as the event source mapping delivers it.
fn sqs(bodies: &[String], deadline_in: Duration) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.deadline = u64::try_from((Utc::now() + deadline_in).timestamp_millis()).unwrap();
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": "r", "body": b,
                             "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                             "eventSource": "aws:sqs",
                             "eventSourceARN": "arn:aws:sqs:us-east-1:222222222222:pieces",
                             "awsRegion": "us-east-1"})
        })
        .collect();
    LambdaEvent::new(json!({ "Records": records }), context)
}

#[tokio::test]
async fn a_scheduled_run_with_a_queue_sends_one_piece_per_account_and_region() {
    let r = reconciler().fanned_out(true);
    let coordination = answer(r.handle(scheduled(Duration::minutes(5))).await.unwrap());
    // primary (111111111111/us-east-1), central (222222222222/us-east-1), dr (222222222222/us-west-2),
    // and the never_expire bunker (333333333333/eu-west-1).
    assert_eq!(
        coordination["pieces"].as_array().unwrap().len(),
        4,
        "{coordination}"
    );
    let queued = r.ports().world().queued_pieces.clone();
    assert_eq!(queued.len(), 4);
    assert!(
        r.ports().world().jobs.is_empty(),
        "the coordinator walks nothing itself"
    );
    // The pieces' invocations: the lost hop is redriven by primary's piece.
    let batch = answer(r.handle(sqs(&queued, Duration::minutes(5))).await.unwrap());
    assert_eq!(batch["batchItemFailures"], json!([]), "{batch}");
    let w = r.ports().world();
    assert_eq!(w.jobs.len(), 1);
    assert_eq!(w.reconciler_cursors.len(), 4, "a cursor per piece");
}

#[tokio::test]
async fn a_piece_cut_by_its_deadline_sends_itself_again_and_an_unreadable_one_fails_alone() {
    let r = reconciler().fanned_out(true);
    r.handle(scheduled(Duration::minutes(5))).await.unwrap();
    let queued = std::mem::take(&mut r.ports().world().queued_pieces);
    let bodies = vec![queued[0].clone(), "not a piece".to_string()];
    // Less time than the margin: the piece stops at once and sends its continuation.
    let batch = answer(r.handle(sqs(&bodies, Duration::seconds(5))).await.unwrap());
    assert_eq!(
        batch["batchItemFailures"],
        json!([{"itemIdentifier": "m-1"}]),
        "{batch}"
    );
    assert_eq!(r.ports().world().queued_pieces, [queued[0].clone()]);
}

#[tokio::test]
async fn a_piece_another_invocation_holds_is_left_to_it_and_taken_once_let_go() {
    let r = reconciler().fanned_out(true);
    r.handle(scheduled(Duration::minutes(5))).await.unwrap();
    let queued = std::mem::take(&mut r.ports().world().queued_pieces);
    let primary = queued
        .iter()
        .find(|b| b.contains("111111111111"))
        .unwrap()
        .clone();
    let key = serde_json::from_str::<relay_chain::reconcile::Piece>(&primary)
        .unwrap()
        .key();
    // Another invocation walks the piece (its message delivered twice, or the next hour's).
    let until = r.ports().world().now + Duration::minutes(10);
    r.ports()
        .world()
        .reconciler_leases
        .insert(key.clone(), ("other-invocation".into(), until));
    let batch = answer(
        r.handle(sqs(std::slice::from_ref(&primary), Duration::minutes(5)))
            .await
            .unwrap(),
    );
    assert_eq!(
        batch["batchItemFailures"],
        json!([]),
        "not a failure: {batch}"
    );
    {
        let w = r.ports().world();
        assert!(w.jobs.is_empty(), "nothing walked");
        assert!(
            w.queued_pieces.is_empty(),
            "no continuation: the holder sends its own"
        );
        assert!(!w.reconciler_cursors.contains_key(&key));
    }
    // Let go: the next delivery walks it (the lost hop redriven), and lets it go in turn.
    r.ports().world().reconciler_leases.clear();
    let batch = answer(
        r.handle(sqs(&[primary], Duration::minutes(5)))
            .await
            .unwrap(),
    );
    assert_eq!(batch["batchItemFailures"], json!([]), "{batch}");
    let w = r.ports().world();
    assert_eq!(w.jobs.len(), 1);
    assert!(w.reconciler_leases.is_empty(), "released");
}
