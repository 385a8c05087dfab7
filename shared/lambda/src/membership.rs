//! The members of the policy's vault sets, for one warm process: read from AWS Organizations
//! (through the Organizations read role) at the first invocation that needs them and again every
//! [`REFRESH_MINUTES`](relay_core::organization::REFRESH_MINUTES); a failed refresh keeps the last
//! membership and is one alert. The policy in force is expanded with them, once per change.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use relay_chain::incident;
use relay_core::organization::{self, MembershipCache};
use relay_core::policy::keeper::InForce;
use relay_core::policy::{OrgTree, Policy};
use relay_core::ports::{
    Alert, AlertPort, Clock, ErrorKind, LedgerPort, OrganizationsPort, PortError, PortResult,
};

use crate::HandlerError;

type Reading<'a> = Pin<Box<dyn Future<Output = PortResult<OrgTree>> + Send + 'a>>;

/// [`OrganizationsPort`] as an object, so the handlers need no type parameter for it.
trait ReadTree: Send + Sync {
    fn read_boxed<'a>(&'a self, policy: &'a Policy) -> Reading<'a>;
}

impl<O: OrganizationsPort> ReadTree for O {
    fn read_boxed<'a>(&'a self, policy: &'a Policy) -> Reading<'a> {
        Box::pin(organization::read_tree(self, policy))
    }
}

/// The expansion in use: of which policy version, with the tree read when.
struct Expanded {
    digest: String,
    read_at: Option<DateTime<Utc>>,
    in_force: Arc<InForce>,
}

#[derive(Default)]
pub(crate) struct Members {
    /// `None`: no Organizations read role configured; sets of OUs or of the organisation then
    /// have no members, which the first invocation that needs them announces.
    org: Option<Box<dyn ReadTree>>,
    cache: Mutex<MembershipCache>,
    expanded: Mutex<Option<Expanded>>,
}

impl Members {
    pub(crate) fn new(org: impl OrganizationsPort + 'static) -> Self {
        Self {
            org: Some(Box::new(org)),
            ..Self::default()
        }
    }

