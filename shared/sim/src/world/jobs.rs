//! Backup and copy jobs: a plan's backups (and its own copy actions), StartCopyJob as AWS checks
//! and runs it (one job per resource at a time), and how a copy job ends.

use super::*;

impl World {
    /// A copy job by its id, wherever it ran.
    pub fn copy_job(&self, id: &str) -> Option<&SimCopyJob> {
        self.job_by_id.get(id).map(|&i| &self.jobs[i])
    }

    /// Record a new copy job in every index; returns its index.
    pub(super) fn push_job(&mut self, job: SimCopyJob) -> usize {
        let i = self.jobs.len();
        self.job_by_id.insert(job.id.clone(), i);
        self.jobs_by_hop
            .entry((job.resource_arn.clone(), job.dest_vault.clone()))
            .or_default()
            .push(i);
        self.active_jobs.insert(i);
        self.jobs.push(job);
        i
    }

    /// A backup plan's job finished: a recovery point in `vault`, and the job's events.
    /// `copy_to`: the plan's copy action, lifecycle "never" (AWS keeps the source's expiry).
    pub fn complete_backup(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        lifecycle: Lifecycle,
        copy_to: Option<&VaultArn>,
    ) -> Option<String> {
        if let Some(why) = self.backup_refused(vault, &lifecycle) {
            self.failed_backup(table, vault, created, why);
            return None;
        }
        let native = self
            .native_regions
            .contains(&(vault.account.clone(), vault.region.clone()));
        let rp = if native {
            // Without advanced features AWS Backup makes a DynamoDB-native backup.
            format!("{}/backup/{}", table, self.rng.uuid())
        } else {
            self.new_recovery_point_arn(vault)
        };
        self.insert_point(SimRecoveryPoint {
            arn: rp.clone(),
            vault: vault.clone(),
            resource_arn: table.to_string(),
            creation_date: created,
            lifecycle,
            delete_at: delete_at(created, &lifecycle),
            source: None,
            completed_at: self.now,
            status: "COMPLETED",
            source_vault: None,
        });
        if !native {
            self.inherit_table_tags(&rp, table);
        }
        self.backup_job_events(table, vault, created, &rp);
        if let Some(dest) = copy_to.filter(|_| !native).cloned() {
            self.plan_copy_action(table, vault, created, &rp, dest);
        }
        Some(rp)
    }

    /// The backup job's events as AWS Backup emits them: CREATED, RUNNING, COMPLETED (with the
    /// recovery point in `resources[0]`).
    fn backup_job_events(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        rp: &str,
    ) {
        let job_id = self.rng.uuid();
        for state in ["CREATED", "RUNNING", "COMPLETED"] {
            let resources = if state == "COMPLETED" {
                vec![rp.to_string()]
            } else {
                vec![]
            };
            let mut detail = json!({
                "backupJobId": job_id, "backupVaultArn": vault.to_string(), "backupVaultName": vault.name,
                "resourceArn": table.to_string(), "resourceType": "DynamoDB", "state": state,
                "creationDate": created.to_rfc3339(), "backupSizeInBytes": "52428800", "bytesTransferred": "52428800",
                "percentDone": if state == "COMPLETED" { "100.0" } else { "0.0" },
                "iamRoleArn": format!("arn:{}:iam::{}:role/service-role/AWSBackupDefaultServiceRole", vault.partition, vault.account),
                "expectedCompletionDate": created.format("%b %-d, %Y %-I:%M:%S %p").to_string(),
                "createdBy": {"backupPlanId": "sim-plan", "backupPlanArn": format!("arn:{}:backup:{}:{}:backup-plan:sim-plan", vault.partition, vault.region, vault.account)}
            });
            if state == "COMPLETED" {
                detail["completionDate"] = json!(self.now.to_rfc3339());
            }
            let (account, region) = (vault.account.clone(), vault.region.clone());
            let ev = self.envelope(
                "Backup Job State Change",
                &account,
                &region,
                resources,
                detail,
            );
            self.emit(ev);
        }
    }

