//! Time travel keeps its snapshots within a budget of bytes by their own estimate
//! (`Simulation::snapshot_bytes`): the estimate must follow what a copy of the run really
//! allocates, whether the run holds many messages in flight, many keys, siblings or requests
//! in progress, or the budget means nothing. Counted by an allocator that adds up live bytes.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../benches/common/mod.rs"]
mod counting;

use converge::settings::{
    Consistency, Coordination, Dissemination, HintedHandoff, ReplicationFactor,
};
use converge::{ConflictMode, NodeId, Settings, Simulation};

/// The bytes a copy of `sim` allocates (recording off: a snapshot leaves the trace behind).
fn copied(sim: &Simulation) -> usize {
    let before = counting::live();
    let copy = sim.clone();
    let after = counting::live();
    drop(copy);
    after - before
}

fn within(sim: &Simulation, what: &str) {
    let (estimate, real) = (sim.snapshot_bytes(), copied(sim));
    let ratio = estimate as f64 / real as f64;
    eprintln!("{what}: estimated {estimate} bytes, a copy allocates {real} ({ratio:.2})");
    assert!(
        (0.8..=1.25).contains(&ratio),
        "{what}: estimated {estimate} bytes, a copy allocates {real} ({ratio:.2})"
    );
}

/// One node's own estimate (`Replica::bytes`) against what a copy of the node allocates, with
/// the node itself: every term of it shows when the node is the whole of what is measured.
fn replica_within(sim: &Simulation, node: u32, what: &str) {
    let replica = sim.replica(NodeId(node)).unwrap();
    let before = counting::live();
    let copy = replica.clone();
    let real = counting::live() - before + std::mem::size_of_val(&copy);
    drop(copy);
    let estimate = replica.bytes();
    let ratio = estimate as f64 / real as f64;
    eprintln!(
        "{what}, node {node}: estimated {estimate} bytes, a copy allocates {real} ({ratio:.2})"
    );
    // A node's estimate counts what its copy allocates, term by term: held to 5%.
    assert!(
        (0.95..=1.05).contains(&ratio),
        "{what}, node {node}: estimated {estimate} bytes, a copy allocates {real} ({ratio:.2})"
    );
}

/// Writes keys `k0` to `k{count - 1}` through the first `nodes` nodes in turn.
fn write_keys(sim: &mut Simulation, count: u32, nodes: u32) {
    for i in 0..count {
        sim.write(NodeId(i % nodes + 1), &format!("k{i}"), "v")
            .unwrap();
    }
}

fn quiet(settings: Settings) -> Simulation {
    let mut sim = Simulation::new(settings).unwrap();
    sim.set_recording(false);
    sim
}

