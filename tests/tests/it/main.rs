//! One test binary for the package's integration tests (each file a module): the AWS SDK is
//! linked once, not once per file.
// Helpers of a test may unwrap and panic: a failure is meant to stop it there.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod alerts_moto;
mod copy_tags;
mod cost;
mod deploy_moto;
mod doctor;
mod findings_moto;
mod inventory_moto;
mod layout;
mod ledger_moto;
mod ledger_sim;
mod organisation;
mod organizations_moto;
mod promise;
mod queue_moto;
mod rates;
mod reconcile_slices;
mod report;
mod report_browser;
mod report_pieces;
mod report_store_moto;
mod restore;
mod restore_moto;
mod router_and_reconciler;
mod scenarios;
mod world;
