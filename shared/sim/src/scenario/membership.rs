//! The organisation's membership over a run: the policy as written (its vault sets) expanded with
//! what the simulated AWS Organizations answers each day, as the functions expand it with the
//! real one. An account that joins gets its spoke (its member vaults, its backup plan) that day.

use relay_core::policy::{AccountScope, OrgTree, OrgUnit, REPORT_SCOPE};
use relay_core::world_file::policy_accounts;

use super::*;

/// How many accounts each OU (or the organisation) of a set has when nothing says.
const DEFAULT_ACCOUNTS_PER_SCOPE: u64 = 2;
const FIRST_DEFAULT_ACCOUNT: u64 = 100_000_000_001;

pub(crate) struct Members {
    /// The policy as written.
    pub(crate) template: Policy,
    world: Option<WorldFile>,
}

impl Members {
    pub(super) fn new(template: &Policy, world: Option<&WorldFile>) -> Self {
        Self {
            template: template.clone(),
            world: world.cloned(),
        }
    }

    /// What Organizations answers on `day` (`None`: with every late joiner in).
    pub(crate) fn tree(&self, day: Option<u32>) -> OrgTree {
        let mut named = policy_accounts(&self.template);
        named.extend(self.world.iter().flat_map(WorldFile::named_accounts));
        match &self.world {
            Some(w) if describes_organization(w) => w.org_tree(&named, day),
            _ => self.default_tree(named),
        }
    }

    /// The OUs the policy's scopes name that the organisation does not have on any day.
    pub(crate) fn missing_units(&self) -> Vec<String> {
        let tree = self.tree(None);
        relay_core::organization::scopes(&self.template)
            .into_iter()
            .filter_map(|scope| match scope {
                AccountScope::OrganizationalUnits(ous) => Some(ous),
                _ => None,
            })
            .flatten()
            .filter(|ou| !tree.units.contains_key(*ou))
            .cloned()
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect()
    }

    /// Two accounts in each OU a set names, and in the organisation, with the policy's own.
    fn default_tree(&self, mut active: BTreeSet<String>) -> OrgTree {
        let mut next = FIRST_DEFAULT_ACCOUNT;
        let mut fresh = |n: u64| {
            let ids: BTreeSet<String> = (next..next + n).map(|i| format!("{i:012}")).collect();
            next += n;
            ids
        };
        let mut units = BTreeMap::new();
        for set in &self.template.sets {
            match &set.accounts {
                AccountScope::OrganizationalUnits(ous) => {
                    for ou in ous {
                        let accounts = fresh(DEFAULT_ACCOUNTS_PER_SCOPE);
                        active.extend(accounts.iter().cloned());
                        units.entry(ou.clone()).or_insert(OrgUnit {
                            accounts,
                            children: Vec::new(),
                        });
                    }
                }
                AccountScope::Organization => active.extend(fresh(DEFAULT_ACCOUNTS_PER_SCOPE)),
                AccountScope::Accounts(_) => {}
            }
        }
        OrgTree {
            active,
            units,
            missing: BTreeSet::new(),
        }
    }

    /// The concrete policy on `day`.
    pub(crate) fn policy_on(&self, day: Option<u32>) -> Policy {
        let tree = self.tree(day);
        self.template.expand(&self.template.membership(&tree))
    }

    /// Accounts with at least one member vault on `day`.
    pub(crate) fn member_accounts_on(&self, day: u32) -> u64 {
        let tree = self.tree(Some(day));
        let members: BTreeSet<String> = self
            .template
            .membership(&tree)
            .into_iter()
            // The report's scope is not a set: its accounts hold no member vault.
            .filter(|(set, _)| set != REPORT_SCOPE)
            .flat_map(|(_, members)| members)
            .collect();
        members.len() as u64
    }
}

fn describes_organization(w: &WorldFile) -> bool {
    let o = &w.organization;
    o.members.is_some()
        || !o.organizational_units.is_empty()
        || !o.joins.is_empty()
        || !o.leaves.is_empty()
        || w.generate.is_some()
}
