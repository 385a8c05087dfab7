//! Scratch space on the function's local disk (its ephemeral storage): what an invocation
//! holds beyond its memory, gone with the directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Spill directories of this process, numbered.
static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A directory of its own under the system's temporary one, removed when dropped.
pub struct SpillDir(PathBuf);

impl SpillDir {
    /// `relay-WHAT-PID-N`: what it holds, and whose it is.
    pub fn new(what: &str) -> std::io::Result<Self> {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("relay-{what}-{}-{n}", std::process::id()));
        fs::create_dir_all(&path)?;
        Ok(Self(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        // Scratch: a failure to remove it leaves only temporary files behind.
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Removes the scratch directories a process before this one left behind (one stopped at its
/// deadline, or out of memory, removes nothing, and Lambda keeps `/tmp` for the next process of
/// the same environment): a merge's spool is a gigabyte at 100,000 tables. For a function's
/// start only, where no other process shares the disk. Returns the directories removed.
pub fn clear_left_behind() -> usize {
    clear_left_behind_in(&std::env::temp_dir(), std::process::id())
}

/// [`clear_left_behind`] under `root`, sparing process `own`'s.
pub fn clear_left_behind_in(root: &Path, own: u32) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    // `relay-WHAT-PID-N`, of another process.
    let left_behind = |name: &str| {
        ["relay-tables-", "relay-points-"]
            .iter()
            .filter_map(|p| name.strip_prefix(p))
            .filter_map(|rest| rest.split_once('-'))
            .any(|(pid, _)| pid.parse::<u32>().is_ok_and(|pid| pid != own))
    };
    entries
        .flatten()
        .filter(|e| {
            left_behind(&e.file_name().to_string_lossy()) && e.file_type().is_ok_and(|t| t.is_dir())
        })
        .filter(|e| fs::remove_dir_all(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_removes_what_earlier_processes_left_and_spares_the_rest() {
        let root = std::env::temp_dir().join(format!("relay-scratch-test-{}", std::process::id()));
        fs::create_dir_all(&root).unwrap();
        for name in [
            "relay-tables-11-0",
            "relay-points-12-3",
            "relay-tables-7-0",
            "relay-tables-77-0",
            "relay-tables-x-0",
            "other-9-0",
        ] {
            fs::create_dir_all(root.join(name).join("inner")).unwrap();
        }
        fs::write(root.join("relay-tables-13-0"), "a file, not ours").unwrap();
        assert_eq!(clear_left_behind_in(&root, 7), 3);
        let mut left: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "other-9-0",
                "relay-tables-13-0",
                "relay-tables-7-0",
                "relay-tables-x-0"
            ]
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
