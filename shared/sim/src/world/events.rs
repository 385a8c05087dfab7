//! The event bus: what AWS Backup emits, through the faults (lost, duplicated, delayed), to the
//! functions the SAM template's rules select; and the dead-letter queues' alarms.

use super::*;

/// The functions an event can be delivered to, as the SAM template's rules select them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    CopyRouter,
    RetentionGuard,
}

impl Target {
    /// The rules' patterns: copy-router takes finished backup and copy jobs; retention-guard takes
    /// completed copies and completed or available recovery points.
    pub fn for_event(event: &Value) -> Vec<Target> {
        let detail_type = event
            .get("detail-type")
            .and_then(Value::as_str)
            .unwrap_or("");
        let detail = event.get("detail");
        let field = |k: &str| {
            detail
                .and_then(|d| d.get(k))
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        let mut out = Vec::new();
        match detail_type {
            "Backup Job State Change"
                if matches!(
                    field("state"),
                    "COMPLETED" | "FAILED" | "ABORTED" | "EXPIRED"
                ) =>
            {
                out.push(Target::CopyRouter)
            }
            "Copy Job State Change" if field("state") == "FAILED" => out.push(Target::CopyRouter),
            "Copy Job State Change" if field("state") == "COMPLETED" => {
                out.push(Target::CopyRouter);
                out.push(Target::RetentionGuard);
            }
            "Recovery Point State Change"
                if matches!(field("status"), "COMPLETED" | "AVAILABLE") =>
            {
                out.push(Target::RetentionGuard)
            }
            _ => {}
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub at: DateTime<Utc>,
    pub seq: u64,
    pub target: Target,
    pub event: Value,
    /// 0 for the first invocation; Lambda retries a failed asynchronous invocation twice.
    pub retry: u32,
}

impl World {
    /// Put an event on the bus, through the faults: lost, duplicated, delayed (so reordered).
    pub(super) fn unforwarded_origin(&self, event: &Value) -> bool {
        let field = |k: &str| {
            event
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        !self.unforwarded.is_empty()
            && self
                .unforwarded
                .contains(&(field("account"), field("region")))
    }

    pub fn emit(&mut self, event: Value) {
        self.counters.events_emitted += 1;
        if self.unforwarded_origin(&event) {
            self.counters.events_not_forwarded += 1;
            return;
        }
        if self.rng.chance(self.faults.lose) {
            self.counters.events_lost += 1;
            if let Some(landing) = landing_of(&event) {
                self.lost_landings.push(landing);
            }
            return;
        }
        let base = self.faults.deliveries.max(1);
        let copies = if self.rng.chance(self.faults.duplicate) {
            base + u32::try_from(self.rng.between(1, 2)).unwrap_or(1)
        } else {
            base
        };
        self.counters.events_duplicated += u64::from(copies - 1);
        for target in Target::for_event(&event) {
            for _ in 0..copies {
                // AWS Backup batches events roughly every 5 minutes; reordering adds more.
                let delay =
                    self.rng.between(1, 5) + self.rng.between(0, self.faults.reorder_minutes);
                self.schedule(
                    target,
                    event.clone(),
                    self.now + Duration::minutes(delay),
                    0,
                );
            }
        }
    }

    pub fn schedule(&mut self, target: Target, event: Value, at: DateTime<Utc>, retry: u32) {
        self.seq += 1;
        self.pending.insert(
            (at, self.seq),
            Delivery {
                at,
                seq: self.seq,
                target,
                event,
                retry,
            },
        );
    }

    /// Deliveries due by now, in delivery order.
    pub fn take_due(&mut self) -> Vec<Delivery> {
        let now = self.now;
        let later = self.pending.split_off(&(now + Duration::nanoseconds(1), 0));
        std::mem::replace(&mut self.pending, later)
            .into_values()
            .collect()
    }

    pub(crate) fn envelope(
        &mut self,
        detail_type: &str,
        account: &str,
        region: &str,
        resources: Vec<String>,
        detail: Value,
    ) -> Value {
        json!({
            "version": "0", "id": self.rng.uuid(), "detail-type": detail_type, "source": "aws.backup",
            "account": account, "time": self.now.to_rfc3339(), "region": region,
            "resources": resources, "detail": detail
        })
    }

    pub(super) fn copy_job_event(&mut self, index: usize) -> Value {
        let job = &self.jobs[index];
        let state = match job.state {
            JobState::Created => "CREATED",
            JobState::Running => "RUNNING",
            JobState::Completed => "COMPLETED",
            JobState::Failed => "FAILED",
            JobState::Partial => "PARTIAL",
        };
        let mut detail = json!({
            "backupSizeInBytes": 52428800, "creationDate": job.created_at.to_rfc3339(),
            "destinationBackupVaultArn": job.dest_vault.to_string(),
            "destinationRecoveryPointArn": job.dest_rp.clone().map(Value::String).unwrap_or_else(|| json!({})),
            "iamRoleArn": job.iam_role_arn, "resourceArn": job.resource_arn, "resourceType": "DynamoDB",
            "sourceBackupVaultArn": job.source_vault.to_string(), "state": state,
        });
        // The CREATED event may have no copyJobId.
        if job.state != JobState::Created {
            detail["copyJobId"] = json!(job.id);
        }
        if let Some(m) = &job.status_message {
            detail["statusMessage"] = json!(m);
        }
        if job.created_by_plan {
            detail["createdBy"] =
                json!({"backupPlanId": "sim-plan", "backupPlanRuleId": "copy-to-bunker"});
        }
        if job.state == JobState::Completed {
            detail["completionDate"] = json!(self.now.to_rfc3339());
        }
        let (account, region, source) = (
            job.source_vault.account.clone(),
            job.source_vault.region.clone(),
            job.source_rp.clone(),
        );
        // Emitted where the job runs: the source vault's account and Region.
        self.envelope(
            "Copy Job State Change",
            &account,
            &region,
            vec![source],
            detail,
        )
    }

    /// A CloudWatch alarm on a dead-letter queue (the hub template's): it goes to ALARM with the
    /// queue's first message and CloudWatch publishes to the alert topic once; it stays in ALARM
    /// while the message waits (nobody empties the queue in a simulation). `all_chains`: the
    /// reconciler's, whose failing runs leave every chain unrepaired.
    pub fn dead_letter_alarm(&mut self, queue: &str, all_chains: bool) {
        if !self.alarms.insert(queue.to_string()) {
            return;
        }
        self.alerts.push(Alert {
            all_chains,
            ..Alert::plain(
                format!("ALARM: \"backup-relay-{queue}\" in ALARM"),
                format!(
                "Threshold Crossed: 1 datapoint was greater than or equal to the threshold (1.0) \
                 for the queue of {queue}."
            ),
            )
        });
    }
}

/// The (vault, recovery point) an event announces as newly landed, if it is one that starts copies.
pub(super) fn landing_of(event: &Value) -> Option<(VaultArn, String)> {
    let detail = event.get("detail")?;
    let text = |k: &str| detail.get(k).and_then(Value::as_str);
    let (vault, rp) = match event.get("detail-type")?.as_str()? {
        "Backup Job State Change" if text("state") == Some("COMPLETED") => (
            text("backupVaultArn")?,
            event.get("resources")?.get(0)?.as_str()?,
        ),
        "Copy Job State Change" if text("state") == Some("COMPLETED") => (
            text("destinationBackupVaultArn")?,
            text("destinationRecoveryPointArn")?,
        ),
        _ => return None,
    };
    Some((VaultArn::parse(vault).ok()?, rp.to_string()))
}
