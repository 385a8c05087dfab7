//! `relay doctor --live` end to end: the real binary and SDK adapters against a moto server that
//! stands in for two accounts (the hub's, and a member reached by AssumeRole of the executor
//! role). moto implements IAM roles and trust, KMS keys and key policies, vaults and locks,
//! EventBridge rules and Organizations; it has no vault access policies, Region settings or
//! global settings, and the doctor must say "not checked" for those, never pass them.

use std::process::{Command, Output};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use relay_tests::{MotoServer, MOTO_ACCOUNT};
use serde_json::Value;

const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const MEMBER: &str = "222222222222";
const HUB_BUS: &str = "arn:aws:events:us-east-1:123456789012:event-bus/backup-relay-hub";

fn policy() -> String {
    format!(
        "version: 1\n\
         copy_role: \"arn:aws:iam::{{account}}:role/backup-relay-copy\"\n\
         vaults:\n  \
           primary: {{ arn: \"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:primary\" }}\n  \
           bunker: {{ arn: \"arn:aws:backup:us-west-2:{MEMBER}:backup-vault:bunker\", retention: never_expire }}\n\
         routes:\n  - {{ from: primary, to: bunker }}\n"
    )
}

/// The member account as the executor role sees it (moto ties assumed-role credentials to the
/// role's account).
async fn member_config(home: &SdkConfig, region: &str) -> SdkConfig {
    let out = aws_sdk_sts::Client::new(home)
        .assume_role()
        .role_arn(format!("arn:aws:iam::{MEMBER}:role/backup-relay-executor"))
        .role_session_name("test-setup")
        .send()
        .await
        .unwrap();
    let c = out.credentials().unwrap();
    let creds = Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        None,
        "moto",
    );
    home.to_builder()
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .region(aws_config::Region::new(region.to_string()))
        .build()
}

async fn home_account(home: &SdkConfig) {
    let org = aws_sdk_organizations::Client::new(home)
        .create_organization()
        .feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All)
        .send()
        .await
        .unwrap();
    let org_id = org.organization().unwrap().id().unwrap().to_string();
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"backup.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    aws_sdk_iam::Client::new(home)
        .create_role()
        .role_name("backup-relay-copy")
        .assume_role_policy_document(trust)
        .send()
        .await
        .unwrap();
    // The organisation may use the key through AWS Backup, and the member account by name too
    // (moto's member account is not in the organisation: see organization_member below).
    let key_policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Sid":"Owner","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{MOTO_ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
          {{"Sid":"Copies","Effect":"Allow","Principal":"*","Action":["kms:CreateGrant","kms:Decrypt"],"Resource":"*",
            "Condition":{{"StringEquals":{{"aws:PrincipalOrgID":"{org_id}"}}}}}},
          {{"Sid":"Member","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{MEMBER}:root"}},"Action":["kms:CreateGrant","kms:Decrypt"],"Resource":"*"}}]}}"#
    );
    let key = aws_sdk_kms::Client::new(home)
        .create_key()
        .policy(key_policy)
        .send()
        .await
        .unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    aws_sdk_backup::Client::new(home)
        .create_backup_vault()
        .backup_vault_name("primary")
        .encryption_key_arn(key_arn)
        .send()
        .await
        .unwrap();
    let events = aws_sdk_eventbridge::Client::new(home);
    events
        .put_rule()
        .name("backup-relay-forward")
        .event_pattern(r#"{"source": ["aws.backup"]}"#)
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("backup-relay-forward")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("hub")
                .arn(HUB_BUS)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
}

async fn member_account(home: &SdkConfig) {
    let member = member_config(home, "us-west-2").await;
    let backup = aws_sdk_backup::Client::new(&member);
    backup
        .create_backup_vault()
        .backup_vault_name("bunker")
        .send()
        .await
        .unwrap();
    backup
        .put_backup_vault_lock_configuration()
        .backup_vault_name("bunker")
        .min_retention_days(1)
        .max_retention_days(3650)
        .send()
        .await
        .unwrap();
}

