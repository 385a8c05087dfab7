//! `relay emulate` over HTTP, spoken to by the functions' own SDK adapters (`relay_aws`): real
//! requests and real responses for every Backup operation the functions use, pagination, AWS's
//! error shapes, accounts by access key and by the emulator's AssumeRole, and a clock that
//! finishes copy jobs.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::Utc;
use relay_aws::{AwsPorts, DynamoLedger, SessionConfig, Sessions, SnsAlerts};
use relay_core::arn::{Location, VaultArn};
use relay_core::ledger::Original;
use relay_core::plan::StartCopyJob;
use relay_core::ports::{BackupPort, ErrorKind, ListQuery, RestorePort};
use relay_core::retention::Lifecycle;

const RELAY: &str = env!("CARGO_BIN_EXE_relay");
const HOME: &str = "111111111111";

/// The emulator as a child process, stopped by its own pid when the test ends.
struct Emulator {
    child: Child,
    endpoint: String,
}

impl Emulator {
    fn start(speed: u32) -> Self {
        let mut child = Command::new(RELAY)
            .args(["emulate", "--port", "0", "--days", "1", "--seed", "7"])
            .args(["--speed", &speed.to_string(), "--faults", "none"])
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|s| s.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Self {
            child,
            endpoint: format!("http://{address}"),
        }
    }

    /// The functions' ports against the emulator: the home account by its 12-digit key, other
    /// accounts through the emulator's AssumeRole of the executor role.
    async fn ports(&self) -> AwsPorts {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                HOME, "emulated", None, None, "test",
            ))
            .load()
            .await;
        AwsPorts {
            ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&config), "unused"),
            alerts: SnsAlerts::new(aws_sdk_sns::Client::new(&config), "unused"),
            sessions: Sessions::new(
                config,
                SessionConfig {
                    home_account: Some(HOME.into()),
                    executor_role_name: Some("backup-relay-executor".into()),
                },
            ),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn vault(account: &str, region: &str, name: &str) -> VaultArn {
    VaultArn::parse(&format!(
        "arn:aws:backup:{region}:{account}:backup-vault:{name}"
    ))
    .unwrap()
}

fn query(page_size: u32, page_token: Option<String>) -> ListQuery {
    ListQuery {
        created_after: None,
        created_before: None,
        resource_arn: None,
        page_token,
        page_size,
    }
}

#[tokio::test]
async fn the_sdk_adapters_list_describe_copy_and_lengthen_through_the_emulator() {
    let emulator = Emulator::start(3600);
    let ports = emulator.ports().await;
    let primary = vault(HOME, "us-east-1", "primary");

    // Pagination: two at a time gives what one page of 1000 gives, in the same order.
    let all = ports
        .list_recovery_points(&primary, &query(1000, None))
        .await
        .unwrap();
    assert!(
        all.items.len() >= 3,
        "a day of backups: {}",
        all.items.len()
    );
    assert_eq!(all.next_token, None);
    let (mut paged, mut token) = (Vec::new(), None);
    loop {
        let page = ports
            .list_recovery_points(&primary, &query(2, token))
            .await
            .unwrap();
        assert!(page.items.len() <= 2);
        paged.extend(page.items);
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, all.items);

    // Describe gives what the listing gave.
    let point = &all.items[0];
    let described = ports
        .describe_recovery_point(&primary, &point.recovery_point_arn)
        .await
        .unwrap();
    assert_eq!(described.resource_arn, point.resource_arn);
    assert_eq!(described.creation_date, point.creation_date);
    assert_eq!(described.status.as_deref(), Some("COMPLETED"));

    // A copy into another account's vault, followed to its end as the clock runs.
    let central = vault("222222222222", "us-east-1", "central");
    let job = StartCopyJob {
        route: "primary->central".into(),
        original: Original::new(point.resource_arn.clone().unwrap(), point.creation_date),
        account: HOME.into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        recovery_point_arn: point.recovery_point_arn.clone(),
        source_backup_vault_name: "primary".into(),
        source_backup_vault_arn: primary.to_string(),
        destination_backup_vault_arn: central.to_string(),
        iam_role_arn: format!("arn:aws:iam::{HOME}:role/backup-relay-copy"),
        idempotency_token: "emulate-test-1".into(),
        attempt: 1,
        lifecycle: Some(Lifecycle {
            delete_after_days: Some(35),
            move_to_cold_storage_after_days: None,
        }),
        lock_adjustment: None,
        resource_arn: point.resource_arn.clone(),
    };
    let id = ports.start_copy_job(&job).await.unwrap();
    let at = Location {
        partition: "aws".into(),
        account: HOME.into(),
        region: "us-east-1".into(),
    };
    let mut status = ports.copy_job_status(&at, &id).await.unwrap();
    for _ in 0..30 {
        if status.state == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        status = ports.copy_job_status(&at, &id).await.unwrap();
    }
    assert_eq!(status.state, "COMPLETED", "{status:?}");
    let landed = status.destination_recovery_point_arn.unwrap();

    // In the member account (the emulator's AssumeRole names it): the copy is there; lengthen it.
    let copy = ports
        .describe_recovery_point(&central, &landed)
        .await
        .unwrap();
    assert_eq!(copy.lifecycle.delete_after_days, Some(35));
    let longer = Lifecycle {
        delete_after_days: Some(400),
        move_to_cold_storage_after_days: None,
    };
    ports
        .update_recovery_point_lifecycle(&central, &landed, &longer)
        .await
        .unwrap();
    let copy = ports
        .describe_recovery_point(&central, &landed)
        .await
        .unwrap();
    assert_eq!(copy.lifecycle.delete_after_days, Some(400));
    assert!(copy.delete_at.unwrap() > Utc::now());
    assert_eq!(ports.vault_lock(&central).await.unwrap(), None);

    // A restore of the original into a new table, followed to its end.
    let restore = relay_core::ports::StartRestore {
        account: HOME.into(),
        region: "us-east-1".into(),
        partition: "aws".into(),
        recovery_point_arn: point.recovery_point_arn.clone(),
        iam_role_arn: format!("arn:aws:iam::{HOME}:role/backup-relay-copy"),
        metadata: [(
            "targetTableName".to_string(),
            "emulated-restore".to_string(),
        )]
        .into(),
        idempotency_token: "emulate-restore-1".into(),
        copy_source_tags: false,
    };
    let restore_id = RestorePort::start_restore_job(&ports, &restore)
        .await
        .unwrap();
    let mut restored = RestorePort::restore_job_status(&ports, &at, &restore_id)
        .await
        .unwrap();
    for _ in 0..30 {
        if restored.state == "COMPLETED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        restored = RestorePort::restore_job_status(&ports, &at, &restore_id)
            .await
            .unwrap();
    }
    assert_eq!(restored.state, "COMPLETED", "{restored:?}");
    assert!(restored
        .created_resource_arn
        .is_some_and(|a| a.ends_with(":table/emulated-restore")));
}

