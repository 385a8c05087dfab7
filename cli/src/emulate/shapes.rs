//! The simulator's answers in AWS Backup's output shapes: member names and types of AWS's service
//! model (botocore's `backup/2018-11-15/service-2.json`), REST-JSON timestamps as epoch seconds.
//! A member is present when the simulator knows its value, absent (never null) otherwise.
//! `cli/tests/emulate_model.py` checks every answer against the model. And STS's XML.

use chrono::{DateTime, Duration, Utc};
use relay_compliance::inventory::VaultFacts;
use relay_core::arn::{TableArn, VaultArn};
use relay_core::guard::PointView;
use relay_core::retention::Lifecycle;
use relay_sim::world::SimRestoreJob;
use relay_sim::world::{vault_key_arn, SimCopyJob};
use serde_json::{json, Map, Value};

/// The id the simulator's backup plans carry in its events' `createdBy`.
pub(crate) const SIM_PLAN_ID: &str = "sim-plan";
/// The rule id of a plan's copy action in the simulator's events.
const SIM_COPY_RULE_ID: &str = "copy-to-bunker";

/// REST-JSON's timestamp: seconds since the epoch, with milliseconds.
pub(crate) fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// A JSON object of the members that have a value.
fn members<const N: usize>(fields: [(&str, Option<Value>); N]) -> Value {
    let m: Map<String, Value> = fields
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v?)))
        .collect();
    Value::Object(m)
}

pub(crate) fn lifecycle_out(l: &Lifecycle) -> Value {
    members([
        ("DeleteAfterDays", l.delete_after_days.map(Value::from)),
        (
            "MoveToColdStorageAfterDays",
            l.move_to_cold_storage_after_days.map(Value::from),
        ),
    ])
}

/// `CalculatedLifecycle`: the dates the lifecycle gives, from the point's creation.
pub(crate) fn calculated_lifecycle(p: &PointView) -> Option<Value> {
    let cold_at = p
        .lifecycle
        .move_to_cold_storage_after_days
        .map(|d| p.creation_date + Duration::days(i64::from(d)));
    (p.delete_at.is_some() || cold_at.is_some()).then(|| {
        members([
            ("DeleteAt", p.delete_at.map(|d| json!(epoch(d)))),
            ("MoveToColdStorageAt", cold_at.map(|d| json!(epoch(d)))),
        ])
    })
}

/// The name AWS gives a DynamoDB resource: its table's.
fn resource_name(resource_arn: &str) -> Option<Value> {
    TableArn::parse(resource_arn).ok().map(|t| json!(t.table))
}

/// The backup plan's `CreatedBy` (a RecoveryPointCreator), in the vault's account and Region.
fn created_by_plan(vault: &VaultArn, rule: Option<&str>) -> Value {
    let arn = format!(
        "arn:{}:backup:{}:{}:backup-plan:{SIM_PLAN_ID}",
        vault.partition, vault.region, vault.account
    );
    members([
        ("BackupPlanId", Some(json!(SIM_PLAN_ID))),
        ("BackupPlanArn", Some(json!(arn))),
        ("BackupRuleId", rule.map(Value::from)),
    ])
}

/// What the world knows of a recovery point beyond the port's view.
pub(crate) struct PointFacts {
    /// The vault it was copied from (a copy whose source still exists).
    pub source_vault: Option<String>,
    /// Made by a backup plan: an original.
    pub by_plan: bool,
    pub size_bytes: u64,
}

