//! Lambda: restore drills. A scheduled `{"start": true}` begins a run's drills (a sample of the
//! policy's tables, restored from the deepest vault of each chain); a look every few minutes
//! follows them (restores of large tables take hours), checks each restored table against its
//! source, deletes it, and keeps the evidence the compliance report's restore-time control reads.

pub mod handler;
pub mod settings;
