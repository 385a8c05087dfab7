//! The policy's vaults: aliases, ARNs (partition, Region, account, name) and retentions.

use super::sets::*;
use super::validate::*;
use super::*;

/// A vault as read. Kept even when part of it is invalid, so that every rule that can still be
/// checked is, and the whole list of errors comes out at once.
pub(super) struct VaultDraft {
    pub(super) alias: String,
    /// `None`: missing or unparseable, already reported.
    pub(super) arn: Option<VaultArn>,
    /// `None`: not given, or given and invalid (already reported, see `retention_given`).
    pub(super) retention: Option<Retention>,
    pub(super) retention_given: bool,
    pub(super) on_lock_conflict: LockConflict,
    /// A vault set: its members' name, accounts and Regions (`arn` is then a representative).
    pub(super) set: Option<SetDraft>,
}

pub(super) fn parse_vaults(node: Option<&Node>, errors: &mut Errors) -> Vec<VaultDraft> {
    let entries = match node {
        Some(Node::Map(entries)) => entries,
        Some(other) => {
            let found = other.kind();
            errors.add(
                "policy",
                "vaults",
                format!("must be a mapping of alias to vault, found {found}"),
            );
            return Vec::new();
        }
        None => {
            errors.add("policy", "vaults", "required");
            return Vec::new();
        }
    };
    let mut vaults: Vec<VaultDraft> = Vec::new();
    let mut aliases = BTreeSet::new();
    let mut arns: BTreeMap<VaultArn, String> = BTreeMap::new();
    for (alias, node) in entries {
        let loc = format!("vault '{alias}'");
        if !aliases.insert(alias.as_str()) {
            errors.add(&loc, "(alias)", "duplicate alias");
            // Its own errors are reported too (every error at once), but it is not a vault.
            let _ = parse_vault(alias, node, &format!("{loc} (again)"), errors);
            continue;
        }
        let vault = parse_vault(alias, node, &loc, errors);
        // Sets with one name may cover different accounts: their members are told apart when
        // expanded.
        if let Some(arn) = vault.arn.as_ref().filter(|_| vault.set.is_none()) {
            if let Some(other) = arns.get(arn) {
                errors.add(&loc, "arn", format!("same vault as '{other}'"));
            } else {
                arns.insert(arn.clone(), alias.clone());
            }
        }
        vaults.push(vault);
    }
    for v in &vaults {
        if let Some(set) = &v.set {
            check_own_members(&v.alias, set, &arns, errors);
        }
    }
    let sets = vaults
        .iter()
        .filter_map(|v| v.set.as_ref().map(|s| (v.alias.as_str(), s)));
    check_overlapping_sets(sets, errors);
    vaults
}

/// Route ends and messages name vaults by alias; AWS's own name rule is the sensible one here too.
pub(super) fn is_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

pub(super) fn parse_vault(alias: &str, node: &Node, loc: &str, errors: &mut Errors) -> VaultDraft {
    if !is_alias(alias) {
        errors.add(loc, "(alias)", "an alias is one or more of A-Z a-z 0-9 _ -");
    }
    let is_set = matches!(node, Node::Map(entries)
        if entries.iter().any(|(k, _)| ["name", "accounts", "regions"].contains(&k.as_str())));
    let allowed: &[&str] = if is_set {
        &SET_FIELDS
    } else {
        &["arn", "retention", "on_lock_conflict"]
    };
    let f = fields(node, loc, "(vault)", allowed, errors);
    let (set, arn) = match f.get("arn") {
        _ if is_set => parse_set(&f, loc, errors),
        None => {
            errors.add(
                loc,
                "arn",
                "required (or name, accounts and regions for a vault set)",
            );
            (None, None)
        }
        Some(n) => (
            None,
            text(n, loc, "arn", errors).and_then(|s| parse_vault_arn(s, loc, errors)),
        ),
    };
    let retention = f
        .get("retention")
        .and_then(|n| parse_retention(n, loc, errors));
    let on_lock_conflict = match f.get("on_lock_conflict") {
        None => LockConflict::Clamp,
        Some(Node::Str(s)) if s == "clamp" => LockConflict::Clamp,
        Some(Node::Str(s)) if s == "skip" => LockConflict::Skip,
        Some(_) => {
            errors.add(loc, "on_lock_conflict", "must be clamp or skip");
            LockConflict::Clamp
        }
    };
    VaultDraft {
        alias: alias.to_string(),
        arn,
        retention,
        retention_given: f.contains_key("retention"),
        on_lock_conflict,
        set,
    }
}

/// A vault ARN held to what AWS accepts. ARN parsing itself stays lenient, for events; an ARN that
/// parses is kept even when a rule here fails, so the route rules still run on it.
pub(super) fn parse_vault_arn(text: &str, loc: &str, errors: &mut Errors) -> Option<VaultArn> {
    let arn = match VaultArn::parse(text) {
        Ok(arn) => arn,
        Err(e) => {
            errors.add(loc, "arn", format!("unparseable: {}", e.reason));
            return None;
        }
    };
    if !is_issued_account_id(&arn.account) {
        let account = &arn.account;
        errors.add(
            loc,
            "arn",
            format!("account id '{account}' must be exactly 12 digits"),
        );
    }
    let (partition, region) = (&arn.partition, &arn.region);
    if !is_known_partition(partition) {
        errors.add(loc, "arn", unknown_partition(partition));
    } else if let Some(problem) = region_problem_in(region, partition) {
        errors.add(loc, "arn", problem);
    }
    Some(arn)
}

/// What is wrong with `region` in `partition`: not a Region AWS has, or another partition's.
pub(super) fn region_problem_in(region: &str, partition: &str) -> Option<String> {
    if let Some(problem) = crate::regions::region_problem(region) {
        return Some(problem);
    }
    let belongs = partition_of_region(region);
    (belongs != partition)
        .then(|| format!("Region '{region}' is in partition '{belongs}', not '{partition}'"))
}
