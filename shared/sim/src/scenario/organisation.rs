//! The organisation a run simulates: its tables and backup plans from the policy (or a world
//! file), and the simulated AWS set up as the world file describes it.

use super::*;
use relay_core::copy_tags::desired_tags;
use relay_core::policy::{Route, Vault};
use relay_core::world_file::VaultSpec;

/// A backup plan as the simulation runs it.
#[derive(Debug, Clone)]
pub(super) struct BackupPlan {
    pub(super) vault: VaultArn,
    pub(super) every: Duration,
    pub(super) lifecycle: Lifecycle,
    pub(super) select_tags: Tags,
    /// Its copy action (lifecycle "never"), when it has one.
    pub(super) copy_to: Option<VaultArn>,
}

impl BackupPlan {
    /// The plan as ListBackupPlans / GetBackupPlan / GetBackupSelection describe it.
    pub(super) fn facts(&self, index: usize) -> PlanFacts {
        PlanFacts {
            account: self.vault.account.clone(),
            region: self.vault.region.clone(),
            name: format!("relay-sim-plan-{index}-{}", self.vault.name),
            vault_arn: self.vault.to_string(),
            every_hours: u32::try_from(self.every.num_hours()).ok(),
            delete_after_days: self.lifecycle.delete_after_days,
            select_tags: self.select_tags.clone(),
            select_resources: Vec::new(),
        }
    }
}

/// Backups to come, by completion time: (table index, plan index, job duration).
pub(crate) struct BackupQueue {
    due: BTreeMap<(DateTime<Utc>, u64), (usize, usize, Duration)>,
    seq: u64,
}

impl BackupQueue {
    pub(super) fn new() -> Self {
        Self {
            due: BTreeMap::new(),
            seq: 0,
        }
    }

    pub(crate) fn push(&mut self, at: DateTime<Utc>, backup: (usize, usize, Duration)) {
        self.seq += 1;
        self.due.insert((at, self.seq), backup);
    }

    #[allow(clippy::type_complexity)]
    pub(crate) fn pop_due(
        &mut self,
        t: DateTime<Utc>,
    ) -> Option<((DateTime<Utc>, u64), (usize, usize, Duration))> {
        let first = self.due.first_key_value().map(|(k, _)| *k)?;
        if first.0 > t {
            return None;
        }
        self.due.remove(&first).map(|b| (first, b))
    }
}

/// One plan per root vault, daily, every table of its account and Region, with the options'
/// lifecycle (and, with `plan_copy_actions`, a copy action into the first never_expire vault).
pub(super) fn default_plans(policy: &Policy, options: &SimOptions) -> Vec<BackupPlan> {
    let first_never_expire = || {
        policy
            .vaults
            .iter()
            .find(|v| matches!(v.retention, Some(Retention::NeverExpire { .. })))
    };
    let copy_to = match &options.plan_copy_to {
        Some(alias) => policy.vault(alias),
        None => options.plan_copy_actions.then(first_never_expire).flatten(),
    }
    .map(|v| v.arn.clone());
    policy
        .root_vaults()
        .iter()
        .map(|root| BackupPlan {
            vault: root.arn.clone(),
            every: Duration::hours(24),
            lifecycle: options.backup_plan_lifecycle,
            select_tags: Tags::new(),
            copy_to: copy_to.clone(),
        })
        .collect()
}

/// The plans of a world file's spec: one per member vault when it names a set.
pub(super) fn plan_from_spec(policy: &Policy, spec: &BackupPlanSpec) -> Vec<BackupPlan> {
    let copy_to = spec
        .copy_to
        .as_deref()
        .and_then(|alias| policy.vault(alias))
        .map(|v| v.arn.clone());
    policy
        .vaults
        .iter()
        .filter(|v| v.alias == spec.vault || v.member_of.as_deref() == Some(spec.vault.as_str()))
        .map(|v| BackupPlan {
            vault: v.arn.clone(),
            every: Duration::hours(i64::from(spec.every_hours)),
            lifecycle: Lifecycle {
                delete_after_days: Some(spec.delete_after_days),
                move_to_cold_storage_after_days: None,
            },
            select_tags: spec.select_tags.clone(),
            copy_to: copy_to.clone(),
        })
        .collect()
}

/// The backup plans of the policy in force: the world file's, else one per root vault.
pub(super) fn plans_for(
    policy: &Policy,
    spec: Option<&WorldFile>,
    options: &SimOptions,
) -> Vec<BackupPlan> {
    match spec.and_then(|s| s.backup_plans.as_ref()) {
        Some(plans) => plans
            .iter()
            .flat_map(|p| plan_from_spec(policy, p))
            .collect(),
        None => default_plans(policy, options),
    }
}

