//! The S3 report store against a moto server: written objects read back as the latest report,
//! a missing one is `None`, an oversized one is refused before it is read.

use aws_sdk_s3::Client;
use relay_aws::S3ReportStore;
use relay_compliance::store::{is_too_large, ReportStore, BASELINE_KEY};
use relay_core::ports::ErrorKind;
use relay_tests::MotoServer;

const BUCKET: &str = "relay-reports";

/// moto answers on 127.0.0.1, so the bucket goes in the path, not the host name.
async fn client(moto: &MotoServer) -> Client {
    let config = aws_sdk_s3::config::Builder::from(&moto.sdk_config().await)
        .force_path_style(true)
        .build();
    Client::from_conf(config)
}

async fn with_bucket(moto: &MotoServer) -> Client {
    let s3 = client(moto).await;
    s3.create_bucket().bucket(BUCKET).send().await.unwrap();
    s3
}

#[tokio::test]
async fn a_put_report_reads_back_as_the_latest_with_its_content_type() {
    let moto = MotoServer::start().unwrap();
    let s3 = with_bucket(&moto).await;
    let store = S3ReportStore::new(s3.clone(), BUCKET);
    let body = r#"{"schema": "backup-relay/report/v1", "resources": []}"#;
    store
        .put(
            "reports/2026/11/20/report.csv",
            "a,b\n",
            "text/csv; charset=utf-8",
        )
        .await
        .unwrap();
    store
        .put(BASELINE_KEY, body, "application/json")
        .await
        .unwrap();

    assert_eq!(store.get_baseline().await.unwrap().as_deref(), Some(body));
    let head = s3
        .head_object()
        .bucket(BUCKET)
        .key("reports/2026/11/20/report.csv")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/csv; charset=utf-8"));
    let links = store.links("reports/2026/11/20/report.html");
    assert_eq!(
        links.uri,
        "s3://relay-reports/reports/2026/11/20/report.html"
    );
    assert!(
        links.console.is_some_and(
            |c| c.contains("region=us-east-1") && c.contains("/s3/object/relay-reports?")
        )
    );
}

#[tokio::test]
async fn a_missing_latest_report_is_none() {
    let moto = MotoServer::start().unwrap();
    let store = S3ReportStore::new(with_bucket(&moto).await, BUCKET);
    assert_eq!(store.get_baseline().await.unwrap(), None);
}

#[tokio::test]
async fn a_latest_report_over_the_limit_is_refused_unread() {
    let moto = MotoServer::start().unwrap();
    let store = S3ReportStore::new(with_bucket(&moto).await, BUCKET).with_max_bytes(1024);
    store
        .put(BASELINE_KEY, &"x".repeat(1025), "application/json")
        .await
        .unwrap();
    let err = store.get_baseline().await.unwrap_err();
    assert!(is_too_large(&err), "{err}");
    assert_eq!(
        (err.kind, err.operation),
        (ErrorKind::Permanent, "GetObject")
    );
}

#[tokio::test]
async fn a_missing_bucket_is_a_classified_error_not_an_empty_store() {
    let moto = MotoServer::start().unwrap();
    let store = S3ReportStore::new(client(&moto).await, "no-such-bucket");
    let err = store.get_baseline().await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::NotFound, "{err}");
    let err = store
        .put(BASELINE_KEY, "{}", "application/json")
        .await
        .unwrap_err();
    assert_eq!(
        (err.kind, err.operation),
        (ErrorKind::NotFound, "PutObject"),
        "{err}"
    );
}

/// Reports written in pieces, into a bucket under Object Lock as the hub's is: a body past a
/// part is a multipart upload whose parts carry their checksums, a small one a single put, and a
/// piece that fails to render leaves neither an object nor an upload behind.
mod in_pieces {
    use super::*;
    use relay_compliance::render::{Chunk, RenderError};
    use relay_compliance::store::{Chunks, WriteError, PART_BYTES};

    const KEY: &str = "reports/2026/11/20/report.json";