    /// A backup plan's own copy action: its job starts with the backup, lifecycle "never" (AWS
    /// keeps the source's expiry).
    fn plan_copy_action(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        rp: &str,
        dest: VaultArn,
    ) {
        let id = self.rng.uuid();
        let index = self.push_job(SimCopyJob {
            id,
            original: Original::new(table.to_string(), created),
            source_rp: rp.to_string(),
            source_vault: vault.clone(),
            dest_vault: dest,
            resource_arn: table.to_string(),
            iam_role_arn: format!(
                "arn:{}:iam::{}:role/service-role/AWSBackupDefaultServiceRole",
                vault.partition, vault.account
            ),
            lifecycle: None,
            state: JobState::Created,
            created_at: self.now,
            finish_at: None,
            ended_at: None,
            dest_rp: None,
            status_message: None,
            created_by_plan: true,
        });
        self.counters.plan_copy_jobs += 1;
        let ev = self.copy_job_event(index);
        self.emit(ev);
    }

    /// Move copy jobs along: start waiting ones (one job per resource at a time, and at most
    /// `copy_concurrency` from one account into one Region), finish running ones.
    pub fn step_jobs(&mut self) {
        let now = self.now;
        // Decided first over borrowed state (no table's ARN copied each minute), then applied
        // in the jobs' order: the same history for the same seed.
        let running = || {
            self.active_jobs
                .iter()
                .map(|&i| &self.jobs[i])
                .filter(|j| j.state == JobState::Running)
        };
        let mut busy: HashSet<&str> = running().map(|j| j.resource_arn.as_str()).collect();
        let mut outbound: HashMap<(&str, &str), u64> = HashMap::new();
        for j in running() {
            *outbound.entry(quota_key(j)).or_default() += 1;
        }
        let (mut moves, mut queued): (Vec<(usize, bool)>, u64) = (Vec::new(), 0);
        for &i in &self.active_jobs {
            let job = &self.jobs[i];
            match job.state {
                JobState::Created
                    if !busy.contains(job.resource_arn.as_str()) && job.created_at < now =>
                {
                    let out = outbound.entry(quota_key(job)).or_default();
                    if *out >= self.copy_concurrency {
                        queued += 1;
                        continue;
                    }
                    *out += 1;
                    busy.insert(job.resource_arn.as_str());
                    moves.push((i, true));
                }
                JobState::Running
                    if job.finish_at.is_some_and(|t| t <= now)
                        && !self.stalled_into.contains(&job.dest_vault) =>
                {
                    moves.push((i, false))
                }
                _ => {}
            }
        }
        let peak = outbound.values().copied().max().unwrap_or(0);
        let c = &mut self.counters;
        c.copy_job_minutes_queued += queued;
        c.copy_concurrency_peak = c.copy_concurrency_peak.max(peak);
        let hour = now.timestamp().div_euclid(3600);
        for (i, start) in moves {
            if start {
                *self
                    .counters
                    .copies_running_by_hour
                    .entry(hour)
                    .or_default() += 1;
                let minutes = self.rng.between(20, 90);
                self.jobs[i].state = JobState::Running;
                self.jobs[i].finish_at = Some(now + Duration::minutes(minutes));
                let ev = self.copy_job_event(i);
                self.emit(ev);
            } else {
                self.finish_job(i);
            }
        }
    }

