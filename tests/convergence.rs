//! The tutorial's scenarios: replication, a node that misses a write, concurrent writes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{ConflictMode, SettingsPatch};

#[test]
fn the_tutorials_three_nodes_converge_after_one_write() {
    let mut sim = cluster(3, ConflictMode::ArrivalOrder, 50);
    let outcome = sim.write(n(1), "name", "Alice").unwrap();
    assert!(outcome.applied);
    assert_eq!(outcome.messages, 2, "one fire-and-forget message per peer");
    // Visible locally at once, elsewhere not yet.
    assert_eq!(values(&sim, "name"), vec![Some("Alice".into()), None, None]);
    assert!(!sim.converged());
    assert_eq!(sim.divergent_keys(), vec!["name".to_string()]);

    sim.run_for(49);
    assert!(!sim.converged(), "latency is 50 ms");
    sim.run_for(1);
    assert!(sim.converged(), "{sim}");
    assert_eq!(values(&sim, "name"), vec![Some("Alice".into()); 3]);
    let write = &sim.writes()[0];
    assert_eq!(write.all_live_after_ms, Some(50));
    assert_eq!(write.all_after_ms, Some(50));
    assert!(!write.lost);
    let stats = sim.stats();
    assert_eq!((stats.sent, stats.delivered, stats.in_flight), (2, 2, 0));
}

#[test]
fn a_read_says_when_it_is_stale() {
    let mut sim = cluster(3, ConflictMode::ArrivalOrder, 100);
    sim.write(n(1), "name", "Alice").unwrap();
    let early = sim.read(n(2), "name").unwrap();
    assert_eq!(early.value(), None);
    assert!(early.stale, "a newer write exists at n1");
    assert_eq!(
        early.latest.as_ref().unwrap().value.as_deref(),
        Some("Alice")
    );
    let local = sim.read(n(1), "name").unwrap();
    assert!(!local.stale);
    sim.run_for(100);
    let late = sim.read(n(2), "name").unwrap();
    assert_eq!(late.value(), Some("Alice"));
    assert!(!late.stale);
    assert_eq!(sim.stats().stale_reads, 1);
    let never = sim.read(n(3), "nothing").unwrap();
    assert!(never.value().is_none() && !never.stale && never.latest.is_none());
}

#[test]
fn a_node_down_during_the_broadcast_misses_the_write_until_anti_entropy_repairs_it() {
    for conflict in [ConflictMode::ArrivalOrder, ConflictMode::LastWriterWins] {
        let mut sim = cluster(3, conflict, 40);
        sim.crash(n(3)).unwrap();
        sim.write(n(1), "name", "Alice").unwrap();
        sim.run_for(1_000);
        assert_eq!(sim.stats().dropped_down, 1);
        // With node 3 down, every live replica holds the write.
        assert!(sim.converged());
        assert_eq!(sim.writes()[0].all_live_after_ms, Some(40));
        assert_eq!(sim.writes()[0].all_after_ms, None);

        sim.recover(n(3), false).unwrap();
        assert!(!sim.converged(), "node 3 is back without the write");
        sim.run_for(60_000);
        assert_eq!(
            value_at(&sim, 3, "name"),
            None,
            "nothing resends a missed write"
        );
        assert!(!sim.converged());

        anti_entropy(&mut sim, 500);
        sim.run_for(5_000);
        assert_eq!(
            value_at(&sim, 3, "name").as_deref(),
            Some("Alice"),
            "{conflict:?}\n{sim}"
        );
        assert!(sim.converged());
        assert!(sim.writes()[0].all_after_ms.unwrap() > 60_000);
        assert!(sim.stats().sent_anti_entropy > 0);
    }
}

#[test]
fn a_wiped_node_comes_back_empty() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 10);
    sim.write(n(2), "k", "v").unwrap();
    sim.run_for(100);
    sim.crash(n(2)).unwrap();
    assert!(
        sim.write(n(2), "k", "x").is_err(),
        "a crashed node takes no writes"
    );
    sim.recover(n(2), true).unwrap();
    assert_eq!(value_at(&sim, 2, "k"), None);
    sim.crash(n(1)).unwrap();
    sim.recover(n(1), false).unwrap();
    assert_eq!(value_at(&sim, 1, "k").as_deref(), Some("v"));
}

