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
mod routes;
mod sets;
mod tag_rules;
mod validate;
mod vaults;

pub use document::MAX_POLICY_BYTES;
pub(crate) use document::{parse_document, Node};
pub(crate) use routes::tags_at;
pub use sets::{
    is_ou_id, AccountScope, Membership, OrgTree, OrgUnit, VaultSet, MAX_OU_DEPTH, REPORT_SCOPE,
};
use validate::validate;
pub(crate) use validate::{days_value, fields, text, Errors};

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
    /// Vault sets, expanded into `vaults` and `routes` by [`Policy::expand`].
    pub sets: Vec<VaultSet>,
    /// Routes with a set at one end, as written; [`Policy::expand`] adds their member routes.
    pub set_routes: Vec<Route>,
    /// The `tags:` section: which tags every copy carries (defaults when absent).
    pub tags: crate::copy_tags::CopyTagRules,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Vault {
    pub alias: String,
    pub arn: VaultArn,
    /// `None`: recovery points here are made by a backup plan that owns their lifecycle.
    pub retention: Option<Retention>,
    pub on_lock_conflict: LockConflict,
    /// The set this vault is a member of, once expanded.
    pub member_of: Option<String>,
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
        let mut seen = BTreeSet::from([root]);
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

    /// Does a path of routes lead from vault `from` to vault `to` (or are they one vault),
    /// whatever the routes select? What tells two originals of a table made at the same instant
    /// in two root vaults apart: only one of them can have been copied towards `to`.
    pub fn leads(&self, from: &str, to: &str) -> bool {
        let mut frontier = vec![from];
        let mut seen = BTreeSet::from([from]);
        while let Some(alias) = frontier.pop() {
            if alias == to {
                return true;
            }
            for route in self.routes_from(alias) {
                if seen.insert(&route.to) {
                    frontier.push(&route.to);
                }
            }
        }
        false
    }

    /// Vaults no route copies into: where backup plans put the originals. Linear in vaults and
    /// routes: an organisation's expanded sets are thousands of each, and the router asks per
    /// event (the organisation benchmark found this a vaults x routes scan).
    pub fn root_vaults(&self) -> Vec<&Vault> {
        let copied_into: std::collections::HashSet<&str> =
            self.routes.iter().map(|r| r.to.as_str()).collect();
        self.vaults
            .iter()
            .filter(|v| !copied_into.contains(v.alias.as_str()))
            .collect()
    }
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
pub type Tags = crate::copy_tags::Tags;
