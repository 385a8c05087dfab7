//! An inventory piece's recovery points on their way to their tables' homes: held in memory up
//! to a limit, then appended to one local file per home (the function's ephemeral storage), and
//! at the end written as one object per home. Memory stays at the limit whatever the vault
//! holds, and a vault of a million points over four thousand homes is four thousand objects.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use relay_core::arn::{Location, TableArn, VaultArn};
use relay_core::guard::PointView;

use super::{put_json, PartStore, PieceError, RunRef, Shard};
use crate::inventory::VaultFacts;
use crate::scratch::SpillDir;

fn spill_error(path: &Path, source: std::io::Error) -> PieceError {
    PieceError::Spill {
        path: path.display().to_string(),
        source,
    }
}

pub(super) struct ShardWriter<'a> {
    run: &'a RunRef,
    source: &'a Location,
    vaults: &'a [VaultFacts],
    limit: usize,
    held: usize,
    homes: BTreeMap<Location, Vec<PointView>>,
    spilled: BTreeSet<Location>,
    dir: Option<SpillDir>,
    points: u64,
}

impl<'a> ShardWriter<'a> {
    pub(super) fn new(
        run: &'a RunRef,
        source: &'a Location,
        vaults: &'a [VaultFacts],
        limit: usize,
    ) -> Self {
        Self {
            run,
            source,
            vaults,
            limit: limit.max(1),
            held: 0,
            homes: BTreeMap::new(),
            spilled: BTreeSet::new(),
            dir: None,
            points: 0,
        }
    }

    /// Points of DynamoDB tables, to their tables' homes (the rest is not the report's); past
    /// the limit, to disk.
    pub(super) fn add(&mut self, points: Vec<PointView>) -> Result<(), PieceError> {
        for p in points {
            let home = p
                .resource_arn
                .as_deref()
                .and_then(|a| TableArn::parse(a).ok())
                .map(|t| t.location());
            if let Some(home) = home {
                self.homes.entry(home).or_default().push(p);
                self.held += 1;
                self.points += 1;
            }
        }
        if self.held >= self.limit {
            self.spill()?;
        }
        Ok(())
    }

    fn file(dir: &Path, home: &Location) -> PathBuf {
        dir.join(format!("{}-{}.jsonl", home.account, home.region))
    }

    fn spill(&mut self) -> Result<(), PieceError> {
        if self.dir.is_none() {
            self.dir =
                Some(SpillDir::new("points").map_err(|e| spill_error(&std::env::temp_dir(), e))?);
        }
        let Some(dir) = self.dir.as_ref().map(|d| d.path().to_path_buf()) else {
            return Ok(());
        };
        for (home, points) in std::mem::take(&mut self.homes) {
            let path = Self::file(&dir, &home);
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| spill_error(&path, e))?;
            let mut out = BufWriter::new(file);
            for p in &points {
                serde_json::to_writer(&mut out, p)
                    .map_err(|e| spill_error(&path, std::io::Error::other(e)))?;
                out.write_all(b"\n").map_err(|e| spill_error(&path, e))?;
            }
            out.flush().map_err(|e| spill_error(&path, e))?;
            self.spilled.insert(home);
        }
        self.held = 0;
        Ok(())
    }

    /// Every home's points as one object each (what was spilled first, in listing order): the
    /// points and the objects written.
    pub(super) async fn finish<S: PartStore>(
        mut self,
        parts: &S,
    ) -> Result<(u64, u32), PieceError> {
        let mut homes: BTreeSet<Location> = self.spilled.clone();
        homes.extend(self.homes.keys().cloned());
        let mut written = 0;
        for home in homes {
            let mut points = match (&self.dir, self.spilled.contains(&home)) {
                (Some(dir), true) => read_spilled(&Self::file(dir.path(), &home))?,
                _ => Vec::new(),
            };
            points.extend(self.homes.remove(&home).unwrap_or_default());
            let holding: BTreeSet<&VaultArn> = points.iter().map(|p| &p.vault).collect();
            let shard = Shard {
                vaults: self
                    .vaults
                    .iter()
                    .filter(|v| holding.contains(&v.arn))
                    .cloned()
                    .collect(),
                points,
            };
            put_json(parts, &self.run.shard_key(&home, self.source, 0), &shard).await?;
            written += 1;
        }
        Ok((self.points, written))
    }
}

fn read_spilled(path: &Path) -> Result<Vec<PointView>, PieceError> {
    let file = File::open(path).map_err(|e| spill_error(path, e))?;
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line.map_err(|e| spill_error(path, e))?;
        let point =
            serde_json::from_str(&line).map_err(|e| spill_error(path, std::io::Error::other(e)))?;
        out.push(point);
    }
    Ok(out)
}