/// A recovery point as DescribeRecoveryPoint (`described`) or ListRecoveryPointsByBackupVault
/// (whose RecoveryPointByBackupVault has no StorageClass) shows it.
pub(crate) fn recovery_point(p: &PointView, facts: &PointFacts, described: bool) -> Value {
    let role = format!(
        "arn:{}:iam::{}:role/service-role/AWSBackupDefaultServiceRole",
        p.vault.partition, p.vault.account
    );
    let mut v = members([
        ("RecoveryPointArn", Some(json!(p.recovery_point_arn))),
        ("BackupVaultName", Some(json!(p.vault.name))),
        ("BackupVaultArn", Some(json!(p.vault.to_string()))),
        (
            "SourceBackupVaultArn",
            facts.source_vault.clone().map(Value::from),
        ),
        ("ResourceArn", p.resource_arn.clone().map(Value::from)),
        ("ResourceType", p.resource_type.clone().map(Value::from)),
        (
            "ResourceName",
            p.resource_arn.as_deref().and_then(resource_name),
        ),
        (
            "CreatedBy",
            facts.by_plan.then(|| created_by_plan(&p.vault, None)),
        ),
        ("IamRoleArn", facts.by_plan.then(|| json!(role))),
        ("Status", p.status.clone().map(Value::from)),
        ("CreationDate", Some(json!(epoch(p.creation_date)))),
        ("CompletionDate", p.completion_date.map(|d| json!(epoch(d)))),
        ("BackupSizeInBytes", Some(json!(facts.size_bytes))),
        ("CalculatedLifecycle", calculated_lifecycle(p)),
        ("Lifecycle", Some(lifecycle_out(&p.lifecycle))),
        ("EncryptionKeyArn", Some(json!(vault_key_arn(&p.vault)))),
        ("EncryptionKeyType", Some(json!("CUSTOMER_MANAGED_KMS_KEY"))),
        ("IsEncrypted", Some(json!(p.encrypted.unwrap_or(true)))),
        ("IsParent", Some(json!(false))),
        ("VaultType", Some(json!("BACKUP_VAULT"))),
    ]);
    if described {
        if let Some(class) = &p.storage_class {
            v["StorageClass"] = json!(class);
        }
    }
    v
}

/// A copy job (the model's CopyJob), as DescribeCopyJob and ListCopyJobs show it. Its account
/// is the source vault's: the job runs there.
pub(crate) fn copy_job(j: &SimCopyJob, state: &str, size_bytes: u64) -> Value {
    let ended = matches!(state, "COMPLETED" | "FAILED" | "PARTIAL");
    members([
        ("AccountId", Some(json!(j.source_vault.account))),
        ("CopyJobId", Some(json!(j.id))),
        (
            "SourceBackupVaultArn",
            Some(json!(j.source_vault.to_string())),
        ),
        ("SourceRecoveryPointArn", Some(json!(j.source_rp))),
        (
            "DestinationBackupVaultArn",
            Some(json!(j.dest_vault.to_string())),
        ),
        ("DestinationVaultType", Some(json!("BACKUP_VAULT"))),
        (
            "DestinationRecoveryPointArn",
            j.dest_rp.clone().map(Value::from),
        ),
        (
            "DestinationEncryptionKeyArn",
            Some(json!(vault_key_arn(&j.dest_vault))),
        ),
        (
            "DestinationRecoveryPointLifecycle",
            j.lifecycle.as_ref().map(lifecycle_out),
        ),
        ("ResourceArn", Some(json!(j.resource_arn))),
        ("ResourceType", Some(json!("DynamoDB"))),
        ("ResourceName", resource_name(&j.resource_arn)),
        ("CreationDate", Some(json!(epoch(j.created_at)))),
        (
            "CompletionDate",
            j.ended_at.filter(|_| ended).map(|d| json!(epoch(d))),
        ),
        ("State", Some(json!(state))),
        ("StatusMessage", j.status_message.clone().map(Value::from)),
        ("BackupSizeInBytes", Some(json!(size_bytes))),
        ("IamRoleArn", Some(json!(j.iam_role_arn))),
        (
            "CreatedBy",
            j.created_by_plan
                .then(|| created_by_plan(&j.source_vault, Some(SIM_COPY_RULE_ID))),
        ),
        ("IsParent", Some(json!(false))),
    ])
}

/// What the world knows of a restore job's recovery point, while it exists.
pub(crate) struct RestoreFacts {
    pub vault: Option<String>,
    pub point_created: Option<DateTime<Utc>>,
}

/// DescribeRestoreJob's answer.
pub(crate) fn restore_job(j: &SimRestoreJob, facts: &RestoreFacts) -> Value {
    let done = j.state == "COMPLETED";
    let expected = (j.finish_at - j.created_at).num_minutes();
    members([
        ("AccountId", Some(json!(j.account))),
        ("RestoreJobId", Some(json!(j.id))),
        ("RecoveryPointArn", Some(json!(j.recovery_point_arn))),
        ("SourceResourceArn", Some(json!(j.source_table))),
        ("BackupVaultArn", facts.vault.clone().map(Value::from)),
        ("CreationDate", Some(json!(epoch(j.created_at)))),
        ("CompletionDate", j.completed_at.map(|d| json!(epoch(d)))),
        ("Status", Some(json!(j.state))),
        ("StatusMessage", j.status_message.clone().map(Value::from)),
        // As the simulator's Restore Job State Change events give it.
        (
            "PercentDone",
            Some(json!(if done { "100.0" } else { "0.0" })),
        ),
        ("BackupSizeInBytes", Some(json!(u64::from(j.size_gb) << 30))),
        (
            "IamRoleArn",
            Some(json!(j.iam_role_arn)).filter(|_| !j.iam_role_arn.is_empty()),
        ),
        ("ExpectedCompletionTimeMinutes", Some(json!(expected))),
        (
            "CreatedResourceArn",
            done.then(|| json!(j.target.to_string())),
        ),
        ("ResourceType", Some(json!("DynamoDB"))),
        (
            "RecoveryPointCreationDate",
            facts.point_created.map(|d| json!(epoch(d))),
        ),
        ("IsParent", Some(json!(false))),
    ])
}

