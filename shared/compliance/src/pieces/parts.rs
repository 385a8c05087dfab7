//! Where a report run in pieces keeps its intermediate files: a port (S3 in `relay-aws`, memory
//! here), the keys, and the files' shapes. They live in a work bucket of their own, not beside the
//! reports: the report bucket locks every object it holds for years, and these are a day's
//! scratch (the work bucket's lifecycle expires them).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use relay_core::arn::Location;
use relay_core::guard::PointView;
use relay_core::ports::{ErrorKind, PortError, PortResult};

use crate::inventory::{InventoryGap, PlanFacts, RegionFacts, TableFacts, VaultFacts};
use crate::ResourceReport;

/// Every key of a run starts here.
pub const RUNS_PREFIX: &str = "runs/";

/// The object store of a run's parts.
pub trait PartStore: Send + Sync {
    /// The body of `key`; `None` when there is none. A body over the store's size limit is
    /// refused before it is read.
    fn get_part(&self, key: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;
    fn put_part(&self, key: &str, body: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Every key under `prefix`, in order (all pages).
    fn list_parts(&self, prefix: &str) -> impl Future<Output = PortResult<Vec<String>>> + Send;
    /// The bodies of `keys`, all in flight together, in their order: the merge reads a window of
    /// parts at once, not one GetObject after another. The simulator times them as calls in
    /// flight together.
    fn get_parts<'a>(
        &'a self,
        keys: &'a [String],
    ) -> impl Future<Output = Vec<PortResult<Option<String>>>> + Send + 'a {
        futures_util::future::join_all(keys.iter().map(|key| self.get_part(key)))
    }
}

/// A run: its id (its keys' folder) and the time every piece of it evaluates at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRef {
    pub run: String,
    pub at: DateTime<Utc>,
}

impl RunRef {
    pub fn at(at: DateTime<Utc>) -> Self {
        Self {
            run: at.format("%Y%m%dT%H%M%S%.3fZ").to_string(),
            at,
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{RUNS_PREFIX}{}/{rest}", self.run)
    }

    /// The pieces, as a JSON array (a Step Functions Distributed Map reads it as its items).
    pub fn pieces_key(&self) -> String {
        self.key("pieces.json")
    }

    pub fn ledger_key(&self) -> String {
        self.key("ledger.json")
    }

    pub fn site_key(&self, at: &Location) -> String {
        self.key(&format!("sites/{}/{}.json", at.account, at.region))
    }

    /// The folder of the recovery points of tables homed in `home`, from every vault.
    pub fn points_prefix(&self, home: &Location) -> String {
        self.key(&format!("points/{}/{}/", home.account, home.region))
    }

    /// One flush of the points of `home`'s tables found in `source`'s vaults.
    pub fn shard_key(&self, home: &Location, source: &Location, seq: u32) -> String {
        format!(
            "{}{}-{}-{seq:05}.json",
            self.points_prefix(home),
            source.account,
            source.region
        )
    }

    pub fn part_key(&self, home: &Location) -> String {
        self.key(&format!("parts/{}/{}.json", home.account, home.region))
    }
}

/// One piece of a run: an account and Region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PieceRef {
    pub run: RunRef,
    pub account: String,
    pub region: String,
    /// The policy's `compliance.tag_reads_per_site`, for the inventory piece (which reads no
    /// policy) to size its account and Region's tag sample.
    #[serde(default = "relay_core::policy::params::default_tag_reads")]
    pub tag_reads_per_site: u32,
}

impl PieceRef {
    pub fn location(&self) -> Location {
        Location {
            partition: relay_core::arn::partition_of_region(&self.region).to_string(),
            account: self.account.clone(),
            region: self.region.clone(),
        }
    }
}

/// One account and Region as read, without its recovery points (those go to the shards).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub tables: Vec<TableFacts>,
    pub regions: Vec<RegionFacts>,
    pub plans: Vec<PlanFacts>,
    pub vaults: Vec<VaultFacts>,
    pub gaps: Vec<InventoryGap>,
    /// Bytes its vaults hold, [warm, cold] per vault ARN, of every point listed (whatever
    /// table's home the point went to): the report's cost, summed exactly over the sites.
    #[serde(default)]
    pub held: BTreeMap<String, [u64; 2]>,
    /// The same by the months they go cold and are deleted in (the projection's start).
    #[serde(default)]
    pub holding: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Its copies' tags are read for one table in 2^this (`crate::tag_sample`): its vaults
    /// hold more copies to judge than a run may read here.
    #[serde(default)]
    pub tag_sample_shift: u32,
}

/// Recovery points of one home's tables from one source's vaults, with those vaults' facts
/// (lock, access policy) that the controls read beside them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub vaults: Vec<VaultFacts>,
    pub points: Vec<PointView>,
}

