//! What a restore does not bring back, read from a table and put on another (DynamoDB):
//! point-in-time recovery, TTL, the stream, deletion protection and the tags.

use aws_sdk_dynamodb::types::{
    PointInTimeRecoverySpecification, StreamSpecification, StreamViewType, Tag,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use relay_core::arn::Location;
use relay_core::ports::{ErrorKind, PortError, PortResult, TableSettings};

use crate::errors::classify;
use crate::tables::{table_arn, DynamoApi};
use crate::tags::table_tags;

fn invalid(op: &'static str, e: impl std::fmt::Display) -> PortError {
    PortError::new(ErrorKind::Permanent, op, None, e.to_string())
}

impl DynamoApi {
    /// The table's settings; `None` when there is no such table.
    pub async fn table_settings(
        &self,
        at: &Location,
        name: &str,
    ) -> PortResult<Option<TableSettings>> {
        let out = match self
            .client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTable", &e))
        {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        let Some(table) = out.table() else {
            return Err(PortError::new(
                ErrorKind::Retryable,
                "DescribeTable",
                None,
                "response had no Table",
            ));
        };
        let stream = table
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|v| v.as_str().to_string());
        let ttl = self
            .client
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(|e| classify("DescribeTimeToLive", &e))?;
        let ttl_attribute = ttl
            .time_to_live_description()
            .filter(|d| {
                matches!(
                    d.time_to_live_status(),
                    Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
                )
            })
            .and_then(|d| d.attribute_name())
            .map(str::to_string);
        let arn = table
            .table_arn()
            .map_or_else(|| table_arn(at, name), str::to_string);
        Ok(Some(TableSettings {
            pitr: self.pitr(name).await?.unwrap_or(false),
            ttl_attribute,
            stream_view_type: stream,
            deletion_protection: table.deletion_protection_enabled().unwrap_or(false),
            tags: table_tags(&self.client, &arn).await?,
        }))
    }

    /// Put `want` on the table, each setting only where it differs from what the table has.
    pub async fn apply_table_settings(
        &self,
        at: &Location,
        name: &str,
        want: &TableSettings,
    ) -> PortResult<()> {
        let Some(have) = self.table_settings(at, name).await? else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                "DescribeTable",
                Some("ResourceNotFoundException"),
                format!("table {name} not found"),
            ));
        };
        if want.pitr && !have.pitr {
            self.enable_pitr(name).await?;
        }
        if let Some(attr) = want
            .ttl_attribute
            .as_ref()
            .filter(|a| have.ttl_attribute.as_ref() != Some(a))
        {
            self.enable_ttl(name, attr).await?;
        }
        // One change per UpdateTable: DynamoDB refuses some combinations in a single call.
        if let Some(view) = want
            .stream_view_type
            .as_ref()
            .filter(|_| have.stream_view_type.is_none())
        {
            self.enable_stream(name, view).await?;
        }
        if want.deletion_protection && !have.deletion_protection {
            self.client
                .update_table()
                .table_name(name)
                .deletion_protection_enabled(true)
                .send()
                .await
                .map_err(|e| classify("UpdateTable", &e))?;
        }
        self.add_tags(at, name, want, &have).await
    }

    async fn enable_pitr(&self, name: &str) -> PortResult<()> {
        let spec = PointInTimeRecoverySpecification::builder()
            .point_in_time_recovery_enabled(true)
            .build()
            .map_err(|e| invalid("UpdateContinuousBackups", e))?;
        self.client
            .update_continuous_backups()
            .table_name(name)
            .point_in_time_recovery_specification(spec)
            .send()
            .await
            .map_err(|e| classify("UpdateContinuousBackups", &e))?;
        Ok(())
    }

    async fn enable_ttl(&self, name: &str, attribute: &str) -> PortResult<()> {
        let spec = TimeToLiveSpecification::builder()
            .enabled(true)
            .attribute_name(attribute)
            .build()
            .map_err(|e| invalid("UpdateTimeToLive", e))?;
        self.client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(spec)
            .send()
            .await
            .map_err(|e| classify("UpdateTimeToLive", &e))?;
        Ok(())
    }

    async fn enable_stream(&self, name: &str, view: &str) -> PortResult<()> {
        let spec = StreamSpecification::builder()
            .stream_enabled(true)
            .stream_view_type(StreamViewType::from(view))
            .build()
            .map_err(|e| invalid("UpdateTable", e))?;
        self.client
            .update_table()
            .table_name(name)
            .stream_specification(spec)
            .send()
            .await
            .map_err(|e| classify("UpdateTable", &e))?;
        Ok(())
    }

    /// The tags the table lacks (or has with another value): TagResource once, if any.
    async fn add_tags(
        &self,
        at: &Location,
        name: &str,
        want: &TableSettings,
        have: &TableSettings,
    ) -> PortResult<()> {
        let missing: Vec<Tag> = want
            .tags
            .iter()
            .filter(|(k, v)| have.tags.get(*k) != Some(*v))
            .map(|(k, v)| {
                Tag::builder()
                    .key(k)
                    .value(v)
                    .build()
                    .map_err(|e| invalid("TagResource", e))
            })
            .collect::<PortResult<_>>()?;
        if !missing.is_empty() {
            self.client
                .tag_resource()
                .resource_arn(table_arn(at, name))
                .set_tags(Some(missing))
                .send()
                .await
                .map_err(|e| classify("TagResource", &e))?;
        }
        Ok(())
    }
}
