//! Tags on recovery points as AWS Backup keeps them (facts §13): a backup of a table with
//! advanced features inherits the table's tags, a copy into another Region carries its source's,
//! any other copy carries none; ListTags and TagResource only in the vault's own account, within
//! AWS's limits.

use relay_core::copy_tags::{bad_tag_char, is_aws_key, MAX_KEY_CHARS, MAX_TAGS, MAX_VALUE_CHARS};

use super::*;

impl World {
    pub(super) fn inherit_table_tags(&mut self, point: &str, table: &TableArn) {
        let tags = self.table(&table.to_string()).map(|t| t.tags.clone());
        if let Some(tags) = tags.filter(|t| !t.is_empty()) {
            self.point_tags.insert(point.to_string(), tags);
        }
    }

    /// AWS documents that a cross-Region copy carries every tag of its source.
    pub(super) fn carry_tags_across_regions(&mut self, source: &SimRecoveryPoint, copy: &str) {
        let Some(dest) = self.recovery_points.get(copy) else {
            return;
        };
        if dest.vault.region == source.vault.region {
            return;
        }
        if let Some(tags) = self.point_tags.get(&source.arn).cloned() {
            self.point_tags.insert(copy.to_string(), tags);
        }
    }

    /// The tags of a point, `None` when the vault holds no such point.
    pub fn tags_of_point(&self, arn: &str) -> Option<Tags> {
        self.recovery_points
            .contains_key(arn)
            .then(|| self.point_tags.get(arn).cloned().unwrap_or_default())
    }

    /// ListTags, in the vault's account.
    pub(super) fn list_tags(&mut self, vault: &VaultArn, arn: &str) -> PortResult<Tags> {
        self.call_in(&vault.account, &vault.region, "ListTags")?;
        if self.tag_reads_refused.contains(&vault.account) {
            return Err(PortError::new(
                ErrorKind::AccessDenied,
                "ListTags",
                Some("AccessDeniedException"),
                format!("not authorized to perform: backup:ListTags on {arn}"),
            ));
        }
        self.taggable(vault, arn, "ListTags")?;
        Ok(self.point_tags.get(arn).cloned().unwrap_or_default())
    }

    /// TagResource, in the vault's account: every tag checked before any is set.
    pub(super) fn tag_point(&mut self, vault: &VaultArn, arn: &str, tags: &Tags) -> PortResult<()> {
        const OP: &str = "TagResource";
        self.call_in(&vault.account, &vault.region, OP)?;
        if self.tagging_refused.contains(&vault.account) {
            return Err(PortError::new(
                ErrorKind::AccessDenied,
                OP,
                Some("AccessDeniedException"),
                format!("not authorized to perform: backup:TagResource on {arn}"),
            ));
        }
        self.taggable(vault, arn, OP)?;
        let invalid = |message: String| {
            PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                message,
            )
        };
        for (k, v) in tags {
            if is_aws_key(k) {
                return Err(invalid(format!("tag key {k}: the aws: prefix is reserved")));
            }
            if let Some(c) = bad_tag_char(k).or(bad_tag_char(v)) {
                return Err(invalid(format!(
                    "tag {k}: '{c}' is not allowed (letters, digits, spaces and _.:/=+-@)"
                )));
            }
            if k.is_empty() || k.chars().count() > MAX_KEY_CHARS {
                return Err(invalid(format!("tag key {k} must be 1-128 characters")));
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(invalid(format!("tag value of {k} is over 256 characters")));
            }
        }
        let mut merged = self.point_tags.get(arn).cloned().unwrap_or_default();
        merged.extend(tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        if merged.keys().filter(|k| !is_aws_key(k)).count() > MAX_TAGS {
            return Err(PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("LimitExceededException"),
                format!("{arn} would have more than {MAX_TAGS} tags"),
            ));
        }
        self.point_tags.insert(arn.to_string(), merged);
        self.counters.tag_calls += 1;
        // The `fail` fault: the tags were set, the answer never came.
        if self.lost_tag_answers > 0 || self.rng.chance(self.faults.copy_failure) {
            self.lost_tag_answers = self.lost_tag_answers.saturating_sub(1);
            return Err(PortError::new(
                ErrorKind::Retryable,
                OP,
                None,
                "timeout: the request was sent, no answer came",
            ));
        }
        Ok(())
    }

    /// UntagResource, in the vault's account: keys it does not carry are no error.
    pub fn untag_point(&mut self, vault: &VaultArn, arn: &str, keys: &[String]) -> PortResult<()> {
        self.call_in(&vault.account, &vault.region, "UntagResource")?;
        self.taggable(vault, arn, "UntagResource")?;
        if let Some(tags) = self.point_tags.get_mut(arn) {
            tags.retain(|k, _| !keys.contains(k));
        }
        Ok(())
    }

    /// Only AWS Backup's own recovery points of this vault take tags.
    fn taggable(&self, vault: &VaultArn, arn: &str, op: &'static str) -> PortResult<()> {
        if !arn.starts_with("arn:aws") || !arn.contains(":backup:") {
            return Err(PortError::new(
                ErrorKind::Permanent,
                op,
                Some("InvalidParameterValueException"),
                format!("{arn} is not a recovery point AWS Backup can tag"),
            ));
        }
        match self.recovery_points.get(arn) {
            Some(rp) if &rp.vault == vault => Ok(()),
            _ => Err(PortError::new(
                ErrorKind::NotFound,
                op,
                Some("ResourceNotFoundException"),
                format!("{arn} not found"),
            )),
        }
    }
}