/// Two nodes write the same key in the same millisecond; each gets the other's write last.
fn concurrent_writes(conflict: ConflictMode) -> converge::Simulation {
    let mut sim = cluster(3, conflict, 100);
    sim.write(n(1), "color", "red").unwrap();
    sim.write(n(2), "color", "blue").unwrap();
    sim.run_for(1_000);
    sim
}

#[test]
fn concurrent_writes_under_arrival_order_leave_replicas_different_forever() {
    let mut sim = concurrent_writes(ConflictMode::ArrivalOrder);
    assert_eq!(
        values(&sim, "color"),
        vec![Some("blue".into()), Some("red".into()), Some("blue".into())]
    );
    assert!(!sim.converged());
    // Anti-entropy cannot tell which value is newer without versions: still different.
    anti_entropy(&mut sim, 200);
    sim.run_for(60_000);
    assert!(!sim.converged(), "{sim}");
    assert_eq!(sim.divergent_keys(), vec!["color".to_string()]);
    assert!(
        sim.lost_writes().is_empty(),
        "both values survive somewhere"
    );
    let stale_at_n2 = sim.read(n(2), "color").unwrap();
    assert!(stale_at_n2.stale);
}

#[test]
fn concurrent_writes_under_last_writer_wins_converge_and_lose_one_write() {
    let sim = concurrent_writes(ConflictMode::LastWriterWins);
    // Equal clock readings: the higher node id wins.
    assert_eq!(values(&sim, "color"), vec![Some("blue".into()); 3]);
    assert!(sim.converged());
    let writes = sim.writes();
    assert!(
        writes[0].lost,
        "red was acknowledged, then overwritten by a write that never saw it"
    );
    assert!(!writes[1].lost);
    assert_eq!(sim.lost_writes(), vec![writes[0].id]);
    // Both writes are reflected everywhere: red by a version that beats it.
    assert_eq!(writes[0].all_live_after_ms, Some(100));
}

#[test]
fn an_overwrite_that_saw_the_first_write_loses_nothing() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 100);
    sim.write(n(1), "k", "first").unwrap();
    sim.run_for(500);
    sim.write(n(2), "k", "second").unwrap();
    sim.run_for(500);
    assert!(sim.converged());
    assert!(sim.lost_writes().is_empty());
}

/// Last writer wins; node 2's clock 5 s behind; `k = older`, written through node 1, on every
/// node a second later.
fn older_everywhere_and_node_2_five_seconds_behind() -> converge::Simulation {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    sim.configure(&SettingsPatch {
        clock_skew_ms: Some([("2".to_string(), -5_000)].into()),
        ..SettingsPatch::default()
    })
    .unwrap();
    sim.write(n(1), "k", "older").unwrap();
    sim.run_for(1_000);
    sim
}

#[test]
fn a_skewed_clock_makes_the_newest_write_lose_under_last_writer_wins() {
    let mut sim = older_everywhere_and_node_2_five_seconds_behind();
    let newer = sim.write(n(2), "k", "newer").unwrap();
    assert!(
        !newer.applied,
        "node 2's clock is 5 s behind: its own store keeps 'older'"
    );
    assert_eq!(newer.stamp_ms, 1_000 - 5_000);
    sim.run_for(1_000);
    assert!(sim.converged());
    assert_eq!(values(&sim, "k"), vec![Some("older".into()); 3]);
    assert_eq!(sim.lost_writes(), vec![newer.write]);
    assert_eq!(
        sim.lost_writes_by_clocks(),
        None,
        "last writer wins keeps no clocks"
    );
    // No store ever took it, so it is not the newest write of the key: the replicas are not
    // stale, and a read is not; the write is counted where it belongs, among the lost.
    let read = sim.read(n(2), "k").unwrap();
    assert!(!read.stale, "{read:?}");
    let latest = read.latest.unwrap();
    assert_eq!(latest.value.as_deref(), Some("older"));
    assert!(sim.keys(None)[0].replicas.iter().all(|r| !r.stale));
    let lost = &sim.writes()[newer.write.0 as usize - 1];
    assert!(lost.lost && lost.status == converge::WriteStatus::Acknowledged);
}

