//! The SNS alert adapter against a moto server: the message reaches a subscriber intact, and
//! errors are classified.

use relay_aws::SnsAlerts;
use relay_core::ledger::{HopKey, Original};
use relay_core::ports::{Alert, ErrorKind};
use relay_tests::MotoServer;

fn alert(subject: &str) -> Alert {
    Alert { hop: Some(HopKey::new(
            Original::new("arn:aws:dynamodb:us-east-1:111111111111:table/orders", chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default()),
            "arn:aws:backup:eu-west-1:333333333333:backup-vault:bunker",
        )), ..Alert::plain(subject.to_string(), "Copy job j-1 failed.\nLikely fix: the destination vault's access policy must allow backup:CopyIntoBackupVault".into()) }
}

#[tokio::test]
async fn an_alert_reaches_a_subscribed_queue_with_subject_and_message() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("relay-alerts")
        .send()
        .await
        .unwrap()
        .topic_arn
        .unwrap();
    let queue_url = sqs
        .create_queue()
        .queue_name("alert-inbox")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .unwrap();

    // A long, non-ASCII subject is cut to SNS's 100 ASCII characters instead of being refused.
    let long = format!("Backup Relay: copy dr->bunker failed — {}", "x".repeat(120));
    SnsAlerts::new(sns, &topic)
        .send(&alert(&long))
        .await
        .unwrap();

    let received = sqs
        .receive_message()
        .queue_url(&queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    let body = received
        .messages()
        .first()
        .and_then(|m| m.body())
        .expect("one message");
    let envelope: serde_json::Value = serde_json::from_str(body).unwrap();
    let subject = envelope["Subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Backup Relay: copy dr->bunker failed"),
        "{subject}"
    );
    assert!(subject.len() <= 100 && subject.is_ascii(), "{subject}");
    assert!(envelope["Message"]
        .as_str()
        .unwrap()
        .contains("backup:CopyIntoBackupVault"));
}

#[tokio::test]
async fn publishing_to_a_missing_topic_is_a_classified_error() {
    let moto = MotoServer::start().unwrap();
    let sns = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let err = SnsAlerts::new(sns, "arn:aws:sns:us-east-1:123456789012:no-such-topic")
        .send(&alert("x"))
        .await
        .unwrap_err();
    assert_eq!(err.operation, "Publish");
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
}
