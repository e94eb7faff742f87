//! Merkle-tree anti-entropy (Dynamo §4.7, Cassandra repair, Riak AAE) against full exchange.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::AntiEntropyKind;
use converge::{ConflictMode, SettingsPatch, Simulation};

/// Two nodes with 200 keys in common, then one key only node 1 has.
fn two_nodes(kind: AntiEntropyKind) -> Simulation {
    let mut sim = cluster_with(
        2,
        20,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            anti_entropy_kind: Some(kind),
            anti_entropy_interval_ms: Some(1_000),
            ..Default::default()
        },
    );
    for i in 0..200 {
        sim.write(n(1), &format!("key{i}"), &format!("value {i}"))
            .unwrap();
    }
    sim.run_for(500);
    sim.cut(n(1), n(2)).unwrap();
    sim.write(n(1), "only-one", "x").unwrap();
    sim.run_for(100);
    sim.heal_all();
    anti_entropy(&mut sim, 1_000);
    sim
}

#[test]
fn merkle_repair_exchanges_only_the_differing_range() {
    let mut sim = two_nodes(AntiEntropyKind::Merkle);
    let before = sim.stats();
    sim.run_for(1_100);
    assert!(sim.converged(), "{sim}");
    let after = sim.stats();
    let versions = after.versions_sent - before.versions_sent;
    assert!(
        versions <= 20,
        "only the keys of one leaf range travel, not 201: {versions}"
    );
    let ranges = sim.recent_ranges();
    assert!(!ranges.is_empty());
    assert!(ranges.iter().all(|r| r.leaves.len() == 1), "{ranges:?}");
    let (_, position) = sim.preference_list("only-one").unwrap();
    assert_eq!(
        ranges[0].leaves[0],
        (position * 64.0) as u32,
        "the leaf of the key"
    );
}

#[test]
fn merkle_sends_far_fewer_bytes_than_full_exchange_for_the_same_repair() {
    let measure = |kind| {
        let mut sim = two_nodes(kind);
        let before = sim.stats().bytes_anti_entropy;
        sim.run_for(1_100);
        assert!(sim.converged());
        sim.stats().bytes_anti_entropy - before
    };
    let (merkle, full) = (
        measure(AntiEntropyKind::Merkle),
        measure(AntiEntropyKind::Full),
    );
    eprintln!("anti-entropy bytes for one repair: merkle {merkle}, full {full}");
    assert!(
        merkle * 5 < full,
        "merkle {merkle} bytes, full {full} bytes"
    );
}

#[test]
fn identical_replicas_stop_at_the_first_level() {
    let mut sim = cluster_with(
        2,
        20,
        SettingsPatch {
            anti_entropy_kind: Some(AntiEntropyKind::Merkle),
            ..Default::default()
        },
    );
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(100);
    anti_entropy(&mut sim, 500);
    let before = sim.stats().sent_anti_entropy;
    sim.run_for(2_000);
    let rounds = sim.stats().sent_anti_entropy - before;
    assert!(rounds >= 4, "each node starts rounds: {rounds}");
    assert!(sim.recent_ranges().is_empty(), "nothing differed");
    assert_eq!(
        sim.stats().versions_sent,
        1,
        "only the write itself ever carried a version"
    );
}
