//! One test binary for the package's integration tests (each file a module): the AWS SDK is
//! linked once, not once per file.

mod adapters;
mod inventory;
mod policy_owner;
mod restore;
