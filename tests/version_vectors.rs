//! Version vectors and siblings (Dynamo, Riak with allow_mult).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{ClientOptions, ConflictMode, SettingsPatch, Simulation};

fn vv_cluster() -> Simulation {
    cluster_with(
        3,
        100,
        SettingsPatch {
            conflict: Some(ConflictMode::VersionVectors),
            ..Default::default()
        },
    )
}

#[test]
fn concurrent_writes_become_siblings_everywhere_and_nothing_is_lost() {
    let mut sim = vv_cluster();
    sim.write(n(1), "color", "red").unwrap();
    sim.write(n(2), "color", "blue").unwrap();
    sim.run_for(1_000);
    assert!(sim.converged(), "{sim}");
    assert_eq!(values(&sim, "color"), vec![Some("red|blue".into()); 3]);
    let read = sim.read(n(3), "color").unwrap();
    assert_eq!(read_values(&read), vec!["blue", "red"]);
    assert_eq!(
        read.context.as_ref().unwrap().clock.to_string(),
        "{n1:1, n2:1}"
    );
    assert!(sim.lost_writes().is_empty());
    assert!(sim.keys(None)[0].siblings);
}

#[test]
fn a_write_with_the_context_it_read_replaces_exactly_what_it_read() {
    let mut sim = vv_cluster();
    sim.write(n(1), "color", "red").unwrap();
    sim.write(n(2), "color", "blue").unwrap();
    sim.run_for(1_000);
    let read = sim.read(n(3), "color").unwrap();
    // Meanwhile another blind write: it is not in the context, so it survives as a sibling.
    sim.write(n(1), "color", "green").unwrap();
    let options = ClientOptions {
        context: read.context.clone(),
        ..Default::default()
    };
    sim.write_with(n(3), "color", Some("purple"), &options)
        .unwrap();
    sim.run_for(1_000);
    assert!(sim.converged());
    assert_eq!(
        read_values(&sim.read(n(2), "color").unwrap()),
        vec!["green", "purple"]
    );
    assert!(
        sim.lost_writes().is_empty(),
        "red and blue were replaced knowingly"
    );
}

#[test]
fn resolve_merges_the_siblings_a_node_holds() {
    let mut sim = vv_cluster();
    sim.write(n(1), "cart", "milk").unwrap();
    sim.write(n(2), "cart", "eggs").unwrap();
    sim.run_for(1_000);
    sim.resolve(n(1), "cart", "milk, eggs", &ClientOptions::default())
        .unwrap();
    sim.run_for(1_000);
    assert_eq!(values(&sim, "cart"), vec![Some("milk, eggs".into()); 3]);
    assert!(!sim.keys(None)[0].siblings);
    assert!(sim.lost_writes().is_empty());
}

#[test]
fn sequential_writes_through_one_node_still_make_siblings_without_a_context() {
    // Riak: a blind write (no vclock) is concurrent with everything, even at the same node.
    let mut sim = vv_cluster();
    sim.write(n(1), "k", "a").unwrap();
    sim.run_for(500);
    sim.write(n(1), "k", "b").unwrap();
    sim.run_for(500);
    assert_eq!(values(&sim, "k")[0].as_deref(), Some("a|b"));
}

