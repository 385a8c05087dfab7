//! The report store in an S3 bucket.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
use aws_sdk_s3::Client;
use relay_compliance::pieces::PartStore;
use relay_compliance::store::{
    too_large, Chunks, ObjectLinks, ReportStore, WriteError, BASELINE_KEY, PART_BYTES,
};
use relay_core::ports::{ErrorKind, PortError, PortResult};

use crate::errors::classify;

/// The largest previous report read back: the function holds it in memory next to the new one.
pub const DEFAULT_MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

pub struct S3ReportStore {
    client: Client,
    bucket: String,
    /// The bucket's Region, for console links.
    region: Option<String>,
    max_bytes: u64,
}

impl S3ReportStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        let region = client.config().region().map(|r| r.to_string());
        Self {
            client,
            bucket: bucket.into(),
            region,
            max_bytes: DEFAULT_MAX_REPORT_BYTES,
        }
    }

    /// Refuse to read a previous report over `max_bytes`.
    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

/// The body, read a chunk at a time and refused as soon as it passes `max_bytes` (the
/// Content-Length is checked first; this holds even when it is absent or wrong).
pub(crate) async fn read_bounded(
    key: &str,
    mut body: ByteStream,
    max_bytes: u64,
) -> PortResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| PortError::new(ErrorKind::Retryable, "GetObject", None, e.to_string()))?
    {
        out.extend_from_slice(&chunk);
        if out.len() as u64 > max_bytes {
            return Err(too_large("GetObject", key, out.len() as u64, max_bytes));
        }
    }
    Ok(out)
}

/// An object's body as text, `None` when there is none; refused past `max_bytes` unread.
async fn get_text(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> PortResult<Option<String>> {
    let sent = client.get_object().bucket(bucket).key(key).send().await;
    let object = match sent {
        Ok(o) => o,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
        Err(e) => return Err(classify("GetObject", &e)),
    };
    let size = u64::try_from(object.content_length().unwrap_or(0)).unwrap_or(0);
    if size > max_bytes {
        return Err(too_large("GetObject", key, size, max_bytes));
    }
    let bytes = read_bounded(key, object.body, max_bytes).await?;
    String::from_utf8(bytes).map(Some).map_err(|e| {
        PortError::new(
            ErrorKind::Permanent,
            "GetObject",
            None,
            format!("{key} is not UTF-8: {e}"),
        )
    })
}

impl ReportStore for S3ReportStore {
    async fn get_baseline(&self) -> PortResult<Option<String>> {
        get_text(&self.client, &self.bucket, BASELINE_KEY, self.max_bytes).await
    }

    async fn put(&self, key: &str, body: &str, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| classify("PutObject", &e))?;
        Ok(())
    }

    /// One PutObject when the body is under a part; else a multipart upload of parts of
    /// [`PART_BYTES`] sent as they fill, completed after the last piece. A piece that fails to
    /// render, or a part S3 refuses, aborts the upload: no object appears.
    async fn put_chunks<'a>(
        &'a self,
        key: &'a str,
        content_type: &'a str,
        chunks: Chunks<'a>,
    ) -> Result<(), WriteError> {
        let mut upload = Upload::new(&self.client, &self.bucket, key);
        let mut part = String::new();
        for chunk in chunks {
            let chunk = match chunk {
                Ok(c) => c,
                Err(e) => return Err(upload.abort(e.into()).await),
            };
            part.push_str(&chunk);
            if part.len() >= PART_BYTES {
                let full = std::mem::take(&mut part);
                if let Err(e) = upload.send(full, content_type).await {
                    return Err(upload.abort(e.into()).await);
                }
            }
        }
        if upload.id.is_none() {
            return Ok(self.put(key, &part, content_type).await?);
        }
        if !part.is_empty() {
            if let Err(e) = upload.send(part, content_type).await {
                return Err(upload.abort(e.into()).await);
            }
        }
        match upload.complete().await {
            Ok(()) => Ok(()),
            Err(e) => Err(upload.abort(e.into()).await),
        }
    }

    fn links(&self, key: &str) -> ObjectLinks {
        ObjectLinks {
            uri: format!("s3://{}/{key}", self.bucket),
            console: self
                .region
                .as_deref()
                .map(|region| console_url(region, &self.bucket, key)),
        }
    }
}

