//! `relay doctor` (contract): a preflight of every account and Region the policy reaches, before
//! the first copy fails hours later. Each check is one rule over facts read through
//! [`DoctorPort`]; a fact that could not be read makes its check `warn` ("not checked"), never
//! `pass`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;

use serde::Serialize;

use relay_core::arn::{Location, VaultArn};
use relay_core::policy::{Policy, Vault};
use relay_core::ports::PortResult;
use relay_core::retention::VaultLock;

mod admission;
mod rules;

pub use admission::{admission_of, Admission, COPY_INTO_VAULT, KMS_COPY_ACTIONS};

/// The contract's check ids, in the order they are reported.
pub const CHECK_IDS: [&str; 11] = [
    "executor_role",
    "copy_role",
    "vault_exists",
    "vault_not_default",
    "vault_access_policy",
    "kms_key_shared",
    "vault_lock_bounds",
    "advanced_features",
    "cross_account_backup",
    "organization_member",
    "event_forwarding",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub status: Status,
    pub account: String,
    pub region: String,
    /// What was checked: a vault alias, a role ARN, "organization".
    pub subject: String,
    pub message: String,
    /// What to do, in words (empty on a pass).
    pub fix: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
    pub summary: Summary,
}

impl DoctorReport {
    pub fn new(mut checks: Vec<Check>) -> Self {
        let rank = |id: &str| {
            CHECK_IDS
                .iter()
                .position(|c| *c == id)
                .unwrap_or(usize::MAX)
        };
        checks.sort_by(|a, b| {
            (rank(a.id), &a.account, &a.region, &a.subject).cmp(&(
                rank(b.id),
                &b.account,
                &b.region,
                &b.subject,
            ))
        });
        let mut summary = Summary::default();
        for c in &checks {
            match c.status {
                Status::Pass => summary.pass += 1,
                Status::Warn => summary.warn += 1,
                Status::Fail => summary.fail += 1,
            }
        }
        Self { checks, summary }
    }

    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }
}

/// A role as IAM describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleFacts {
    /// Its trust policy lets AWS Backup (`backup.amazonaws.com`) assume it.
    pub trusts_backup: bool,
}

/// A vault as DescribeBackupVault describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultState {
    pub lock: Option<VaultLock>,
    pub encryption_key_arn: Option<String>,
}

/// The key a vault encrypts with, as KMS describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyFacts {
    /// An AWS-managed key (`aws/backup`): its policy cannot be changed, so it cannot be shared.
    AwsManaged,
    /// A customer-managed key and whom its key policy lets use it.
    Customer(Admission),
}

/// Where a Region's `aws.backup` events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarding {
    /// To the hub: its bus, or in the hub's own account and Region the copy router itself.
    ToHub,
    /// To an event bus that may be the hub's (the hub's bus was not named to compare).
    ToBus(String),
    Nowhere,
}

