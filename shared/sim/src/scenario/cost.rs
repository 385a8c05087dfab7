//! The organisation `relay cost` projects, made as a simulation makes it: the same tables and the
//! same backup plans, so the projection and a simulated run of it can be compared.

use std::collections::HashMap;

use relay_compliance::cost::{Organisation, Plan, Table};
use relay_core::arn::VaultArn;
use relay_core::policy::Policy;

use super::membership::Members;
use super::organisation::{plans_for, tables_of, vault_spec};
use super::{SimOptions, WorldFile};

/// The policy in force (its vault sets expanded with every member, late joiners included: the
/// organisation once they have joined) and its organisation: the world file's tables, else
/// `options.tables` in each root vault's account and Region (as `relay simulate --tables` makes
/// them); its backup plans, else one per root vault, daily, every table there, kept as
/// `options.backup_plan_lifecycle` says (35 days); its Regions without advanced features; its
/// vault locks.
pub fn cost_organisation(
    template: &Policy,
    world: Option<&WorldFile>,
    options: &SimOptions,
) -> (Policy, Organisation) {
    let policy = Members::new(template, world).policy_on(None);
    let tables = tables_of(world, &policy, options.tables)
        .iter()
        .map(|t| Table {
            arn: t.arn.clone(),
            tags: t.tags.clone(),
            size_gb: t.size_gb,
        })
        .collect();
    let aliases: HashMap<&VaultArn, &str> = policy
        .vaults
        .iter()
        .map(|v| (&v.arn, v.alias.as_str()))
        .collect();
    let alias = |arn: &VaultArn| aliases.get(arn).map(|a| a.to_string());
    let plans = plans_for(&policy, world, options)
        .iter()
        .filter_map(|p| {
            Some(Plan {
                vault: alias(&p.vault)?,
                every_hours: u32::try_from(p.every.num_hours()).unwrap_or(u32::MAX),
                lifecycle: p.lifecycle,
                select_tags: p.select_tags.clone(),
                copy_to: p.copy_to.as_ref().and_then(alias),
            })
        })
        .collect();
    let native_regions = world
        .iter()
        .flat_map(|w| &w.regions)
        .filter(|(_, r)| !r.advanced_features)
        .map(|(k, _)| k.clone())
        .collect();
    let locks = world
        .map(|w| {
            policy
                .vaults
                .iter()
                .filter_map(|v| Some((v.alias.clone(), vault_spec(w, v)?.lock?)))
                .collect()
        })
        .unwrap_or_default();
    let org = Organisation {
        tables,
        plans,
        native_regions,
        locks,
    };
    (policy, org)
}