    async fn locked_bucket(moto: &MotoServer) -> Client {
        use aws_sdk_s3::types::{
            DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
            ObjectLockRule,
        };
        let s3 = client(moto).await;
        s3.create_bucket()
            .bucket(BUCKET)
            .object_lock_enabled_for_bucket(true)
            .send()
            .await
            .unwrap();
        let retention = DefaultRetention::builder()
            .mode(ObjectLockRetentionMode::Compliance)
            .days(1)
            .build();
        let config = ObjectLockConfiguration::builder()
            .object_lock_enabled(ObjectLockEnabled::Enabled)
            .rule(
                ObjectLockRule::builder()
                    .default_retention(retention)
                    .build(),
            )
            .build();
        s3.put_object_lock_configuration()
            .bucket(BUCKET)
            .object_lock_configuration(config)
            .send()
            .await
            .unwrap();
        s3
    }

    /// `count` pieces of 100 KiB, each its own letter, then `then`.
    fn pieces(count: usize, then: Option<Chunk>) -> Chunks<'static> {
        let each = (0..count).map(|i| {
            Ok(((b'a' + (i % 26) as u8) as char)
                .to_string()
                .repeat(100 << 10))
        });
        Box::new(each.chain(then))
    }

    async fn read(s3: &Client) -> Option<String> {
        let object = s3.get_object().bucket(BUCKET).key(KEY).send().await.ok()?;
        let bytes = object.body.collect().await.unwrap().into_bytes();
        Some(String::from_utf8(bytes.to_vec()).unwrap())
    }

    async fn uploads_left(s3: &Client) -> usize {
        let listed = s3
            .list_multipart_uploads()
            .bucket(BUCKET)
            .send()
            .await
            .unwrap();
        listed.uploads().len()
    }

    #[tokio::test]
    async fn a_body_past_a_part_is_uploaded_in_parts_and_a_small_one_put_whole() {
        let moto = MotoServer::start().unwrap();
        let s3 = locked_bucket(&moto).await;
        let store = S3ReportStore::new(s3.clone(), BUCKET);
        // 20 MiB: two full parts and a last one.
        let count = 200;
        let whole: String = pieces(count, None).map(|c| c.unwrap()).collect();
        assert!(whole.len() > 2 * PART_BYTES);
        store
            .put_chunks(KEY, "application/json", pieces(count, None))
            .await
            .unwrap();
        assert_eq!(read(&s3).await.as_deref(), Some(whole.as_str()));
        let head = s3
            .head_object()
            .bucket(BUCKET)
            .key(KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_type(), Some("application/json"));
        assert!(
            head.e_tag().is_some_and(|t| t.ends_with("-3\"")),
            "{:?}",
            head.e_tag()
        );
        assert_eq!(uploads_left(&s3).await, 0);
        // Under a part: one PutObject.
        store
            .put_chunks(KEY, "text/csv", pieces(3, None))
            .await
            .unwrap();
        let small: String = pieces(3, None).map(|c| c.unwrap()).collect();
        assert_eq!(read(&s3).await.as_deref(), Some(small.as_str()));
    }

    #[tokio::test]
    async fn a_piece_that_fails_to_render_leaves_no_object_and_no_upload() {
        let moto = MotoServer::start().unwrap();
        let s3 = locked_bucket(&moto).await;
        let store = S3ReportStore::new(s3.clone(), BUCKET);
        for count in [3, 200] {
            let broken = serde_json::from_str::<u8>("x").unwrap_err();
            let then = Some(Err(RenderError::Json(broken)));
            let err = store
                .put_chunks(KEY, "application/json", pieces(count, then))
                .await
                .unwrap_err();
            assert!(matches!(err, WriteError::Render(_)), "{err}");
            assert_eq!(read(&s3).await, None, "{count} pieces");
            assert_eq!(uploads_left(&s3).await, 0);
        }
    }
}

mod policy_store {
    use super::*;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    use relay_aws::{AwsPolicyStore, S3Address};
    use relay_core::policy::MAX_POLICY_BYTES;
    use relay_core::ports::PolicyStore;

    const KEY: &str = "config/policy.yaml";

