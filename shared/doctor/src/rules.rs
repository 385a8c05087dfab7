//! The checks: facts are read first (each in its own account and Region), then every rule is a
//! pure function of the policy and the facts.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Admission, Check, DoctorPort, Forwarding, KeyFacts, RoleFacts, Status, Topology, VaultState,
};
use relay_compliance::inventory::PlanFacts;
use relay_core::arn::Location;
use relay_core::policy::{Policy, Vault};
use relay_core::ports::{PortError, PortResult};
use relay_core::retention::{fit_to_lock, LockFit};

/// What AWS said, per subject. A read that failed is kept as its error: its check warns.
#[derive(Default)]
pub(crate) struct Facts {
    reach: BTreeMap<String, PortResult<()>>,
    roles: BTreeMap<String, PortResult<Option<RoleFacts>>>,
    vaults: BTreeMap<String, PortResult<Option<VaultState>>>,
    admissions: BTreeMap<String, PortResult<Admission>>,
    keys: BTreeMap<String, PortResult<KeyFacts>>,
    advanced: BTreeMap<Location, PortResult<Option<bool>>>,
    cross_account: Option<PortResult<Option<bool>>>,
    organizations: BTreeMap<String, PortResult<Option<String>>>,
    forwarding: BTreeMap<Location, PortResult<Forwarding>>,
    /// Backup plans where a locked vault of the policy is.
    plans: BTreeMap<Location, PortResult<Vec<PlanFacts>>>,
}

pub(crate) async fn all<P: DoctorPort>(
    port: &P,
    policy: &Policy,
    concurrency: usize,
) -> Vec<Check> {
    let topo = Topology::new(policy);
    let facts = gather(port, &topo, concurrency).await;
    evaluate(&topo, &facts)
}

/// The facts in pieces, one per account (its calls in series, within the account's request
/// rates), `concurrency` accounts at a time: an organisation of thousands is minutes, not hours.
async fn gather<P: DoctorPort>(port: &P, topo: &Topology<'_>, concurrency: usize) -> Facts {
    use futures_util::stream::{self, StreamExt};
    let pieces: Vec<Facts> = stream::iter(topo.accounts())
        .map(|(_, account)| async move { gather_account(port, topo, &account).await })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut f = Facts::default();
    for piece in pieces {
        f.absorb(piece);
    }
    if topo.cross_account().next().is_some() {
        f.cross_account = Some(port.cross_account_backup().await);
    }
    f
}

/// Everything read in one account: nothing more once it cannot be reached.
async fn gather_account<P: DoctorPort>(port: &P, topo: &Topology<'_>, account: &str) -> Facts {
    let policy = topo.policy;
    let mut f = Facts::default();
    let Some(home) = topo.vaults_in(account).first().map(|v| v.arn.location()) else {
        return f;
    };
    let reach = port.reach(&home).await;
    let reachable = reach.is_ok();
    f.reach.insert(account.to_string(), reach);
    if !reachable {
        return f;
    }
    if let Some(v) = topo.first_source_in(account) {
        let role = port
            .role(&v.arn.location(), &policy.copy_role_for(account))
            .await;
        f.roles.insert(account.to_string(), role);
    }
    for v in topo.needs_advanced_in(account) {
        let at = v.arn.location();
        f.advanced
            .insert(at.clone(), port.advanced_features(&at).await);
    }
    for v in topo.vaults_in(account) {
        let at = v.arn.location();
        if !f.forwarding.contains_key(&at) {
            f.forwarding
                .insert(at.clone(), port.forwards_backup_events(&at).await);
        }
        f.vaults
            .insert(v.alias.clone(), port.vault_state(&v.arn).await);
    }
    for v in topo.vaults_in(account) {
        let locked = matches!(f.vaults.get(&v.alias), Some(Ok(Some(s))) if s.lock.is_some());
        let at = v.arn.location();
        if locked && !f.plans.contains_key(&at) {
            f.plans.insert(at.clone(), port.backup_plans(&at).await);
        }
    }
    gather_cross_account(port, topo, account, &home, &mut f).await;
    f
}

