//! Reading a policy document: every field checked, every error kept, so the whole list comes
//! out at once; the version, the copy role, and the retention forms.

use super::routes::*;
use super::vaults::*;
use super::*;

/// Errors collected while reading a document (the policy, the world file), every one of them.
pub(crate) struct Errors(pub(crate) Vec<PolicyError>);

impl Errors {
    pub(crate) fn add(&mut self, location: &str, field: &str, message: impl Into<String>) {
        self.0.push(PolicyError {
            location: location.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// Map entries with unknown keys reported and duplicate keys reported.
pub(crate) fn fields<'a>(
    node: &'a Node,
    location: &str,
    field: &str,
    allowed: &[&str],
    errors: &mut Errors,
) -> BTreeMap<&'a str, &'a Node> {
    let mut out = BTreeMap::new();
    let Node::Map(entries) = node else {
        errors.add(
            location,
            field,
            format!("must be a mapping, found {}", node.kind()),
        );
        return out;
    };
    for (k, v) in entries {
        if !allowed.contains(&k.as_str()) {
            errors.add(
                location,
                k,
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            );
        } else if out.insert(k.as_str(), v).is_some() {
            errors.add(location, k, "given more than once");
        }
    }
    out
}

pub(crate) fn days_value(
    node: &Node,
    location: &str,
    field: &str,
    errors: &mut Errors,
) -> Option<u32> {
    match node {
        Node::Int(i) if (i64::from(MIN_DAYS)..=i64::from(NEVER_EXPIRE_DAYS)).contains(i) => {
            u32::try_from(*i).ok()
        }
        Node::Int(i) => {
            errors.add(
                location,
                field,
                format!("{i} is outside {MIN_DAYS}..={NEVER_EXPIRE_DAYS} days"),
            );
            None
        }
        other => {
            errors.add(
                location,
                field,
                format!("must be a whole number of days, found {}", other.kind()),
            );
            None
        }
    }
}

pub(crate) fn text<'a>(
    node: &'a Node,
    location: &str,
    field: &str,
    errors: &mut Errors,
) -> Option<&'a str> {
    match node {
        Node::Str(s) => Some(s),
        other => {
            errors.add(
                location,
                field,
                format!("must be a string, found {}", other.kind()),
            );
            None
        }
    }
}

pub(super) fn parse_retention(
    node: &Node,
    location: &str,
    errors: &mut Errors,
) -> Option<Retention> {
    match node {
        Node::Str(s) if s == "never_expire" => Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: None,
        }),
        Node::Str(s) if s == "inherit" => Some(Retention::Inherit),
        Node::Map(_) => retention_of_days(node, location, errors),
        other => {
            let found = match other {
                Node::Str(s) => format!("'{s}'"),
                o => o.kind().to_string(),
            };
            errors.add(
                location,
                "retention",
                format!("must be never_expire, inherit or a mapping of days, found {found}"),
            );
            None
        }
    }
}

/// `{ delete_after_days, move_to_cold_storage_after_days }` or `{ never_expire: true, ... }`.
fn retention_of_days(node: &Node, location: &str, errors: &mut Errors) -> Option<Retention> {
    let allowed = [
        "delete_after_days",
        "move_to_cold_storage_after_days",
        "never_expire",
    ];
    let f = fields(node, location, "retention", &allowed, errors);
    let field = |name: &str| format!("retention.{name}");
    let cold = f.get("move_to_cold_storage_after_days").and_then(|n| {
        days_value(
            n,
            location,
            &field("move_to_cold_storage_after_days"),
            errors,
        )
    });
    let never = match f.get("never_expire") {
        None => false,
        Some(Node::Bool(b)) => *b,
        Some(other) => {
            let why = format!("must be true or false, found {}", other.kind());
            errors.add(location, "retention.never_expire", why);
            return None;
        }
    };
    let delete = f
        .get("delete_after_days")
        .and_then(|n| days_value(n, location, &field("delete_after_days"), errors));
    if never {
        return never_expire_retention(f.contains_key("delete_after_days"), cold, location, errors);
    }
    if f.contains_key("never_expire") && !f.contains_key("delete_after_days") {
        let why = "required when never_expire is false";
        errors.add(location, "retention.delete_after_days", why);
        return None;
    }
    let Some(delete) = delete else {
        if !f.contains_key("delete_after_days") {
            let why = "required (or use never_expire / inherit)";
            errors.add(location, "retention.delete_after_days", why);
        }
        return None;
    };
    if let Some(c) = cold.filter(|c| delete < c + COLD_MIN_DAYS) {
        errors.add(
            location,
            "retention.delete_after_days",
            format!(
                "{delete} is less than move_to_cold_storage_after_days ({c}) + {COLD_MIN_DAYS}"
            ),
        );
        return None;
    }
    Some(Retention::Days {
        delete_after_days: delete,
        move_to_cold_storage_after_days: cold,
    })
}

