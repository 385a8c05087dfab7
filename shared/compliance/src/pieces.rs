//! The report of an organisation in pieces, one per account and Region, so that no invocation
//! holds more than its piece and none runs longer than its piece takes:
//!
//! 1. **start** reads the ledger once and lists the pieces (`pieces.json`);
//! 2. **inventory**, per piece: the site's tables, plans and vaults (`sites/A/R.json`), and its
//!    vaults' recovery points, sent to the folder of the account and Region of the table each is
//!    of (`points/HOME/SOURCE-00000.json`, one object per home and source); past
//!    [`FLUSH_POINTS`] held, points go to the function's local disk first: a bunker of a million
//!    points is never held at once, and is a few thousand objects, not one per home and flush;
//! 3. **evaluate**, per piece: its tables with every point of them, from every vault, and the
//!    gaps of the sites their vaults are in (`parts/A/R.json`). The copies' tags are read here,
//!    each by its table's home piece: a vault of the whole organisation's copies would be
//!    hundreds of thousands of ListTags for its one inventory piece;
//! 4. **merge**: the parts, in order, into the report a single run gives (`take_inventory` then
//!    [`crate::evaluate`]): the same resources, summary and gaps. It holds every table's verdict
//!    and evidence, never a recovery point.
//!
//! A piece that fails for good leaves its file missing, and what needed it says so: a gap in the
//! report, never a guess, and never the other pieces held up. A retried piece writes the same keys
//! again; a point seen twice (a retry listing more than the first try) counts once.

mod parts;
mod spill;

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Serialize};

use relay_core::arn::Location;
use relay_core::ports::{BackupPort, CopyTagPort, LedgerPort, PortError, RestoreEvidence};
use relay_core::Policy;

use crate::inventory::{self, site_facts, GapKind, Inventory, InventoryGap, InventoryPort};
use crate::tables::{MergedReport, MergedTables, SpoolError};
use crate::tag_sample::{self, is_judged_copy, TagSample};
use crate::{evaluate, Report, ReportSummary, SCHEMA};
use relay_core::arn::site_key;

pub use crate::inventory::{read_ledger, LedgerFacts};
pub use parts::{
    DirParts, MemoryParts, Part, PartStore, PieceRef, RunRef, Shard, Site, RUNS_PREFIX,
};

/// Recovery points an inventory piece holds in memory before it spills them to local disk.
pub const FLUSH_POINTS: usize = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum PieceError {
    #[error("cannot write {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("cannot read {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: PortError,
    },
    #[error("{key} is not a file of this run: {source}")]
    Corrupt {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot render {key}: {source}")]
    Render {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{key} is missing: the run's start did not finish")]
    NotStarted { key: String },
    /// The function's local disk (points held beyond memory) failed.
    #[error("cannot spill recovery points to {path}: {source}")]
    Spill {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The merge's tables could not be spooled to local disk, or read back.
    #[error(transparent)]
    Tables(#[from] SpoolError),
}

impl PieceError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Write { .. } => "PartWriteFailed",
            Self::Read { .. } => "PartReadFailed",
            Self::Corrupt { .. } => "PartCorrupt",
            Self::Render { .. } => "RenderFailed",
            Self::NotStarted { .. } => "RunNotStarted",
            Self::Spill { .. } | Self::Tables(_) => "SpillFailed",
        }
    }

    /// Worth running the piece again: the store failed for a while.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Write { source, .. } | Self::Read { source, .. } => source.kind.is_transient(),
            _ => false,
        }
    }
}

/// A started run: where its pieces are listed, and how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Started {
    pub run: RunRef,
    pub pieces_key: String,
    pub pieces: usize,
}

/// What an inventory piece read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InventoryDone {
    pub tables: usize,
    pub points: u64,
    pub shards: u32,
    pub gaps: usize,
}

/// What an evaluation piece found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EvaluateDone {
    pub tables: usize,
    pub points: usize,
    pub non_compliant: usize,
}

