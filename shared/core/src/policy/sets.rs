//! Vault sets (contract): one alias for the vault of one name in every member account of the
//! organisation, of OUs or of a list, in listed Regions. Read and checked here; the members come
//! from AWS Organizations at run time and [`Policy::expand`] turns the sets into the concrete
//! vaults and routes everything else works on, so hop identity stays (original, concrete vault).

use super::validate::*;
use super::*;
use std::collections::HashMap;

/// Which accounts a set (or the report's scope) covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountScope {
    /// Every ACTIVE account of the organisation.
    Organization,
    /// The ACTIVE accounts of these OUs and of every OU nested under them.
    OrganizationalUnits(Vec<String>),
    /// These accounts, as written (no Organizations read needed).
    Accounts(Vec<String>),
}

impl fmt::Display for AccountScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Organization => write!(f, "the organization"),
            Self::OrganizationalUnits(ous) => write!(f, "OUs {}", ous.join(", ")),
            Self::Accounts(a) if a.len() <= 3 => write!(f, "accounts {}", a.join(", ")),
            Self::Accounts(a) => write!(f, "{} listed accounts", a.len()),
        }
    }
}

/// A vault alias that stands for one vault name in many accounts and Regions.
#[derive(Debug, Clone, PartialEq)]
pub struct VaultSet {
    pub alias: String,
    /// The vault's name in every member.
    pub name: String,
    pub accounts: AccountScope,
    pub exclude_accounts: BTreeSet<String>,
    pub regions: Vec<String>,
    pub partition: String,
    pub retention: Option<Retention>,
    pub on_lock_conflict: LockConflict,
}

impl VaultSet {
    /// The member vault in `account` and `region`.
    pub fn member_arn(&self, account: &str, region: &str) -> VaultArn {
        VaultArn {
            partition: self.partition.clone(),
            region: region.to_string(),
            account: account.to_string(),
            name: self.name.clone(),
        }
    }

    /// The alias a member goes by once expanded: `primary[111111111111/us-east-1]`. Not a valid
    /// policy alias, so it never collides with one.
    pub fn member_alias(&self, account: &str, region: &str) -> String {
        format!("{}[{account}/{region}]", self.alias)
    }

    /// One line for `relay validate`: the name, its scope and Regions.
    pub fn describe(&self) -> String {
        let excluded = match self.exclude_accounts.len() {
            0 => String::new(),
            n => format!(" minus {n} excluded"),
        };
        format!(
            "set {}: vault '{}' in every account of {}{excluded}, in {}",
            self.alias,
            self.name,
            self.accounts,
            self.regions.join(", ")
        )
    }
}

/// What AWS Organizations said: the ACTIVE accounts, and for each OU read its ACTIVE accounts
/// and child OUs. Only what the sets ask for is read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgTree {
    /// Every ACTIVE account (read when a scope is the organisation).
    pub active: BTreeSet<String>,
    pub units: BTreeMap<String, OrgUnit>,
    /// OUs a scope names that Organizations says do not exist (ParentNotFoundException): no
    /// members, and said, so one deleted or mistyped OU holds up no other set.
    pub missing: BTreeSet<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgUnit {
    pub accounts: BTreeSet<String>,
    pub children: Vec<String>,
}

/// The deepest OU nesting AWS Organizations allows (five levels under the root).
pub const MAX_OU_DEPTH: usize = 5;

impl OrgTree {
    /// The accounts of `scope`. OUs are walked breadth first, each once, so a malformed answer
    /// (a cycle, a deeper tree than AWS allows) cannot loop.
    pub fn accounts(&self, scope: &AccountScope) -> BTreeSet<String> {
        match scope {
            AccountScope::Organization => self.active.clone(),
            AccountScope::Accounts(list) => list.iter().cloned().collect(),
            AccountScope::OrganizationalUnits(ous) => {
                let mut out = BTreeSet::new();
                let mut seen: BTreeSet<&str> = BTreeSet::new();
                let mut queue: VecDeque<&str> = ous.iter().map(String::as_str).collect();
                while let Some(ou) = queue.pop_front() {
                    if !seen.insert(ou) {
                        continue;
                    }
                    if let Some(unit) = self.units.get(ou) {
                        out.extend(unit.accounts.iter().cloned());
                        queue.extend(unit.children.iter().map(String::as_str));
                    }
                }
                out
            }
        }
    }
}