/// `{ never_expire: true }`: no delete_after_days of its own, and a cold transition that leaves
/// AWS's 90 days before the 36500-day delete.
fn never_expire_retention(
    has_delete: bool,
    cold: Option<u32>,
    location: &str,
    errors: &mut Errors,
) -> Option<Retention> {
    if has_delete {
        let why = "cannot be combined with never_expire";
        errors.add(location, "retention.delete_after_days", why);
        return None;
    }
    if let Some(c) = cold.filter(|c| NEVER_EXPIRE_DAYS < c + COLD_MIN_DAYS) {
        errors.add(location, "retention.move_to_cold_storage_after_days",
            format!("{c} leaves fewer than {COLD_MIN_DAYS} days before the {NEVER_EXPIRE_DAYS}-day delete"));
        return None;
    }
    Some(Retention::NeverExpire {
        move_to_cold_storage_after_days: cold,
    })
}

pub(super) fn validate(root: &Node) -> Result<Policy, PolicyErrors> {
    let mut errors = Errors(Vec::new());
    let top = fields(
        root,
        "policy",
        "(document)",
        &[
            "version",
            "copy_role",
            "vaults",
            "routes",
            "compliance",
            "tags",
        ],
        &mut errors,
    );
    let compliance = params::parse_parameters(top.get("compliance").copied(), &mut errors);
    let tags = tag_rules::parse_rules(top.get("tags").copied(), &mut errors);
    check_version(top.get("version").copied(), &mut errors);
    let (copy_role, role) = parse_copy_role(top.get("copy_role").copied(), &mut errors);
    let partition = role.as_ref().map(|r| r.partition.as_str());
    params::check_scope_partition(&compliance, partition, &mut errors);
    let vaults = parse_vaults(top.get("vaults").copied(), &mut errors);
    let index: BTreeMap<&str, usize> = vaults
        .iter()
        .enumerate()
        .map(|(i, v)| (v.alias.as_str(), i))
        .collect();
    let routes = parse_routes(top.get("routes").copied(), &index, &mut errors);
    for route in &routes {
        check_route(route, &vaults, role.as_ref(), &mut errors);
    }
    check_inherited_cold(&vaults, &routes, &mut errors);
    check_inherit_fan_in(&vaults, &routes, &mut errors);
    let names: Vec<&str> = vaults.iter().map(|v| v.alias.as_str()).collect();
    let edges: Vec<(usize, usize)> = routes.iter().map(|r| (r.from, r.to)).collect();
    graph::check_graph(&names, &edges, &mut errors);
    let mut policy = finish(copy_role, vaults, routes, errors)?;
    policy.compliance = compliance;
    policy.tags = tags;
    Ok(policy)
}

