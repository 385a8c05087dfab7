//! The deployed policy: an object in a versioned S3 bucket (it can grow past the 4 KB that all
//! of a function's environment variables share), or the inline `RELAY_POLICY` variable.

use aws_sdk_s3::Client;
use relay_core::policy::keeper::PolicyDocument;
use relay_core::policy::MAX_POLICY_BYTES;
use relay_core::ports::{ErrorKind, PolicyStore, PortError, PortResult};

use crate::errors::classify;
use crate::reports::read_bounded;

/// Where a `s3://bucket/key` address points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Address {
    pub bucket: String,
    pub key: String,
}

impl S3Address {
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .trim()
            .strip_prefix("s3://")
            .ok_or_else(|| format!("'{uri}' is not an s3://bucket/key address"))?;
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() => Ok(Self {
                bucket: bucket.into(),
                key: key.into(),
            }),
            _ => Err(format!("'{uri}' names no bucket and key (s3://bucket/key)")),
        }
    }
}

pub enum AwsPolicyStore {
    /// The `RELAY_POLICY` variable: one version for the life of the process.
    Inline(String),
    Object {
        client: Client,
        address: S3Address,
    },
}

impl PolicyStore for AwsPolicyStore {
    async fn fetch(&self) -> PortResult<PolicyDocument> {
        match self {
            Self::Inline(text) => Ok(PolicyDocument {
                version: "inline".into(),
                text: text.clone(),
            }),
            Self::Object { client, address } => fetch_object(client, address).await,
        }
    }
}

async fn fetch_object(client: &Client, address: &S3Address) -> PortResult<PolicyDocument> {
    let object = client
        .get_object()
        .bucket(&address.bucket)
        .key(&address.key)
        .send()
        .await
        .map_err(|e| classify("GetObject", &e))?;
    let max = MAX_POLICY_BYTES as u64;
    let size = u64::try_from(object.content_length().unwrap_or(0)).unwrap_or(0);
    if size > max {
        return Err(too_large(address, size));
    }
    // An unversioned bucket has no version id: the ETag still tells one text from another.
    let version = object
        .version_id()
        .or(object.e_tag())
        .unwrap_or("unversioned")
        .trim_matches('"')
        .to_string();
    let bytes = read_bounded(&address.key, object.body, max).await?;
    let text = String::from_utf8(bytes).map_err(|e| {
        PortError::new(
            ErrorKind::Permanent,
            "GetObject",
            None,
            format!(
                "s3://{}/{} is not UTF-8 text: {e}",
                address.bucket, address.key
            ),
        )
    })?;
    Ok(PolicyDocument { version, text })
}

fn too_large(address: &S3Address, size: u64) -> PortError {
    PortError::new(
        ErrorKind::Permanent,
        "GetObject",
        None,
        format!(
            "s3://{}/{} holds {size} bytes or more; a policy may have at most {MAX_POLICY_BYTES}",
            address.bucket, address.key
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            S3Address::parse("s3://relay-config/policies/policy.yaml"),
            Ok(S3Address {
                bucket: "relay-config".into(),
                key: "policies/policy.yaml".into()
            })
        );
        for bad in [
            "relay-config/policy.yaml",
            "s3://relay-config",
            "s3:///key",
            "s3://b/",
        ] {
            assert!(S3Address::parse(bad).is_err(), "{bad}");
        }
    }
}