#[test]
fn duplicated_messages_arrive_twice_and_change_nothing_more() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 30);
    sim.configure(&SettingsPatch {
        duplication: Some(1.0),
        ..SettingsPatch::default()
    })
    .unwrap();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(1_000);
    let stats = sim.stats();
    assert_eq!((stats.sent, stats.duplicated, stats.delivered), (2, 2, 4));
    assert!(sim.converged());
}

#[test]
fn lost_messages_are_counted_and_leave_replicas_behind() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 30);
    sim.configure(&SettingsPatch {
        loss: Some(1.0),
        ..SettingsPatch::default()
    })
    .unwrap();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(1_000);
    let stats = sim.stats();
    assert_eq!(
        (stats.dropped, stats.dropped_lost, stats.delivered),
        (2, 2, 0)
    );
    assert!(!sim.converged());
    let drops = sim.drain_drops();
    assert_eq!(drops.len(), 2);
    assert!(
        drops.iter().all(|d| d.at > 0.0 && d.at < 1.0),
        "lost on the way"
    );
}

#[test]
fn with_one_node_everything_is_converged_at_once() {
    let mut sim = cluster(1, ConflictMode::LastWriterWins, 30);
    let out = sim.write(n(1), "k", "v").unwrap();
    assert_eq!(out.messages, 0);
    anti_entropy(&mut sim, 100);
    sim.run_for(1_000);
    assert!(sim.converged());
    assert_eq!(sim.writes()[0].all_after_ms, Some(0));
}

/// The observer follows a write to the replicas of its key only: on 3 of 100 nodes, it is
/// everywhere once those 3 have it, and each arrival is listed by replica.
#[test]
fn a_write_on_three_of_a_hundred_nodes_is_everywhere_once_its_replicas_have_it() {
    use converge::settings::{Consistency, Coordination, ReplicationFactor};
    let mut sim = cluster(100, ConflictMode::LastWriterWins, 10);
    sim.configure(&SettingsPatch {
        coordination: Some(Coordination::Quorum),
        replication_factor: Some(ReplicationFactor::N(3)),
        write_quorum: Some(Consistency::Quorum),
        ..SettingsPatch::default()
    })
    .unwrap();
    let (mut replicas, _) = sim.preference_list("k").unwrap();
    replicas.sort();
    // Through a node that is not a replica: every copy travels 10 ms.
    let via = (1..=100).map(n).find(|x| !replicas.contains(x)).unwrap();
    sim.write(via, "k", "v").unwrap();
    sim.run_for(100);
    let write = &sim.writes()[0];
    let reached: Vec<_> = write.arrivals.iter().map(|a| a.node).collect();
    let mut sorted = reached.clone();
    sorted.sort();
    assert_eq!(sorted, replicas, "{:?}", write.arrivals);
    assert!(write.arrivals.iter().all(|a| a.after_ms == 10));
    assert_eq!(write.reached, 3);
    assert_eq!(write.all_live_after_ms, Some(10));
    assert_eq!(write.all_after_ms, Some(10));
    assert_eq!(sim.writes_not_yet_everywhere(), 0);

    // One replica down: the write is on every live replica, not on all.
    sim.crash(replicas[2]).unwrap();
    sim.write(via, "k", "w").unwrap();
    sim.run_for(100);
    let write = &sim.writes()[1];
    assert_eq!(write.reached, 2);
    assert_eq!(write.all_live_after_ms, Some(10));
    assert_eq!(write.all_after_ms, None);
    assert_eq!(sim.writes_not_yet_everywhere(), 1);
}

