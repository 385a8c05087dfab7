//! The policy (contract): vaults are nodes, routes are edges. Parsed from YAML or JSON into an
//! order-preserving tree first, so duplicate keys are seen in both formats, then validated with
//! every error collected, each naming the vault or route and the field.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use crate::arn::{
    is_issued_account_id, is_known_partition, partition_of_region, RoleArn, VaultArn, PARTITIONS,
};
use crate::retention::{LockConflict, Retention, COLD_MIN_DAYS, MIN_DAYS, NEVER_EXPIRE_DAYS};

mod document;
mod graph;
pub mod keeper;
pub mod params;

pub use document::MAX_POLICY_BYTES;
pub(crate) use document::{parse_document, Node};

pub const POLICY_VERSION: i64 = 1;
pub const MAX_HOPS: usize = 10;
pub const DEFAULT_RESOURCE_TYPE: &str = "DynamoDB";
const ACCOUNT_PLACEHOLDER: &str = "{account}";

/// AWS Backup's own names of resource types (GetSupportedResourceTypes, and the keys of the Region
/// settings' ResourceTypeOptInPreference): events carry exactly these.
pub const RESOURCE_TYPES: [&str; 19] = [
    "Aurora",
    "CloudFormation",
    "DocumentDB",
    "DSQL",
    "DynamoDB",
    "EBS",
    "EC2",
    "EFS",
    "EKS",
    "FSx",
    "Neptune",
    "RDS",
    "Redshift",
    "Redshift Serverless",
    "S3",
    "SAP HANA on Amazon EC2",
    "Storage Gateway",
    "Timestream",
    "VirtualMachine",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// "policy", "vault 'dr'", "route 2 (central -> dr)".
    pub location: String,
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.location, self.field, self.message)
    }
}

/// Every error found in one policy document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", error_list("invalid policy", .0))]
pub struct PolicyErrors(pub Vec<PolicyError>);

/// The errors of a document shown to a person: how many, and the first [`ERRORS_SHOWN`] of them
/// (a generated file with a thousand mistakes needs its first few fixed, not a thousand lines).
pub fn error_list(what: &str, errors: &[PolicyError]) -> String {
    let n = errors.len();
    let mut out = format!("{what} ({n} error{}):", if n == 1 { "" } else { "s" });
    for e in errors.iter().take(ERRORS_SHOWN) {
        out.push_str(&format!("\n  - {e}"));
    }
    if n > ERRORS_SHOWN {
        out.push_str(&format!(
            "\n  ... and {} more (the first {ERRORS_SHOWN} are shown)",
            n - ERRORS_SHOWN
        ));
    }
    out
}

/// The most errors [`error_list`] shows.
pub const ERRORS_SHOWN: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Role AWS Backup assumes; `{account}` is the source vault's account.
    pub copy_role: String,
    pub vaults: Vec<Vault>,
    pub routes: Vec<Route>,
    /// The `compliance:` section: the report's parameters (defaults when absent).
    pub compliance: params::Parameters,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vault {
    pub alias: String,
    pub arn: VaultArn,
    /// `None`: recovery points here are made by a backup plan that owns their lifecycle.
    pub retention: Option<Retention>,
    pub on_lock_conflict: LockConflict,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub from: String,
    pub to: String,
    pub select: Selector,
}

impl Route {
    pub fn name(&self) -> String {
        format!("{}->{}", self.from, self.to)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub resource_types: Vec<String>,
    pub tags: BTreeMap<String, String>,
}

impl Selector {
    pub fn matches(&self, resource_type: Option<&str>, tags: &BTreeMap<String, String>) -> bool {
        let type_ok = resource_type.is_none_or(|t| self.resource_types.iter().any(|rt| rt == t));
        type_ok && self.tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }
}

impl Policy {
    /// YAML or JSON, chosen by the first character; text over [`MAX_POLICY_BYTES`] is refused
    /// before parsing. Every error found is returned, not the first.
    pub fn parse(text: &str) -> Result<Self, PolicyErrors> {
        let node = parse_document(text, "policy")?;
        validate(&node)
    }

    pub fn vault(&self, alias: &str) -> Option<&Vault> {
        self.vaults.iter().find(|v| v.alias == alias)
    }

    /// The policy vault with this ARN (partition, Region, account and name must all match).
    pub fn vault_by_arn(&self, arn: &VaultArn) -> Option<&Vault> {
        self.vaults.iter().find(|v| &v.arn == arn)
    }

    pub fn routes_from<'a>(&'a self, alias: &'a str) -> impl Iterator<Item = &'a Route> + 'a {
        self.routes.iter().filter(move |r| r.from == alias)
    }

    /// The copy role for a source vault in `account`.
    pub fn copy_role_for(&self, account: &str) -> String {
        self.copy_role.replace(ACCOUNT_PLACEHOLDER, account)
    }

