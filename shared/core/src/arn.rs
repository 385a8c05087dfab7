//! ARNs of the things Backup Relay touches. Any partition (`aws`, `aws-cn`, `aws-us-gov`, ...):
//! the partition is parsed and carried, never assumed.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ARN '{arn}': {reason}")]
pub struct ArnError {
    pub arn: String,
    pub reason: String,
}

fn arn_error(arn: &str, reason: impl Into<String>) -> ArnError {
    ArnError {
        arn: arn.to_string(),
        reason: reason.into(),
    }
}

/// The six colon-separated parts every ARN has; `resource` keeps any further colons.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ArnParts<'a> {
    partition: &'a str,
    service: &'a str,
    region: &'a str,
    account: &'a str,
    resource: &'a str,
}

fn split_arn(arn: &str) -> Result<ArnParts<'_>, ArnError> {
    let mut parts = arn.splitn(6, ':');
    let (Some(prefix), Some(partition), Some(service), Some(region), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(arn_error(
            arn,
            "expected arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE",
        ));
    };
    if prefix != "arn" {
        return Err(arn_error(arn, "does not start with 'arn:'"));
    }
    if !partition.starts_with("aws") || !is_name(partition) {
        return Err(arn_error(arn, format!("unknown partition '{partition}'")));
    }
    Ok(ArnParts {
        partition,
        service,
        region,
        account,
        resource,
    })
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Account ids are opaque digit strings: AWS's own samples use 13 digits.
pub fn is_account_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_digit())
}

/// DynamoDB's rule for table names: 3 to 255 of `a-z A-Z 0-9 _ - .`.
pub fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Exactly 12 digits, as AWS issues them. The policy holds its accounts to this; events do not
/// (see [`is_account_id`]).
pub fn is_issued_account_id(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

/// The partitions AWS Backup is in, each with the prefix of its Region names; `aws` has every
/// Region no other partition claims.
pub const PARTITIONS: [(&str, &str); 8] = [
    ("aws", ""),
    ("aws-cn", "cn-"),
    ("aws-us-gov", "us-gov-"),
    ("aws-iso", "us-iso-"),
    ("aws-iso-b", "us-isob-"),
    ("aws-iso-e", "eu-isoe-"),
    ("aws-iso-f", "us-isof-"),
    ("aws-eusc", "eusc-"),
];

pub fn is_known_partition(partition: &str) -> bool {
    PARTITIONS.iter().any(|(p, _)| *p == partition)
}

/// The partition a Region name belongs to, by its prefix.
pub fn partition_of_region(region: &str) -> &'static str {
    PARTITIONS
        .iter()
        .skip(1)
        .find(|(_, prefix)| region.starts_with(prefix))
        .map_or("aws", |(partition, _)| partition)
}

/// The shape of a Region name: words of lowercase letters, then a number, joined by '-'
/// (`us-east-1`, `ap-southeast-4`, `us-gov-west-1`, `eusc-de-east-1`). Syntactic only: a new
/// Region needs no release of Backup Relay.
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    let Some((number, words)) = parts.split_last() else {
        return false;
    };
    words.len() >= 2
        && words
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
        && (1..=2).contains(&number.len())
        && number.chars().all(|c| c.is_ascii_digit())
}

fn check_region(arn: &str, region: &str) -> Result<(), ArnError> {
    if is_name(region) {
        Ok(())
    } else {
        Err(arn_error(arn, format!("invalid Region '{region}'")))
    }
}

fn check_account(arn: &str, account: &str) -> Result<(), ArnError> {
    if is_account_id(account) {
        Ok(())
    } else {
        Err(arn_error(arn, format!("invalid account id '{account}'")))
    }
}

