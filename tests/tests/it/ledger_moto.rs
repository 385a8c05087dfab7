//! The DynamoDB ledger against a real moto server over HTTP.

use chrono::{Duration, Utc};
use relay_aws::DynamoLedger;
use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey};
use relay_core::ports::LedgerPort;
use relay_tests::{create_ledger_table as ledger_table, ledger_contract, MotoServer};

#[tokio::test]
async fn the_dynamodb_ledger_honours_the_ledger_contract() {
    let moto = MotoServer::start().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    ledger_table(&client, "relay-ledger").await;
    ledger_contract::run(&DynamoLedger::new(client, "relay-ledger")).await;
}

#[tokio::test]
async fn of_two_concurrent_claims_of_a_hop_exactly_one_wins() {
    let moto = MotoServer::start().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    ledger_table(&client, "relay-ledger").await;
    let a = DynamoLedger::new(client.clone(), "relay-ledger");
    let b = DynamoLedger::new(client, "relay-ledger");
    for i in 0..20 {
        let hop = HopKey::new(
            relay_core::ledger::Original::new(
                format!("arn:aws:dynamodb:us-east-1:111111111111:table/race-{i}"),
                Utc::now(),
            ),
            "arn:aws:backup:us-east-1:222222222222:backup-vault:central",
        );
        let req = ClaimRequest::of(
            "primary->central",
            1,
            "token",
            Utc::now(),
            Duration::minutes(15),
        );
        let (x, y) = tokio::join!(a.claim(&hop, &req), b.claim(&hop, &req));
        let wins = [x.unwrap(), y.unwrap()]
            .iter()
            .filter(|o| matches!(o, ClaimOutcome::Claimed { .. }))
            .count();
        assert_eq!(wins, 1, "race {i}");
    }
}

#[tokio::test]
async fn a_missing_table_is_a_classified_error_not_a_panic() {
    let moto = MotoServer::start().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let ledger = DynamoLedger::new(client, "no-such-table");
    let hop = HopKey::new(
        relay_core::ledger::Original::new(
            "arn:aws:dynamodb:us-east-1:111111111111:table/x",
            Utc::now(),
        ),
        "arn:aws:backup:us-east-1:222222222222:backup-vault:central",
    );
    let err = ledger.get(&hop).await.unwrap_err();
    assert_eq!(err.kind, relay_core::ports::ErrorKind::NotFound, "{err}");
}

#[tokio::test]
async fn restore_drill_evidence_is_kept_and_read_back() {
    use relay_compliance::inventory::RestoreTest;
    use relay_core::ports::RestoreEvidence;
    let moto = MotoServer::start().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    ledger_table(&client, "relay-ledger").await;
    let ledger = DynamoLedger::new(client, "relay-ledger");
    assert!(ledger.restore_tests().await.unwrap().is_empty());
    let test = |minutes: u32, passed: bool| RestoreTest {
        resource_arn: "arn:aws:dynamodb:us-east-1:111111111111:table/orders".into(),
        recovery_point_arn: "arn:aws:backup:eu-west-1:333333333333:recovery-point:x".into(),
        vault: "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker".into(),
        finished_at: Utc::now() - Duration::minutes(i64::from(minutes)),
        minutes,
        passed,
        detail: "ACTIVE, 10 items".into(),
    };
    let (a, b) = (test(12, true), test(30, false));
    ledger.record_restore_test(&a).await.unwrap();
    ledger.record_restore_test(&b).await.unwrap();
    let mut back = ledger.restore_tests().await.unwrap();
    back.sort_by_key(|t| t.minutes);
    // Millisecond precision survives the round trip through JSON.
    assert_eq!(back, vec![a, b]);
    assert!(
        ledger.open_incidents().await.unwrap().is_empty(),
        "evidence is not an incident"
    );
}
