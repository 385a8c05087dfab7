//! Adapter edge cases with aws-smithy-mocks: the requests carry the right fields, every error class
//! maps to the right domain error, and the SDK's standard retries happen.

use std::time::Duration;

use aws_sdk_backup::config::retry::RetryConfig;
use aws_sdk_backup::operation::describe_backup_vault::DescribeBackupVaultOutput;
use aws_sdk_backup::operation::start_copy_job::StartCopyJobOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use relay_aws::BackupApi;
use relay_core::plan::StartCopyJob;
use relay_core::ports::ErrorKind;
use relay_core::retention::{Lifecycle, VaultLock};

fn job(lifecycle: Option<Lifecycle>) -> StartCopyJob {
    StartCopyJob {
        route: "dr->bunker".into(),
        original: relay_core::ledger::Original::new(
            "arn:aws:dynamodb:us-east-1:111111111111:table/orders",
            chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
        ),
        account: "222222222222".into(),
        region: "us-west-2".into(),
        partition: "aws".into(),
        recovery_point_arn: "arn:aws:backup:us-west-2:222222222222:recovery-point:rp-1".into(),
        source_backup_vault_name: "dr".into(),
        source_backup_vault_arn: "arn:aws:backup:us-west-2:222222222222:backup-vault:dr".into(),
        destination_backup_vault_arn: "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker"
            .into(),
        iam_role_arn: "arn:aws:iam::222222222222:role/backup-relay-copy".into(),
        idempotency_token: "0123456789abcdef0123456789abcdef".into(),
        attempt: 1,
        lifecycle,
        lock_adjustment: None,
        resource_arn: None,
    }
}

fn never_expire() -> Option<Lifecycle> {
    Some(Lifecycle {
        delete_after_days: Some(36500),
        move_to_cold_storage_after_days: None,
    })
}