/// `^[a-zA-Z0-9\-\_]{2,50}$`, AWS Backup's rule for vault names.
pub fn is_vault_name(name: &str) -> bool {
    (2..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An AWS account in one Region: where an API call is made.
/// `ACCOUNT/REGION`: the key of an account and Region in the report's files and samples.
pub fn site_key(account: &str, region: &str) -> String {
    format!("{account}/{region}")
}

#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Location {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.account, self.region)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VaultArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub name: String,
}

impl VaultArn {
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let p = split_arn(arn)?;
        if p.service != "backup" {
            return Err(arn_error(arn, "not an AWS Backup ARN"));
        }
        check_region(arn, p.region)?;
        check_account(arn, p.account)?;
        let name = p
            .resource
            .strip_prefix("backup-vault:")
            .ok_or_else(|| arn_error(arn, "not a backup vault (expected 'backup-vault:NAME')"))?;
        if !is_vault_name(name) {
            return Err(arn_error(
                arn,
                format!("invalid vault name '{name}' (2-50 of a-z A-Z 0-9 - _)"),
            ));
        }
        Ok(Self {
            partition: p.partition.to_string(),
            region: p.region.to_string(),
            account: p.account.to_string(),
            name: name.to_string(),
        })
    }

    pub fn location(&self) -> Location {
        Location {
            partition: self.partition.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

impl serde::Serialize for VaultArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for VaultArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for VaultArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:backup:{}:{}:backup-vault:{}",
            self.partition, self.region, self.account, self.name
        )
    }
}

/// A recovery point: AWS Backup's own form, or a DynamoDB-native backup (which cannot be copied).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecoveryPointArn {
    Backup {
        partition: String,
        region: String,
        account: String,
        id: String,
    },
    DynamoDbNative {
        partition: String,
        region: String,
        account: String,
        table: String,
        backup: String,
    },
}

impl RecoveryPointArn {
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let p = split_arn(arn)?;
        check_region(arn, p.region)?;
        check_account(arn, p.account)?;
        match p.service {
            "backup" => {
                let id = p.resource.strip_prefix("recovery-point:").ok_or_else(|| {
                    arn_error(arn, "not a recovery point (expected 'recovery-point:ID')")
                })?;
                if id.is_empty() {
                    return Err(arn_error(arn, "empty recovery point id"));
                }
                Ok(Self::Backup {
                    partition: p.partition.to_string(),
                    region: p.region.to_string(),
                    account: p.account.to_string(),
                    id: id.to_string(),
                })
            }
            "dynamodb" => {
                let rest = p
                    .resource
                    .strip_prefix("table/")
                    .ok_or_else(|| arn_error(arn, "not a DynamoDB table backup"))?;
                let (table, backup) = rest.split_once("/backup/").ok_or_else(|| {
                    arn_error(arn, "not a DynamoDB backup (expected 'table/T/backup/B')")
                })?;
                if table.is_empty() || backup.is_empty() {
                    return Err(arn_error(arn, "empty table or backup name"));
                }
                Ok(Self::DynamoDbNative {
                    partition: p.partition.to_string(),
                    region: p.region.to_string(),
                    account: p.account.to_string(),
                    table: table.to_string(),
                    backup: backup.to_string(),
                })
            }
            other => Err(arn_error(
                arn,
                format!("service '{other}' has no recovery points here"),
            )),
        }
    }

    pub fn is_dynamodb_native(&self) -> bool {
        matches!(self, Self::DynamoDbNative { .. })
    }

    /// The partition, account and Region the recovery point lives in.
    pub fn location(&self) -> Location {
        let (Self::Backup {
            partition,
            region,
            account,
            ..
        }
        | Self::DynamoDbNative {
            partition,
            region,
            account,
            ..
        }) = self;
        Location {
            partition: partition.clone(),
            account: account.clone(),
            region: region.clone(),
        }
    }

    /// A continuous backup's recovery point: `recovery-point:continuous:...`. AWS Backup's API
    /// treats these apart (no copies, no UpdateRecoveryPointLifecycle), so callers must know.
    pub fn is_continuous(&self) -> bool {
        matches!(self, Self::Backup { id, .. } if id.starts_with("continuous:"))
    }
}

