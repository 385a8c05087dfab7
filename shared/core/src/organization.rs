//! Reading the organisation a policy's vault sets (and the report's scope) expand with: only
//! what they ask for, bounded whatever AWS Organizations answers.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};

use crate::policy::{AccountScope, OrgTree, Policy, MAX_OU_DEPTH};
use crate::ports::{ErrorKind, OrganizationsPort, PortError, PortResult};

/// The most OUs one read walks (AWS's quota is 2,000 per organisation).
pub const MAX_UNITS: usize = 2_000;
/// The most accounts one read keeps (the largest organisations have some thousands).
pub const MAX_ACCOUNTS: usize = 20_000;
/// How long a membership read stays fresh: an account that joins is covered within this.
pub const REFRESH_MINUTES: i64 = 15;

/// The scopes `policy` needs Organizations for: its sets' and its report's.
pub fn scopes(policy: &Policy) -> Vec<&AccountScope> {
    let mut out: Vec<&AccountScope> = policy.sets.iter().map(|s| &s.accounts).collect();
    out.extend(policy.compliance.scope_accounts());
    out.retain(|s| !matches!(s, AccountScope::Accounts(_)));
    out
}

/// The tree `policy` expands with: ListAccounts when a scope is the organisation, the OU walk
/// (breadth first, each OU once, at most [`MAX_OU_DEPTH`] levels below the OUs named) when a
/// scope names OUs. Nothing is read for a policy without such scopes.
pub async fn read_tree(org: &impl OrganizationsPort, policy: &Policy) -> PortResult<OrgTree> {
    let mut tree = OrgTree::default();
    let scopes = scopes(policy);
    if scopes
        .iter()
        .any(|s| matches!(s, AccountScope::Organization))
    {
        tree.active = org.active_accounts().await?;
        bounded(tree.active.len(), MAX_ACCOUNTS, "accounts")?;
    }
    let mut queue: VecDeque<(String, usize)> = VecDeque::new();
    for scope in &scopes {
        if let AccountScope::OrganizationalUnits(ous) = scope {
            queue.extend(ous.iter().map(|ou| (ou.clone(), 0)));
        }
    }
    let mut accounts = 0usize;
    let mut seen = BTreeSet::new();
    while let Some((ou, depth)) = queue.pop_front() {
        if depth > MAX_OU_DEPTH || !seen.insert(ou.clone()) {
            continue;
        }
        bounded(seen.len(), MAX_UNITS, "organizational units")?;
        let unit = match org.unit(&ou).await {
            // Deleted, or never one: no members, and (one the policy names) said by the caller;
            // the other OUs go on. A child gone between its parent's read and its own is gone.
            Err(e) if e.kind == ErrorKind::NotFound => {
                if depth == 0 {
                    tree.missing.insert(ou);
                }
                continue;
            }
            read => read?,
        };
        accounts += unit.accounts.len();
        bounded(accounts, MAX_ACCOUNTS, "accounts")?;
        queue.extend(unit.children.iter().map(|c| (c.clone(), depth + 1)));
        tree.units.insert(ou, unit);
    }
    Ok(tree)
}

fn bounded(n: usize, max: usize, what: &str) -> PortResult<()> {
    if n <= max {
        return Ok(());
    }
    Err(PortError::new(
        ErrorKind::Permanent,
        "ListAccountsForParent",
        None,
        format!("more than {max} {what} in the policy's scopes: not read further"),
    ))
}

/// The membership one process holds: the last tree read, when, and whether the last refresh
/// failed (so a failed refresh is one alert, not one per invocation).
#[derive(Debug, Clone, Default)]
pub struct MembershipCache {
    pub tree: Option<OrgTree>,
    pub read_at: Option<DateTime<Utc>>,
    pub failing: bool,
}

impl MembershipCache {
    /// Is a read due at `now` (never read, or older than [`REFRESH_MINUTES`], or the clock went
    /// back)?
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.read_at.is_none_or(|at| {
            now < at || now - at >= Duration::minutes(REFRESH_MINUTES) || self.tree.is_none()
        })
    }

    /// A read's outcome: a tree replaces the last one; a failure keeps it. `true` when this
    /// failure is the first of a run of failures (the one to alert on).
    pub fn record(&mut self, read: Result<&OrgTree, &PortError>, now: DateTime<Utc>) -> bool {
        self.read_at = Some(now);
        match read {
            Ok(tree) => {
                self.tree = Some(tree.clone());
                self.failing = false;
                false
            }
            Err(_) => !std::mem::replace(&mut self.failing, true),
        }
    }
}

#[cfg(test)]
mod tests;
