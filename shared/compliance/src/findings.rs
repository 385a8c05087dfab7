//! The report as AWS Security Hub findings (ASFF, design.md "Compliance where teams look"): one
//! finding per table and applicable control, in the table's own account and Region (Security
//! Hub takes findings only from the account they name). Pure: what to import and when is
//! [`plan`]; the calls are [`import`].

pub mod import;
pub mod outcome;
pub mod plan;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::{ControlId, ControlResult, Report, ResourceReport, Status};

pub const SCHEMA_VERSION: &str = "2018-10-08";
/// The one finding type the controls map to (namespace/category/classifier).
pub const FINDING_TYPE: &str = "Software and Configuration Checks/AWS Security Best Practices";
/// ASFF's limits on the two free-text fields.
pub const MAX_TITLE_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
const PRODUCT_NAME: &str = "Backup Relay";

/// One ASFF finding, as BatchImportFindings takes it (PascalCase members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Finding {
    pub schema_version: String,
    pub id: String,
    pub product_arn: String,
    pub product_name: String,
    pub company_name: String,
    pub region: String,
    pub generator_id: String,
    pub aws_account_id: String,
    pub types: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
    pub severity: Severity,
    /// The provider's own severity and types: Security Hub updates the top-level ones from these
    /// unless a person changed them (BatchUpdateFindings), and keeps these as sent.
    pub finding_provider_fields: FindingProviderFields,
    pub title: String,
    pub description: String,
    pub resources: Vec<Resource>,
    pub compliance: Compliance,
    pub record_state: String,
    pub workflow: Workflow,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Severity {
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FindingProviderFields {
    pub severity: Severity,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Resource {
    #[serde(rename = "Type")]
    pub kind: String,
    pub id: String,
    pub partition: String,
    pub region: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Compliance {
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Workflow {
    pub status: String,
}

impl Finding {
    pub fn is_failed(&self) -> bool {
        self.compliance.status == "FAILED"
    }

    fn set_severity(&mut self, label: &str) {
        self.severity.label = label.to_string();
        self.finding_provider_fields.severity.label = label.to_string();
    }
}

/// The finding's id: the same table and control give the same id in every run, so an import
/// updates the finding rather than adding one.
pub fn finding_id(control: ControlId, table_arn: &str) -> String {
    finding_id_of(control.as_str(), table_arn)
}

fn finding_id_of(control: &str, table_arn: &str) -> String {
    format!("backup-relay/{control}/{table_arn}")
}

/// The custom-integration product of `account` in `region`: where its own findings go.
pub fn product_arn(partition: &str, region: &str, account: &str) -> String {
    format!("arn:{partition}:securityhub:{region}:{account}:product/{account}/default")
}

/// ASFF timestamps: RFC 3339 with milliseconds, UTC.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Every finding of the report: one per table and control that applies, in the report's order.
pub fn findings(report: &Report) -> Vec<Finding> {
    report
        .resources
        .iter()
        .flat_map(|r| table_findings(r, report.generated_at))
        .collect()
}

/// One table's findings.
pub fn table_findings(r: &ResourceReport, at: DateTime<Utc>) -> Vec<Finding> {
    r.controls
        .iter()
        .filter(|c| c.status != Status::NotApplicable)
        .map(|c| finding(r, c, at))
        .collect()
}

fn finding(r: &ResourceReport, c: &ControlResult, at: DateTime<Utc>) -> Finding {
    let failed = c.status == Status::NonCompliant;
    let title = format!("{} ({}): {}", c.id.as_str(), r.name, c.id.question());
    let mut f = base(r, c.id.as_str(), at);
    f.set_severity(if failed {
        severity(c.id)
    } else {
        "INFORMATIONAL"
    });
    f.title = cut(&title, MAX_TITLE_CHARS);
    f.description = cut(&c.reason, MAX_DESCRIPTION_CHARS);
    f.compliance.status = if failed { "FAILED" } else { "PASSED" }.into();
    f.workflow.status = if failed { "NEW" } else { "RESOLVED" }.into();
    f
}

/// The finding of a table that left the report, archived: Security Hub retires it.
pub fn archived(
    table_arn: &str,
    name: &str,
    account: &str,
    region: &str,
    control: &str,
    at: DateTime<Utc>,
) -> Finding {
    let r = ResourceReport {
        resource_arn: table_arn.to_string(),
        name: name.to_string(),
        account: account.to_string(),
        region: region.to_string(),
        status: Status::NotApplicable,
        controls: Vec::new(),
    };
    let mut f = base(&r, control, at);
    f.set_severity("INFORMATIONAL");
    f.title = cut(
        &format!("{control} ({name}): no longer evaluated"),
        MAX_TITLE_CHARS,
    );
    f.description = "The table is no longer in Backup Relay's report (deleted, or out of the \
                     policy's scope): the finding is archived."
        .into();
    f.compliance.status = "PASSED".into();
    f.record_state = "ARCHIVED".into();
    f.workflow.status = "RESOLVED".into();
    f
}

fn base(r: &ResourceReport, control: &str, at: DateTime<Utc>) -> Finding {
    let partition = partition_of(&r.resource_arn);
    let at = timestamp(at);
    Finding {
        schema_version: SCHEMA_VERSION.into(),
        id: finding_id_of(control, &r.resource_arn),
        product_arn: product_arn(partition, &r.region, &r.account),
        product_name: PRODUCT_NAME.into(),
        company_name: PRODUCT_NAME.into(),
        region: r.region.clone(),
        generator_id: control.to_string(),
        aws_account_id: r.account.clone(),
        types: vec![FINDING_TYPE.into()],
        created_at: at.clone(),
        updated_at: at,
        severity: Severity {
            label: String::new(),
        },
        finding_provider_fields: FindingProviderFields {
            severity: Severity {
                label: String::new(),
            },
            types: vec![FINDING_TYPE.into()],
        },
        title: String::new(),
        description: String::new(),
        resources: vec![Resource {
            kind: "AwsDynamoDbTable".into(),
            id: r.resource_arn.clone(),
            partition: partition.to_string(),
            region: r.region.clone(),
        }],
        compliance: Compliance {
            status: String::new(),
        },
        record_state: "ACTIVE".into(),
        workflow: Workflow {
            status: String::new(),
        },
    }
}

/// The partition of an ARN (`aws`, `aws-cn`, `aws-us-gov`); `aws` when it has none.
fn partition_of(arn: &str) -> &str {
    arn.split(':')
        .nth(1)
        .filter(|p| !p.is_empty())
        .unwrap_or("aws")
}

/// How bad a failed control is: no copy where one must be, or a copy that will expire, is HIGH;
/// what weakens protection that exists is MEDIUM; missing cost tags are LOW.
pub fn severity(control: ControlId) -> &'static str {
    use ControlId::*;
    match control {
        BackupResourcesProtectedByBackupPlan
        | BackupLastRecoveryPointCreated
        | BackupRecoveryPointMinimumRetentionCheck
        | BackupResourcesProtectedByCrossRegion
        | BackupResourcesProtectedByCrossAccount
        | RelayChainComplete
        | RelayNeverExpireRetention
        | RelayNoNativeOnlyBackups => "HIGH",
        BackupPlanMinFrequencyAndMinRetentionCheck
        | BackupRecoveryPointEncrypted
        | BackupRecoveryPointManualDeletionDisabled
        | BackupResourcesProtectedByBackupVaultLock
        | RestoreTimeForResourcesMeetTarget
        | RelayPitrEnabled
        | RelayAdvancedFeatures
        | RelayOpenIncidents => "MEDIUM",
        RelayCopyTags => "LOW",
    }
}

/// At most `max` characters, an ellipsis saying it was cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests;
