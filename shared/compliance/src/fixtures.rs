//! Hand-made reports for the tests of what is derived from a report (metrics, alerts).

use chrono::{DateTime, Utc};

use super::{summarize, ControlId, ControlResult, Report, ResourceReport, Status, SCHEMA};

pub(crate) fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// A table in `account`/us-east-1 whose listed controls failed (every other control compliant).
pub(crate) fn table(name: &str, account: &str, failed: &[(ControlId, &str)]) -> ResourceReport {
    let controls: Vec<ControlResult> = ControlId::ALL
        .iter()
        .map(|id| {
            let failure = failed.iter().find(|(f, _)| f == id);
            ControlResult {
                id: *id,
                status: failure.map_or(Status::Compliant, |_| Status::NonCompliant),
                reason: failure.map_or("ok", |(_, r)| r).to_string(),
                evidence: Vec::new(),
            }
        })
        .collect();
    ResourceReport {
        resource_arn: format!("arn:aws:dynamodb:us-east-1:{account}:table/{name}"),
        name: name.to_string(),
        account: account.to_string(),
        region: "us-east-1".to_string(),
        status: if failed.is_empty() {
            Status::Compliant
        } else {
            Status::NonCompliant
        },
        controls,
    }
}

pub(crate) fn report(generated_at: &str, resources: Vec<ResourceReport>) -> Report {
    Report {
        schema: SCHEMA.to_string(),
        generated_at: at(generated_at),
        policy_digest: "sha256:test".to_string(),
        parameters: Default::default(),
        summary: summarize(&resources),
        resources,
        gaps: Vec::new(),
        cost: None,
    }
}
