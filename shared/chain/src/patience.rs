//! Patience: every port call that fails transiently (throttled, 5xx, timeout) is tried again after a
//! growing pause, a bounded number of times and never past the run's deadline. One throttled call
//! must not end a reconciler run or an invocation: the work goes on.
//!
//! `Patient` wraps any [`RouterPorts`] and is itself one, so the router and the reconciler run on
//! it unchanged.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use relay_core::arn::{Location, VaultArn};
use relay_core::guard::PointView;
use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey, HopRecord, HopState};
use relay_core::plan::{StartCopyJob, Tags};
use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary, HopFailure,
    Incident, LedgerPort, ListQuery, Page, PortResult, RouterPorts, StartedJob, TagPort,
};
use relay_core::retention::{Lifecycle, VaultLock};

#[derive(Debug, Clone, Copy)]
pub struct Patience {
    /// Tries per call, the first included.
    pub tries: u32,
    /// The first pause; each next one doubles, up to `max_wait`.
    pub first_wait: Duration,
    pub max_wait: Duration,
    /// No pause reaches past this (the Lambda deadline, less a margin).
    pub deadline: Option<Instant>,
}

impl Default for Patience {
    fn default() -> Self {
        Self {
            tries: 6,
            first_wait: Duration::from_millis(200),
            max_wait: Duration::from_secs(5),
            deadline: None,
        }
    }
}

impl Patience {
    /// The pause after failed try `n` (1-based), or `None` when there is no try left.
    pub fn wait_after(&self, n: u32) -> Option<Duration> {
        if n >= self.tries {
            return None;
        }
        let wait = self
            .first_wait
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.max_wait);
        match self.deadline {
            Some(d) if Instant::now() + wait >= d => None,
            _ => Some(wait),
        }
    }
}

pub struct Patient<'a, P: RouterPorts> {
    inner: &'a P,
    ledger: PatientLedger<'a, P>,
}

pub struct PatientLedger<'a, P: RouterPorts> {
    ports: &'a P,
    patience: Patience,
}

impl<'a, P: RouterPorts> Patient<'a, P> {
    pub fn new(inner: &'a P, patience: Patience) -> Self {
        Self {
            inner,
            ledger: PatientLedger {
                ports: inner,
                patience,
            },
        }
    }
}

/// Try `$call` (an expression giving a future of a `PortResult`) until it succeeds, fails for
/// good, or patience runs out.
macro_rules! patiently {
    ($clock:expr, $patience:expr, $call:expr) => {{
        let mut tries = 1;
        loop {
            match $call.await {
                Err(e) if e.kind.is_transient() => match $patience.wait_after(tries) {
                    Some(wait) => {
                        $clock.pause(wait).await;
                        tries += 1;
                    }
                    None => break Err(e),
                },
                other => break other,
            }
        }
    }};
}

impl<P: RouterPorts> Clock for Patient<'_, P> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    async fn pause(&self, wait: Duration) {
        self.inner.pause(wait).await
    }
}

impl<P: RouterPorts> BackupPort for Patient<'_, P> {
    async fn start_copy_job(&self, job: &StartCopyJob) -> PortResult<String> {
        // The idempotency token makes a repeated start after a lost answer a no-op.
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.start_copy_job(job)
        )
    }
    async fn vault_lock(&self, vault: &VaultArn) -> PortResult<Option<VaultLock>> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.vault_lock(vault)
        )
    }
    async fn list_recovery_points(
        &self,
        vault: &VaultArn,
        query: &ListQuery,
    ) -> PortResult<Page<PointView>> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.list_recovery_points(vault, query)
        )
    }
    async fn describe_recovery_point(&self, vault: &VaultArn, arn: &str) -> PortResult<PointView> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.describe_recovery_point(vault, arn)
        )
    }
    async fn update_recovery_point_lifecycle(
        &self,
        vault: &VaultArn,
        arn: &str,
        lifecycle: &Lifecycle,
    ) -> PortResult<()> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner
                .update_recovery_point_lifecycle(vault, arn, lifecycle)
        )
    }
    async fn copy_job_status(&self, at: &Location, id: &str) -> PortResult<CopyJobStatus> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.copy_job_status(at, id)
        )
    }
    async fn find_copy_jobs(
        &self,
        at: &Location,
        query: &CopyJobQuery,
    ) -> PortResult<Vec<CopyJobSummary>> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.find_copy_jobs(at, query)
        )
    }
}