async fn put_json<S: PartStore, T: Serialize>(
    parts: &S,
    key: &str,
    value: &T,
) -> Result<(), PieceError> {
    let body = serde_json::to_string(value).map_err(|source| PieceError::Render {
        key: key.to_string(),
        source,
    })?;
    parts
        .put_part(key, &body)
        .await
        .map_err(|source| PieceError::Write {
            key: key.to_string(),
            source,
        })
}

async fn get_json<S: PartStore, T: DeserializeOwned>(
    parts: &S,
    key: &str,
) -> Result<Option<T>, PieceError> {
    parse_json(key, parts.get_part(key).await)
}

/// A part as read: its value, `None` when there is none, or why it could not be had.
fn parse_json<T: DeserializeOwned>(
    key: &str,
    read: relay_core::ports::PortResult<Option<String>>,
) -> Result<Option<T>, PieceError> {
    let Some(body) = read.map_err(|source| PieceError::Read {
        key: key.to_string(),
        source,
    })?
    else {
        return Ok(None);
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|source| PieceError::Corrupt {
            key: key.to_string(),
            source,
        })
}

/// The run's start: the ledger read once, then the pieces listed (last: a start that fails
/// half-way lists none, and is run again whole).
pub async fn start<L, S>(
    policy: &Policy,
    ledger: &L,
    parts: &S,
    at: DateTime<Utc>,
) -> Result<Started, PieceError>
where
    L: LedgerPort + RestoreEvidence,
    S: PartStore,
{
    let run = RunRef::at(at);
    put_json(parts, &run.ledger_key(), &read_ledger(ledger).await).await?;
    let pieces: Vec<PieceRef> = inventory::locations(policy)
        .into_iter()
        .map(|l| PieceRef {
            run: run.clone(),
            account: l.account,
            region: l.region,
            tag_reads_per_site: policy.compliance.tag_reads_per_site,
        })
        .collect();
    let pieces_key = run.pieces_key();
    put_json(parts, &pieces_key, &pieces).await?;
    Ok(Started {
        run,
        pieces_key,
        pieces: pieces.len(),
    })
}

const UNFINISHED: &str = "its piece of the report run did not finish";

/// A site that no file says was read: its piece failed (or has not run).
fn unfinished(at: &Location, phase: &str) -> InventoryGap {
    InventoryGap {
        account: at.account.clone(),
        region: at.region.clone(),
        what: format!("the {phase} of this account and Region"),
        error: UNFINISHED.to_string(),
        kind: GapKind::BackupVaults,
        vault: None,
    }
}

/// What an inventory piece holds and how it lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Points held in memory before they spill to local disk.
    pub flush_points: usize,
    /// A vault holding more points than this is listed in creation-date ranges at once.
    pub range_points: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            flush_points: FLUSH_POINTS,
            range_points: inventory::listing::RANGE_POINTS,
        }
    }
}

/// One account and Region read: its site file, and its vaults' points to their tables' homes.
/// The site file is written last: its presence says the piece finished.
pub async fn inventory_piece<P, S>(
    ports: &P,
    parts: &S,
    piece: &PieceRef,
    limits: Limits,
) -> Result<InventoryDone, PieceError>
where
    P: InventoryPort + BackupPort,
    S: PartStore,
{
    let here = piece.location();
    let site = site_facts(ports, &here).await;
    let mut shards = spill::ShardWriter::new(&piece.run, &here, &site.vaults, limits.flush_points);
    let mut gaps = site.gaps;
    let mut held = crate::report_cost::CostFacts::default();
    let mut judged_copies = 0_u64;
    let at = piece.run.at;
    for vault in &site.vaults {
        let taken = inventory::listing::list_vault(ports, vault, at, limits.range_points, |page| {
            held.add_held(&page, Some(at));
            judged_copies += page.iter().filter(|p| is_judged_copy(p, at)).count() as u64;
            shards.add(page)
        });
        gaps.extend(taken.await?);
    }
    let (points, written) = shards.finish(parts).await?;
    let done = InventoryDone {
        tables: site.tables.len(),
        points,
        shards: written,
        gaps: gaps.len(),
    };
    let site = Site {
        tables: site.tables,
        regions: site.regions,
        plans: site.plans,
        vaults: site.vaults,
        gaps,
        held: held.held,
        holding: held.holding,
        tag_sample_shift: tag_sample::shift_for(judged_copies, piece.tag_reads_per_site),
    };
    put_json(parts, &piece.run.site_key(&here), &site).await?;
    Ok(done)
}

