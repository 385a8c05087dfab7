//! The policy in force for one warm process: read from its store at the first invocation, looked
//! at again at most every five minutes, each new version validated before it is used. A refused
//! version is announced once, as an incident in the ledger (one alert whichever process sees it
//! first), and the last valid version stays in force.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};

use relay_chain::incident;
use relay_core::policy::keeper::{InForce, NoPolicy, Offer, PolicyDocument, PolicyKeeper};
use relay_core::policy::{Policy, PolicyErrors};
use relay_core::ports::{
    Alert, AlertPort, Clock, ErrorKind, LedgerPort, OrganizationsPort, PolicyStore, PortError,
    PortResult, RouterPorts,
};

use crate::membership::Members;
use crate::HandlerError;

type Fetching<'a, T> = Pin<Box<dyn Future<Output = PortResult<T>> + Send + 'a>>;

/// [`PolicyStore`] as an object, so the handlers need no type parameter for it.
trait FetchPolicy: Send + Sync {
    fn fetch_boxed(&self) -> Fetching<'_, PolicyDocument>;
    fn fetch_before_boxed<'a>(&'a self, version: &'a str) -> Fetching<'a, Option<PolicyDocument>>;
    fn author_boxed<'a>(&'a self, version: &'a str) -> Fetching<'a, Option<String>>;
}

impl<S: PolicyStore> FetchPolicy for S {
    fn fetch_boxed(&self) -> Fetching<'_, PolicyDocument> {
        Box::pin(self.fetch())
    }

    fn fetch_before_boxed<'a>(&'a self, version: &'a str) -> Fetching<'a, Option<PolicyDocument>> {
        Box::pin(self.fetch_before(version))
    }

    fn author_boxed<'a>(&'a self, version: &'a str) -> Fetching<'a, Option<String>> {
        Box::pin(self.author(version))
    }
}

/// How far a process that starts on an invalid version goes back for a valid one.
const EARLIER_VERSIONS: usize = 10;

pub struct LoadedPolicy {
    /// `None`: a policy given once (tests), never looked for again.
    store: Option<Box<dyn FetchPolicy>>,
    keeper: Mutex<PolicyKeeper>,
    /// The members its vault sets expand with.
    members: Members,
}

impl LoadedPolicy {
    /// The deployed policy, from `store`. `passable_copy_role`: the role the functions may pass
    /// (`COPY_ROLE_NAME`); a policy naming another copy role is refused.
    pub fn from_store(
        store: impl PolicyStore + 'static,
        passable_copy_role: Option<String>,
    ) -> Self {
        Self {
            store: Some(Box::new(store)),
            keeper: Mutex::new(PolicyKeeper::new(passable_copy_role)),
            members: Members::default(),
        }
    }

    /// Policy text given once, read at the first invocation (an invalid one is announced then).
    pub fn parse(text: &str) -> Self {
        Self::from_store(relay_aws::AwsPolicyStore::Inline(text.to_string()), None)
    }

    /// A policy already parsed (or refused): for tests.
    pub fn new(policy: Result<Policy, PolicyErrors>) -> Self {
        Self {
            store: None,
            keeper: Mutex::new(PolicyKeeper::given(policy)),
            members: Members::default(),
        }
    }

    /// Vault sets of OUs or of the organisation expand with what `org` reads.
    pub fn with_organizations(mut self, org: impl OrganizationsPort + 'static) -> Self {
        self.members = Members::new(org);
        self
    }

    pub async fn get<P: RouterPorts>(
        &self,
        ports: &P,
        event_id: &str,
    ) -> Result<Arc<InForce>, HandlerError> {
        self.get_with(ports.ledger(), ports, ports, event_id).await
    }

