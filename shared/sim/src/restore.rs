//! Restore jobs in the simulated AWS Backup: a new table from a recovery point in the same
//! account and Region, after a time that grows with the table's size, or a failure with AWS's
//! message (the name is taken, the key is not usable, the point is elsewhere). Restore Job State
//! Change events carry the real fields.

use chrono::Duration;
use relay_compliance::inventory::RestoreTest;
use relay_core::arn::{Location, TableArn};
use relay_core::ports::{
    ErrorKind, PortError, PortResult, RestoreEvidence, RestoreJobStatus, RestorePort, StartRestore,
    TableSettings, TableState,
};
use relay_restore::drill::{DrillInFlight, DrillStore};
use serde_json::{json, Value};

use crate::world::{Sim, SimRecoveryPoint, SimRestoreJob, SimTable, World};

/// A restore takes this long, plus [`MINUTES_PER_GB`] a gigabyte, give or take a fifth.
pub const BASE_MINUTES: i64 = 6;
pub const MINUTES_PER_GB: i64 = 2;
/// A restore from the cold tier takes this much longer: AWS says restores from cold storage
/// take longer and gives no figure; four hours is this simulator's assumption.
pub const COLD_RESTORE_EXTRA_MINUTES: i64 = 240;

impl World {
    fn start_restore(&mut self, req: &StartRestore) -> PortResult<String> {
        const OP: &str = "StartRestoreJob";
        self.call_in(&req.account, &req.region, OP)?;
        if let Some(answer) = self.restore_replay(req) {
            return answer;
        }
        let (rp, name) = self.restore_checked(req)?;
        let size_gb = self.table(&rp.resource_arn).map_or(1, |t| t.size_gb);
        // A restore from the cold tier first brings the data back warm.
        let thaw = if self.cold_points.contains(&rp.arn) {
            COLD_RESTORE_EXTRA_MINUTES
        } else {
            0
        };
        let minutes = BASE_MINUTES + MINUTES_PER_GB * i64::from(size_gb) + thaw;
        let jitter = self.rng.between(0, minutes / 5 + 1);
        let mut job = SimRestoreJob {
            id: self.rng.uuid(),
            account: req.account.clone(),
            region: req.region.clone(),
            recovery_point_arn: rp.arn.clone(),
            target: TableArn {
                partition: req.partition.clone(),
                region: req.region.clone(),
                account: req.account.clone(),
                table: name.clone(),
            },
            source_table: rp.resource_arn.clone(),
            copy_source_tags: req.copy_source_tags,
            state: "RUNNING",
            status_message: None,
            created_at: self.now,
            finish_at: self.now + Duration::minutes(minutes + jitter),
            completed_at: None,
            size_gb,
            iam_role_arn: req.iam_role_arn.clone(),
            metadata: req.metadata.clone(),
        };
        if let Some(why) = self.restore_refusal(req, &job.target) {
            job.state = "FAILED";
            job.status_message = Some(why);
            job.completed_at = Some(self.now);
        }
        self.restore_jobs.push(job);
        let i = self.restore_jobs.len() - 1;
        if !req.idempotency_token.is_empty() {
            self.restore_tokens
                .insert((req.account.clone(), req.idempotency_token.clone()), i);
        }
        let ev = self.restore_event(i);
        self.emit(ev);
        Ok(self.restore_jobs[i].id.clone())
    }