    async fn put(s3: &Client, body: Vec<u8>) {
        s3.put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn each_version_of_the_object_is_read_with_its_version_id() {
        let moto = MotoServer::start().unwrap();
        let s3 = with_bucket(&moto).await;
        s3.put_bucket_versioning()
            .bucket(BUCKET)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        let store = AwsPolicyStore::Object {
            client: s3.clone(),
            address: S3Address::parse(&format!("s3://{BUCKET}/{KEY}")).unwrap(),
            // moto's account (it does not check the owner; the adapter test does).
            expected_owner: Some("123456789012".into()),
        };
        let missing = store.fetch().await.unwrap_err();
        assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");

        put(&s3, b"version: 1\n".to_vec()).await;
        let first = store.fetch().await.unwrap();
        assert_eq!(first.text, "version: 1\n");
        put(&s3, b"version: 1 # edited\n".to_vec()).await;
        let second = store.fetch().await.unwrap();
        assert_eq!(second.text, "version: 1 # edited\n");
        assert_ne!(first.version, second.version);
        assert!(!second.version.is_empty() && second.version != "unversioned");

        let before = store.fetch_before(&second.version).await.unwrap().unwrap();
        assert_eq!(
            (before.version.as_str(), before.text.as_str()),
            (first.version.as_str(), "version: 1\n")
        );
        assert_eq!(store.fetch_before(&first.version).await.unwrap(), None);

        put(&s3, vec![b'#'; MAX_POLICY_BYTES + 1]).await;
        let e = store.fetch().await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Permanent);
        assert!(e.to_string().contains("at most 1048576"), "{e}");
    }

    #[tokio::test]
    async fn each_version_of_the_parameter_is_read_with_its_version_number() {
        let moto = MotoServer::start().unwrap();
        let ssm = aws_sdk_ssm::Client::new(&moto.sdk_config().await);
        let store = AwsPolicyStore::Parameter {
            client: ssm.clone(),
            name: "/backup-relay/policy".into(),
        };
        let missing = store.fetch().await.unwrap_err();
        assert_ne!(missing.kind, ErrorKind::Retryable, "{missing}");
        for (i, text) in ["version: 1\n", "version: 1 # edited\n"].iter().enumerate() {
            ssm.put_parameter()
                .name("/backup-relay/policy")
                .value(*text)
                .r#type(aws_sdk_ssm::types::ParameterType::String)
                .overwrite(true)
                .send()
                .await
                .unwrap();
            let read = store.fetch().await.unwrap();
            assert_eq!(
                (read.version, read.text.as_str()),
                ((i + 1).to_string(), *text)
            );
        }
    }
}

/// A report run's parts in the work bucket: written, read back, listed under their prefix over
/// more than one page of ListObjectsV2 and in order; a missing one is `None`; an oversized one
/// refused unread.
#[tokio::test]
async fn a_runs_parts_are_written_listed_over_pages_and_read_back() {
    use relay_aws::S3PartStore;
    use relay_compliance::pieces::PartStore;
    let moto = MotoServer::start().unwrap();
    let s3 = with_bucket(&moto).await;
    let parts = S3PartStore::new(s3.clone(), BUCKET);
    let prefix = "runs/20261202T060000.000Z/points/111111111111/us-east-1/";
    // 1,001 keys: past ListObjectsV2's page of 1,000.
    for i in (0..1001).rev() {
        let key = format!("{prefix}222222222222-us-west-2-{i:05}.json");
        parts.put_part(&key, "{}").await.unwrap();
    }
    parts
        .put_part("runs/20261202T060000.000Z/pieces.json", "[]")
        .await
        .unwrap();
    let keys = parts.list_parts(prefix).await.unwrap();
    assert_eq!(keys.len(), 1001);
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert!(keys.iter().all(|k| k.starts_with(prefix)));
    assert_eq!(
        parts
            .get_part("runs/20261202T060000.000Z/pieces.json")
            .await
            .unwrap()
            .as_deref(),
        Some("[]")
    );
    assert_eq!(parts.get_part("runs/none.json").await.unwrap(), None);
    let small = S3PartStore::new(s3, BUCKET).with_max_bytes(1);
    let e = small
        .get_part("runs/20261202T060000.000Z/pieces.json")
        .await
        .unwrap_err();
    assert!(is_too_large(&e), "{e}");
}