fn doctor(moto: &MotoServer, policy_path: &std::path::Path, hub_bus: &str) -> (Output, Value) {
    let mut command = Command::new(RELAY);
    command
        .args(["doctor", "--live", "--json", "--policy"])
        .arg(policy_path);
    if !hub_bus.is_empty() {
        command.args(["--hub-bus", hub_bus]);
    }
    let out = command
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, json)
}

fn status_of(report: &Value, id: &str, subject_part: &str) -> String {
    let found: Vec<&Value> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["id"] == id)
        .filter(|c| {
            c["subject"].as_str().unwrap().contains(subject_part)
                || c["account"].as_str().unwrap() == subject_part
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{id} {subject_part}: {found:?} in {report:#}"
    );
    format!(
        "{} {}",
        found[0]["status"].as_str().unwrap(),
        found[0]["message"].as_str().unwrap()
    )
}

#[tokio::test]
async fn live_checks_read_roles_keys_vaults_locks_rules_and_organizations_through_the_sdk() {
    let moto = MotoServer::start().unwrap();
    let home = moto.sdk_config().await;
    home_account(&home).await;
    member_account(&home).await;
    let dir = std::env::temp_dir().join(format!("relay-doctor-live-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy_path = dir.join("policy.yaml");
    std::fs::write(&policy_path, policy()).unwrap();

    let (out, report) = doctor(&moto, &policy_path, HUB_BUS);
    let expect = [
        ("executor_role", MEMBER, "pass"),
        ("copy_role", "backup-relay-copy", "pass"),
        ("vault_exists", "primary", "pass"),
        ("vault_exists", "bunker", "pass"),
        ("vault_not_default", "bunker", "pass"),
        // moto answers GetBackupVaultAccessPolicy, DescribeRegionSettings and
        // DescribeGlobalSettings with a bare 404: not checked, never passed.
        ("vault_access_policy", "bunker", "warn not checked"),
        ("kms_key_shared", "primary", "pass"),
        // A 3650-day lock under a never_expire vault: copies would be clamped.
        (
            "vault_lock_bounds",
            "bunker",
            "warn the lock allows 1 to 3650 days",
        ),
        ("advanced_features", "primary", "warn not checked"),
        ("cross_account_backup", "organization", "warn not checked"),
        ("organization_member", MOTO_ACCOUNT, "pass a member of o-"),
        (
            "organization_member",
            MEMBER,
            "fail not a member of any organisation",
        ),
        ("event_forwarding", "primary", "pass"),
    ];
    for (id, subject, status) in expect {
        let got = status_of(&report, id, subject);
        assert!(got.starts_with(status), "{id} {subject}: {got}");
    }
    assert_eq!(out.status.code(), Some(1), "organization_member failed");
    // bunker's Region forwards nothing (moto holds no rule there): where copies land counts too.
    assert!(status_of(&report, "event_forwarding", "bunker").starts_with("fail"));
    // Without --hub-bus a rule to some bus cannot be told from one to the hub's.
    let (_, unnamed) = doctor(&moto, &policy_path, "");
    let unnamed_status = status_of(&unnamed, "event_forwarding", "primary");
    assert!(unnamed_status.starts_with("warn"), "{unnamed_status}");

    // A forwarding rule to some other bus is not forwarding to the hub; a copy role AWS Backup
    // may not assume is no copy role.
    let iam = aws_sdk_iam::Client::new(&home);
    iam.update_assume_role_policy()
        .role_name("backup-relay-copy")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#)
        .send()
        .await
        .unwrap();
    let (_, report) = doctor(
        &moto,
        &policy_path,
        "arn:aws:events:us-east-1:123456789012:event-bus/elsewhere",
    );
    assert!(status_of(&report, "event_forwarding", "primary").starts_with("fail"));
    assert!(status_of(&report, "copy_role", "backup-relay-copy")
        .starts_with("fail does not trust backup.amazonaws.com"));
    iam.delete_role()
        .role_name("backup-relay-copy")
        .send()
        .await
        .unwrap();
    let (_, report) = doctor(&moto, &policy_path, HUB_BUS);
    assert!(status_of(&report, "copy_role", "backup-relay-copy").starts_with("fail does not exist"));
    std::fs::remove_dir_all(&dir).ok();
}