/// The organisation's tables: the world file's (and those it generates), else `tables` in each
/// root vault's account and Region of `policy` (every member's, late joiners included).
pub(super) fn tables_of(spec: Option<&WorldFile>, policy: &Policy, tables: u32) -> Vec<SimTable> {
    match (
        spec.and_then(|s| s.tables.as_ref()),
        spec.and_then(|s| s.generate.as_ref()),
    ) {
        (Some(listed), g) => listed
            .iter()
            .chain(g.map(|g| g.tables()).iter().flatten())
            .map(sim_table)
            .collect(),
        (None, Some(g)) => g.tables().iter().map(sim_table).collect(),
        (None, None) => generated_tables(policy, tables),
    }
}

/// In each root vault's account and Region, `tables` tables; three in four carry every tag the
/// routes out of it select on.
fn generated_tables(policy: &Policy, tables: u32) -> Vec<SimTable> {
    let mut out = Vec::new();
    for root in policy.root_vaults() {
        let selected: BTreeMap<String, String> = policy
            .routes_from(&root.alias)
            .flat_map(|r| r.select.tags.clone())
            .collect();
        for i in 0..tables {
            let mut tags = BTreeMap::from([("team".to_string(), format!("team-{}", i % 3))]);
            if i % 4 != 3 {
                tags.extend(selected.clone());
            }
            out.push(SimTable::new(
                TableArn {
                    partition: root.arn.partition.clone(),
                    region: root.arn.region.clone(),
                    account: root.arn.account.clone(),
                    table: format!("{}-table-{i:03}", table_prefix(root)),
                },
                tags,
            ));
        }
    }
    out
}

/// A generated table's name begins with its root vault's alias, or its set's: a member's alias
/// (`primary[111111111111/us-east-1]`) holds characters no table name may (DynamoDB allows
/// letters, digits, `_`, `-` and `.`), and its account and Region are in the table's ARN already.
fn table_prefix(root: &Vault) -> String {
    let alias = root.member_of.as_deref().unwrap_or(&root.alias);
    alias
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '_' | '-' | '.' => c,
            _ => '-',
        })
        .collect()
}

fn sim_table(t: &TableSpec) -> SimTable {
    SimTable {
        arn: t.arn(),
        tags: t.tags.clone(),
        size_gb: t.size_gb,
        pitr: t.pitr,
        native_backups: t.native_backups,
        ttl_attribute: None,
        stream_view_type: None,
        deletion_protection: false,
    }
}

/// The simulated AWS as the world file describes it: which vaults exist, their locks, access
/// policies and keys; the organisation; missing roles; Regions without advanced features.
pub(super) fn world_from_spec(
    world: &mut World,
    policy: &Policy,
    spec: &WorldFile,
    members: &BTreeSet<String>,
) {
    for v in &policy.vaults {
        if vault_spec(spec, v).is_none_or(|s| s.exists) {
            world.add_vault(v.arn.clone());
        }
    }
    world.copy_concurrency = u64::from(spec.organization.concurrent_copy_jobs);
    // Members as the world file states them (its vaults' accounts may be outside).
    if spec.organization.members.is_some() || spec.generate.is_some() {
        world.organization = members.clone();
    }
    for v in &policy.vaults {
        apply_vault_spec(world, v, spec);
    }
    for (account, a) in &spec.accounts {
        if !a.executor_role {
            world.faults.deny_account.insert(account.clone());
        }
        if !a.copy_role {
            world.copy_role_missing.insert(account.clone());
        }
    }
    world.cross_account_backup_disabled = !spec.organization.cross_account_backup;
    world.native_regions = spec
        .regions
        .iter()
        .filter(|(_, r)| !r.advanced_features)
        .map(|(k, _)| k.clone())
        .collect();
    world.unforwarded = spec
        .regions
        .iter()
        .filter(|(_, r)| !r.event_forwarding)
        .map(|(k, _)| k.clone())
        .collect();
}

/// The world file's word on a vault: its own alias's, or its set's for a member.
pub(super) fn vault_spec<'a>(spec: &'a WorldFile, v: &Vault) -> Option<&'a VaultSpec> {
    spec.vaults
        .get(&v.alias)
        .or_else(|| v.member_of.as_ref().and_then(|set| spec.vaults.get(set)))
}

