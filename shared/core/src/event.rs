//! AWS Backup's EventBridge events, parsed leniently: only the fields Backup Relay uses, each accepting
//! the shapes AWS has been seen to send (string-or-number sizes, `{}` for a missing ARN, odd account
//! ids, non-ISO dates). Malformed input is a typed error, never a panic.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::retention::{Lifecycle, NEVER_EXPIRE_DAYS};

pub const SOURCE: &str = "aws.backup";

/// EventBridge's limit for one event entry (256 KB). Anything larger did not come from EventBridge,
/// and refusing it before parsing keeps a hostile or broken input from costing memory and time.
pub const MAX_EVENT_BYTES: usize = 262_144;

pub const BACKUP_JOB: &str = "Backup Job State Change";
pub const COPY_JOB: &str = "Copy Job State Change";
pub const RECOVERY_POINT: &str = "Recovery Point State Change";

/// aws.backup detail-types that Backup Relay knows and deliberately does not act on.
pub const OTHER_KNOWN_DETAIL_TYPES: [&str; 7] = [
    "Restore Job State Change",
    "Recovery Point Change",
    "Backup Vault State Change",
    "Backup Plan State Change",
    "Region Setting State Change",
    "Recovery Point Index State Change",
    "Scan Job State Change",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event is {size} bytes, over the {limit}-byte (256 KB) limit of an EventBridge event")]
    TooLarge { size: usize, limit: usize },
    #[error("event is not valid JSON: {0}")]
    NotJson(String),
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("event {id}: missing or invalid field '{field}'")]
    MissingField { id: String, field: &'static str },
    #[error("event has no 'id'")]
    MissingId,
}

impl EventError {
    /// The event id, where the event had one: logged with every failure so it can be found again.
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Self::MissingField { id, .. } => Some(id),
            _ => None,
        }
    }
}