#[test]
fn a_context_from_another_key_and_a_resolve_without_siblings_are_refused() {
    let mut sim = vv_cluster();
    sim.write(n(1), "a", "1").unwrap();
    sim.write(n(1), "b", "2").unwrap();
    sim.run_for(500);
    let read = sim.read(n(1), "a").unwrap();
    let before = sim.to_string();
    let options = ClientOptions {
        context: read.context,
        ..Default::default()
    };
    let err = sim
        .write_with(n(1), "b", Some("x"), &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("read from key \"a\", not \"b\""), "{err}");
    let err = sim
        .resolve(n(1), "a", "x", &ClientOptions::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no siblings"), "{err}");
    assert_eq!(sim.to_string(), before, "nothing changed");
}

/// An error names a key of up to 40 characters whole, and a longer one by its first 39 and
/// an ellipsis (keys may be 256 characters: a message is read in a toast).
#[test]
fn an_error_names_a_long_key_by_its_beginning() {
    let mut sim = vv_cluster();
    let forty = "k".repeat(40);
    let forty_one = format!("{}x", "k".repeat(40));
    for (key, shown) in [
        (forty.clone(), format!("\"{forty}\"")),
        (forty_one.clone(), format!("\"{}…\"", "k".repeat(39))),
    ] {
        let err = sim
            .resolve(n(1), &key, "x", &ClientOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains(&shown), "{key}: {err}");
    }
}

#[test]
fn last_writer_wins_loses_the_write_that_version_vectors_keep() {
    for (conflict, lost) in [
        (ConflictMode::LastWriterWins, 1),
        (ConflictMode::VersionVectors, 0),
    ] {
        let mut sim = cluster_with(
            3,
            100,
            SettingsPatch {
                conflict: Some(conflict),
                ..Default::default()
            },
        );
        sim.write(n(1), "k", "first").unwrap();
        sim.write(n(2), "k", "second").unwrap();
        sim.run_for(1_000);
        assert_eq!(sim.lost_writes().len(), lost, "{conflict:?}");
        assert_eq!(sim.stats().lost_writes, lost as u64);
        // The panel's few recent writes are checked one by one, the full list in one pass:
        // the same answer either way.
        let flags = |views: Vec<converge::WriteView>| -> Vec<bool> {
            views.iter().map(|w| w.lost).collect()
        };
        assert_eq!(flags(sim.recent_writes(2)), flags(sim.writes()));
        assert_eq!(flags(sim.writes()).iter().filter(|l| **l).count(), lost);
    }
}

/// A read that missed a sibling, then a write with its context: the write replaces only what
/// the read returned, and the sibling it missed survives (the false dominance that dotted
/// contexts prevent: with a plain vector, `{n1:2}` would have claimed node 1's first write too).
#[test]
fn a_write_back_keeps_the_sibling_its_read_missed() {
    let mut sim = Simulation::new(converge::Settings {
        nodes: 3,
        seed: 5,
        conflict: ConflictMode::VersionVectors,
        ..converge::Settings::default()
    })
    .unwrap();
    sim.crash(n(3)).unwrap();
    let a = sim.write(n(1), "k", "a").unwrap().write; // never reaches node 3
    sim.run_for(2_000);
    sim.recover(n(3), false).unwrap();
    sim.write(n(1), "k", "b").unwrap(); // blind: node 1 holds a | b, node 3 only b
    sim.run_for(2_000);
    assert_eq!(
        values(&sim, "k"),
        vec![Some("a|b".into()), Some("a|b".into()), Some("b".into())]
    );
    let read = sim.read(n(3), "k").unwrap();
    assert_eq!(read_values(&read), vec!["b"]);
    let options = ClientOptions {
        context: read.context.clone(),
        ..Default::default()
    };
    sim.write_with(n(3), "k", Some("c"), &options).unwrap();
    sim.run_for(5_000);
    // Node 3 never saw a, and neither did c's client: a has reached two replicas, not three.
    assert_eq!(sim.writes()[a.0 as usize - 1].reached, 2);
    assert!(!sim.converged());
    anti_entropy(&mut sim, 2_000);
    sim.run_for(20_000);
    assert!(sim.converged(), "{sim}");
    assert_eq!(
        values(&sim, "k"),
        vec![Some("a|c".into()); 3],
        "a survives: c's client never saw it"
    );
    assert!(sim.lost_writes().is_empty(), "{:?}", sim.writes());
    assert_eq!(sim.lost_writes_by_clocks(), Some(vec![]));
    let w1 = &sim.writes()[a.0 as usize - 1];
    assert_eq!(w1.reached, 3);
    assert!(!w1.lost);
}

/// The same scenario on every path that carries versions: fire-and-forget or gossip, coordinated
/// puts with read repair, sloppy or strict hinted handoff, full or Merkle anti-entropy. Node 3
/// misses a, takes b, a client reads b there and writes c back with the context; a must survive.
#[test]
fn every_path_keeps_the_sibling_a_read_missed() {
    use converge::settings::{
        AntiEntropyKind, Consistency, Coordination, Dissemination, HintedHandoff, ReadRepair,
    };
    let paths = [
        (
            Coordination::None,
            Dissemination::Broadcast,
            HintedHandoff::Off,
            ReadRepair::Off,
        ),
        (
            Coordination::None,
            Dissemination::Gossip,
            HintedHandoff::Off,
            ReadRepair::Off,
        ),
        (
            Coordination::Quorum,
            Dissemination::Broadcast,
            HintedHandoff::Off,
            ReadRepair::Async,
        ),
        (
            Coordination::Quorum,
            Dissemination::Broadcast,
            HintedHandoff::Off,
            ReadRepair::Blocking,
        ),
        (
            Coordination::Quorum,
            Dissemination::Broadcast,
            HintedHandoff::Sloppy,
            ReadRepair::Async,
        ),
        (
            Coordination::Quorum,
            Dissemination::Broadcast,
            HintedHandoff::Strict,
            ReadRepair::Off,
        ),
    ];
    for (coordination, dissemination, hinted_handoff, read_repair) in paths {
        for kind in [AntiEntropyKind::Full, AntiEntropyKind::Merkle] {
            let label = format!(
                "{coordination:?} {dissemination:?} {hinted_handoff:?} {read_repair:?} {kind:?}"
            );
            let mut sim = Simulation::new(converge::Settings {
                nodes: 4,
                seed: 9,
                conflict: ConflictMode::VersionVectors,
                replication_factor: converge::settings::ReplicationFactor::N(3),
                coordination,
                dissemination,
                hinted_handoff,
                read_repair,
                write_quorum: Consistency::One,
                read_quorum: Consistency::One,
                anti_entropy_kind: kind,
                // Hints are handed over late (at 25 s), after the write-back: the handoff
                // then brings a to a replica that holds c.
                hint_interval_ms: 25_000,
                latency: converge::Latency::Constant { ms: 50 },
                clock_skew_ms: vec![0; 4],
                ..converge::Settings::default()
            })
            .unwrap();
            let replicas = sim.preference_list("k").unwrap().0;
            let (first, missing) = (replicas[0], replicas[2]);
            sim.crash(missing).unwrap();
            sim.write(first, "k", "a").unwrap();
            sim.run_for(2_000);
            sim.recover(missing, false).unwrap();
            sim.write(first, "k", "b").unwrap();
            sim.run_for(2_000);
            let held: Vec<_> = sim
                .versions_at(missing, "k")
                .unwrap()
                .iter()
                .map(|v| v.value.clone())
                .collect();
            assert_eq!(
                held,
                [Some("b".into())],
                "{label}: node {} misses a\n{sim}",
                missing.0
            );
            let read = sim.read(missing, "k").unwrap();
            sim.run_for(500);
            let read = sim.request(read.id).unwrap();
            assert_eq!(read_values(&read), vec!["b"], "{label}");
            let options = ClientOptions {
                context: read.context.clone(),
                ..Default::default()
            };
            sim.write_with(missing, "k", Some("c"), &options).unwrap();
            sim.run_for(3_000);
            assert!(sim.lost_writes().is_empty(), "{label}\n{sim}");
            sim.heal_all();
            anti_entropy(&mut sim, 500);
            sim.run_for(30_000);
            for node in replicas.iter() {
                let mut held: Vec<_> = sim
                    .versions_at(*node, "k")
                    .unwrap()
                    .iter()
                    .map(|v| v.value.clone())
                    .collect();
                held.sort();
                assert_eq!(
                    held,
                    [Some("a".into()), Some("c".into())],
                    "{label}: node {}\n{sim}",
                    node.0
                );
            }
            assert!(sim.lost_writes().is_empty(), "{label}");
            assert_eq!(
                Some(sim.lost_writes()),
                sim.lost_writes_by_clocks(),
                "{label}"
            );
        }
    }
}

/// A message's size counts 8 bytes per number of each version's clock: a blind write carries
/// only its own dot, a write in the context of a read also the context's numbers (framing 16,
/// ids and stamp 24, then the value).
#[test]
fn a_version_costs_eight_bytes_per_number_of_its_clock() {
    let mut sim = cluster(2, ConflictMode::VersionVectors, 10);
    let sent = |sim: &Simulation| sim.stats().bytes_sent;
    let frame = |value: &str, clock_numbers: u64| 16 + 24 + value.len() as u64 + 8 * clock_numbers;

    let before = sent(&sim);
    sim.write(n(1), "k", "abc").unwrap();
    assert_eq!(
        sent(&sim) - before,
        frame("abc", 1),
        "a blind write: its dot"
    );
    sim.run_for(100);

    // Node 2 now holds (n1, 1); a read there and a write back in its context: {n1: 1} and a dot.
    let read = sim.read(n(2), "k").unwrap();
    let context = sim.request(read.id).unwrap().context;
    let before = sent(&sim);
    sim.write_with(
        n(2),
        "k",
        Some("de"),
        &ClientOptions {
            context,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    assert_eq!(sent(&sim) - before, frame("de", 2));
    sim.run_for(100);

    // A context of two nodes' writes: two numbers, and the write's own dot.
    sim.write(n(1), "g", "x").unwrap();
    sim.run_for(100);
    sim.write(n(2), "g", "y").unwrap();
    sim.run_for(100);
    let read = sim.read(n(1), "g").unwrap();
    let context = sim.request(read.id).unwrap().context.unwrap();
    let numbers = context.clock.len() as u64;
    let before = sent(&sim);
    sim.write_with(
        n(1),
        "g",
        Some("z"),
        &ClientOptions {
            context: Some(context),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    assert_eq!(sent(&sim) - before, frame("z", numbers + 1));
    assert_eq!(numbers, 2, "{{n1: 1, n2: 1}}");
}

/// What the page shows as a version's clock is everything it knows: the context it was written
/// in, and its own dot.
#[test]
fn a_version_shows_its_context_and_its_own_dot_as_its_clock() {
    let mut sim = cluster(2, ConflictMode::VersionVectors, 10);
    sim.write(n(1), "k", "a").unwrap();
    sim.run_for(100);
    let read = sim.read(n(2), "k").unwrap();
    let context = sim.request(read.id).unwrap().context;
    sim.write_with(
        n(2),
        "k",
        Some("b"),
        &ClientOptions {
            context,
            ..ClientOptions::default()
        },
    )
    .unwrap();
    sim.run_for(100);
    let writes = sim.writes();
    assert_eq!(writes[0].clock.to_string(), "{n1:1}");
    assert_eq!(writes[1].clock.to_string(), "{n1:1, n2:1}");
    let held = sim.versions_at(n(1), "k").unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].clock().to_string(), "{n1:1, n2:1}");
}

/// Riak's `object.siblings.maximum`: a client write that would leave its coordinator with more
/// than 100 siblings is refused, nothing is written and nothing is lost; a write with the
/// context of a read merges them and lets writes in again.
#[test]
fn a_write_past_the_sibling_limit_is_refused_until_the_siblings_are_merged() {
    use converge::replica::MAX_SIBLINGS;
    use converge::{RequestStatus, WriteStatus};
    assert_eq!(MAX_SIBLINGS, 100, "Riak's default");
    let mut sim = vv_cluster();
    for i in 0..100 {
        let w = sim.write(n(1), "k", &format!("v{i}")).unwrap();
        assert_eq!(w.status, RequestStatus::Ok, "write {i}");
    }
    sim.run_for(1_000);
    let sent = sim.stats().sent;
    let refused = sim.write(n(2), "k", "one too many").unwrap();
    assert_eq!(refused.status, RequestStatus::Refused);
    assert!(!refused.applied);
    assert_eq!(refused.messages, 0);
    sim.run_for(1_000);
    assert_eq!(sim.stats().sent, sent, "a refused write sends nothing");
    assert_eq!(sim.stats().refused, 1);
    let request = sim.request(refused.request).unwrap();
    assert_eq!(request.got, 101, "the siblings it would have made");
    let view = sim
        .writes()
        .into_iter()
        .find(|w| w.id == refused.write)
        .unwrap();
    assert_eq!(view.status, WriteStatus::Refused);
    assert!(sim.lost_writes().is_empty(), "refused is not acknowledged");
    for node in 1..=3 {
        assert_eq!(sim.versions_at(n(node), "k").unwrap().len(), 100);
    }
    assert!(
        sim.converged(),
        "a refused write is never the newest of its key"
    );

    // A read's context covers all 100: the write-back replaces them, and blind writes go in.
    let read = sim.read(n(3), "k").unwrap();
    let options = ClientOptions {
        context: read.context.clone(),
        ..Default::default()
    };
    let merged = sim.write_with(n(3), "k", Some("merged"), &options).unwrap();
    assert_eq!(merged.status, RequestStatus::Ok);
    // Node 2 still holds the 100 until the merged write reaches it.
    assert_eq!(
        sim.write(n(2), "k", "early").unwrap().status,
        RequestStatus::Refused
    );
    sim.run_for(1_000);
    assert_eq!(
        sim.write(n(2), "k", "blind").unwrap().status,
        RequestStatus::Ok
    );
    sim.run_for(1_000);
    assert_eq!(values(&sim, "k"), vec![Some("blind|merged".into()); 3]);
    assert!(sim.lost_writes().is_empty());
    // The refused writes used no dot: node 2's write is its first of the key, and the key's
    // context is a plain vector, with no gap for a context to carry dots beyond.
    let context = sim.read(n(1), "k").unwrap().context.unwrap().clock;
    assert_eq!(context.to_string(), "{n1:100, n2:1, n3:1}");
}

/// A write refused as unavailable wrote nothing, and its dot goes to the next write.
#[test]
fn an_unavailable_write_leaves_no_gap_in_its_nodes_dots() {
    use converge::settings::{Consistency, Coordination};
    let mut sim = cluster_with(
        3,
        100,
        SettingsPatch {
            conflict: Some(ConflictMode::VersionVectors),
            coordination: Some(Coordination::Quorum),
            write_quorum: Some(Consistency::All),
            ..Default::default()
        },
    );
    sim.crash(n(3)).unwrap();
    let refused = sim.write(n(1), "k", "a").unwrap();
    assert_eq!(refused.status, converge::RequestStatus::Unavailable);
    sim.recover(n(3), false).unwrap();
    sim.write(n(1), "k", "b").unwrap();
    sim.run_for(1_000);
    let id = sim.read(n(2), "k").unwrap().id;
    sim.run_for(1_000);
    let read = sim.request(id).unwrap();
    assert_eq!(read_values(&read), vec!["b"]);
    assert_eq!(read.context.unwrap().clock.to_string(), "{n1:1}");
}

/// Replicas take what they are sent, whatever the limit: siblings made on both sides of a
/// partition all arrive when it heals. Only a client's write is refused.
#[test]
fn replicas_take_more_siblings_than_a_client_write_may_make() {
    let mut sim = vv_cluster();
    sim.partition(&[vec![n(1)], vec![n(2), n(3)]]).unwrap();
    for i in 0..100 {
        sim.write(n(1), "k", &format!("a{i}")).unwrap();
        sim.write(n(2), "k", &format!("b{i}")).unwrap();
    }
    sim.run_for(1_000);
    sim.heal_all();
    anti_entropy(&mut sim, 200);
    sim.run_for(5_000);
    for node in 1..=3 {
        assert_eq!(
            sim.versions_at(n(node), "k").unwrap().len(),
            200,
            "node {node}"
        );
    }
    assert!(sim.converged());
    assert!(sim.lost_writes().is_empty());
    assert_eq!(
        sim.write(n(3), "k", "more").unwrap().status,
        converge::RequestStatus::Refused
    );
}

/// A context typed in (or saved before reads were named) does not name its read: the observer
/// takes it as seen by the latest read of the key that returned exactly it, so a write-back with
/// it replaces what that read returned knowingly; a context no read returned saw nothing.
#[test]
fn a_context_without_its_read_is_matched_to_the_read_that_returned_it() {
    let mut sim = vv_cluster();
    sim.write(n(1), "k", "a").unwrap();
    sim.run_for(1_000);
    let before = sim.changes();
    let read = sim.read(n(2), "k").unwrap();
    assert!(sim.changes() > before, "a read changes what the page shows");
    let mut context = read.context.unwrap();
    assert!(context.read.is_some());
    context.read = None;
    let options = ClientOptions {
        context: Some(context),
        ..Default::default()
    };
    sim.write_with(n(2), "k", Some("b"), &options).unwrap();
    sim.run_for(1_000);
    assert_eq!(values(&sim, "k"), vec![Some("b".into()); 3]);
    assert!(
        sim.lost_writes().is_empty(),
        "b's client had seen a, through the read that returned its context"
    );
    assert_eq!(sim.lost_writes_by_clocks(), Some(vec![]));
}
