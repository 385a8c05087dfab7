use lambda_runtime::Context;
use relay_core::policy::Policy;
use relay_core::ports::Clock;
use relay_core::world_file::WorldFile;
use relay_sim::{Faults, Sim, SimOptions, Simulation, World};
use serde_json::json;

use super::*;

const POLICY: &str = include_str!("../../../../infra/examples/policy.yaml");
const WORLD: &str = include_str!("../../../../infra/examples/world.yaml");

/// The example world after two simulated days, its simulated AWS handed to the function.
async fn function(config: DrillConfig) -> DrillFunction<Sim> {
    let policy = Policy::parse(POLICY).unwrap();
    let world = WorldFile::parse(WORLD, &policy).unwrap();
    let options = SimOptions {
        days: 2,
        faults: Faults::none(),
        ..SimOptions::default()
    };
    let mut simulation = Simulation::with_world(policy, &world, options);
    simulation.run().await;
    let sim = std::mem::replace(
        &mut simulation.sim,
        Sim::new(World::new(chrono::Utc::now(), 0, Faults::none())),
    );
    sim.world().time_flows = true;
    DrillFunction::new(sim, LoadedPolicy::parse(POLICY), config)
}

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn a_start_begins_drills_and_later_looks_finish_them() {
    let f = function(DrillConfig::default()).await;
    let first = f
        .handle(event(json!({"id": "start-1", "start": true})))
        .await
        .unwrap();
    assert_eq!(first.started.len(), 2);
    let mut finished = Vec::new();
    for _ in 0..200 {
        f.ports().pause(std::time::Duration::from_secs(300)).await;
        let look = f.handle(event(json!({"id": "look"}))).await.unwrap();
        finished.extend(look.finished);
        if look.waiting.is_empty() {
            break;
        }
    }
    assert_eq!(finished.len(), 2, "{finished:#?}");
    assert!(finished.iter().all(|t| t.passed), "{finished:#?}");
    let w = f.ports().world();
    assert_eq!(w.restore_tests.len(), 2);
    assert!(w.drills.is_empty());
}

#[tokio::test]
async fn a_look_with_nothing_under_way_does_nothing() {
    let f = function(DrillConfig::default()).await;
    let look = f.handle(event(json!({}))).await.unwrap();
    assert_eq!(
        serde_json::to_value(look).unwrap(),
        json!({"started": [], "waiting": [], "finished": []})
    );
}

#[tokio::test]
async fn an_unknown_vault_or_an_invalid_policy_is_a_named_error() {
    let f = function(DrillConfig {
        from: Some("attic".into()),
        ..DrillConfig::default()
    })
    .await;
    let e = f.handle(event(json!({"start": true}))).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidConfiguration");
    let bad = DrillFunction::new(
        Sim::new(World::new(chrono::Utc::now(), 0, Faults::none())),
        LoadedPolicy::parse("version: 9"),
        DrillConfig::default(),
    );
    let e = bad.handle(event(json!({"start": true}))).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidPolicy");
}