/// The policy, when no rule found anything.
pub(super) fn finish(
    copy_role: Option<String>,
    vaults: Vec<VaultDraft>,
    routes: Vec<RouteDraft>,
    errors: Errors,
) -> Result<Policy, PolicyErrors> {
    if !errors.0.is_empty() {
        return Err(PolicyErrors(errors.0));
    }
    let mut sets = Vec::new();
    let mut concrete = Vec::new();
    for v in vaults {
        match (v.set, v.arn) {
            (Some(set), _) => sets.push(VaultSet {
                alias: v.alias,
                name: set.name,
                // Checked: a set without accounts is an error, so never reaches here.
                accounts: set.accounts.unwrap_or(AccountScope::Accounts(Vec::new())),
                exclude_accounts: set.exclude_accounts,
                regions: set.regions,
                partition: set.partition,
                retention: v.retention,
                on_lock_conflict: v.on_lock_conflict,
            }),
            (None, Some(arn)) => concrete.push(Vault {
                alias: v.alias,
                arn,
                retention: v.retention,
                on_lock_conflict: v.on_lock_conflict,
                member_of: None,
            }),
            (None, None) => return Err(incomplete()),
        }
    }
    let is_set = |alias: &str| sets.iter().any(|s| s.alias == alias);
    let (set_routes, routes): (Vec<Route>, Vec<Route>) = routes
        .into_iter()
        .map(|r| r.route)
        .partition(|r| is_set(&r.from) || is_set(&r.to));
    match copy_role {
        Some(copy_role) => Ok(Policy {
            copy_role,
            vaults: concrete,
            routes,
            compliance: Default::default(),
            tags: Default::default(),
            sets,
            set_routes,
        }),
        None => Err(incomplete()),
    }
}

/// Every way to an incomplete policy adds an error first; kept as an error rather than a panic.
fn incomplete() -> PolicyErrors {
    PolicyErrors(vec![PolicyError {
        location: "policy".into(),
        field: "(document)".into(),
        message: "incomplete policy".into(),
    }])
}

pub(super) fn check_version(node: Option<&Node>, errors: &mut Errors) {
    match node {
        Some(Node::Int(v)) if *v == POLICY_VERSION => {}
        Some(Node::Int(v)) => errors.add(
            "policy",
            "version",
            format!("unknown version {v} (this release reads version {POLICY_VERSION})"),
        ),
        Some(other) => errors.add(
            "policy",
            "version",
            format!("must be {POLICY_VERSION}, found {}", other.kind()),
        ),
        None => errors.add("policy", "version", "required"),
    }
}

/// What the route rules need to know of the copy role.
pub(super) struct CopyRole {
    pub(super) partition: String,
    /// `None`: the account is `{account}`, always the source vault's own.
    pub(super) account: Option<String>,
}

pub(super) fn parse_copy_role(
    node: Option<&Node>,
    errors: &mut Errors,
) -> (Option<String>, Option<CopyRole>) {
    let Some(node) = node else {
        errors.add("policy", "copy_role", "required");
        return (None, None);
    };
    let Some(template) = text(node, "policy", "copy_role", errors) else {
        return (None, None);
    };
    let role = match RoleArn::parse(&template.replace(ACCOUNT_PLACEHOLDER, "000000000000")) {
        Ok(role) => role,
        Err(e) => {
            errors.add("policy", "copy_role", e.reason);
            return (Some(template.to_string()), None);
        }
    };
    // The ARN's fifth part, as written: `{account}` there follows the source vault's account.
    let account = template.split(':').nth(4).unwrap_or_default();
    let templated = account == ACCOUNT_PLACEHOLDER;
    if !templated && !is_issued_account_id(account) {
        errors.add(
            "policy",
            "copy_role",
            format!("account id '{account}' must be exactly 12 digits (or {ACCOUNT_PLACEHOLDER})"),
        );
    }
    if !is_known_partition(&role.partition) {
        errors.add("policy", "copy_role", unknown_partition(&role.partition));
    }
    let copy_role = CopyRole {
        partition: role.partition,
        account: (!templated).then(|| account.to_string()),
    };
    (Some(template.to_string()), Some(copy_role))
}

pub(super) fn unknown_partition(partition: &str) -> String {
    let known: Vec<&str> = PARTITIONS.iter().map(|(p, _)| *p).collect();
    format!(
        "unknown partition '{partition}' (AWS's are {})",
        known.join(", ")
    )
}
