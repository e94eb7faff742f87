//! Sloppy quorum and hinted handoff (Dynamo §4.6, Riak); Cassandra's strict hints.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::{Consistency, Coordination, HintedHandoff, ReplicationFactor};
use converge::{NodeId, RequestStatus, SettingsPatch, Simulation};

fn handoff(mode: HintedHandoff) -> Simulation {
    cluster_with(
        5,
        50,
        SettingsPatch {
            conflict: Some(converge::ConflictMode::LastWriterWins),
            coordination: Some(Coordination::Quorum),
            replication_factor: Some(ReplicationFactor::N(3)),
            write_quorum: Some(Consistency::All),
            read_quorum: Some(Consistency::One),
            hinted_handoff: Some(mode),
            hint_interval_ms: Some(200),
            ..Default::default()
        },
    )
}

/// The key's replicas and a node that is not one of them.
fn places(sim: &Simulation, key: &str) -> (Vec<NodeId>, NodeId) {
    let (replicas, _) = sim.preference_list(key).unwrap();
    let outsider = (1..=5).map(NodeId).find(|n| !replicas.contains(n)).unwrap();
    (replicas, outsider)
}

#[test]
fn a_sloppy_quorum_writes_to_a_stand_in_with_a_hint_that_is_delivered_when_the_owner_recovers() {
    let mut sim = handoff(HintedHandoff::Sloppy);
    let (replicas, _) = places(&sim, "k");
    let owner = replicas[2];
    sim.crash(owner).unwrap();
    let out = sim.write(replicas[0], "k", "v").unwrap();
    sim.run_for(200);
    assert_eq!(
        outcome(&sim, out.request).status,
        RequestStatus::Ok,
        "W = N = 3 reached with a stand-in"
    );
    let holders: Vec<_> = sim
        .nodes()
        .into_iter()
        .filter(|node| !node.hints.is_empty())
        .collect();
    assert_eq!(holders.len(), 1, "one stand-in keeps one hint");
    assert_eq!(holders[0].hints[0].owner, owner);
    assert!(
        !replicas.contains(&holders[0].id),
        "the next node on the ring, beyond the list"
    );
    assert_eq!(
        value_at(&sim, holders[0].id.0, "k"),
        None,
        "a hint is not served as data"
    );
    assert_eq!(sim.stats().hints, 1);

    sim.run_for(2_000);
    assert_eq!(
        sim.nodes()[holders[0].id.index()].hints.len(),
        1,
        "the owner is still down"
    );
    sim.recover(owner, false).unwrap();
    sim.run_for(500);
    assert_eq!(
        value_at(&sim, owner.0, "k").as_deref(),
        Some("v"),
        "handed over"
    );
    assert!(
        sim.nodes().iter().all(|node| node.hints.is_empty()),
        "and the hint deleted"
    );
    assert!(sim.converged());
    assert!(sim.writes()[0].all_after_ms.is_some());
}

#[test]
fn strict_hints_do_not_count_toward_w() {
    let mut sim = handoff(HintedHandoff::Strict);
    let (replicas, _) = places(&sim, "k");
    sim.crash(replicas[2]).unwrap();
    let out = sim.write(replicas[0], "k", "v").unwrap();
    assert_eq!(
        out.status,
        RequestStatus::Unavailable,
        "only two real replicas for W = 3"
    );
    assert!(
        sim.nodes().iter().all(|node| node.hints.is_empty()),
        "nothing written"
    );

    sim.configure(&SettingsPatch {
        write_quorum: Some(Consistency::Count(2)),
        ..Default::default()
    })
    .unwrap();
    let out = sim.write(replicas[0], "k", "v").unwrap();
    sim.run_for(200);
    assert_eq!(outcome(&sim, out.request).status, RequestStatus::Ok);
    let coordinator = &sim.nodes()[replicas[0].index()];
    assert_eq!(
        coordinator.hints.len(),
        1,
        "Cassandra: the coordinator keeps the hint"
    );
    sim.recover(replicas[2], false).unwrap();
    sim.run_for(500);
    assert_eq!(value_at(&sim, replicas[2].0, "k").as_deref(), Some("v"));
}

#[test]
fn without_handoff_a_down_replica_misses_the_write() {
    let mut sim = handoff(HintedHandoff::Off);
    sim.configure(&SettingsPatch {
        write_quorum: Some(Consistency::Count(2)),
        ..Default::default()
    })
    .unwrap();
    let (replicas, _) = places(&sim, "k");
    sim.crash(replicas[2]).unwrap();
    sim.write(replicas[0], "k", "v").unwrap();
    sim.run_for(200);
    sim.recover(replicas[2], false).unwrap();
    sim.run_for(2_000);
    assert_eq!(value_at(&sim, replicas[2].0, "k"), None);
    assert!(!sim.converged());
}