/// A vault as DescribeBackupVault and ListBackupVaults show it. Every simulated vault is a
/// standard vault with its own customer-managed key, made when the simulation added it (or before
/// the oldest point its world file says it holds).
pub(crate) fn vault(f: &VaultFacts) -> Value {
    let lock = f.lock.unwrap_or_default();
    members([
        ("BackupVaultName", Some(json!(f.arn.name))),
        ("BackupVaultArn", Some(json!(f.arn.to_string()))),
        ("VaultType", Some(json!("BACKUP_VAULT"))),
        ("VaultState", Some(json!("AVAILABLE"))),
        (
            "EncryptionKeyArn",
            f.encryption_key_arn.clone().map(Value::from),
        ),
        ("EncryptionKeyType", Some(json!("CUSTOMER_MANAGED_KMS_KEY"))),
        ("CreationDate", f.created.map(|c| json!(epoch(c)))),
        ("NumberOfRecoveryPoints", f.recovery_points.map(Value::from)),
        ("Locked", Some(json!(f.lock.is_some()))),
        ("MinRetentionDays", lock.min_retention_days.map(Value::from)),
        ("MaxRetentionDays", lock.max_retention_days.map(Value::from)),
    ])
}

/// DescribeRegionSettings' resource types. The model types the keys `^[a-zA-Z0-9\-\_\.]{1,50}$`,
/// so AWS's names with spaces ("Storage Gateway", "SAP HANA on Amazon EC2") are left out.
pub(crate) const OPT_IN_TYPES: [&str; 14] = [
    "Aurora",
    "CloudFormation",
    "DocumentDB",
    "DSQL",
    "DynamoDB",
    "EBS",
    "EC2",
    "EFS",
    "FSx",
    "Neptune",
    "RDS",
    "Redshift",
    "S3",
    "VirtualMachine",
];

/// DescribeRegionSettings: every type opted in; full management for the types that have it,
/// DynamoDB's as the account and Region's advanced features say.
pub(crate) fn region_settings(dynamodb_managed: bool) -> Value {
    let opt_in: Map<String, Value> = OPT_IN_TYPES
        .iter()
        .map(|t| (t.to_string(), json!(true)))
        .collect();
    json!({"ResourceTypeOptInPreference": opt_in,
           "ResourceTypeManagementPreference": {"CloudFormation": true, "DSQL": true,
                                                "DynamoDB": dynamodb_managed, "EFS": true}})
}

pub(crate) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Credentials whose access key is the role's account: the emulator's own way of knowing which
/// account a later call is in (as moto tells accounts by 12-digit keys).
pub(crate) fn assume_role_xml(role: &relay_core::arn::RoleArn, session: &str) -> String {
    let expiration =
        (Utc::now() + Duration::hours(1)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let name = role.name.rsplit('/').next().unwrap_or(&role.name);
    let assumed = format!(
        "arn:{}:sts::{}:assumed-role/{name}/{session}",
        role.partition, role.account
    );
    format!(
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>\
         <Credentials><AccessKeyId>{}</AccessKeyId><SecretAccessKey>emulated</SecretAccessKey>\
         <SessionToken>emulated</SessionToken><Expiration>{expiration}</Expiration></Credentials>\
         <AssumedRoleUser><AssumedRoleId>AROAEMULATED:{}</AssumedRoleId><Arn>{}</Arn></AssumedRoleUser>\
         </AssumeRoleResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></AssumeRoleResponse>",
        xml_escape(&role.account),
        xml_escape(session),
        xml_escape(&assumed)
    )
}

pub(crate) fn caller_identity_xml(account: &str) -> String {
    format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult>\
         <Arn>arn:aws:iam::{account}:user/emulated</Arn><UserId>EMULATED</UserId><Account>{account}</Account>\
         </GetCallerIdentityResult><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    )
}