#[tokio::test]
async fn start_copy_job_sends_every_field() {
    let rule = mock!(aws_sdk_backup::Client::start_copy_job)
        .match_requests(|r| {
            r.recovery_point_arn()
                == Some("arn:aws:backup:us-west-2:222222222222:recovery-point:rp-1")
                && r.source_backup_vault_name() == Some("dr")
                && r.destination_backup_vault_arn()
                    == Some("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker")
                && r.iam_role_arn() == Some("arn:aws:iam::222222222222:role/backup-relay-copy")
                && r.idempotency_token() == Some("0123456789abcdef0123456789abcdef")
                && r.lifecycle().and_then(|l| l.delete_after_days()) == Some(36500)
                && r.lifecycle()
                    .and_then(|l| l.move_to_cold_storage_after_days())
                    .is_none()
        })
        .then_output(|| {
            StartCopyJobOutput::builder()
                .copy_job_id("copy-job-1")
                .build()
        });
    let client = mock_client!(aws_sdk_backup, [&rule]);
    let id = BackupApi::new(client)
        .start_copy_job(&job(never_expire()))
        .await
        .unwrap();
    assert_eq!(id, "copy-job-1");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn inherit_sends_no_lifecycle_and_cold_storage_is_sent_when_asked() {
    let inherit = mock!(aws_sdk_backup::Client::start_copy_job)
        .match_requests(|r| r.lifecycle().is_none())
        .then_output(|| StartCopyJobOutput::builder().copy_job_id("j").build());
    let client = mock_client!(aws_sdk_backup, [&inherit]);
    BackupApi::new(client)
        .start_copy_job(&job(None))
        .await
        .unwrap();
    assert_eq!(inherit.num_calls(), 1);

    let cold = mock!(aws_sdk_backup::Client::start_copy_job)
        .match_requests(|r| {
            r.lifecycle()
                .and_then(|l| l.move_to_cold_storage_after_days())
                == Some(30)
                && r.lifecycle().and_then(|l| l.delete_after_days()) == Some(365)
        })
        .then_output(|| StartCopyJobOutput::builder().copy_job_id("j").build());
    let client = mock_client!(aws_sdk_backup, [&cold]);
    let lc = Lifecycle {
        delete_after_days: Some(365),
        move_to_cold_storage_after_days: Some(30),
    };
    BackupApi::new(client)
        .start_copy_job(&job(Some(lc)))
        .await
        .unwrap();
    assert_eq!(cold.num_calls(), 1);
}

/// An error as AWS sends it (restJson1): the SDK's own deserializer turns it into the error.
fn error_body(code: &str, message: &str) -> String {
    format!(r#"{{"__type":"{code}","code":"{code}","message":"{message}","Message":"{message}"}}"#)
}

async fn start_with_error(status: u16, code: &str) -> relay_core::ports::PortError {
    let body = error_body(code, "from the mock");
    let rule = mock!(aws_sdk_backup::Client::start_copy_job)
        .sequence()
        .http_status(status, Some(body))
        .build();
    let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    BackupApi::new(client)
        .start_copy_job(&job(never_expire()))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn errors_are_classified_not_flattened() {
    let cases = [
        (400, "ThrottlingException", ErrorKind::Throttled),
        (400, "LimitExceededException", ErrorKind::Throttled),
        (400, "InvalidResourceStateException", ErrorKind::Retryable),
        (500, "ServiceUnavailableException", ErrorKind::Retryable),
        (403, "AccessDeniedException", ErrorKind::AccessDenied),
        (400, "ResourceNotFoundException", ErrorKind::NotFound),
        (400, "InvalidParameterValueException", ErrorKind::Permanent),
        (400, "MissingParameterValueException", ErrorKind::Permanent),
    ];
    for (status, code, kind) in cases {
        let err = start_with_error(status, code).await;
        assert_eq!(err.kind, kind, "{code}: {err}");
        assert_eq!(err.code.as_deref(), Some(code));
        assert_eq!(err.operation, "StartCopyJob");
        assert!(
            err.message.contains("from the mock"),
            "{code}: {}",
            err.message
        );
    }
}

#[tokio::test]
async fn a_bare_5xx_is_retryable() {
    let rule = mock!(aws_sdk_backup::Client::start_copy_job)
        .sequence()
        .http_status(503, None)
        .build();
    let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
        .retry_config(RetryConfig::disabled()));
    let err = BackupApi::new(client)
        .start_copy_job(&job(None))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Retryable);
}

#[tokio::test]
async fn standard_retries_happen_before_an_error_reaches_the_core() {
    let rule = mock!(aws_sdk_backup::Client::start_copy_job)
        .sequence()
        .http_status(
            400,
            Some(error_body("ThrottlingException", "Rate exceeded")),
        )
        .http_status(503, None)
        .output(|| {
            StartCopyJobOutput::builder()
                .copy_job_id("after-retries")
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(1))
        ));
    let id = BackupApi::new(client)
        .start_copy_job(&job(None))
        .await
        .unwrap();
    assert_eq!(id, "after-retries");
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn vault_lock_state_is_read_from_describe_backup_vault() {
    let locked = mock!(aws_sdk_backup::Client::describe_backup_vault)
        .match_requests(|r| r.backup_vault_name() == Some("bunker"))
        .then_output(|| {
            DescribeBackupVaultOutput::builder()
                .backup_vault_name("bunker")
                .locked(true)
                .min_retention_days(7)
                .max_retention_days(3650)
                .build()
        });
    let client = mock_client!(aws_sdk_backup, [&locked]);
    let lock = BackupApi::new(client).vault_lock("bunker").await.unwrap();
    assert_eq!(
        lock,
        Some(VaultLock {
            min_retention_days: Some(7),
            max_retention_days: Some(3650)
        })
    );

    let open = mock!(aws_sdk_backup::Client::describe_backup_vault).then_output(|| {
        DescribeBackupVaultOutput::builder()
            .backup_vault_name("dr")
            .locked(false)
            .build()
    });
    let client = mock_client!(aws_sdk_backup, [&open]);
    assert_eq!(BackupApi::new(client).vault_lock("dr").await.unwrap(), None);
}

#[tokio::test]
async fn table_tags_follow_pagination() {
    use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
    use aws_sdk_dynamodb::types::Tag;
    let rule = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
        .sequence()
        .output(|| {
            ListTagsOfResourceOutput::builder()
                .tags(
                    Tag::builder()
                        .key("backup-tier")
                        .value("gold")
                        .build()
                        .unwrap(),
                )
                .next_token("page-2")
                .build()
        })
        .output(|| {
            ListTagsOfResourceOutput::builder()
                .tags(Tag::builder().key("team").value("orders").build().unwrap())
                .build()
        })
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule]);
    let tags = relay_aws::tags::table_tags(
        &client,
        "arn:aws:dynamodb:us-east-1:111111111111:table/orders",
    )
    .await
    .unwrap();
    assert_eq!(tags.get("backup-tier").map(String::as_str), Some("gold"));
    assert_eq!(tags.get("team").map(String::as_str), Some("orders"));
    assert_eq!(rule.num_calls(), 2);
}

