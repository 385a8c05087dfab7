//! Scratch space on the function's local disk (its ephemeral storage): what an invocation
//! holds beyond its memory, gone with the directory.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Spill directories of this process, numbered.
static NEXT_DIR: AtomicU64 = AtomicU64::new(0);
/// Every scratch directory's name starts with one of these.
const KINDS: [&str; 2] = ["relay-tables-", "relay-points-"];
/// The file in each scratch directory its owner holds locked while it lives.
const LOCK: &str = ".lock";

/// A directory of its own under the system's temporary one, locked while it lives (the lock
/// goes with the process, however it ends) and removed when dropped.
pub struct SpillDir {
    path: PathBuf,
    _lock: File,
}

impl SpillDir {
    /// `relay-WHAT-PID-N`: what it holds, and whose it is.
    pub fn new(what: &str) -> std::io::Result<Self> {
        Self::new_in(&std::env::temp_dir(), what)
    }

    /// A new directory, never one that exists already (a dead process of the same id may have
    /// left one behind: its files are not ours to append to).
    fn new_in(root: &Path, what: &str) -> std::io::Result<Self> {
        loop {
            let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
            let path = root.join(format!("relay-{what}-{}-{n}", std::process::id()));
            match fs::create_dir(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
            let lock = File::create(path.join(LOCK))?;
            lock.lock()?;
            return Ok(Self { path, _lock: lock });
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        // Scratch: a failure to remove it leaves only temporary files behind.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Removes the scratch directories that no living process holds: those of a process stopped at
/// its deadline or out of memory, which removes nothing (and Lambda keeps `/tmp` for the next
/// process of the same environment: a merge's spool is a gigabyte at 100,000 tables). A
/// directory whose owner lives is locked, and spared. Returns the directories removed.
pub fn clear_left_behind() -> usize {
    clear_left_behind_in(&std::env::temp_dir())
}

/// [`clear_left_behind`] under `root`.
pub fn clear_left_behind_in(root: &Path) -> usize {
    let Ok(entries) = fs::read_dir(root) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            KINDS.iter().any(|k| name.starts_with(k)) && e.file_type().is_ok_and(|t| t.is_dir())
        })
        .filter(|e| abandoned(&e.path()))
        .filter(|e| fs::remove_dir_all(e.path()).is_ok())
        .count()
}

/// No process holds the directory's lock. One with no lock file is being made right now, or is
/// not ours: it is left alone.
fn abandoned(dir: &Path) -> bool {
    File::open(dir.join(LOCK)).is_ok_and(|lock| lock.try_lock().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_removes_what_dead_processes_left_and_spares_the_living() {
        let root = std::env::temp_dir().join(format!("relay-scratch-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let living = SpillDir::new_in(&root, "tables").unwrap();
        let also_living = SpillDir::new_in(&root, "points").unwrap();
        // Left by processes that ended: their locks went with them.
        for name in ["relay-tables-11-0", "relay-points-12-3"] {
            fs::create_dir_all(root.join(name).join("inner")).unwrap();
            File::create(root.join(name).join(LOCK)).unwrap();
        }
        // Being made, or not ours: no lock file.
        fs::create_dir_all(root.join("relay-tables-13-0")).unwrap();
        fs::create_dir_all(root.join("other-9-0")).unwrap();
        fs::write(root.join("relay-tables-14-0"), "a file, not a directory").unwrap();
        assert_eq!(clear_left_behind_in(&root), 2);
        let mut left: Vec<String> = fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![
            "other-9-0".to_string(),
            "relay-tables-13-0".to_string(),
            "relay-tables-14-0".to_string(),
            living
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            also_living
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
        ];
        expected.sort();
        assert_eq!(left, expected);
        // A directory that exists already is never taken over.
        let n = NEXT_DIR.load(Ordering::Relaxed);
        let taken = root.join(format!("relay-tables-{}-{n}", std::process::id()));
        fs::create_dir_all(&taken).unwrap();
        let fresh = SpillDir::new_in(&root, "tables").unwrap();
        assert_ne!(fresh.path(), taken);
        drop((living, also_living, fresh));
        fs::remove_dir_all(&root).unwrap();
    }
}