/// What the ledger held when the run started, as its first step wrote it.
async fn ledger_facts<S: PartStore>(parts: &S, run: &RunRef) -> Result<LedgerFacts, PieceError> {
    let key = run.ledger_key();
    get_json(parts, &key)
        .await?
        .ok_or(PieceError::NotStarted { key })
}

/// One account and Region's tables evaluated, with every point of them from every vault and the
/// gaps of every site their vaults are in: the same verdicts the single run gives them.
pub async fn evaluate_piece<P: CopyTagPort, S: PartStore>(
    ports: &P,
    policy: &Policy,
    parts: &S,
    piece: &PieceRef,
    policy_digest: &str,
) -> Result<EvaluateDone, PieceError> {
    let (home, run) = (piece.location(), &piece.run);
    let ledger = ledger_facts(parts, run).await?;
    let mut inv = Inventory {
        taken_at: Some(run.at),
        incidents: ledger.incidents,
        restore_tests: ledger.restore_tests,
        ..Inventory::default()
    };
    let (mut own_held, mut own_holding) = Default::default();
    let mut sample = TagSample::default();
    let mut own_gaps = match get_json::<_, Site>(parts, &run.site_key(&home)).await? {
        Some(site) => {
            sample.set(site_key(&home.account, &home.region), site.tag_sample_shift);
            (inv.tables, inv.regions) = (site.tables, site.regions);
            (inv.plans, inv.vaults) = (site.plans, site.vaults);
            own_held = site.held;
            own_holding = site.holding;
            site.gaps
        }
        None => vec![unfinished(&home, "inventory")],
    };
    let shards = list_shards(parts, run, &home).await?;
    let mut others = crate::controls::vault_locations(policy, &inv, run.at);
    others.extend(shards.iter().map(|(source, _)| source.clone()));
    let mut finished = BTreeSet::new();
    if own_gaps.iter().all(|g| g.error != UNFINISHED) {
        finished.insert(home.clone());
    }
    let mut gaps = own_gaps.clone();
    let others = others.into_iter().filter(|at| *at != home);
    let read = (&mut sample, &mut gaps, &mut finished);
    read_other_sites(parts, run, others, read).await?;
    // A source that did not finish may have written some of its points: none are read, and
    // its gap says why.
    let keys = shards
        .into_iter()
        .filter(|(source, _)| finished.contains(source));
    read_shards(parts, keys.map(|(_, key)| key), &mut inv).await?;
    // Each copy's tags are read by its table's home piece: a bunker of the whole organisation's
    // copies is read by thousands of pieces, each its own tables' few, not by one.
    let (points, sites_at_once) = (&mut inv.points, inventory::TAG_SITES_AT_ONCE);
    let tag_gaps =
        inventory::read_copy_tags(ports, policy, points, run.at, &sample, sites_at_once).await;
    inv.tag_sample = sample;
    own_gaps.extend(tag_gaps.iter().cloned());
    gaps.extend(tag_gaps);
    gaps.extend(ledger.gaps);
    inv.gaps = gaps;
    let report = evaluate(policy, &inv, run.at, policy_digest);
    let done = EvaluateDone {
        tables: report.resources.len(),
        points: inv.points.len(),
        non_compliant: report.summary.non_compliant as usize,
    };
    let part = Part {
        resources: report.resources,
        gaps: own_gaps,
        // The points went to their tables' homes; what the vaults hold is the home site's own.
        cost_facts: crate::report_cost::CostFacts {
            held: own_held,
            holding: own_holding,
            ..crate::report_cost::CostFacts::of(&inv)
        },
    };
    put_json(parts, &run.part_key(&home), &part).await?;
    Ok(done)
}