mod lifecycle_and_listing {
    use super::*;
    use aws_sdk_backup::operation::list_recovery_points_by_backup_vault::ListRecoveryPointsByBackupVaultOutput;
    use aws_sdk_backup::operation::update_recovery_point_lifecycle::UpdateRecoveryPointLifecycleOutput;
    use aws_sdk_backup::primitives::DateTime as SdkDateTime;
    use aws_sdk_backup::types::{
        CalculatedLifecycle, Lifecycle as SdkLifecycle, RecoveryPointByBackupVault,
        RecoveryPointStatus,
    };
    use relay_core::arn::VaultArn;
    use relay_core::ports::ListQuery;

    fn bunker() -> VaultArn {
        VaultArn::parse("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker").unwrap()
    }

    #[tokio::test]
    async fn update_lifecycle_sends_both_fields() {
        let rule = mock!(aws_sdk_backup::Client::update_recovery_point_lifecycle)
            .match_requests(|r| {
                r.backup_vault_name() == Some("bunker")
                    && r.recovery_point_arn()
                        == Some("arn:aws:backup:eu-west-1:333333333333:recovery-point:rp")
                    && r.lifecycle().and_then(|l| l.delete_after_days()) == Some(36500)
                    && r.lifecycle()
                        .and_then(|l| l.move_to_cold_storage_after_days())
                        == Some(30)
            })
            .then_output(|| UpdateRecoveryPointLifecycleOutput::builder().build());
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let lc = Lifecycle {
            delete_after_days: Some(36500),
            move_to_cold_storage_after_days: Some(30),
        };
        BackupApi::new(client)
            .update_recovery_point_lifecycle(
                &bunker(),
                "arn:aws:backup:eu-west-1:333333333333:recovery-point:rp",
                &lc,
            )
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_update_is_permanent_and_keeps_awss_words() {
        let body = error_body(
            "InvalidRequestException",
            "Lifecycle cannot be changed in a locked vault",
        );
        let rule = mock!(aws_sdk_backup::Client::update_recovery_point_lifecycle)
            .sequence()
            .http_status(400, Some(body))
            .build();
        let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let lc = Lifecycle {
            delete_after_days: Some(36500),
            move_to_cold_storage_after_days: None,
        };
        let err = BackupApi::new(client)
            .update_recovery_point_lifecycle(&bunker(), "rp", &lc)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::Permanent);
        assert_eq!(err.code.as_deref(), Some("InvalidRequestException"));
        assert!(err.message.contains("locked vault"));
        let denied = error_body("AccessDeniedException", "not authorized");
        let rule = mock!(aws_sdk_backup::Client::update_recovery_point_lifecycle)
            .sequence()
            .http_status(403, Some(denied))
            .build();
        let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        let err = BackupApi::new(client)
            .update_recovery_point_lifecycle(&bunker(), "rp", &lc)
            .await
            .unwrap_err();
        assert_eq!(err.kind, ErrorKind::AccessDenied);
    }