/// The account's side of its cross-account routes: who may copy into its destinations, the
/// keys of its sources, its organisation.
async fn gather_cross_account<P: DoctorPort>(
    port: &P,
    topo: &Topology<'_>,
    account: &str,
    home: &Location,
    f: &mut Facts,
) {
    let mut involved = false;
    for &(from, to) in topo.cross_account_in(account) {
        if to.arn.account == account && !f.admissions.contains_key(&to.alias) {
            f.admissions
                .insert(to.alias.clone(), port.vault_admission(&to.arn).await);
        }
        if from.arn.account == account {
            let key = match f.vaults.get(&from.alias) {
                Some(Ok(Some(VaultState {
                    encryption_key_arn: Some(k),
                    ..
                }))) => Some(k.clone()),
                _ => None,
            };
            if let Some(key) = key.filter(|k| !f.keys.contains_key(k)) {
                let facts = port.key(&from.arn.location(), &key).await;
                f.keys.insert(key, facts);
            }
        }
        involved |= from.arn.account == account || to.arn.account == account;
    }
    if involved {
        let org = port.organization_of(home).await;
        f.organizations.insert(account.to_string(), org);
    }
}

impl Facts {
    /// Another account's facts, added (accounts' subjects never overlap).
    fn absorb(&mut self, other: Facts) {
        self.reach.extend(other.reach);
        self.roles.extend(other.roles);
        self.vaults.extend(other.vaults);
        self.admissions.extend(other.admissions);
        self.keys.extend(other.keys);
        self.advanced.extend(other.advanced);
        self.organizations.extend(other.organizations);
        self.forwarding.extend(other.forwarding);
        self.plans.extend(other.plans);
    }
}

fn evaluate(topo: &Topology<'_>, f: &Facts) -> Vec<Check> {
    let mut out = Vec::new();
    executor_roles(f, &mut out);
    copy_roles(topo, f, &mut out);
    vaults(topo, f, &mut out);
    cross_account(topo, f, &mut out);
    regions(topo, f, &mut out);
    out
}

struct At<'a> {
    account: &'a str,
    region: &'a str,
    subject: String,
}

fn check(id: &'static str, status: Status, at: &At<'_>, message: String, fix: &str) -> Check {
    Check {
        id,
        status,
        account: at.account.to_string(),
        region: at.region.to_string(),
        subject: at.subject.clone(),
        message,
        fix: if status == Status::Pass {
            String::new()
        } else {
            fix.to_string()
        },
    }
}

/// A fact that could not be read: the check says so and does not pass.
fn not_checked(id: &'static str, at: &At<'_>, e: Option<&PortError>) -> Check {
    let (message, fix) = match e {
        Some(e) => (
            format!("not checked: {e}"),
            "let the executor role read it (the spoke stack grants these reads), then run doctor again",
        ),
        None => (
            format!("not checked: account {} cannot be reached", at.account),
            "fix executor_role for this account first",
        ),
    };
    check(id, Status::Warn, at, message, fix)
}

fn vault_at(v: &Vault) -> At<'_> {
    At {
        account: &v.arn.account,
        region: &v.arn.region,
        subject: v.alias.clone(),
    }
}

fn executor_roles(f: &Facts, out: &mut Vec<Check>) {
    for (account, result) in &f.reach {
        let at = At {
            account,
            region: "",
            subject: "executor role".into(),
        };
        out.push(match result {
            Ok(()) => check("executor_role", Status::Pass, &at, "the hub can act in this account".into(), ""),
            Err(e) if e.is_account_denied() || e.kind == relay_core::ports::ErrorKind::AccessDenied => check(
                "executor_role",
                Status::Fail,
                &at,
                format!("cannot be assumed: {e}"),
                "deploy the spoke stack in this account (its executor role trusts the hub's function roles within the organisation), or correct EXECUTOR_ROLE_NAME",
            ),
            Err(e) => not_checked("executor_role", &at, Some(e)),
        });
    }
}

fn copy_roles(topo: &Topology<'_>, f: &Facts, out: &mut Vec<Check>) {
    let mut seen = BTreeSet::new();
    for v in topo.sources() {
        let account = &v.arn.account;
        if !seen.insert(account.clone()) {
            continue;
        }
        let role = topo.policy.copy_role_for(account);
        let at = At {
            account,
            region: "",
            subject: role.clone(),
        };
        out.push(match f.roles.get(account) {
            None => not_checked("copy_role", &at, None),
            Some(Err(e)) => not_checked("copy_role", &at, Some(e)),
            Some(Ok(None)) => check("copy_role", Status::Fail, &at,
                format!("does not exist: every copy job started from {account} fails"),
                "deploy the spoke stack in this account (it creates the copy role), or correct the policy's copy_role"),
            Some(Ok(Some(RoleFacts { trusts_backup: false }))) => check("copy_role", Status::Fail, &at,
                "does not trust backup.amazonaws.com: AWS Backup cannot assume it to copy".into(),
                "let the service principal backup.amazonaws.com assume the role (its trust policy)"),
            Some(Ok(Some(_))) => check("copy_role", Status::Pass, &at, "exists and AWS Backup may assume it".into(), ""),
        });
    }
}