    /// What StartRestoreJob checks first: its inputs, the point there, in the account and Region
    /// the restore runs in (restores cannot cross them), and the new table's name.
    fn restore_checked(&self, req: &StartRestore) -> PortResult<(SimRecoveryPoint, String)> {
        const OP: &str = "StartRestoreJob";
        let invalid = |m: String| {
            PortError::new(
                ErrorKind::Permanent,
                OP,
                Some("InvalidParameterValueException"),
                m,
            )
        };
        if let Some(why) = restore_request_refusal(req) {
            return Err(invalid(why));
        }
        let Some(rp) = self.recovery_points.get(&req.recovery_point_arn).cloned() else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                OP,
                Some("ResourceNotFoundException"),
                format!("recovery point {} not found", req.recovery_point_arn),
            ));
        };
        if (rp.vault.account.as_str(), rp.vault.region.as_str())
            != (req.account.as_str(), req.region.as_str())
        {
            return Err(invalid(format!(
                "recovery point {} is not in {}/{}: restores cannot cross accounts or Regions",
                rp.arn, req.account, req.region
            )));
        }
        let Some(name) = req.metadata.get("targetTableName").cloned() else {
            return Err(invalid("metadata targetTableName is required".into()));
        };
        Ok((rp, name))
    }

    /// A start whose token AWS remembers: that job again, or a refusal when the request differs.
    fn restore_replay(&self, req: &StartRestore) -> Option<PortResult<String>> {
        if req.idempotency_token.is_empty() {
            return None;
        }
        let key = (req.account.clone(), req.idempotency_token.clone());
        let job = &self.restore_jobs[*self.restore_tokens.get(&key)?];
        Some(match restore_token_mismatch(job, req) {
            Some(refusal) => Err(refusal),
            None => Ok(job.id.clone()),
        })
    }

    /// Why AWS fails this restore at once (the job ends FAILED with this message), if it does.
    fn restore_refusal(&self, req: &StartRestore, target: &TableArn) -> Option<String> {
        let taken = self.tables.iter().any(|t| &t.arn == target)
            || self
                .restore_jobs
                .iter()
                .any(|j| &j.target == target && j.state == "RUNNING");
        if taken {
            return Some(format!("Table already exists: {}", target.table));
        }
        let key = req.metadata.get("kmsMasterKeyArn")?;
        // A key of another account is usable only when shared; the simulator shares none.
        let key_account = key.split(':').nth(4).unwrap_or_default();
        (key_account != req.account).then(|| {
            format!(
                "The KMS key {key} is not accessible or is not usable by AWS Backup in account {}",
                req.account
            )
        })
    }

    /// Finish the restore jobs that are due: the table appears, ACTIVE.
    pub fn step_restores(&mut self) {
        let now = self.now;
        for i in 0..self.restore_jobs.len() {
            let job = &self.restore_jobs[i];
            if job.state != "RUNNING" || job.finish_at > now {
                continue;
            }
            let source_tags = self.table(&job.source_table).map(|t| t.tags.clone());
            let mut table = SimTable::new(job.target.clone(), Default::default());
            table.size_gb = job.size_gb;
            // A restore brings back neither PITR nor, unless asked, the tags (facts §11).
            table.pitr = false;
            if job.copy_source_tags {
                table.tags = source_tags.unwrap_or_default();
            }
            self.tables.push(table);
            self.reindex_tables();
            let job = &mut self.restore_jobs[i];
            job.state = "COMPLETED";
            job.completed_at = Some(now);
            let ev = self.restore_event(i);
            self.emit(ev);
        }
    }

    fn restore_event(&mut self, i: usize) -> Value {
        let j = &self.restore_jobs[i];
        let mut detail = json!({
            "restoreJobId": j.id, "backupSizeInBytes": (u64::from(j.size_gb) << 30).to_string(),
            "creationDate": j.created_at.to_rfc3339(), "iamRoleArn": format!("arn:aws:iam::{}:role/backup-relay-copy", j.account),
            "percentDone": if j.state == "COMPLETED" { 100.0 } else { 0.0 }, "resourceType": "DynamoDB",
            "status": j.state, "recoveryPointArn": j.recovery_point_arn,
        });
        if let Some(done) = j.completed_at {
            detail["completionDate"] = json!(done.to_rfc3339());
        }
        if j.state == "COMPLETED" {
            detail["createdResourceArn"] = json!(j.target.to_string());
        }
        if let Some(m) = &j.status_message {
            detail["statusMessage"] = json!(m);
        }
        let (account, region, resource) = (
            j.account.clone(),
            j.region.clone(),
            j.recovery_point_arn.clone(),
        );
        self.envelope(
            "Restore Job State Change",
            &account,
            &region,
            vec![resource],
            detail,
        )
    }
}

/// What AWS refuses at once about a restore's request: a table name DynamoDB would refuse, a
/// role outside the restoring account. (A missing name is the caller's: it says so first.)
fn restore_request_refusal(req: &StartRestore) -> Option<String> {
    if let Some(name) = req.metadata.get("targetTableName") {
        if !relay_core::arn::is_table_name(name) {
            return Some(format!(
                "Invalid targetTableName '{name}': DynamoDB table names are 3 to 255 characters of a-z, A-Z, 0-9, '_', '-' and '.'"
            ));
        }
    }
    if req.iam_role_arn.is_empty() {
        return None;
    }
    match relay_core::arn::RoleArn::parse(&req.iam_role_arn) {
        Err(e) => Some(format!("IamRoleArn: {e}")),
        Ok(role) if role.account != req.account => Some(format!(
            "IamRoleArn {} is not a role of the restoring account {}",
            req.iam_role_arn, req.account
        )),
        Ok(_) => None,
    }
}