    #[tokio::test]
    async fn listing_sends_the_filters_and_reads_lifecycles_and_delete_dates() {
        let rule = mock!(aws_sdk_backup::Client::list_recovery_points_by_backup_vault)
            .match_requests(|r| {
                r.backup_vault_name() == Some("bunker")
                    && r.by_resource_type() == Some("DynamoDB")
                    && r.by_created_after().map(|d| d.secs()) == Some(1_800_000_000)
                    && r.by_created_before().is_none()
                    && r.max_results() == Some(1000)
                    && r.next_token() == Some("page-2")
            })
            .then_output(|| {
                ListRecoveryPointsByBackupVaultOutput::builder()
                    .recovery_points(
                        RecoveryPointByBackupVault::builder()
                            .recovery_point_arn(
                                "arn:aws:backup:eu-west-1:333333333333:recovery-point:rp",
                            )
                            .resource_arn("arn:aws:dynamodb:us-east-1:111111111111:table/orders")
                            .resource_type("DynamoDB")
                            .status(RecoveryPointStatus::Completed)
                            .creation_date(SdkDateTime::from_secs(1_800_000_100))
                            .completion_date(SdkDateTime::from_secs(1_800_003_700))
                            .lifecycle(SdkLifecycle::builder().delete_after_days(35).build())
                            .calculated_lifecycle(
                                CalculatedLifecycle::builder()
                                    .delete_at(SdkDateTime::from_secs(1_803_024_100))
                                    .build(),
                            )
                            .build(),
                    )
                    // A point without a creation date cannot be matched to its source: left out, not guessed.
                    .recovery_points(
                        RecoveryPointByBackupVault::builder()
                            .recovery_point_arn("odd")
                            .build(),
                    )
                    .next_token("page-3")
                    .build()
            });
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let query = ListQuery {
            created_after: chrono::DateTime::from_timestamp(1_800_000_000, 0),
            created_before: None,
            resource_arn: None,
            page_token: Some("page-2".into()),
            page_size: 5000,
        };
        let page = BackupApi::new(client)
            .list_recovery_points(&bunker(), &query)
            .await
            .unwrap();
        assert_eq!(page.next_token.as_deref(), Some("page-3"));
        assert_eq!(page.items.len(), 1);
        let p = &page.items[0];
        assert_eq!(p.lifecycle.delete_after_days, Some(35));
        assert_eq!(p.creation_date.timestamp(), 1_800_000_100);
        assert_eq!(
            p.completion_date.map(|d| d.timestamp()),
            Some(1_800_003_700)
        );
        assert_eq!(p.delete_at.map(|d| d.timestamp()), Some(1_803_024_100));
        assert_eq!(p.status.as_deref(), Some("COMPLETED"));
    }
}

#[tokio::test]
async fn find_copy_jobs_asks_by_table_vault_and_date_and_reads_every_page() {
    use aws_sdk_backup::operation::list_copy_jobs::ListCopyJobsOutput;
    use aws_sdk_backup::types::{CopyJob, CopyJobState};
    use relay_core::ports::CopyJobQuery;

    let since = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let asks = |r: &aws_sdk_backup::operation::list_copy_jobs::ListCopyJobsInput| {
        r.by_resource_arn() == Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders")
            && r.by_destination_vault_arn()
                == Some("arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker")
            && r.by_created_after().map(|d| d.secs()) == Some(1_800_000_000)
            && r.max_results() == Some(1000)
    };
    let first = mock!(aws_sdk_backup::Client::list_copy_jobs)
        .match_requests(move |r| asks(r) && r.next_token().is_none())
        .then_output(|| {
            ListCopyJobsOutput::builder()
                .copy_jobs(
                    CopyJob::builder()
                        .copy_job_id("job-1")
                        .source_recovery_point_arn("rp-1")
                        .state(CopyJobState::Failed)
                        .build(),
                )
                .next_token("page-2")
                .build()
        });
    let second = mock!(aws_sdk_backup::Client::list_copy_jobs)
        .match_requests(move |r| asks(r) && r.next_token() == Some("page-2"))
        .then_output(|| {
            ListCopyJobsOutput::builder()
                .copy_jobs(
                    CopyJob::builder()
                        .copy_job_id("job-2")
                        .source_recovery_point_arn("rp-1")
                        .state(CopyJobState::Running)
                        .build(),
                )
                .build()
        });
    let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&first, &second]);
    let query = CopyJobQuery {
        resource_arn: "arn:aws:dynamodb:us-east-1:111111111111:table/orders".into(),
        destination_vault_arn: "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker".into(),
        created_after: since,
    };
    let jobs = BackupApi::new(client).find_copy_jobs(&query).await.unwrap();
    let seen: Vec<_> = jobs
        .iter()
        .map(|j| (j.copy_job_id.as_str(), j.state.as_str()))
        .collect();
    assert_eq!(seen, [("job-1", "FAILED"), ("job-2", "RUNNING")]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn open_incidents_reads_every_page_of_the_partition() {
    use aws_sdk_dynamodb::operation::query::QueryOutput;
    use aws_sdk_dynamodb::types::AttributeValue;
    use relay_aws::DynamoLedger;
    use relay_core::ports::LedgerPort;
    use std::collections::HashMap;

    let incident = |id: &str| {
        HashMap::from([
            ("pk".to_string(), AttributeValue::S("#incident".into())),
            ("sk".to_string(), AttributeValue::S(id.into())),
            (
                "subject".to_string(),
                AttributeValue::S(format!("subject {id}")),
            ),
            ("message".to_string(), AttributeValue::S("why".into())),
            (
                "opened_at".to_string(),
                AttributeValue::S("2026-11-20T06:00:00.000Z".into()),
            ),
        ])
    };
    let first_incident = incident("hop#a");
    let first = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|r| {
            r.table_name() == Some("ledger")
                && r.consistent_read() == Some(true)
                && r.exclusive_start_key().is_none()
        })
        .then_output(move || {
            QueryOutput::builder()
                .items(first_incident.clone())
                .set_last_evaluated_key(Some(first_incident.clone()))
                .build()
        });
    let second_incident = incident("hop#b");
    let second = mock!(aws_sdk_dynamodb::Client::query)
        .match_requests(|r| {
            r.exclusive_start_key()
                .and_then(|k| k.get("sk"))
                .is_some_and(|v| v.as_s().is_ok_and(|s| s == "hop#a"))
        })
        .then_output(move || {
            QueryOutput::builder()
                .items(second_incident.clone())
                .build()
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &second]);
    let open = DynamoLedger::new(client, "ledger")
        .open_incidents()
        .await
        .unwrap();
    let ids: Vec<&str> = open.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["hop#a", "hop#b"]);
    assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
}