/// The other sites a home's points are in: each one's gaps and tag sample, and that it finished
/// (or its gap that it did not).
async fn read_other_sites<S: PartStore>(
    parts: &S,
    run: &RunRef,
    others: impl Iterator<Item = Location>,
    (sample, gaps, finished): (
        &mut TagSample,
        &mut Vec<InventoryGap>,
        &mut BTreeSet<Location>,
    ),
) -> Result<(), PieceError> {
    for at in others {
        match get_json::<_, Site>(parts, &run.site_key(&at)).await? {
            Some(site) => {
                sample.set(site_key(&at.account, &at.region), site.tag_sample_shift);
                gaps.extend(site.gaps);
                finished.insert(at);
            }
            None => gaps.push(unfinished(&at, "inventory")),
        }
    }
    Ok(())
}

/// Every shard of `home`'s tables, with the account and Region each came from, in the order a
/// single run lists them (source by source, page by page).
async fn list_shards<S: PartStore>(
    parts: &S,
    run: &RunRef,
    home: &Location,
) -> Result<Vec<(Location, String)>, PieceError> {
    let prefix = run.points_prefix(home);
    let keys = parts
        .list_parts(&prefix)
        .await
        .map_err(|source| PieceError::Read {
            key: prefix.clone(),
            source,
        })?;
    Ok(keys
        .into_iter()
        .filter_map(|key| shard_source(&prefix, &key).map(|source| (source, key)))
        .collect())
}

/// `PREFIX` `ACCOUNT-REGION-NNNNN.json` -> the account and Region.
fn shard_source(prefix: &str, key: &str) -> Option<Location> {
    let name = key.strip_prefix(prefix)?.strip_suffix(".json")?;
    let (source, _seq) = name.rsplit_once('-')?;
    let (account, region) = source.split_once('-')?;
    Some(Location {
        partition: relay_core::arn::partition_of_region(region).to_string(),
        account: account.to_string(),
        region: region.to_string(),
    })
}

/// The shards' points, each once (a retried source may have written one twice), and the
/// facts of the vaults holding them.
async fn read_shards<S: PartStore>(
    parts: &S,
    keys: impl Iterator<Item = String>,
    inv: &mut Inventory,
) -> Result<(), PieceError> {
    let mut seen_points: HashSet<String> = HashSet::new();
    let mut seen_vaults: HashSet<String> = inv.vaults.iter().map(|v| v.arn.to_string()).collect();
    for key in keys {
        let Some(shard) = get_json::<_, Shard>(parts, &key).await? else {
            continue;
        };
        for v in shard.vaults {
            if seen_vaults.insert(v.arn.to_string()) {
                inv.vaults.push(v);
            }
        }
        for p in shard.points {
            if seen_points.insert(p.recovery_point_arn.clone()) {
                inv.points.push(p);
            }
        }
    }
    Ok(())
}

/// Evaluation parts the merge reads at once: a window of GetObjects in flight (S3 serves
/// thousands a second under one prefix), folded in the pieces' order before the next is read, so
/// the merge waits one read per window and holds a window of bodies, not every part. At 40 ms a
/// read, 5,000 pieces read one by one took the merge 3.3 minutes.
pub const MERGE_READS_AT_ONCE: usize = 16;