/// Each set's member accounts, by set alias (and the report's scope under [`REPORT_SCOPE`]).
pub type Membership = BTreeMap<String, BTreeSet<String>>;

/// The key of the report's scope accounts in a [`Membership`]: not an alias, so never a set's.
pub const REPORT_SCOPE: &str = "(report scope)";

impl Policy {
    /// Each set's members in `tree`, exclusions applied.
    pub fn membership(&self, tree: &OrgTree) -> Membership {
        let mut out: Membership = self
            .sets
            .iter()
            .map(|s| {
                let members = tree
                    .accounts(&s.accounts)
                    .into_iter()
                    .filter(|a| !s.exclude_accounts.contains(a))
                    .collect();
                (s.alias.clone(), members)
            })
            .collect();
        if let Some(scope) = self.compliance.scope_accounts() {
            out.insert(REPORT_SCOPE.to_string(), tree.accounts(scope));
        }
        out
    }

    /// Do any of the policy's vaults (or the report's scope) need AWS Organizations to expand?
    pub fn reads_organization(&self) -> bool {
        self.sets
            .iter()
            .map(|s| &s.accounts)
            .chain(self.compliance.scope_accounts())
            .any(|s| !matches!(s, AccountScope::Accounts(_)))
    }

    /// The concrete policy for these members: each set becomes one vault per member account and
    /// Region, each set route one route per member (set -> set pairs the same account). Members
    /// from an earlier expansion are replaced, so expanding again after a refresh is safe.
    pub fn expand(&self, members: &Membership) -> Policy {
        let mut vaults: Vec<Vault> = self
            .vaults
            .iter()
            .filter(|v| v.member_of.is_none())
            .cloned()
            .collect();
        let none = BTreeSet::new();
        let members_of = |alias: &str| members.get(alias).unwrap_or(&none);
        // One vault, one policy vault: a member whose vault another entry names already (a
        // concrete vault, or an earlier set over the same accounts) is that entry's.
        let mut taken: std::collections::HashSet<VaultArn> =
            vaults.iter().map(|v| v.arn.clone()).collect();
        for set in &self.sets {
            for account in members_of(&set.alias) {
                for region in &set.regions {
                    if !taken.insert(set.member_arn(account, region)) {
                        continue;
                    }
                    vaults.push(Vault {
                        alias: set.member_alias(account, region),
                        arn: set.member_arn(account, region),
                        retention: set.retention,
                        on_lock_conflict: set.on_lock_conflict,
                        member_of: Some(set.alias.clone()),
                    });
                }
            }
        }
        let mut routes: Vec<Route> = self
            .routes
            .iter()
            .filter(|r| !r.from.contains('['))
            .cloned()
            .collect();
        let aliases: std::collections::HashSet<&str> =
            vaults.iter().map(|v| v.alias.as_str()).collect();
        for route in &self.set_routes {
            let member = self.member_routes(route, members_of(&route.from), members);
            // A member that is another entry's vault has no routes of its own here.
            routes.extend(
                member.into_iter().filter(|r| {
                    aliases.contains(r.from.as_str()) && aliases.contains(r.to.as_str())
                }),
            );
        }
        let mut compliance = self.compliance.clone();
        compliance.scope_members = members.get(REPORT_SCOPE).cloned();
        Policy {
            copy_role: self.copy_role.clone(),
            vaults,
            routes,
            compliance,
            tags: self.tags.clone(),
            sets: self.sets.clone(),
            set_routes: self.set_routes.clone(),
        }
    }

    /// The concrete routes of one set route, for the source set's `sources` accounts.
    fn member_routes(
        &self,
        route: &Route,
        sources: &BTreeSet<String>,
        members: &Membership,
    ) -> Vec<Route> {
        let Some(from) = self.set(&route.from) else {
            return Vec::new();
        };
        let to_set = self.set(&route.to);
        let mut out = Vec::new();
        for account in sources {
            let to = match to_set {
                None => route.to.clone(),
                Some(dst) => {
                    let paired = members.get(&dst.alias).is_some_and(|m| m.contains(account));
                    let Some(region) = dst.regions.first().filter(|_| paired) else {
                        continue;
                    };
                    dst.member_alias(account, region)
                }
            };
            for region in &from.regions {
                out.push(Route {
                    from: from.member_alias(account, region),
                    to: to.clone(),
                    select: route.select.clone(),
                });
            }
        }
        out
    }

