//! `relay validate`: one line per route, or every error at once (exit 2).

use std::collections::BTreeMap;
use std::path::Path;

use crate::{load_policy, out, Failure};

pub(crate) fn run(path: &Path) -> Result<(), Failure> {
    let p = load_policy(path)?;
    let by_alias: BTreeMap<&str, _> = p.vaults.iter().map(|v| (v.alias.as_str(), v)).collect();
    let mut text = String::new();
    for set in &p.sets {
        text.push_str(&set.describe());
        text.push('\n');
    }
    for r in &p.set_routes {
        text.push_str(&set_route_line(&p, r));
    }
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
    if p.routes.is_empty() && p.set_routes.is_empty() {
        // Valid (the retention guard alone keeps never_expire vaults), but worth saying.
        text.push_str(&format!(
            "no routes: nothing is copied; {} vault(s), the never_expire ones kept 36500 days\n",
            p.vaults.len()
        ));
    }
    out(&text)
}

/// A route with a set at one end, as one line: every member, where it copies to.
fn set_route_line(p: &relay_core::policy::Policy, r: &relay_core::policy::Route) -> String {
    let to = match (p.vault(&r.to), p.set(&r.to)) {
        (Some(v), _) => format!("{}/{} (fan-in)", v.arn.account, v.arn.region),
        (None, Some(s)) => format!(
            "the same account's '{}' in {}",
            s.name,
            s.regions.join(", ")
        ),
        (None, None) => r.to.clone(),
    };
    let retention = p
        .vault(&r.to)
        .and_then(|v| v.retention)
        .or_else(|| p.set(&r.to).and_then(|s| s.retention))
        .map(|r| r.describe())
        .unwrap_or_default();
    let tags = if r.select.tags.is_empty() {
        String::new()
    } else {
        format!(", tags {:?}", r.select.tags)
    };
    format!(
        "{}: each member -> {to}, {retention}, selects {}{tags}\n",
        r.name(),
        r.select.resource_types.join("|")
    )
}
