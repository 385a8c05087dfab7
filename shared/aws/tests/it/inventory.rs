//! The compliance inventory's adapters with aws-smithy-mocks, for what moto lacks (Region
//! settings, vault access policies, backup selections) and what moto cannot show (pagination of
//! ListBackups, ListBackupVaults and ListBackupPlans, every error class, the calls not made).

use aws_sdk_backup::config::retry::RetryConfig as BackupRetry;
use aws_sdk_dynamodb::config::retry::RetryConfig as DynamoRetry;
use aws_smithy_mocks::{mock, mock_client, MockResponse, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use relay_aws::{BackupApi, DynamoApi};
use relay_core::arn::Location;
use relay_core::ports::{ErrorKind, PortError};

/// An error as AWS sends it, through the SDK's own deserializer (a modeled error built by hand
/// would carry no code).
fn aws_error<O, E>(status: u16, code: &str) -> MockResponse<O, E> {
    let body =
        format!(r#"{{"__type":"{code}","message":"from the mock","Message":"from the mock"}}"#);
    let status = StatusCode::try_from(status).unwrap();
    MockResponse::Http(HttpResponse::new(status, SdkBody::from(body)))
}

/// The error classes every inventory call must tell apart: (HTTP status, code, kind).
const ERROR_CLASSES: [(u16, &str, ErrorKind); 8] = [
    (400, "ThrottlingException", ErrorKind::Throttled),
    (
        400,
        "ProvisionedThroughputExceededException",
        ErrorKind::Throttled,
    ),
    (500, "InternalServerError", ErrorKind::Retryable),
    (503, "ServiceUnavailableException", ErrorKind::Retryable),
    (403, "AccessDeniedException", ErrorKind::AccessDenied),
    (400, "UnrecognizedClientException", ErrorKind::AccessDenied),
    (400, "ValidationException", ErrorKind::Permanent),
    (400, "InvalidParameterValueException", ErrorKind::Permanent),
];

fn check(err: &PortError, operation: &str, code: &str, kind: ErrorKind) {
    assert_eq!(err.kind, kind, "{operation} {code}: {err}");
    assert_eq!(err.operation, operation, "{err}");
    assert_eq!(err.code.as_deref(), Some(code), "{err}");
    assert!(err.message.contains("from the mock"), "{err}");
}

/// Not `aws`: the partition is carried into every ARN built, never assumed.
fn beijing() -> Location {
    Location {
        partition: "aws-cn".into(),
        account: "111111111111".into(),
        region: "cn-north-1".into(),
    }
}

mod tables {
    use super::*;
    use aws_sdk_dynamodb::operation::describe_continuous_backups::DescribeContinuousBackupsOutput;
    use aws_sdk_dynamodb::operation::describe_table::DescribeTableOutput;
    use aws_sdk_dynamodb::operation::list_backups::ListBackupsOutput;
    use aws_sdk_dynamodb::operation::list_tables::ListTablesOutput;
    use aws_sdk_dynamodb::operation::list_tags_of_resource::ListTagsOfResourceOutput;
    use aws_sdk_dynamodb::types::{
        BackupStatus, BackupSummary, BackupTypeFilter, ContinuousBackupsDescription,
        ContinuousBackupsStatus, PointInTimeRecoveryDescription, PointInTimeRecoveryStatus, Tag,
    };

    fn arn(name: &str) -> String {
        format!("arn:aws-cn:dynamodb:cn-north-1:111111111111:table/{name}")
    }

    fn pitr(status: Option<PointInTimeRecoveryStatus>) -> DescribeContinuousBackupsOutput {
        let description = ContinuousBackupsDescription::builder()
            .continuous_backups_status(ContinuousBackupsStatus::Enabled)
            .set_point_in_time_recovery_description(status.map(|s| {
                PointInTimeRecoveryDescription::builder()
                    .point_in_time_recovery_status(s)
                    .build()
            }))
            .build()
            .unwrap();
        DescribeContinuousBackupsOutput::builder()
            .continuous_backups_description(description)
            .build()
    }

    fn backup(table: &str, status: BackupStatus) -> BackupSummary {
        BackupSummary::builder()
            .table_arn(arn(table))
            .table_name(table)
            .backup_arn(format!("{}/backup/0", arn(table)))
            .backup_status(status)
            .build()
    }

    type Rule = aws_smithy_mocks::Rule;

    /// Two ListTables pages: orders, payments; then gone, plain.
    fn list_tables() -> [Rule; 2] {
        let first = mock!(aws_sdk_dynamodb::Client::list_tables)
            .match_requests(|r| r.limit() == Some(100) && r.exclusive_start_table_name().is_none())
            .then_output(|| {
                ListTablesOutput::builder()
                    .table_names("orders")
                    .table_names("payments")
                    .last_evaluated_table_name("payments")
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::list_tables)
            .match_requests(|r| r.exclusive_start_table_name() == Some("payments"))
            .then_output(|| {
                ListTablesOutput::builder()
                    .table_names("gone")
                    .table_names("plain")
                    .build()
            });
        [first, second]
    }

    /// Tags (orders: tier=gold; "gone" was deleted after ListTables named it) and PITR.
    fn tags_and_pitr() -> [Rule; 2] {
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource).then_compute_response(
            |r| match r.resource_arn() {
                Some(a) if a == arn("gone") => aws_error(400, "ResourceNotFoundException"),
                Some(a) if a == arn("orders") => MockResponse::Output(
                    ListTagsOfResourceOutput::builder()
                        .tags(Tag::builder().key("tier").value("gold").build().unwrap())
                        .build(),
                ),
                _ => MockResponse::Output(ListTagsOfResourceOutput::builder().build()),
            },
        );
        let pitrs = mock!(aws_sdk_dynamodb::Client::describe_continuous_backups)
            .then_compute_output(|r| match r.table_name() {
                Some("orders") => pitr(Some(PointInTimeRecoveryStatus::Enabled)),
                Some("payments") => pitr(Some(PointInTimeRecoveryStatus::Disabled)),
                _ => pitr(None),
            });
        [tags, pitrs]
    }

    /// Two ListBackups pages: orders twice (and once deleted), payments once.
    fn list_backups() -> [Rule; 2] {
        let first = mock!(aws_sdk_dynamodb::Client::list_backups)
            .match_requests(|r| {
                r.backup_type() == Some(&BackupTypeFilter::All)
                    && r.exclusive_start_backup_arn().is_none()
            })
            .then_output(|| {
                ListBackupsOutput::builder()
                    .backup_summaries(backup("orders", BackupStatus::Available))
                    .backup_summaries(backup("orders", BackupStatus::Deleted))
                    .backup_summaries(backup("payments", BackupStatus::Creating))
                    .last_evaluated_backup_arn("page-1-last")
                    .build()
            });
        let second = mock!(aws_sdk_dynamodb::Client::list_backups)
            .match_requests(|r| r.exclusive_start_backup_arn() == Some("page-1-last"))
            .then_output(|| {
                ListBackupsOutput::builder()
                    .backup_summaries(backup("orders", BackupStatus::Available))
                    .build()
            });
        [first, second]
    }

    #[tokio::test]
    async fn every_page_is_read_arns_are_built_and_native_backups_counted_per_table() {
        let [tables_1, tables_2] = list_tables();
        let [tags, pitrs] = tags_and_pitr();
        let [backups_1, backups_2] = list_backups();
        let describe = mock!(aws_sdk_dynamodb::Client::describe_table)
            .then_output(|| DescribeTableOutput::builder().build());
        let rules = [
            &tables_1, &tables_2, &tags, &pitrs, &backups_1, &backups_2, &describe,
        ];
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules);

        let tables = DynamoApi::new(client).tables(&beijing()).await.unwrap();

        let seen: Vec<_> = tables
            .iter()
            .map(|t| (t.arn.clone(), t.pitr, t.native_backups))
            .collect();
        assert_eq!(
            seen,
            [
                (arn("orders"), Some(true), 2),
                (arn("payments"), Some(false), 1),
                (arn("plain"), None, 0),
            ]
        );
        assert_eq!(tables[0].tags.get("tier").map(String::as_str), Some("gold"));
        assert_eq!(
            (tables[0].account.as_str(), tables[0].region.as_str()),
            ("111111111111", "cn-north-1")
        );
        // ceil(T/100) ListTables + ListBackups pages + per table tags and PITR; no DescribeTable.
        let calls = rules.map(|r| r.num_calls());
        assert_eq!(calls, [1, 1, 4, 3, 1, 1, 0]);
    }

    fn tags_denied(err: &PortError) {
        check(
            err,
            "ListTagsOfResource",
            "AccessDeniedException",
            ErrorKind::AccessDenied,
        );
    }

    fn one_table() -> [Rule; 2] {
        [
            mock!(aws_sdk_dynamodb::Client::list_tables)
                .then_output(|| ListTablesOutput::builder().table_names("orders").build()),
            mock!(aws_sdk_dynamodb::Client::list_backups)
                .then_output(|| ListBackupsOutput::builder().build()),
        ]
    }

    #[tokio::test]
    async fn pitr_that_may_not_be_read_is_unknown_but_tags_that_may_not_be_read_fail() {
        let [list, backups] = one_table();
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .then_output(|| ListTagsOfResourceOutput::builder().build());
        let denied = mock!(aws_sdk_dynamodb::Client::describe_continuous_backups)
            .then_compute_response(|_| aws_error(400, "AccessDeniedException"));
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&list, &backups, &tags, &denied]
        );
        let tables = DynamoApi::new(client).tables(&beijing()).await.unwrap();
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].pitr, None);

        let [list, backups] = one_table();
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .then_compute_response(|_| aws_error(400, "AccessDeniedException"));
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&list, &backups, &tags]
        );
        let err = DynamoApi::new(client).tables(&beijing()).await.unwrap_err();
        tags_denied(&err);
    }

    /// The tables are read several at a time, in order; the first that fails stops the reads
    /// not yet started, so a refused account costs a window of calls, not one per table.
    #[tokio::test]
    async fn a_refused_table_read_stops_the_reads_not_yet_started() {
        let names: Vec<String> = (0..50).map(|i| format!("t{i:02}")).collect();
        let list = mock!(aws_sdk_dynamodb::Client::list_tables).then_output(move || {
            ListTablesOutput::builder()
                .set_table_names(Some(names.clone()))
                .build()
        });
        let backups = mock!(aws_sdk_dynamodb::Client::list_backups)
            .then_output(|| ListBackupsOutput::builder().build());
        let tags =
            mock!(aws_sdk_dynamodb::Client::list_tags_of_resource).then_compute_response(|input| {
                match input.resource_arn() {
                    Some(a) if a == arn("t02") => aws_error(400, "AccessDeniedException"),
                    _ => MockResponse::Output(ListTagsOfResourceOutput::builder().build()),
                }
            });
        let pitrs = mock!(aws_sdk_dynamodb::Client::describe_continuous_backups)
            .then_output(|| pitr(Some(PointInTimeRecoveryStatus::Enabled)));
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&list, &backups, &tags, &pitrs]
        );
        let err = DynamoApi::new(client).tables(&beijing()).await.unwrap_err();
        tags_denied(&err);
        let window = relay_compliance::inventory::TABLE_READS_AT_ONCE;
        assert!(tags.num_calls() <= 3 + window, "{}", tags.num_calls());
    }

    #[tokio::test]
    async fn a_table_gone_before_its_pitr_is_read_is_left_out() {
        let [list, backups] = one_table();
        let tags = mock!(aws_sdk_dynamodb::Client::list_tags_of_resource)
            .then_output(|| ListTagsOfResourceOutput::builder().build());
        let gone = mock!(aws_sdk_dynamodb::Client::describe_continuous_backups)
            .then_compute_response(|_| aws_error(400, "TableNotFoundException"));
        let client = mock_client!(
            aws_sdk_dynamodb,
            RuleMode::MatchAny,
            [&list, &backups, &tags, &gone]
        );
        let tables = DynamoApi::new(client).tables(&beijing()).await.unwrap();
        assert!(tables.is_empty());
    }

    #[tokio::test]
    async fn list_errors_are_classified() {
        for (status, code, kind) in ERROR_CLASSES {
            let list = mock!(aws_sdk_dynamodb::Client::list_tables)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&list], |c| c
                .retry_config(DynamoRetry::disabled()));
            let err = DynamoApi::new(client).tables(&beijing()).await.unwrap_err();
            check(&err, "ListTables", code, kind);

            let empty = mock!(aws_sdk_dynamodb::Client::list_tables)
                .then_output(|| ListTablesOutput::builder().build());
            let backups = mock!(aws_sdk_dynamodb::Client::list_backups)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(
                aws_sdk_dynamodb,
                RuleMode::MatchAny,
                [&empty, &backups],
                |c| c.retry_config(DynamoRetry::disabled())
            );
            let err = DynamoApi::new(client).tables(&beijing()).await.unwrap_err();
            check(&err, "ListBackups", code, kind);
        }
    }
}