    pub(super) fn finish_job(&mut self, i: usize) {
        self.active_jobs.remove(&i);
        self.jobs[i].ended_at = Some(self.now);
        let job = self.jobs[i].clone();
        let failure = self.copy_failure(&job);
        // One transient failure in four leaves a partial copy behind instead of nothing.
        let partial = failure.as_deref() == Some(TRANSIENT_COPY_FAILURE) && self.rng.chance(0.25);
        match failure {
            Some(message) if !partial => {
                self.counters.copy_failures += 1;
                self.jobs[i].state = JobState::Failed;
                self.jobs[i].status_message = Some(message);
            }
            _ => {
                let Some(source) = self.recovery_points.get(&job.source_rp).cloned() else {
                    self.jobs[i].state = JobState::Failed;
                    self.jobs[i].status_message =
                        Some("The source recovery point no longer exists.".into());
                    let ev = self.copy_job_event(i);
                    self.emit(ev);
                    return;
                };
                let rp = self.new_recovery_point_arn(&job.dest_vault);
                // "Never" (no DeleteAfterDays) and inherit both keep the source's expiry.
                let lifecycle = job.lifecycle.unwrap_or(source.lifecycle);
                let delete = match lifecycle.delete_after_days {
                    Some(_) => delete_at(source.creation_date, &lifecycle),
                    None => source.delete_at,
                };
                self.insert_point(SimRecoveryPoint {
                    arn: rp.clone(),
                    vault: job.dest_vault.clone(),
                    resource_arn: job.resource_arn.clone(),
                    creation_date: source.creation_date,
                    lifecycle,
                    delete_at: delete,
                    source: Some(job.source_rp.clone()),
                    completed_at: self.now,
                    status: if partial { "PARTIAL" } else { "COMPLETED" },
                    source_vault: None,
                });
                self.carry_tags_across_regions(&source, &rp);
                self.jobs[i].state = if partial {
                    self.counters.copy_failures += 1;
                    self.jobs[i].status_message = Some(PARTIAL_COPY.into());
                    JobState::Partial
                } else {
                    JobState::Completed
                };
                self.jobs[i].dest_rp = Some(rp.clone());
                let detail = json!({
                    "backupVaultArn": job.dest_vault.to_string(), "backupVaultName": job.dest_vault.name,
                    "creationDate": source.creation_date.to_rfc3339(), "resourceArn": job.resource_arn,
                    "resourceType": "DynamoDB", "status": if partial { "PARTIAL" } else { "COMPLETED" }, "storageClass": "WARM", "isEncrypted": "true",
                    "lifecycle": {"deleteAfterDays": lifecycle.delete_after_days, "moveToColdStorageAfterDays": lifecycle.move_to_cold_storage_after_days},
                    "calculatedLifeCycle": {"deleteAt": delete.map(|d| d.to_rfc3339())}
                });
                let (account, region) = (
                    job.dest_vault.account.clone(),
                    job.dest_vault.region.clone(),
                );
                let ev = self.envelope(
                    "Recovery Point State Change",
                    &account,
                    &region,
                    vec![rp],
                    detail,
                );
                self.emit(ev);
            }
        }
        let ev = self.copy_job_event(i);
        self.emit(ev);
    }

