//! Gossip dissemination: rumor mongering (Demers et al., 1987).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::Dissemination;
use converge::{ConflictMode, SettingsPatch};

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