mod backup {
    use super::*;
    use aws_sdk_backup::operation::describe_region_settings::DescribeRegionSettingsOutput;
    use aws_sdk_backup::operation::get_backup_plan::GetBackupPlanOutput;
    use aws_sdk_backup::operation::get_backup_selection::GetBackupSelectionOutput;
    use aws_sdk_backup::operation::get_backup_vault_access_policy::GetBackupVaultAccessPolicyOutput;
    use aws_sdk_backup::operation::list_backup_plans::ListBackupPlansOutput;
    use aws_sdk_backup::operation::list_backup_selections::ListBackupSelectionsOutput;
    use aws_sdk_backup::operation::list_backup_vaults::ListBackupVaultsOutput;
    use aws_sdk_backup::types::{
        BackupPlan, BackupPlansListMember, BackupRule, BackupSelection, BackupSelectionsListMember,
        BackupVaultListMember, Condition, ConditionParameter, ConditionType, Conditions, Lifecycle,
    };
    use relay_core::retention::VaultLock;

    fn region_settings(pref: Option<(&'static str, bool)>) -> BackupApi {
        let rule = mock!(aws_sdk_backup::Client::describe_region_settings).then_output(move || {
            let out = DescribeRegionSettingsOutput::builder()
                .resource_type_opt_in_preference("DynamoDB", true);
            match pref {
                Some((k, v)) => out.resource_type_management_preference(k, v).build(),
                None => out.build(),
            }
        });
        BackupApi::new(mock_client!(aws_sdk_backup, [&rule]))
    }

    #[tokio::test]
    async fn advanced_features_are_dynamodb_full_management_and_absent_means_off() {
        let on = region_settings(Some(("DynamoDB", true)))
            .advanced_features()
            .await;
        let off = region_settings(Some(("DynamoDB", false)))
            .advanced_features()
            .await;
        let other = region_settings(Some(("EFS", true)))
            .advanced_features()
            .await;
        let none = region_settings(None).advanced_features().await;
        assert_eq!(
            [on.unwrap(), off.unwrap(), other.unwrap(), none.unwrap()],
            [Some(true), Some(false), Some(false), Some(false)]
        );
    }

    const DENY_DELETE: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny",
        "Principal":{"AWS":"*"},"Action":["backup:DeleteRecoveryPoint",
        "backup:UpdateRecoveryPointLifecycle","backup:PutBackupVaultAccessPolicy"],"Resource":"*"}]}"#;
    const ALLOW_COPY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Principal":"*","Action":"backup:CopyIntoBackupVault","Resource":"*"}]}"#;

    fn vault(name: &str) -> aws_sdk_backup::types::builders::BackupVaultListMemberBuilder {
        BackupVaultListMember::builder().backup_vault_name(name)
    }

    type Rule = aws_smithy_mocks::Rule;

    /// Two ListBackupVaults pages (primary with a key, bunker locked; dr), and their policies.
    fn vault_rules() -> [Rule; 3] {
        let page_1 = mock!(aws_sdk_backup::Client::list_backup_vaults)
            .match_requests(|r| r.max_results() == Some(1000) && r.next_token().is_none())
            .then_output(|| {
                ListBackupVaultsOutput::builder()
                    .backup_vault_list(vault("primary").encryption_key_arn("key-1").build())
                    .backup_vault_list(
                        vault("bunker")
                            .locked(true)
                            .min_retention_days(7)
                            .max_retention_days(36500)
                            .number_of_recovery_points(1_000_000)
                            .creation_date(aws_smithy_types::DateTime::from_secs(1_700_000_000))
                            .build(),
                    )
                    .next_token("page-2")
                    .build()
            });
        let page_2 = mock!(aws_sdk_backup::Client::list_backup_vaults)
            .match_requests(|r| r.next_token() == Some("page-2"))
            .then_output(|| {
                ListBackupVaultsOutput::builder()
                    .backup_vault_list(vault("dr").locked(false).build())
                    .build()
            });
        let policies = mock!(aws_sdk_backup::Client::get_backup_vault_access_policy)
            .then_compute_response(|r| match r.backup_vault_name() {
                // No access policy at all: AWS answers ResourceNotFoundException.
                Some("primary") => aws_error(400, "ResourceNotFoundException"),
                Some("bunker") => MockResponse::Output(
                    GetBackupVaultAccessPolicyOutput::builder()
                        .policy(DENY_DELETE)
                        .build(),
                ),
                _ => MockResponse::Output(
                    GetBackupVaultAccessPolicyOutput::builder()
                        .policy(ALLOW_COPY)
                        .build(),
                ),
            });
        [page_1, page_2, policies]
    }

    #[tokio::test]
    async fn vaults_are_read_over_every_page_with_locks_keys_and_access_policies() {
        let rules = vault_rules();
        let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, &rules);

        let vaults = BackupApi::new(client)
            .vault_facts(&beijing())
            .await
            .unwrap();

        let seen: Vec<_> = vaults
            .iter()
            .map(|v| (v.arn.to_string(), v.lock, v.deny_manual_deletion))
            .collect();
        let arn = |n: &str| format!("arn:aws-cn:backup:cn-north-1:111111111111:backup-vault:{n}");
        let lock = VaultLock {
            min_retention_days: Some(7),
            max_retention_days: Some(36500),
        };
        assert_eq!(
            seen,
            [
                (arn("primary"), None, false),
                (arn("bunker"), Some(lock), true),
                (arn("dr"), None, false),
            ]
        );
        assert_eq!(vaults[0].encryption_key_arn.as_deref(), Some("key-1"));
        // What cuts a huge vault's listing into date ranges.
        assert_eq!(vaults[1].recovery_points, Some(1_000_000));
        assert_eq!(
            vaults[1].created,
            chrono::DateTime::from_timestamp(1_700_000_000, 0)
        );
        assert_eq!(vaults[2].created, None);
        assert_eq!(rules.map(|r| r.num_calls()), [1, 1, 3]);
    }

    #[tokio::test]
    async fn an_access_policy_that_may_not_be_read_fails_the_vaults() {
        let list = mock!(aws_sdk_backup::Client::list_backup_vaults).then_output(|| {
            ListBackupVaultsOutput::builder()
                .backup_vault_list(vault("primary").build())
                .build()
        });
        let denied = mock!(aws_sdk_backup::Client::get_backup_vault_access_policy)
            .then_compute_response(|_| aws_error(403, "AccessDeniedException"));
        let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, [&list, &denied]);
        let err = BackupApi::new(client)
            .vault_facts(&beijing())
            .await
            .unwrap_err();
        check(
            &err,
            "GetBackupVaultAccessPolicy",
            "AccessDeniedException",
            ErrorKind::AccessDenied,
        );
    }

    fn rule(name: &str, schedule: &str, delete_after_days: i64) -> BackupRule {
        BackupRule::builder()
            .rule_name(name)
            .target_backup_vault_name("primary")
            .schedule_expression(schedule)
            .lifecycle(
                Lifecycle::builder()
                    .delete_after_days(delete_after_days)
                    .build(),
            )
            .build()
            .unwrap()
    }

    fn plan_listed(id: &str) -> BackupPlansListMember {
        BackupPlansListMember::builder().backup_plan_id(id).build()
    }

    fn selection_listed(id: &str) -> BackupSelectionsListMember {
        BackupSelectionsListMember::builder()
            .selection_id(id)
            .build()
    }

    fn selection() -> aws_sdk_backup::types::builders::BackupSelectionBuilder {
        BackupSelection::builder()
            .selection_name("tables")
            .iam_role_arn("arn:aws-cn:iam::111111111111:role/backup")
    }

    fn tag(key: &str, value: &str) -> Condition {
        Condition::builder()
            .condition_type(ConditionType::Stringequals)
            .condition_key(key)
            .condition_value(value)
            .build()
            .unwrap()
    }

    /// Plan "a": two rules, two selections over two pages (tags gold OR silver, both in prod;
    /// one table by ARN). Plan "b" is deleted after it is listed; plan "c" has no selection.
    fn plan_rules() -> [Rule; 3] {
        let plans_1 = mock!(aws_sdk_backup::Client::list_backup_plans)
            .match_requests(|r| r.max_results() == Some(1000) && r.next_token().is_none())
            .then_output(|| {
                ListBackupPlansOutput::builder()
                    .backup_plans_list(plan_listed("a"))
                    .backup_plans_list(plan_listed("b"))
                    .next_token("plans-2")
                    .build()
            });
        let plans_2 = mock!(aws_sdk_backup::Client::list_backup_plans)
            .match_requests(|r| r.next_token() == Some("plans-2"))
            .then_output(|| {
                ListBackupPlansOutput::builder()
                    .backup_plans_list(plan_listed("c"))
                    .build()
            });
        let get_plan = mock!(aws_sdk_backup::Client::get_backup_plan).then_compute_response(|r| {
            let rules = match r.backup_plan_id() {
                Some("a") => vec![
                    rule("daily", "cron(0 5 ? * * *)", 35),
                    rule("weekly", "cron(0 5 ? * 1 *)", 365),
                ],
                Some("c") => vec![rule("daily", "cron(0 5 ? * * *)", 35)],
                _ => return aws_error(400, "ResourceNotFoundException"),
            };
            let plan = BackupPlan::builder()
                .backup_plan_name("tables")
                .set_rules(Some(rules));
            MockResponse::Output(
                GetBackupPlanOutput::builder()
                    .backup_plan(plan.build().unwrap())
                    .build(),
            )
        });
        [plans_1, plans_2, get_plan]
    }

    /// Plan "a"'s selections over two pages, plan "c"'s none, and each selection.
    fn selection_rules() -> [Rule; 4] {
        let selections_1 = mock!(aws_sdk_backup::Client::list_backup_selections)
            .match_requests(|r| r.backup_plan_id() == Some("a") && r.next_token().is_none())
            .then_output(|| {
                ListBackupSelectionsOutput::builder()
                    .backup_selections_list(selection_listed("by-tag"))
                    .next_token("selections-2")
                    .build()
            });
        let selections_2 = mock!(aws_sdk_backup::Client::list_backup_selections)
            .match_requests(|r| {
                r.backup_plan_id() == Some("a") && r.next_token() == Some("selections-2")
            })
            .then_output(|| {
                ListBackupSelectionsOutput::builder()
                    .backup_selections_list(selection_listed("by-arn"))
                    .build()
            });
        let no_selections = mock!(aws_sdk_backup::Client::list_backup_selections)
            .match_requests(|r| r.backup_plan_id() == Some("c"))
            .then_output(|| ListBackupSelectionsOutput::builder().build());
        let get_selection = mock!(aws_sdk_backup::Client::get_backup_selection)
            .then_compute_output(|r| {
                let prod = ConditionParameter::builder()
                    .condition_key("aws:ResourceTag/env")
                    .condition_value("prod")
                    .build();
                let s = match r.selection_id() {
                    Some("by-tag") => selection()
                        .list_of_tags(tag("tier", "gold"))
                        .list_of_tags(tag("tier", "silver"))
                        .conditions(Conditions::builder().string_equals(prod).build()),
                    _ => selection()
                        .resources("arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders"),
                };
                GetBackupSelectionOutput::builder()
                    .backup_selection(s.build().unwrap())
                    .build()
            });
        [selections_1, selections_2, no_selections, get_selection]
    }

    #[tokio::test]
    async fn plans_give_one_fact_per_rule_and_selection_filter_over_every_page() {
        let [plans_1, plans_2, get_plan] = plan_rules();
        let [selections_1, selections_2, no_selections, get_selection] = selection_rules();
        let rules = [
            plans_1,
            plans_2,
            get_plan,
            selections_1,
            selections_2,
            no_selections,
            get_selection,
        ];
        let client = mock_client!(aws_sdk_backup, RuleMode::MatchAny, &rules);

        let facts = BackupApi::new(client).plan_facts(&beijing()).await.unwrap();

        let seen: Vec<_> = facts
            .iter()
            .map(|f| {
                let tags: Vec<String> = f
                    .select_tags
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                (
                    f.name.as_str(),
                    f.every_hours,
                    f.delete_after_days,
                    tags.join(","),
                    f.select_resources.len(),
                )
            })
            .collect();
        let row = |name, hours, days, tags: &str, resources| {
            (name, Some(hours), Some(days), tags.to_string(), resources)
        };
        assert_eq!(
            seen,
            [
                row("tables/daily", 24, 35, "env=prod,tier=gold", 0),
                row("tables/daily", 24, 35, "env=prod,tier=silver", 0),
                row("tables/daily", 24, 35, "", 1),
                row("tables/weekly", 168, 365, "env=prod,tier=gold", 0),
                row("tables/weekly", 168, 365, "env=prod,tier=silver", 0),
                row("tables/weekly", 168, 365, "", 1),
            ]
        );
        let primary = "arn:aws-cn:backup:cn-north-1:111111111111:backup-vault:primary";
        assert!(facts
            .iter()
            .all(|f| f.vault_arn == primary && f.account == "111111111111"));
        let calls = rules.map(|r| r.num_calls());
        // 2 ListBackupPlans pages, 3 GetBackupPlan, 2 + 1 ListBackupSelections, 2 GetBackupSelection.
        assert_eq!(calls, [1, 1, 3, 1, 1, 1, 2]);
    }

    #[tokio::test]
    async fn list_errors_are_classified() {
        for (status, code, kind) in ERROR_CLASSES {
            let settings = mock!(aws_sdk_backup::Client::describe_region_settings)
                .then_compute_response(move |_| aws_error(status, code));
            let vaults = mock!(aws_sdk_backup::Client::list_backup_vaults)
                .then_compute_response(move |_| aws_error(status, code));
            let plans = mock!(aws_sdk_backup::Client::list_backup_plans)
                .then_compute_response(move |_| aws_error(status, code));
            let client = mock_client!(
                aws_sdk_backup,
                RuleMode::MatchAny,
                [&settings, &vaults, &plans],
                |c| c.retry_config(BackupRetry::disabled())
            );
            let api = BackupApi::new(client);
            check(
                &api.advanced_features().await.unwrap_err(),
                "DescribeRegionSettings",
                code,
                kind,
            );
            check(
                &api.vault_facts(&beijing()).await.unwrap_err(),
                "ListBackupVaults",
                code,
                kind,
            );
            check(
                &api.plan_facts(&beijing()).await.unwrap_err(),
                "ListBackupPlans",
                code,
                kind,
            );
        }
    }

    #[tokio::test]
    async fn selection_errors_fail_the_plans_but_a_deleted_selection_is_skipped() {
        let list = mock!(aws_sdk_backup::Client::list_backup_plans).then_output(|| {
            ListBackupPlansOutput::builder()
                .backup_plans_list(plan_listed("a"))
                .build()
        });
        let get = mock!(aws_sdk_backup::Client::get_backup_plan).then_output(|| {
            let plan = BackupPlan::builder().backup_plan_name("tables").rules(rule(
                "daily",
                "rate(1 day)",
                35,
            ));
            GetBackupPlanOutput::builder()
                .backup_plan(plan.build().unwrap())
                .build()
        });
        let selections = mock!(aws_sdk_backup::Client::list_backup_selections).then_output(|| {
            ListBackupSelectionsOutput::builder()
                .backup_selections_list(selection_listed("gone"))
                .backup_selections_list(selection_listed("denied"))
                .build()
        });
        let selection =
            mock!(aws_sdk_backup::Client::get_backup_selection).then_compute_response(|r| match r
                .selection_id()
            {
                Some("gone") => aws_error(400, "ResourceNotFoundException"),
                _ => aws_error(403, "AccessDeniedException"),
            });
        let client = mock_client!(
            aws_sdk_backup,
            RuleMode::MatchAny,
            [&list, &get, &selections, &selection],
            |c| c.retry_config(BackupRetry::disabled())
        );
        let err = BackupApi::new(client)
            .plan_facts(&beijing())
            .await
            .unwrap_err();
        check(
            &err,
            "GetBackupSelection",
            "AccessDeniedException",
            ErrorKind::AccessDenied,
        );
        assert_eq!(selection.num_calls(), 2);
    }
}
