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
