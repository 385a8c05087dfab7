//! The findings imported into Security Hub, site by site: at most [`MAX_PER_CALL`] findings and
//! [`MAX_CALL_BYTES`] a call, one call at a time per account and Region and at most
//! [`CALLS_PER_SECOND`] (Security Hub's rate for BatchImportFindings), the findings an answer
//! says failed tried once more, and what still fails told: never dropped.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use relay_core::arn::Location;
use relay_core::ports::{Clock, ErrorKind, PortError, PortResult};

use super::plan::Site;
use super::Finding;

pub const MAX_PER_CALL: usize = 100;
/// A call's body limit is 6 MB; a finding's 240 KB. Ours are a few KB (bounded texts).
pub const MAX_CALL_BYTES: usize = 6 * 1000 * 1000;
pub const MAX_FINDING_BYTES: usize = 240 * 1024;
pub const CALLS_PER_SECOND: u32 = 10;
/// The code Security Hub answers where it is not enabled (the account is not subscribed).
pub const NOT_ENABLED: &str = "InvalidAccessException";

/// Security Hub in each account and Region.
pub trait FindingsPort: Send + Sync {
    /// BatchImportFindings in `at`, as the principal of `at.account`: the findings it refused.
    fn import_findings(
        &self,
        at: &Location,
        findings: &[Finding],
    ) -> impl Future<Output = PortResult<Vec<FailedFinding>>> + Send;
}

/// A finding BatchImportFindings did not take, as its answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedFinding {
    pub id: String,
    pub code: String,
    pub message: String,
}

/// How the import of one site went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteResult {
    /// Every finding taken (none were due: nothing called).
    Imported { findings: usize, calls: usize },
    /// Security Hub is not enabled there.
    NotEnabled(PortError),
    /// A call failed (after the SDK's retries): access denied, throttled past patience.
    Refused(PortError),
    /// Findings the answers refused, twice.
    FindingsFailed(Vec<FailedFinding>),
}

impl SiteResult {
    pub fn went_through(&self) -> bool {
        matches!(self, Self::Imported { .. })
    }
}

/// Every site's import, `concurrency` sites at once, each site's calls one after another.
pub async fn import_all<P: FindingsPort + Clock>(
    ports: &P,
    sites: &[Site],
    concurrency: usize,
) -> Vec<SiteResult> {
    stream::iter(sites.iter().map(|s| import_site(ports, s)))
        .buffered(concurrency.max(1))
        .collect()
        .await
}

async fn import_site<P: FindingsPort + Clock>(ports: &P, site: &Site) -> SiteResult {
    let at = Location {
        partition: site.partition.clone(),
        account: site.account.clone(),
        region: site.region.clone(),
    };
    let mut pacer = Pacer::default();
    let mut calls = 0;
    let mut refused = Vec::new();
    for batch in batches(&site.findings) {
        match pacer
            .call(ports, || ports.import_findings(&at, batch))
            .await
        {
            Ok(failed) => refused.extend(failed),
            Err(e) => return failure(e),
        }
        calls += 1;
    }
    if refused.is_empty() {
        return SiteResult::Imported {
            findings: site.findings.len(),
            calls,
        };
    }
    // Security Hub (or its product integration) off can be told per finding too.
    if refused.iter().all(|r| r.code.starts_with("InvalidAccess")) {
        let first = &refused[0];
        return SiteResult::NotEnabled(PortError::new(
            ErrorKind::Permanent,
            "BatchImportFindings",
            Some(NOT_ENABLED),
            format!("{} findings refused: {}", refused.len(), first.message),
        ));
    }
    // Once more, the refused ones only: a refusal under load is often gone a moment later.
    let ids: HashSet<&str> = refused.iter().map(|r| r.id.as_str()).collect();
    let again: Vec<Finding> = site
        .findings
        .iter()
        .filter(|f| ids.contains(f.id.as_str()))
        .cloned()
        .collect();
    let mut still = Vec::new();
    for batch in batches(&again) {
        match pacer
            .call(ports, || ports.import_findings(&at, batch))
            .await
        {
            Ok(failed) => still.extend(failed),
            Err(e) => return failure(e),
        }
    }
    if still.is_empty() {
        SiteResult::Imported {
            findings: site.findings.len(),
            calls,
        }
    } else {
        SiteResult::FindingsFailed(still)
    }
}

fn failure(e: PortError) -> SiteResult {
    if e.code.as_deref() == Some(NOT_ENABLED) {
        SiteResult::NotEnabled(e)
    } else {
        SiteResult::Refused(e)
    }
}

/// Consecutive slices of at most [`MAX_PER_CALL`] findings and [`MAX_CALL_BYTES`].
pub fn batches(findings: &[Finding]) -> Vec<&[Finding]> {
    crate::calls::slices(findings, MAX_PER_CALL, MAX_CALL_BYTES, |f| {
        serde_json::to_string(f).map_or(MAX_FINDING_BYTES, |s| s.len())
    })
}

/// Calls into one site no closer together than Security Hub's rate allows.
#[derive(Default)]
struct Pacer {
    last: Option<std::time::Instant>,
}

impl Pacer {
    async fn call<P: Clock, T, F: Future<Output = T>>(
        &mut self,
        clock: &P,
        call: impl FnOnce() -> F,
    ) -> T {
        let gap = Duration::from_secs(1) / CALLS_PER_SECOND;
        if let Some(last) = self.last {
            let since = clock.instant().saturating_duration_since(last);
            if since < gap {
                clock.pause(gap - since).await;
            }
        }
        self.last = Some(clock.instant());
        call().await
    }
}
