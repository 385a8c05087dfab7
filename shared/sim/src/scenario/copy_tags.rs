//! `copies_missing_tags`: COMPLETED copies without the policy's tags, read off the simulated
//! vaults (the tags AWS holds on each point), never from the functions' bookkeeping.

use std::collections::HashMap;

use relay_core::copy_tags::{carries, desired_tags, route_value, ROUTE_TAG};

use super::summary::table_tags;
use super::*;
use crate::world::SimRecoveryPoint;

impl Simulation {
    pub(super) fn count_missing_tags(&self, w: &World) -> u64 {
        if !self.policy.tags.tags_anything() {
            return 0;
        }
        let originals: HashMap<Original, &SimRecoveryPoint> = w
            .recovery_points
            .values()
            .filter(|rp| rp.source.is_none())
            .map(|rp| (Original::new(rp.resource_arn.clone(), rp.creation_date), rp))
            .collect();
        let copies = w.recovery_points.values().filter(|rp| {
            rp.source.is_some() && rp.status == "COMPLETED" && rp.arn.contains(":backup:")
        });
        copies
            .filter(|copy| !self.copy_tagged(w, copy, &originals))
            .count() as u64
    }

    /// Does this copy, if the policy requires it, carry what the policy asks?
    fn copy_tagged(
        &self,
        w: &World,
        copy: &SimRecoveryPoint,
        originals: &HashMap<Original, &SimRecoveryPoint>,
    ) -> bool {
        let original = Original::new(copy.resource_arn.clone(), copy.creation_date);
        let table = table_tags(w, &copy.resource_arn);
        // The original's vault; once it has expired, the root vault of its table's account
        // and Region (where the backup plan put it).
        let table_at = TableArn::parse(&copy.resource_arn).ok();
        let root = originals
            .get(&original)
            .and_then(|o| self.policy.vault_by_arn(&o.vault))
            .or_else(|| {
                let t = table_at.as_ref()?;
                self.policy
                    .root_vaults()
                    .into_iter()
                    .find(|v| v.arn.account == t.account && v.arn.region == t.region)
            });
        let Some(vault) = self.policy.vault_by_arn(&copy.vault) else {
            return true;
        };
        let required = root.is_some_and(|r| {
            self.required_vaults(&r.alias, &table)
                .iter()
                .any(|(_, arn)| arn == &copy.vault)
        });
        if !required {
            return true;
        }
        let present = w.point_tags.get(&copy.arn).cloned().unwrap_or_default();
        // Any route into the vault may have made it: the lineage names which.
        let route = self.policy.routes.iter().find(|route| {
            route.to == vault.alias && present.get(ROUTE_TAG) == Some(&route_value(&route.name()))
        });
        let route = match (route, self.policy.tags.lineage()) {
            (Some(r), _) => r.name(),
            (None, true) => return false,
            (None, false) => String::new(),
        };
        let (arn, source_tags) = match originals.get(&original) {
            Some(o) => (
                Some(o.arn.as_str()),
                w.point_tags.get(&o.arn).cloned().unwrap_or_default(),
            ),
            None => (None, table),
        };
        let desired = desired_tags(&self.policy.tags, &source_tags, arn, &route);
        carries(&desired.tags, &present)
    }
}
