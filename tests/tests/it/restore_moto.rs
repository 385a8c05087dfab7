//! The restore port's DynamoDB side (the restored table's state, its deletion) against a real moto
//! server over HTTP. moto 5.2 has no StartRestoreJob or DescribeRestoreJob (its backup module
//! serves vaults, plans, tags and report plans only): those are covered with aws-smithy-mocks in
//! shared/aws/tests/restore.rs.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, Tag,
};
use relay_core::ports::{ErrorKind, RestorePort};
use relay_tests::{MotoServer, MOTO_ACCOUNT};

async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    tags: &[(String, String)],
    protected: bool,
) {
    let tags: Vec<Tag> = tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build().unwrap())
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
        .deletion_protection_enabled(protected)
        .send()
        .await
        .unwrap();
}

async fn put_items(client: &aws_sdk_dynamodb::Client, table: &str, n: usize) {
    for i in 0..n {
        client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(format!("order-{i}")))
            .item("total", AttributeValue::N(format!("{i}")))
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn an_existing_table_shows_its_arn_status_items_and_every_tag_page() {
    let moto = MotoServer::start().unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    // moto pages tags 10 at a time: 12 make two pages.
    let mut tags: Vec<(String, String)> = (0..11)
        .map(|i| (format!("k{i:02}"), format!("v{i}")))
        .collect();
    tags.push(("backup-relay:restore-drill".into(), "true".into()));
    create_table(&ddb, "orders-restored", &tags, false).await;
    put_items(&ddb, "orders-restored", 3).await;

    let t = moto
        .aws_ports()
        .await
        .table_state(&moto.location(), "orders-restored")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        t.arn,
        format!("arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/orders-restored")
    );
    assert_eq!(t.status, "ACTIVE");
    // moto counts items live; DynamoDB refreshes ItemCount about every six hours. moto's
    // TableSizeBytes is always 0.
    assert_eq!((t.item_count, t.size_bytes), (3, 0));
    assert_eq!(t.tags.len(), 12, "{:?}", t.tags);
    assert_eq!(
        t.tags.get("backup-relay:restore-drill").map(String::as_str),
        Some("true")
    );
    assert_eq!(t.tags.get("k10").map(String::as_str), Some("v10"));
}

#[tokio::test]
async fn a_missing_table_has_no_state() {
    let moto = MotoServer::start().unwrap();
    let state = moto
        .aws_ports()
        .await
        .table_state(&moto.location(), "never-made")
        .await
        .unwrap();
    assert_eq!(state, None);
}

#[tokio::test]
async fn a_deleted_table_is_gone_and_deleting_it_again_is_done() {
    let moto = MotoServer::start().unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    create_table(&ddb, "drill-1", &[], false).await;
    put_items(&ddb, "drill-1", 2).await;
    let ports = moto.aws_ports().await;

    ports
        .delete_table(&moto.location(), "drill-1")
        .await
        .unwrap();
    assert_eq!(
        ports
            .table_state(&moto.location(), "drill-1")
            .await
            .unwrap(),
        None
    );
    // A cleanup that is run again (a lost answer, a second drill run) finds nothing to do.
    ports
        .delete_table(&moto.location(), "drill-1")
        .await
        .unwrap();
    ports
        .delete_table(&moto.location(), "never-made")
        .await
        .unwrap();
}

#[tokio::test]
async fn a_table_protected_from_deletion_is_refused_for_good() {
    let moto = MotoServer::start().unwrap();
    let ddb = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    create_table(&ddb, "orders", &[], true).await;
    let ports = moto.aws_ports().await;

    let err = ports
        .delete_table(&moto.location(), "orders")
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Permanent, "{err}");
    assert_eq!(err.operation, "DeleteTable");
    assert_eq!(err.code.as_deref(), Some("ValidationException"), "{err}");
    assert!(ports
        .table_state(&moto.location(), "orders")
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn settings_a_restore_loses_are_read_from_the_source_and_put_on_the_new_table() {
    use aws_sdk_dynamodb::types::{
        PointInTimeRecoverySpecification, StreamSpecification, StreamViewType,
        TimeToLiveSpecification,
    };
    let moto = MotoServer::start().unwrap();
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let tags = [("team".to_string(), "payments".to_string())];
    create_table(&client, "source", &tags, true).await;
    create_table(&client, "restored", &[], false).await;
    client
        .update_continuous_backups()
        .table_name("source")
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .update_time_to_live()
        .table_name("source")
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name("expires_at")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .update_table()
        .table_name("source")
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ports = moto.aws_ports().await;
    let source = ports
        .table_settings(&moto.location(), "source")
        .await
        .unwrap()
        .unwrap();
    assert!(source.pitr && source.deletion_protection);
    assert_eq!(source.ttl_attribute.as_deref(), Some("expires_at"));
    assert_eq!(source.stream_view_type.as_deref(), Some("NEW_IMAGE"));
    assert_eq!(
        source.tags.get("team").map(String::as_str),
        Some("payments")
    );
    let before = ports
        .table_settings(&moto.location(), "restored")
        .await
        .unwrap()
        .unwrap();
    assert!(!before.pitr && before.ttl_attribute.is_none() && before.stream_view_type.is_none());
    ports
        .apply_table_settings(&moto.location(), "restored", &source)
        .await
        .unwrap();
    let after = ports
        .table_settings(&moto.location(), "restored")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, source, "every setting put back");
    // Applying again changes nothing and is no error.
    ports
        .apply_table_settings(&moto.location(), "restored", &source)
        .await
        .unwrap();
    assert!(ports
        .table_settings(&moto.location(), "missing")
        .await
        .unwrap()
        .is_none());
}
