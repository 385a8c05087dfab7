//! A request's members read as AWS Backup's service model defines them: required members, JSON
//! types, ranges and patterns, each refused with the code AWS answers (a missing member
//! MissingParameterValueException, a member of the wrong JSON type SerializationException, a
//! value out of range InvalidParameterValueException).

use std::collections::BTreeMap;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use relay_core::retention::{Lifecycle, COLD_MIN_DAYS, MIN_DAYS, NEVER_EXPIRE_DAYS};
use serde_json::{Map, Value};

use super::error::AwsError;

/// The model's `MaxResults` shape: 1..=1000 (the default when it is absent).
pub(crate) const MAX_RESULTS: usize = 1000;

/// A JSON object body (none is `{}`).
pub(crate) fn body_json(body: &Bytes) -> Result<Map<String, Value>, AwsError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(AwsError::serialization(format!(
            "the request body must be a JSON object, not {other}"
        ))),
        Err(e) => Err(AwsError::serialization(e.to_string())),
    }
}

pub(crate) fn optional_text(
    v: &Map<String, Value>,
    member: &str,
) -> Result<Option<String>, AwsError> {
    match v.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(wrong_type(member, "a string", other)),
    }
}

pub(crate) fn required_text(v: &Map<String, Value>, member: &str) -> Result<String, AwsError> {
    optional_text(v, member)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AwsError::missing(member))
}

pub(crate) fn optional_bool(
    v: &Map<String, Value>,
    member: &str,
) -> Result<Option<bool>, AwsError> {
    match v.get(member) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(wrong_type(member, "a boolean", other)),
    }
}

/// A string-to-string map member (StartRestoreJob's `Metadata`).
pub(crate) fn optional_text_map(
    v: &Map<String, Value>,
    member: &str,
) -> Result<Option<BTreeMap<String, String>>, AwsError> {
    let Some(m) = v.get(member).filter(|m| !m.is_null()) else {
        return Ok(None);
    };
    let Value::Object(m) = m else {
        return Err(wrong_type(member, "an object of strings", m));
    };
    m.iter()
        .map(|(k, value)| match value {
            Value::String(s) => Ok((k.clone(), s.clone())),
            other => Err(wrong_type(&format!("{member}.{k}"), "a string", other)),
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

fn wrong_type(member: &str, wanted: &str, got: &Value) -> AwsError {
    AwsError::serialization(format!("{member} must be {wanted}, not {got}"))
}

/// A query-string timestamp: ISO 8601, as the SDKs send it, or epoch seconds.
pub(crate) fn timestamp(member: &str, value: &str) -> Result<DateTime<Utc>, AwsError> {
    if let Ok(d) = DateTime::parse_from_rfc3339(value) {
        return Ok(d.with_timezone(&Utc));
    }
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite())
        .and_then(|s| {
            // A float cast saturates; a value past the i64 range is past chrono's too.
            #[allow(clippy::cast_possible_truncation)]
            DateTime::from_timestamp_millis((s * 1000.0) as i64)
        })
        .ok_or_else(|| AwsError::invalid(format!("{member}: '{value}' is not a timestamp")))
}

/// An optional query-string timestamp.
pub(crate) fn query_time(
    query: &BTreeMap<String, String>,
    name: &str,
) -> Result<Option<DateTime<Utc>>, AwsError> {
    query.get(name).map(|t| timestamp(name, t)).transpose()
}

/// `maxResults` within the model's range 1..=1000; out of it, InvalidParameterValueException.
pub(crate) fn max_results(query: &BTreeMap<String, String>) -> Result<usize, AwsError> {
    let Some(n) = query.get("maxResults") else {
        return Ok(MAX_RESULTS);
    };
    n.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_RESULTS).contains(n))
        .ok_or_else(|| {
            AwsError::invalid(format!(
                "MaxResults: {n} is not between 1 and {MAX_RESULTS}"
            ))
        })
}

/// The model's `BackupVaultName` pattern: `^[a-zA-Z0-9\-\_]{2,50}$`.
pub(crate) fn vault_name(name: &str) -> Result<(), AwsError> {
    let ok = (2..=50).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(AwsError::invalid(format!(
            "BackupVaultName '{name}' must be 2 to 50 of a-z, A-Z, 0-9, '-' and '_'"
        )))
    }
}

/// A `Lifecycle` member. Days are 1..=36500, or -1: "to remove the existing lifecycle and
/// retention periods and keep your recovery points indefinitely, specify -1 for
/// MoveToColdStorageAfterDays and DeleteAfterDays" (the model's Lifecycle documentation), which
/// is no setting at all here. DeleteAfterDays must be at least MoveToColdStorageAfterDays + 90.
pub(crate) fn lifecycle_in(v: &Value) -> Result<Lifecycle, AwsError> {
    let Value::Object(m) = v else {
        return Err(wrong_type("Lifecycle", "an object", v));
    };
    optional_bool(m, "OptInToArchiveForSupportedResources")?;
    if m.contains_key("DeleteAfterEvent") {
        return Err(AwsError::invalid(
            "Lifecycle.DeleteAfterEvent is not valid as an input",
        ));
    }
    let lifecycle = Lifecycle {
        delete_after_days: days(m, "DeleteAfterDays")?,
        move_to_cold_storage_after_days: days(m, "MoveToColdStorageAfterDays")?,
    };
    if let Lifecycle {
        delete_after_days: Some(delete),
        move_to_cold_storage_after_days: Some(cold),
    } = lifecycle
    {
        if delete < cold + COLD_MIN_DAYS {
            return Err(AwsError::invalid(format!(
                "DeleteAfterDays ({delete}) must be at least {COLD_MIN_DAYS} days after MoveToColdStorageAfterDays ({cold})"
            )));
        }
    }
    Ok(lifecycle)
}

/// One day count of a lifecycle: `None` when absent or -1.
fn days(m: &Map<String, Value>, member: &str) -> Result<Option<u32>, AwsError> {
    let n = match m.get(member) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => n,
        Some(other) => return Err(wrong_type(member, "a whole number", other)),
    };
    if n.as_i64() == Some(-1) {
        return Ok(None);
    }
    n.as_u64()
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| (MIN_DAYS..=NEVER_EXPIRE_DAYS).contains(d))
        .map(Some)
        .ok_or_else(|| {
            AwsError::invalid(format!(
                "{member} cannot be less than {MIN_DAYS} or more than {NEVER_EXPIRE_DAYS} (or -1, to keep indefinitely): {n}"
            ))
        })
}
