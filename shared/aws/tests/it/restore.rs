//! The restore adapters with aws-smithy-mocks: StartRestoreJob carries exactly what the core
//! planned, DescribeRestoreJob reads with or without its optional fields, every error class maps to
//! its kind, and a missing table is `None` to DescribeTable and done to DeleteTable. moto has no
//! StartRestoreJob or DescribeRestoreJob; the DynamoDB side runs against moto in
//! tests/tests/restore_moto.rs.

use std::collections::BTreeMap;

use aws_sdk_backup::config::retry::RetryConfig as BackupRetry;
use aws_sdk_backup::operation::describe_restore_job::DescribeRestoreJobOutput;
use aws_sdk_backup::operation::start_restore_job::StartRestoreJobOutput;
use aws_sdk_backup::primitives::DateTime as SdkDateTime;
use aws_sdk_backup::types::RestoreJobStatus as SdkStatus;
use aws_sdk_dynamodb::config::retry::RetryConfig as DynamoRetry;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use relay_aws::{BackupApi, DynamoApi};
use relay_core::arn::Location;
use relay_core::ports::{ErrorKind, PortError, StartRestore};

const POINT: &str = "arn:aws:backup:us-east-1:111111111111:recovery-point:rp-1";
const ROLE: &str = "arn:aws:iam::111111111111:role/backup-relay-restore";
const TOKEN: &str = "0123456789abcdef0123456789abcdef";
const KEY: &str = "arn:aws:kms:us-east-1:111111111111:key/k-1";