fn vaults(topo: &Topology<'_>, f: &Facts, out: &mut Vec<Check>) {
    let destinations: BTreeSet<&str> = topo.routes().map(|(_, to)| to.alias.as_str()).collect();
    for v in &topo.policy.vaults {
        let at = vault_at(v);
        let destination = destinations.contains(v.alias.as_str());
        let state = match f.vaults.get(&v.alias) {
            None | Some(Err(_)) => {
                let e = f.vaults.get(&v.alias).and_then(|r| r.as_ref().err());
                out.push(not_checked("vault_exists", &at, e));
                if destination {
                    out.push(not_checked("vault_lock_bounds", &at, e));
                }
                continue;
            }
            Some(Ok(None)) => {
                out.push(check("vault_exists", Status::Fail, &at,
                    format!("{} does not exist: copies into it fail and none leave it", v.arn),
                    "create the vault (the spoke stack's CreateVault does), or correct its ARN in the policy"));
                continue;
            }
            Some(Ok(Some(s))) => s,
        };
        out.push(check(
            "vault_exists",
            Status::Pass,
            &at,
            format!("{} exists", v.arn.name),
            "",
        ));
        if destination {
            out.push(lock_bounds(v, state, &at));
        }
        if let Some(check) = plan_lock_bounds(v, state, f, &at) {
            out.push(check);
        }
    }
}

/// A lock on a vault a backup plan writes into: a plan retention outside its bounds fails every
/// backup job, so no original is made and no chain starts. `None` when no plan targets the vault.
fn plan_lock_bounds(v: &Vault, state: &VaultState, f: &Facts, at: &At<'_>) -> Option<Check> {
    let lock = state.lock?;
    let plans = match f.plans.get(&v.arn.location())? {
        Ok(plans) => plans,
        Err(e) => return Some(not_checked("vault_lock_bounds", at, Some(e))),
    };
    let vault = v.arn.to_string();
    let targeting: Vec<&PlanFacts> = plans.iter().filter(|p| p.vault_arn == vault).collect();
    if targeting.is_empty() {
        return None;
    }
    let refused: Vec<String> = targeting
        .iter()
        .filter(|p| !lock.admits(p.delete_after_days))
        .map(|p| match p.delete_after_days {
            Some(d) => format!("'{}' keeps backups {d} days", p.name),
            None => format!("'{}' keeps backups for ever", p.name),
        })
        .collect();
    let bounds = format!(
        "the lock allows {} to {} days",
        lock.min_retention_days
            .map_or("any".into(), |d| d.to_string()),
        lock.max_retention_days
            .map_or("any".into(), |d| d.to_string()),
    );
    Some(if refused.is_empty() {
        check(
            "vault_lock_bounds",
            Status::Pass,
            at,
            format!("{bounds}: every backup plan's retention into it fits"),
            "",
        )
    } else {
        check("vault_lock_bounds", Status::Fail, at,
            format!("{bounds}, and backup plan {}: every backup job into this vault fails, so no backup is made and no copy chained", refused.join(", ")),
            "set the plan's retention within the lock's bounds, or (while the lock is still changeable) widen the lock")
    })
}

