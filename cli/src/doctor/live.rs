//! The doctor's reads over live AWS: IAM, KMS, AWS Backup, Organizations and EventBridge, each in
//! the account and Region it is about (the executor role in member accounts). Only the command
//! line links these SDKs; the functions never need them.

use relay_aws::errors::{classify, in_account};
use relay_aws::{AwsPorts, Sessions};
use relay_compliance::inventory::PlanFacts;
use relay_compliance::InventoryPort;
use relay_core::arn::{Location, VaultArn};
use relay_core::ports::{ErrorKind, PortResult};
use relay_core::retention::VaultLock;
use relay_doctor::{
    admission_of, Admission, DoctorPort, Forwarding, KeyFacts, RoleFacts, VaultState,
    COPY_INTO_VAULT, KMS_COPY_ACTIONS,
};
use serde_json::Value;

pub(crate) struct AwsDoctor {
    pub ports: AwsPorts,
    /// The hub's event bus: a forwarding rule must target it (`None`: any bus or function).
    pub hub_bus: Option<String>,
}

impl AwsDoctor {
    fn sessions(&self) -> &Sessions {
        &self.ports.sessions
    }

    async fn config(&self, at: &Location) -> aws_config::SdkConfig {
        self.sessions().config_for(at).await
    }
}

/// A client of `$sdk` in the account and Region `$at`, retrying on its own partition: the doctor
/// checks many accounts at once, and one that throttles must not spend the others' retries.
macro_rules! client_in {
    ($sdk:ident, $doctor:expr, $at:expr) => {{
        let at: &Location = $at;
        let config = $doctor.config(at).await;
        let service = stringify!($sdk).trim_start_matches("aws_sdk_");
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&config)
                .retry_partition(relay_aws::sessions::partition(service, at))
                .build(),
        )
    }};
}

/// The role's name (with its path) from its ARN.
fn role_name(role_arn: &str) -> &str {
    role_arn.rsplit('/').next().unwrap_or(role_arn)
}

/// Does this trust policy (IAM returns it URL-encoded) let AWS Backup assume the role?
pub(crate) fn trusts_backup(document: &str) -> bool {
    let decoded = percent_encoding::percent_decode_str(document).decode_utf8_lossy();
    let Ok(doc) = serde_json::from_str::<Value>(&decoded) else {
        return false;
    };
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return false,
    };
    statements.iter().any(|s| {
        let allows = s.get("Effect").and_then(Value::as_str) == Some("Allow");
        let assume = strings(s.get("Action"))
            .iter()
            .any(|a| a.eq_ignore_ascii_case("sts:AssumeRole") || a == "sts:*" || a == "*");
        let service = s
            .get("Principal")
            .and_then(|p| p.get("Service"))
            .is_some_and(|v| strings(Some(v)).iter().any(|x| x == "backup.amazonaws.com"));
        allows && assume && service
    })
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}

/// The detail-types the functions act on: a forwarding rule must let every one through.
const NEEDED_DETAIL_TYPES: [&str; 3] = [
    "Backup Job State Change",
    "Copy Job State Change",
    "Recovery Point State Change",
];

/// Does this EventBridge pattern take `aws.backup` events (its `source`, exactly or by prefix)?
pub(crate) fn takes_backup_events(pattern: &str) -> bool {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    let Some(Value::Array(sources)) = doc.get("source") else {
        return false;
    };
    sources.iter().any(|s| match s {
        Value::String(s) => s == "aws.backup",
        Value::Object(m) => m
            .get("prefix")
            .and_then(Value::as_str)
            .is_some_and(|p| "aws.backup".starts_with(p)),
        _ => false,
    })
}

/// Does a forwarding pattern pass on every event the functions need: `detail-type`, if any,
/// lists every needed one, and nothing else is filtered (a `detail` filter would drop states the
/// router acts on)? The hub's own rules are narrowed on purpose and are not held to this.
pub(crate) fn forwards_all_needed(pattern: &str) -> bool {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(pattern) else {
        return false;
    };
    let types_ok = match doc.get("detail-type") {
        None => true,
        Some(Value::Array(types)) => NEEDED_DETAIL_TYPES
            .iter()
            .all(|t| types.iter().any(|x| x.as_str() == Some(*t))),
        Some(_) => false,
    };
    let only_known = doc
        .keys()
        .all(|k| ["source", "detail-type", "account", "region"].contains(&k.as_str()));
    takes_backup_events(pattern) && types_ok && only_known
}

impl DoctorPort for AwsDoctor {
    async fn backup_plans(&self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        InventoryPort::backup_plans(&self.ports, at).await
    }

    async fn reach(&self, at: &Location) -> PortResult<()> {
        if self.sessions().role_for(at).is_none() {
            return Ok(());
        }
        let sts = client_in!(aws_sdk_sts, self, at);
        sts.get_caller_identity()
            .send()
            .await
            .map(|_| ())
            .map_err(|e| in_account(&at.account, classify("AssumeRole", &e)))
    }