impl fmt::Display for RecoveryPointArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Backup {
                partition,
                region,
                account,
                id,
            } => write!(
                f,
                "arn:{partition}:backup:{region}:{account}:recovery-point:{id}"
            ),
            Self::DynamoDbNative {
                partition,
                region,
                account,
                table,
                backup,
            } => write!(
                f,
                "arn:{partition}:dynamodb:{region}:{account}:table/{table}/backup/{backup}"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TableArn {
    pub partition: String,
    pub region: String,
    pub account: String,
    pub table: String,
}

impl TableArn {
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let p = split_arn(arn)?;
        if p.service != "dynamodb" {
            return Err(arn_error(arn, "not a DynamoDB ARN"));
        }
        check_region(arn, p.region)?;
        check_account(arn, p.account)?;
        let table = p
            .resource
            .strip_prefix("table/")
            .filter(|t| !t.is_empty() && !t.contains('/'))
            .ok_or_else(|| arn_error(arn, "not a DynamoDB table (expected 'table/NAME')"))?;
        Ok(Self {
            partition: p.partition.to_string(),
            region: p.region.to_string(),
            account: p.account.to_string(),
            table: table.to_string(),
        })
    }

    pub fn location(&self) -> Location {
        Location {
            partition: self.partition.clone(),
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }

    /// Is `arn` this table's ARN as written? Without formatting one (the simulator asks this of
    /// every point it lists).
    pub fn is(&self, arn: &str) -> bool {
        let rest = arn
            .strip_prefix("arn:")
            .and_then(|r| r.strip_prefix(self.partition.as_str()))
            .and_then(|r| r.strip_prefix(":dynamodb:"))
            .and_then(|r| r.strip_prefix(self.region.as_str()))
            .and_then(|r| r.strip_prefix(':'))
            .and_then(|r| r.strip_prefix(self.account.as_str()))
            .and_then(|r| r.strip_prefix(":table/"));
        rest == Some(self.table.as_str())
    }
}

impl fmt::Display for TableArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:dynamodb:{}:{}:table/{}",
            self.partition, self.region, self.account, self.table
        )
    }
}

/// An IAM role. IAM is global: the Region part is empty.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoleArn {
    pub partition: String,
    pub account: String,
    /// Path and name, e.g. `service-role/backup-relay-copy`.
    pub name: String,
}

impl RoleArn {
    pub fn parse(arn: &str) -> Result<Self, ArnError> {
        let p = split_arn(arn)?;
        if p.service != "iam" {
            return Err(arn_error(arn, "not an IAM ARN"));
        }
        if !p.region.is_empty() {
            return Err(arn_error(arn, "IAM ARNs have no Region"));
        }
        check_account(arn, p.account)?;
        let name = p
            .resource
            .strip_prefix("role/")
            .filter(|n| !n.is_empty() && !n.ends_with('/'))
            .ok_or_else(|| arn_error(arn, "not an IAM role (expected 'role/NAME')"))?;
        Ok(Self {
            partition: p.partition.to_string(),
            account: p.account.to_string(),
            name: name.to_string(),
        })
    }
}

