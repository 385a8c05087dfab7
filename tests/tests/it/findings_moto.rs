//! Security Hub's and EventBridge's adapters against a moto server: the findings of a simulated
//! report imported through `AwsPorts` (single-account, as the hub imports its own tables') are
//! the ones GetFindings returns, updated in place by the next import; the change events reach a
//! queue a rule on the bus targets, as a team's rule would route them.

use relay_compliance::change_events::ChangeEventsPort;
use relay_compliance::findings::import::FindingsPort;
use relay_compliance::findings::{self, Finding};
use relay_compliance::Status;
use relay_tests::{MotoServer, MOTO_ACCOUNT};

fn moto_findings(statuses: &[Status]) -> Vec<Finding> {
    let mut out = Vec::new();
    for (i, status) in statuses.iter().enumerate() {
        let arn = format!("arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/t{i}");
        let resource = relay_compliance::ResourceReport {
            resource_arn: arn,
            name: format!("t{i}"),
            account: MOTO_ACCOUNT.into(),
            region: "us-east-1".into(),
            status: *status,
            controls: vec![relay_compliance::ControlResult {
                id: relay_compliance::ControlId::RelayChainComplete,
                status: *status,
                reason: format!("{status:?}"),
                evidence: Vec::new(),
            }],
        };
        out.extend(findings::table_findings(&resource, chrono::Utc::now()));
    }
    out
}

#[tokio::test]
async fn imported_findings_are_what_security_hub_returns_and_an_import_updates_them() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let hub = aws_sdk_securityhub::Client::new(&config);
    hub.enable_security_hub().send().await.unwrap();
    let ports = moto.aws_ports().await;
    let at = moto.location();

    let first = moto_findings(&[Status::NonCompliant; 150]);
    for batch in findings::import::batches(&first) {
        assert!(ports.import_findings(&at, batch).await.unwrap().is_empty());
    }
    let read = |hub: aws_sdk_securityhub::Client| async move {
        let mut all = Vec::new();
        let mut pages = hub.get_findings().max_results(100).into_paginator().send();
        while let Some(page) = pages.next().await {
            all.extend(page.unwrap().findings().to_vec());
        }
        all
    };
    let held = read(hub.clone()).await;
    assert_eq!(held.len(), 150);
    let f = held
        .iter()
        .find(|f| f.id() == Some(first[0].id.as_str()))
        .unwrap();
    assert_eq!(f.aws_account_id(), Some(MOTO_ACCOUNT));
    assert_eq!(
        f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
        Some("FAILED")
    );
    assert_eq!(f.resources()[0].r#type(), Some("AwsDynamoDbTable"));

    // The table recovered: the same id, now PASSED, and still 150 findings (moto replaces the
    // finding whole; Security Hub's own workflow rules are the simulator's, facts §15).
    let recovered = moto_findings(&[Status::Compliant]);
    assert!(ports
        .import_findings(&at, &recovered)
        .await
        .unwrap()
        .is_empty());
    let held = read(hub).await;
    assert_eq!(held.len(), 150);
    let f = held
        .iter()
        .find(|f| f.id() == Some(first[0].id.as_str()))
        .unwrap();
    assert_eq!(
        f.compliance().and_then(|c| c.status()).map(|s| s.as_str()),
        Some("PASSED")
    );
}

#[tokio::test]
async fn change_events_reach_what_a_rule_on_the_bus_routes_them_to() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    // The README's example rule: every change that leaves a table non-compliant.
    let url = relay_tests::route_bus_to_queue(
        &config,
        MOTO_ACCOUNT,
        "relay-hub",
        r#"{"source": ["backup-relay"], "detail-type": ["Backup Relay Compliance Change"], "detail": {"now": ["NON_COMPLIANT"]}}"#,
        "team-chat",
    )
    .await;
    let mut ports = moto.aws_ports().await;
    ports.change_events = Some(relay_aws::EventBus::new(events.clone(), "relay-hub"));

    let report = relay_compliance::change_events::ChangeDetail {
        id: "2026-11-20T06:00:00+00:00/t1".into(),
        table: "t1".into(),
        table_arn: format!("arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/t1"),
        account: MOTO_ACCOUNT.into(),
        region: "us-east-1".into(),
        was: Some(Status::Compliant),
        now: Status::NonCompliant,
        gone: false,
        controls: Vec::new(),
        report_key: "reports/2026/11/20/report.json".into(),
        generated_at: chrono::Utc::now(),
    };
    let mut recovered = report.clone();
    recovered.table = "t2".into();
    recovered.now = Status::Compliant;
    let refused = ports.put_change_events(&[report, recovered]).await.unwrap();
    assert!(refused.is_empty());
    let got = sqs
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let bodies: Vec<serde_json::Value> = got
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap()).unwrap())
        .collect();
    assert_eq!(
        bodies.len(),
        1,
        "only the non-compliant one matches: {bodies:?}"
    );
    assert_eq!(bodies[0]["source"], "backup-relay");
    assert_eq!(bodies[0]["detail-type"], "Backup Relay Compliance Change");
    assert_eq!(bodies[0]["detail"]["table"], "t1");
    assert_eq!(
        bodies[0]["detail"]["report_key"],
        "reports/2026/11/20/report.json"
    );
}
