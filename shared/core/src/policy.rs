//! The policy (contract): vaults are nodes, routes are edges. Parsed from YAML or JSON into an
//! order-preserving tree first, so duplicate keys are seen in both formats, then validated with
//! every error collected, each naming the vault or route and the field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::arn::{RoleArn, VaultArn};
use crate::retention::{LockConflict, Retention, COLD_MIN_DAYS, MIN_DAYS, NEVER_EXPIRE_DAYS};

pub const POLICY_VERSION: i64 = 1;
pub const MAX_HOPS: usize = 10;
pub const DEFAULT_RESOURCE_TYPE: &str = "DynamoDB";
const ACCOUNT_PLACEHOLDER: &str = "{account}";

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
#[error("invalid policy ({} error{}):\n{}", .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|e| format!("  - {e}")).collect::<Vec<_>>().join("\n"))]
pub struct PolicyErrors(pub Vec<PolicyError>);

#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Role AWS Backup assumes; `{account}` is the source vault's account.
    pub copy_role: String,
    pub vaults: Vec<Vault>,
    pub routes: Vec<Route>,
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
    /// YAML or JSON, chosen by the first character.
    pub fn parse(text: &str) -> Result<Self, PolicyErrors> {
        let node = parse_document(text)?;
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

    /// Vaults no route copies into: where backup plans put the originals.
    pub fn root_vaults(&self) -> Vec<&Vault> {
        self.vaults
            .iter()
            .filter(|v| !self.routes.iter().any(|r| r.to == v.alias))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// The document tree.

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Entries in document order, duplicates kept.
    Map(Vec<(String, Node)>),
}

impl Node {
    fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a list",
            Node::Map(_) => "a mapping",
        }
    }

    fn key_text(&self) -> String {
        match self {
            Node::Str(s) => s.clone(),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Null => "null".to_string(),
            other => format!("<{}>", other.kind()),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML or JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
                Node::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
                Ok(i64::try_from(v)
                    .map(Node::Int)
                    .unwrap_or(Node::Float(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<Node, Node>()? {
                    entries.push((k.key_text(), v));
                }
                Ok(Node::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

fn parse_document(text: &str) -> Result<Node, PolicyErrors> {
    let syntax = |format: &str, message: String| {
        PolicyErrors(vec![PolicyError {
            location: "policy".into(),
            field: "(document)".into(),
            message: format!("not valid {format}: {message}"),
        }])
    };
    if text.trim_start().starts_with('{') {
        serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string()))
    } else {
        serde_norway::from_str(text).map_err(|e| syntax("YAML", e.to_string()))
    }
}

// ---------------------------------------------------------------------------------------------
// Validation.

struct Errors(Vec<PolicyError>);

impl Errors {
    fn add(&mut self, location: &str, field: &str, message: impl Into<String>) {
        self.0.push(PolicyError {
            location: location.to_string(),
            field: field.to_string(),
            message: message.into(),
        });
    }
}

/// Map entries with unknown keys reported and duplicate keys reported.
fn fields<'a>(
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

fn days_value(node: &Node, location: &str, field: &str, errors: &mut Errors) -> Option<u32> {
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

fn text<'a>(node: &'a Node, location: &str, field: &str, errors: &mut Errors) -> Option<&'a str> {
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
        &["version", "copy_role", "vaults", "routes"],
        &mut errors,
    );

    match top.get("version") {
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

    let copy_role = match top.get("copy_role") {
        Some(n) => text(n, "policy", "copy_role", &mut errors).map(str::to_string),
        None => {
            errors.add("policy", "copy_role", "required");
            None
        }
    };
    if let Some(role) = &copy_role {
        if let Err(e) = RoleArn::parse(&role.replace(ACCOUNT_PLACEHOLDER, "000000000000")) {
            errors.add("policy", "copy_role", e.reason);
        }
    }

    // Vaults.
    let mut vaults: Vec<Vault> = Vec::new();
    let mut aliases_seen = BTreeSet::new();
    match top.get("vaults") {
        Some(Node::Map(entries)) => {
            for (alias, node) in entries {
                let loc = format!("vault '{alias}'");
                if !aliases_seen.insert(alias.clone()) {
                    errors.add(&loc, "(alias)", "duplicate alias");
                    continue;
                }
                let f = fields(
                    node,
                    &loc,
                    "(vault)",
                    &["arn", "retention", "on_lock_conflict"],
                    &mut errors,
                );
                let arn = match f.get("arn") {
                    None => {
                        errors.add(&loc, "arn", "required");
                        None
                    }
                    Some(n) => {
                        text(n, &loc, "arn", &mut errors).and_then(|s| match VaultArn::parse(s) {
                            Ok(a) => Some(a),
                            Err(e) => {
                                errors.add(&loc, "arn", format!("unparseable: {}", e.reason));
                                None
                            }
                        })
                    }
                };
                let retention = f
                    .get("retention")
                    .and_then(|n| parse_retention(n, &loc, &mut errors));
                let retention_given = f.contains_key("retention");
                let on_lock_conflict = match f.get("on_lock_conflict") {
                    None => LockConflict::Clamp,
                    Some(Node::Str(s)) if s == "clamp" => LockConflict::Clamp,
                    Some(Node::Str(s)) if s == "skip" => LockConflict::Skip,
                    Some(_) => {
                        errors.add(&loc, "on_lock_conflict", "must be clamp or skip");
                        LockConflict::Clamp
                    }
                };
                if let Some(arn) = arn {
                    if let Some(other) = vaults.iter().find(|v| v.arn == arn) {
                        errors.add(&loc, "arn", format!("same vault as '{}'", other.alias));
                    }
                    // A vault with an invalid retention is kept out so no later rule reports it twice.
                    if retention_given && retention.is_none() {
                        continue;
                    }
                    vaults.push(Vault {
                        alias: alias.clone(),
                        arn,
                        retention,
                        on_lock_conflict,
                    });
                }
            }
        }
        Some(other) => errors.add(
            "policy",
            "vaults",
            format!(
                "must be a mapping of alias to vault, found {}",
                other.kind()
            ),
        ),
        None => errors.add("policy", "vaults", "required"),
    }

    // Routes.
    let mut routes: Vec<Route> = Vec::new();
    let mut route_pairs = BTreeSet::new();
    match top.get("routes") {
        Some(Node::Seq(items)) => {
            for (i, node) in items.iter().enumerate() {
                // Name the route by its ends when they are readable, for every error about it.
                let end = |key: &str| match node {
                    Node::Map(entries) => entries.iter().find_map(|(k, v)| match v {
                        Node::Str(s) if k == key => Some(s.as_str()),
                        _ => None,
                    }),
                    _ => None,
                };
                let loc = match (end("from"), end("to")) {
                    (Some(from), Some(to)) => format!("route {} ({from} -> {to})", i + 1),
                    _ => format!("route {}", i + 1),
                };
                let f = fields(
                    node,
                    &loc,
                    "(route)",
                    &["from", "to", "select"],
                    &mut errors,
                );
                let from = f
                    .get("from")
                    .and_then(|n| text(n, &loc, "from", &mut errors));
                let to = f.get("to").and_then(|n| text(n, &loc, "to", &mut errors));
                if !f.contains_key("from") {
                    errors.add(&loc, "from", "required");
                }
                if !f.contains_key("to") {
                    errors.add(&loc, "to", "required");
                }
                let select = match f.get("select") {
                    None => Selector {
                        resource_types: vec![DEFAULT_RESOURCE_TYPE.to_string()],
                        tags: BTreeMap::new(),
                    },
                    Some(n) => parse_selector(n, &loc, &mut errors),
                };
                let (Some(from), Some(to)) = (from, to) else {
                    continue;
                };
                let mut ok = true;
                for (field, alias) in [("from", from), ("to", to)] {
                    if !aliases_seen.contains(alias) {
                        errors.add(&loc, field, format!("unknown vault alias '{alias}'"));
                        ok = false;
                    }
                }
                if from == to {
                    errors.add(&loc, "to", "a route cannot copy a vault into itself");
                    ok = false;
                }
                if !route_pairs.insert((from.to_string(), to.to_string())) {
                    errors.add(&loc, "(route)", "duplicate route");
                    ok = false;
                }
                if !ok {
                    continue;
                }
                if let (Some(src), Some(dst)) = (
                    vaults.iter().find(|v| v.alias == from),
                    vaults.iter().find(|v| v.alias == to),
                ) {
                    let cross_account = src.arn.account != dst.arn.account;
                    match dst.retention {
                        None => errors.add(&loc, "to",
                            format!("vault '{to}' has no retention: a vault that routes copy into must state one (inherit included)")),
                        Some(r) if cross_account && r.cold_after_days().is_some() => errors.add(&format!("vault '{to}'"),
                            "retention.move_to_cold_storage_after_days",
                            format!("cross-account copies (from '{from}') do not support the cold tier")),
                        _ => {}
                    }
                    if cross_account && dst.arn.name == "Default" {
                        errors.add(&loc, "to", format!("vault '{to}' is a Default vault: it cannot receive cross-account copies"));
                    }
                }
                routes.push(Route {
                    from: from.to_string(),
                    to: to.to_string(),
                    select,
                });
            }
        }
        Some(other) => errors.add(
            "policy",
            "routes",
            format!("must be a list, found {}", other.kind()),
        ),
        None => errors.add("policy", "routes", "required"),
    }

    check_graph(&routes, &mut errors);

    if errors.0.is_empty() {
        if let Some(copy_role) = copy_role {
            return Ok(Policy {
                copy_role,
                vaults,
                routes,
            });
        }
    }
    Err(PolicyErrors(errors.0))
}

fn parse_selector(node: &Node, loc: &str, errors: &mut Errors) -> Selector {
    let f = fields(node, loc, "select", &["resource_types", "tags"], errors);
    let resource_types = match f.get("resource_types") {
        None => vec![DEFAULT_RESOURCE_TYPE.to_string()],
        Some(Node::Seq(items)) if !items.is_empty() => items
            .iter()
            .filter_map(|n| text(n, loc, "select.resource_types", errors).map(str::to_string))
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
    let mut tags = BTreeMap::new();
    match f.get("tags") {
        None => {}
        Some(Node::Map(entries)) => {
            for (k, v) in entries {
                let value = match v {
                    Node::Str(s) => s.clone(),
                    Node::Int(_) | Node::Float(_) | Node::Bool(_) => v.key_text(),
                    other => {
                        errors.add(
                            loc,
                            &format!("select.tags.{k}"),
                            format!("must be a string, found {}", other.kind()),
                        );
                        continue;
                    }
                };
                if tags.insert(k.clone(), value).is_some() {
                    errors.add(loc, &format!("select.tags.{k}"), "given more than once");
                }
            }
        }
        Some(other) => errors.add(
            loc,
            "select.tags",
            format!("must be a mapping, found {}", other.kind()),
        ),
    }
    Selector {
        resource_types,
        tags,
    }
}

/// Cycles, and paths longer than MAX_HOPS, over routes already known to name real vaults.
fn check_graph(routes: &[Route], errors: &mut Errors) {
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for r in routes {
        next.entry(r.from.as_str()).or_default().push(r.to.as_str());
    }
    // Longest path from each node by depth-first search; a node on the current stack is a cycle.
    fn longest<'a>(
        node: &'a str,
        next: &BTreeMap<&'a str, Vec<&'a str>>,
        stack: &mut Vec<&'a str>,
        memo: &mut BTreeMap<&'a str, usize>,
        cycles: &mut BTreeSet<Vec<String>>,
    ) -> usize {
        if let Some(d) = memo.get(node) {
            return *d;
        }
        if let Some(pos) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[pos..].iter().map(|s| s.to_string()).collect();
            // One report per cycle, whatever node it was entered from.
            let min = cycle
                .iter()
                .enumerate()
                .min_by_key(|(_, s)| s.as_str())
                .map(|(i, _)| i)
                .unwrap_or(0);
            cycle.rotate_left(min);
            cycles.insert(cycle);
            return 0;
        }
        stack.push(node);
        let mut best = 0;
        for to in next.get(node).map(Vec::as_slice).unwrap_or(&[]) {
            best = best.max(1 + longest(to, next, stack, memo, cycles));
        }
        stack.pop();
        memo.insert(node, best);
        best
    }
    let mut memo = BTreeMap::new();
    let mut cycles = BTreeSet::new();
    let starts: Vec<&str> = next.keys().copied().collect();
    let mut too_long = Vec::new();
    for start in starts {
        let depth = longest(start, &next, &mut Vec::new(), &mut memo, &mut cycles);
        let is_root = !routes.iter().any(|r| r.to == start);
        if depth > MAX_HOPS && is_root {
            too_long.push((start, depth));
        }
    }
    // A cycle makes every path infinite: report the cycle, not the length.
    for (start, depth) in too_long.into_iter().filter(|_| cycles.is_empty()) {
        {
            errors.add(
                &format!("vault '{start}'"),
                "routes",
                format!("a path of {depth} hops starts here; at most {MAX_HOPS} are allowed"),
            );
        }
    }
    for cycle in cycles {
        let mut path = cycle.clone();
        path.push(cycle[0].clone());
        errors.add("routes", "(graph)", format!("cycle: {}", path.join(" -> ")));
    }
}

#[cfg(test)]
mod tests;
