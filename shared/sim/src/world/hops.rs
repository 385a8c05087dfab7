//! The hop ledger and the incidents, with the core's rules applied directly (the DynamoDB adapter
//! encodes the same rules as condition expressions; one contract suite runs against both).

use super::*;

impl Sim {
    /// One conditional update of a hop, as DynamoDB applies it: the rule decides, the change and
    /// the timestamp apply together. The new record when it applied.
    pub(super) fn update_hop(
        &self,
        hop: &HopKey,
        now: DateTime<Utc>,
        allowed: impl FnOnce(&HopRecord) -> bool,
        change: impl FnOnce(&mut HopRecord),
    ) -> PortResult<Option<HopRecord>> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        Ok(match w.ledger.get_mut(hop) {
            Some(r) if allowed(r) => {
                change(r);
                r.updated_at = now;
                Some(r.clone())
            }
            _ => None,
        })
    }
}

/// The ledger, with the core's rules applied directly (the DynamoDB adapter encodes the same rules).
impl LedgerPort for Sim {
    async fn claim(&self, hop: &HopKey, req: &ClaimRequest) -> PortResult<ClaimOutcome> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        let existing = w.ledger.get(hop);
        if ledger::may_claim(existing, req) {
            let record = ledger::claimed(existing, hop, req);
            let previous = w.ledger.insert(hop.clone(), record).map(Box::new);
            Ok(ClaimOutcome::Claimed { previous })
        } else {
            Ok(ClaimOutcome::AlreadyTaken(existing.cloned().map(Box::new)))
        }
    }

    async fn mark_started(
        &self,
        hop: &HopKey,
        attempt: u32,
        job: &StartedJob,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_mark_started(Some(r), attempt),
                |r| {
                    r.state = HopState::Started;
                    r.copy_job_id = Some(job.copy_job_id.clone());
                    r.source_recovery_point_arn = Some(job.source_recovery_point_arn.clone());
                    r.source_vault_arn = Some(job.source_vault_arn.clone());
                    r.tried_sources.insert(ledger::source_entry(
                        &job.source_vault_arn,
                        &job.source_recovery_point_arn,
                    ));
                },
            )?
            .is_some())
    }

    async fn release(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_release(Some(r), attempt),
                |r| {
                    r.state = HopState::Released;
                    r.status_message = Some(reason.to_string());
                },
            )?
            .is_some())
    }

    async fn mark_completed(
        &self,
        hop: &HopKey,
        destination_recovery_point_arn: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_mark_completed(Some(r)),
                |r| {
                    r.state = HopState::Completed;
                    r.destination_recovery_point_arn =
                        destination_recovery_point_arn.map(str::to_string);
                },
            )?
            .is_some())
    }

    async fn mark_failed(
        &self,
        hop: &HopKey,
        failure: &HopFailure,
        now: DateTime<Utc>,
    ) -> PortResult<Option<HopRecord>> {
        let allowed = |r: &HopRecord| {
            ledger::may_mark_failed(Some(r), failure.copy_job_id.as_deref(), failure.attempt)
        };
        self.update_hop(hop, now, allowed, |r| {
            r.state = HopState::Failed;
            r.failure_class = Some(failure.class);
            r.status_message = Some(failure.message.clone());
        })
    }

    async fn record_skipped(
        &self,
        hop: &HopKey,
        route: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        if !ledger::may_record_skipped(w.ledger.get(hop)) {
            return Ok(false);
        }
        w.ledger.insert(
            hop.clone(),
            HopRecord {
                status_message: Some(reason.to_string()),
                ..HopRecord::unclaimed(hop, route, HopState::Skipped, now)
            },
        );
        Ok(true)
    }

    async fn get(&self, hop: &HopKey) -> PortResult<Option<HopRecord>> {
        let mut w = self.world();
        w.throttled("GetItem")?;
        Ok(w.ledger.get(hop).cloned())
    }

    /// BatchGetItem: 100 keys a call.
    async fn get_many(&self, hops: &[HopKey]) -> PortResult<Vec<Option<HopRecord>>> {
        let mut w = self.world();
        for _ in hops.chunks(100) {
            w.throttled("BatchGetItem")?;
        }
        Ok(hops.iter().map(|h| w.ledger.get(h).cloned()).collect())
    }

    async fn mark_tagged(
        &self,
        hop: &HopKey,
        route: &str,
        copy_arn: &str,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        let record = ledger::tagged(w.ledger.get(hop), hop, route, copy_arn, now);
        w.ledger.insert(hop.clone(), record);
        Ok(())
    }

    async fn escalate(
        &self,
        hop: &HopKey,
        attempt: u32,
        _reason: &str, // goes into the alert; the ledger keeps AWS's last message
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        Ok(self
            .update_hop(
                hop,
                now,
                |r| ledger::may_escalate(Some(r), attempt),
                |r| {
                    r.failure_class = Some(relay_core::plan::FailureClass::NeedsPerson);
                },
            )?
            .is_some())
    }

    async fn open_incident(&self, incident: &Incident) -> PortResult<bool> {
        let mut w = self.world();
        w.throttled("PutItem")?;
        if w.incidents.contains_key(&incident.id) {
            return Ok(false);
        }
        w.incidents.insert(incident.id.clone(), incident.clone());
        Ok(true)
    }

    async fn incident_alerted(&self, id: &str, now: DateTime<Utc>) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        if let Some(i) = w.incidents.get_mut(id) {
            i.alerted_at = Some(now);
        }
        w.mark_unreachable_covered(id);
        Ok(())
    }

    async fn open_incidents(&self) -> PortResult<Vec<Incident>> {
        let mut w = self.world();
        w.throttled("Query")?;
        Ok(w.incidents.values().cloned().collect())
    }

    async fn close_incident(&self, id: &str) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("DeleteItem")?;
        // Only an incident whose own alert went out stood for its vault (a member covered by
        // its family's alert stands by the family's).
        let closed = w.incidents.remove(id);
        let closed = closed
            .filter(|i| w.published(&i.alert))
            .and_then(|i| i.alert.vault);
        if let Some(vault) = closed {
            let now = w.now;
            w.vault_incidents_closed.push((vault, now));
        }
        Ok(())
    }

    async fn load_cursor(&self, piece: &str) -> PortResult<Option<String>> {
        let mut w = self.world();
        w.throttled("GetItem")?;
        Ok(w.reconciler_cursors.get(piece).cloned())
    }

    async fn save_cursor(
        &self,
        piece: &str,
        cursor: Option<&str>,
        _now: DateTime<Utc>,
    ) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        match cursor {
            Some(c) => w
                .reconciler_cursors
                .insert(piece.to_string(), c.to_string()),
            None => w.reconciler_cursors.remove(piece),
        };
        Ok(())
    }

    async fn take_lease(
        &self,
        piece: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        let free = w
            .reconciler_leases
            .get(piece)
            .is_none_or(|(h, u)| *u < now || h == holder);
        if free {
            w.reconciler_leases
                .insert(piece.to_string(), (holder.to_string(), until));
        }
        Ok(free)
    }

    async fn release_lease(&self, piece: &str, holder: &str) -> PortResult<()> {
        let mut w = self.world();
        w.throttled("UpdateItem")?;
        if w.reconciler_leases
            .get(piece)
            .is_some_and(|(h, _)| h == holder)
        {
            w.reconciler_leases.remove(piece);
        }
        Ok(())
    }
}