    /// The policy as if `account` were an ACTIVE member of every organisation and OU scope (a
    /// listed set stays as written): for `relay plan`, which reads no AWS.
    pub fn assuming_member(&self, account: &str) -> Policy {
        let mut tree = OrgTree::default();
        if !is_issued_account_id(account) {
            return self.expand(&self.membership(&tree));
        }
        tree.active.insert(account.to_string());
        for set in &self.sets {
            if let AccountScope::OrganizationalUnits(ous) = &set.accounts {
                for ou in ous {
                    let unit = tree.units.entry(ou.clone()).or_default();
                    unit.accounts.insert(account.to_string());
                }
            }
        }
        self.expand(&self.membership(&tree))
    }

    pub fn set(&self, alias: &str) -> Option<&VaultSet> {
        self.sets.iter().find(|s| s.alias == alias)
    }
}

// Reading a set.

/// What the route rules need of a set while the policy is read.
pub(super) struct SetDraft {
    pub(super) accounts: Option<AccountScope>,
    pub(super) exclude_accounts: BTreeSet<String>,
    pub(super) regions: Vec<String>,
    pub(super) partition: String,
    pub(super) name: String,
}

/// The account a set's representative ARN carries while the policy is read: no real account, so
/// a set -> vault route counts as cross-account and a set -> set route as same-account.
pub(super) const ANY_MEMBER: &str = "{member}";

pub(super) const SET_FIELDS: [&str; 8] = [
    "name",
    "accounts",
    "exclude_accounts",
    "regions",
    "partition",
    "retention",
    "on_lock_conflict",
    "arn",
];

/// A set's own fields; `None` when it cannot stand for vaults at all (no name).
pub(super) fn parse_set(
    f: &BTreeMap<&str, &Node>,
    loc: &str,
    errors: &mut Errors,
) -> (Option<SetDraft>, Option<VaultArn>) {
    if f.contains_key("arn") {
        errors.add(
            loc,
            "name",
            "name and arn are exclusive: a set names a vault, a vault has an arn",
        );
    }
    let name = set_name(f, loc, errors);
    let partition = set_partition(f, loc, errors);
    let regions = parse_regions(f.get("regions").copied(), partition.as_deref(), loc, errors);
    let accounts = match f.get("accounts") {
        None => {
            errors.add(
                loc,
                "accounts",
                "required: organization, a list of accounts, or { organizational_units: [...] }",
            );
            None
        }
        Some(n) => parse_scope(n, loc, "accounts", errors),
    };
    let exclude_accounts: BTreeSet<String> = f
        .get("exclude_accounts")
        .map(|n| account_list(n, loc, "exclude_accounts", true, errors))
        .unwrap_or_default()
        .into_iter()
        .collect();
    if let Some(AccountScope::Accounts(listed)) = &accounts {
        if !listed.is_empty() && listed.iter().all(|a| exclude_accounts.contains(a)) {
            errors.add(
                loc,
                "exclude_accounts",
                "excludes every account the set lists: the set has no members",
            );
        }
    }
    let (Some(name), Some(partition)) = (name, partition) else {
        return (None, None);
    };
    let arn = regions.first().map(|region| VaultArn {
        partition: partition.clone(),
        region: region.clone(),
        account: ANY_MEMBER.to_string(),
        name: name.to_string(),
    });
    let draft = SetDraft {
        accounts,
        exclude_accounts,
        regions,
        partition,
        name: name.to_string(),
    };
    (Some(draft), arn)
}

/// A set's vault name, if it is one (required, AWS's rule).
fn set_name<'a>(f: &BTreeMap<&str, &'a Node>, loc: &str, errors: &mut Errors) -> Option<&'a str> {
    let Some(node) = f.get("name") else {
        errors.add(
            loc,
            "name",
            "required: the vault's name in each member account",
        );
        return None;
    };
    let name = text(node, loc, "name", errors)?;
    if !crate::arn::is_vault_name(name) {
        errors.add(
            loc,
            "name",
            format!("invalid vault name '{name}' (2-50 of a-z A-Z 0-9 - _)"),
        );
        return None;
    }
    Some(name)
}