/// The parts, in the pieces' order, as one report: its tables spooled to local disk as each
/// part is read, so the merge holds a window of parts, the verdicts, and never every table.
pub async fn merge<S: PartStore>(
    policy: &Policy,
    parts: &S,
    run: &RunRef,
    policy_digest: &str,
) -> Result<MergedReport, PieceError> {
    let pieces_key = run.pieces_key();
    let pieces: Vec<PieceRef> = get_json(parts, &pieces_key)
        .await?
        .ok_or(PieceError::NotStarted { key: pieces_key })?;
    let ledger = ledger_facts(parts, run).await?;
    let mut tables = MergedTables::new()?;
    let mut gaps = Vec::new();
    let mut cost_facts = crate::report_cost::CostFacts::default();
    for window in pieces.chunks(MERGE_READS_AT_ONCE) {
        let keys: Vec<String> = window.iter().map(|p| run.part_key(&p.location())).collect();
        let read = parts.get_parts(&keys).await;
        if read.len() != keys.len() {
            return Err(PieceError::Read {
                key: keys.first().cloned().unwrap_or_default(),
                source: PortError::new(
                    relay_core::ports::ErrorKind::Permanent,
                    "GetObject",
                    None,
                    format!("{} answers to {} reads", read.len(), keys.len()),
                ),
            });
        }
        for ((piece, key), body) in window.iter().zip(&keys).zip(read) {
            match parse_json::<Part>(key, body)? {
                Some(part) => {
                    for r in &part.resources {
                        tables.push(r)?;
                    }
                    gaps.extend(part.gaps);
                    cost_facts.absorb(part.cost_facts);
                }
                None => gaps.push(unfinished(&piece.location(), "evaluation")),
            }
        }
    }
    let mut gaps = inventory::fold_tag_gaps(gaps);
    gaps.extend(ledger.gaps);
    Ok(tables.finish(Report {
        schema: SCHEMA.to_string(),
        generated_at: run.at,
        policy_digest: policy_digest.to_string(),
        parameters: policy.compliance.clone(),
        summary: ReportSummary::empty(),
        resources: Vec::new(),
        gaps,
        cost: crate::cost_section(policy, &cost_facts),
    })?)
}

/// A piece that failed for good: the run goes on without it, and the report says so.
#[derive(Debug)]
pub struct PieceFailure {
    pub phase: &'static str,
    pub account: String,
    pub region: String,
    pub error: PieceError,
}

/// Every phase of a run in this process, `concurrency` pieces at a time: the function invoked on
/// its own, the CLI and the tests. The same files, keys and merge as the fanned-out run.
pub async fn run_all<P, L, S>(
    ports: &P,
    ledger: &L,
    parts: &S,
    policy: &Policy,
    at: DateTime<Utc>,
    policy_digest: &str,
    concurrency: usize,
) -> Result<(MergedReport, Vec<PieceFailure>), PieceError>
where
    P: InventoryPort + BackupPort + Sync,
    L: LedgerPort + RestoreEvidence,
    S: PartStore,
{
    use futures_util::stream::{self, StreamExt};
    let started = start(policy, ledger, parts, at).await?;
    let pieces: Vec<PieceRef> = get_json(parts, &started.pieces_key)
        .await?
        .unwrap_or_default();
    let mut failures = Vec::new();
    let inventoried: Vec<_> = stream::iter(&pieces)
        .map(|p| async move { (p, inventory_piece(ports, parts, p, Limits::default()).await) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    failures.extend(failed("inventory", inventoried));
    let evaluated: Vec<_> = stream::iter(&pieces)
        .map(|p| async move {
            (
                p,
                evaluate_piece(ports, policy, parts, p, policy_digest).await,
            )
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    failures.extend(failed("evaluation", evaluated));
    let report = merge(policy, parts, &started.run, policy_digest).await?;
    Ok((report, failures))
}

fn failed<T>(
    phase: &'static str,
    results: Vec<(&PieceRef, Result<T, PieceError>)>,
) -> Vec<PieceFailure> {
    results
        .into_iter()
        .filter_map(|(p, r)| r.err().map(|e| (p, e)))
        .map(|(p, error)| {
            tracing::warn!(phase, account = %p.account, region = %p.region, error_type = error.error_type(), error = %error, "report piece failed");
            PieceFailure {
                phase,
                account: p.account.clone(),
                region: p.region.clone(),
                error,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
