//! Consistent hashing and the replication factor N (Dynamo, Cassandra).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::ReplicationFactor;
use converge::{NodeId, SettingsPatch};

fn ring(nodes: u32, n: u32) -> converge::Simulation {
    cluster_with(
        nodes,
        50,
        SettingsPatch {
            replication_factor: Some(ReplicationFactor::N(n)),
            ..Default::default()
        },
    )
}

#[test]
fn a_key_lives_on_its_preference_list_only() {
    let mut sim = ring(6, 3);
    let (replicas, position) = sim.preference_list("name").unwrap();
    assert_eq!(replicas.len(), 3);
    assert!((0.0..1.0).contains(&position));
    // A write through a node that is not a replica reaches exactly the three replicas.
    let outsider = (1..=6)
        .map(NodeId)
        .find(|id| !replicas.contains(id))
        .unwrap();
    let out = sim.write(outsider, "name", "Alice").unwrap();
    assert_eq!(out.messages, 3);
    assert!(!out.applied, "the coordinator is not a replica");
    sim.run_for(1_000);
    for id in 1..=6 {
        let holds = value_at(&sim, id, "name").is_some();
        assert_eq!(holds, replicas.contains(&NodeId(id)), "node {id}");
    }
    assert!(sim.converged());
    let key = &sim.keys(None)[0];
    assert_eq!(key.preference_list, replicas);
    assert_eq!(
        sim.writes()[0].all_after_ms,
        Some(50),
        "complete at its three replicas"
    );
}

#[test]
fn the_ring_has_vnodes_tokens_per_node_and_keys_spread() {
    let sim = cluster_with(
        5,
        50,
        SettingsPatch {
            replication_factor: Some(ReplicationFactor::N(2)),
            vnodes: Some(16),
            ..Default::default()
        },
    );
    let ring = sim.ring();
    assert_eq!(ring.len(), 80);
    assert!(ring.windows(2).all(|w| w[0].position <= w[1].position));
    let mut first = [0; 5];
    for i in 0..500 {
        first[sim.preference_list(&format!("key{i}")).unwrap().0[0].index()] += 1;
    }
    assert!(first.iter().all(|c| *c > 40), "{first:?}");
}

#[test]
fn n_larger_than_the_cluster_is_refused() {
    let mut sim = ring(3, 2);
    let err = sim
        .configure(&SettingsPatch {
            replication_factor: Some(ReplicationFactor::N(4)),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("N = 4 does not fit a cluster of 3 nodes"),
        "{err}"
    );
    assert_eq!(sim.settings().replicas(), 2);
}

#[test]
fn changing_n_starts_a_new_run() {
    let mut sim = ring(4, 2);
    sim.write(n(1), "k", "v").unwrap();
    let restarted = sim
        .configure(&SettingsPatch {
            replication_factor: Some(ReplicationFactor::All),
            ..Default::default()
        })
        .unwrap();
    assert!(restarted);
    assert_eq!(sim.stats().writes, 0);
}
