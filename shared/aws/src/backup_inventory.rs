//! AWS Backup reads for the compliance inventory: Region settings, vaults and backup plans of
//! one account and Region, every list call at its largest page through the SDK's paginators.

use aws_sdk_backup::types::{BackupRule, BackupSelection, ConditionType};
use relay_compliance::inventory::{
    access_policy_denies_deletion, schedule_every_hours, PlanFacts, VaultFacts,
};
use relay_core::arn::{Location, VaultArn};
use relay_core::plan::Tags;
use relay_core::ports::{ErrorKind, PortResult};

use crate::backup::lock_of;
use crate::errors::classify;
use crate::BackupApi;

/// ListBackupVaults', ListBackupPlans' and ListBackupSelections' largest page.
const PAGE: i32 = 1000;

/// The prefix a tag key has in a selection's `Conditions` (and may have in `ListOfTags`).
const TAG_KEY_PREFIX: &str = "aws:ResourceTag/";

impl BackupApi {
    /// DescribeRegionSettings' ResourceTypeManagementPreference for DynamoDB (advanced features).
    ///
    /// A missing `DynamoDB` key reads as `false`: the map says which resource types AWS Backup
    /// *fully manages*, full management of DynamoDB is what the advanced features are, and AWS
    /// reports it `true` wherever it is on (switched on, or on by default for accounts with no
    /// vault before 2021-11-21). Absent is not "on", and the call succeeded, so it is not unknown.
    pub async fn advanced_features(&self) -> PortResult<Option<bool>> {
        let out = self
            .client
            .describe_region_settings()
            .send()
            .await
            .map_err(|e| classify("DescribeRegionSettings", &e))?;
        let managed = out
            .resource_type_management_preference()
            .and_then(|m| m.get("DynamoDB"))
            .copied();
        Ok(Some(managed.unwrap_or(false)))
    }

    /// Every vault (ListBackupVaults, lock state included), and per vault its access policy.
    pub async fn vault_facts(&self, at: &Location) -> PortResult<Vec<VaultFacts>> {
        let mut vaults = self.list_vaults(at).await?;
        for v in &mut vaults {
            v.deny_manual_deletion = self.denies_deletion(&v.arn.name).await?;
        }
        Ok(vaults)
    }

    /// ListBackupVaults alone, every page: the access policies not read yet (`false`).
    pub async fn list_vaults(&self, at: &Location) -> PortResult<Vec<VaultFacts>> {
        let pages = self
            .client
            .list_backup_vaults()
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListBackupVaults", &e))?;
        Ok(pages
            .iter()
            .flat_map(|p| p.backup_vault_list())
            .filter_map(|v| {
                Some(VaultFacts {
                    arn: vault_arn(at, v.backup_vault_name()?),
                    lock: lock_of(v.locked(), v.min_retention_days(), v.max_retention_days()),
                    encryption_key_arn: v.encryption_key_arn().map(str::to_string),
                    deny_manual_deletion: false,
                    recovery_points: u64::try_from(v.number_of_recovery_points()).ok(),
                    created: v.creation_date().and_then(crate::backup::chrono_of),
                })
            })
            .collect())
    }