/// A set's partition (`aws` unless given); `None` for one that is not a partition. The rest of
/// the set is read all the same (every error at once), its Regions checked alone.
fn set_partition(f: &BTreeMap<&str, &Node>, loc: &str, errors: &mut Errors) -> Option<String> {
    let Some(node) = f.get("partition") else {
        return Some("aws".to_string());
    };
    let p = text(node, loc, "partition", errors)?;
    if !is_known_partition(p) {
        errors.add(loc, "partition", unknown_partition(p));
        return None;
    }
    Some(p.to_string())
}

/// `organization`, a list of account ids, or `{ organizational_units: [ou ids] }`.
pub(crate) fn parse_scope(
    node: &Node,
    loc: &str,
    field: &str,
    errors: &mut Errors,
) -> Option<AccountScope> {
    match node {
        Node::Str(s) if s == "organization" => Some(AccountScope::Organization),
        Node::Seq(_) => {
            let list = account_list(node, loc, field, false, errors);
            (!list.is_empty()).then_some(AccountScope::Accounts(list))
        }
        Node::Map(_) => {
            let f = fields(node, loc, field, &["organizational_units"], errors);
            let key = format!("{field}.organizational_units");
            let Some(Node::Seq(items)) = f.get("organizational_units").copied() else {
                errors.add(
                    loc,
                    &key,
                    "required: a non-empty list of OU ids (ou-xxxx-xxxxxxxx)",
                );
                return None;
            };
            let mut ous = Vec::new();
            for item in items {
                match text(item, loc, &key, errors) {
                    Some(ou) if !is_ou_id(ou) => errors.add(
                        loc,
                        &key,
                        format!("'{ou}' is not an OU id (ou- then 4-32 lowercase letters or digits, -, then 8-32)"),
                    ),
                    Some(ou) if ous.iter().any(|o| o == ou) => {
                        errors.add(loc, &key, format!("'{ou}' given more than once"))
                    }
                    Some(ou) => ous.push(ou.to_string()),
                    None => {}
                }
            }
            if items.is_empty() {
                errors.add(loc, &key, "must not be empty");
            }
            (!ous.is_empty()).then_some(AccountScope::OrganizationalUnits(ous))
        }
        other => {
            errors.add(
                loc,
                field,
                format!("must be organization, a list of accounts or {{ organizational_units: [...] }}, found {}", other.kind()),
            );
            None
        }
    }
}

/// 12-digit account ids, each once; an empty list is refused unless `may_be_empty`.
fn account_list(
    node: &Node,
    loc: &str,
    field: &str,
    may_be_empty: bool,
    errors: &mut Errors,
) -> Vec<String> {
    let Node::Seq(items) = node else {
        errors.add(
            loc,
            field,
            format!("must be a list of account ids, found {}", node.kind()),
        );
        return Vec::new();
    };
    if items.is_empty() && !may_be_empty {
        errors.add(loc, field, "must not be empty");
    }
    let mut out: Vec<String> = Vec::new();
    // Checked against a set, not the list: 60,000 exclusions were 14 s compared pairwise.
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for item in items {
        let id = match item {
            Node::Str(s) => s.clone(),
            // An unquoted id reads as a number in YAML.
            Node::Int(i) => i.to_string(),
            other => {
                errors.add(
                    loc,
                    field,
                    format!("account ids are strings, found {}", other.kind()),
                );
                continue;
            }
        };
        if !is_issued_account_id(&id) {
            errors.add(
                loc,
                field,
                format!("account id '{id}' must be exactly 12 digits"),
            );
        } else if !seen.insert(id.clone()) {
            errors.add(loc, field, format!("account {id} given more than once"));
        } else {
            out.push(id);
        }
    }
    out
}

/// `ou-` then 4-32 lowercase letters or digits, `-`, then 8-32 (AWS Organizations' pattern).
pub fn is_ou_id(id: &str) -> bool {
    let part = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    };
    let Some(rest) = id.strip_prefix("ou-") else {
        return false;
    };
    match rest.split_once('-') {
        Some((root, ou)) => part(root, 4, 32) && part(ou, 8, 32),
        None => false,
    }
}