fn lock_bounds(v: &Vault, state: &VaultState, at: &At<'_>) -> Check {
    let Some(lock) = state.lock else {
        return check(
            "vault_lock_bounds",
            Status::Pass,
            at,
            "no vault lock".into(),
            "",
        );
    };
    let bounds = format!(
        "the lock allows {} to {} days",
        lock.min_retention_days
            .map_or("any".into(), |d| d.to_string()),
        lock.max_retention_days
            .map_or("any".into(), |d| d.to_string()),
    );
    let asked = v.retention.as_ref().and_then(|r| r.copy_lifecycle());
    if asked.is_none() {
        return check("vault_lock_bounds", Status::Warn, at,
            format!("{bounds}, and copies keep their source's retention: one outside these bounds fails to copy"),
            "give the vault a retention in the policy within the lock's bounds");
    }
    match fit_to_lock(asked, Some(&lock), v.on_lock_conflict) {
        LockFit::Fits(_) => check("vault_lock_bounds", Status::Pass, at, format!("{bounds}: the policy's retention fits"), ""),
        LockFit::Raised { lifecycle, from_days } => check("vault_lock_bounds", Status::Pass, at,
            format!("{bounds}: copies are kept {} days, not {from_days} (longer never loses data)", lifecycle.delete_after_days.unwrap_or(from_days)), ""),
        LockFit::Clamped { lifecycle, from_days } => check("vault_lock_bounds", Status::Warn, at,
            format!("{bounds}: copies are kept only {} days, not the {from_days} the policy asks (on_lock_conflict: clamp)", lifecycle.delete_after_days.unwrap_or(0)),
            "raise the lock's MaxRetentionDays while it is still changeable, or accept the shorter retention (or use a vault without this lock)"),
        LockFit::Skipped { reason } => check("vault_lock_bounds", Status::Fail, at,
            format!("{bounds}: no copy is made into this vault: {reason}"),
            "raise the lock's MaxRetentionDays while it is still changeable, or lower the vault's retention in the policy"),
    }
}

fn cross_account(topo: &Topology<'_>, f: &Facts, out: &mut Vec<Check>) {
    let routes: Vec<(&Vault, &Vault)> = topo.cross_account().collect();
    if routes.is_empty() {
        return;
    }
    let org = expected_organization(f);
    let member_of = |account: &str| match f.organizations.get(account) {
        Some(Ok(o)) => o.clone(),
        _ => None,
    };
    let members: BTreeSet<&str> = routes
        .iter()
        .flat_map(|(from, to)| [from.arn.account.as_str(), to.arn.account.as_str()])
        .collect();
    organization_members(&members, f, org.as_deref(), out);
    let mut destinations: BTreeMap<&str, (&Vault, BTreeSet<&str>)> = BTreeMap::new();
    let mut sources: BTreeMap<&str, (&Vault, BTreeSet<&str>)> = BTreeMap::new();
    for (from, to) in &routes {
        destinations
            .entry(&to.alias)
            .or_insert((to, BTreeSet::new()))
            .1
            .insert(&from.arn.account);
        sources
            .entry(&from.alias)
            .or_insert((from, BTreeSet::new()))
            .1
            .insert(&to.arn.account);
    }
    for (to, from_accounts) in destinations.values() {
        let at = vault_at(to);
        out.push(if to.arn.name == "Default" {
            check("vault_not_default", Status::Fail, &at,
                "the Default vault cannot receive cross-account copies".into(),
                "copy into a vault of your own (the spoke stack can create one) and name it in the policy")
        } else {
            check("vault_not_default", Status::Pass, &at, format!("'{}' is not the Default vault", to.arn.name), "")
        });
        let missing = matches!(f.vaults.get(to.alias.as_str()), Some(Ok(None)));
        out.push(match f.admissions.get(to.alias.as_str()) {
            _ if missing => check("vault_access_policy", Status::Warn, &at,
                "not checked: the vault does not exist (see vault_exists)".into(), "create the vault first"),
            None => not_checked("vault_access_policy", &at, None),
            Some(Err(e)) => not_checked("vault_access_policy", &at, Some(e)),
            Some(Ok(admission)) => {
                let refused: Vec<&str> = from_accounts.iter().copied()
                    .filter(|a| !admission.admits(a, member_of(a).as_deref())).collect();
                if !admission.unevaluated.is_empty() {
                    unevaluated("vault_access_policy", &at, admission, &refused)
                } else if refused.is_empty() {
                    check("vault_access_policy", Status::Pass, &at, format!("its access policy lets {} copy in", admission.describe()), "")
                } else {
                    check("vault_access_policy", Status::Fail, &at,
                        format!("its access policy does not allow backup:CopyIntoBackupVault from {} (it allows {})", refused.join(", "), admission.describe()),
                        "allow backup:CopyIntoBackupVault to the organisation (Principal *, aws:PrincipalOrgID) in the vault access policy, as the spoke stack's does")
                }
            }
        });
    }
    for (from, to_accounts) in sources.values() {
        out.push(key_shared(from, to_accounts, f, &member_of));
    }
    let at = At {
        account: "",
        region: "",
        subject: "organization".into(),
    };
    out.push(match &f.cross_account {
        None => not_checked("cross_account_backup", &at, None),
        Some(Err(e)) => not_checked("cross_account_backup", &at, Some(e)),
        Some(Ok(Some(true))) => check("cross_account_backup", Status::Pass, &at, "cross-account backup is enabled for the organisation".into(), ""),
        Some(Ok(Some(false))) => check("cross_account_backup", Status::Fail, &at,
            "cross-account backup is not enabled for the organisation: every cross-account copy fails".into(),
            "in the management account: aws backup update-global-settings --global-settings isCrossAccountBackupEnabled=true"),
        Some(Ok(None)) => check("cross_account_backup", Status::Warn, &at,
            "not checked: only the organisation's management account can read this setting".into(),
            "run doctor with credentials of the management account, or check Settings > Cross-account management in the AWS Backup console"),
    });
}