#[tokio::test]
async fn ledger_records_read_in_batches_ask_again_for_what_dynamodb_left_then_read_it_alone() {
    use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
    use chrono::TimeZone;
    use relay_aws::DynamoLedger;
    use relay_core::ledger::{HopKey, HopState, Original};
    use relay_core::ports::LedgerPort;
    use std::collections::HashMap;

    let dr = "arn:aws:backup:us-west-2:222222222222:backup-vault:dr";
    let hop = |name: &str| {
        let created = chrono::Utc.with_ymd_and_hms(2026, 11, 20, 6, 0, 0).unwrap();
        HopKey::new(
            Original::new(
                format!("arn:aws:dynamodb:us-east-1:111111111111:table/{name}"),
                created,
            ),
            dr,
        )
    };
    let s = |v: &str| AttributeValue::S(v.to_string());
    let key = |h: &HopKey| {
        HashMap::from([
            ("pk".to_string(), s(&h.original.key())),
            ("sk".to_string(), s(dr)),
        ])
    };
    let item = |h: &HopKey| {
        let mut item = key(h);
        item.insert("state".into(), s("COMPLETED"));
        item.insert("attempt".into(), AttributeValue::N("1".into()));
        item.insert("updated_at".into(), s("2026-11-20T07:00:00.000Z"));
        item
    };
    let (a, b, none) = (hop("a"), hop("b"), hop("none"));
    let (item_a, item_b, key_b) = (item(&a), item(&b), key(&b));
    let batch = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .match_requests(|r| {
            r.request_items()
                .and_then(|t| t.get("ledger"))
                .is_some_and(|k| k.consistent_read() == Some(true) && k.keys().len() == 3)
        })
        .then_output(move || {
            BatchGetItemOutput::builder()
                .responses("ledger", vec![item_a.clone()])
                .unprocessed_keys(
                    "ledger",
                    KeysAndAttributes::builder()
                        .keys(key_b.clone())
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let key_b_again = key(&b);
    let again = mock!(aws_sdk_dynamodb::Client::batch_get_item)
        .match_requests(|r| {
            r.request_items()
                .and_then(|t| t.get("ledger"))
                .is_some_and(|k| k.keys().len() == 1)
        })
        .then_output(move || {
            BatchGetItemOutput::builder()
                .unprocessed_keys(
                    "ledger",
                    KeysAndAttributes::builder()
                        .keys(key_b_again.clone())
                        .build()
                        .unwrap(),
                )
                .build()
        });
    let one = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.consistent_read() == Some(true))
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item_b.clone()))
                .build()
        });
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&batch, &again, &one]);
    let read = DynamoLedger::new(client, "ledger")
        .get_many(&[a.clone(), none.clone(), b.clone(), a.clone()])
        .await
        .unwrap();
    let keys: Vec<Option<&HopKey>> = read.iter().map(|r| r.as_ref().map(|r| &r.key)).collect();
    assert_eq!(keys, vec![Some(&a), None, Some(&b), Some(&a)]);
    assert_eq!(read[2].as_ref().unwrap().state, HopState::Completed);
    // One batch (the key asked twice sent once), the unprocessed key asked twice more after a
    // wait, then read alone.
    assert_eq!(
        (batch.num_calls(), again.num_calls(), one.num_calls()),
        (1, 2, 1)
    );
}