/// A non-empty list of Regions of `partition`, each once.
/// A set's (or a scope's) Regions, each checked against `partition` (`None`: alone, the
/// partition being in error itself).
pub(crate) fn parse_regions(
    node: Option<&Node>,
    partition: Option<&str>,
    loc: &str,
    errors: &mut Errors,
) -> Vec<String> {
    let Some(node) = node else {
        errors.add(loc, "regions", "required: the Regions the vaults are in");
        return Vec::new();
    };
    let Node::Seq(items) = node else {
        errors.add(
            loc,
            "regions",
            format!("must be a list of Regions, found {}", node.kind()),
        );
        return Vec::new();
    };
    if items.is_empty() {
        errors.add(loc, "regions", "must not be empty");
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let Some(region) = text(item, loc, "regions", errors) else {
            continue;
        };
        let problem = match partition {
            Some(partition) => vaults::region_problem_in(region, partition),
            None => crate::regions::region_problem(region),
        };
        if let Some(problem) = problem {
            errors.add(loc, "regions", problem);
        } else if out.iter().any(|r| r == region) {
            errors.add(loc, "regions", format!("'{region}' given more than once"));
        } else {
            out.push(region.to_string());
        }
    }
    out
}

/// The same accounts, whatever order they are listed in.
fn same_accounts(a: Option<&AccountScope>, b: Option<&AccountScope>) -> bool {
    let sorted = |s: Option<&AccountScope>| match s {
        Some(AccountScope::Accounts(l)) => Some(AccountScope::Accounts(sorted_list(l))),
        Some(AccountScope::OrganizationalUnits(l)) => {
            Some(AccountScope::OrganizationalUnits(sorted_list(l)))
        }
        other => other.cloned(),
    };
    sorted(a) == sorted(b)
}

fn sorted_list(list: &[String]) -> Vec<String> {
    let mut out = list.to_vec();
    out.sort();
    out
}

/// A set of listed accounts whose every member vault is one the policy names already (a member
/// that is another entry's vault is that entry's, with no routes of its own): the set has no
/// members, and its routes would copy nothing. (An OU's members are known only when expanded.)
pub(super) fn check_own_members(
    alias: &str,
    set: &SetDraft,
    named: &BTreeMap<VaultArn, String>,
    errors: &mut Errors,
) {
    let Some(AccountScope::Accounts(listed)) = &set.accounts else {
        return;
    };
    let accounts: Vec<&String> = listed
        .iter()
        .filter(|a| !set.exclude_accounts.contains(*a))
        .collect();
    let mut members = accounts.iter().flat_map(|account| {
        set.regions.iter().map(move |region| VaultArn {
            partition: set.partition.clone(),
            region: region.clone(),
            account: account.to_string(),
            name: set.name.clone(),
        })
    });
    let Some(first) = members.next() else {
        return; // none left after the exclusions: said where they are read
    };
    let Some(other) = named.get(&first) else {
        return;
    };
    if members.all(|m| named.contains_key(&m)) {
        errors.add(
            &format!("vault '{alias}'"),
            "accounts",
            format!("every member of the set is a vault the policy names already (e.g. '{other}'): the set has no members of its own, and its routes would copy nothing"),
        );
    }
}

/// Two sets that name one vault in one Region for an account both certainly cover: the member
/// vault is the first set's, and the second's routes would copy nothing from it, silently.
/// Refused, once a pair. Linear in the accounts and OUs listed (a policy of thousands of sets
/// stays fast). Overlaps only Organizations can show (an OU nested in another, an OU's accounts
/// in a list or in the organisation) are left to the expansion: the first set keeps the member.
pub(super) fn check_overlapping_sets<'a>(
    sets: impl Iterator<Item = (&'a str, &'a SetDraft)>,
    errors: &mut Errors,
) {
    let mut claims: HashMap<(&str, &str, &str), Claims> = HashMap::new();
    let mut said: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (alias, set) in sets {
        let Some(scope) = &set.accounts else { continue };
        for region in &set.regions {
            let key = (set.name.as_str(), set.partition.as_str(), region.as_str());
            let overlaps = claims.entry(key).or_default().claim(alias, set, scope);
            for (first, whom) in overlaps {
                if said.insert((first, alias)) {
                    errors.add(
                        &format!("vault '{alias}'"),
                        "name",
                        format!("set '{first}' names vault '{}' in {region} for {whom} too: a member vault belongs to one set, and this set's routes would copy nothing from it; exclude the accounts from one of them (exclude_accounts)", set.name),
                    );
                }
            }
        }
    }
}

