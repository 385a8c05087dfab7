//! The report's tables wherever they are: a report's own list, or the merge's spool, one JSON
//! line a table on the function's local disk. The merge of an organisation's report keeps only
//! each table's verdict in memory; every rendering, the findings' plan and the changes read the
//! tables back from the spool a table at a time, so no one holds them all.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::scratch::SpillDir;
use crate::{Report, ReportSummary, ResourceReport, Status, Verdict};

/// Why the spool could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("cannot spool the report's tables to {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// What was written does not read back: the disk lost or changed it.
    #[error("table {index} of the spool {path} does not read back: {source}")]
    Decode {
        path: String,
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot write table {index} to the spool {path}: {source}")]
    Encode {
        path: String,
        index: usize,
        #[source]
        source: serde_json::Error,
    },
    /// A table the verdicts name is not among the tables: never a table silently skipped.
    #[error("the report has no table {index} ({len} tables)")]
    Missing { index: usize, len: usize },
}

/// The tables, one JSON line each, in the report's order; removed with it.
pub struct TableSpool {
    dir: SpillDir,
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    /// Where each table's line starts: 8 bytes a table, so the findings' plan reads a site's
    /// tables without reading the others.
    offsets: Vec<u64>,
    end: u64,
}

impl std::fmt::Debug for TableSpool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableSpool")
            .field("path", &self.path)
            .field("tables", &self.offsets.len())
            .finish()
    }
}

impl TableSpool {
    pub fn new() -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io {
            path: std::env::temp_dir().display().to_string(),
            source,
        };
        let dir = SpillDir::new("tables").map_err(io)?;
        let path = dir.path().join("tables.jsonl");
        let file = File::create(&path).map_err(|source| SpoolError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(Self {
            dir,
            path,
            writer: Some(BufWriter::new(file)),
            offsets: Vec::new(),
            end: 0,
        })
    }