    /// The vaults an original in vault `root` must reach: every vault its selected routes lead
    /// to, each once (the hop identity: one copy per original per vault, whatever the graph).
    pub fn vaults_reached(
        &self,
        root: &str,
        resource_type: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Vec<&Vault> {
        let mut frontier = vec![root];
        let mut seen = std::collections::BTreeSet::from([root]);
        let mut out = Vec::new();
        while let Some(alias) = frontier.pop() {
            for route in self.routes_from(alias) {
                if !route.select.matches(resource_type, tags) || !seen.insert(&route.to) {
                    continue;
                }
                if let Some(v) = self.vault(&route.to) {
                    out.push(v);
                }
                frontier.push(&route.to);
            }
        }
        out
    }

    /// Vaults no route copies into: where backup plans put the originals.
    pub fn root_vaults(&self) -> Vec<&Vault> {
        self.vaults
            .iter()
            .filter(|v| !self.routes.iter().any(|r| r.to == v.alias))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

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

fn parse_retention(node: &Node, location: &str, errors: &mut Errors) -> Option<Retention> {
    match node {
        Node::Str(s) if s == "never_expire" => Some(Retention::NeverExpire {
            move_to_cold_storage_after_days: None,
        }),
        Node::Str(s) if s == "inherit" => Some(Retention::Inherit),
        Node::Map(_) => {
            let f = fields(
                node,
                location,
                "retention",
                &[
                    "delete_after_days",
                    "move_to_cold_storage_after_days",
                    "never_expire",
                ],
                errors,
            );
            let cold = f.get("move_to_cold_storage_after_days").and_then(|n| {
                days_value(
                    n,
                    location,
                    "retention.move_to_cold_storage_after_days",
                    errors,
                )
            });
            let never = match f.get("never_expire") {
                None => false,
                Some(Node::Bool(b)) => *b,
                Some(other) => {
                    errors.add(
                        location,
                        "retention.never_expire",
                        format!("must be true or false, found {}", other.kind()),
                    );
                    return None;
                }
            };
            let delete = f
                .get("delete_after_days")
                .and_then(|n| days_value(n, location, "retention.delete_after_days", errors));
            if never {
                if f.contains_key("delete_after_days") {
                    errors.add(
                        location,
                        "retention.delete_after_days",
                        "cannot be combined with never_expire",
                    );
                    return None;
                }
                if let Some(c) = cold.filter(|c| NEVER_EXPIRE_DAYS < c + COLD_MIN_DAYS) {
                    errors.add(location, "retention.move_to_cold_storage_after_days",
                        format!("{c} leaves fewer than {COLD_MIN_DAYS} days before the {NEVER_EXPIRE_DAYS}-day delete"));
                    return None;
                }
                return Some(Retention::NeverExpire {
                    move_to_cold_storage_after_days: cold,
                });
            }
            if f.contains_key("never_expire") && !f.contains_key("delete_after_days") {
                errors.add(
                    location,
                    "retention.delete_after_days",
                    "required when never_expire is false",
                );
                return None;
            }
            let Some(delete) = delete else {
                if !f.contains_key("delete_after_days") {
                    errors.add(
                        location,
                        "retention.delete_after_days",
                        "required (or use never_expire / inherit)",
                    );
                }
                return None;
            };
            if let Some(c) = cold {
                if delete < c + COLD_MIN_DAYS {
                    errors.add(location, "retention.delete_after_days",
                        format!("{delete} is less than move_to_cold_storage_after_days ({c}) + {COLD_MIN_DAYS}"));
                    return None;
                }
            }
            Some(Retention::Days {
                delete_after_days: delete,
                move_to_cold_storage_after_days: cold,
            })
        }
        other => {
            errors.add(
                location,
                "retention",
                format!(
                    "must be never_expire, inherit or a mapping of days, found {}",
                    match other {
                        Node::Str(s) => format!("'{s}'"),
                        o => o.kind().to_string(),
                    }
                ),
            );
            None
        }
    }
}

fn validate(root: &Node) -> Result<Policy, PolicyErrors> {
    let mut errors = Errors(Vec::new());
    let top = fields(
        root,
        "policy",
        "(document)",
        &["version", "copy_role", "vaults", "routes", "compliance"],
        &mut errors,
    );
    let compliance = params::parse_parameters(top.get("compliance").copied(), &mut errors);
    check_version(top.get("version").copied(), &mut errors);
    let (copy_role, role) = parse_copy_role(top.get("copy_role").copied(), &mut errors);
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
    Ok(policy)
}

/// The policy, when no rule found anything.
fn finish(
    copy_role: Option<String>,
    vaults: Vec<VaultDraft>,
    routes: Vec<RouteDraft>,
    errors: Errors,
) -> Result<Policy, PolicyErrors> {
    if !errors.0.is_empty() {
        return Err(PolicyErrors(errors.0));
    }
    let vaults: Option<Vec<Vault>> = vaults
        .into_iter()
        .map(|v| {
            v.arn.map(|arn| Vault {
                alias: v.alias,
                arn,
                retention: v.retention,
                on_lock_conflict: v.on_lock_conflict,
            })
        })
        .collect();
    match (copy_role, vaults) {
        (Some(copy_role), Some(vaults)) => Ok(Policy {
            copy_role,
            vaults,
            routes: routes.into_iter().map(|r| r.route).collect(),
            compliance: Default::default(),
        }),
        // Every way to get here adds an error first; kept as an error rather than a panic.
        _ => Err(PolicyErrors(vec![PolicyError {
            location: "policy".into(),
            field: "(document)".into(),
            message: "incomplete policy".into(),
        }])),
    }
}

fn check_version(node: Option<&Node>, errors: &mut Errors) {
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

// ---------------------------------------------------------------------------------------------
// The copy role.

/// What the route rules need to know of the copy role.
struct CopyRole {
    partition: String,
    /// `None`: the account is `{account}`, always the source vault's own.
    account: Option<String>,
}

fn parse_copy_role(node: Option<&Node>, errors: &mut Errors) -> (Option<String>, Option<CopyRole>) {
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

fn unknown_partition(partition: &str) -> String {
    let known: Vec<&str> = PARTITIONS.iter().map(|(p, _)| *p).collect();
    format!(
        "unknown partition '{partition}' (AWS's are {})",
        known.join(", ")
    )
}

// ---------------------------------------------------------------------------------------------
// Vaults.

/// A vault as read. Kept even when part of it is invalid, so that every rule that can still be
/// checked is, and the whole list of errors comes out at once.
struct VaultDraft {
    alias: String,
    /// `None`: missing or unparseable, already reported.
    arn: Option<VaultArn>,
    /// `None`: not given, or given and invalid (already reported, see `retention_given`).
    retention: Option<Retention>,
    retention_given: bool,
    on_lock_conflict: LockConflict,
}

fn parse_vaults(node: Option<&Node>, errors: &mut Errors) -> Vec<VaultDraft> {
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
            continue;
        }
        let vault = parse_vault(alias, node, &loc, errors);
        if let Some(arn) = &vault.arn {
            if let Some(other) = arns.get(arn) {
                errors.add(&loc, "arn", format!("same vault as '{other}'"));
            } else {
                arns.insert(arn.clone(), alias.clone());
            }
        }
        vaults.push(vault);
    }
    vaults
}

/// Route ends and messages name vaults by alias; AWS's own name rule is the sensible one here too.
fn is_alias(alias: &str) -> bool {
    !alias.is_empty()
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

fn parse_vault(alias: &str, node: &Node, loc: &str, errors: &mut Errors) -> VaultDraft {
    if !is_alias(alias) {
        errors.add(loc, "(alias)", "an alias is one or more of A-Z a-z 0-9 _ -");
    }
    let f = fields(
        node,
        loc,
        "(vault)",
        &["arn", "retention", "on_lock_conflict"],
        errors,
    );
    let arn = match f.get("arn") {
        None => {
            errors.add(loc, "arn", "required");
            None
        }
        Some(n) => text(n, loc, "arn", errors).and_then(|s| parse_vault_arn(s, loc, errors)),
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
    }
}

/// A vault ARN held to what AWS accepts. ARN parsing itself stays lenient, for events; an ARN that
/// parses is kept even when a rule here fails, so the route rules still run on it.
fn parse_vault_arn(text: &str, loc: &str, errors: &mut Errors) -> Option<VaultArn> {
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
    } else if let Some(problem) = crate::regions::region_problem(region) {
        errors.add(loc, "arn", problem);
    } else if partition_of_region(region) != partition {
        let belongs = partition_of_region(region);
        errors.add(
            loc,
            "arn",
            format!("Region '{region}' is in partition '{belongs}', not '{partition}'"),
        );
    }
    Some(arn)
}

// ---------------------------------------------------------------------------------------------
// Routes.

/// A route whose ends name vaults of the policy: `from` and `to` index the vault list.
struct RouteDraft {
    /// "route 2 (central -> dr)", for every error about it.
    loc: String,
    from: usize,
    to: usize,
    route: Route,
}

fn parse_routes(
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
fn route_location(i: usize, node: &Node) -> String {
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

fn parse_route<'a>(
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
fn check_route(
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
    if let (Some(src_arn), Some(role)) = (&src.arn, role) {
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
fn check_role_for(
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
fn check_inherited_cold(vaults: &[VaultDraft], routes: &[RouteDraft], errors: &mut Errors) {
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
fn check_inherit_fan_in(vaults: &[VaultDraft], routes: &[RouteDraft], errors: &mut Errors) {
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

fn inherited_cold_error(origin: &VaultDraft, r: &RouteDraft, to: &str, errors: &mut Errors) {
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

// ---------------------------------------------------------------------------------------------
// Selectors.

fn parse_selector(node: &Node, loc: &str, errors: &mut Errors) -> Selector {
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
fn resource_type(t: &str, loc: &str, errors: &mut Errors) -> Option<String> {
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

fn parse_tags(node: Option<&Node>, loc: &str, errors: &mut Errors) -> BTreeMap<String, String> {
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

#[cfg(test)]
mod tests;

/// The policy a report was made under, as a SHA-256 of its text (so two reports can be compared
/// knowing whether the rules changed between them).
pub fn policy_digest(policy_text: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(policy_text.as_bytes()))
    )
}

/// A resource's tags (DynamoDB's ListTagsOfResource), by key.
pub type Tags = BTreeMap<String, String>;