/// The EventBridge envelope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope {
    pub id: String,
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub time: Option<DateTime<Utc>>,
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedEvent {
    pub envelope: Envelope,
    pub detail: EventDetail,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventDetail {
    BackupJob(BackupJobEvent),
    CopyJob(CopyJobEvent),
    RecoveryPoint(RecoveryPointEvent),
    /// A known aws.backup detail-type that Backup Relay does not act on.
    Other,
    /// A detail-type this version does not know.
    Unknown,
    /// Not from aws.backup at all.
    ForeignSource,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Created,
    Pending,
    Running,
    Aborting,
    Aborted,
    Completed,
    Failed,
    Expired,
    Partial,
    Other(String),
}

impl JobState {
    fn parse(s: &str) -> Self {
        match s {
            "CREATED" => Self::Created,
            "PENDING" => Self::Pending,
            "RUNNING" => Self::Running,
            "ABORTING" => Self::Aborting,
            "ABORTED" => Self::Aborted,
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            "EXPIRED" => Self::Expired,
            "PARTIAL" => Self::Partial,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "CREATED",
            Self::Pending => "PENDING",
            Self::Running => "RUNNING",
            Self::Aborting => "ABORTING",
            Self::Aborted => "ABORTED",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Expired => "EXPIRED",
            Self::Partial => "PARTIAL",
            Self::Other(s) => s,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct BackupJobEvent {
    pub state: JobState,
    pub backup_job_id: Option<String>,
    pub backup_vault_arn: Option<String>,
    pub backup_vault_name: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    /// `resources[0]`: present only once the job has made a recovery point.
    pub recovery_point_arn: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    pub status_message: Option<String>,
    pub backup_size_bytes: Option<u64>,
    pub backup_plan_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopyJobEvent {
    pub state: JobState,
    /// Absent in some CREATED events.
    pub copy_job_id: Option<String>,
    pub source_backup_vault_arn: Option<String>,
    pub destination_backup_vault_arn: Option<String>,
    /// An empty object `{}` in RUNNING and FAILED events: parsed as `None`.
    pub destination_recovery_point_arn: Option<String>,
    /// `resources[0]`: there is no sourceRecoveryPointArn in the detail.
    pub source_recovery_point_arn: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    pub status_message: Option<String>,
    pub backup_size_bytes: Option<u64>,
    /// Set when a backup plan's copy action made the copy.
    pub backup_plan_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryPointEvent {
    /// `detail.status`, not `state`.
    pub status: String,
    pub recovery_point_arn: Option<String>,
    pub backup_vault_name: Option<String>,
    pub backup_vault_arn: Option<String>,
    pub resource_arn: Option<String>,
    pub resource_type: Option<String>,
    pub creation_date: Option<DateTime<Utc>>,
    pub completion_date: Option<DateTime<Utc>>,
    pub storage_class: Option<String>,
    pub is_encrypted: Option<bool>,
    /// Days that are -1 ("never"), null or absent are `None`: not set, so the point may still
    /// inherit its source's expiry (facts §3).
    pub lifecycle: Option<Lifecycle>,
    /// `calculatedLifeCycle.deleteAt` (capital C).
    pub delete_at: Option<DateTime<Utc>>,
    pub backup_plan_id: Option<String>,
}

impl ParsedEvent {
    /// Refuses text over [`MAX_EVENT_BYTES`] before parsing it.
    pub fn parse_str(text: &str) -> Result<Self, EventError> {
        if text.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size: text.len(),
                limit: MAX_EVENT_BYTES,
            });
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| EventError::NotJson(e.to_string()))?;
        Self::parse(&value)
    }

    pub fn parse(value: &Value) -> Result<Self, EventError> {
        let obj = value.as_object().ok_or(EventError::NotAnObject)?;
        let envelope = envelope(obj)?;
        let missing = |field: &'static str| EventError::MissingField {
            id: envelope.id.clone(),
            field,
        };
        if envelope.source != SOURCE {
            return Ok(Self {
                envelope,
                detail: EventDetail::ForeignSource,
            });
        }
        let detail = || match obj.get("detail") {
            Some(Value::Object(d)) => Ok(d),
            _ => Err(missing("detail")),
        };
        let first = envelope.resources.first().cloned();
        let detail = match envelope.detail_type.as_str() {
            BACKUP_JOB => EventDetail::BackupJob(backup_job(detail()?, first, &missing)?),
            COPY_JOB => EventDetail::CopyJob(copy_job(detail()?, first, &missing)?),
            RECOVERY_POINT => {
                EventDetail::RecoveryPoint(recovery_point(detail()?, first, &missing)?)
            }
            other if OTHER_KNOWN_DETAIL_TYPES.contains(&other) => EventDetail::Other,
            _ => EventDetail::Unknown,
        };
        Ok(Self { envelope, detail })
    }

    /// The state (or status) word of the event, for logs and the plan summary.
    pub fn state(&self) -> Option<&str> {
        match &self.detail {
            EventDetail::BackupJob(e) => Some(e.state.as_str()),
            EventDetail::CopyJob(e) => Some(e.state.as_str()),
            EventDetail::RecoveryPoint(e) => Some(&e.status),
            _ => None,
        }
    }
}

/// The EventBridge envelope: `id`, `detail-type` and `source` required, the rest lenient.
fn envelope(obj: &Map<String, Value>) -> Result<Envelope, EventError> {
    let id = lenient_string(obj.get("id")).ok_or(EventError::MissingId)?;
    let missing = |field: &'static str| EventError::MissingField {
        id: id.clone(),
        field,
    };
    let detail_type =
        lenient_string(obj.get("detail-type")).ok_or_else(|| missing("detail-type"))?;
    let source = lenient_string(obj.get("source")).ok_or_else(|| missing("source"))?;
    let resources = match obj.get("resources") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| lenient_string(Some(v)))
            .collect(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(missing("resources")),
    };
    Ok(Envelope {
        detail_type,
        source,
        account: lenient_string(obj.get("account")).unwrap_or_default(),
        region: lenient_string(obj.get("region")).unwrap_or_default(),
        time: lenient_date(obj.get("time")),
        resources,
        id,
    })
}

