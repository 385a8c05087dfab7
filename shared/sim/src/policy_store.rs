//! The policy store of the simulated deployment: an S3 object whose versions a test publishes.

use std::sync::{Arc, Mutex};

use relay_core::policy::keeper::PolicyDocument;
use relay_core::ports::{ErrorKind, PolicyStore, PortError, PortResult};

#[derive(Debug, Default)]
struct Object {
    versions: Vec<String>,
    failing_reads: u32,
    failing_history_reads: u32,
    reads: u32,
}

/// A handle: clones share the object, so a test keeps one and gives the function another.
#[derive(Debug, Clone, Default)]
pub struct SimPolicyStore(Arc<Mutex<Object>>);

impl SimPolicyStore {
    pub fn new(text: &str) -> Self {
        let store = Self::default();
        store.publish(text);
        store
    }

    /// A new version; its version id is its number, from 1.
    pub fn publish(&self, text: &str) -> String {
        let mut object = self.object();
        object.versions.push(text.to_string());
        object.versions.len().to_string()
    }

    /// The next `n` reads fail as a throttled GetObject would.
    pub fn fail_reads(&self, n: u32) {
        self.object().failing_reads = n;
    }

    /// The next `n` reads of earlier versions fail as a throttled ListObjectVersions would.
    pub fn fail_history_reads(&self, n: u32) {
        self.object().failing_history_reads = n;
    }

    /// Reads made, answered or not.
    pub fn reads(&self) -> u32 {
        self.object().reads
    }

    fn object(&self) -> std::sync::MutexGuard<'_, Object> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PolicyStore for SimPolicyStore {
    async fn fetch(&self) -> PortResult<PolicyDocument> {
        let mut object = self.object();
        object.reads += 1;
        if object.failing_reads > 0 {
            object.failing_reads -= 1;
            return Err(PortError::new(
                ErrorKind::Throttled,
                "GetObject",
                Some("SlowDown"),
                "Please reduce your request rate.",
            ));
        }
        match object.versions.last() {
            Some(text) => Ok(PolicyDocument {
                version: object.versions.len().to_string(),
                text: text.clone(),
            }),
            None => Err(PortError::new(
                ErrorKind::NotFound,
                "GetObject",
                Some("NoSuchKey"),
                "The specified key does not exist.",
            )),
        }
    }

    async fn fetch_before(&self, version: &str) -> PortResult<Option<PolicyDocument>> {
        let mut object = self.object();
        object.reads += 1;
        if object.failing_history_reads > 0 {
            object.failing_history_reads -= 1;
            return Err(PortError::new(
                ErrorKind::Throttled,
                "ListObjectVersions",
                Some("SlowDown"),
                "Please reduce your request rate.",
            ));
        }
        let Some(n) = version.parse::<usize>().ok().filter(|n| *n >= 2) else {
            return Ok(None);
        };
        Ok(object.versions.get(n - 2).map(|text| PolicyDocument {
            version: (n - 1).to_string(),
            text: text.clone(),
        }))
    }
}