/// Which set holds each member vault of one name in one Region, as far as the policy alone says.
#[derive(Default)]
struct Claims<'a> {
    /// The first set of the whole organisation, and the accounts it excludes.
    organization: Option<(&'a str, &'a BTreeSet<String>)>,
    ous: HashMap<&'a str, &'a str>,
    accounts: BTreeMap<&'a str, &'a str>,
}

impl<'a> Claims<'a> {
    /// Claim `set`'s members for `alias`: the earlier sets it certainly shares one with, and
    /// whom (for the message).
    fn claim(
        &mut self,
        alias: &'a str,
        set: &'a SetDraft,
        scope: &'a AccountScope,
    ) -> Vec<(&'a str, String)> {
        let mut overlaps = Vec::new();
        match scope {
            AccountScope::Organization => {
                if let Some((first, _)) = self.organization {
                    overlaps.push((first, "every account of the organisation".to_string()));
                } else {
                    let listed = self
                        .accounts
                        .iter()
                        .find(|(a, _)| !set.exclude_accounts.contains(**a));
                    if let Some((account, first)) = listed {
                        overlaps.push((*first, format!("account {account}")));
                    }
                    self.organization = Some((alias, &set.exclude_accounts));
                }
            }
            AccountScope::OrganizationalUnits(ous) => {
                for ou in ous {
                    match self.ous.get(ou.as_str()) {
                        Some(first) => overlaps.push((*first, format!("OU {ou}"))),
                        None => {
                            self.ous.insert(ou, alias);
                        }
                    }
                }
            }
            AccountScope::Accounts(listed) => {
                for account in listed.iter().filter(|a| !set.exclude_accounts.contains(*a)) {
                    let by_organization = self
                        .organization
                        .filter(|(_, excluded)| !excluded.contains(account))
                        .map(|(first, _)| first);
                    let first = self.accounts.get(account.as_str()).copied();
                    match first.or(by_organization) {
                        Some(first) => overlaps.push((first, format!("account {account}"))),
                        None => {
                            self.accounts.insert(account, alias);
                        }
                    }
                }
            }
        }
        overlaps
    }
}

/// The rules a route with a set at either end must also keep.
pub(super) fn check_set_route(
    loc: &str,
    src: (&str, Option<&SetDraft>),
    dst: (&str, Option<&SetDraft>),
    fixed_role_account: Option<&str>,
    role_partition: Option<&str>,
    errors: &mut Errors,
) {
    let ((from, src_set), (to, dst_set)) = (src, dst);
    match (src_set, dst_set) {
        (None, Some(_)) => errors.add(
            loc,
            "to",
            format!("'{to}' is a vault set: a route from one vault into a set is refused (which member would it copy into?)"),
        ),
        (Some(s), Some(d)) => {
            if !same_accounts(s.accounts.as_ref(), d.accounts.as_ref())
                || s.exclude_accounts != d.exclude_accounts
            {
                errors.add(
                    loc,
                    "to",
                    format!("sets '{from}' and '{to}' cover different accounts: a set -> set route pairs each account with itself, so both need the same accounts and exclude_accounts"),
                );
            }
            // No Regions at all is said where the set is read.
            if d.regions.len() > 1 {
                errors.add(
                    loc,
                    "to",
                    format!("set '{to}' has {} Regions: the destination of a set -> set route has exactly one", d.regions.len()),
                );
            }
            if s.name == d.name && d.regions.iter().any(|r| s.regions.contains(r)) {
                errors.add(
                    loc,
                    "to",
                    format!("sets '{from}' and '{to}' name the same vault '{}' in a Region of both: a member would copy into itself", d.name),
                );
            }
        }
        _ => {}
    }
    if let (Some(partition), Some(s)) = (role_partition, src_set) {
        if partition != s.partition {
            errors.add(
                loc,
                "copy_role",
                format!(
                    "the role is in partition '{partition}' but set '{from}''s vaults are in '{}'",
                    s.partition
                ),
            );
        }
    }
    if let (Some(account), Some(_)) = (fixed_role_account, src_set) {
        errors.add(
            loc,
            "copy_role",
            format!("the role is in account {account}, but set '{from}''s members copy from their own accounts: write {ACCOUNT_PLACEHOLDER} for the account"),
        );
    }
}

#[cfg(test)]
mod tests;
