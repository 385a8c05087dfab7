//! Security Hub's BatchImportFindings and EventBridge's PutEvents: the compliance report's
//! findings in each table's account and Region, its change events on the hub's bus.

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_securityhub::types::{
    AwsSecurityFinding, Compliance, ComplianceStatus, FindingProviderFields,
    FindingProviderSeverity, RecordState, Resource, Severity, SeverityLabel, Workflow,
    WorkflowStatus,
};
use relay_compliance::change_events::{ChangeDetail, DETAIL_TYPE, SOURCE};
use relay_compliance::findings::import::FailedFinding;
use relay_compliance::findings::Finding;
use relay_core::ports::{ErrorKind, PortError, PortResult};

use crate::errors::classify;

/// Security Hub in one account and Region (the client's).
pub struct SecurityHubApi {
    client: aws_sdk_securityhub::Client,
}

impl SecurityHubApi {
    pub fn new(client: aws_sdk_securityhub::Client) -> Self {
        Self { client }
    }

    /// One BatchImportFindings call: the findings its answer says it refused.
    pub async fn import(&self, findings: &[Finding]) -> PortResult<Vec<FailedFinding>> {
        let out = self
            .client
            .batch_import_findings()
            .set_findings(Some(findings.iter().map(asff).collect()))
            .send()
            .await
            .map_err(|e| classify("BatchImportFindings", &e))?;
        Ok(out
            .failed_findings()
            .iter()
            .map(|f| FailedFinding {
                id: f.id().unwrap_or_default().to_string(),
                code: f.error_code().unwrap_or_default().to_string(),
                message: f.error_message().unwrap_or_default().to_string(),
            })
            .collect())
    }
}

/// Our finding in the SDK's shape: the same members, the enums by their wire values.
fn asff(f: &Finding) -> AwsSecurityFinding {
    let mut b = AwsSecurityFinding::builder()
        .schema_version(&f.schema_version)
        .id(&f.id)
        .product_arn(&f.product_arn)
        .product_name(&f.product_name)
        .company_name(&f.company_name)
        .region(&f.region)
        .generator_id(&f.generator_id)
        .aws_account_id(&f.aws_account_id)
        .set_types(Some(f.types.clone()))
        .created_at(&f.created_at)
        .updated_at(&f.updated_at)
        .severity(
            Severity::builder()
                .label(SeverityLabel::from(f.severity.label.as_str()))
                .build(),
        )
        .finding_provider_fields(
            FindingProviderFields::builder()
                .severity(
                    FindingProviderSeverity::builder()
                        .label(SeverityLabel::from(
                            f.finding_provider_fields.severity.label.as_str(),
                        ))
                        .build(),
                )
                .set_types(Some(f.finding_provider_fields.types.clone()))
                .build(),
        )
        .title(&f.title)
        .description(&f.description)
        .compliance(
            Compliance::builder()
                .status(ComplianceStatus::from(f.compliance.status.as_str()))
                .build(),
        )
        .record_state(RecordState::from(f.record_state.as_str()))
        .workflow(
            Workflow::builder()
                .status(WorkflowStatus::from(f.workflow.status.as_str()))
                .build(),
        );
    for r in &f.resources {
        b = b.resources(
            Resource::builder()
                .r#type(&r.kind)
                .id(&r.id)
                .partition(aws_sdk_securityhub::types::Partition::from(
                    r.partition.as_str(),
                ))
                .region(&r.region)
                .build(),
        );
    }
    b.build()
}

/// The hub's event bus.
pub struct EventBus {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

impl EventBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// One PutEvents call: the indexes of the entries it refused.
    pub async fn put(&self, details: &[ChangeDetail]) -> PortResult<Vec<usize>> {
        let mut entries = Vec::with_capacity(details.len());
        for d in details {
            let detail = serde_json::to_string(d).map_err(|e| {
                PortError::new(ErrorKind::Permanent, "PutEvents", None, e.to_string())
            })?;
            entries.push(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(DETAIL_TYPE)
                    .resources(&d.table_arn)
                    .detail(detail)
                    .build(),
            );
        }
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PutEvents", &e))?;
        // Entries answer in the order sent; a refused one carries an error code.
        Ok(out
            .entries()
            .iter()
            .enumerate()
            .filter(|(_, e)| e.error_code().is_some())
            .map(|(i, _)| i)
            .collect())
    }
}