fn key_shared(
    from: &Vault,
    to_accounts: &BTreeSet<&str>,
    f: &Facts,
    member_of: &dyn Fn(&str) -> Option<String>,
) -> Check {
    let at = vault_at(from);
    let key = match f.vaults.get(&from.alias) {
        Some(Ok(Some(s))) => s.encryption_key_arn.clone(),
        Some(Ok(None)) => {
            return check(
                "kms_key_shared",
                Status::Warn,
                &at,
                "not checked: the vault does not exist (see vault_exists)".into(),
                "create the vault first",
            )
        }
        Some(Err(e)) => return not_checked("kms_key_shared", &at, Some(e)),
        None => return not_checked("kms_key_shared", &at, None),
    };
    let Some(key) = key else {
        return check(
            "kms_key_shared",
            Status::Warn,
            &at,
            "not checked: the vault names no encryption key".into(),
            "check the vault's key policy lets the destination accounts use it through AWS Backup",
        );
    };
    match f.keys.get(&key) {
        None => not_checked("kms_key_shared", &at, None),
        Some(Err(e)) => not_checked("kms_key_shared", &at, Some(e)),
        Some(Ok(KeyFacts::AwsManaged)) => check("kms_key_shared", Status::Fail, &at,
            format!("{key} is AWS-managed: it cannot be shared, so copies to other accounts fail"),
            "copy from a vault encrypted with a customer-managed key (the spoke stack's CreateVault makes one)"),
        Some(Ok(KeyFacts::Customer(admission))) => {
            let refused: Vec<&str> = to_accounts.iter().copied()
                .filter(|a| !admission.admits(a, member_of(a).as_deref())).collect();
            if !admission.unevaluated.is_empty() {
                unevaluated("kms_key_shared", &at, admission, &refused)
            } else if refused.is_empty() {
                check("kms_key_shared", Status::Pass, &at, format!("its key {key} may be used by {}", admission.describe()), "")
            } else {
                check("kms_key_shared", Status::Fail, &at,
                    format!("its key {key} is not shared with {} (it admits {})", refused.join(", "), admission.describe()),
                    "let the organisation use the key through AWS Backup (kms:CreateGrant and kms:Decrypt, kms:ViaService backup.<region>.amazonaws.com, aws:PrincipalOrgID)")
            }
        }
    }
}

/// A resource policy with statements the doctor does not evaluate: neither a pass nor a failure.
fn unevaluated(id: &'static str, at: &At<'_>, admission: &Admission, refused: &[&str]) -> Check {
    let list: Vec<&str> = admission.unevaluated.iter().map(String::as_str).collect();
    let verdict = if refused.is_empty() {
        format!("it admits {}", admission.describe())
    } else {
        format!("{} not admitted otherwise", refused.join(", "))
    };
    check(id, Status::Warn, at,
        format!("not checked: the policy holds {} ({verdict})", list.join("; ")),
        "check by hand that these statements let the copies through, or simplify the policy to an organisation condition")
}

/// The organisation most accounts read belong to (ties: the smallest id).
fn expected_organization(f: &Facts) -> Option<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for o in f
        .organizations
        .values()
        .filter_map(|r| r.as_ref().ok()?.as_deref())
    {
        *counts.entry(o).or_default() += 1;
    }
    let best = counts.values().copied().max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(o, _)| o.to_string())
}