#[tokio::test]
async fn errors_come_back_in_awss_shapes_and_are_classified() {
    let emulator = Emulator::start(60);
    let ports = emulator.ports().await;
    let primary = vault(HOME, "us-east-1", "primary");
    let missing = ports
        .describe_recovery_point(
            &primary,
            "arn:aws:backup:us-east-1:111111111111:recovery-point:none",
        )
        .await
        .unwrap_err();
    assert_eq!(missing.kind, ErrorKind::NotFound, "{missing}");
    assert_eq!(missing.code.as_deref(), Some("ResourceNotFoundException"));
    let no_vault = ports
        .vault_lock(&vault(HOME, "us-east-1", "nowhere"))
        .await
        .unwrap_err();
    assert_eq!(no_vault.kind, ErrorKind::NotFound, "{no_vault}");
    let bad_token = ports
        .list_recovery_points(&primary, &query(10, Some("not-a-token".into())))
        .await
        .unwrap_err();
    assert_eq!(bad_token.kind, ErrorKind::Permanent, "{bad_token}");
    assert_eq!(
        bad_token.code.as_deref(),
        Some("InvalidParameterValueException")
    );
}

/// boto3 (moto's Python carries it) accepts every answer too: the other SDK the contract names.
#[test]
fn boto3_accepts_every_answer() {
    let emulator = Emulator::start(3600);
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = r#"
import sys, time, boto3
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1",
          aws_access_key_id="111111111111", aws_secret_access_key="x")
b = boto3.client("backup", **kw)
assert [v["BackupVaultName"] for v in b.list_backup_vaults()["BackupVaultList"]] == ["primary"]
assert b.describe_backup_vault(BackupVaultName="primary")["Locked"] is False
page = b.list_recovery_points_by_backup_vault(BackupVaultName="primary", MaxResults=1)
rp = page["RecoveryPoints"][0]
assert page["NextToken"]
assert b.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn=rp["RecoveryPointArn"])["Status"] == "COMPLETED"
central = "arn:aws:backup:us-east-1:222222222222:backup-vault:central"
job = b.start_copy_job(RecoveryPointArn=rp["RecoveryPointArn"], SourceBackupVaultName="primary",
    DestinationBackupVaultArn=central, IamRoleArn="arn:aws:iam::111111111111:role/backup-relay-copy",
    IdempotencyToken="boto3-1", Lifecycle={"DeleteAfterDays": 35})["CopyJobId"]
for _ in range(30):
    state = b.describe_copy_job(CopyJobId=job)["CopyJob"]["State"]
    if state == "COMPLETED":
        break
    time.sleep(0.5)
assert state == "COMPLETED", state
jobs = b.list_copy_jobs(ByResourceArn=rp["ResourceArn"], ByDestinationVaultArn=central)["CopyJobs"]
assert job in [j["CopyJobId"] for j in jobs]
assert b.describe_region_settings()["ResourceTypeManagementPreference"]["DynamoDB"] is True
creds = boto3.client("sts", **kw).assume_role(
    RoleArn="arn:aws:iam::222222222222:role/backup-relay-executor", RoleSessionName="boto3")["Credentials"]
member = boto3.client("backup", endpoint_url=sys.argv[1], region_name="us-east-1",
    aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
    aws_session_token=creds["SessionToken"])
landed = member.list_recovery_points_by_backup_vault(BackupVaultName="central")["RecoveryPoints"][-1]
out = member.update_recovery_point_lifecycle(BackupVaultName="central",
    RecoveryPointArn=landed["RecoveryPointArn"], Lifecycle={"DeleteAfterDays": 36500})
assert out["Lifecycle"]["DeleteAfterDays"] == 36500
try:
    b.describe_recovery_point(BackupVaultName="primary", RecoveryPointArn="arn:aws:backup:us-east-1:111111111111:recovery-point:none")
    raise SystemExit("no error for a missing point")
except b.exceptions.ResourceNotFoundException:
    pass
print("ok")
"#;
    let out = Command::new(python)
        .args(["-c", script, &emulator.endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
