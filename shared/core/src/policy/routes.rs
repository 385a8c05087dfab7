//! The policy's routes and what they select: ends that name vaults, no route to itself or in a
//! cycle, retentions stated where copies land, and the rules that follow from the copy role.

use super::validate::*;
use super::vaults::*;
use super::*;

/// A route whose ends name vaults of the policy: `from` and `to` index the vault list.
pub(super) struct RouteDraft {
    /// "route 2 (central -> dr)", for every error about it.
    pub(super) loc: String,
    pub(super) from: usize,
    pub(super) to: usize,
    pub(super) route: Route,
}

pub(super) fn parse_routes(
    node: Option<&Node>,
    index: &BTreeMap<&str, usize>,
    errors: &mut Errors,
) -> Vec<RouteDraft> {
    let items = match node {
        Some(Node::Seq(items)) => items,
        Some(other) => {
            let found = other.kind();
            errors.add("policy", "routes", format!("must be a list, found {found}"));
            return Vec::new();
        }
        None => {
            errors.add("policy", "routes", "required");
            return Vec::new();
        }
    };
    let mut pairs = BTreeSet::new();
    items
        .iter()
        .enumerate()
        .filter_map(|(i, node)| parse_route(i, node, index, &mut pairs, errors))
        .collect()
}

/// Name a route by its ends when they are readable.
pub(super) fn route_location(i: usize, node: &Node) -> String {
    let end = |key: &str| match node {
        Node::Map(entries) => entries.iter().find_map(|(k, v)| match v {
            Node::Str(s) if k == key => Some(s.as_str()),
            _ => None,
        }),
        _ => None,
    };
    match (end("from"), end("to")) {
        (Some(from), Some(to)) => format!("route {} ({from} -> {to})", i + 1),
        _ => format!("route {}", i + 1),
    }
}

pub(super) fn parse_route<'a>(
    i: usize,
    node: &'a Node,
    index: &BTreeMap<&str, usize>,
    pairs: &mut BTreeSet<(&'a str, &'a str)>,
    errors: &mut Errors,
) -> Option<RouteDraft> {
    let loc = route_location(i, node);
    let f = fields(node, &loc, "(route)", &["from", "to", "select"], errors);
    let from = f.get("from").and_then(|n| text(n, &loc, "from", errors));
    let to = f.get("to").and_then(|n| text(n, &loc, "to", errors));
    for end in ["from", "to"] {
        if !f.contains_key(end) {
            errors.add(&loc, end, "required");
        }
    }
    let select = match f.get("select") {
        None => Selector {
            resource_types: vec![DEFAULT_RESOURCE_TYPE.to_string()],
            tags: BTreeMap::new(),
        },
        Some(n) => parse_selector(n, &loc, errors),
    };
    let (from, to) = (from?, to?);
    let mut ends = [("from", from), ("to", to)].map(|(field, alias)| {
        let found = index.get(alias).copied();
        if found.is_none() {
            errors.add(&loc, field, format!("unknown vault alias '{alias}'"));
        }
        found
    });
    if from == to {
        errors.add(&loc, "to", "a route cannot copy a vault into itself");
        ends = [None, None];
    }
    if !pairs.insert((from, to)) {
        errors.add(&loc, "(route)", "duplicate route");
        ends = [None, None];
    }
    let [Some(from_index), Some(to_index)] = ends else {
        return None;
    };
    Some(RouteDraft {
        loc,
        from: from_index,
        to: to_index,
        route: Route {
            from: from.to_string(),
            to: to.to_string(),
            select,
        },
    })
}