/// The reads the checks need, each in the account and Region it names (through the executor
/// role there). One SDK adapter (`relay-aws`) and one simulator (`relay-sim`).
pub trait DoctorPort: Send + Sync {
    /// The hub can act in `account` (assumes its executor role; the home account needs none).
    fn reach(&self, at: &Location) -> impl Future<Output = PortResult<()>> + Send;
    /// The role, or `None` when it does not exist.
    fn role(
        &self,
        at: &Location,
        role_arn: &str,
    ) -> impl Future<Output = PortResult<Option<RoleFacts>>> + Send;
    /// The vault, or `None` when it does not exist.
    fn vault_state(
        &self,
        vault: &VaultArn,
    ) -> impl Future<Output = PortResult<Option<VaultState>>> + Send;
    /// Whom the vault's access policy lets copy in (`Admission::default()`: no policy).
    fn vault_admission(
        &self,
        vault: &VaultArn,
    ) -> impl Future<Output = PortResult<Admission>> + Send;
    fn key(
        &self,
        at: &Location,
        key_arn: &str,
    ) -> impl Future<Output = PortResult<KeyFacts>> + Send;
    /// DynamoDB's advanced features in AWS Backup (`None`: the Region does not say).
    fn advanced_features(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Option<bool>>> + Send;
    /// The organisation's cross-account backup setting (`None`: only the management account
    /// may read it).
    fn cross_account_backup(&self) -> impl Future<Output = PortResult<Option<bool>>> + Send;
    /// The organisation `at.account` belongs to, if any.
    fn organization_of(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;
    /// Where an enabled EventBridge rule in `at` sends `aws.backup` events.
    fn forwards_backup_events(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Forwarding>> + Send;
    /// The backup plans of `at` (their rules' target vaults and retentions): a vault lock that
    /// refuses a plan's retention fails every backup job into the vault.
    fn backup_plans(
        &self,
        at: &Location,
    ) -> impl Future<Output = PortResult<Vec<relay_compliance::inventory::PlanFacts>>> + Send;
}

/// Accounts checked at once when not told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// Every check of the contract over every account and Region the policy reaches, one piece per
/// account, [`DEFAULT_CONCURRENCY`] at a time.
pub async fn run<P: DoctorPort>(port: &P, policy: &Policy) -> DoctorReport {
    run_with(port, policy, DEFAULT_CONCURRENCY).await
}

/// The same, `concurrency` accounts at a time.
pub async fn run_with<P: DoctorPort>(
    port: &P,
    policy: &Policy,
    concurrency: usize,
) -> DoctorReport {
    DoctorReport::new(rules::all(port, policy, concurrency).await)
}

/// The policy's shape as the checks see it: which vaults copies leave from and arrive in, and
/// which of those routes cross accounts. Resolved once, and indexed by account: every account's
/// checks look up their own vaults and routes, and an organisation's expanded policy has a vault
/// and a route per member (10,000 accounts walking every route each were hours).
pub(crate) struct Topology<'p> {
    pub policy: &'p Policy,
    routes: Vec<(&'p Vault, &'p Vault)>,
    sources: Vec<&'p Vault>,
    /// Where DynamoDB's advanced features must be on, each account and Region once.
    needs_advanced: Vec<&'p Vault>,
    /// Per account: its vaults (the policy's order), the cross-account routes it is an end of,
    /// the first source vault there, and its vaults that need advanced features.
    vaults_in: HashMap<&'p str, Vec<&'p Vault>>,
    cross_in: HashMap<&'p str, Vec<(&'p Vault, &'p Vault)>>,
    first_source_in: HashMap<&'p str, &'p Vault>,
    advanced_in: HashMap<&'p str, Vec<&'p Vault>>,
}

impl<'p> Topology<'p> {
    pub(crate) fn new(policy: &'p Policy) -> Self {
        let by_alias: HashMap<&str, &Vault> = policy
            .vaults
            .iter()
            .map(|v| (v.alias.as_str(), v))
            .collect();
        let routes: Vec<(&Vault, &Vault)> = policy
            .routes
            .iter()
            .filter_map(|r| {
                Some((
                    *by_alias.get(r.from.as_str())?,
                    *by_alias.get(r.to.as_str())?,
                ))
            })
            .collect();
        let once = |vaults: &mut dyn Iterator<Item = &'p Vault>| {
            let mut seen = HashSet::new();
            vaults
                .filter(|v| seen.insert(v.alias.as_str()))
                .collect::<Vec<_>>()
        };
        let sources = once(&mut routes.iter().map(|(from, _)| *from));
        let destinations = once(&mut routes.iter().map(|(_, to)| *to));
        let needs_advanced = rules::needs_advanced_features(&sources, &destinations);
        let mut cross_in: HashMap<&str, Vec<(&Vault, &Vault)>> = HashMap::new();
        for &(from, to) in routes
            .iter()
            .filter(|(f, t)| f.arn.account != t.arn.account)
        {
            for account in [from.arn.account.as_str(), to.arn.account.as_str()] {
                cross_in.entry(account).or_default().push((from, to));
            }
        }
        let mut first_source_in = HashMap::new();
        for v in &sources {
            first_source_in.entry(v.arn.account.as_str()).or_insert(*v);
        }
        Self {
            vaults_in: by_account(policy.vaults.iter()),
            advanced_in: by_account(needs_advanced.iter().copied()),
            policy,
            routes,
            sources,
            needs_advanced,
            cross_in,
            first_source_in,
        }
    }

    pub(crate) fn accounts(&self) -> BTreeSet<(String, String)> {
        self.policy
            .vaults
            .iter()
            .map(|v| (v.arn.partition.clone(), v.arn.account.clone()))
            .collect()
    }

    /// Routes as (from, to) vaults.
    pub(crate) fn routes(&self) -> impl Iterator<Item = (&'p Vault, &'p Vault)> + '_ {
        self.routes.iter().copied()
    }

    pub(crate) fn cross_account(&self) -> impl Iterator<Item = (&'p Vault, &'p Vault)> + '_ {
        self.routes()
            .filter(|(from, to)| from.arn.account != to.arn.account)
    }

    /// Vaults copies leave from, each once.
    pub(crate) fn sources(&self) -> &[&'p Vault] {
        &self.sources
    }

    pub(crate) fn needs_advanced(&self) -> &[&'p Vault] {
        &self.needs_advanced
    }

    /// The account's vaults, in the policy's order.
    pub(crate) fn vaults_in(&self, account: &str) -> &[&'p Vault] {
        self.vaults_in.get(account).map_or(&[], Vec::as_slice)
    }

    /// The cross-account routes the account is an end of.
    pub(crate) fn cross_account_in(&self, account: &str) -> &[(&'p Vault, &'p Vault)] {
        self.cross_in.get(account).map_or(&[], Vec::as_slice)
    }

    /// The account's first vault copies leave from.
    pub(crate) fn first_source_in(&self, account: &str) -> Option<&'p Vault> {
        self.first_source_in.get(account).copied()
    }

    /// The account's vaults where advanced features must be on.
    pub(crate) fn needs_advanced_in(&self, account: &str) -> &[&'p Vault] {
        self.advanced_in.get(account).map_or(&[], Vec::as_slice)
    }
}

/// Vaults grouped by account, each group in the order given.
fn by_account<'p>(vaults: impl Iterator<Item = &'p Vault>) -> HashMap<&'p str, Vec<&'p Vault>> {
    let mut out: HashMap<&str, Vec<&Vault>> = HashMap::new();
    for v in vaults {
        out.entry(v.arn.account.as_str()).or_default().push(v);
    }
    out
}

#[cfg(test)]
mod tests;