#[test]
fn the_snapshot_estimate_follows_what_a_copy_allocates() {
    // Messages in flight: 1,500 writes on 64 nodes, each on its way to 63 others.
    let mut sim = quiet(Settings {
        nodes: 64,
        ..Settings::default()
    });
    for i in 0..1_500u32 {
        sim.write(NodeId(i % 64 + 1), &format!("k{i}"), "v")
            .unwrap();
    }
    sim.run_for(3);
    assert!(sim.in_flight_count() > 80_000);
    within(&sim, "messages in flight");

    // Stores: 4,000 keys on 8 nodes, everything delivered.
    let mut sim = quiet(Settings {
        nodes: 8,
        ..Settings::default()
    });
    write_keys(&mut sim, 4_000, 8);
    assert!(sim.run_until_quiet(60_000));
    within(&sim, "keys in every store");
    replica_within(&sim, 1, "keys in every store");

    // Siblings: ten rounds of blind writes of the same keys at three nodes, under version
    // vectors: thirty siblings a key.
    let mut sim = quiet(Settings {
        nodes: 3,
        conflict: ConflictMode::VersionVectors,
        ..Settings::default()
    });
    for _ in 0..10 {
        for i in 0..1_000u32 {
            for node in 1..=3 {
                sim.write(NodeId(node), &format!("k{i}"), "v").unwrap();
            }
        }
        assert!(sim.run_until_quiet(60_000));
    }
    within(&sim, "siblings");
    replica_within(&sim, 2, "siblings");

    // Requests in progress: quorum writes on 16 nodes, taken before their replies come.
    let mut sim = quiet(Settings {
        nodes: 16,
        coordination: Coordination::Quorum,
        replication_factor: ReplicationFactor::N(3),
        write_quorum: Consistency::All,
        ..Settings::default()
    });
    for i in 0..3_000u32 {
        sim.write(NodeId(i % 16 + 1), &format!("k{}", i % 50), "v")
            .unwrap();
    }
    within(&sim, "requests in progress");

    // Gossip: every node remembers, key by key, the rumors it has heard.
    let mut sim = quiet(Settings {
        nodes: 8,
        dissemination: Dissemination::Gossip,
        ..Settings::default()
    });
    write_keys(&mut sim, 3_000, 8);
    sim.run_for(50);
    within(&sim, "rumors heard");
    replica_within(&sim, 1, "rumors heard");
    // A node that has just written many keys under gossip: it spreads a rumor of each.
    let mut sim = quiet(Settings {
        nodes: 8,
        dissemination: Dissemination::Gossip,
        ..Settings::default()
    });
    write_keys(&mut sim, 3_000, 1);
    replica_within(&sim, 1, "rumors to spread");

    // Hints: two owners down, sloppy quorums, every write kept as a hint by a stand-in.
    let mut sim = quiet(Settings {
        nodes: 8,
        coordination: Coordination::Quorum,
        replication_factor: ReplicationFactor::N(3),
        write_quorum: Consistency::One,
        hinted_handoff: HintedHandoff::Sloppy,
        ..Settings::default()
    });
    sim.crash(NodeId(7)).unwrap();
    sim.crash(NodeId(8)).unwrap();
    write_keys(&mut sim, 6_000, 6);
    assert!(sim.run_until_quiet(60_000));
    within(&sim, "hints kept");
    let holder = (1..=6)
        .max_by_key(|n| sim.replica(NodeId(*n)).unwrap().hints().len())
        .unwrap();
    replica_within(&sim, holder, "hints kept");

    // Counters: every node adds to every key, keeping its own totals and its writes' counters.
    let mut sim = quiet(Settings {
        nodes: 3,
        conflict: ConflictMode::Counter,
        ..Settings::default()
    });
    for i in 0..3_000u32 {
        for node in 1..=3 {
            sim.write(NodeId(node), &format!("k{i}"), "+1").unwrap();
        }
    }
    assert!(sim.run_until_quiet(60_000));
    within(&sim, "counters");
    replica_within(&sim, 1, "counters");

    // The write log's own lists: node 3 cut off, so every write of 2,000 keys, eight each, waits
    // for it (pending), and nothing is in flight; the stores hold one version a key.
    let mut sim = quiet(Settings {
        nodes: 3,
        ..Settings::default()
    });
    sim.isolate(NodeId(3)).unwrap();
    for round in 0..8 {
        for i in 0..2_000u32 {
            sim.write(NodeId(round % 2 + 1), &format!("k{i}"), "v")
                .unwrap();
        }
        assert!(sim.run_until_quiet(60_000));
    }
    assert_eq!(sim.writes_not_yet_everywhere(), 16_000);
    within(&sim, "writes waiting for a node");
    key_table_within();
}

/// A process's key table alone, which a snapshot copies whole: its estimate against what a copy
/// allocates, from a few keys to many. (Called from the one test of this file: the allocator
/// counts every thread's bytes, so no two measurements may run at once.)
fn key_table_within() {
    let mut keys = converge::KeyTable::default();
    let mut next = 0;
    for count in [100, 1_000, 30_000] {
        while next < count {
            keys.intern(&format!("key number {next}"));
            next += 1;
        }
        let before = counting::live();
        let copy = keys.clone();
        let real = counting::live() - before;
        drop(copy);
        let ratio = keys.bytes() as f64 / real as f64;
        eprintln!(
            "{count} keys: estimated {}, a copy allocates {real} ({ratio:.2})",
            keys.bytes()
        );
        assert!((0.6..=1.25).contains(&ratio), "{count} keys: {ratio:.2}");
    }
}