impl<P: RouterPorts> TagPort for Patient<'_, P> {
    async fn resource_tags(&self, resource_arn: &str) -> PortResult<Tags> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.resource_tags(resource_arn)
        )
    }
}

impl<P: RouterPorts> AlertPort for Patient<'_, P> {
    async fn send(&self, alert: &Alert) -> PortResult<()> {
        patiently!(self.inner, self.ledger.patience, self.inner.send(alert))
    }
}

impl<'a, P: RouterPorts> RouterPorts for Patient<'a, P> {
    type Ledger = PatientLedger<'a, P>;
    fn ledger(&self) -> &PatientLedger<'a, P> {
        &self.ledger
    }
}

impl<P: RouterPorts> LedgerPort for PatientLedger<'_, P> {
    async fn claim(&self, hop: &HopKey, req: &ClaimRequest) -> PortResult<ClaimOutcome> {
        let l = self.ports.ledger();
        let outcome = patiently!(self.ports, self.patience, l.claim(hop, req))?;
        // A claim that applied but whose answer was lost comes back as taken by ourselves: ours,
        // and treated as a takeover (the lost try may have been answered after all).
        Ok(match outcome {
            ClaimOutcome::AlreadyTaken(Some(r)) if is_own_claim(&r, req) => {
                ClaimOutcome::Claimed { previous: Some(r) }
            }
            other => other,
        })
    }
    async fn mark_started(
        &self,
        hop: &HopKey,
        attempt: u32,
        job: &StartedJob,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.mark_started(hop, attempt, job, now)
        )
    }
    async fn release(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.release(hop, attempt, reason, now)
        )
    }
    async fn mark_completed(
        &self,
        hop: &HopKey,
        rp: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.mark_completed(hop, rp, now))
    }
    async fn mark_failed(
        &self,
        hop: &HopKey,
        failure: &HopFailure,
        now: DateTime<Utc>,
    ) -> PortResult<Option<HopRecord>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.mark_failed(hop, failure, now))
    }
    async fn record_skipped(
        &self,
        hop: &HopKey,
        route: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.record_skipped(hop, route, reason, now)
        )
    }
    async fn get(&self, hop: &HopKey) -> PortResult<Option<HopRecord>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.get(hop))
    }
    async fn escalate(
        &self,
        hop: &HopKey,
        attempt: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.escalate(hop, attempt, reason, now)
        )
    }
    async fn open_incident(&self, incident: &Incident) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.open_incident(incident))
    }
    async fn incident_alerted(&self, id: &str, now: DateTime<Utc>) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.incident_alerted(id, now))
    }
    async fn open_incidents(&self) -> PortResult<Vec<Incident>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.open_incidents())
    }
    async fn close_incident(&self, id: &str) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.close_incident(id))
    }
    async fn load_cursor(&self) -> PortResult<Option<String>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.load_cursor())
    }
    async fn save_cursor(&self, cursor: Option<&str>, now: DateTime<Utc>) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.save_cursor(cursor, now))
    }
}

/// The record a lost-answer claim left: our attempt, our token, our instant.
fn is_own_claim(r: &HopRecord, req: &ClaimRequest) -> bool {
    r.state == HopState::Claimed
        && r.attempt == req.attempt
        && r.idempotency_token.as_deref() == Some(req.idempotency_token.as_str())
        && r.claimed_at == Some(req.now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_the_last_try() {
        let p = Patience::default();
        assert_eq!(p.wait_after(1), Some(Duration::from_millis(200)));
        assert_eq!(p.wait_after(2), Some(Duration::from_millis(400)));
        assert_eq!(p.wait_after(5), Some(Duration::from_millis(3200)));
        assert_eq!(p.wait_after(6), None);
        let long = Patience { tries: 40, ..p };
        assert_eq!(long.wait_after(30), Some(Duration::from_secs(5)));
    }

    #[test]
    fn no_wait_reaches_past_the_deadline() {
        let p = Patience {
            deadline: Some(Instant::now() + Duration::from_millis(100)),
            ..Patience::default()
        };
        assert_eq!(p.wait_after(1), None);
    }
}