type Missing<'a> = dyn Fn(&'static str) -> EventError + 'a;

fn state_of(d: &Map<String, Value>, missing: &Missing<'_>) -> Result<JobState, EventError> {
    let state = lenient_string(d.get("state")).ok_or_else(|| missing("detail.state"))?;
    Ok(JobState::parse(&state))
}

fn backup_job(
    d: &Map<String, Value>,
    recovery_point_arn: Option<String>,
    missing: &Missing<'_>,
) -> Result<BackupJobEvent, EventError> {
    Ok(BackupJobEvent {
        state: state_of(d, missing)?,
        backup_job_id: lenient_string(d.get("backupJobId")),
        backup_vault_arn: lenient_string(d.get("backupVaultArn")),
        backup_vault_name: lenient_string(d.get("backupVaultName")),
        resource_arn: lenient_string(d.get("resourceArn")),
        resource_type: lenient_string(d.get("resourceType")),
        recovery_point_arn,
        creation_date: lenient_date(d.get("creationDate")),
        status_message: lenient_string(d.get("statusMessage")),
        backup_size_bytes: lenient_u64(d.get("backupSizeInBytes")),
        backup_plan_id: plan_id(d),
    })
}

fn copy_job(
    d: &Map<String, Value>,
    source_recovery_point_arn: Option<String>,
    missing: &Missing<'_>,
) -> Result<CopyJobEvent, EventError> {
    Ok(CopyJobEvent {
        state: state_of(d, missing)?,
        copy_job_id: lenient_string(d.get("copyJobId")),
        source_backup_vault_arn: lenient_string(d.get("sourceBackupVaultArn")),
        destination_backup_vault_arn: lenient_string(d.get("destinationBackupVaultArn")),
        destination_recovery_point_arn: lenient_string(d.get("destinationRecoveryPointArn")),
        source_recovery_point_arn,
        resource_arn: lenient_string(d.get("resourceArn")),
        resource_type: lenient_string(d.get("resourceType")),
        creation_date: lenient_date(d.get("creationDate")),
        status_message: lenient_string(d.get("statusMessage")),
        backup_size_bytes: lenient_u64(d.get("backupSizeInBytes")),
        backup_plan_id: plan_id(d),
    })
}

fn recovery_point(
    d: &Map<String, Value>,
    recovery_point_arn: Option<String>,
    missing: &Missing<'_>,
) -> Result<RecoveryPointEvent, EventError> {
    let lifecycle = d
        .get("lifecycle")
        .and_then(Value::as_object)
        .map(|l| Lifecycle {
            delete_after_days: lenient_days(l.get("deleteAfterDays")),
            move_to_cold_storage_after_days: lenient_days(l.get("moveToColdStorageAfterDays")),
        });
    let delete_at = d
        .get("calculatedLifeCycle")
        .and_then(Value::as_object)
        .and_then(|c| lenient_date(c.get("deleteAt")));
    Ok(RecoveryPointEvent {
        status: lenient_string(d.get("status")).ok_or_else(|| missing("detail.status"))?,
        recovery_point_arn,
        backup_vault_name: lenient_string(d.get("backupVaultName")),
        backup_vault_arn: lenient_string(d.get("backupVaultArn")),
        resource_arn: lenient_string(d.get("resourceArn")),
        resource_type: lenient_string(d.get("resourceType")),
        creation_date: lenient_date(d.get("creationDate")),
        completion_date: lenient_date(d.get("completionDate")),
        storage_class: lenient_string(d.get("storageClass")),
        is_encrypted: lenient_bool(d.get("isEncrypted")),
        lifecycle,
        delete_at,
        backup_plan_id: plan_id(d),
    })
}

fn plan_id(detail: &Map<String, Value>) -> Option<String> {
    detail
        .get("createdBy")
        .and_then(Value::as_object)
        .and_then(|c| lenient_string(c.get("backupPlanId")))
}

