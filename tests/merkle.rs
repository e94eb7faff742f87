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

/// The cost of one difference is its leaf's range, not the one key: the tree has 64 leaves, so
/// among 6,400 keys one differing key sends about a hundred (Cassandra's trees have 2^15 leaves
/// and stream whole ranges too).
#[test]
fn one_difference_costs_the_keys_of_its_whole_leaf() {
    let mut sim = cluster_with(
        2,
        20,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            anti_entropy_kind: Some(AntiEntropyKind::Merkle),
            ..Default::default()
        },
    );
    let keys: Vec<String> = (0..6_400).map(|i| format!("key{i}")).collect();
    for key in &keys {
        sim.write(n(1), key, "v").unwrap();
    }
    sim.run_for(500);
    sim.cut(n(1), n(2)).unwrap();
    sim.write(n(1), "only-one", "x").unwrap();
    sim.run_for(100);
    sim.heal_all();
    let leaf = |key: &str| (sim.preference_list(key).unwrap().1 * 64.0) as u32;
    let same_leaf = keys.iter().filter(|k| leaf(k) == leaf("only-one")).count() + 1;
    assert!(same_leaf > 50, "{same_leaf} keys share the leaf");
    anti_entropy(&mut sim, 1_000);
    let before = sim.stats().versions_sent;
    sim.run_for(1_100);
    assert!(sim.converged());
    let sent = (sim.stats().versions_sent - before) as usize;
    assert!(
        sent >= same_leaf && sent <= 2 * same_leaf,
        "one differing key sent {sent} versions; its leaf holds {same_leaf} keys"
    );
}
