//! The policy in force across versions. A deployed policy lives in SSM Parameter Store or S3 and
//! can change under running functions: each new version is validated before it is used, an invalid
//! one is refused (and announced once, by its incident) while the last valid one stays in force,
//! so a typo never stops protection that was working. Pure: the caller fetches and alerts.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use super::policy_digest;
use super::{Policy, PolicyError, PolicyErrors};
use crate::arn::RoleArn;

/// What changed from one policy version to the next, in words: vaults added, removed or given
/// another ARN or retention, routes added or removed, the copy role. Empty when nothing did.
pub fn changes(before: &Policy, after: &Policy) -> Vec<String> {
    let mut out = Vec::new();
    if before.copy_role != after.copy_role {
        out.push(format!(
            "copy_role: {} -> {}",
            before.copy_role, after.copy_role
        ));
    }
    let retention = |v: &super::Vault| {
        v.retention
            .as_ref()
            .map_or("none (a plan's)".to_string(), |r| r.describe())
    };
    for v in &after.vaults {
        match before.vault(&v.alias) {
            None => out.push(format!("vault '{}' added: {}", v.alias, v.arn)),
            Some(old) if old.arn != v.arn => {
                out.push(format!("vault '{}': {} -> {}", v.alias, old.arn, v.arn))
            }
            Some(old) if old.retention != v.retention => out.push(format!(
                "vault '{}' retention: {} -> {}",
                v.alias,
                retention(old),
                retention(v)
            )),
            Some(_) => {}
        }
    }
    for v in before
        .vaults
        .iter()
        .filter(|v| after.vault(&v.alias).is_none())
    {
        out.push(format!("vault '{}' removed: {}", v.alias, v.arn));
    }
    let names = |p: &Policy| p.routes.iter().map(|r| r.name()).collect::<Vec<_>>();
    let (old_routes, new_routes) = (names(before), names(after));
    for r in new_routes.iter().filter(|r| !old_routes.contains(r)) {
        out.push(format!("route {r} added"));
    }
    for r in old_routes.iter().filter(|r| !new_routes.contains(r)) {
        out.push(format!("route {r} removed"));
    }
    if before.compliance != after.compliance {
        out.push("the compliance section changed".into());
    }
    out
}

/// How often a running function looks for a new version.
pub const RECHECK_MINUTES: i64 = 5;

/// One version of the policy document as its store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDocument {
    /// The store's own version (an SSM parameter version, an S3 version id, "inline").
    pub version: String,
    pub text: String,
}

/// A validated policy and where it came from.
#[derive(Debug, PartialEq)]
pub struct InForce {
    pub policy: Policy,
    pub version: String,
    /// `sha256:` of the text: the report's policy digest, and the identity of a version.
    pub digest: String,
}

/// What became of a document offered to the keeper.
#[derive(Debug, Clone, PartialEq)]
pub enum Offer {
    /// The text in force, or a version already refused and announced.
    Unchanged,
    Adopted {
        version: String,
    },
    /// Invalid: the version in force (if any) stays. Announce it under `incident_id`, then call
    /// [`PolicyKeeper::announced`]; until then every offer of it is refused again.
    Refused {
        version: String,
        errors: PolicyErrors,
        incident_id: String,
        kept: Option<String>,
    },
}

/// Why there is no policy to act on.
#[derive(Debug, Clone, PartialEq)]
pub enum NoPolicy {
    /// Every version seen so far was invalid.
    Invalid(PolicyErrors),
    /// The store has not been read yet (it failed at cold start).
    NotRead,
}

#[derive(Debug)]
struct Refusal {
    digest: String,
    version: String,
    errors: PolicyErrors,
    announced: bool,
}

#[derive(Debug, Default)]
pub struct PolicyKeeper {
    /// The role the functions may pass to AWS Backup: the policy's copy role must be it.
    passable_copy_role: Option<String>,
    in_force: Option<Arc<InForce>>,
    refused: Option<Refusal>,
    checked_at: Option<DateTime<Utc>>,
}

impl PolicyKeeper {
    pub fn new(passable_copy_role: Option<String>) -> Self {
        Self {
            passable_copy_role,
            ..Self::default()
        }
    }

    /// A policy given once, never read from a store (tests, tools).
    pub fn given(policy: Result<Policy, PolicyErrors>) -> Self {
        let mut keeper = Self::default();
        match policy {
            Ok(policy) => {
                keeper.in_force = Some(Arc::new(InForce {
                    policy,
                    version: "given".into(),
                    digest: String::new(),
                }))
            }
            Err(errors) => {
                keeper.refused = Some(Refusal {
                    digest: String::new(),
                    version: "given".into(),
                    errors,
                    announced: true,
                })
            }
        }
        keeper
    }