/// A vault's lock, access policy, key and deletion guard as the world file describes them.
fn apply_vault_spec(world: &mut World, v: &Vault, spec: &WorldFile) {
    let (Some(vs), Some(sim)) = (vault_spec(spec, v), world.vaults.get_mut(&v.arn)) else {
        return;
    };
    sim.lock = vs.lock;
    sim.allow_copy_from = match &vs.access_policy_allows_copy_from {
        Principals::Organization => None,
        Principals::Accounts(a) => Some(a.clone()),
    };
    // The organisation's members are the only accounts that copy here: unrestricted reads the same.
    sim.kms_shared_with = match &vs.kms_key_shared_with {
        Principals::Organization => None,
        Principals::Accounts(a) => Some(a.clone()),
    };
    sim.deny_manual_deletion = vs.deny_manual_deletion;
}

/// The points a world file says a vault holds before the run: one copy per table per day going
/// back from the day before the start, the tables in turn, kept as the vault's retention says
/// (a never_expire vault's for 100 years). In a vault some route copies into they are copies:
/// they name that route's source vault (of the table's account and Region where a set fans in)
/// and carry the tags the product would have put on them, their originals long expired. In a
/// vault no route reaches they are a plan's own backups, of the tables of the vault's own account
/// and Region (a plan backs up nothing else).
pub(crate) fn hold_points(world: &mut World, policy: &Policy, spec: &WorldFile) -> Vec<HeldShort> {
    let mut short = Vec::new();
    let mut held_in = HeldIn::new(policy);
    // Originals first: a held copy of a day whose original is held too carries its lineage.
    let (roots, copies): (Vec<&Vault>, Vec<&Vault>) = policy
        .vaults
        .iter()
        .partition(|v| !policy.routes.iter().any(|r| r.to == v.alias));
    for v in roots.into_iter().chain(copies) {
        let held = vault_spec(spec, v).map_or(0, |s| s.held_points);
        if held == 0 {
            continue;
        }
        let tables = held_in.tables(world, v);
        if tables.is_empty() {
            short.push(HeldShort::of(v, held, 0, 0));
            continue;
        }
        let lifecycle = v
            .retention
            .as_ref()
            .and_then(|r| r.copy_lifecycle())
            .unwrap_or_default();
        let start = world.now;
        let mut oldest = start;
        let mut made = 0;
        for i in 0..held as usize {
            let days = 1 + i64::try_from(i / tables.len()).unwrap_or(i64::MAX);
            let Some(created) = start.checked_sub_signed(Duration::days(days)) else {
                break;
            };
            let delete_at = lifecycle
                .delete_after_days
                .and_then(|d| created.checked_add_signed(Duration::days(i64::from(d))));
            if delete_at.is_some_and(|d| d <= start) {
                break; // older copies would have expired already
            }
            oldest = oldest.min(created);
            let held = &tables[i % tables.len()];
            let arn = world.new_recovery_point_arn(&v.arn);
            let point = crate::world::SimRecoveryPoint {
                arn,
                vault: v.arn.clone(),
                resource_arn: held.table.clone(),
                creation_date: created,
                lifecycle,
                delete_at,
                source: None,
                completed_at: created + Duration::hours(1),
                status: "COMPLETED",
                source_vault: None,
            };
            match held.came_by {
                Some((route, from)) => {
                    let tags = held_in.lineage(world, held, created, &route.name());
                    world.insert_held_copy(point, from, tags);
                }
                None => world.insert_point(point),
            }
            made += 1;
        }
        if made < held {
            short.push(HeldShort::of(v, held, made, tables.len()));
        }
        if let Some(vault) = world.vaults.get_mut(&v.arn) {
            vault.created = vault.created.min(oldest);
        }
    }
    short
}

/// A vault holding fewer of a world file's `held_points` than asked: no table of the world can
/// be in it, or its retention keeps no older copies of its tables' days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldShort {
    pub vault: String,
    pub asked: u32,
    pub made: u32,
    /// The tables the held points are spread over (none: no table reaches the vault).
    pub tables: usize,
}

impl HeldShort {
    fn of(v: &Vault, asked: u32, made: u32, tables: usize) -> Self {
        Self {
            vault: v.alias.clone(),
            asked,
            made,
            tables,
        }
    }

    /// The warning a person reads.
    pub fn warning(&self) -> String {
        let why = if self.tables == 0 {
            "no table of the world is backed up or copied into it".to_string()
        } else {
            let tables = match self.tables {
                1 => "its table's days".to_string(),
                n => format!("its {n} tables' days"),
            };
            format!("its retention keeps no older copies of {tables}")
        };
        format!(
            "world: vault '{}' holds {} of the {} held_points asked: {why}",
            self.vault, self.made, self.asked
        )
    }
}

