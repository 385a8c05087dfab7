//! `relay report --live` end to end: the real binary, the real SDK adapters, against a moto server
//! standing in for one account's AWS (single-account use: no role to assume). moto has no Region
//! settings and no recovery point listings, so the report must name those as gaps, not guess.

use std::process::Command;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, Tag,
};
use relay_tests::{MotoServer, MOTO_ACCOUNT};

const RELAY: &str = env!("CARGO_BIN_EXE_relay");

async fn table(client: &aws_sdk_dynamodb::Client, name: &str, key: &str, tags: Vec<Tag>) {
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(key)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(key)
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
}

/// A one-vault policy in moto's account.
fn write_policy(path: &std::path::Path) {
    std::fs::write(
        path,
        format!(
            "version: 1\ncopy_role: \"arn:aws:iam::{{account}}:role/copy\"\nvaults:\n  primary: {{ arn: \"arn:aws:backup:us-east-1:{MOTO_ACCOUNT}:backup-vault:primary\" }}\nroutes: []\n"
        ),
    )
    .unwrap();
}

/// The command run against moto with test credentials, nothing from the caller's profile.
fn against(moto: &MotoServer, command: &mut Command) -> std::process::Output {
    command
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .output()
        .unwrap()
}

#[tokio::test]
async fn a_live_report_reads_the_account_through_the_sdk_and_names_what_it_could_not_read() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    table(&dynamodb, "relay-ledger", "pk", Vec::new()).await;
    let gold = Tag::builder()
        .key("backup-tier")
        .value("gold")
        .build()
        .unwrap();
    table(&dynamodb, "orders", "id", vec![gold]).await;
    aws_sdk_backup::Client::new(&config)
        .create_backup_vault()
        .backup_vault_name("primary")
        .send()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("relay-live-{}", std::process::id()));
    let policy = dir.with_extension("policy.yaml");
    write_policy(&policy);
    let o = against(
        &moto,
        Command::new(RELAY)
            .args([
                "report",
                "--live",
                "--ledger-table",
                "relay-ledger",
                "--out",
            ])
            .arg(&dir)
            .arg("--policy")
            .arg(&policy),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let names: Vec<&str> = report["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["orders", "relay-ledger"],
        "every table of the account"
    );
    let gaps: Vec<String> = report["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["what"].as_str().unwrap().to_string())
        .collect();
    assert!(gaps.iter().any(|g| g == "region settings"), "{gaps:?}");
    assert!(
        stdout.contains("Not inventoried: region settings in 123456789012/us-east-1"),
        "{stdout}"
    );
    // What could be read is evaluated: the tag was read, no plan selects the table.
    let orders = &report["resources"][0]["controls"];
    let plan = orders
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "BACKUP_RESOURCES_PROTECTED_BY_BACKUP_PLAN")
        .unwrap();
    assert_eq!(plan["status"], "NON_COMPLIANT");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_live_restore_lists_the_vaults_through_the_sdk_and_stops_clearly_when_aws_refuses() {
    // moto has no ListRecoveryPointsByBackupVault: the listing is refused, and the restore stops
    // there with AWS's answer (exit 1, nothing on stdout), before anything is started.
    live_restore_refused().await;
}

async fn live_restore_refused() {
    let moto = MotoServer::start().unwrap();
    let config = moto.sdk_config().await;
    aws_sdk_backup::Client::new(&config)
        .create_backup_vault()
        .backup_vault_name("primary")
        .send()
        .await
        .unwrap();
    let policy =
        std::env::temp_dir().join(format!("relay-live-restore-{}.yaml", std::process::id()));
    write_policy(&policy);
    let o = against(
        &moto,
        Command::new(RELAY)
            .args([
                "restore",
                "--live",
                "--dry-run",
                "--target-table",
                "orders-restored",
                "--table",
            ])
            .arg(format!(
                "arn:aws:dynamodb:us-east-1:{MOTO_ACCOUNT}:table/orders"
            ))
            .arg("--policy")
            .arg(&policy),
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("relay: AWS refused: ListRecoveryPointsByBackupVault failed"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&policy);
}
