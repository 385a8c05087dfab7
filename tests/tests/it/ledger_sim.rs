//! The simulator's ledger honours the same contract as the DynamoDB one.

use relay_sim::{Faults, Sim, World};
use relay_tests::ledger_contract;

#[tokio::test]
async fn the_simulated_ledger_honours_the_ledger_contract() {
    let sim = Sim::new(World::new(chrono::Utc::now(), 1, Faults::none()));
    ledger_contract::run(&sim).await;
}
