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
            Self::Object { client, address } => fetch_object(client, address).await,
            Self::Parameter { client, name } => fetch_parameter(client, name).await,
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

async fn fetch_parameter(client: &aws_sdk_ssm::Client, name: &str) -> PortResult<PolicyDocument> {
    let out = client
        .get_parameter()
        .name(name)
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