/// AWS's rules about one route's two vaults and the role it copies with.
pub(super) fn check_route(
    r: &RouteDraft,
    vaults: &[VaultDraft],
    role: Option<&CopyRole>,
    errors: &mut Errors,
) {
    let (src, dst) = (&vaults[r.from], &vaults[r.to]);
    let to = &dst.alias;
    if !dst.retention_given {
        let why = "a vault that routes copy into must state one (inherit included)";
        errors.add(
            &r.loc,
            "to",
            format!("vault '{to}' has no retention: {why}"),
        );
    }
    if src.set.is_some() || dst.set.is_some() {
        let fixed = role.and_then(|role| role.account.as_deref());
        let (from, to) = (
            (&*src.alias, src.set.as_ref()),
            (&*dst.alias, dst.set.as_ref()),
        );
        let partition = role.map(|role| role.partition.as_str());
        sets::check_set_route(&r.loc, from, to, fixed, partition, errors);
    }
    if let (Some(src_arn), Some(role)) = (src.arn.as_ref().filter(|_| src.set.is_none()), role) {
        check_role_for(r, &src.alias, src_arn, role, errors);
    }
    let (Some(src_arn), Some(dst_arn)) = (&src.arn, &dst.arn) else {
        return;
    };
    if src_arn.partition != dst_arn.partition {
        let (from, p_from, p_to) = (&src.alias, &src_arn.partition, &dst_arn.partition);
        errors.add(
            &r.loc,
            "to",
            format!(
                "vault '{to}' is in partition '{p_to}' and '{from}' in '{p_from}': \
                 AWS Backup cannot copy across partitions"
            ),
        );
    }
    if src_arn.account == dst_arn.account {
        return;
    }
    if dst.retention.and_then(|r| r.cold_after_days()).is_some() {
        errors.add(
            &format!("vault '{to}'"),
            "retention.move_to_cold_storage_after_days",
            format!(
                "cross-account copies (from '{}') do not support the cold tier",
                src.alias
            ),
        );
    }
    if dst_arn.name == "Default" {
        errors.add(
            &r.loc,
            "to",
            format!("vault '{to}' is a Default vault: it cannot receive cross-account copies"),
        );
    }
}

/// StartCopyJob runs in the source vault's account and partition, with a role of that account.
pub(super) fn check_role_for(
    r: &RouteDraft,
    from: &str,
    src: &VaultArn,
    role: &CopyRole,
    errors: &mut Errors,
) {
    if role.partition != src.partition {
        errors.add(
            &r.loc,
            "copy_role",
            format!(
                "the role is in partition '{}' but source vault '{from}' is in '{}'",
                role.partition, src.partition
            ),
        );
    }
    if let Some(account) = role.account.as_deref().filter(|a| *a != src.account) {
        let src_account = &src.account;
        errors.add(
            &r.loc,
            "copy_role",
            format!(
                "the role is in account {account} but the copy runs in source vault '{from}''s \
                 account {src_account}: write {ACCOUNT_PLACEHOLDER} for the account"
            ),
        );
    }
}

/// `inherit` copies the source's lifecycle, cold-storage setting included, and cross-account
/// copies do not support the cold tier: AWS would refuse the copy. The cold setting is followed
/// through any number of `inherit` vaults, each vault and route looked at once.
pub(super) fn check_inherited_cold(
    vaults: &[VaultDraft],
    routes: &[RouteDraft],
    errors: &mut Errors,
) {
    let mut out: Vec<Vec<&RouteDraft>> = vec![Vec::new(); vaults.len()];
    for r in routes {
        out[r.from].push(r);
    }
    // The vault whose cold setting the recovery points in each vault carry.
    let mut cold_from: Vec<Option<usize>> = vaults
        .iter()
        .enumerate()
        .map(|(i, v)| v.retention.and_then(|r| r.cold_after_days()).map(|_| i))
        .collect();
    let mut queue: VecDeque<usize> = (0..vaults.len())
        .filter(|&i| cold_from[i].is_some())
        .collect();
    while let Some(v) = queue.pop_front() {
        let Some(origin) = cold_from[v] else { continue };
        for r in &out[v] {
            let dst = &vaults[r.to];
            if dst.retention != Some(Retention::Inherit) {
                continue;
            }
            if let (Some(a), Some(b)) = (&vaults[v].arn, &dst.arn) {
                if a.account != b.account {
                    inherited_cold_error(&vaults[origin], r, &dst.alias, errors);
                    continue;
                }
            }
            if cold_from[r.to].is_none() {
                cold_from[r.to] = Some(origin);
                queue.push_back(r.to);
            }
        }
    }
}

