//! The compliance inventory's SDK adapters against a real moto server over HTTP, for what moto
//! implements: DynamoDB tables, tags, PITR and native backups; backup vaults with their locks;
//! backup plans and their rules. moto 5.2 has no DescribeRegionSettings, vault access policies
//! or backup selections: those are covered with aws-smithy-mocks in shared/aws/tests/inventory.rs.

use aws_sdk_backup::types::{BackupPlanInput, BackupRuleInput, Lifecycle};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    ScalarAttributeType, Tag,
};
use relay_aws::backup_inventory::{plan_facts_of, Filter};
use relay_aws::BackupApi;
use relay_compliance::InventoryPort;
use relay_tests::{MotoServer, MOTO_ACCOUNT};

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str, tags: &[(&str, &str)]) {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(*k).value(*v).build().unwrap())
        .collect();
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .set_tags((!tags.is_empty()).then_some(tags))
        .send()
        .await
        .unwrap();
}

async fn native_backup(client: &aws_sdk_dynamodb::Client, table: &str, name: &str) {
    client
        .create_backup()
        .table_name(table)
        .backup_name(name)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn tables_come_with_every_tag_page_pitr_and_native_backups_across_list_pages() {
    let moto = MotoServer::start().unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    // moto pages tags 10 at a time: 12 make two pages.
    let many: Vec<(String, String)> = (0..12)
        .map(|i| (format!("k{i:02}"), format!("v{i}")))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    create_table(&ddb, "orders", &many).await;
    create_table(&ddb, "payments", &[("backup-tier", "gold")]).await;
    // 103 more: ListTables needs a second page of its 100.
    for i in 0..103 {
        create_table(&ddb, &format!("t{i:03}"), &[]).await;
    }
    ddb.update_continuous_backups()
        .table_name("orders")
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    native_backup(&ddb, "orders", "first").await;
    native_backup(&ddb, "orders", "second").await;
    native_backup(&ddb, "payments", "only").await;

    let tables = moto
        .aws_ports()
        .await
        .tables(&moto.location())
        .await
        .unwrap();
    assert_eq!(tables.len(), 105);
    let table = |name: &str| tables.iter().find(|t| t.name == name).unwrap();
    let orders = table("orders");
    assert_eq!(
        orders.arn,
        format!("arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/orders")
    );
    assert_eq!(orders.tags.len(), 12, "{:?}", orders.tags);
    assert_eq!(orders.tags.get("k11").map(String::as_str), Some("v11"));
    assert_eq!((orders.pitr, orders.native_backups), (Some(true), 2));
    let payments = table("payments");
    assert_eq!(
        payments.tags.get("backup-tier").map(String::as_str),
        Some("gold")
    );
    assert_eq!((payments.pitr, payments.native_backups), (Some(false), 1));
    let plain = table("t102");
    assert!(plain.tags.is_empty());
    assert_eq!((plain.pitr, plain.native_backups), (Some(false), 0));
    assert_eq!(
        (plain.account.as_str(), plain.region.as_str()),
        (MOTO_ACCOUNT, "us-east-1")
    );
}

#[tokio::test]
async fn an_account_and_region_without_tables_has_none() {
    let moto = MotoServer::start().unwrap();
    let tables = moto
        .aws_ports()
        .await
        .tables(&moto.location())
        .await
        .unwrap();
    assert!(tables.is_empty());
}

#[tokio::test]
async fn vaults_are_listed_with_their_locks_and_keys() {
    let moto = MotoServer::start().unwrap();
    let backup = aws_sdk_backup::Client::new(&moto.sdk_config().await);
    let key = format!("arn:aws:kms:us-east-1:{MOTO_ACCOUNT}:key/1234abcd");
    backup
        .create_backup_vault()
        .backup_vault_name("primary")
        .encryption_key_arn(&key)
        .send()
        .await
        .unwrap();
    backup
        .create_backup_vault()
        .backup_vault_name("bunker")
        .send()
        .await
        .unwrap();
    backup
        .put_backup_vault_lock_configuration()
        .backup_vault_name("bunker")
        .min_retention_days(7)
        .max_retention_days(36500)
        .send()
        .await
        .unwrap();

    let vaults = BackupApi::new(backup)
        .list_vaults(&moto.location())
        .await
        .unwrap();
    let vault = |name: &str| vaults.iter().find(|v| v.arn.name == name).unwrap();
    assert_eq!(vaults.len(), 2);
    let primary = vault("primary");
    assert_eq!(primary.lock, None);
    assert_eq!(primary.encryption_key_arn.as_deref(), Some(key.as_str()));
    assert_eq!(
        primary.arn.to_string(),
        format!("arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:primary")
    );
    let lock = vault("bunker").lock.unwrap();
    assert_eq!(
        (lock.min_retention_days, lock.max_retention_days),
        (Some(7), Some(36500))
    );
}

fn rule(name: &str, schedule: Option<&str>, delete_after_days: Option<i64>) -> BackupRuleInput {
    BackupRuleInput::builder()
        .rule_name(name)
        .target_backup_vault_name("primary")
        .set_schedule_expression(schedule.map(str::to_string))
        .set_lifecycle(delete_after_days.map(|d| Lifecycle::builder().delete_after_days(d).build()))
        .build()
        .unwrap()
}

#[tokio::test]
async fn plan_rules_give_their_period_retention_and_vault() {
    let moto = MotoServer::start().unwrap();
    let backup = aws_sdk_backup::Client::new(&moto.sdk_config().await);
    backup
        .create_backup_vault()
        .backup_vault_name("primary")
        .send()
        .await
        .unwrap();
    let plan = BackupPlanInput::builder()
        .backup_plan_name("tables")
        .rules(rule("daily", Some("cron(0 5 ? * * *)"), Some(35)))
        .rules(rule("twice-daily", Some("cron(0 */12 * * ? *)"), None))
        .rules(rule("weekly", Some("cron(0 5 ? * 1 *)"), Some(365)))
        .build()
        .unwrap();
    backup
        .create_backup_plan()
        .backup_plan(plan)
        .send()
        .await
        .unwrap();

    let api = BackupApi::new(backup);
    let plans = api.plans().await.unwrap();
    assert_eq!(plans.len(), 1);
    let everything = Filter {
        tags: Default::default(),
        resources: vec!["*".into()],
    };
    let facts = plan_facts_of(&moto.location(), &plans[0], &[everything]);
    let seen: Vec<_> = facts
        .iter()
        .map(|f| (f.name.as_str(), f.every_hours, f.delete_after_days))
        .collect();
    assert_eq!(
        seen,
        [
            ("tables/daily", Some(24), Some(35)),
            ("tables/twice-daily", Some(12), None),
            ("tables/weekly", Some(168), Some(365)),
        ]
    );
    let vault = format!("arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:primary");
    assert!(facts
        .iter()
        .all(|f| f.vault_arn == vault && f.select_resources == ["*"]));
}