/// A token already used for another restore: AWS keeps a token to one request.
fn restore_token_mismatch(job: &SimRestoreJob, req: &StartRestore) -> Option<PortError> {
    let same = job.recovery_point_arn == req.recovery_point_arn
        && job.metadata == req.metadata
        && job.iam_role_arn == req.iam_role_arn
        && job.copy_source_tags == req.copy_source_tags;
    (!same).then(|| {
        PortError::new(
            ErrorKind::Permanent,
            "StartRestoreJob",
            Some("InvalidRequestException"),
            format!(
                "IdempotencyToken {} was already used for another request (restore job {}): a token may be reused only with the same parameters",
                req.idempotency_token, job.id
            ),
        )
    })
}

fn located(t: &SimTable, at: &Location, name: &str) -> bool {
    t.arn.account == at.account && t.arn.region == at.region && t.arn.table == name
}

impl RestorePort for Sim {
    async fn start_restore_job(&self, req: &StartRestore) -> PortResult<String> {
        self.world().start_restore(req)
    }

    async fn restore_job_status(&self, at: &Location, id: &str) -> PortResult<RestoreJobStatus> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DescribeRestoreJob")?;
        let Some(j) = w
            .restore_jobs
            .iter()
            .find(|j| j.id == id && j.account == at.account)
        else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                "DescribeRestoreJob",
                Some("ResourceNotFoundException"),
                format!("restore job {id} not found"),
            ));
        };
        Ok(RestoreJobStatus {
            state: j.state.to_string(),
            status_message: j.status_message.clone(),
            created_resource_arn: (j.state == "COMPLETED").then(|| j.target.to_string()),
            creation_date: Some(j.created_at),
            completion_date: j.completed_at,
        })
    }

    async fn table_state(&self, at: &Location, name: &str) -> PortResult<Option<TableState>> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DescribeTable")?;
        Ok(w.tables
            .iter()
            .find(|t| {
                t.arn.account == at.account && t.arn.region == at.region && t.arn.table == name
            })
            .map(|t| TableState {
                arn: t.arn.to_string(),
                status: "ACTIVE".into(),
                // The simulator's tables hold a million items a gigabyte.
                item_count: u64::from(t.size_gb) * 1_000_000,
                size_bytes: u64::from(t.size_gb) << 30,
                tags: t.tags.clone(),
            }))
    }

    async fn table_settings(&self, at: &Location, name: &str) -> PortResult<Option<TableSettings>> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DescribeTable")?;
        Ok(w.tables
            .iter()
            .find(|t| located(t, at, name))
            .map(|t| TableSettings {
                pitr: t.pitr,
                ttl_attribute: t.ttl_attribute.clone(),
                stream_view_type: t.stream_view_type.clone(),
                deletion_protection: t.deletion_protection,
                tags: t.tags.clone(),
            }))
    }

    async fn apply_table_settings(
        &self,
        at: &Location,
        name: &str,
        s: &TableSettings,
    ) -> PortResult<()> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "UpdateTable")?;
        let Some(t) = w.tables.iter_mut().find(|t| located(t, at, name)) else {
            return Err(PortError::new(
                ErrorKind::NotFound,
                "UpdateTable",
                Some("ResourceNotFoundException"),
                format!("table {name} not found"),
            ));
        };
        t.pitr |= s.pitr;
        if s.ttl_attribute.is_some() {
            t.ttl_attribute = s.ttl_attribute.clone();
        }
        if t.stream_view_type.is_none() {
            t.stream_view_type = s.stream_view_type.clone();
        }
        t.deletion_protection |= s.deletion_protection;
        t.tags.extend(s.tags.clone());
        Ok(())
    }

    async fn delete_table(&self, at: &Location, name: &str) -> PortResult<()> {
        let mut w = self.world();
        w.call_in(&at.account, &at.region, "DeleteTable")?;
        w.tables.retain(|t| {
            !(t.arn.account == at.account && t.arn.region == at.region && t.arn.table == name)
        });
        w.reindex_tables();
        Ok(())
    }
}

impl RestoreEvidence for Sim {
    async fn record_restore_test(&self, test: &RestoreTest) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("PutItem")?;
        w.restore_tests.push(test.clone());
        Ok(())
    }

    async fn restore_tests(&self) -> PortResult<Vec<RestoreTest>> {
        let mut w = self.world();
        w.throttled("Query")?;
        Ok(w.restore_tests.clone())
    }
}

impl DrillStore for Sim {
    async fn drills_in_flight(&self) -> PortResult<Vec<DrillInFlight>> {
        let mut w = self.world();
        w.throttled("Query")?;
        Ok(w.drills.values().cloned().collect())
    }

    async fn save_drill(&self, drill: &DrillInFlight) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("PutItem")?;
        w.drills.insert(drill.table_arn.clone(), drill.clone());
        Ok(())
    }

    async fn end_drill(&self, table_arn: &str) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("DeleteItem")?;
        w.drills.remove(table_arn);
        Ok(())
    }
}
