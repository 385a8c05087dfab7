//! The deployed policy: a Parameter Store parameter (up to 8 KB in the advanced tier), an object
//! in a versioned S3 bucket (up to the policy's 1 MB limit), or the inline `RELAY_POLICY`
//! variable (which shares 4 KB with all of a function's environment).

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
        /// The account the bucket must belong to (ExpectedBucketOwner on every read): a bucket
        /// deleted and re-made under the same name by another account feeds no policy.
        expected_owner: Option<String>,
    },
    /// A String parameter, by name; its version is the parameter's version number.
    Parameter {
        client: aws_sdk_ssm::Client,
        name: String,
    },
}

impl PolicyStore for AwsPolicyStore {
    async fn fetch(&self) -> PortResult<PolicyDocument> {
        match self {
            Self::Inline(text) => Ok(PolicyDocument {
                version: "inline".into(),
                text: text.clone(),
            }),
            Self::Object {
                client,
                address,
                expected_owner,
            } => fetch_object_at(client, address, None, expected_owner.as_deref()).await,
            Self::Parameter { client, name } => fetch_parameter(client, name, None).await,
        }
    }

    async fn author(&self, version: &str) -> PortResult<Option<String>> {
        match self {
            Self::Parameter { client, name } => parameter_author(client, name, version).await,
            Self::Inline(_) | Self::Object { .. } => Ok(None),
        }
    }

    async fn fetch_before(&self, version: &str) -> PortResult<Option<PolicyDocument>> {
        match self {
            Self::Inline(_) => Ok(None),
            Self::Object {
                client,
                address,
                expected_owner,
            } => object_before(client, address, version, expected_owner.as_deref()).await,
            Self::Parameter { client, name } => {
                // Parameter versions count up from 1; a deleted one is passed over.
                let Ok(mut n) = version.parse::<i64>() else {
                    return Ok(None);
                };
                while n > 1 {
                    n -= 1;
                    match fetch_parameter(client, name, Some(n)).await {
                        Ok(d) => return Ok(Some(d)),
                        Err(e) if e.code.as_deref() == Some("ParameterVersionNotFound") => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(None)
            }
        }
    }
}

/// Parameter Store's LastModifiedUser of one version of the parameter (its history, newest last,
/// read page by page).
async fn parameter_author(
    client: &aws_sdk_ssm::Client,
    name: &str,
    version: &str,
) -> PortResult<Option<String>> {
    let Ok(wanted) = version.parse::<i64>() else {
        return Ok(None);
    };
    let mut pages = client
        .get_parameter_history()
        .name(name)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("GetParameterHistory", &e))?;
        if let Some(p) = page.parameters().iter().find(|p| p.version() == wanted) {
            return Ok(p.last_modified_user().map(str::to_string));
        }
    }
    Ok(None)
}

/// The object's version published before `version` (ListObjectVersions lists a key's versions
/// newest first); `None` for the oldest, or where the bucket keeps no versions. Paged by hand:
/// the SDK has no paginator for ListObjectVersions (its pages take two markers).
async fn object_before(
    client: &Client,
    address: &S3Address,
    version: &str,
    owner: Option<&str>,
) -> PortResult<Option<PolicyDocument>> {
    let mut seen = false;
    let mut key_marker: Option<String> = None;
    let mut version_marker: Option<String> = None;
    loop {
        let page = client
            .list_object_versions()
            .bucket(&address.bucket)
            .set_expected_bucket_owner(owner.map(str::to_string))
            .prefix(&address.key)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| classify("ListObjectVersions", &e))?;
        for v in page
            .versions()
            .iter()
            .filter(|v| v.key() == Some(address.key.as_str()))
        {
            let id = v.version_id().unwrap_or_default();
            if seen && id != "null" {
                return fetch_object_at(client, address, Some(id), owner)
                    .await
                    .map(Some);
            }
            seen = seen || id == version;
        }
        if page.is_truncated() != Some(true) {
            return Ok(None);
        }
        key_marker = page.next_key_marker().map(str::to_string);
        version_marker = page.next_version_id_marker().map(str::to_string);
    }
}

async fn fetch_object_at(
    client: &Client,
    address: &S3Address,
    version_id: Option<&str>,
    owner: Option<&str>,
) -> PortResult<PolicyDocument> {
    let object = client
        .get_object()
        .bucket(&address.bucket)
        .set_expected_bucket_owner(owner.map(str::to_string))
        .key(&address.key)
        .set_version_id(version_id.map(str::to_string))
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

/// The parameter, or one version of it (`name:version`, Parameter Store's selector).
async fn fetch_parameter(
    client: &aws_sdk_ssm::Client,
    name: &str,
    version: Option<i64>,
) -> PortResult<PolicyDocument> {
    let selector = match version {
        Some(v) => format!("{name}:{v}"),
        None => name.to_string(),
    };
    let out = client
        .get_parameter()
        .name(selector)
        .send()
        .await
        .map_err(|e| classify("GetParameter", &e))?;
    let parameter = out.parameter().ok_or_else(|| {
        PortError::new(
            ErrorKind::Retryable,
            "GetParameter",
            None,
            format!("{name}: no parameter in the answer"),
        )
    })?;
    let text = parameter.value().unwrap_or_default().to_string();
    Ok(PolicyDocument {
        version: parameter.version().to_string(),
        text,
    })
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
