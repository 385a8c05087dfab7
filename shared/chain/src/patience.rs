//! Patience: every port call that fails transiently (throttled, 5xx, timeout) is tried again after a
//! growing pause (spread by the port's jitter), a bounded number of times and never past the
//! run's deadline. The deadline and the pauses are the [`Clock`] port's, so tests run them on
//! tokio's paused clock. One throttled call
//! must not end a reconciler run or an invocation: the work goes on.
//!
//! `Patient` wraps any [`RouterPorts`] and is itself one, so the router and the reconciler run on
//! it unchanged.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use relay_core::arn::{Location, VaultArn};
use relay_core::guard::PointView;
use relay_core::ledger::{ClaimOutcome, ClaimRequest, HopKey, HopRecord, HopState};
use relay_core::plan::{StartCopyJob, Tags};
use relay_core::ports::{
    Alert, AlertPort, BackupPort, Clock, CopyJobQuery, CopyJobStatus, CopyJobSummary, CopyTagPort,
    HopFailure, Incident, LedgerPort, ListQuery, Page, PortResult, RouterPorts, StartedJob,
    TagPort,
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
    /// The pause after failed try `n` (1-based) at `now`, or `None` when there is no try left
    /// or the pause would reach the deadline.
    pub fn wait_after(&self, n: u32, now: Instant) -> Option<Duration> {
        if n >= self.tries {
            return None;
        }
        let wait = self
            .first_wait
            .saturating_mul(1 << n.saturating_sub(1).min(16))
            .min(self.max_wait);
        match self.deadline {
            Some(d) if now + wait >= d => None,
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

/// Try `call` until it succeeds, fails for good, or patience runs out; the pauses and the
/// deadline are `clock`'s.
pub async fn retry<C, T, F>(
    clock: &C,
    patience: &Patience,
    mut call: impl FnMut() -> F,
) -> PortResult<T>
where
    C: Clock + ?Sized,
    F: Future<Output = PortResult<T>>,
{
    let mut tries = 1;
    loop {
        match call().await {
            Err(e) if e.kind.is_transient() => match patience.wait_after(tries, clock.instant()) {
                Some(wait) => {
                    clock.pause(clock.jitter(wait)).await;
                    tries += 1;
                }
                None => return Err(e),
            },
            other => return other,
        }
    }
}

/// [`retry`] of one port call (an expression giving a future of a `PortResult`).
macro_rules! patiently {
    ($clock:expr, $patience:expr, $call:expr) => {
        retry($clock, &$patience, || $call).await
    };
}

impl<P: RouterPorts> Clock for Patient<'_, P> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }

    fn instant(&self) -> Instant {
        self.inner.instant()
    }

    async fn pause(&self, wait: Duration) {
        self.inner.pause(wait).await
    }

    fn jitter(&self, wait: Duration) -> Duration {
        self.inner.jitter(wait)
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

impl<P: RouterPorts> CopyTagPort for Patient<'_, P> {
    async fn recovery_point_tags(&self, vault: &VaultArn, arn: &str) -> PortResult<Tags> {
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.recovery_point_tags(vault, arn)
        )
    }
    async fn tag_recovery_point(&self, vault: &VaultArn, arn: &str, tags: &Tags) -> PortResult<()> {
        // TagResource sets the same tags again harmlessly: a lost answer is safe to repeat.
        patiently!(
            self.inner,
            self.ledger.patience,
            self.inner.tag_recovery_point(vault, arn, tags)
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
    async fn get_many(&self, hops: &[HopKey]) -> PortResult<Vec<Option<HopRecord>>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.get_many(hops))
    }
    async fn mark_tagged(
        &self,
        hop: &HopKey,
        route: &str,
        copy_arn: &str,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.mark_tagged(hop, route, copy_arn, now)
        )
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
    async fn load_cursor(&self, piece: &str) -> PortResult<Option<String>> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.load_cursor(piece))
    }
    async fn save_cursor(
        &self,
        piece: &str,
        cursor: Option<&str>,
        now: DateTime<Utc>,
    ) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.save_cursor(piece, cursor, now))
    }
    async fn take_lease(
        &self,
        piece: &str,
        holder: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> PortResult<bool> {
        let l = self.ports.ledger();
        patiently!(
            self.ports,
            self.patience,
            l.take_lease(piece, holder, until, now)
        )
    }
    async fn release_lease(&self, piece: &str, holder: &str) -> PortResult<()> {
        let l = self.ports.ledger();
        patiently!(self.ports, self.patience, l.release_lease(piece, holder))
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

    use std::sync::atomic::{AtomicU32, Ordering};

    use relay_core::ports::{ErrorKind, PortError};

    /// Tokio's clock, paused in these tests: a pause advances it at once, and only by the wait.
    struct TokioClock;

    impl Clock for TokioClock {
        fn now(&self) -> DateTime<Utc> {
            DateTime::UNIX_EPOCH
        }

        async fn pause(&self, wait: Duration) {
            tokio::time::sleep(wait).await
        }
    }

    /// A call throttled `refusals` times, then answered.
    async fn throttled(refusals: u32, calls: &AtomicU32) -> PortResult<u32> {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if n < refusals {
            Err(PortError::new(
                ErrorKind::Throttled,
                "ListRecoveryPointsByBackupVault",
                None,
                "slow down",
            ))
        } else {
            Ok(n)
        }
    }

    #[test]
    fn waits_double_up_to_the_cap_and_stop_after_the_last_try() {
        let p = Patience::default();
        let now = Instant::now();
        assert_eq!(p.wait_after(1, now), Some(Duration::from_millis(200)));
        assert_eq!(p.wait_after(2, now), Some(Duration::from_millis(400)));
        assert_eq!(p.wait_after(5, now), Some(Duration::from_millis(3200)));
        assert_eq!(p.wait_after(6, now), None);
        let long = Patience { tries: 40, ..p };
        assert_eq!(long.wait_after(30, now), Some(Duration::from_secs(5)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_call_is_tried_again_after_growing_pauses() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let answer = retry(&TokioClock, &Patience::default(), || throttled(3, &calls)).await;
        assert_eq!(answer.ok(), Some(3));
        // 200 + 400 + 800 ms on the paused clock: the pauses were taken, and nothing else.
        assert_eq!(started.elapsed(), Duration::from_millis(1400));
    }

    #[tokio::test(start_paused = true)]
    async fn no_pause_reaches_past_the_deadline() {
        let calls = AtomicU32::new(0);
        let started = tokio::time::Instant::now();
        let patience = Patience {
            deadline: Some(TokioClock.instant() + Duration::from_secs(1)),
            ..Patience::default()
        };
        let answer = retry(&TokioClock, &patience, || throttled(10, &calls)).await;
        assert!(answer.is_err_and(|e| e.kind == ErrorKind::Throttled));
        // Tried at 0, 200 and 600 ms; the next pause (800 ms) would pass the deadline at 1 s.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        assert_eq!(started.elapsed(), Duration::from_millis(600));
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_is_not_tried_again() {
        let calls = AtomicU32::new(0);
        let answer: PortResult<()> = retry(&TokioClock, &Patience::default(), || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(PortError::new(
                ErrorKind::Permanent,
                "StartCopyJob",
                None,
                "invalid",
            ))
        })
        .await;
        assert!(answer.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
