//! Where one plan's backups of one kind of table go, as the functions and AWS make it happen: the
//! original in the plan's vault; the plan's own copy action (lifecycle "never": the original's);
//! then route after route, each vault once (the hop identity, [`Policy::vaults_reached`]'s walk),
//! each copy with the lifecycle the copy router gives it (the vault's retention, `inherit` the
//! source's, fitted to a vault lock) and the retention guard's repair in a never_expire vault.

use std::collections::{BTreeSet, HashMap};

use relay_core::policy::{Policy, Route};
use relay_core::retention::{
    fit_to_lock, Lifecycle, LockFit, Retention, VaultLock, NEVER_EXPIRE_DAYS,
};

use super::profile::Life;
use super::{Organisation, Plan};

/// A copy (or the original) held in a vault, by the index of the vault in the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holding {
    pub(crate) vault: usize,
    pub(crate) life: Life,
}

/// A hop that crosses Regions: every backup moves the table's size out of `from_region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transfer {
    pub(crate) from_region: String,
    /// The vault it lands in.
    pub(crate) vault: usize,
    pub(crate) every_hours: u32,
}

/// What one GB of a table costs where its backups go: every holding and every transfer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Shape {
    pub(crate) holdings: Vec<Holding>,
    pub(crate) transfers: Vec<Transfer>,
}

/// The policy's vaults and routes, indexed once (an organisation's policy has thousands).
pub(crate) struct Graph<'p> {
    pub(crate) policy: &'p Policy,
    index: HashMap<&'p str, usize>,
    routes_from: HashMap<&'p str, Vec<&'p Route>>,
}

impl<'p> Graph<'p> {
    pub(crate) fn new(policy: &'p Policy) -> Self {
        let index = policy
            .vaults
            .iter()
            .enumerate()
            .map(|(i, v)| (v.alias.as_str(), i))
            .collect();
        let mut routes_from: HashMap<&str, Vec<&Route>> = HashMap::new();
        for r in &policy.routes {
            routes_from.entry(r.from.as_str()).or_default().push(r);
        }
        Self {
            policy,
            index,
            routes_from,
        }
    }

    pub(crate) fn vault_index(&self, alias: &str) -> Option<usize> {
        self.index.get(alias).copied()
    }

    pub(crate) fn routes_from(&self, alias: &str) -> &[&'p Route] {
        self.routes_from.get(alias).map_or(&[], Vec::as_slice)
    }