    fn cache(&self) -> MutexGuard<'_, MembershipCache> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn expanded(&self) -> MutexGuard<'_, Option<Expanded>> {
        self.expanded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `current` with its sets expanded. Without a membership ever read (the first read failed)
    /// an event cannot be placed: the invocation fails, to be retried, rather than ignore a
    /// member's backup.
    pub(crate) async fn expand(
        &self,
        current: Arc<InForce>,
        (ledger, alerts, clock): (&impl LedgerPort, &impl AlertPort, &impl Clock),
        event_id: &str,
    ) -> Result<Arc<InForce>, HandlerError> {
        let needs_org = !organization::scopes(&current.policy).is_empty();
        if current.policy.sets.is_empty() && !needs_org {
            return Ok(current);
        }
        if needs_org {
            self.refresh(&current.policy, (ledger, alerts, clock)).await;
        }
        let (tree, read_at) = {
            let cache = self.cache();
            match (needs_org, &cache.tree) {
                (false, _) => (OrgTree::default(), None),
                (true, Some(tree)) => (tree.clone(), cache.read_at),
                (true, None) if self.org.is_none() => {
                    return Err(HandlerError::PolicyUnavailable {
                        event_id: event_id.to_string(),
                        source: not_configured(),
                    })
                }
                (true, None) => {
                    return Err(HandlerError::PolicyUnavailable {
                        event_id: event_id.to_string(),
                        source: PortError::new(
                            ErrorKind::Retryable,
                            "ListAccounts",
                            None,
                            "the members of the policy's vault sets are not read yet",
                        ),
                    })
                }
            }
        };
        let fresh = |e: &&Expanded| e.digest == current.digest && e.read_at == read_at;
        if let Some(e) = self.expanded().as_ref().filter(fresh) {
            return Ok(Arc::clone(&e.in_force));
        }
        let policy = current.policy.expand(&current.policy.membership(&tree));
        tracing::info!(
            vaults = policy.vaults.len(),
            routes = policy.routes.len(),
            "vault sets expanded"
        );
        let in_force = Arc::new(InForce {
            policy,
            version: current.version.clone(),
            digest: current.digest.clone(),
        });
        *self.expanded() = Some(Expanded {
            digest: current.digest.clone(),
            read_at,
            in_force: Arc::clone(&in_force),
        });
        Ok(in_force)
    }

    /// Read Organizations when due; the first failure of a run of them is one alert.
    async fn refresh(
        &self,
        policy: &Policy,
        (ledger, alerts, clock): (&impl LedgerPort, &impl AlertPort, &impl Clock),
    ) {
        let now = clock.now();
        if !self.cache().due(now) {
            return;
        }
        let read = match &self.org {
            Some(org) => org.read_boxed(policy).await,
            None => Err(not_configured()),
        };
        let first_failure = self.cache().record(read.as_ref(), now);
        let e = match read {
            Ok(tree) => {
                // The outage (if any, whichever process saw it) is over: a new one alerts again.
                if let Err(e) = ledger.close_incident(UNREADABLE).await {
                    tracing::warn!(error = %e, "organisation incident not closed");
                }
                return missing_units(&tree, (ledger, alerts, clock)).await;
            }
            Err(e) => e,
        };
        tracing::warn!(error = %e, "organisation not read: the last membership (if any) stays");
        if !first_failure {
            return;
        }
        // One id for every process: the ledger's conditional open lets one alert out.
        let id = UNREADABLE.to_string();
        if let Err(failed) =
            incident::raise_with(ledger, alerts, clock, id, unreadable_alert(&e)).await
        {
            tracing::warn!(error = %failed, "unreadable organisation not announced");
        }
    }
}

/// OUs the policy names that Organizations says do not exist: one alert while any is missing
/// (their sets have no members there; every other OU is read and in force), closed by a read
/// that finds them all.
async fn missing_units(
    tree: &OrgTree,
    (ledger, alerts, clock): (&impl LedgerPort, &impl AlertPort, &impl Clock),
) {
    if tree.missing.is_empty() {
        if let Err(e) = ledger.close_incident(MISSING_UNITS).await {
            tracing::warn!(error = %e, "missing OUs incident not closed");
        }
        return;
    }
    let units: Vec<&str> = tree.missing.iter().map(String::as_str).collect();
    tracing::warn!(units = ?units, "OUs of the policy not in the organisation");
    let alert = Alert::plain(
        "Backup Relay: OUs of the policy are not in the organisation".into(),
        format!("AWS Organizations says these OUs do not exist (ParentNotFoundException): {}.\nThe vault sets and the report scope that name them have no members there: their accounts' backups are not copied on. Every other OU is read and in force.\nFix: correct the OU ids in the policy (an OU deleted or recreated has a new id).", units.join(", ")),
    );
    let id = MISSING_UNITS.to_string();
    if let Err(failed) = incident::raise_with(ledger, alerts, clock, id, alert).await {
        tracing::warn!(error = %failed, "missing OUs not announced");
    }
}

/// The incident of OUs the policy names that do not exist: one at a time.
const MISSING_UNITS: &str = "organizations#missing-units";

/// A policy with sets of OUs or of the organisation, and no role to read it through.
fn not_configured() -> PortError {
    PortError::new(
        ErrorKind::Permanent,
        "ListAccounts",
        Some("OrganizationsRoleNotConfigured"),
        "the policy has vault sets of OUs or of the organisation (or a report scope of them), and no Organizations read role is configured (ORGANIZATIONS_ROLE_ARN, the hub's OrganizationsRoleArn)",
    )
}

/// The incident of an organisation that cannot be read: one at a time, closed by a good read.
const UNREADABLE: &str = "organizations#unreadable";

fn unreadable_alert(e: &PortError) -> Alert {
    Alert::plain(
        "Backup Relay: the organisation's members cannot be read".into(),
        format!("AWS Organizations answered: {e}\nThe members last read stay in force (none, if this process never read them: events of set members then fail and are retried). Accounts that joined since are not covered until it can be read.\nFix: deploy the Organizations read role (infra/organization-read.yaml) in the management or delegated administrator account, and give its ARN to the hub (OrganizationsRoleArn)."),
    )
}