fn organization_members(
    accounts: &BTreeSet<&str>,
    f: &Facts,
    org: Option<&str>,
    out: &mut Vec<Check>,
) {
    for account in accounts {
        let at = At {
            account,
            region: "",
            subject: "organization".into(),
        };
        let Some(result) = f.organizations.get(*account) else {
            out.push(not_checked("organization_member", &at, None));
            continue;
        };
        out.push(match (result, org) {
            (Err(e), _) => not_checked("organization_member", &at, Some(e)),
            (Ok(Some(o)), Some(expected)) if o == expected => check("organization_member", Status::Pass, &at, format!("a member of {o}"), ""),
            (Ok(Some(o)), Some(expected)) => check("organization_member", Status::Fail, &at,
                format!("a member of {o}, not of {expected}: copies to and from the other accounts fail"),
                "move the account into the organisation, or take its vaults out of the policy's cross-account routes"),
            (Ok(_), _) => check("organization_member", Status::Fail, &at,
                "not a member of any organisation: both accounts of a cross-account copy must be members of the same one".into(),
                "invite the account into the organisation, or take its vaults out of the policy's cross-account routes"),
        });
    }
}

/// Where DynamoDB's advanced features must be on: where copies start (a native backup cannot be
/// copied), and where a copy moves to cold storage (which needs them). Each account and Region
/// once.
pub(crate) fn needs_advanced_features<'p>(
    sources: &[&'p Vault],
    destinations: &[&'p Vault],
) -> Vec<&'p Vault> {
    let cold = destinations.iter().copied().filter(|v| {
        v.retention
            .as_ref()
            .and_then(|r| r.cold_after_days())
            .is_some()
    });
    let mut seen = BTreeSet::new();
    sources
        .iter()
        .copied()
        .chain(cold)
        .filter(|v| seen.insert(v.arn.location()))
        .collect()
}

fn regions(topo: &Topology<'_>, f: &Facts, out: &mut Vec<Check>) {
    for &v in topo.needs_advanced() {
        let at = At {
            account: &v.arn.account,
            region: &v.arn.region,
            subject: v.alias.clone(),
        };
        out.push(match f.advanced.get(&v.arn.location()) {
            None => not_checked("advanced_features", &at, None),
            Some(Err(e)) => not_checked("advanced_features", &at, Some(e)),
            Some(Ok(Some(true))) => check("advanced_features", Status::Pass, &at, "AWS Backup fully manages DynamoDB here".into(), ""),
            Some(Ok(_)) => check("advanced_features", Status::Fail, &at,
                "DynamoDB's advanced features in AWS Backup are off: backups here are DynamoDB-native and cannot be copied, and copies here cannot move to cold storage".into(),
                "aws backup update-region-settings --resource-type-management-preference DynamoDB=true (in this account and Region)"),
        });
    }
    // Every vault's Region: copy jobs report from where they start, recovery points (the
    // retention guard's events) from where they land.
    let mut seen = BTreeSet::new();
    for v in topo
        .policy
        .vaults
        .iter()
        .filter(|v| seen.insert(v.arn.location()))
    {
        let at = At {
            account: &v.arn.account,
            region: &v.arn.region,
            subject: v.alias.clone(),
        };
        out.push(match f.forwarding.get(&v.arn.location()) {
            None => not_checked("event_forwarding", &at, None),
            Some(Err(e)) => not_checked("event_forwarding", &at, Some(e)),
            Some(Ok(Forwarding::ToHub)) => check("event_forwarding", Status::Pass, &at, "aws.backup events reach the hub".into(), ""),
            Some(Ok(Forwarding::ToBus(bus))) => check("event_forwarding", Status::Warn, &at,
                format!("aws.backup events go to {bus}, not verified as the hub's bus"),
                "run doctor with --hub-bus set to the hub's RelayBusArn output"),
            Some(Ok(Forwarding::Nowhere)) => check("event_forwarding", Status::Fail, &at,
                "no EventBridge rule sends the aws.backup events the functions need (backup, copy and recovery point state changes, unfiltered) to the hub: copies and retention repairs here wait for the reconciler's hourly pass".into(),
                "deploy the spoke stack in this account and Region (its rule forwards aws.backup events to the hub bus)"),
        });
    }
}
