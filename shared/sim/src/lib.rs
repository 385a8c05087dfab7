//! The simulated AWS Backup organisation: the same ports as the SDK adapters, with faults and a
//! clock, so the real router code can be run over days of simulated backups in a second.

pub mod doctor;
pub mod inventory;
pub mod policy_store;
pub mod report;
pub mod restore;
pub mod rng;
pub mod running;
pub mod scenario;
pub mod world;

pub use scenario::{SimOptions, Simulation, Summary};
pub use world::{Faults, Sim, World};
