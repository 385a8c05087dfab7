//! Security Hub's and EventBridge's adapters with aws-smithy-mocks, for the answers moto does
//! not give: a partial failure (FailedFindings, FailedEntryCount), Security Hub not enabled,
//! throttling past the SDK's retries.

use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_securityhub::operation::batch_import_findings::BatchImportFindingsOutput;
use aws_sdk_securityhub::types::ImportFindingsError;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, Utc};
use relay_aws::findings::SecurityHubApi;
use relay_aws::EventBus;
use relay_compliance::change_events::ChangeDetail;
use relay_compliance::findings::{archived, Finding};
use relay_compliance::Status;
use relay_core::ports::ErrorKind;

fn aws_error<O, E>(status: u16, code: &str) -> MockResponse<O, E> {
    let body = format!(r#"{{"__type":"{code}","Code":"{code}","Message":"from the mock"}}"#);
    let mut response =
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(body));
    response
        .headers_mut()
        .insert("x-amzn-errortype", code.to_string());
    MockResponse::Http(response)
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn some_findings(n: usize) -> Vec<Finding> {
    (0..n)
        .map(|i| {
            archived(
                &format!("arn:aws:dynamodb:us-east-1:111111111111:table/t{i}"),
                &format!("t{i}"),
                "111111111111",
                "us-east-1",
                "RELAY_CHAIN_COMPLETE",
                at(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_findings_an_answer_refuses_are_named() {
    let sent = some_findings(3);
    let refused = sent[1].id.clone();
    let rule = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .match_requests(|r| {
            let f = r.findings();
            f.len() == 3
                && f[0].product_arn()
                    == Some(
                        "arn:aws:securityhub:us-east-1:111111111111:product/111111111111/default",
                    )
                && f[0].resources()[0].r#type() == Some("AwsDynamoDbTable")
                && f[0].record_state().map(|s| s.as_str()) == Some("ARCHIVED")
                && f[0]
                    .finding_provider_fields()
                    .and_then(|p| p.severity())
                    .and_then(|s| s.label())
                    .map(|l| l.as_str())
                    == Some("INFORMATIONAL")
        })
        .then_output(move || {
            BatchImportFindingsOutput::builder()
                .failed_count(1)
                .success_count(2)
                .failed_findings(
                    ImportFindingsError::builder()
                        .id(refused.clone())
                        .error_code("InternalException")
                        .error_message("try later")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&rule]);
    let failed = SecurityHubApi::new(client).import(&sent).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, sent[1].id);
    assert_eq!(failed[0].code, "InternalException");
}

#[tokio::test]
async fn security_hub_not_enabled_and_throttling_are_classified() {
    let off = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .then_compute_response(|_| aws_error(401, "InvalidAccessException"));
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&off]);
    let err = SecurityHubApi::new(client)
        .import(&some_findings(1))
        .await
        .unwrap_err();
    assert_eq!(err.code.as_deref(), Some("InvalidAccessException"), "{err}");
    assert_eq!(err.kind, ErrorKind::Permanent);

    let slow = mock!(aws_sdk_securityhub::Client::batch_import_findings)
        .then_compute_response(|_| aws_error(429, "LimitExceededException"));
    let client = mock_client!(aws_sdk_securityhub, RuleMode::MatchAny, [&slow], |c| c
        .retry_config(aws_sdk_securityhub::config::retry::RetryConfig::disabled()));
    let err = SecurityHubApi::new(client)
        .import(&some_findings(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Throttled, "{err}");
}

fn detail(n: usize) -> ChangeDetail {
    ChangeDetail {
        id: format!("2026-11-20T06:00:00+00:00/t{n}"),
        table: format!("t{n}"),
        table_arn: format!("arn:aws:dynamodb:us-east-1:111111111111:table/t{n}"),
        account: "111111111111".into(),
        region: "us-east-1".into(),
        was: None,
        now: Status::NonCompliant,
        gone: false,
        controls: Vec::new(),
        report_key: "reports/2026/11/20/report.json".into(),
        generated_at: at(),
    }
}

#[tokio::test]
async fn change_events_go_to_the_bus_and_refused_entries_are_named() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .match_requests(|r| {
            let e = r.entries();
            e.len() == 2
                && e.iter().all(|e| {
                    e.source() == Some("backup-relay")
                        && e.detail_type() == Some("Backup Relay Compliance Change")
                        && e.event_bus_name() == Some("hub-bus")
                        && e.detail().is_some_and(|d| d.contains("\"table\":\"t"))
                })
        })
        .then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(PutEventsResultEntry::builder().event_id("1").build())
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("InternalFailure")
                        .error_message("try later")
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    let refused = EventBus::new(client, "hub-bus")
        .put(&[detail(1), detail(2)])
        .await
        .unwrap();
    assert_eq!(refused, [1]);
}