impl fmt::Display for RoleArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "arn:{}:iam::{}:role/{}",
            self.partition, self.account, self.name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_arn_round_trips_in_every_partition() {
        for arn in [
            "arn:aws:backup:us-east-1:111111111111:backup-vault:primary",
            "arn:aws-cn:backup:cn-north-1:111111111111:backup-vault:my_vault-1",
            "arn:aws-us-gov:backup:us-gov-west-1:111111111111:backup-vault:gov",
        ] {
            let v = VaultArn::parse(arn).unwrap();
            assert_eq!(v.to_string(), arn);
        }
    }

    #[test]
    fn a_table_is_its_written_arn_and_no_other() {
        let arn = "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders";
        let t = TableArn::parse(arn).unwrap();
        assert!(t.is(arn));
        assert!(t.is(&t.to_string()));
        for other in [
            "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders2",
            "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/order",
            "arn:aws:dynamodb:cn-north-1:111111111111:table/orders",
            "arn:aws-cn:dynamodb:cn-north-11:111111111111:table/orders",
            "arn:aws-cn:dynamodb:cn-north-1:211111111111:table/orders",
            "arn:aws-cn:backup:cn-north-1:111111111111:table/orders",
            "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders/stream/x",
            "",
        ] {
            assert!(!t.is(other), "{other}");
        }
    }

    #[test]
    fn vault_arn_rejects_bad_names_and_shapes() {
        for arn in [
            "arn:aws:backup:us-east-1:111111111111:backup-vault:x",
            "arn:aws:backup:us-east-1:111111111111:backup-vault:has space",
            "arn:aws:backup:us-east-1:111111111111:recovery-point:abc",
            "arn:aws:s3:::bucket",
            "arn:aws:backup:us-east-1:12ab:backup-vault:primary",
            "not-an-arn",
            "arn:gcp:backup:us-east-1:111111111111:backup-vault:primary",
        ] {
            assert!(VaultArn::parse(arn).is_err(), "{arn} should be rejected");
        }
    }

    #[test]
    fn recovery_points_in_both_forms() {
        let rp = RecoveryPointArn::parse(
            "arn:aws:backup:us-east-1:111111111111:recovery-point:1a2b3c4d-aaaa-bbbb",
        )
        .unwrap();
        assert!(!rp.is_dynamodb_native());
        let native = RecoveryPointArn::parse(
            "arn:aws:dynamodb:us-east-1:111111111111:table/orders/backup/01595000000000-abcdef12",
        )
        .unwrap();
        assert!(native.is_dynamodb_native());
        assert_eq!(
            native.to_string(),
            "arn:aws:dynamodb:us-east-1:111111111111:table/orders/backup/01595000000000-abcdef12"
        );
        assert!(
            RecoveryPointArn::parse("arn:aws:dynamodb:us-east-1:111111111111:table/orders")
                .is_err()
        );
    }

    #[test]
    fn continuous_recovery_points_are_told_apart() {
        let rp = RecoveryPointArn::parse(
            "arn:aws:backup:us-east-1:111111111111:recovery-point:continuous:db-abcdefg-1a2b3c4d",
        )
        .unwrap();
        assert!(rp.is_continuous());
        assert!(!rp.is_dynamodb_native());
        for not_continuous in [
            "arn:aws:backup:us-east-1:111111111111:recovery-point:1a2b3c4d-aaaa-bbbb",
            "arn:aws:backup:us-east-1:111111111111:recovery-point:continuous",
            "arn:aws:dynamodb:us-east-1:111111111111:table/continuous:x/backup/b",
        ] {
            let rp = RecoveryPointArn::parse(not_continuous).unwrap();
            assert!(!rp.is_continuous(), "{not_continuous}");
        }
    }

    #[test]
    fn odd_account_ids_are_accepted_as_digit_strings() {
        let rp = RecoveryPointArn::parse("arn:aws:backup:us-east-1:1112233445566:recovery-point:x")
            .unwrap();
        assert!(
            matches!(rp, RecoveryPointArn::Backup { ref account, .. } if account == "1112233445566")
        );
    }

    #[test]
    fn regions_and_partitions() {
        for (region, partition) in [
            ("us-east-1", "aws"),
            ("ap-southeast-4", "aws"),
            ("eu-central-2", "aws"),
            ("cn-northwest-1", "aws-cn"),
            ("us-gov-west-1", "aws-us-gov"),
            ("us-iso-east-1", "aws-iso"),
            ("us-isob-east-1", "aws-iso-b"),
            ("eusc-de-east-1", "aws-eusc"),
        ] {
            assert!(is_region_name(region), "{region}");
            assert_eq!(partition_of_region(region), partition, "{region}");
        }
        for bad in [
            "",
            "us",
            "us-east",
            "us-east-",
            "useast1",
            "us-east-123",
            "US-east-1",
            "us--1",
            "-east-1",
            "us-east-1a",
        ] {
            assert!(!is_region_name(bad), "{bad:?}");
        }
        assert!(is_known_partition("aws-us-gov"));
        assert!(!is_known_partition("aws-mars"));
        assert!(is_issued_account_id("111111111111"));
        assert!(!is_issued_account_id("1112233445566"));
        assert!(!is_issued_account_id("11111111111a"));
    }

    #[test]
    fn tables_and_roles() {
        let t =
            TableArn::parse("arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders").unwrap();
        assert_eq!(t.table, "orders");
        assert_eq!(
            t.to_string(),
            "arn:aws-cn:dynamodb:cn-north-1:111111111111:table/orders"
        );
        let r = RoleArn::parse("arn:aws:iam::111111111111:role/service-role/backup-relay-copy")
            .unwrap();
        assert_eq!(r.name, "service-role/backup-relay-copy");
        assert_eq!(
            r.to_string(),
            "arn:aws:iam::111111111111:role/service-role/backup-relay-copy"
        );
        assert!(RoleArn::parse("arn:aws:iam:us-east-1:111111111111:role/x").is_err());
        assert!(RoleArn::parse("arn:aws:iam::111111111111:user/x").is_err());
    }
}