/// A string, a number written as a string, or nothing: `{}`, `null` and `""` are all "absent".
fn lenient_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn lenient_u64(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n
            .as_u64()
            // A float cast saturates (and the sign is checked): 1e30 reads as u64::MAX.
            .or_else(|| {
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)
            }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A lifecycle's day count. AWS writes "never" as `-1`, and leaves the field out or `null` when it
/// is not set: all of these are `None` ("not set / never"), never a parse error. Negative values
/// are caught here on purpose rather than left to how `lenient_u64` happens to treat them, because
/// the guard relies on "never" arriving as `None`. AWS allows at most 36500 days; a larger number
/// is treated as absent, so no arithmetic on it downstream (days + 90, date + days) can overflow.
fn lenient_days(v: Option<&Value>) -> Option<u32> {
    let negative = match v? {
        Value::Number(n) => n.as_f64().is_some_and(|f| f < 0.0),
        Value::String(s) => s.trim().starts_with('-'),
        _ => false,
    };
    if negative {
        return None;
    }
    lenient_u64(v)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|d| *d <= NEVER_EXPIRE_DAYS)
}

fn lenient_bool(v: Option<&Value>) -> Option<bool> {
    match v? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => s.trim().to_ascii_lowercase().parse().ok(),
        _ => None,
    }
}

/// ISO 8601 / RFC 3339; AWS's console-style dates ("Jul 15, 2020 9:39:07 PM") too. Anything else is
/// treated as absent rather than an error: no decision depends on a date we cannot read.
/// Dates outside [`earliest_date`, `latest_date`] are absent too: AWS writes four-digit years, and
/// the bound keeps every later `date + 36500 days` far inside chrono's range, so no arithmetic
/// downstream can overflow on a date an event carried.
fn lenient_date(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let date = match v? {
        Value::String(s) => text_date(s.trim()),
        // Epoch seconds, as the SDKs' JSON sometimes carries.
        Value::Number(n) => n.as_f64().and_then(epoch_seconds),
        _ => None,
    }?;
    (earliest_date()..=latest_date())
        .contains(&date)
        .then_some(date)
}

fn text_date(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    chrono::NaiveDateTime::parse_from_str(s, "%b %d, %Y %I:%M:%S %p")
        .ok()
        .map(|n| n.and_utc())
}

/// Whole and fractional epoch seconds; `None` for what no `DateTime` can hold (checked, never a
/// saturating cast that would turn 1e300 into a real-looking date).
// The casts are of values checked to lie in 0..=latest above (and nanos in 0..1e9).
#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn epoch_seconds(f: f64) -> Option<DateTime<Utc>> {
    let latest = latest_date().timestamp() as f64;
    if !f.is_finite() || f < 0.0 || f > latest {
        return None;
    }
    let secs = f.floor();
    let nanos = ((f - secs) * 1e9) as u32;
    DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
}