    /// Does the vault's access policy deny deleting recovery points? No policy denies nothing.
    async fn denies_deletion(&self, vault_name: &str) -> PortResult<bool> {
        let out = self
            .client
            .get_backup_vault_access_policy()
            .backup_vault_name(vault_name)
            .send()
            .await
            .map_err(|e| classify("GetBackupVaultAccessPolicy", &e));
        match out {
            Ok(o) => Ok(o.policy().is_some_and(access_policy_denies_deletion)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// The vault's ARN in this account and Region, by name: the rule names its vault only so.
fn vault_arn(at: &Location, name: &str) -> VaultArn {
    VaultArn {
        partition: at.partition.clone(),
        region: at.region.clone(),
        account: at.account.clone(),
        name: name.to_string(),
    }
}

/// A backup plan as GetBackupPlan gives it.
#[derive(Debug, Clone)]
pub struct PlanRules {
    pub id: String,
    pub name: String,
    pub rules: Vec<BackupRule>,
}

impl BackupApi {
    /// Every backup plan: one [`PlanFacts`] per rule and resource filter of its selections. A plan
    /// without selections backs nothing up and gives none.
    pub async fn plan_facts(&self, at: &Location) -> PortResult<Vec<PlanFacts>> {
        let mut out = Vec::new();
        for plan in self.plans().await? {
            let filters = self.selections(&plan.id).await?;
            out.extend(plan_facts_of(at, &plan, &filters));
        }
        Ok(out)
    }

    /// ListBackupPlans (every page), and GetBackupPlan of each.
    pub async fn plans(&self) -> PortResult<Vec<PlanRules>> {
        let pages = self
            .client
            .list_backup_plans()
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListBackupPlans", &e))?;
        let mut out = Vec::new();
        for id in pages
            .iter()
            .flat_map(|p| p.backup_plans_list())
            .filter_map(|p| p.backup_plan_id())
        {
            out.extend(self.plan(id).await?);
        }
        Ok(out)
    }

    /// `None` when the plan was deleted since it was listed.
    async fn plan(&self, plan_id: &str) -> PortResult<Option<PlanRules>> {
        let call = self.client.get_backup_plan().backup_plan_id(plan_id);
        let out = match call.send().await.map_err(|e| classify("GetBackupPlan", &e)) {
            Err(e) if e.kind == ErrorKind::NotFound => return Ok(None),
            other => other?,
        };
        Ok(out.backup_plan().map(|p| PlanRules {
            id: plan_id.to_string(),
            name: p.backup_plan_name().to_string(),
            rules: p.rules().to_vec(),
        }))
    }

    /// The resource filters of every selection of the plan (ListBackupSelections, every page, and
    /// GetBackupSelection of each).
    pub async fn selections(&self, plan_id: &str) -> PortResult<Vec<Filter>> {
        let pages = self
            .client
            .list_backup_selections()
            .backup_plan_id(plan_id)
            .max_results(PAGE)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify("ListBackupSelections", &e))?;
        let mut filters = Vec::new();
        for id in pages
            .iter()
            .flat_map(|p| p.backup_selections_list())
            .filter_map(|s| s.selection_id())
        {
            let call = self.client.get_backup_selection();
            let out = match call
                .backup_plan_id(plan_id)
                .selection_id(id)
                .send()
                .await
                .map_err(|e| classify("GetBackupSelection", &e))
            {
                Err(e) if e.kind == ErrorKind::NotFound => continue, // deleted meanwhile
                other => other?,
            };
            filters.extend(
                out.backup_selection()
                    .map(selection_filters)
                    .unwrap_or_default(),
            );
        }
        Ok(filters)
    }
}

/// One [`PlanFacts`] per rule of the plan and filter of its selections.
pub fn plan_facts_of(at: &Location, plan: &PlanRules, filters: &[Filter]) -> Vec<PlanFacts> {
    plan.rules
        .iter()
        .flat_map(|rule| {
            filters
                .iter()
                .map(move |f| rule_facts(at, &plan.name, rule, f))
        })
        .collect()
}

/// Tables with all of `tags`, or named by `resources` (PlanFacts' own reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub tags: Tags,
    pub resources: Vec<String>,
}

/// A selection as [`PlanFacts`] filters. `ListOfTags` is OR (one filter per tag), `Conditions`'
/// StringEquals are AND (in every filter), `Resources` is OR with `ListOfTags`. Where
/// `Conditions` narrow wildcard `Resources` (the console's "all resources, with these tags"), the
/// tags are the filter. Left out, so read wider than AWS selects: StringLike/NotEquals conditions,
/// NotResources, and conditions on specific resources.
pub fn selection_filters(sel: &BackupSelection) -> Vec<Filter> {
    let all_of: Tags = sel
        .conditions()
        .map(|c| c.string_equals())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| {
            let key = p.condition_key()?.strip_prefix(TAG_KEY_PREFIX)?;
            Some((key.to_string(), p.condition_value()?.to_string()))
        })
        .collect();
    let resources: Vec<String> = sel
        .resources()
        .iter()
        .filter(|r| all_of.is_empty() || !r.contains('*'))
        .cloned()
        .collect();
    let any_of: Vec<(String, String)> = sel
        .list_of_tags()
        .iter()
        .filter(|c| c.condition_type() == &ConditionType::Stringequals)
        .map(|c| {
            let key = c.condition_key();
            let key = key.strip_prefix(TAG_KEY_PREFIX).unwrap_or(key);
            (key.to_string(), c.condition_value().to_string())
        })
        .collect();
    let mut filters: Vec<Filter> = any_of
        .into_iter()
        .map(|(k, v)| {
            let mut tags = all_of.clone();
            tags.insert(k, v);
            Filter {
                tags,
                resources: Vec::new(),
            }
        })
        .collect();
    if filters.is_empty() || !resources.is_empty() {
        filters.push(Filter {
            tags: all_of,
            resources,
        });
    }
    filters
}

fn rule_facts(at: &Location, plan_name: &str, rule: &BackupRule, filter: &Filter) -> PlanFacts {
    let days = |d: Option<i64>| d.and_then(|d| u32::try_from(d).ok());
    PlanFacts {
        account: at.account.clone(),
        region: at.region.clone(),
        name: format!("{plan_name}/{}", rule.rule_name()),
        vault_arn: vault_arn(at, rule.target_backup_vault_name()).to_string(),
        every_hours: rule.schedule_expression().and_then(schedule_every_hours),
        delete_after_days: days(rule.lifecycle().and_then(|l| l.delete_after_days())),
        select_tags: filter.tags.clone(),
        select_resources: filter.resources.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_backup::types::{Condition, ConditionParameter, Conditions};

    fn selection() -> aws_sdk_backup::types::builders::BackupSelectionBuilder {
        BackupSelection::builder()
            .selection_name("s")
            .iam_role_arn("arn:aws:iam::111111111111:role/backup")
    }

    fn any_of(key: &str, value: &str) -> Condition {
        Condition::builder()
            .condition_type(ConditionType::Stringequals)
            .condition_key(key)
            .condition_value(value)
            .build()
            .unwrap()
    }

    fn all_of(key: &str, value: &str) -> ConditionParameter {
        ConditionParameter::builder()
            .condition_key(key)
            .condition_value(value)
            .build()
    }

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn filter(pairs: &[(&str, &str)], resources: &[&str]) -> Filter {
        Filter {
            tags: tags(pairs),
            resources: resources.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn an_empty_selection_selects_everything() {
        let f = selection_filters(&selection().build().unwrap());
        assert_eq!(f, [filter(&[], &[])]);
    }

    #[test]
    fn list_of_tags_is_or_and_conditions_are_and() {
        let conditions = Conditions::builder()
            .string_equals(all_of("aws:ResourceTag/env", "prod"))
            .string_equals(all_of("aws:PrincipalTag/x", "ignored: not a resource tag"))
            .string_like(all_of("aws:ResourceTag/team", "ord*"))
            .build();
        let s = selection()
            .list_of_tags(any_of("tier", "gold"))
            .list_of_tags(any_of("aws:ResourceTag/tier", "silver"))
            .conditions(conditions)
            .build()
            .unwrap();
        assert_eq!(
            selection_filters(&s),
            [
                filter(&[("env", "prod"), ("tier", "gold")], &[]),
                filter(&[("env", "prod"), ("tier", "silver")], &[]),
            ]
        );
    }

    #[test]
    fn conditions_narrow_wildcard_resources_to_their_tags() {
        let s = selection()
            .resources("*")
            .resources("arn:aws:dynamodb:*:*:table/*")
            .conditions(
                Conditions::builder()
                    .string_equals(all_of("aws:ResourceTag/backup-tier", "gold"))
                    .build(),
            )
            .build()
            .unwrap();
        assert_eq!(
            selection_filters(&s),
            [filter(&[("backup-tier", "gold")], &[])]
        );
    }

    #[test]
    fn resources_are_or_with_list_of_tags() {
        let orders = "arn:aws:dynamodb:us-east-1:111111111111:table/orders";
        let s = selection()
            .resources(orders)
            .list_of_tags(any_of("tier", "gold"))
            .build()
            .unwrap();
        assert_eq!(
            selection_filters(&s),
            [filter(&[("tier", "gold")], &[]), filter(&[], &[orders])]
        );
    }
}
