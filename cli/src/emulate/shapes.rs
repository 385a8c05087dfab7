//! The simulator's answers in AWS Backup's shapes (member names of AWS's service model; REST-JSON
//! timestamps as epoch seconds), and STS's XML.

use chrono::{DateTime, Utc};
use relay_core::arn::Location;
use relay_core::compliance::inventory::VaultFacts;
use relay_core::guard::PointView;
use relay_core::ports::{CopyJobStatus, RestoreJobStatus};
use relay_core::retention::Lifecycle;
use serde_json::{json, Map, Value};

use super::api::AwsError;

/// REST-JSON's timestamp: seconds since the epoch, with milliseconds.
pub(crate) fn epoch(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn lifecycle_out(l: &Lifecycle) -> Value {
    let mut m = Map::new();
    if let Some(d) = l.delete_after_days {
        m.insert("DeleteAfterDays".into(), json!(d));
    }
    if let Some(d) = l.move_to_cold_storage_after_days {
        m.insert("MoveToColdStorageAfterDays".into(), json!(d));
    }
    Value::Object(m)
}

/// A `Lifecycle` member of a request; days must be whole and positive.
pub(crate) fn lifecycle_in(v: &Value) -> Result<Lifecycle, AwsError> {
    if !v.is_object() {
        return Err(AwsError::invalid(format!(
            "Lifecycle must be an object, not {v}"
        )));
    }
    let days = |member: &str| -> Result<Option<u32>, AwsError> {
        match v.get(member) {
            None | Some(Value::Null) => Ok(None),
            Some(n) => n
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .filter(|n| *n >= 1)
                .map(Some)
                .ok_or_else(|| AwsError::invalid_member(member, n)),
        }
    };
    Ok(Lifecycle {
        delete_after_days: days("DeleteAfterDays")?,
        move_to_cold_storage_after_days: days("MoveToColdStorageAfterDays")?,
    })
}

pub(crate) fn recovery_point(p: &PointView) -> Value {
    let mut v = json!({
        "RecoveryPointArn": p.recovery_point_arn,
        "BackupVaultName": p.vault.name,
        "BackupVaultArn": p.vault.to_string(),
        "CreationDate": epoch(p.creation_date),
        "Lifecycle": lifecycle_out(&p.lifecycle),
        "IsEncrypted": true,
    });
    let fields = [
        ("ResourceArn", p.resource_arn.clone().map(Value::from)),
        ("ResourceType", p.resource_type.clone().map(Value::from)),
        ("Status", p.status.clone().map(Value::from)),
        ("CompletionDate", p.completion_date.map(|d| json!(epoch(d)))),
        ("StorageClass", p.storage_class.clone().map(Value::from)),
        (
            "CalculatedLifecycle",
            p.delete_at.map(|d| json!({"DeleteAt": epoch(d)})),
        ),
    ];
    for (name, value) in fields {
        if let Some(value) = value {
            v[name] = value;
        }
    }
    v
}

pub(crate) fn copy_job(id: &str, at: &Location, s: &CopyJobStatus) -> Value {
    let mut v = json!({"CopyJobId": id, "AccountId": at.account, "State": s.state});
    if let Some(m) = &s.status_message {
        v["StatusMessage"] = json!(m);
    }
    if let Some(rp) = &s.destination_recovery_point_arn {
        v["DestinationRecoveryPointArn"] = json!(rp);
    }
    v
}

pub(crate) fn restore_job(id: &str, at: &Location, s: &RestoreJobStatus) -> Value {
    let mut v = json!({"RestoreJobId": id, "AccountId": at.account, "Status": s.state});
    if let Some(m) = &s.status_message {
        v["StatusMessage"] = json!(m);
    }
    if let Some(a) = &s.created_resource_arn {
        v["CreatedResourceArn"] = json!(a);
    }
    if let Some(d) = s.creation_date {
        v["CreationDate"] = json!(epoch(d));
    }
    if let Some(d) = s.completion_date {
        v["CompletionDate"] = json!(epoch(d));
    }
    v
}

pub(crate) fn vault(f: &VaultFacts) -> Value {
    let mut v = json!({
        "BackupVaultName": f.arn.name,
        "BackupVaultArn": f.arn.to_string(),
        "Locked": f.lock.is_some(),
    });
    if let Some(k) = &f.encryption_key_arn {
        v["EncryptionKeyArn"] = json!(k);
    }
    if let Some(lock) = f.lock {
        if let Some(d) = lock.min_retention_days {
            v["MinRetentionDays"] = json!(d);
        }
        if let Some(d) = lock.max_retention_days {
            v["MaxRetentionDays"] = json!(d);
        }
    }
    v
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
    let expiration = (Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
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