/// Anti-entropy is push-pull: the answer to a round brings the node that lacked a write that
/// write, whether the round was its own (full exchange: the peer answers with what it lacked)
/// or the peer's (Merkle: the peer answers the ranges it was sent with its own versions).
#[test]
fn an_anti_entropy_answer_brings_the_write_the_node_lacked() {
    use converge::settings::AntiEntropyKind;
    use converge::{Latency, MessageKind, TraceEvent};
    for kind in [AntiEntropyKind::Full, AntiEntropyKind::Merkle] {
        let mut pulled = 0;
        for seed in 0..20 {
            let mut sim = cluster_with(
                2,
                50,
                SettingsPatch {
                    seed: Some(seed),
                    latency: Some(Latency::Uniform {
                        min_ms: 20,
                        max_ms: 80,
                    }),
                    ..SettingsPatch::default()
                },
            );
            sim.cut_one_way(n(2), n(1)).unwrap();
            sim.write(n(2), "x", "v").unwrap();
            sim.run_for(200);
            sim.heal_all();
            assert_eq!(value_at(&sim, 1, "x"), None);
            sim.set_recording(true);
            sim.configure(&SettingsPatch {
                anti_entropy: Some(true),
                anti_entropy_kind: Some(kind),
                anti_entropy_interval_ms: Some(1_000),
                ..SettingsPatch::default()
            })
            .unwrap();
            for _ in 0..1_000 {
                let lacked = value_at(&sim, 1, "x").is_none();
                sim.step().unwrap();
                let answer = matches!(
                    sim.trace().recent().back(),
                    Some(TraceEvent::Deliver { from, to, message: MessageKind::SyncReply, .. })
                        if *from == n(2) && *to == n(1)
                );
                if answer {
                    if lacked {
                        pulled += 1;
                        assert_eq!(
                            value_at(&sim, 1, "x").as_deref(),
                            Some("v"),
                            "{kind:?}, seed {seed}"
                        );
                    }
                    break;
                }
            }
        }
        assert!(
            pulled > 0,
            "{kind:?}: no seed had an answer reach node 1 before a push"
        );
    }
}

/// A write's moments are kept as milliseconds after it in 32 bits: one that comes more than
/// 49 days later is kept as the latest moment 32 bits can say, never as "not yet".
#[test]
fn a_replica_that_catches_up_after_fifty_days_is_counted_as_reached() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    sim.crash(n(3)).unwrap();
    sim.write(n(1), "name", "Alice").unwrap();
    const DAY: u64 = 24 * 60 * 60 * 1_000;
    sim.run_for(50 * DAY);
    sim.recover(n(3), false).unwrap();
    sim.configure(&SettingsPatch {
        anti_entropy: Some(true),
        ..Default::default()
    })
    .unwrap();
    sim.run_for(20_000);
    assert!(sim.converged(), "{sim}");
    let write = &sim.writes()[0];
    let most = u64::from(u32::MAX - 1);
    assert_eq!(write.all_after_ms, Some(most), "{write:?}");
    assert_eq!(
        write.all_live_after_ms,
        Some(50),
        "node 3 was down: not counted among the live"
    );
}

/// Under last writer wins a write whose timestamp is already beaten (its node's clock is slow)
/// has reached every replica that holds the later write, the moment it is made: none of them
/// will ever keep it. Node 2 is cut off, so its copies never arrive to say so later.
#[test]
fn a_write_beaten_on_arrival_has_reached_the_replicas_that_hold_a_later_one() {
    let mut sim = older_everywhere_and_node_2_five_seconds_behind();
    assert!(sim.converged());
    sim.isolate(n(2)).unwrap();
    let newer = sim.write(n(2), "k", "newer").unwrap();
    assert!(!newer.applied);
    let view = &sim.writes()[newer.write.0 as usize - 1];
    assert_eq!(view.reached, 3, "{view:?}");
    assert_eq!(view.all_after_ms, Some(0), "{view:?}");
    sim.run_for(2_000);
    let view = &sim.writes()[newer.write.0 as usize - 1];
    assert_eq!(view.reached, 3, "still, with node 2 cut off: {view:?}");
    assert!(sim.converged());
}