/// One copy per original per vault: with two routes in, the copy comes by whichever got there
/// first, so an inherited retention would be the winner's, not a rule anyone chose.
pub(super) fn check_inherit_fan_in(
    vaults: &[VaultDraft],
    routes: &[RouteDraft],
    errors: &mut Errors,
) {
    for (i, v) in vaults.iter().enumerate() {
        let from: Vec<&str> = routes
            .iter()
            .filter(|r| r.to == i)
            .map(|r| vaults[r.from].alias.as_str())
            .collect();
        if v.retention == Some(Retention::Inherit) && from.len() > 1 {
            errors.add(
                &format!("vault '{}'", v.alias),
                "retention",
                format!(
                    "inherit, but {} routes copy into it (from {}): each backup gets one copy here, \
                     by whichever route comes first, so its expiry would depend on a race: state \
                     delete_after_days or never_expire",
                    from.len(),
                    from.join(", ")
                ),
            );
        }
    }
}

pub(super) fn inherited_cold_error(
    origin: &VaultDraft,
    r: &RouteDraft,
    to: &str,
    errors: &mut Errors,
) {
    let days = origin
        .retention
        .and_then(|r| r.cold_after_days())
        .unwrap_or_default();
    let (from, route) = (&origin.alias, &r.loc);
    errors.add(
        &format!("vault '{to}'"),
        "retention",
        format!(
            "inherit would carry the cold-storage setting of vault '{from}' (cold after {days} \
             days) into another account by {route}, and cross-account copies do not support the \
             cold tier: state delete_after_days instead"
        ),
    );
}

// Selectors.

pub(super) fn parse_selector(node: &Node, loc: &str, errors: &mut Errors) -> Selector {
    let f = fields(node, loc, "select", &["resource_types", "tags"], errors);
    let resource_types = match f.get("resource_types") {
        None => vec![DEFAULT_RESOURCE_TYPE.to_string()],
        Some(Node::Seq(items)) if !items.is_empty() => items
            .iter()
            .filter_map(|n| {
                text(n, loc, "select.resource_types", errors)
                    .and_then(|t| resource_type(t, loc, errors))
            })
            .collect(),
        Some(_) => {
            errors.add(
                loc,
                "select.resource_types",
                "must be a non-empty list of resource types",
            );
            Vec::new()
        }
    };
    Selector {
        resource_types,
        tags: parse_tags(f.get("tags").copied(), loc, errors),
    }
}

/// A resource type as AWS Backup spells it: events carry that spelling and a route compares it
/// exactly, so `dynamodb` would select nothing, silently.
pub(super) fn resource_type(t: &str, loc: &str, errors: &mut Errors) -> Option<String> {
    if RESOURCE_TYPES.contains(&t) {
        return Some(t.to_string());
    }
    // Case, spaces, '-' and '_' aside.
    let squash = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    let message = match RESOURCE_TYPES
        .iter()
        .find(|known| squash(known) == squash(t))
    {
        Some(known) => format!("unknown resource type '{t}': AWS Backup spells it '{known}'"),
        None => format!(
            "unknown resource type '{t}' (AWS Backup's are: {})",
            RESOURCE_TYPES.join(", ")
        ),
    };
    errors.add(loc, "select.resource_types", message);
    None
}

pub(super) fn parse_tags(
    node: Option<&Node>,
    loc: &str,
    errors: &mut Errors,
) -> BTreeMap<String, String> {
    tags_at(node, loc, "select.tags", errors)
}

/// A mapping of tag keys to values (numbers and booleans read as their text), at `field`.
pub(crate) fn tags_at(
    node: Option<&Node>,
    loc: &str,
    field: &str,
    errors: &mut Errors,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let entries = match node {
        None => return tags,
        Some(Node::Map(entries)) => entries,
        Some(other) => {
            let found = other.kind();
            errors.add(loc, field, format!("must be a mapping, found {found}"));
            return tags;
        }
    };
    for (k, v) in entries {
        let value = match v {
            Node::Str(s) => s.clone(),
            Node::Int(_) | Node::Float(_) | Node::Bool(_) => v.key_text(),
            other => {
                errors.add(
                    loc,
                    &format!("{field}.{k}"),
                    format!("must be a string, found {}", other.kind()),
                );
                continue;
            }
        };
        if tags.insert(k.clone(), value).is_some() {
            errors.add(loc, &format!("{field}.{k}"), "given more than once");
        }
    }
    tags
}