/// A multipart upload under way: started with its first part, each part's CRC32 kept for the
/// completion (the report bucket's Object Lock wants every part checksummed).
struct Upload<'a> {
    client: &'a Client,
    bucket: &'a str,
    key: &'a str,
    id: Option<String>,
    parts: Vec<CompletedPart>,
}

impl<'a> Upload<'a> {
    fn new(client: &'a Client, bucket: &'a str, key: &'a str) -> Self {
        Self {
            client,
            bucket,
            key,
            id: None,
            parts: Vec::new(),
        }
    }

    async fn send(&mut self, body: String, content_type: &str) -> PortResult<()> {
        let id = match &self.id {
            Some(id) => id.clone(),
            None => {
                let started = self
                    .client
                    .create_multipart_upload()
                    .bucket(self.bucket)
                    .key(self.key)
                    .content_type(content_type)
                    .checksum_algorithm(ChecksumAlgorithm::Crc32)
                    .send()
                    .await
                    .map_err(|e| classify("CreateMultipartUpload", &e))?;
                let id = started.upload_id().unwrap_or_default().to_string();
                self.id = Some(id.clone());
                id
            }
        };
        let number = i32::try_from(self.parts.len() + 1).unwrap_or(i32::MAX);
        let sent = self
            .client
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(id)
            .part_number(number)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body.into_bytes()))
            .send()
            .await
            .map_err(|e| classify("UploadPart", &e))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_string))
                .set_checksum_crc32(sent.checksum_crc32().map(str::to_string))
                .build(),
        );
        Ok(())
    }

    async fn complete(&self) -> PortResult<()> {
        let parts = CompletedMultipartUpload::builder()
            .set_parts(Some(self.parts.clone()))
            .build();
        self.client
            .complete_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .set_upload_id(self.id.clone())
            .multipart_upload(parts)
            .send()
            .await
            .map_err(|e| classify("CompleteMultipartUpload", &e))?;
        Ok(())
    }

    /// The upload dropped (S3 frees its parts); `why` is returned. An abort that fails leaves
    /// the parts to the report bucket's lifecycle rule, which aborts uploads left 7 days.
    async fn abort(&self, why: WriteError) -> WriteError {
        if let Some(id) = &self.id {
            let aborted = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(id)
                .send()
                .await;
            if let Err(e) = aborted {
                let e = classify("AbortMultipartUpload", &e);
                tracing::warn!(key = self.key, error = %e, "a multipart upload is left to the lifecycle rule");
            }
        }
        why
    }
}

/// The largest part of a report run read back (a shard of 50,000 recovery points is ~30 MB).
pub const DEFAULT_MAX_PART_BYTES: u64 = 128 * 1024 * 1024;

/// The parts of report runs in pieces, in the work bucket (not the locked report bucket).
pub struct S3PartStore {
    client: Client,
    bucket: String,
    max_bytes: u64,
}

impl S3PartStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
            max_bytes: DEFAULT_MAX_PART_BYTES,
        }
    }

    pub fn with_max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

impl PartStore for S3PartStore {
    async fn get_part(&self, key: &str) -> PortResult<Option<String>> {
        get_text(&self.client, &self.bucket, key, self.max_bytes).await
    }

    async fn put_part(&self, key: &str, body: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| classify("PutObject", &e))?;
        Ok(())
    }

    async fn list_parts(&self, prefix: &str) -> PortResult<Vec<String>> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("ListObjectsV2", &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        // S3 lists in UTF-8 binary order; the merge's order must not depend on it.
        keys.sort();
        Ok(keys)
    }
}

/// The S3 console's page of one object, on the console of the Region's partition.
pub fn console_url(region: &str, bucket: &str, key: &str) -> String {
    let host = if region.starts_with("us-gov-") {
        "console.amazonaws-us-gov.com"
    } else if region.starts_with("cn-") {
        "console.amazonaws.cn"
    } else {
        "console.aws.amazon.com"
    };
    format!("https://{host}/s3/object/{bucket}?region={region}&prefix={key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_links_follow_the_partition() {
        assert_eq!(
            console_url("eu-west-1", "b", "reports/latest/report.html"),
            "https://console.aws.amazon.com/s3/object/b?region=eu-west-1&prefix=reports/latest/report.html"
        );
        assert!(console_url("us-gov-west-1", "b", "k")
            .starts_with("https://console.amazonaws-us-gov.com/"));
        assert!(console_url("cn-north-1", "b", "k").starts_with("https://console.amazonaws.cn/"));
    }
}