    /// Why AWS would fail a backup job into `vault`: the vault is missing, or its lock does not
    /// allow the plan's retention.
    pub(super) fn backup_refused(
        &self,
        vault: &VaultArn,
        lifecycle: &Lifecycle,
    ) -> Option<&'static str> {
        let Some(v) = self.vaults.get(vault) else {
            return Some("The backup vault does not exist.");
        };
        let lock = v.lock?;
        (!lock.admits(lifecycle.delete_after_days)).then_some(
            "The backup job failed: its retention is outside the range the vault lock allows.",
        )
    }

    /// A backup job AWS refused: its FAILED event, and no recovery point.
    pub(super) fn failed_backup(
        &mut self,
        table: &TableArn,
        vault: &VaultArn,
        created: DateTime<Utc>,
        why: &str,
    ) {
        let detail = json!({
            "backupJobId": self.rng.uuid(), "backupVaultArn": vault.to_string(),
            "backupVaultName": vault.name, "resourceArn": table.to_string(),
            "resourceType": "DynamoDB", "state": "FAILED", "statusMessage": why,
            "creationDate": created.to_rfc3339(),
        });
        let ev = self.envelope(
            "Backup Job State Change",
            &vault.account,
            &vault.region,
            vec![],
            detail,
        );
        self.emit(ev);
        self.counters.backups_failed += 1;
        *self
            .backup_failures
            .entry((vault.clone(), why.to_string()))
            .or_default() += 1;
    }

    /// Why AWS would fail this copy job, if it would.
    pub(super) fn copy_failure(&mut self, job: &SimCopyJob) -> Option<String> {
        let src_account = &job.source_vault.account;
        let dest_account = &job.dest_vault.account;
        if src_account != dest_account
            && !(self.organization.contains(src_account)
                && self.organization.contains(dest_account))
        {
            return Some(ORGANIZATION_FAILURE.into());
        }
        // A plan's own copy runs as the plan's role, not the policy's copy role.
        if self.copy_role_missing.contains(src_account) && !job.created_by_plan {
            return Some(COPY_ROLE_FAILURE.into());
        }
        if src_account != dest_account && self.cross_account_backup_disabled {
            return Some(CROSS_ACCOUNT_DISABLED.into());
        }
        let Some(dest) = self.vaults.get(&job.dest_vault).cloned() else {
            return Some("The destination backup vault does not exist.".into());
        };

        let admitted = match &dest.allow_copy_from {
            Some(accounts) => accounts.contains(src_account),
            None => self.organization.contains(src_account),
        };
        if src_account != dest_account && !admitted {
            return Some(ACCESS_DENIED_FAILURE.into());
        }
        let key_shared = self
            .vaults
            .get(&job.source_vault)
            .and_then(|v| v.kms_shared_with.as_ref())
            .is_none_or(|shared| shared.contains(dest_account));
        if src_account != dest_account && !key_shared {
            return Some(KMS_FAILURE.into());
        }
        if let Some(lock) = dest.lock {
            let inherited = self
                .recovery_points
                .get(&job.source_rp)
                .map(|s| s.lifecycle);
            let days = job
                .lifecycle
                .and_then(|l| l.delete_after_days)
                .or_else(|| inherited.and_then(|l| l.delete_after_days));
            // Never expiring is more than any MaxRetentionDays.
            if !lock.admits(days) {
                return Some(LOCK_FAILURE.into());
            }
        }
        if job.created_by_plan {
            return None;
        }
        if let Some((left, message)) = self.forced_failures.get_mut(&job.dest_vault) {
            if *left > 0 {
                *left -= 1;
                return Some(message.clone());
            }
        }
        if self.rng.chance(self.faults.copy_failure) {
            return Some(TRANSIENT_COPY_FAILURE.into());
        }
        None
    }

    pub(super) fn start_copy(&mut self, req: &StartCopyJob) -> PortResult<String> {
        self.call_in(&req.account, &req.region, START_COPY)?;
        if let Some(answer) = self.copy_replay(req) {
            return answer;
        }
        let (rp, source_vault, dest_vault) = self.copy_checked(req)?;
        let id = self.rng.uuid();
        let index = self.push_job(SimCopyJob {
            id: id.clone(),
            original: Original::new(rp.resource_arn.clone(), rp.creation_date),
            source_rp: req.recovery_point_arn.clone(),
            source_vault,
            dest_vault,
            resource_arn: rp.resource_arn.clone(),
            iam_role_arn: req.iam_role_arn.clone(),
            lifecycle: req.lifecycle,
            state: JobState::Created,
            created_at: self.now,
            finish_at: None,
            ended_at: None,
            dest_rp: None,
            status_message: None,
            created_by_plan: false,
        });
        if !req.idempotency_token.is_empty() {
            let token_key = (req.account.clone(), req.idempotency_token.clone());
            self.tokens.insert(token_key, (index, self.now));
        }
        self.counters.copy_jobs_started += 1;
        let ev = self.copy_job_event(index);
        self.emit(ev);
        Ok(id)
    }

    /// What StartCopyJob checks before it makes a job: the vaults exist, the point is in its
    /// source vault there and not in the cold tier, the role and lifecycle are ones AWS takes.
    fn copy_checked(
        &self,
        req: &StartCopyJob,
    ) -> PortResult<(SimRecoveryPoint, VaultArn, VaultArn)> {
        let invalid = |m: String| invalid_copy(&m);
        let source_vault =
            VaultArn::parse(&req.source_backup_vault_arn).map_err(|e| invalid(e.to_string()))?;
        let dest_vault = VaultArn::parse(&req.destination_backup_vault_arn)
            .map_err(|e| invalid(e.to_string()))?;
        if !self.vaults.contains_key(&source_vault) {
            return Err(not_found(format!("backup vault {source_vault} not found")));
        }
        let Some(rp) = self.recovery_points.get(&req.recovery_point_arn).cloned() else {
            let what = format!("recovery point {} not found", req.recovery_point_arn);
            return Err(not_found(what));
        };
        if self.cold_points.contains(&rp.arn) {
            return Err(PortError::new(
                ErrorKind::Permanent,
                START_COPY,
                Some("InvalidRequestException"),
                format!(
                    "Recovery point {} is in cold storage: recovery points in the cold tier cannot be copied",
                    rp.arn
                ),
            ));
        }
        if rp.vault != source_vault
            || source_vault.account != req.account
            || source_vault.region != req.region
        {
            return Err(invalid(format!(
                "recovery point {} is not in vault {} in {}/{}",
                req.recovery_point_arn, req.source_backup_vault_name, req.account, req.region
            )));
        }
        if !self.vaults.contains_key(&dest_vault) {
            return Err(not_found(format!("backup vault {dest_vault} not found")));
        }
        if let Some(refusal) = copy_refusal(req, &source_vault, &dest_vault) {
            return Err(refusal);
        }
        if let Some(why) = req
            .lifecycle
            .and_then(|l| lifecycle_refusal(&l, source_vault.account != dest_vault.account))
        {
            return Err(invalid(why.into()));
        }
        Ok((rp, source_vault, dest_vault))
    }

    /// A start whose token AWS still remembers: that job again ("Retrying a successful request
    /// with the same idempotency token results in a success message with no action taken"), or
    /// a refusal when the request differs. No token (empty) is no idempotency.
    pub(super) fn copy_replay(&mut self, req: &StartCopyJob) -> Option<PortResult<String>> {
        if req.idempotency_token.is_empty() {
            return None;
        }
        let key = (req.account.clone(), req.idempotency_token.clone());
        let &(i, at) = self.tokens.get(&key)?;
        if at < self.now - self.token_memory {
            return None;
        }
        if let Some(refusal) = token_mismatch(&self.jobs[i], req) {
            return Some(Err(refusal));
        }
        self.counters.copy_job_token_replays += 1;
        Some(Ok(self.jobs[i].id.clone()))
    }

    /// StartCopyJob as the caller sees it: a start (or a token replay) whose answer may be lost.
    pub(super) fn start_copy_answered(&mut self, req: &StartCopyJob) -> PortResult<String> {
        let answer = self.start_copy(req)?;
        if self.lost_start_answers > 0 {
            self.lost_start_answers -= 1;
            return Err(PortError::new(
                ErrorKind::Retryable,
                "StartCopyJob",
                None,
                "timeout: the request was sent, no answer came",
            ));
        }
        Ok(answer)
    }
}

