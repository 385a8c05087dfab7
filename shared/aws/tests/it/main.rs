//! One test binary for the package's integration tests (each file a module): the AWS SDK is
//! linked once, not once per file.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod adapters;
mod findings;
mod inventory;
mod organizations;
mod policy_owner;
mod restore;
