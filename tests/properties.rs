//! The promises, over random schedules of writes, cuts, crashes and recoveries.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{ConflictMode, Latency, NodeId, Settings, SettingsPatch, Simulation};
use proptest::prelude::*;

/// One thing that can happen to the cluster.
#[derive(Clone, Debug)]
enum Op {
    Write(u32, u8, u8),
    Read(u32, u8),
    Cut(u32, u32),
    CutOneWay(u32, u32),
    Heal(u32, u32),
    Partition(Vec<u32>),
    Crash(u32),
    Recover(u32, bool),
    Wait(u64),
}

fn op(nodes: u32) -> impl Strategy<Value = Op> {
    let node = 1..=nodes;
    prop_oneof![
        4 => (node.clone(), 0u8..5, any::<u8>()).prop_map(|(n, k, v)| Op::Write(n, k, v)),
        1 => (node.clone(), 0u8..5).prop_map(|(n, k)| Op::Read(n, k)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Cut(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::CutOneWay(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Heal(a, b)),
        1 => prop::collection::vec(0..2u32, nodes as usize).prop_map(Op::Partition),
        1 => node.clone().prop_map(Op::Crash),
        1 => (node, any::<bool>()).prop_map(|(n, w)| Op::Recover(n, w)),
        3 => (0u64..600).prop_map(Op::Wait),
    ]
}

/// Applies `op`; refused commands (a crash of a crashed node, a write to it) are part of the
/// schedule and must change nothing.
fn apply(sim: &mut Simulation, op: &Op) {
    let before = sim.to_string();
    let refused = match op {
        Op::Write(node, k, v) => sim
            .write(NodeId(*node), &format!("k{k}"), &v.to_string())
            .is_err(),
        Op::Read(node, k) => sim.read(NodeId(*node), &format!("k{k}")).is_err(),
        Op::Cut(a, b) => sim.cut(NodeId(*a), NodeId(*b)).is_err(),
        Op::CutOneWay(a, b) => sim.cut_one_way(NodeId(*a), NodeId(*b)).is_err(),
        Op::Heal(a, b) => sim.heal(NodeId(*a), NodeId(*b)).is_err(),
        Op::Partition(sides) => sim.partition(&halves(sides)).is_err(),
        Op::Crash(node) => sim.crash(NodeId(*node)).is_err(),
        Op::Recover(node, wipe) => sim.recover(NodeId(*node), *wipe).is_err(),
        Op::Wait(ms) => {
            sim.run_for(*ms);
            false
        }
    };
    if refused {
        assert_eq!(
            sim.to_string(),
            before,
            "a refused {op:?} changed the cluster"
        );
    }
}

fn faulty_cluster(nodes: u32, seed: u64, conflict: ConflictMode) -> Simulation {
    Simulation::new(Settings {
        nodes,
        seed,
        latency: Latency::Exponential {
            base_ms: 5,
            mean_ms: 60,
        },
        loss: 0.15,
        duplication: 0.1,
        conflict,
        anti_entropy: true,
        anti_entropy_interval_ms: 300,
        clock_skew_ms: (0..nodes).map(|i| (i as i64 - 1) * 37).collect(),
        ..Settings::default()
    })
    .unwrap()
}

proptest! {
    #![proptest_config(cases(96))]

    /// Last writer wins with anti-entropy: once every fault is healed and the system is quiet,
    /// all replicas are equal.
    #[test]
    fn lww_with_anti_entropy_converges_once_faults_heal(
        seed in any::<u64>().prop_map(|s| s >> 11),
        (nodes, ops) in (1u32..7).prop_flat_map(|n| (Just(n), prop::collection::vec(op(n), 0..80))),
    ) {
        let mut sim = faulty_cluster(nodes, seed, ConflictMode::LastWriterWins);
        for op in &ops {
            apply(&mut sim, op);
        }
        heal_everything(&mut sim);
        // No more writes: every node reconciles with a random peer every 300 ms, so 100 rounds
        // leave no realistic chance of a replica never being reached.
        sim.run_for(30_000);
        prop_assert!(sim.converged(), "{}", sim);
        prop_assert!(all_replicas_equal(&sim), "{}", sim);
        let stats = sim.stats();
        prop_assert_eq!(stats.sent + stats.duplicated, stats.delivered + stats.dropped + stats.in_flight);
    }

    /// Whatever happens, message copies are conserved and no write's propagation time is negative.
    #[test]
    fn counters_add_up_under_any_schedule(
        seed in any::<u64>().prop_map(|s| s >> 11),
        ops in prop::collection::vec(op(4), 0..80),
        conflict in prop_oneof![Just(ConflictMode::ArrivalOrder), Just(ConflictMode::LastWriterWins)],
    ) {
        let mut sim = faulty_cluster(4, seed, conflict);
        for op in &ops {
            apply(&mut sim, op);
            let stats = sim.stats();
            prop_assert_eq!(stats.sent + stats.duplicated, stats.delivered + stats.dropped + stats.in_flight);
            prop_assert_eq!(stats.dropped, stats.dropped_lost + stats.dropped_cut + stats.dropped_down);
        }
        for write in sim.writes() {
            prop_assert!(write.reached >= 1, "the origin holds or beats its own write");
            if let (Some(live), Some(all)) = (write.all_live_after_ms, write.all_after_ms) {
                prop_assert!(live <= all);
            }
        }
    }
}

/// A change of settings in the middle of a run: any one mechanism, or tombstone grace.
fn change() -> impl Strategy<Value = SettingsPatch> {
    prop_oneof![
        strategies::read_repair().prop_map(|m| SettingsPatch {
            read_repair: Some(m),
            ..SettingsPatch::default()
        }),
        strategies::hinted_handoff().prop_map(|m| SettingsPatch {
            hinted_handoff: Some(m),
            ..SettingsPatch::default()
        }),
        strategies::dissemination().prop_map(|m| SettingsPatch {
            dissemination: Some(m),
            ..SettingsPatch::default()
        }),
        strategies::anti_entropy_kind().prop_map(|m| SettingsPatch {
            anti_entropy_kind: Some(m),
            ..SettingsPatch::default()
        }),
        (strategies::level(), strategies::level()).prop_map(|(r, w)| SettingsPatch {
            read_quorum: Some(r),
            write_quorum: Some(w),
            ..SettingsPatch::default()
        }),
        (500u32..5_000).prop_map(|ms| SettingsPatch {
            tombstone_grace_ms: Some(ms),
            ..SettingsPatch::default()
        }),
    ]
}

/// What clients do besides blind writes and reads, and changes of settings.
#[derive(Clone, Debug)]
enum ClientOp {
    /// Any of the schedule's operations (a fifth of writes are deletes).
    Plain(Op),
    /// Writes back to the key with the context of the latest read of it, if it was answered.
    WriteBack(u32, u8, u8),
    /// Writes over the siblings `node` holds.
    Resolve(u32, u8, u8),
    /// A write or read in a client session, with its own W or R.
    InSession {
        node: u32,
        key: u8,
        write: bool,
        level: converge::settings::Consistency,
    },
    Configure(SettingsPatch),
}

fn client_ops() -> impl Strategy<Value = Vec<ClientOp>> {
    let node = 1u32..=4;
    prop::collection::vec(
        prop_oneof![
            12 => op(4).prop_map(ClientOp::Plain),
            3 => (node.clone(), 0u8..5, any::<u8>()).prop_map(|(n, k, v)| ClientOp::WriteBack(n, k, v)),
            1 => (node.clone(), 0u8..5, any::<u8>()).prop_map(|(n, k, v)| ClientOp::Resolve(n, k, v)),
            2 => (node, 0u8..5, any::<bool>(), strategies::level())
                .prop_map(|(node, key, write, level)| ClientOp::InSession { node, key, write, level }),
            1 => change().prop_map(ClientOp::Configure),
        ],
        0..60,
    )
}

/// A cluster of four with the given mechanisms, a lossy network and skewed clocks.
fn mechanism_cluster(seed: u64, conflict: ConflictMode, patch: &SettingsPatch) -> Simulation {
    let mut sim = faulty_cluster(4, seed, conflict);
    sim.reset(patch).unwrap();
    sim
}

/// Applies a client's operation; `reads` keeps the latest read of each key.
fn client_op(op: &ClientOp, sim: &mut Simulation, reads: &mut [Option<converge::RequestId>; 5]) {
    use converge::ClientOptions;
    let key = |k: u8| format!("k{k}");
    match op {
        ClientOp::Plain(Op::Write(node, k, v)) if v % 5 == 0 => {
            let _ = sim.delete(NodeId(*node), &key(*k));
        }
        ClientOp::Plain(Op::Read(node, k)) => {
            if let Ok(view) = sim.read(NodeId(*node), &key(*k)) {
                reads[*k as usize] = Some(view.id);
            }
        }
        ClientOp::Plain(op) => apply(sim, op),
        ClientOp::WriteBack(node, k, v) => {
            let context = reads[*k as usize]
                .and_then(|id| sim.request(id))
                .and_then(|view| view.context);
            let options = ClientOptions {
                context,
                ..ClientOptions::default()
            };
            let _ = sim.write_with(NodeId(*node), &key(*k), Some(&v.to_string()), &options);
        }
        ClientOp::Resolve(node, k, v) => {
            let _ = sim.resolve(
                NodeId(*node),
                &key(*k),
                &v.to_string(),
                &ClientOptions::default(),
            );
        }
        ClientOp::InSession {
            node,
            key: k,
            write,
            level,
        } => {
            let options = ClientOptions {
                session: Some(format!("s{}", k % 2)),
                quorum: Some(*level),
                ..ClientOptions::default()
            };
            if *write {
                let _ = sim.write_with(NodeId(*node), &key(*k), Some("s"), &options);
            } else {
                let _ = sim.read_with(NodeId(*node), &key(*k), &options);
            }
        }
        ClientOp::Configure(patch) => {
            sim.configure(patch).unwrap();
        }
    }
}

/// Whether, for every key, its replicas (by the ring) hold the same versions: decided from
/// the stores themselves, not by the simulation's own verdict.
fn replicas_of_every_key_agree(sim: &Simulation) -> Result<(), String> {
    let mut keys: Vec<String> = Vec::new();
    for node in 1..=sim.node_count() {
        let replica = sim.replica(NodeId(node)).unwrap();
        for (key, _) in replica.keys() {
            keys.push(sim.key_table().name(key).to_string());
        }
    }
    keys.sort();
    keys.dedup();
    for key in keys {
        let (owners, _) = sim.preference_list(&key).unwrap();
        let held = |node: NodeId| {
            let mut versions: Vec<_> = sim
                .versions_at(node, &key)
                .unwrap()
                .iter()
                .map(|v| (v.write, v.value.clone()))
                .collect();
            versions.sort();
            versions
        };
        let first = held(owners[0]);
        if let Some(other) = owners.iter().find(|o| held(**o) != first) {
            return Err(format!(
                "{key}: {} holds {first:?}, {other} {:?}",
                owners[0],
                held(*other)
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(cases(64))]

    /// With every fault healed and anti-entropy on, the replicas of every key converge, under
    /// last writer wins and version vectors, whatever the other mechanisms, whatever clients
    /// did (read-modify-write, resolves, sessions, their own R and W) and however the settings
    /// changed on the way (tombstones collected after half a second to five seconds, too).
    #[test]
    fn every_mechanism_converges_once_faults_heal(
        seed in any::<u64>().prop_map(|s| s >> 11),
        patch in strategies::mechanisms(),
        vv in any::<bool>(),
        ops in client_ops(),
    ) {
        let conflict = if vv { ConflictMode::VersionVectors } else { ConflictMode::LastWriterWins };
        let mut sim = mechanism_cluster(seed, conflict, &patch);
        let mut reads = [None; 5];
        for op in &ops {
            client_op(op, &mut sim, &mut reads);
        }
        heal_everything(&mut sim);
        sim.run_for(40_000);
        if let Err(e) = replicas_of_every_key_agree(&sim) {
            prop_assert!(false, "{}\n{}", e, sim);
        }
        prop_assert!(sim.converged(), "the simulation disagrees\n{}", sim);
    }
}

proptest! {
    /// Joining two version vectors knows, for every node, the larger of the two counters.
    #[test]
    fn a_join_keeps_the_larger_counter_of_every_node(
        a in prop::collection::vec((1u32..12, 0u32..6), 0..10),
        b in prop::collection::vec((1u32..12, 0u32..6), 0..10),
    ) {
        let vector = |pairs: &[(u32, u32)]| {
            converge::VersionVector::from_pairs(pairs.iter().map(|(n, c)| (NodeId(*n), *c)))
        };
        let (left, right) = (vector(&a), vector(&b));
        let mut joined = left.clone();
        joined.join(&right);
        for node in (1..12).map(NodeId) {
            prop_assert_eq!(joined.get(node), left.get(node).max(right.get(node)));
        }
        prop_assert!(joined.entries().windows(2).all(|w| w[0].0 < w[1].0), "sorted by node");
        prop_assert!(joined.entries().iter().all(|(_, c)| *c > 0), "no empty entries");
        prop_assert!(joined.dominates(&left) && joined.dominates(&right));
    }
}
