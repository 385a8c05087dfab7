//! `relay validate`: one line per route, or every error at once (exit 2).

use std::collections::BTreeMap;
use std::path::Path;

use crate::{load_policy, out, Failure};

pub(crate) fn run(path: &Path) -> Result<(), Failure> {
    let p = load_policy(path)?;
    let by_alias: BTreeMap<&str, _> = p.vaults.iter().map(|v| (v.alias.as_str(), v)).collect();
    let mut text = String::new();
    for r in &p.routes {
        let (Some(from), Some(to)) = (by_alias.get(r.from.as_str()), by_alias.get(r.to.as_str()))
        else {
            continue;
        };
        let kind = match (
            from.arn.account == to.arn.account,
            from.arn.region == to.arn.region,
        ) {
            (true, true) => "same account and Region",
            (true, false) => "cross-Region",
            (false, true) => "cross-account",
            (false, false) => "cross-account, cross-Region",
        };
        let retention = to.retention.map(|r| r.describe()).unwrap_or_default();
        let tags = if r.select.tags.is_empty() {
            String::new()
        } else {
            format!(", tags {:?}", r.select.tags)
        };
        text.push_str(&format!(
            "{}: {}/{} -> {}/{} ({kind}), {retention}, selects {}{tags}\n",
            r.name(),
            from.arn.account,
            from.arn.region,
            to.arn.account,
            to.arn.region,
            r.select.resource_types.join("|")
        ));
    }
    if p.routes.is_empty() {
        // Valid (the retention guard alone keeps never_expire vaults), but worth saying.
        text.push_str(&format!(
            "no routes: nothing is copied; {} vault(s), the never_expire ones kept 36500 days\n",
            p.vaults.len()
        ));
    }
    out(&text)
}
