//! The policy is read only from a bucket of the hub's own account: every S3 read sends
//! ExpectedBucketOwner. moto does not check the header, so a one-request HTTP listener on
//! 127.0.0.1 records what the SDK sends.

use aws_credential_types::Credentials;
use relay_aws::{AwsPolicyStore, S3Address};
use relay_core::ports::PolicyStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers every request 403 (what S3 says to a wrong owner) and hands back the request heads.
async fn recorder() -> (String, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut heads = Vec::new();
        // The SDK retries a 403 no more: one request per call.
        while let Ok(Ok((mut socket, _))) =
            tokio::time::timeout(std::time::Duration::from_secs(2), listener.accept()).await
        {
            let mut buf = vec![0u8; 16384];
            let n = socket.read(&mut buf).await.unwrap_or(0);
            heads.push(String::from_utf8_lossy(&buf[..n]).to_ascii_lowercase());
            let body = "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>";
            let answer = format!(
                "HTTP/1.1 403 Forbidden\r\ncontent-type: application/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
        heads
    });
    (endpoint, task)
}

#[tokio::test]
async fn every_read_of_the_policy_object_names_the_expected_bucket_owner() {
    let (endpoint, task) = recorder().await;
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(&endpoint)
        .force_path_style(true)
        .build();
    let store = AwsPolicyStore::Object {
        client: aws_sdk_s3::Client::from_conf(config),
        address: S3Address::parse("s3://policies/relay/policy.yaml").unwrap(),
        expected_owner: Some("111111111111".into()),
    };
    assert!(store.fetch().await.is_err());
    assert!(store.fetch_before("v2").await.is_err());
    let heads = task.await.unwrap();
    assert_eq!(heads.len(), 2, "{heads:#?}");
    for head in &heads {
        assert!(
            head.contains("x-amz-expected-bucket-owner: 111111111111"),
            "{head}"
        );
    }
}