/// The Unix epoch: AWS Backup reports nothing older.
fn earliest_date() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// The last second with a four-digit year.
fn latest_date() -> DateTime<Utc> {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|n| n.and_utc())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(detail_type: &str, detail: Value, resources: Value) -> Value {
        json!({
            "version": "0", "id": "evt-1", "detail-type": detail_type, "source": "aws.backup",
            "account": "1112233445566", "time": "2020-07-15T21:40:00Z", "region": "us-east-1",
            "resources": resources, "detail": detail
        })
    }

    #[test]
    fn copy_job_quirks_are_tolerated() {
        let ev = envelope(
            COPY_JOB,
            json!({"state": "FAILED", "destinationRecoveryPointArn": {}, "backupSizeInBytes": 1024,
                   "sourceBackupVaultArn": "arn:aws:backup:us-east-1:111111111111:backup-vault:a",
                   "statusMessage": "Access Denied"}),
            json!(["arn:aws:backup:us-east-1:111111111111:recovery-point:rp1"]),
        );
        let parsed = ParsedEvent::parse(&ev).unwrap();
        let EventDetail::CopyJob(c) = parsed.detail else {
            panic!("copy job expected")
        };
        assert_eq!(c.state, JobState::Failed);
        assert_eq!(c.destination_recovery_point_arn, None);
        assert_eq!(c.copy_job_id, None);
        assert_eq!(c.backup_size_bytes, Some(1024));
        assert_eq!(
            c.source_recovery_point_arn.as_deref(),
            Some("arn:aws:backup:us-east-1:111111111111:recovery-point:rp1")
        );
        assert_eq!(parsed.envelope.account, "1112233445566");
    }

    #[test]
    fn backup_job_sizes_as_strings_and_console_dates() {
        let ev = envelope(
            BACKUP_JOB,
            json!({"state": "COMPLETED", "backupSizeInBytes": "2048", "creationDate": "Jul 15, 2020 9:39:07 PM"}),
            json!([]),
        );
        let EventDetail::BackupJob(b) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!()
        };
        assert_eq!(b.backup_size_bytes, Some(2048));
        assert_eq!(
            b.creation_date.unwrap().to_rfc3339(),
            "2020-07-15T21:39:07+00:00"
        );
        assert_eq!(b.recovery_point_arn, None);
    }

    #[test]
    fn recovery_point_lifecycle_and_capital_c() {
        let ev = envelope(
            RECOVERY_POINT,
            json!({"status": "COMPLETED", "isEncrypted": "false",
                   "lifecycle": {"deleteAfterDays": 35, "moveToColdStorageAfterDays": "7"},
                   "calculatedLifeCycle": {"deleteAt": "2020-08-19T21:39:07Z"}}),
            json!(["arn:aws:backup:us-east-1:111111111111:recovery-point:rp1"]),
        );
        let EventDetail::RecoveryPoint(r) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!()
        };
        assert_eq!(r.is_encrypted, Some(false));
        assert_eq!(r.lifecycle.unwrap().delete_after_days, Some(35));
        assert_eq!(
            r.lifecycle.unwrap().move_to_cold_storage_after_days,
            Some(7)
        );
        assert!(r.delete_at.is_some());
    }

    fn lifecycle_of(lifecycle: Value) -> Option<Lifecycle> {
        let ev = envelope(
            RECOVERY_POINT,
            json!({"status": "COMPLETED", "lifecycle": lifecycle}),
            json!(["arn:aws:backup:us-east-1:111111111111:recovery-point:rp1"]),
        );
        let EventDetail::RecoveryPoint(r) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!("recovery point expected")
        };
        r.lifecycle
    }

    #[test]
    fn never_null_and_absent_lifecycle_days_are_not_set() {
        // AWS writes "never" as -1: it parses, as "not set", like null and absent.
        for never in [
            json!({"deleteAfterDays": -1}),
            json!({"deleteAfterDays": "-1"}),
            json!({"deleteAfterDays": -1.0}),
            json!({"deleteAfterDays": null}),
            json!({}),
            json!({"deleteAfterDays": 4_294_967_296_u64}),
        ] {
            let l = lifecycle_of(never.clone()).unwrap();
            assert_eq!(l.delete_after_days, None, "{never}");
        }
        let l = lifecycle_of(json!({"deleteAfterDays": -1, "moveToColdStorageAfterDays": -1}));
        assert_eq!(l, Some(Lifecycle::default()));
        // No lifecycle object at all, or a null one.
        assert_eq!(lifecycle_of(json!(null)), None);
        let l = lifecycle_of(json!({"deleteAfterDays": "36500", "moveToColdStorageAfterDays": 30}));
        assert_eq!(
            l,
            Some(Lifecycle {
                delete_after_days: Some(36500),
                move_to_cold_storage_after_days: Some(30)
            })
        );
    }

    #[test]
    fn lifecycle_days_past_the_api_maximum_are_absent() {
        let ev = envelope(
            RECOVERY_POINT,
            json!({"status": "COMPLETED",
                   "lifecycle": {"deleteAfterDays": 36501, "moveToColdStorageAfterDays": 4294967295_u64}}),
            json!([]),
        );
        let EventDetail::RecoveryPoint(r) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!()
        };
        assert_eq!(r.lifecycle, Some(Lifecycle::default()));
        let ev = envelope(
            RECOVERY_POINT,
            json!({"status": "COMPLETED", "lifecycle": {"deleteAfterDays": 36500}}),
            json!([]),
        );
        let EventDetail::RecoveryPoint(r) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!()
        };
        assert_eq!(r.lifecycle.unwrap().delete_after_days, Some(36500));
    }

    #[test]
    fn other_unknown_and_foreign_are_recognised() {
        let other = envelope("Backup Vault State Change", json!({}), json!([]));
        assert_eq!(
            ParsedEvent::parse(&other).unwrap().detail,
            EventDetail::Other
        );
        let unknown = envelope("Quantum Vault State Change", json!(null), json!([]));
        assert_eq!(
            ParsedEvent::parse(&unknown).unwrap().detail,
            EventDetail::Unknown
        );
        let mut foreign = envelope(BACKUP_JOB, json!({}), json!([]));
        foreign["source"] = json!("aws.s3");
        assert_eq!(
            ParsedEvent::parse(&foreign).unwrap().detail,
            EventDetail::ForeignSource
        );
    }

    #[test]
    fn text_over_the_eventbridge_limit_is_refused_before_parsing() {
        let big = format!("{{\"id\": \"{}\"}}", "x".repeat(MAX_EVENT_BYTES));
        assert_eq!(
            ParsedEvent::parse_str(&big),
            Err(EventError::TooLarge {
                size: big.len(),
                limit: MAX_EVENT_BYTES
            })
        );
        // Exactly at the limit is still read (and here fails for what it is, not its size).
        let at_limit = " ".repeat(MAX_EVENT_BYTES - 2) + "[]";
        assert_eq!(
            ParsedEvent::parse_str(&at_limit),
            Err(EventError::NotAnObject)
        );
    }

    fn creation_date_of(date: Value) -> Option<DateTime<Utc>> {
        let ev = envelope(
            BACKUP_JOB,
            json!({"state": "COMPLETED", "creationDate": date}),
            json!([]),
        );
        let EventDetail::BackupJob(b) = ParsedEvent::parse(&ev).unwrap().detail else {
            panic!("backup job expected")
        };
        b.creation_date
    }

    #[test]
    fn far_future_and_odd_numeric_dates_are_absent_not_a_panic() {
        for date in [
            json!(1e300),
            json!(-1e300),
            json!(i64::MAX),
            json!(i64::MIN),
            json!(u64::MAX),
            json!(253_402_300_800_i64), // 10000-01-01T00:00:00Z
            json!(-1),
            json!("Jul 15, 20200 9:39:07 PM"),
            json!("1969-12-31T23:59:59Z"),
        ] {
            assert_eq!(creation_date_of(date.clone()), None, "{date}");
        }
        assert_eq!(
            creation_date_of(json!(1_594_849_147.5)).map(|d| d.to_rfc3339()),
            Some("2020-07-15T21:39:07.500+00:00".to_string())
        );
        assert_eq!(
            creation_date_of(json!(253_402_300_799_i64)).map(|d| d.to_rfc3339()),
            Some("9999-12-31T23:59:59+00:00".to_string())
        );
    }

    #[test]
    fn malformed_input_is_a_typed_error() {
        assert!(matches!(
            ParsedEvent::parse_str("{not json"),
            Err(EventError::NotJson(_))
        ));
        assert_eq!(
            ParsedEvent::parse(&json!([1, 2])),
            Err(EventError::NotAnObject)
        );
        assert_eq!(
            ParsedEvent::parse(&json!({"detail-type": "x"})),
            Err(EventError::MissingId)
        );
        let no_detail = json!({"id": "e9", "detail-type": BACKUP_JOB, "source": "aws.backup"});
        let err = ParsedEvent::parse(&no_detail).unwrap_err();
        assert_eq!(err.event_id(), Some("e9"));
        let bad_resources = json!({"id": "e9", "detail-type": BACKUP_JOB, "source": "aws.backup", "resources": "x", "detail": {"state": "COMPLETED"}});
        assert!(ParsedEvent::parse(&bad_resources).is_err());
    }
}
