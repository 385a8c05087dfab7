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
        Self::start_with(speed, &[])
    }

    /// With more `relay emulate` arguments (`--world`, `--plan-copy-actions`).
    fn start_with(speed: u32, more: &[&str]) -> Self {
        let mut child = Command::new(RELAY)
            .args(["emulate", "--port", "0", "--days", "1", "--seed", "7"])
            .args(["--speed", &speed.to_string(), "--faults", "none"])
            .args(more)
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
            pieces: None,
            change_events: None,
            findings_sessions: None,
            alerts: SnsAlerts::new(aws_sdk_sns::Client::new(&config), "unused"),
            sessions: Sessions::new(
                config,
                SessionConfig {
                    home_account: Some(HOME.into()),
                    executor_role_name: Some("backup-relay-executor".into()),
                    session_name: relay_aws::session_name("emulate-test"),
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
    // The same points in the same order (the emulator's clock runs at 3600x: a slow machine may
    // see a job complete between the two listings, so states are not compared here).
    let arns = |points: &[relay_core::guard::PointView]| -> Vec<String> {
        points
            .iter()
            .map(|p| p.recovery_point_arn.clone())
            .collect()
    };
    assert_eq!(arns(&paged), arns(&all.items));

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

// AWS Backup's behaviour, case by case, as the Rust SDK sees it (issue 13, item 7), and every
// answer against botocore's model (`emulate_model.py`).

use aws_sdk_backup::config::http::HttpResponse;
use aws_sdk_backup::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_backup::types::{Lifecycle as SdkLifecycle, RecoveryPointByBackupVault};

const CENTRAL: &str = "222222222222";
const CENTRAL_VAULT: &str = "arn:aws:backup:us-east-1:222222222222:backup-vault:central";
const DR_VAULT: &str = "arn:aws:backup:us-west-2:222222222222:backup-vault:dr";

impl Emulator {
    /// The Rust SDK's own client in `account` and `region`, without retries.
    fn backup(&self, account: &str, region: &str) -> aws_sdk_backup::Client {
        let config = aws_sdk_backup::Config::builder()
            .behavior_version(aws_sdk_backup::config::BehaviorVersion::latest())
            .region(aws_sdk_backup::config::Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                account, "emulated", None, None, "test",
            ))
            .retry_config(aws_sdk_backup::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_backup::Client::from_conf(config)
    }
}

/// The status, code and message of a refusal, as the Rust SDK reads them.
fn refusal<T: std::fmt::Debug, E: ProvideErrorMetadata + std::fmt::Debug>(
    result: Result<T, SdkError<E, HttpResponse>>,
) -> (u16, String, String) {
    let e = result.expect_err("the request is refused");
    let status = e.raw_response().map_or(0, |r| r.status().as_u16());
    let code = e.code().unwrap_or_default().to_string();
    (status, code, e.message().unwrap_or_default().to_string())
}

fn days(delete: Option<i64>, cold: Option<i64>) -> SdkLifecycle {
    SdkLifecycle::builder()
        .set_delete_after_days(delete)
        .set_move_to_cold_storage_after_days(cold)
        .build()
}

async fn points(b: &aws_sdk_backup::Client, vault: &str) -> Vec<RecoveryPointByBackupVault> {
    b.list_recovery_points_by_backup_vault()
        .backup_vault_name(vault)
        .send()
        .await
        .unwrap()
        .recovery_points
        .unwrap_or_default()
}

fn rp_arn(p: &RecoveryPointByBackupVault) -> String {
    p.recovery_point_arn.clone().unwrap()
}

#[tokio::test]
async fn update_lifecycle_takes_minus_one_as_keep_indefinitely_and_refuses_36501_and_cold_within_90_days(
) {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    let point = rp_arn(&points(&b, "primary").await[0]);
    let update = |l: SdkLifecycle| {
        b.update_recovery_point_lifecycle()
            .backup_vault_name("primary")
            .recovery_point_arn(&point)
            .lifecycle(l)
            .send()
    };
    // -1: "keep your recovery points indefinitely" (the model's Lifecycle documentation).
    let kept = update(days(Some(-1), Some(-1))).await.unwrap();
    assert_eq!(kept.lifecycle.unwrap().delete_after_days, None);
    assert!(kept
        .calculated_lifecycle
        .is_none_or(|c| c.delete_at.is_none()));
    for (delete, cold) in [
        (Some(36501), None),
        (Some(0), None),
        (Some(-2), None),
        (Some(119), Some(30)),
    ] {
        let (status, code, message) = refusal(update(days(delete, cold)).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidParameterValueException"),
            "{message}"
        );
    }
    let (_, _, message) = refusal(update(days(Some(36501), None)).await);
    assert!(
        message.starts_with("DeleteAfterDays cannot be less than 1 or more than 36500"),
        "{message}"
    );
    let fits = update(days(Some(120), Some(30))).await.unwrap();
    assert_eq!(fits.lifecycle.unwrap().delete_after_days, Some(120));
    update(days(Some(36500), None)).await.unwrap();
    // StartCopyJob holds its Lifecycle to the same rules.
    let copy = b
        .start_copy_job()
        .recovery_point_arn(&point)
        .source_backup_vault_name("primary")
        .destination_backup_vault_arn(CENTRAL_VAULT)
        .iam_role_arn(format!("arn:aws:iam::{HOME}:role/backup-relay-copy"))
        .lifecycle(days(Some(36501), None))
        .send()
        .await;
    assert_eq!(refusal(copy).1, "InvalidParameterValueException");
}

#[tokio::test]
async fn start_restore_job_refuses_a_table_name_dynamodb_would_refuse() {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    let point = rp_arn(&points(&b, "primary").await[0]);
    let restore = |name: String| {
        b.start_restore_job()
            .recovery_point_arn(&point)
            .iam_role_arn(format!("arn:aws:iam::{HOME}:role/backup-relay-copy"))
            .metadata("targetTableName", name)
            .send()
    };
    for name in [
        "a b".to_string(),
        "ab".into(),
        "x".repeat(256),
        "tab/le".into(),
        "é-table".into(),
    ] {
        let (status, code, message) = refusal(restore(name.clone()).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidParameterValueException"),
            "{name}: {message}"
        );
    }
    let job = restore("restored_table.v-1".into()).await.unwrap();
    assert!(job.restore_job_id.is_some());
    let no_metadata = b
        .start_restore_job()
        .recovery_point_arn(&point)
        .send()
        .await;
    assert_eq!(refusal(no_metadata).1, "MissingParameterValueException");
}

#[tokio::test]
async fn start_copy_job_refuses_another_accounts_role_and_a_copy_into_its_own_vault() {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    let point = rp_arn(&points(&b, "primary").await[0]);
    let copy = |destination: &str, role: String| {
        b.start_copy_job()
            .recovery_point_arn(&point)
            .source_backup_vault_name("primary")
            .destination_backup_vault_arn(destination)
            .iam_role_arn(role)
            .send()
    };
    let home_role = format!("arn:aws:iam::{HOME}:role/backup-relay-copy");
    let own_vault = format!("arn:aws:backup:us-east-1:{HOME}:backup-vault:primary");
    for (destination, role) in [
        (
            CENTRAL_VAULT,
            format!("arn:aws:iam::{CENTRAL}:role/backup-relay-copy"),
        ),
        (
            CENTRAL_VAULT,
            "arn:aws-cn:iam::111111111111:role/backup-relay-copy".into(),
        ),
        (CENTRAL_VAULT, "not-a-role".into()),
        (own_vault.as_str(), home_role.clone()),
    ] {
        let (status, code, message) = refusal(copy(destination, role.clone()).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidParameterValueException"),
            "{role}: {message}"
        );
    }
    copy(CENTRAL_VAULT, home_role).await.unwrap();
}

#[tokio::test]
async fn a_reused_idempotency_token_with_other_parameters_is_refused() {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    let point = rp_arn(&points(&b, "primary").await[0]);
    let copy = |destination: &str, delete: i64| {
        b.start_copy_job()
            .recovery_point_arn(&point)
            .source_backup_vault_name("primary")
            .destination_backup_vault_arn(destination)
            .iam_role_arn(format!("arn:aws:iam::{HOME}:role/backup-relay-copy"))
            .idempotency_token("the-same-token")
            .lifecycle(days(Some(delete), None))
            .send()
    };
    let first = copy(CENTRAL_VAULT, 35).await.unwrap().copy_job_id;
    // The same request again is the same job, no action taken.
    assert_eq!(copy(CENTRAL_VAULT, 35).await.unwrap().copy_job_id, first);
    for (destination, delete) in [(DR_VAULT, 35), (CENTRAL_VAULT, 36)] {
        let (status, code, message) = refusal(copy(destination, delete).await);
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidRequestException"),
            "{message}"
        );
        assert!(message.contains("the-same-token"), "{message}");
    }
    // Neither refused request started a job (the history's own copies of the point aside).
    let jobs = b
        .list_copy_jobs()
        .send()
        .await
        .unwrap()
        .copy_jobs
        .unwrap_or_default();
    let refused: Vec<_> = jobs
        .iter()
        .filter(|j| j.source_recovery_point_arn.as_deref() == Some(point.as_str()))
        .filter(|j| {
            let delete = j.destination_recovery_point_lifecycle.as_ref();
            j.destination_backup_vault_arn.as_deref() == Some(DR_VAULT)
                || delete.and_then(|l| l.delete_after_days) == Some(36)
        })
        .collect();
    assert!(refused.is_empty(), "{refused:?}");
}

#[tokio::test]
async fn describe_copy_job_and_list_copy_jobs_answer_the_full_copy_job() {
    let emulator = Emulator::start_with(3600, &["--plan-copy-actions"]);
    let b = emulator.backup(HOME, "us-east-1");
    let point = points(&b, "primary").await.remove(0);
    let role = format!("arn:aws:iam::{HOME}:role/backup-relay-copy");
    let id = b
        .start_copy_job()
        .recovery_point_arn(rp_arn(&point))
        .source_backup_vault_name("primary")
        .destination_backup_vault_arn(CENTRAL_VAULT)
        .iam_role_arn(&role)
        .lifecycle(days(Some(35), None))
        .send()
        .await
        .unwrap()
        .copy_job_id
        .unwrap();
    let mut job = None;
    for _ in 0..60 {
        let described = b
            .describe_copy_job()
            .copy_job_id(&id)
            .send()
            .await
            .unwrap()
            .copy_job
            .unwrap();
        if described
            .state
            .as_ref()
            .is_some_and(|s| s.as_str() == "COMPLETED")
        {
            job = Some(described);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let job = job.expect("the copy completes");
    let primary = format!("arn:aws:backup:us-east-1:{HOME}:backup-vault:primary");
    assert_eq!(job.account_id.as_deref(), Some(HOME));
    assert_eq!(job.copy_job_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        job.source_backup_vault_arn.as_deref(),
        Some(primary.as_str())
    );
    assert_eq!(job.source_recovery_point_arn, point.recovery_point_arn);
    assert_eq!(
        job.destination_backup_vault_arn.as_deref(),
        Some(CENTRAL_VAULT)
    );
    assert!(job
        .destination_recovery_point_arn
        .unwrap()
        .contains(":222222222222:recovery-point:"));
    assert_eq!(job.resource_arn, point.resource_arn);
    assert_eq!(job.resource_type.as_deref(), Some("DynamoDB"));
    assert!(job.completion_date.unwrap() >= job.creation_date.unwrap());
    assert!(job.backup_size_in_bytes.unwrap() > 0);
    assert_eq!(job.iam_role_arn.as_deref(), Some(role.as_str()));
    assert!(job.created_by.is_none(), "no plan made it");
    assert_eq!(
        job.destination_recovery_point_lifecycle
            .unwrap()
            .delete_after_days,
        Some(35)
    );

    // Every job of the account, a page of one at a time, is what one page gives.
    let all = b
        .list_copy_jobs()
        .send()
        .await
        .unwrap()
        .copy_jobs
        .unwrap_or_default();
    let mut paged = Vec::new();
    let mut token = None;
    loop {
        let page = b
            .list_copy_jobs()
            .max_results(1)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        paged.extend(page.copy_jobs.unwrap_or_default());
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, all);
    // The plan's copy actions into the bunker say which plan made them.
    let by_plan: Vec<_> = all.iter().filter(|j| j.created_by.is_some()).collect();
    assert!(!by_plan.is_empty(), "{all:?}");
    assert!(by_plan
        .iter()
        .all(|j| j.created_by.as_ref().unwrap().backup_plan_id.is_some()));
    let completed = b
        .list_copy_jobs()
        .by_state("COMPLETED".into())
        .send()
        .await
        .unwrap();
    assert!(completed
        .copy_jobs
        .unwrap()
        .iter()
        .any(|j| j.copy_job_id.as_deref() == Some(id.as_str())));
}

#[tokio::test]
async fn describe_backup_vault_counts_its_recovery_points_and_shows_its_lock() {
    let emulator = Emulator::start_with(60, &["--world", "infra/examples/world.yaml"]);
    let b = emulator.backup(HOME, "us-east-1");
    let held = points(&b, "primary").await.len();
    assert!(held > 0);
    let vault = b
        .describe_backup_vault()
        .backup_vault_name("primary")
        .send()
        .await
        .unwrap();
    assert_eq!(vault.number_of_recovery_points, held as i64);
    assert_eq!(vault.locked, Some(false));
    assert!(vault.creation_date.is_some() && vault.encryption_key_arn.is_some());
    assert_eq!(
        vault.vault_type.map(|t| t.as_str().to_string()).as_deref(),
        Some("BACKUP_VAULT")
    );
    let listed = b
        .list_backup_vaults()
        .send()
        .await
        .unwrap()
        .backup_vault_list
        .unwrap();
    assert_eq!(listed[0].number_of_recovery_points, held as i64);

    let bunker = emulator.backup("333333333333", "eu-west-1");
    let locked = bunker
        .describe_backup_vault()
        .backup_vault_name("bunker")
        .send()
        .await
        .unwrap();
    assert_eq!(locked.locked, Some(true));
    assert_eq!(
        (locked.min_retention_days, locked.max_retention_days),
        (Some(1), Some(36500))
    );
}

/// A request as raw HTTP: its status, x-amzn-ErrorType and JSON body.
fn raw(
    endpoint: &str,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Option<String>, serde_json::Value) {
    let auth = format!("AWS4-HMAC-SHA256 Credential={HOME}/20250101/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=0");
    let answer = ureq::request(method, &format!("{endpoint}{path}"))
        .set("authorization", &auth)
        .send_bytes(body);
    let response = match answer {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{method} {path}: {e}"),
    };
    let status = response.status();
    let code = response.header("x-amzn-errortype").map(str::to_string);
    let body = serde_json::from_str(&response.into_string().unwrap()).unwrap_or_default();
    (status, code, body)
}

/// A request announcing a body of `length` bytes and sending only its first 2 MiB and a little:
/// its status, x-amzn-ErrorType and JSON body.
fn headers_only(
    endpoint: &str,
    method: &str,
    path: &str,
    length: usize,
) -> (u16, Option<String>, serde_json::Value) {
    use std::io::{Read, Write};
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = format!("AWS4-HMAC-SHA256 Credential={HOME}/20250101/us-east-1/backup/aws4_request, SignedHeaders=host, Signature=0");
    let head = format!("{method} {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: {auth}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    // Just past axum's 2 MiB limit: the server reads that much, answers and closes; the rest
    // of the announced body is never sent, so nothing is written into a closed connection.
    let _ = stream.write_all(&vec![b' '; (2 << 20) + 1024]);
    let mut answer = Vec::new();
    // The server answers and closes; a reset after the answer is read changes nothing.
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let code = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-amzn-errortype")
            .then(|| v.trim().to_string())
    });
    (status, code, serde_json::from_str(body).unwrap_or_default())
}

#[test]
fn wrong_method_too_large_and_too_long_requests_are_answered_in_awss_error_shape() {
    let emulator = Emulator::start(60);
    let long_path = format!("/backup-vaults/{}", "a".repeat(9000));
    let large = vec![b' '; 3 << 20];
    for (method, path, body, status, code) in [
        (
            "DELETE",
            "/copy-jobs",
            &b""[..],
            404,
            "UnknownOperationException",
        ),
        (
            "PATCH",
            "/backup-vaults/primary",
            &b""[..],
            404,
            "UnknownOperationException",
        ),
        (
            "GET",
            "/nowhere",
            &b""[..],
            404,
            "UnknownOperationException",
        ),
        (
            "PUT",
            "/copy-jobs",
            &large[..],
            413,
            "RequestEntityTooLargeException",
        ),
        (
            "GET",
            long_path.as_str(),
            &b""[..],
            414,
            "RequestUriTooLongException",
        ),
        (
            "PUT",
            "/copy-jobs",
            &b"not json"[..],
            400,
            "SerializationException",
        ),
    ] {
        // A body over the limit is refused from its Content-Length, before it is read: sending
        // it whole would race the server closing the connection (a reset under load).
        let (got, header, json) = if body.len() > 1 << 20 {
            headers_only(&emulator.endpoint, method, path, body.len())
        } else {
            raw(&emulator.endpoint, method, path, body)
        };
        let shown = &path[..path.len().min(40)];
        assert_eq!(
            (got, header.as_deref()),
            (status, Some(code)),
            "{method} {shown}"
        );
        assert_eq!(json["Code"], code);
        assert!(
            json["Message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
    }
}

#[tokio::test]
async fn resource_not_found_is_400_in_every_operation() {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    let none = format!("arn:aws:backup:us-east-1:{HOME}:recovery-point:none");
    let role = format!("arn:aws:iam::{HOME}:role/backup-relay-copy");
    let cases = [
        (
            "DescribeBackupVault",
            refusal(
                b.describe_backup_vault()
                    .backup_vault_name("nowhere")
                    .send()
                    .await,
            ),
        ),
        (
            "ListRecoveryPoints",
            refusal(
                b.list_recovery_points_by_backup_vault()
                    .backup_vault_name("nowhere")
                    .send()
                    .await,
            ),
        ),
        (
            "DescribeRecoveryPoint",
            refusal(
                b.describe_recovery_point()
                    .backup_vault_name("primary")
                    .recovery_point_arn(&none)
                    .send()
                    .await,
            ),
        ),
        (
            "UpdateLifecycle",
            refusal(
                b.update_recovery_point_lifecycle()
                    .backup_vault_name("primary")
                    .recovery_point_arn(&none)
                    .lifecycle(days(Some(35), None))
                    .send()
                    .await,
            ),
        ),
        (
            "DescribeCopyJob",
            refusal(b.describe_copy_job().copy_job_id("none").send().await),
        ),
        (
            "DescribeRestoreJob",
            refusal(b.describe_restore_job().restore_job_id("none").send().await),
        ),
        (
            "StartCopyJob",
            refusal(
                b.start_copy_job()
                    .recovery_point_arn(&none)
                    .source_backup_vault_name("primary")
                    .destination_backup_vault_arn(CENTRAL_VAULT)
                    .iam_role_arn(&role)
                    .send()
                    .await,
            ),
        ),
        (
            "StartRestoreJob",
            refusal(
                b.start_restore_job()
                    .recovery_point_arn(&none)
                    .metadata("targetTableName", "restored")
                    .send()
                    .await,
            ),
        ),
    ];
    for (operation, (status, code, message)) in cases {
        assert_eq!(
            (status, code.as_str()),
            (400, "ResourceNotFoundException"),
            "{operation}: {message}"
        );
    }
}

#[tokio::test]
async fn max_results_outside_1_to_1000_is_invalid_parameter_value() {
    let emulator = Emulator::start(60);
    let b = emulator.backup(HOME, "us-east-1");
    for n in [0, -1, 1001] {
        let answers = [
            refusal(b.list_copy_jobs().max_results(n).send().await),
            refusal(b.list_backup_vaults().max_results(n).send().await),
            refusal(
                b.list_recovery_points_by_backup_vault()
                    .backup_vault_name("primary")
                    .max_results(n)
                    .send()
                    .await,
            ),
        ];
        for (status, code, message) in answers {
            assert_eq!(
                (status, code.as_str()),
                (400, "InvalidParameterValueException"),
                "{n}: {message}"
            );
        }
    }
    for n in [1, 1000] {
        b.list_copy_jobs().max_results(n).send().await.unwrap();
    }
}

#[tokio::test]
async fn a_request_signed_for_a_made_up_region_is_refused() {
    let emulator = Emulator::start(60);
    for region in ["xx-fake-1", "us-east-9", "aws-global"] {
        let b = emulator.backup(HOME, region);
        let (status, code, message) = refusal(b.list_backup_vaults().send().await);
        assert_eq!(
            (status, code.as_str()),
            (403, "InvalidSignatureException"),
            "{region}"
        );
        assert!(message.contains(region), "{message}");
    }
    // A Region that exists, in another partition, is served (it holds no vault).
    let china = emulator.backup(HOME, "cn-north-1");
    let vaults = china.list_backup_vaults().send().await.unwrap();
    assert_eq!(vaults.backup_vault_list.unwrap_or_default(), vec![]);
}

#[tokio::test]
async fn a_next_token_is_bound_to_the_account_region_vault_and_query_it_was_issued_for() {
    let emulator = Emulator::start(60);
    let home = emulator.backup(HOME, "us-east-1");
    let page = |b: &aws_sdk_backup::Client, vault: &str, token: Option<String>| {
        b.list_recovery_points_by_backup_vault()
            .backup_vault_name(vault)
            .max_results(1)
            .set_next_token(token)
            .send()
    };
    let token = page(&home, "primary", None)
        .await
        .unwrap()
        .next_token
        .expect("more than one point");
    // Where it was issued, it pages on.
    page(&home, "primary", Some(token.clone())).await.unwrap();
    let central = emulator.backup(CENTRAL, "us-east-1");
    let west = emulator.backup(HOME, "us-west-2");
    let filtered = home
        .list_recovery_points_by_backup_vault()
        .backup_vault_name("primary")
        .by_resource_type("DynamoDB")
        .next_token(&token)
        .send()
        .await;
    let elsewhere = [
        refusal(page(&central, "central", Some(token.clone())).await),
        refusal(page(&west, "primary", Some(token.clone())).await),
        refusal(filtered),
        refusal(home.list_copy_jobs().next_token(&token).send().await),
        refusal(home.list_backup_vaults().next_token(&token).send().await),
    ];
    // Made up: another position under the issued token's seal, or the simulator's own cursor.
    let (_, seal) = token.split_once('.').unwrap();
    let made_up = [
        refusal(page(&home, "primary", Some(format!("303a30.{seal}"))).await),
        refusal(page(&home, "primary", Some("1796014800000:1".into())).await),
    ];
    for (status, code, message) in elsewhere.into_iter().chain(made_up) {
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidParameterValueException"),
            "{message}"
        );
    }
}

/// Every answer, errors included, against botocore's service model (`emulate_model.py`).
#[test]
fn every_answer_matches_botocores_model() {
    let emulator = Emulator::start(3600);
    let python = std::env::var("MOTO_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/emulate_model.py");
    let out = Command::new(python)
        .args([script, &emulator.endpoint])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok",
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_sdk_adapter_tags_a_copy_in_its_own_account_and_is_refused_elsewhere() {
    use relay_core::ports::{CopyTagPort, ErrorKind};
    let emulator = Emulator::start(60);
    let ports = emulator.ports().await;
    let primary = vault(HOME, "us-east-1", "primary");
    let point = ports
        .list_recovery_points(&primary, &query(1, None))
        .await
        .unwrap()
        .items
        .remove(0)
        .recovery_point_arn;
    let tags: relay_core::plan::Tags = [("team".to_string(), "payments".to_string())].into();
    ports
        .tag_recovery_point(&primary, &point, &tags)
        .await
        .unwrap();
    let read = ports.recovery_point_tags(&primary, &point).await.unwrap();
    assert_eq!(read.get("team").map(String::as_str), Some("payments"));
    // AWS's limits come back classified: the 50-tag limit is for good, not a rate to wait out.
    let many: relay_core::plan::Tags = (0..51).map(|i| (format!("k{i:02}"), "v".into())).collect();
    let e = ports
        .tag_recovery_point(&primary, &point, &many)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::Permanent, Some("LimitExceededException"))
    );
    let reserved: relay_core::plan::Tags = [("aws:x".to_string(), "y".to_string())].into();
    let e = ports
        .tag_recovery_point(&primary, &point, &reserved)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Permanent);
    // The point seen from another account (through its executor role): not there.
    let elsewhere = vault(CENTRAL, "us-east-1", "primary");
    let e = ports
        .recovery_point_tags(&elsewhere, &point)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
}