    /// Every route a copy of the plan's backups may take, whatever the table's tags: the routes
    /// whose selectors decide the shape of a table's path.
    pub(crate) fn reachable_routes(&self, plan: &Plan) -> Vec<&'p Route> {
        let mut frontier: Vec<&str> = vec![plan.vault.as_str()];
        frontier.extend(plan.copy_to.as_deref());
        let mut seen: BTreeSet<&str> = frontier.iter().copied().collect();
        let mut out = Vec::new();
        while let Some(alias) = frontier.pop() {
            for r in self.routes_from(alias) {
                out.push(*r);
                if seen.insert(r.to.as_str()) {
                    frontier.push(r.to.as_str());
                }
            }
        }
        out
    }

    /// The path of the plan's backups of a table whose tags the routes in `selected` select.
    pub(crate) fn shape(
        &self,
        org: &Organisation,
        plan: &Plan,
        selected: &dyn Fn(&Route) -> bool,
    ) -> Shape {
        let mut shape = Shape::default();
        let Some(root) = self.vault_index(&plan.vault) else {
            return shape;
        };
        let every = plan.every_hours.max(1);
        let native = self.native(org, root);
        let mut original = plan.lifecycle;
        if native {
            original.move_to_cold_storage_after_days = None;
        }
        // A lock that refuses the plan's retention fails every backup job into the vault.
        if self
            .lock(org, root)
            .is_some_and(|l| !l.admits(original.delete_after_days))
        {
            return shape;
        }
        shape.hold(root, original, every);
        if native {
            return shape; // DynamoDB-native backups cannot be copied
        }
        let mut walk = Walk {
            frontier: Vec::new(),
            seen: BTreeSet::from([root]),
            held: HashMap::from([(root, original)]),
        };
        let plan_copy = plan.copy_to.as_deref().and_then(|a| self.vault_index(a));
        if let Some(to) = plan_copy.filter(|to| *to != root) {
            if let Some(lc) = self.plan_copy(org, root, to, original) {
                walk.reached(to, lc);
                self.land(&mut shape, root, to, lc, every);
            }
        }
        // Popped first: the routes out of the original's vault run before the plan's copy lands.
        walk.frontier.push(root);
        while let Some(from) = walk.frontier.pop() {
            let from_alias = self.policy.vaults[from].alias.as_str();
            let source = walk.held.get(&from).copied().unwrap_or_default();
            for route in self.routes_from(from_alias) {
                let Some(to) = self.vault_index(&route.to).filter(|_| selected(route)) else {
                    continue;
                };
                if !walk.seen.insert(to) {
                    continue;
                }
                // `None`: on_lock_conflict skip, no copy.
                if let Some(lc) = self.route_copy(org, from, to, source) {
                    walk.reached(to, lc);
                    self.land(&mut shape, from, to, lc, every);
                }
            }
        }
        shape
    }

    /// A copy lands: held in `to` with `lc`; moved if it crossed Regions.
    fn land(&self, shape: &mut Shape, from: usize, to: usize, lc: Lifecycle, every: u32) {
        let (f, t) = (&self.policy.vaults[from].arn, &self.policy.vaults[to].arn);
        if f.region != t.region {
            shape.transfers.push(Transfer {
                from_region: f.region.clone(),
                vault: to,
                every_hours: every,
            });
        }
        shape.hold(to, lc, every);
    }

    /// The lifecycle the copy router gives a copy from `from` into `to`; `None`: not copied.
    fn route_copy(
        &self,
        org: &Organisation,
        from: usize,
        to: usize,
        source: Lifecycle,
    ) -> Option<Lifecycle> {
        let t = &self.policy.vaults[to];
        let wanted = match t.retention {
            Some(Retention::Inherit) | None => self.inherited(from, to, source),
            Some(r) => r.copy_lifecycle().unwrap_or(source),
        };
        let lc = match fit_to_lock(Some(wanted), self.lock(org, to), t.on_lock_conflict) {
            LockFit::Fits(l) => l.unwrap_or(wanted),
            LockFit::Raised { lifecycle, .. } | LockFit::Clamped { lifecycle, .. } => lifecycle,
            LockFit::Skipped { .. } => return None,
        };
        Some(self.guarded(org, to, lc))
    }

    /// A backup plan's copy action: lifecycle "never", so the copy keeps the original's; AWS
    /// fails it where the vault's lock refuses that retention.
    fn plan_copy(
        &self,
        org: &Organisation,
        from: usize,
        to: usize,
        original: Lifecycle,
    ) -> Option<Lifecycle> {
        let lc = self.inherited(from, to, original);
        if self
            .lock(org, to)
            .is_some_and(|l| !l.admits(lc.delete_after_days))
        {
            return None;
        }
        Some(self.guarded(org, to, lc))
    }

    /// A copy that keeps its source's lifecycle: its expiry, and its cold transition within one
    /// account (cross-account copies have no cold tier, facts §3).
    fn inherited(&self, from: usize, to: usize, source: Lifecycle) -> Lifecycle {
        let same_account =
            self.policy.vaults[from].arn.account == self.policy.vaults[to].arn.account;
        Lifecycle {
            delete_after_days: source.delete_after_days,
            move_to_cold_storage_after_days: source
                .move_to_cold_storage_after_days
                .filter(|_| same_account),
        }
    }

    /// The retention guard: a copy in an unlocked never_expire vault that falls short of 36500
    /// days is repaired to them (keeping its cold setting, else taking the vault's); a locked
    /// vault denies the change.
    fn guarded(&self, org: &Organisation, to: usize, lc: Lifecycle) -> Lifecycle {
        let Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: cold,
        }) = self.policy.vaults[to].retention
        else {
            return lc;
        };
        let short = lc.delete_after_days.is_none_or(|d| d < NEVER_EXPIRE_DAYS);
        if !short || self.lock(org, to).is_some() {
            return lc;
        }
        Lifecycle {
            delete_after_days: Some(NEVER_EXPIRE_DAYS),
            move_to_cold_storage_after_days: lc.move_to_cold_storage_after_days.or(cold),
        }
    }

    fn lock<'o>(&self, org: &'o Organisation, vault: usize) -> Option<&'o VaultLock> {
        org.locks.get(&self.policy.vaults[vault].alias)
    }

    /// Advanced features are off where the vault is: DynamoDB backups there are native.
    pub(crate) fn native(&self, org: &Organisation, vault: usize) -> bool {
        let arn = &self.policy.vaults[vault].arn;
        org.native_regions
            .contains(&(arn.account.clone(), arn.region.clone()))
    }
}

/// The walk of the routes: vaults to walk from, vaults claimed (each once), what each holds.
struct Walk {
    frontier: Vec<usize>,
    seen: BTreeSet<usize>,
    held: HashMap<usize, Lifecycle>,
}

impl Walk {
    fn reached(&mut self, vault: usize, lc: Lifecycle) {
        self.seen.insert(vault);
        self.held.insert(vault, lc);
        self.frontier.push(vault);
    }
}

impl Shape {
    fn hold(&mut self, vault: usize, lc: Lifecycle, every_hours: u32) {
        self.holdings.push(Holding {
            vault,
            life: Life {
                every_hours,
                delete_days: lc.delete_after_days,
                cold_days: lc.move_to_cold_storage_after_days,
            },
        });
    }
}
