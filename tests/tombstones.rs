//! Deletes and tombstones (Cassandra, Riak), and the resurrection of deleted values.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{ConflictMode, SettingsPatch, Simulation};

fn cluster() -> Simulation {
    cluster_with(
        3,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            tombstone_grace_ms: Some(2_000),
            ..Default::default()
        },
    )
}

/// `k` written everywhere, then deleted while node 3 was down, and the tombstone collected by
/// nodes 1 and 2 after the grace period; node 3 is still down.
fn deleted_and_collected_while_node_3_was_down() -> Simulation {
    let mut sim = cluster();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(100);
    sim.crash(n(3)).unwrap();
    sim.delete(n(1), "k").unwrap();
    sim.run_for(3_000);
    sim
}

#[test]
fn a_delete_replicates_as_a_tombstone_and_is_collected_after_the_grace_period() {
    let mut sim = cluster();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(100);
    sim.delete(n(2), "k").unwrap();
    sim.run_for(100);
    assert!(sim.converged());
    let read = sim.read(n(3), "k").unwrap();
    assert_eq!(read.versions.len(), 1);
    assert_eq!(read.versions[0].value, None, "a tombstone");
    assert!(sim.keys(None)[0].deleted);
    sim.run_for(3_000);
    assert_eq!(sim.stats().tombstones_collected, 3);
    assert!((1..=3).all(|i| sim.versions_at(n(i), "k").unwrap().is_empty()));
    assert!(
        sim.lost_writes().is_empty(),
        "the value was deleted on purpose"
    );
    let read = sim.read(n(3), "k").unwrap();
    assert!(read.versions.is_empty() && !read.stale);
    assert!(
        sim.keys(None).is_empty(),
        "a key deleted and collected everywhere has no row"
    );
}

#[test]
fn a_replica_that_collected_the_tombstone_is_not_stale_beside_one_that_still_holds_it() {
    let sim = deleted_and_collected_while_node_3_was_down();
    let key = &sim.keys(None)[0];
    assert!(key.deleted);
    let cells: Vec<_> = key
        .replicas
        .iter()
        .map(|c| (c.versions.len(), c.stale))
        .collect();
    assert_eq!(
        cells,
        vec![(0, false), (0, false), (1, true)],
        "nodes 1 and 2 purged the delete and are up to date; node 3 still holds the value"
    );
}

#[test]
fn a_tombstone_collected_before_every_replica_has_it_lets_the_value_come_back() {
    let mut sim = deleted_and_collected_while_node_3_was_down();
    assert_eq!(
        sim.stats().tombstones_collected,
        2,
        "nodes 1 and 2 purged the delete"
    );
    sim.recover(n(3), false).unwrap();
    anti_entropy(&mut sim, 200);
    sim.run_for(2_000);
    assert_eq!(
        values(&sim, "k"),
        vec![Some("v".into()); 3],
        "the deleted value is back"
    );
    let back = sim.resurrections();
    assert!(back.len() >= 2, "the value came back at nodes 1 and 2");
    assert_eq!(back[0].key, "k");
    assert_eq!(
        sim.stats().resurrections,
        1,
        "one deleted write came back, counted once"
    );
}

#[test]
fn with_a_grace_period_longer_than_the_outage_the_delete_wins() {
    let mut sim = cluster();
    sim.configure(&SettingsPatch {
        tombstone_grace_ms: Some(60_000),
        ..Default::default()
    })
    .unwrap();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(100);
    sim.crash(n(3)).unwrap();
    sim.delete(n(1), "k").unwrap();
    sim.run_for(3_000);
    sim.recover(n(3), false).unwrap();
    anti_entropy(&mut sim, 200);
    sim.run_for(2_000);
    assert!(sim.converged());
    assert!(sim.keys(None)[0].deleted);
    assert!(sim.resurrections().is_empty());
}

#[test]
fn tombstones_do_not_bounce_between_replicas_under_anti_entropy() {
    // Replicas collect a tombstone at different moments (each looks every half grace period);
    // anti-entropy meanwhile offers the expired tombstone to replicas that already dropped it.
    // It still deletes what it covers there, and goes at once: it must not travel back and
    // forth for as long as anti-entropy runs.
    for seed in 1..=8 {
        let mut sim = cluster_with(
            3,
            50,
            SettingsPatch {
                seed: Some(seed),
                conflict: Some(ConflictMode::LastWriterWins),
                tombstone_grace_ms: Some(20_000),
                anti_entropy: Some(true),
                anti_entropy_interval_ms: Some(1_000),
                ..Default::default()
            },
        );
        sim.write(n(1), "name", "Bob").unwrap();
        sim.run_for(500);
        sim.delete(n(2), "name").unwrap();
        sim.run_for(60_000);
        assert_eq!(
            values(&sim, "name"),
            vec![None, None, None],
            "seed {seed}: every replica collected the tombstone"
        );
        let collected = sim.stats().tombstones_collected;
        sim.run_for(60_000);
        assert_eq!(
            sim.stats().tombstones_collected,
            collected,
            "seed {seed}: nothing comes back to be collected again"
        );
        assert_eq!(sim.stats().resurrections, 0);
        assert!(sim.converged());
    }
}
