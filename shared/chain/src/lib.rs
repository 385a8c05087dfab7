//! Backup Relay's chaining engine over the core's ports: the copy router (one event), the
//! reconciler (the scheduled repair and the engine of retries), the retention guard, the
//! incidents every shortfall ends in, and the patience every call is tried with.

pub mod existing;
pub mod incident;
pub mod patience;
pub mod reconcile;
pub mod retention_guard;
pub mod router;
pub mod tagging;
