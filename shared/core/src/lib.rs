//! Backup Relay's core: the policy, ARNs, events, hop identity, planning and retention
//! arithmetic as pure functions over plain data, and the ports (small traits) through which the
//! functions reach AWS. No AWS SDK here. The capabilities built on it are crates of their own
//! (docs/architecture.md): relay-chain (router, reconciler, guard), relay-compliance (the
//! report), relay-restore (restores and drills), relay-doctor (preflight).

pub mod arn;
pub mod copy_tags;
pub mod event;
pub mod guard;
pub mod iam;
pub mod incident;
pub mod ledger;
pub mod organization;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod provenance;
pub mod regions;
pub mod retention;
pub mod stable_hash;
pub mod world_file;

pub use event::ParsedEvent;
pub use policy::Policy;