    /// [`get`](Self::get) for handlers that hold the ledger, the alerts and the clock apart.
    pub async fn get_with(
        &self,
        ledger: &impl LedgerPort,
        alerts: &impl AlertPort,
        clock: &impl Clock,
        event_id: &str,
    ) -> Result<Arc<InForce>, HandlerError> {
        let read_error = self.look(ledger, alerts, clock).await;
        let current = self.keeper().current();
        let current = current.map_err(|no| {
            let e = match no {
                NoPolicy::Invalid(errors) => HandlerError::InvalidPolicy {
                    event_id: event_id.to_string(),
                    errors,
                },
                NoPolicy::NotRead => HandlerError::PolicyUnavailable {
                    event_id: event_id.to_string(),
                    source: read_error.unwrap_or_else(|| {
                        PortError::new(ErrorKind::Retryable, "policy", None, "not read yet")
                    }),
                },
            };
            tracing::error!(error_type = e.error_type(), error = %e, "event not processed");
            e
        })?;
        self.members
            .expand(current, (ledger, alerts, clock), event_id)
            .await
    }

    /// Read the store when due and offer what it holds; announce a refusal. Returns the read's
    /// error, if it failed.
    async fn look(
        &self,
        ledger: &impl LedgerPort,
        alerts: &impl AlertPort,
        clock: &impl Clock,
    ) -> Option<PortError> {
        let store = self.store.as_ref()?;
        let now = clock.now();
        if !self.keeper().due(now) {
            return None;
        }
        let document = match store.fetch_boxed().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "policy not read: the version in force (if any) stays");
                self.keeper().read_failed(now);
                if !e.kind.is_transient() {
                    let alert = unreadable_alert(&e);
                    let id = format!(
                        "policy#unreadable#{}#{}",
                        e.operation,
                        e.code.as_deref().unwrap_or(e.kind.name())
                    );
                    if let Err(failed) =
                        incident::raise_with(ledger, alerts, clock, id, alert).await
                    {
                        tracing::warn!(error = %failed, "unreadable policy not announced yet");
                    }
                }
                return Some(e);
            }
        };
        let version = document.version.clone();
        let before = self.keeper().in_force();
        let offer = self.keeper().offer(document, now);
        // Nothing valid in force (a process that started after a bad publish): go back to the
        // last valid version, at every look until one is found.
        if self.keeper().wants_earlier() {
            self.fall_back(store.as_ref(), &version).await;
        }
        match offer {
            Offer::Unchanged => {}
            Offer::Adopted { version } => {
                tracing::info!(version = %version, "policy version in force");
                let announced = self
                    .announce_version(store.as_ref(), before, (ledger, alerts, clock))
                    .await;
                if let Err(e) = announced {
                    tracing::warn!(error = %e, "new policy version not announced yet");
                }
            }
            Offer::Refused {
                version,
                errors,
                incident_id,
                ..
            } => {
                let kept = self.keeper().version_in_force();
                tracing::error!(error_type = "InvalidPolicy", version = %version, kept = kept.as_deref().unwrap_or("none"), errors = %errors, "policy version refused");
                let alert = refused_alert(&version, &errors, kept.as_deref());
                match incident::raise_with(ledger, alerts, clock, incident_id.clone(), alert).await
                {
                    Ok(_) => self.keeper().announced(&incident_id),
                    Err(e) => {
                        tracing::warn!(error = %e, "refused policy not announced yet: tried again at the next look")
                    }
                }
            }
        }
        None
    }

    /// Every version that goes in force is told once (one incident per version, whichever
    /// process adopts it first): who wrote it where the store says, and what changed from the
    /// version before it (the one this process had, else the store's previous version).
    async fn announce_version(
        &self,
        store: &dyn FetchPolicy,
        before: Option<Arc<InForce>>,
        (ledger, alerts, clock): (&impl LedgerPort, &impl AlertPort, &impl Clock),
    ) -> PortResult<bool> {
        let Ok(now) = self.keeper().current() else {
            return Ok(false);
        };
        if before.as_ref().is_some_and(|b| b.digest == now.digest) {
            return Ok(false);
        }
        let previous = match before {
            Some(b) => Some((b.version.clone(), b.policy.clone())),
            None => store
                .fetch_before_boxed(&now.version)
                .await
                .ok()
                .flatten()
                .and_then(|d| Some((d.version.clone(), Policy::parse(&d.text).ok()?))),
        };
        let author = store.author_boxed(&now.version).await.ok().flatten();
        let alert = version_alert(&now, previous.as_ref(), author.as_deref());
        let id = format!("policy#version#{}", now.version);
        incident::raise_with(ledger, alerts, clock, id, alert).await
    }

    /// Nothing in force and the current version refused (a process started after a bad
    /// publish): the newest earlier version that is valid goes in force, if one is found within
    /// `EARLIER_VERSIONS`.
    async fn fall_back(&self, store: &dyn FetchPolicy, refused: &str) {
        let mut before = refused.to_string();
        for _ in 0..EARLIER_VERSIONS {
            if !self.keeper().wants_earlier() {
                break;
            }
            let earlier = match store.fetch_before_boxed(&before).await {
                Ok(Some(d)) => d,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, before = %before, "earlier policy versions not read");
                    break;
                }
            };
            before = earlier.version.clone();
            if self.keeper().fall_back(earlier) {
                tracing::info!(version = %before, refused = %refused, "the last valid policy version is in force");
            }
        }
    }

    fn keeper(&self) -> MutexGuard<'_, PolicyKeeper> {
        // A panic while holding the lock leaves the keeper whole (each change is one assignment).
        self.keeper.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The alert of a policy version that went in force: who, and what changed.