/// A token already used for another request: AWS keeps a token to one request.
pub(super) fn token_mismatch(job: &SimCopyJob, req: &StartCopyJob) -> Option<PortError> {
    let same = job.source_rp == req.recovery_point_arn
        && VaultArn::parse(&req.source_backup_vault_arn).ok().as_ref() == Some(&job.source_vault)
        && VaultArn::parse(&req.destination_backup_vault_arn)
            .ok()
            .as_ref()
            == Some(&job.dest_vault)
        && job.iam_role_arn == req.iam_role_arn
        && job.lifecycle == req.lifecycle;
    (!same).then(|| {
        PortError::new(
            ErrorKind::Permanent,
            "StartCopyJob",
            Some("InvalidRequestException"),
            format!(
                "IdempotencyToken {} was already used for another request (copy job {}): a token may be reused only with the same parameters",
                req.idempotency_token, job.id
            ),
        )
    })
}

/// What AWS refuses at once about a copy's vaults and role: a copy into its own vault, and a
/// role that is not in the source vault's account (AWS Backup assumes it there).
pub(super) fn copy_refusal(
    req: &StartCopyJob,
    source: &VaultArn,
    dest: &VaultArn,
) -> Option<PortError> {
    let invalid = |m: String| {
        PortError::new(
            ErrorKind::Permanent,
            "StartCopyJob",
            Some("InvalidParameterValueException"),
            m,
        )
    };
    if source == dest {
        return Some(invalid(format!(
            "The source and destination backup vaults are the same ({source}): a recovery point cannot be copied into its own vault"
        )));
    }
    match relay_core::arn::RoleArn::parse(&req.iam_role_arn) {
        Err(e) => Some(invalid(format!("IamRoleArn: {e}"))),
        Ok(role) if role.account != source.account || role.partition != source.partition => {
            Some(invalid(format!(
                "IamRoleArn {} is not a role of the source vault's account {}",
                req.iam_role_arn, source.account
            )))
        }
        Ok(_) => None,
    }
}

const START_COPY: &str = "StartCopyJob";

/// Whose quota a copy job counts against: its source account, into its destination Region.
fn quota_key(job: &SimCopyJob) -> (&str, &str) {
    (
        job.source_vault.account.as_str(),
        job.dest_vault.region.as_str(),
    )
}

fn invalid_copy(message: &str) -> PortError {
    PortError::new(
        ErrorKind::Permanent,
        START_COPY,
        Some("InvalidParameterValueException"),
        message,
    )
}

fn not_found(message: String) -> PortError {
    PortError::new(
        ErrorKind::NotFound,
        START_COPY,
        Some("ResourceNotFoundException"),
        message,
    )
}

/// Why AWS refuses a copy's lifecycle, if it does: no cold tier across accounts, days 1..=36500.
fn lifecycle_refusal(l: &Lifecycle, cross_account: bool) -> Option<&'static str> {
    if cross_account && l.move_to_cold_storage_after_days.is_some() {
        return Some("cold storage is not supported for cross-account copies");
    }
    l.delete_after_days
        .is_some_and(|d| !(1..=36500).contains(&d))
        .then_some("DeleteAfterDays cannot be less than 1 or more than 36500")
}