/// An error as AWS sends it, through the SDK's own deserializer (a modeled error built by hand
/// would carry no code).
fn aws_error<O, E>(status: u16, code: &str) -> MockResponse<O, E> {
    let body =
        format!(r#"{{"__type":"{code}","message":"from the mock","Message":"from the mock"}}"#);
    let status = StatusCode::try_from(status).unwrap();
    MockResponse::Http(HttpResponse::new(status, SdkBody::from(body)))
}

fn check(err: &PortError, operation: &str, code: &str, kind: ErrorKind) {
    assert_eq!(err.kind, kind, "{operation} {code}: {err}");
    assert_eq!(err.operation, operation, "{err}");
    assert_eq!(err.code.as_deref(), Some(code), "{err}");
    assert!(err.message.contains("from the mock"), "{err}");
}

/// The error classes every restore call must tell apart: (HTTP status, code, kind).
const ERROR_CLASSES: [(u16, &str, ErrorKind); 9] = [
    (400, "ThrottlingException", ErrorKind::Throttled),
    (400, "LimitExceededException", ErrorKind::Throttled),
    (500, "InternalServerError", ErrorKind::Retryable),
    (503, "ServiceUnavailableException", ErrorKind::Retryable),
    (403, "AccessDeniedException", ErrorKind::AccessDenied),
    (400, "UnrecognizedClientException", ErrorKind::AccessDenied),
    (400, "ResourceNotFoundException", ErrorKind::NotFound),
    (400, "ValidationException", ErrorKind::Permanent),
    (400, "InvalidParameterValueException", ErrorKind::Permanent),
];

fn here() -> Location {
    Location {
        partition: "aws".into(),
        account: "111111111111".into(),
        region: "us-east-1".into(),
    }
}

fn restore(copy_source_tags: bool) -> StartRestore {
    let metadata = BTreeMap::from([
        ("targetTableName".to_string(), "orders-restored".to_string()),
        ("encryptionType".to_string(), "KMS".to_string()),
        ("kmsMasterKeyArn".to_string(), KEY.to_string()),
    ]);
    StartRestore {
        account: "111111111111".into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        recovery_point_arn: POINT.into(),
        iam_role_arn: ROLE.into(),
        metadata,
        idempotency_token: TOKEN.into(),
        copy_source_tags,
    }
}

mod start {
    use super::*;

    #[tokio::test]
    async fn start_restore_job_sends_the_metadata_exactly_and_every_field() {
        let rule = mock!(aws_sdk_backup::Client::start_restore_job)
            .match_requests(|r| {
                let metadata = r.metadata().cloned().unwrap_or_default();
                let expected = [
                    ("targetTableName", "orders-restored"),
                    ("encryptionType", "KMS"),
                    ("kmsMasterKeyArn", KEY),
                ];
                metadata.len() == 3
                    && expected
                        .iter()
                        .all(|(k, v)| metadata.get(*k).map(String::as_str) == Some(*v))
                    && r.recovery_point_arn() == Some(POINT)
                    && r.iam_role_arn() == Some(ROLE)
                    && r.idempotency_token() == Some(TOKEN)
                    && r.resource_type() == Some("DynamoDB")
                    && r.copy_source_tags_to_restored_resource() == Some(true)
            })
            .then_output(|| {
                StartRestoreJobOutput::builder()
                    .restore_job_id("restore-1")
                    .build()
            });
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let id = BackupApi::new(client)
            .start_restore_job(&restore(true))
            .await
            .unwrap();
        assert_eq!(id, "restore-1");
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn tags_are_not_asked_for_unless_wanted_and_default_encryption_sends_no_key() {
        let rule = mock!(aws_sdk_backup::Client::start_restore_job)
            .match_requests(|r| {
                let metadata = r.metadata().cloned().unwrap_or_default();
                r.copy_source_tags_to_restored_resource().is_none()
                    && metadata.len() == 2
                    && metadata.get("encryptionType").map(String::as_str) == Some("Default")
                    && !metadata.contains_key("kmsMasterKeyArn")
            })
            .then_output(|| StartRestoreJobOutput::builder().restore_job_id("r").build());
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let mut req = restore(false);
        req.metadata.remove("kmsMasterKeyArn");
        req.metadata
            .insert("encryptionType".into(), "Default".into());
        BackupApi::new(client)
            .start_restore_job(&req)
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn an_answer_without_a_job_id_is_retryable() {
        let rule = mock!(aws_sdk_backup::Client::start_restore_job)
            .then_output(|| StartRestoreJobOutput::builder().build());
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let err = BackupApi::new(client)
            .start_restore_job(&restore(false))
            .await
            .unwrap_err();
        assert_eq!(
            (err.kind, err.operation),
            (ErrorKind::Retryable, "StartRestoreJob")
        );
    }

    /// Besides the common classes: a malformed request or a recovery point in the wrong state
    /// (InvalidRequestException, MissingParameterValueException) cannot succeed by retrying; a
    /// missing recovery point is NotFound.
    #[tokio::test]
    async fn start_errors_are_classified() {
        let restore_codes = [
            (400, "InvalidRequestException", ErrorKind::Permanent),
            (400, "MissingParameterValueException", ErrorKind::Permanent),
            (400, "InvalidResourceStateException", ErrorKind::Retryable),
        ];
        for (status, code, kind) in ERROR_CLASSES.into_iter().chain(restore_codes) {
            let rule = mock!(aws_sdk_backup::Client::start_restore_job)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
                .retry_config(BackupRetry::disabled()));
            let err = BackupApi::new(client)
                .start_restore_job(&restore(true))
                .await
                .unwrap_err();
            check(&err, "StartRestoreJob", code, kind);
        }
    }
}

mod status {
    use super::*;

    #[tokio::test]
    async fn a_completed_job_gives_its_table_and_times() {
        let rule = mock!(aws_sdk_backup::Client::describe_restore_job)
            .match_requests(|r| r.restore_job_id() == Some("restore-1"))
            .then_output(|| {
                DescribeRestoreJobOutput::builder()
                    .restore_job_id("restore-1")
                    .status(SdkStatus::Completed)
                    .status_message("done")
                    .created_resource_arn(
                        "arn:aws:dynamodb:us-east-1:111111111111:table/orders-restored",
                    )
                    .creation_date(SdkDateTime::from_secs(1_800_000_000))
                    .completion_date(SdkDateTime::from_millis(1_800_000_600_500))
                    .build()
            });
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let s = BackupApi::new(client)
            .restore_job_status("restore-1")
            .await
            .unwrap();
        assert_eq!(s.state, "COMPLETED");
        assert_eq!(s.status_message.as_deref(), Some("done"));
        assert_eq!(
            s.created_resource_arn.as_deref(),
            Some("arn:aws:dynamodb:us-east-1:111111111111:table/orders-restored")
        );
        assert_eq!(s.creation_date.map(|d| d.timestamp()), Some(1_800_000_000));
        assert_eq!(
            s.completion_date.map(|d| d.timestamp_millis()),
            Some(1_800_000_600_500)
        );
    }

    #[tokio::test]
    async fn a_pending_job_has_none_of_the_optional_fields() {
        let rule = mock!(aws_sdk_backup::Client::describe_restore_job).then_output(|| {
            DescribeRestoreJobOutput::builder()
                .status(SdkStatus::Pending)
                .build()
        });
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let s = BackupApi::new(client)
            .restore_job_status("restore-1")
            .await
            .unwrap();
        assert_eq!(s.state, "PENDING");
        assert_eq!(s.status_message, None);
        assert_eq!(s.created_resource_arn, None);
        assert_eq!((s.creation_date, s.completion_date), (None, None));

        // No status at all: empty, which no caller takes for a finished job.
        let rule = mock!(aws_sdk_backup::Client::describe_restore_job)
            .then_output(|| DescribeRestoreJobOutput::builder().build());
        let client = mock_client!(aws_sdk_backup, [&rule]);
        let s = BackupApi::new(client)
            .restore_job_status("r")
            .await
            .unwrap();
        assert_eq!(s.state, "");
    }

    #[tokio::test]
    async fn describe_errors_are_classified() {
        // DescribeRestoreJob's own: another service failed under AWS Backup (a server fault).
        let extra = [(500, "DependencyFailureException", ErrorKind::Retryable)];
        for (status, code, kind) in ERROR_CLASSES.into_iter().chain(extra) {
            let rule = mock!(aws_sdk_backup::Client::describe_restore_job)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(aws_sdk_backup, RuleMode::Sequential, [&rule], |c| c
                .retry_config(BackupRetry::disabled()));
            let err = BackupApi::new(client)
                .restore_job_status("restore-1")
                .await
                .unwrap_err();
            check(&err, "DescribeRestoreJob", code, kind);
        }
    }
}

mod tables {
    use super::*;
    use aws_sdk_dynamodb::operation::delete_table::DeleteTableOutput;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
    use aws_sdk_dynamodb::types::{TableDescription, TableStatus, Tag};

    const TABLE: &str = "arn:aws:dynamodb:us-east-1:111111111111:table/orders-restored";

    fn described(status: TableStatus) -> DescribeTableOutput {
        DescribeTableOutput::builder()
            .table(
                TableDescription::builder()
                    .table_name("orders-restored")
                    .table_arn(TABLE)
                    .table_status(status)
                    .item_count(42)
                    .table_size_bytes(4096)
                    .build(),
            )
            .build()
    }

    fn tag(k: &str, v: &str) -> Tag {
        Tag::builder().key(k).value(v).build().unwrap()
    }

    #[tokio::test]
    async fn a_table_comes_with_its_counts_and_every_tag_page() {
        let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
            .match_requests(|r| r.table_name() == Some("orders-restored"))
            .then_output(|| described(TableStatus::Active));
        let first = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .match_requests(|r| r.resource_arn() == Some(TABLE) && r.next_token().is_none())
            .then_output(|| {
                ListTagsOfResourceOutput::builder()
                    .tags(tag("backup-relay:restore-drill", "true"))
                    .next_token("page-2")
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListTagsOfResourceOutput::builder()
                    .tags(tag("team", "orders"))
                    .build()
            });
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&describe, &first, &second]
        );
        let t = DynamoApi::new(client)
            .table_state(&here(), "orders-restored")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((t.arn.as_str(), t.status.as_str()), (TABLE, "ACTIVE"));
        assert_eq!((t.item_count, t.size_bytes), (42, 4096));
        assert_eq!(t.tags.len(), 2, "{:?}", t.tags);
        assert_eq!(t.tags.get("team").map(String::as_str), Some("orders"));
        assert_eq!((first.num_calls(), second.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_missing_table_is_none_and_its_tags_are_not_asked_for() {
        let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
            .then_compute_response(|_| aws_error(400, "ResourceNotFoundException"));
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .then_output(|| ListTagsOfResourceOutput::builder().build());
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&describe, &tags],
            |c| c.retry_config(DynamoRetry::disabled())
        );
        let t = DynamoApi::new(client)
            .table_state(&here(), "gone")
            .await
            .unwrap();
        assert_eq!(t, None);
        assert_eq!(tags.num_calls(), 0);
    }

    #[tokio::test]
    async fn a_table_deleted_between_describe_and_tags_is_none() {
        let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
            .then_output(|| described(TableStatus::Deleting));
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .then_compute_response(|_| aws_error(400, "ResourceNotFoundException"));
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&describe, &tags],
            |c| c.retry_config(DynamoRetry::disabled())
        );
        let t = DynamoApi::new(client)
            .table_state(&here(), "orders-restored")
            .await
            .unwrap();
        assert_eq!(t, None);
    }

    #[tokio::test]
    async fn describe_table_errors_other_than_not_found_are_errors() {
        for (status, code, kind) in ERROR_CLASSES {
            if kind == ErrorKind::NotFound {
                continue;
            }
            let rule = mock!(aws_sdk_dynamodb::Client::describe_table)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c
                .retry_config(DynamoRetry::disabled()));
            let err = DynamoApi::new(client)
                .table_state(&here(), "orders-restored")
                .await
                .unwrap_err();
            check(&err, "DescribeTable", code, kind);
        }
    }

    #[tokio::test]
    async fn delete_table_sends_the_name_and_a_missing_table_is_already_deleted() {
        let rule = mock!(aws_sdk_dynamodb::Client::delete_table)
            .match_requests(|r| r.table_name() == Some("orders-restored"))
            .then_output(|| DeleteTableOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, [&rule]);
        DynamoApi::new(client)
            .delete_table("orders-restored")
            .await
            .unwrap();
        assert_eq!(rule.num_calls(), 1);

        let gone = mock!(aws_sdk_dynamodb::Client::delete_table)
            .then_compute_response(|_| aws_error(400, "ResourceNotFoundException"));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&gone], |c| c
            .retry_config(DynamoRetry::disabled()));
        DynamoApi::new(client)
            .delete_table("orders-restored")
            .await
            .unwrap();
    }

    /// A table still being created (by the restore) or updated is busy, not refused: retry.
    /// Deletion protection is a ValidationException: a person must turn it off.
    #[tokio::test]
    async fn delete_table_errors_are_classified() {
        let delete_codes = [
            (400, "ResourceInUseException", ErrorKind::Retryable),
            (400, "ValidationException", ErrorKind::Permanent),
        ];
        let cases = ERROR_CLASSES
            .into_iter()
            .filter(|(_, _, kind)| *kind != ErrorKind::NotFound)
            .chain(delete_codes);
        for (status, code, kind) in cases {
            let rule = mock!(aws_sdk_dynamodb::Client::delete_table)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c
                .retry_config(DynamoRetry::disabled()));
            let err = DynamoApi::new(client)
                .delete_table("orders-restored")
                .await
                .unwrap_err();
            check(&err, "DeleteTable", code, kind);
        }
    }
}
