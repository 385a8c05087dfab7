//! Backup Relay's core: the policy, ARNs, events, planning and retention arithmetic as pure
//! functions over plain data, and the ports (small traits) through which the functions reach AWS.
//! No AWS SDK here.

pub mod arn;
pub mod compliance;
pub mod doctor;
pub mod event;
pub mod existing;
pub mod guard;
pub mod incident;
pub mod ledger;
pub mod patience;
pub mod plan;
pub mod policy;
pub mod ports;
pub mod provenance;
pub mod reconcile;
pub mod regions;
pub mod restore;
pub mod retention;
pub mod retention_guard;
pub mod router;
pub mod world_file;

pub use event::ParsedEvent;
pub use policy::Policy;