    /// Whether the store should be read now: never read, or read `RECHECK_MINUTES` ago (or at a
    /// time after `now`: a clock that went back must not stop the rechecks).
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.checked_at
            .is_none_or(|at| now < at || now - at >= Duration::minutes(RECHECK_MINUTES))
    }

    /// The store could not be read: with a policy in force, try again at the next recheck; without
    /// one, at the next call.
    pub fn read_failed(&mut self, now: DateTime<Utc>) {
        if self.in_force.is_some() {
            self.checked_at = Some(now);
        }
    }

    pub fn offer(&mut self, document: PolicyDocument, now: DateTime<Utc>) -> Offer {
        self.checked_at = Some(now);
        let digest = policy_digest(&document.text);
        if self.in_force.as_ref().is_some_and(|p| p.digest == digest) {
            return Offer::Unchanged;
        }
        let seen = |r: &&Refusal| r.digest == digest && r.version == document.version;
        if let Some(refusal) = self.refused.as_ref().filter(seen) {
            if refusal.announced {
                return Offer::Unchanged;
            }
            return self.refusal(document.version, refusal.errors.clone(), &digest);
        }
        match self.validate(&document.text) {
            Ok(policy) => {
                self.refused = None;
                self.in_force = Some(Arc::new(InForce {
                    policy,
                    version: document.version.clone(),
                    digest,
                }));
                Offer::Adopted {
                    version: document.version,
                }
            }
            Err(errors) => {
                self.refused = Some(Refusal {
                    digest: digest.clone(),
                    version: document.version.clone(),
                    errors: errors.clone(),
                    announced: false,
                });
                self.refusal(document.version, errors, &digest)
            }
        }
    }

    /// Nothing valid in force and the current version refused: the caller goes back through the
    /// store's earlier versions ([`fall_back`](Self::fall_back)).
    pub fn wants_earlier(&self) -> bool {
        self.in_force.is_none() && self.refused.is_some()
    }

    /// An earlier version, offered while [`wants_earlier`](Self::wants_earlier): a valid one is
    /// put in force (the refusal of the current one stands). `true` when it was.
    pub fn fall_back(&mut self, document: PolicyDocument) -> bool {
        if !self.wants_earlier() {
            return false;
        }
        let Ok(policy) = self.validate(&document.text) else {
            return false;
        };
        self.in_force = Some(Arc::new(InForce {
            policy,
            digest: policy_digest(&document.text),
            version: document.version,
        }));
        true
    }

    /// The version in force, if any.
    /// The version in force, if any.
    pub fn in_force(&self) -> Option<Arc<InForce>> {
        self.in_force.clone()
    }

    pub fn version_in_force(&self) -> Option<String> {
        self.in_force.as_ref().map(|p| p.version.clone())
    }

    /// The refusal of the version with `incident_id` was announced (or its incident already was).
    pub fn announced(&mut self, incident_id: &str) {
        if let Some(r) = self.refused.as_mut() {
            if incident_id == incident_id_for(&r.digest, &r.version) {
                r.announced = true;
            }
        }
    }

    pub fn current(&self) -> Result<Arc<InForce>, NoPolicy> {
        match (&self.in_force, &self.refused) {
            (Some(p), _) => Ok(Arc::clone(p)),
            (None, Some(r)) => Err(NoPolicy::Invalid(r.errors.clone())),
            (None, None) => Err(NoPolicy::NotRead),
        }
    }

    fn refusal(&self, version: String, errors: PolicyErrors, digest: &str) -> Offer {
        Offer::Refused {
            incident_id: incident_id_for(digest, &version),
            version,
            errors,
            kept: self.in_force.as_ref().map(|p| p.version.clone()),
        }
    }

    fn validate(&self, text: &str) -> Result<Policy, PolicyErrors> {
        let policy = Policy::parse(text)?;
        match &self.passable_copy_role {
            Some(name) => check_passable_copy_role(&policy, name)
                .map(|()| policy)
                .map_err(|e| PolicyErrors(vec![e])),
            None => Ok(policy),
        }
    }
}

/// One incident per refused version, whichever function or container saw it first.
pub fn incident_id_for(digest: &str, version: &str) -> String {
    let short = digest.trim_start_matches("sha256:");
    format!("policy#{version}#{}", &short[..short.len().min(16)])
}

/// The policy's copy role must be the role the functions may pass (`iam:PassRole` in the hub
/// template is granted on exactly that name): any other makes every copy job fail at its start.
pub fn check_passable_copy_role(policy: &Policy, passable: &str) -> Result<(), PolicyError> {
    let named = RoleArn::parse(&policy.copy_role_for("000000000000"))
        .map(|r| r.name)
        .unwrap_or_default();
    if named == passable {
        return Ok(());
    }
    Err(PolicyError {
        location: "policy".into(),
        field: "copy_role".into(),
        message: format!(
            "names the role '{named}', but the functions may pass only '{passable}' to AWS Backup \
             (the stack's CopyRoleName): correct copy_role or the stack parameter"
        ),
    })
}

#[cfg(test)]
mod tests;
