//! One test binary for the package's integration tests (each file a module): the AWS SDK is
//! linked once, not once per file.

mod cli;
mod doctor_live;
mod e2e;
mod emulate;
mod report_live;