/// A table a vault holds points of, and the route its copies came by (`None`: a plan's backups).
struct HeldTable<'p> {
    table: String,
    tags: Tags,
    came_by: Option<(&'p Route, &'p VaultArn)>,
}

/// Which tables a vault's held points are of, with the policy indexed once: at 1,000 accounts
/// it has 4,000 vaults and routes, and a bunker a million points.
struct HeldIn<'p> {
    policy: &'p Policy,
    by_alias: HashMap<&'p str, &'p Vault>,
    roots_at: HashMap<(&'p str, &'p str), Vec<&'p Vault>>,
    /// (root alias, table tags) -> the aliases its originals' copies reach.
    reached: HashMap<(String, Tags), BTreeSet<String>>,
}

impl<'p> HeldIn<'p> {
    fn new(policy: &'p Policy) -> Self {
        let mut roots_at: HashMap<(&str, &str), Vec<&Vault>> = HashMap::new();
        for r in policy.root_vaults() {
            let at = (r.arn.account.as_str(), r.arn.region.as_str());
            roots_at.entry(at).or_default().push(r);
        }
        Self {
            policy,
            by_alias: policy
                .vaults
                .iter()
                .map(|v| (v.alias.as_str(), v))
                .collect(),
            roots_at,
            reached: HashMap::new(),
        }
    }

    /// In a vault routes copy into: the tables whose originals' chains reach it, each with the
    /// route from its own account and Region where one comes from there, else the first. In
    /// any other vault: its own account and Region's tables.
    fn tables(&mut self, world: &World, v: &Vault) -> Vec<HeldTable<'p>> {
        let routes_in: Vec<(&'p Route, &'p VaultArn)> = self
            .policy
            .routes
            .iter()
            .filter(|r| r.to == v.alias)
            .filter_map(|r| Some((r, &self.by_alias.get(r.from.as_str())?.arn)))
            .collect();
        let mut out = Vec::new();
        for t in &world.tables {
            let home = (t.arn.account.as_str(), t.arn.region.as_str());
            let came_by = if routes_in.is_empty() {
                if home != (v.arn.account.as_str(), v.arn.region.as_str()) {
                    continue;
                }
                None
            } else {
                if !self.reaches(home, &t.tags, &v.alias) {
                    continue;
                }
                let local = routes_in
                    .iter()
                    .find(|(_, from)| (from.account.as_str(), from.region.as_str()) == home);
                local.or(routes_in.first()).copied()
            };
            let (table, tags) = (t.arn.to_string(), t.tags.clone());
            out.push(HeldTable {
                table,
                tags,
                came_by,
            });
        }
        out
    }

    /// The tags the product puts on a copy of `held` made at `created`: from its original where a
    /// root vault of the table's account and Region holds it, else from the table.
    fn lineage(
        &self,
        world: &World,
        held: &HeldTable<'_>,
        created: DateTime<Utc>,
        route: &str,
    ) -> Tags {
        let home = TableArn::parse(&held.table).ok();
        let roots = home
            .as_ref()
            .and_then(|t| self.roots_at.get(&(t.account.as_str(), t.region.as_str())));
        let original = roots
            .into_iter()
            .flatten()
            .find_map(|r| world.point_made_at(&r.arn, &held.table, created));
        let rules = &self.policy.tags;
        match original {
            Some(o) => {
                let tags = world.point_tags.get(&o.arn).cloned().unwrap_or_default();
                desired_tags(rules, &tags, Some(&o.arn), route).tags
            }
            None => desired_tags(rules, &held.tags, None, route).tags,
        }
    }

    /// Do the originals of a table at `home` with `tags` have copies in `alias`?
    fn reaches(&mut self, home: (&str, &str), tags: &Tags, alias: &str) -> bool {
        let Some(roots) = self.roots_at.get(&home) else {
            return false;
        };
        roots.iter().any(|root| {
            let key = (root.alias.clone(), tags.clone());
            let policy = self.policy;
            self.reached
                .entry(key)
                .or_insert_with(|| {
                    let reached = policy.vaults_reached(&root.alias, Some("DynamoDB"), tags);
                    reached.into_iter().map(|v| v.alias.clone()).collect()
                })
                .contains(alias)
        })
    }
}

/// A joining account's member vault, made by its spoke as the StackSet deploys it.
pub(super) fn add_member_vault(world: &mut World, v: &Vault, spec: Option<&WorldFile>) {
    if spec
        .and_then(|s| vault_spec(s, v))
        .is_some_and(|s| !s.exists)
    {
        return;
    }
    world.add_vault(v.arn.clone());
    if let Some(spec) = spec {
        apply_vault_spec(world, v, spec);
    }
}