fn version_alert(
    now: &InForce,
    previous: Option<&(String, Policy)>,
    author: Option<&str>,
) -> Alert {
    let who = author.map_or(
        "The store does not say who wrote it (for S3, CloudTrail's data events do).".to_string(),
        |a| format!("Written by {a}."),
    );
    let what = match previous {
        None => "No earlier valid version was found: this is the first.".to_string(),
        Some((version, before)) => {
            let changes = relay_core::policy::keeper::changes(before, &now.policy);
            if changes.is_empty() {
                format!("Against version {version}: no vault, route or copy role changed (comments, order or formatting).")
            } else {
                let listed: Vec<String> = changes
                    .iter()
                    .take(ALERT_ERRORS)
                    .map(|c| format!("  - {c}"))
                    .collect();
                format!("Against version {version}:\n{}", listed.join("\n"))
            }
        }
    };
    Alert::plain(
        format!("Backup Relay: policy version {} in force", now.version),
        format!(
            "The policy's version {} ({}) is now in force: every copy, guard and report follows \
             it.\n{who}\n{what}",
            now.version, now.digest
        ),
    )
}

/// Errors an alert lists; the rest are counted (an alert must fit an SNS message and a ledger item).
const ALERT_ERRORS: usize = 20;

fn unreadable_alert(e: &PortError) -> Alert {
    Alert::plain("Backup Relay: the policy cannot be read".into(), format!("The policy's store answered: {e}\nRunning functions keep the version in force; functions that start now have none and take no action until it can be read.\nFix: restore the parameter or object (and the functions' read access to it)."))
}

fn refused_alert(version: &str, errors: &PolicyErrors, kept: Option<&str>) -> Alert {
    let stays = match kept {
        Some(v) => {
            format!("The version in force ({v}) stays: copies, guards and reports go on as before.")
        }
        None => "No valid version has been seen: nothing is done until one is published (events \
                 fail to their on-failure queues meanwhile)."
            .to_string(),
    };
    let listed = PolicyErrors(errors.0.iter().take(ALERT_ERRORS).cloned().collect());
    let more = match errors.0.len().saturating_sub(ALERT_ERRORS) {
        0 => String::new(),
        n => format!("\n  ... and {n} more (`relay validate` lists them all)"),
    };
    Alert::plain(format!("Backup Relay: policy version {version} refused"), format!("The policy's version {version} is invalid and is not used. {stays}\n{listed}{more}\nFix: publish a corrected version (`relay validate` checks it first)."))
}