    fn io(&self, source: std::io::Error) -> SpoolError {
        SpoolError::Io {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// One more table, after the others.
    pub fn push(&mut self, table: &ResourceReport) -> Result<(), SpoolError> {
        let mut line = serde_json::to_vec(table).map_err(|source| SpoolError::Encode {
            path: self.path.display().to_string(),
            index: self.offsets.len(),
            source,
        })?;
        line.push(b'\n');
        let Some(writer) = self.writer.as_mut() else {
            return Err(self.io(std::io::Error::other("the spool was already finished")));
        };
        if let Err(e) = writer.write_all(&line) {
            // Part of the line may be written: nothing more goes after it.
            self.writer = None;
            return Err(self.io(e));
        }
        self.offsets.push(self.end);
        self.end += line.len() as u64;
        Ok(())
    }

    /// Every table written and flushed: from now on it is only read.
    pub fn finish(&mut self) -> Result<(), SpoolError> {
        match self.writer.take().map(BufWriter::into_inner) {
            Some(Err(e)) => Err(self.io(e.into_error())),
            _ => Ok(()),
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The directory the spool lives in (removed when the spool is dropped).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A report's tables, in its order: borrowed from a report, or read from a spool.
#[derive(Debug, Clone, Copy)]
pub enum Tables<'a> {
    Listed(&'a [ResourceReport]),
    Spooled(&'a TableSpool),
}

/// A table as read: borrowed from a list, or owned when read from the spool.
pub type TableItem<'a> = Result<Cow<'a, ResourceReport>, SpoolError>;

impl<'a> Tables<'a> {
    pub fn len(self) -> usize {
        match self {
            Self::Listed(list) => list.len(),
            Self::Spooled(spool) => spool.len(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.len() == 0
    }

    /// Every table, in order. A spool is opened at the first table, so an iterator made and
    /// never read costs nothing.
    pub fn iter(self) -> TableIter<'a> {
        self.starting_at(0)
    }

    /// The tables from `index` on.
    pub fn starting_at(self, index: usize) -> TableIter<'a> {
        match self {
            Self::Listed(list) => TableIter::Listed(list.get(index..).unwrap_or_default().iter()),
            Self::Spooled(spool) => TableIter::Spooled {
                spool,
                next: index,
                reader: None,
                failed: false,
            },
        }
    }

    /// The tables at `at` (ascending), each run of neighbours read in one go; one that is not
    /// there is [`SpoolError::Missing`].
    pub fn pick<I>(self, at: I) -> impl Iterator<Item = TableItem<'a>> + 'a
    where
        I: IntoIterator<Item = usize>,
        I::IntoIter: 'a,
    {
        let mut run: Option<(usize, TableIter<'a>)> = None;
        let len = self.len();
        at.into_iter().map(move |i| {
            if !matches!(&run, Some((next, _)) if *next == i) {
                run = Some((i, self.starting_at(i)));
            }
            let read = run.as_mut().and_then(|(next, iter)| {
                *next = i + 1;
                iter.next()
            });
            read.unwrap_or(Err(SpoolError::Missing { index: i, len }))
        })
    }

    /// The table at `index`, read alone; one that is not there is [`SpoolError::Missing`].
    pub fn get(self, index: usize) -> TableItem<'a> {
        self.starting_at(index)
            .next()
            .unwrap_or(Err(SpoolError::Missing {
                index,
                len: self.len(),
            }))
    }
}

/// The tables of [`Tables::iter`], one at a time; a spool that fails to read yields its error
/// once and ends.
pub enum TableIter<'a> {
    Listed(std::slice::Iter<'a, ResourceReport>),
    Spooled {
        spool: &'a TableSpool,
        next: usize,
        reader: Option<BufReader<File>>,
        failed: bool,
    },
}

impl<'a> Iterator for TableIter<'a> {
    type Item = TableItem<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Self::Listed(list) => list.next().map(|r| Ok(Cow::Borrowed(r))),
            Self::Spooled {
                spool,
                next,
                reader,
                failed,
            } => {
                if *failed || *next >= spool.len() {
                    return None;
                }
                let read = read_line(spool, *next, reader);
                *failed = read.is_err();
                *next += 1;
                Some(read.map(Cow::Owned))
            }
        }
    }
}

/// Table `index` of the spool, opening it there first if `reader` is not yet open.
fn read_line(
    spool: &TableSpool,
    index: usize,
    reader: &mut Option<BufReader<File>>,
) -> Result<ResourceReport, SpoolError> {
    if spool.writer.is_some() {
        return Err(spool.io(std::io::Error::other(
            "the spool is read before it is finished",
        )));
    }
    if reader.is_none() {
        let mut file = File::open(&spool.path).map_err(|e| spool.io(e))?;
        let at = spool.offsets.get(index).copied().unwrap_or(spool.end);
        file.seek(SeekFrom::Start(at)).map_err(|e| spool.io(e))?;
        *reader = Some(BufReader::new(file));
    }
    let Some(r) = reader.as_mut() else {
        return Err(spool.io(std::io::Error::other("the spool is not open")));
    };
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).map_err(|e| spool.io(e))?;
    serde_json::from_slice(&line).map_err(|source| SpoolError::Decode {
        path: spool.path.display().to_string(),
        index,
        source,
    })
}

/// A report as the merge holds it: everything but its tables (the summary, the gaps, the cost),
/// each table's verdict (a few hundred bytes a table), and the tables themselves in a spool.
#[derive(Debug)]
pub struct MergedReport {
    /// The report with no tables of its own.
    pub frame: Report,
    /// Each table's verdict, in the report's order.
    pub verdicts: Vec<Verdict>,
    spool: TableSpool,
}

impl MergedReport {
    pub fn tables(&self) -> Tables<'_> {
        Tables::Spooled(&self.spool)
    }

    /// The positions of its non-compliant tables, from the verdicts.
    pub fn non_compliant(&self) -> Vec<usize> {
        positions_of_non_compliant(self.verdicts.iter().map(|v| v.status))
    }

    /// The whole report, its tables read back: for a caller that holds it anyway (the CLI,
    /// the simulator, tests), never the function.
    pub fn load(&self) -> Result<Report, SpoolError> {
        let mut report = self.frame.clone();
        report.resources = self
            .tables()
            .iter()
            .map(|r| r.map(Cow::into_owned))
            .collect::<Result<_, _>>()?;
        Ok(report)
    }
}

/// The merge's tables as they come: each counted in the summary, its verdict kept, and the
/// table itself spooled.
pub struct MergedTables {
    summary: ReportSummary,
    verdicts: Vec<Verdict>,
    spool: TableSpool,
}

impl MergedTables {
    pub fn new() -> Result<Self, SpoolError> {
        Ok(Self {
            summary: ReportSummary::empty(),
            verdicts: Vec::new(),
            spool: TableSpool::new()?,
        })
    }

    pub fn push(&mut self, table: &ResourceReport) -> Result<(), SpoolError> {
        self.spool.push(table)?;
        self.summary.add(table);
        self.verdicts.push(Verdict::of(table));
        Ok(())
    }

    /// The report: `frame`'s summary is the tables'.
    pub fn finish(mut self, mut frame: Report) -> Result<MergedReport, SpoolError> {
        debug_assert_eq!(self.verdicts.len(), self.spool.len());
        self.spool.finish()?;
        frame.summary = self.summary;
        frame.resources = Vec::new();
        Ok(MergedReport {
            frame,
            verdicts: self.verdicts,
            spool: self.spool,
        })
    }
}

/// The positions of the non-compliant statuses, in order.
pub fn positions_of_non_compliant(statuses: impl Iterator<Item = Status>) -> Vec<usize> {
    statuses
        .enumerate()
        .filter(|(_, s)| *s == Status::NonCompliant)
        .map(|(i, _)| i)
        .collect()
}

#[cfg(test)]
mod tests;
