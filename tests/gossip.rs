//! Gossip dissemination: rumor mongering (Demers et al., 1987).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::Dissemination;
use converge::{ConflictMode, Settings, SettingsPatch, Simulation};
use proptest::prelude::*;

#[test]
fn a_rumor_reaches_a_large_cluster_without_one_message_per_peer_from_the_writer() {
    let mut sim = cluster_with(
        100,
        20,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            dissemination: Some(Dissemination::Gossip),
            gossip_fanout: Some(3),
            gossip_interest: Some(4),
            gossip_interval_ms: Some(50),
            ..Default::default()
        },
    );
    let out = sim.write(n(1), "k", "v").unwrap();
    assert_eq!(out.messages, 3, "the writer tells three peers, not 99");
    sim.run_for(10_000);
    let reached = sim.writes()[0].reached;
    assert!(
        reached >= 97,
        "rumor mongering leaves few or no nodes out: {reached} of 100"
    );
    assert!(sim.stats().in_flight == 0, "everyone lost interest");
}

#[test]
fn anti_entropy_finishes_what_gossip_leaves_behind() {
    let mut sim = cluster_with(
        30,
        20,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            dissemination: Some(Dissemination::Gossip),
            gossip_fanout: Some(1),
            gossip_interest: Some(1),
            ..Default::default()
        },
    );
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(5_000);
    assert!(
        sim.writes()[0].reached < 30,
        "fanout 1, interest lost at once: a small rumor"
    );
    anti_entropy(&mut sim, 200);
    sim.run_for(20_000);
    assert!(sim.converged());
}

/// The storm a 200-character link could start: two concurrent writes of one key under arrival
/// order replaced each other at every arrival, each time as news, and were spread again
/// (545,592 messages in flight within 4 s, then the page died).
#[test]
fn two_concurrent_writes_under_arrival_order_do_not_storm() {
    let mut sim = Simulation::new(Settings {
        seed: 3,
        dissemination: Dissemination::Gossip,
        ..Settings::default()
    })
    .unwrap();
    sim.write(n(1), "k", "a").unwrap();
    sim.write(n(2), "k", "b").unwrap();
    let sent = run_until_quiet(&mut sim, 200);
    assert!(sent < 200, "{sent} rumors");
}

/// Runs `sim` (up to ten virtual minutes) until nothing is in flight, 100 ms at a time,
/// stopping early once more than `bound` replication messages are sent (a storm would
/// otherwise fill memory before the test could fail). Returns how many were sent.
fn run_until_quiet(sim: &mut Simulation, bound: u64) -> u64 {
    for _ in 0..6_000 {
        sim.run_for(100);
        let stats = sim.stats();
        if stats.sent_replicate > bound || stats.in_flight == 0 {
            return stats.sent_replicate;
        }
    }
    panic!("still busy after ten minutes: {:?}", sim.stats());
}

proptest! {
    #![proptest_config(cases(256))]

    /// Each node spreads each version once, whatever the conflict rule: a node passes a rumor
    /// on for a few rounds (1/k of losing interest after each) when it first hears of it, and
    /// never again, however often concurrent versions of the key arrive, are duplicated or
    /// replace each other. So the messages a write costs are bounded by the number of nodes,
    /// the fanout and k (ten times the mean here: a random run past it is vanishingly rare,
    /// while a storm grows without bound), and every run falls quiet.
    #[test]
    fn messages_per_write_are_bounded_and_every_run_falls_quiet(
        seed in 0u64..1 << 53,
        nodes in 2u32..12,
        conflict in prop::sample::select(vec![ConflictMode::ArrivalOrder, ConflictMode::LastWriterWins, ConflictMode::VersionVectors]),
        gossip in any::<bool>(),
        fanout in 1u32..4,
        interest in 1u32..6,
        duplication in prop::sample::select(vec![0.0, 0.2, 0.5]),
        writes in prop::collection::vec((1u32..12, 0u8..3, 0u32..300), 1..20),
    ) {
        let mut sim = Simulation::new(Settings {
            seed,
            nodes,
            conflict,
            dissemination: if gossip { Dissemination::Gossip } else { Dissemination::Broadcast },
            gossip_fanout: fanout,
            gossip_interest: interest,
            duplication,
            clock_skew_ms: vec![0; nodes as usize],
            ..Settings::default()
        })
        .unwrap();
        for (i, &(node, key, wait)) in writes.iter().enumerate() {
            sim.write(n(1 + node % nodes), &format!("k{key}"), &format!("v{i}")).unwrap();
            sim.run_for(u64::from(wait));
        }
        let per_write = if gossip {
            u64::from(nodes * fanout * interest) * 10 + u64::from(fanout)
        } else {
            u64::from(nodes)
        };
        // Duplication may deliver a message twice; it is sent once.
        let bound = writes.len() as u64 * per_write;
        let sent = run_until_quiet(&mut sim, bound);
        prop_assert!(
            sent <= bound,
            "{} replication messages for {} writes (at most {})",
            sent,
            writes.len(),
            bound
        );
    }
}