/// One home's evaluated tables and the gaps of its own reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub resources: Vec<ResourceReport>,
    pub gaps: Vec<InventoryGap>,
    /// What this home's points and tables cost (summed exactly at the merge).
    #[serde(default)]
    pub cost_facts: crate::report_cost::CostFacts,
}

/// Parts in memory: the simulator's, the CLI's and the tests'. Writes under a prefix named by
/// [`MemoryParts::fail_writes_under`] fail for good, as a bucket that refuses would.
#[derive(Debug, Default)]
pub struct MemoryParts {
    objects: Mutex<BTreeMap<String, String>>,
    failing: Mutex<Vec<String>>,
}

impl MemoryParts {
    pub fn fail_writes_under(&self, prefix: &str) {
        lock(&self.failing).push(prefix.to_string());
    }

    pub fn keys(&self) -> Vec<String> {
        lock(&self.objects).keys().cloned().collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere poisons nothing here: the map is consistent after every insert.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PartStore for MemoryParts {
    async fn get_part(&self, key: &str) -> PortResult<Option<String>> {
        Ok(lock(&self.objects).get(key).cloned())
    }

    async fn put_part(&self, key: &str, body: &str) -> PortResult<()> {
        if lock(&self.failing).iter().any(|p| key.starts_with(p)) {
            return Err(PortError::new(
                ErrorKind::Permanent,
                "PutObject",
                Some("AccessDenied"),
                format!("{key}: writes refused"),
            ));
        }
        lock(&self.objects).insert(key.to_string(), body.to_string());
        Ok(())
    }

    async fn list_parts(&self, prefix: &str) -> PortResult<Vec<String>> {
        Ok(lock(&self.objects)
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}

/// Parts in a local directory, a file per key: the CLI's runs in pieces, whose parts (gigabytes
/// for an organisation) then count against neither its memory nor the heap it measures of each
/// invocation, as S3's do not on AWS.
#[derive(Debug)]
pub struct DirParts {
    root: std::path::PathBuf,
}

impl DirParts {
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// A key's file: every segment a plain name (no `.`, `..`, empty segment, separator or
    /// drive), so that no key leaves the directory, and none ends in `.tmp` (a write's own).
    fn path(&self, operation: &'static str, key: &str) -> PortResult<std::path::PathBuf> {
        let plain = |s: &str| {
            let mut c = std::path::Path::new(s).components();
            matches!(
                (c.next(), c.next()),
                (Some(std::path::Component::Normal(_)), None)
            ) && !s.contains(['\\', ':'])
        };
        if !key.split('/').all(plain) || key.ends_with(".tmp") {
            return Err(dir_error(operation, key, "not a key of a run"));
        }
        Ok(key.split('/').fold(self.root.clone(), |p, s| p.join(s)))
    }

    fn keys_under(&self, dir: &std::path::Path, out: &mut Vec<String>) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_dir() {
                self.keys_under(&path, out)?;
            } else if let Ok(rel) = path.strip_prefix(&self.root) {
                let key: Vec<_> = rel.iter().map(|s| s.to_string_lossy()).collect();
                out.push(key.join("/"));
            }
        }
        Ok(())
    }
}

fn dir_error(operation: &'static str, key: &str, e: impl std::fmt::Display) -> PortError {
    PortError::new(ErrorKind::Permanent, operation, None, format!("{key}: {e}"))
}

impl PartStore for DirParts {
    async fn get_part(&self, key: &str) -> PortResult<Option<String>> {
        match std::fs::read_to_string(self.path("GetObject", key)?) {
            Ok(body) => Ok(Some(body)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(dir_error("GetObject", key, e)),
        }
    }

    /// Written whole to a temporary name and renamed, as S3 shows an object whole or not at all.
    async fn put_part(&self, key: &str, body: &str) -> PortResult<()> {
        let path = self.path("PutObject", key)?;
        let mut tmp = path.clone().into_os_string();
        tmp.push(".tmp");
        path.parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| std::fs::write(&tmp, body))
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| dir_error("PutObject", key, e))
    }

    async fn list_parts(&self, prefix: &str) -> PortResult<Vec<String>> {
        // The deepest directory the prefix names, walked whole, its keys filtered.
        let dir = prefix.rsplit_once('/').map_or("", |(d, _)| d);
        let start = if dir.is_empty() {
            self.root.clone()
        } else {
            self.path("ListObjectsV2", dir)?
        };
        let mut keys = Vec::new();
        match self.keys_under(&start, &mut keys) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(dir_error("ListObjectsV2", prefix, e)),
        }
        keys.retain(|k| k.starts_with(prefix) && !k.ends_with(".tmp"));
        keys.sort();
        Ok(keys)
    }
}