    async fn role(&self, at: &Location, role_arn: &str) -> PortResult<Option<RoleFacts>> {
        let iam = client_in!(aws_sdk_iam, self, at);
        match iam.get_role().role_name(role_name(role_arn)).send().await {
            // Looked up by name: a role of that name under another path is not this role.
            Ok(out) if out.role().is_some_and(|r| r.arn() != role_arn) => Ok(None),
            Ok(out) => Ok(Some(RoleFacts {
                trusts_backup: out
                    .role()
                    .and_then(|r| r.assume_role_policy_document())
                    .is_some_and(trusts_backup),
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(in_account(&at.account, classify("GetRole", &e))),
        }
    }

    async fn vault_state(&self, vault: &VaultArn) -> PortResult<Option<VaultState>> {
        let at = vault.location();
        let backup = self.sessions().backup(&at).await;
        let sent = backup
            .describe_backup_vault()
            .backup_vault_name(&vault.name)
            .send()
            .await;
        match sent {
            Ok(v) => Ok(Some(VaultState {
                lock: v.locked().unwrap_or(false).then(|| VaultLock {
                    min_retention_days: v.min_retention_days().and_then(|d| u32::try_from(d).ok()),
                    max_retention_days: v.max_retention_days().and_then(|d| u32::try_from(d).ok()),
                }),
                encryption_key_arn: v.encryption_key_arn().map(str::to_string),
            })),
            Err(e) => {
                let e = in_account(&at.account, classify("DescribeBackupVault", &e));
                match e.kind {
                    ErrorKind::NotFound => Ok(None),
                    _ => Err(e),
                }
            }
        }
    }

    async fn vault_admission(&self, vault: &VaultArn) -> PortResult<Admission> {
        let at = vault.location();
        let backup = self.sessions().backup(&at).await;
        let sent = backup
            .get_backup_vault_access_policy()
            .backup_vault_name(&vault.name)
            .send()
            .await;
        match sent {
            Ok(out) => Ok(out
                .policy()
                .map(|p| admission_of(p, COPY_INTO_VAULT))
                .unwrap_or_default()),
            Err(e) => {
                let e = in_account(&at.account, classify("GetBackupVaultAccessPolicy", &e));
                match e.kind {
                    // No access policy: only the vault's own account may copy in.
                    ErrorKind::NotFound => Ok(Admission::default()),
                    _ => Err(e),
                }
            }
        }
    }

    async fn key(&self, at: &Location, key_arn: &str) -> PortResult<KeyFacts> {
        // The key's own Region, which its ARN names.
        let region = key_arn.split(':').nth(3).unwrap_or(&at.region).to_string();
        let here = Location {
            region,
            ..at.clone()
        };
        let kms = client_in!(aws_sdk_kms, self, &here);
        let described = kms
            .describe_key()
            .key_id(key_arn)
            .send()
            .await
            .map_err(|e| in_account(&at.account, classify("DescribeKey", &e)))?;
        let manager = described.key_metadata().and_then(|m| m.key_manager());
        if manager == Some(&aws_sdk_kms::types::KeyManagerType::Aws) {
            return Ok(KeyFacts::AwsManaged);
        }
        let policy = kms
            .get_key_policy()
            .key_id(key_arn)
            .policy_name("default")
            .send()
            .await
            .map_err(|e| in_account(&at.account, classify("GetKeyPolicy", &e)))?;
        Ok(KeyFacts::Customer(
            policy
                .policy()
                .map(|p| admission_of(p, KMS_COPY_ACTIONS))
                .unwrap_or_default(),
        ))
    }

    async fn advanced_features(&self, at: &Location) -> PortResult<Option<bool>> {
        InventoryPort::advanced_features(&self.ports, at).await
    }

    async fn cross_account_backup(&self) -> PortResult<Option<bool>> {
        let backup = aws_sdk_backup::Client::new(self.sessions().base());
        match backup.describe_global_settings().send().await {
            Ok(out) => Ok(out
                .global_settings()
                .and_then(|s| s.get("isCrossAccountBackupEnabled"))
                .map(|v| v.eq_ignore_ascii_case("true"))),
            Err(e) => {
                let e = classify("DescribeGlobalSettings", &e);
                match e.kind {
                    // Only the management account may read it: not known here.
                    ErrorKind::AccessDenied | ErrorKind::Permanent => Ok(None),
                    _ => Err(e),
                }
            }
        }
    }

    async fn organization_of(&self, at: &Location) -> PortResult<Option<String>> {
        let orgs = client_in!(aws_sdk_organizations, self, at);
        match orgs.describe_organization().send().await {
            Ok(out) => Ok(out.organization().and_then(|o| o.id()).map(str::to_string)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_aws_organizations_not_in_use_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(in_account(
                &at.account,
                classify("DescribeOrganization", &e),
            )),
        }
    }

    async fn forwards_backup_events(&self, at: &Location) -> PortResult<Forwarding> {
        let events = client_in!(aws_sdk_eventbridge, self, at);
        let mut token: Option<String> = None;
        let mut other_bus: Option<String> = None;
        loop {
            let page = events
                .list_rules()
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| in_account(&at.account, classify("ListRules", &e)))?;
            for rule in page.rules() {
                let enabled = rule.state() == Some(&aws_sdk_eventbridge::types::RuleState::Enabled);
                let pattern = rule.event_pattern().unwrap_or_default();
                if !enabled || !takes_backup_events(pattern) {
                    continue;
                }
                let complete = forwards_all_needed(pattern);
                let Some(name) = rule.name() else { continue };
                let targets = events
                    .list_targets_by_rule()
                    .rule(name)
                    .send()
                    .await
                    .map_err(|e| in_account(&at.account, classify("ListTargetsByRule", &e)))?;
                for target in targets.targets() {
                    match self.target_kind(at, target.arn()) {
                        Target::HomeFunction => return Ok(Forwarding::ToHub),
                        Target::HubBus if complete => return Ok(Forwarding::ToHub),
                        Target::SomeBus if complete => other_bus = Some(target.arn().to_string()),
                        _ => {}
                    }
                }
            }
            match page.next_token() {
                Some(t) => token = Some(t.to_string()),
                None => return Ok(other_bus.map_or(Forwarding::Nowhere, Forwarding::ToBus)),
            }
        }
    }
}

enum Target {
    /// In the hub's own account and Region: the hub template's rules invoke its functions.
    HomeFunction,
    HubBus,
    SomeBus,
    Other,
}

impl AwsDoctor {
    /// The hub's bus (when named), a bus that may be it, or, in the hub's own account, a
    /// function of that account and Region (the hub template's rule invokes the copy router).
    fn target_kind(&self, at: &Location, target: &str) -> Target {
        let parts: Vec<&str> = target.split(':').collect();
        let here =
            parts.get(3) == Some(&at.region.as_str()) && parts.get(4) == Some(&at.account.as_str());
        let home_function =
            self.sessions().role_for(at).is_none() && here && parts.get(5) == Some(&"function");
        match &self.hub_bus {
            _ if home_function => Target::HomeFunction,
            Some(bus) if target == bus => Target::HubBus,
            None if target.contains(":event-bus/") => Target::SomeBus,
            _ => Target::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trust_policy_for_aws_backup() {
        let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["backup.amazonaws.com"]},"Action":"sts:AssumeRole"}]}"#;
        assert!(trusts_backup(doc));
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Principal%22%3A%7B%22Service%22%3A%22backup.amazonaws.com%22%7D%2C%22Action%22%3A%22sts%3AAssumeRole%22%7D%5D%7D";
        assert!(trusts_backup(encoded));
        let lambda = doc.replace("backup.amazonaws.com", "lambda.amazonaws.com");
        assert!(!trusts_backup(&lambda));
        assert!(!trusts_backup("not json"));
    }

    #[test]
    fn patterns_that_take_backup_events() {
        let matches_backup_events = forwards_all_needed;
        assert!(takes_backup_events(
            r#"{"source": ["aws.backup"], "$or": [{"detail-type": ["Copy Job State Change"]}]}"#
        ));
        assert!(matches_backup_events(r#"{"source": ["aws.backup"]}"#));
        assert!(matches_backup_events(r#"{"source": [{"prefix": "aws."}]}"#));
        assert!(matches_backup_events(
            r#"{"source": ["aws.backup"], "detail-type": ["Backup Job State Change",
                "Copy Job State Change", "Recovery Point State Change", "Restore Job State Change"]}"#
        ));
        assert!(!matches_backup_events(r#"{"source": ["aws.s3"]}"#));
        assert!(!matches_backup_events(r#"{"detail-type": ["x"]}"#));
        // Narrowed: the router would miss what it acts on.
        assert!(!matches_backup_events(
            r#"{"source": ["aws.backup"], "detail-type": ["Copy Job State Change"]}"#
        ));
        assert!(!matches_backup_events(
            r#"{"source": ["aws.backup"], "detail": {"state": ["FAILED"]}}"#
        ));
        assert!(!matches_backup_events("[]"));
    }

    /// Each account and Region the doctor checks retries on its own partition, whatever the
    /// service.
    #[tokio::test]
    async fn each_account_and_region_retries_on_its_own() {
        struct Base;
        impl Base {
            async fn config(&self, _: &Location) -> aws_config::SdkConfig {
                aws_config::SdkConfig::builder()
                    .behavior_version(aws_config::BehaviorVersion::latest())
                    .build()
            }
        }
        let at = |account: &str| Location {
            partition: "aws".into(),
            account: account.into(),
            region: "eu-west-1".into(),
        };
        let (a, b) = (at("111111111111"), at("222222222222"));
        let iam = [
            client_in!(aws_sdk_iam, Base, &a),
            client_in!(aws_sdk_iam, Base, &b),
        ];
        let names = iam.map(|c| c.config().retry_partition().map(|p| p.to_string()));
        assert_eq!(names[0].as_deref(), Some("iam-111111111111-eu-west-1"));
        assert_ne!(names[0], names[1]);
        let kms = client_in!(aws_sdk_kms, Base, &a);
        let name = kms.config().retry_partition().map(|p| p.to_string());
        assert_eq!(name.as_deref(), Some("kms-111111111111-eu-west-1"));
    }
}
