//! Lost writes, judged from the history. Random clients read, then write back with the context
//! they read (Riak's read-modify-write), write blindly, delete and resolve siblings, through
//! every mechanism, while links are cut, nodes crash and come back (with their store or empty)
//! and the network loses and duplicates messages.
//!
//! The test keeps its own record of what each client was told and saw, as Jepsen's and
//! Maelstrom's checkers do, and decides from it which acknowledged writes are gone: a write is
//! knowingly replaced only by one whose client had seen it. It holds the simulation to that, and
//! the simulation's two counts (from the history, and from the replicas' clocks) to each other.
//! Under version vectors nothing acknowledged may be lost, but what a wipe destroyed.
//!
//! `PROPTEST_CASES=n` changes how many schedules each property tries; `cargo test --test
//! lost_writes -- --ignored` runs the long version (200,000 schedules).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::BTreeSet;

use common::{cases, halves, heal_everything, strategies};

use converge::settings::{AntiEntropyKind, Coordination, ReplicationFactor};
use converge::{
    ClientOptions, ConflictMode, Latency, NodeId, RequestId, RequestStatus, Settings,
    SettingsPatch, Simulation, WriteId,
};
use proptest::prelude::*;

/// How many clients read and write back.
const CLIENTS: u8 = 3;
/// How many keys they use.
const KEYS: u8 = 3;

/// One thing that can happen.
#[derive(Clone, Debug)]
enum Op {
    /// A blind write: no context.
    Write {
        node: u32,
        key: u8,
        value: u8,
    },
    Delete {
        node: u32,
        key: u8,
    },
    /// Client `client` reads `key`; its next write-back uses what this read returns.
    Read {
        node: u32,
        key: u8,
        client: u8,
    },
    /// Client `client` writes back to the key it last read, with the context it got (blindly
    /// if its read failed or has not been answered).
    WriteBack {
        node: u32,
        client: u8,
        value: u8,
    },
    /// Writes over the siblings `node` holds, with their context.
    Resolve {
        node: u32,
        key: u8,
        value: u8,
    },
    Cut(u32, u32),
    CutOneWay(u32, u32),
    Heal(u32, u32),
    Partition(Vec<u32>),
    HealAll,
    Crash(u32),
    Recover {
        node: u32,
        wipe: bool,
    },
    Wait(u64),
}

fn op(nodes: u32, wipes: bool) -> impl Strategy<Value = Op> {
    let node = 1..=nodes;
    let key = 0..KEYS;
    let client = 0..CLIENTS;
    prop_oneof![
        3 => (node.clone(), key.clone(), any::<u8>()).prop_map(|(node, key, value)| Op::Write { node, key, value }),
        1 => (node.clone(), key.clone()).prop_map(|(node, key)| Op::Delete { node, key }),
        3 => (node.clone(), key.clone(), client.clone()).prop_map(|(node, key, client)| Op::Read { node, key, client }),
        4 => (node.clone(), client, any::<u8>()).prop_map(|(node, client, value)| Op::WriteBack { node, client, value }),
        1 => (node.clone(), key, any::<u8>()).prop_map(|(node, key, value)| Op::Resolve { node, key, value }),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Cut(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::CutOneWay(a, b)),
        1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Heal(a, b)),
        1 => prop::collection::vec(0..2u32, nodes as usize).prop_map(Op::Partition),
        1 => Just(Op::HealAll),
        1 => node.clone().prop_map(Op::Crash),
        1 => (node, any::<bool>()).prop_map(move |(node, wipe)| Op::Recover { node, wipe: wipe && wipes }),
        4 => (0u64..700).prop_map(Op::Wait),
    ]
}

/// A cluster's settings: every mechanism in some mix, a lossy network, skewed clocks.
fn cluster(coordinated: bool) -> impl Strategy<Value = Settings> {
    (
        (2u32..=5, any::<u64>().prop_map(|s| s >> 11)),
        prop_oneof![Just(None), (2u32..=4).prop_map(Some)],
        (0.0..0.2f64, 0.0..0.2f64),
        strategies::dissemination(),
        prop_oneof![Just(None), strategies::anti_entropy_kind().prop_map(Some)],
        (strategies::level(), strategies::level()),
        (
            strategies::read_repair(),
            strategies::hinted_handoff(),
            prop_oneof![3 => Just(3_600_000u32), 1 => 300u32..3_000],
        ),
    )
        .prop_map(
            move |(
                (nodes, seed),
                n,
                (loss, duplication),
                dissemination,
                anti_entropy,
                (w, r),
                (read_repair, hinted_handoff, grace),
            )| {
                Settings {
                    nodes,
                    seed,
                    latency: Latency::Exponential {
                        base_ms: 5,
                        mean_ms: 60,
                    },
                    loss,
                    duplication,
                    conflict: ConflictMode::VersionVectors,
                    replication_factor: match n {
                        Some(n) if n < nodes => ReplicationFactor::N(n),
                        _ => ReplicationFactor::All,
                    },
                    coordination: if coordinated {
                        Coordination::Quorum
                    } else {
                        Coordination::None
                    },
                    write_quorum: w,
                    read_quorum: r,
                    request_timeout_ms: 500,
                    read_repair,
                    hinted_handoff,
                    hint_interval_ms: 300,
                    dissemination,
                    anti_entropy: anti_entropy.is_some(),
                    anti_entropy_kind: anti_entropy.unwrap_or(AntiEntropyKind::Full),
                    anti_entropy_interval_ms: 300,
                    // A quarter of the runs collect tombstones within the run.
                    tombstone_grace_ms: grace,
                    clock_skew_ms: (0..nodes).map(|i| (i as i64 - 1) * 37).collect(),
                    ..Settings::default()
                }
            },
        )
}

/// A write as its client knows it.
#[derive(Clone, Debug)]
struct Written {
    id: WriteId,
    request: RequestId,
    /// The writes its client had seen: what the read it wrote back after returned, the
    /// siblings it resolved, or (without a context, but under version vectors) what its
    /// coordinator held, which the tutorial's node overwrites.
    saw: Vec<WriteId>,
}

/// The test's own record of the run: what clients did, were told and saw.
#[derive(Debug, Default)]
struct History {
    writes: Vec<Written>,
    /// Each client's latest read.
    reads: [Option<RequestId>; CLIENTS as usize],
    /// Writes of which a wipe destroyed the last stored copy: losing them is not the protocol's fault.
    excused: BTreeSet<WriteId>,
}

impl History {
    /// Notes a write the simulation took, with what its client had seen; returns whether it
    /// was refused instead.
    fn written(
        &mut self,
        result: Result<converge::WriteOutcome, converge::Error>,
        saw: Vec<WriteId>,
    ) -> bool {
        let Ok(outcome) = result else {
            return true;
        };
        assert_eq!(
            outcome.write.0 as usize,
            self.writes.len() + 1,
            "write ids run in order"
        );
        self.writes.push(Written {
            id: outcome.write,
            request: outcome.request,
            saw,
        });
        false
    }

    /// Every write some node holds (as a value or a hint) or a delete whose tombstone was
    /// collected after its grace (as the run's events say: the delete is done), or that was
    /// written by a client that had seen one of those, and so on back.
    fn accounted(&self, sim: &Simulation) -> BTreeSet<WriteId> {
        let mut stack: Vec<WriteId> = Vec::new();
        for id in 1..=sim.node_count() {
            let replica = sim.replica(NodeId(id)).unwrap();
            stack.extend(replica.versions().map(|v| v.write));
            stack.extend(replica.hints().iter().map(|h| h.version.write));
        }
        stack.extend(sim.trace().recent().iter().filter_map(|e| match e {
            converge::TraceEvent::Collect { write, .. } => Some(*write),
            _ => None,
        }));
        let mut accounted = BTreeSet::new();
        while let Some(id) = stack.pop() {
            if accounted.insert(id) {
                stack.extend(&self.writes[id.0 as usize - 1].saw);
            }
        }
        accounted
    }

    /// Whether the client of `w` was told it succeeded, by a replica that took it.
    fn acknowledged(sim: &Simulation, w: &Written) -> bool {
        let view = sim.request(w.request).unwrap();
        view.status == RequestStatus::Ok && view.got > 0
    }

    /// The acknowledged writes nothing accounts for (meaningful when nothing is in flight).
    fn lost(&self, sim: &Simulation) -> Vec<WriteId> {
        let accounted = self.accounted(sim);
        self.writes
            .iter()
            .filter(|w| Self::acknowledged(sim, w) && !accounted.contains(&w.id))
            .map(|w| w.id)
            .collect()
    }
}

/// The ids of what `node` holds for `key`.
fn held(sim: &Simulation, node: u32, key: &str) -> Vec<WriteId> {
    sim.versions_at(NodeId(node), key)
        .map(|vs| vs.iter().map(|v| v.write).collect())
        .unwrap_or_default()
}

/// What a write without a context has seen: nothing under version vectors (Riak's blind
/// write), else what its coordinator holds.
fn blind_saw(sim: &Simulation, node: u32, key: &str) -> Vec<WriteId> {
    match sim.settings().conflict {
        ConflictMode::VersionVectors => Vec::new(),
        _ => held(sim, node, key),
    }
}

/// Applies `op`, recording what clients saw. A refused command must change nothing.
fn apply(sim: &mut Simulation, history: &mut History, op: &Op) {
    let before = sim.to_string();
    let key = |k: u8| format!("k{k}");
    let refused = match op {
        Op::Write {
            node,
            key: k,
            value,
        } => {
            let saw = blind_saw(sim, *node, &key(*k));
            history.written(sim.write(NodeId(*node), &key(*k), &value.to_string()), saw)
        }
        Op::Delete { node, key: k } => {
            let saw = blind_saw(sim, *node, &key(*k));
            history.written(sim.delete(NodeId(*node), &key(*k)), saw)
        }
        Op::Read {
            node,
            key: k,
            client,
        } => match sim.read(NodeId(*node), &key(*k)) {
            Ok(view) => {
                history.reads[*client as usize] = Some(view.id);
                false
            }
            Err(_) => true,
        },
        Op::WriteBack {
            node,
            client,
            value,
        } => {
            let Some(read) = history.reads[*client as usize] else {
                return;
            };
            let view = sim.request(read).unwrap();
            let (options, saw) = match &view.context {
                Some(context) if view.status == RequestStatus::Ok => (
                    ClientOptions {
                        context: Some(context.clone()),
                        ..ClientOptions::default()
                    },
                    view.versions.iter().map(|v| v.write).collect(),
                ),
                _ => (ClientOptions::default(), blind_saw(sim, *node, &view.key)),
            };
            history.written(
                sim.write_with(NodeId(*node), &view.key, Some(&value.to_string()), &options),
                saw,
            )
        }
        Op::Resolve {
            node,
            key: k,
            value,
        } => {
            let saw = held(sim, *node, &key(*k));
            history.written(
                sim.resolve(
                    NodeId(*node),
                    &key(*k),
                    &value.to_string(),
                    &ClientOptions::default(),
                ),
                saw,
            )
        }
        Op::Cut(a, b) => sim.cut(NodeId(*a), NodeId(*b)).is_err(),
        Op::CutOneWay(a, b) => sim.cut_one_way(NodeId(*a), NodeId(*b)).is_err(),
        Op::Heal(a, b) => sim.heal(NodeId(*a), NodeId(*b)).is_err(),
        Op::Partition(sides) => sim.partition(&halves(sides)).is_err(),
        Op::HealAll => {
            sim.heal_all();
            false
        }
        Op::Crash(node) => sim.crash(NodeId(*node)).is_err(),
        Op::Recover { node, wipe } => {
            let refused = sim.recover(NodeId(*node), *wipe).is_err();
            if !refused && *wipe {
                // What no store nor hint accounts for any more, the wipe destroyed (or a
                // message still carries it).
                let accounted = history.accounted(sim);
                history.excused.extend(
                    history
                        .writes
                        .iter()
                        .map(|w| w.id)
                        .filter(|id| !accounted.contains(id)),
                );
            }
            refused
        }
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

/// Runs `ops` on a cluster with `settings`; checks after every step that (under version vectors)
/// the simulation's two counts of lost writes agree and nothing acknowledged was lost but what a
/// wipe destroyed; once quiet, that the test's own record says what the simulation says.
fn check_schedule(settings: Settings, ops: &[Op]) -> Result<(), TestCaseError> {
    let vv = settings.conflict == ConflictMode::VersionVectors;
    let mut sim = Simulation::new(settings).unwrap();
    sim.set_recording(true);
    let mut history = History::default();
    for op in ops {
        apply(&mut sim, &mut history, op);
        let lost = sim.lost_writes();
        if let Some(by_clocks) = sim.lost_writes_by_clocks() {
            prop_assert_eq!(&lost, &by_clocks, "after {:?}\n{}", op, sim);
        }
        if vv {
            let unexcused: Vec<_> = lost
                .iter()
                .filter(|w| !history.excused.contains(w))
                .collect();
            prop_assert!(
                unexcused.is_empty(),
                "lost {:?} after {:?}\n{}",
                unexcused,
                op,
                sim
            );
        }
    }
    heal_everything(&mut sim);
    sim.run_for(5_000);
    // Under arrival order replicas may differ for good, and anti-entropy would compare them
    // for ever: it stops, so that nothing is in flight when the record is compared.
    sim.configure(&SettingsPatch {
        anti_entropy: Some(false),
        ..SettingsPatch::default()
    })
    .unwrap();
    prop_assert!(
        sim.run_until_quiet(120_000),
        "the network never went quiet\n{}",
        sim
    );
    let lost = sim.lost_writes();
    if let Some(by_clocks) = sim.lost_writes_by_clocks() {
        prop_assert_eq!(&lost, &by_clocks, "\n{}", sim);
    }
    prop_assert_eq!(vv, sim.lost_writes_by_clocks().is_some());
    prop_assert_eq!(
        &lost,
        &history.lost(&sim),
        "the test's record disagrees\n{}",
        sim
    );
    // The write list marks the same writes lost, whether it checks each alone (the last 100
    // at most) or all in one pass (more than 100).
    let flagged = |views: Vec<converge::WriteView>| -> Vec<WriteId> {
        views.into_iter().filter(|w| w.lost).map(|w| w.id).collect()
    };
    let recent = sim.recent_writes(100);
    let first_recent = recent.first().map_or(WriteId(u32::MAX), |w| w.id);
    let lost_recent: Vec<WriteId> = lost
        .iter()
        .copied()
        .filter(|w| *w >= first_recent)
        .collect();
    prop_assert_eq!(flagged(recent), lost_recent, "one by one");
    prop_assert_eq!(flagged(sim.writes()), lost, "all at once");
    Ok(())
}

/// Schedules of up to 60 steps on clusters of 2 to 5 nodes; `wipes` lets nodes come back empty.
fn schedules(coordinated: bool, wipes: bool) -> impl Strategy<Value = (Settings, Vec<Op>)> {
    long_schedules(coordinated, wipes, 0..60)
}

/// Schedules of `steps` steps.
fn long_schedules(
    coordinated: bool,
    wipes: bool,
    steps: std::ops::Range<usize>,
) -> impl Strategy<Value = (Settings, Vec<Op>)> {
    cluster(coordinated).prop_flat_map(move |settings| {
        let ops = prop::collection::vec(op(settings.nodes, wipes), steps.clone());
        (Just(settings), ops)
    })
}

proptest! {
    #![proptest_config(cases(4_000))]

    /// Without coordination (broadcast or gossip, with or without anti-entropy): nothing
    /// acknowledged is lost under version vectors.
    #[test]
    fn fire_and_forget_loses_no_acknowledged_write((settings, ops) in schedules(false, false)) {
        check_schedule(settings, &ops)?;
    }

    /// Coordinated quorums, read repair, sloppy and strict hinted handoff: the same.
    #[test]
    fn quorums_lose_no_acknowledged_write((settings, ops) in schedules(true, false)) {
        check_schedule(settings, &ops)?;
    }
}

proptest! {
    #![proptest_config(cases(1_500))]

    /// Nodes that come back empty lose only what they alone held, with or without coordination.
    #[test]
    fn wipes_lose_only_what_they_destroyed(
        (settings, ops) in any::<bool>().prop_flat_map(|coordinated| schedules(coordinated, true)),
    ) {
        check_schedule(settings, &ops)?;
    }

    /// Under arrival order and last writer wins writes are lost, by design; the simulation's
    /// count agrees with the test's record of what clients saw.
    #[test]
    fn the_counts_agree_under_every_conflict_rule(
        (settings, ops) in (any::<bool>(), any::<bool>(), any::<bool>()).prop_flat_map(|(coordinated, lww, wipes)| {
            schedules(coordinated, wipes).prop_map(move |(mut settings, ops)| {
                settings.conflict = if lww { ConflictMode::LastWriterWins } else { ConflictMode::ArrivalOrder };
                (settings, ops)
            })
        }),
    ) {
        check_schedule(settings, &ops)?;
    }
}

proptest! {
    #![proptest_config(cases(150))]

    /// Runs with more than 100 writes, which the write list checks in one pass: the same lost
    /// writes as the test's record, under every conflict rule.
    #[test]
    fn many_writes_are_judged_alike_in_one_pass(
        (settings, ops) in (any::<bool>(), any::<bool>(), 0..3u8).prop_flat_map(|(coordinated, wipes, rule)| {
            long_schedules(coordinated, wipes, 400..500).prop_map(move |(mut settings, ops)| {
                settings.conflict = [ConflictMode::VersionVectors, ConflictMode::LastWriterWins, ConflictMode::ArrivalOrder][rule as usize];
                (settings, ops)
            })
        }),
    ) {
        let writes = ops.iter().filter(|op| matches!(op, Op::Write { .. } | Op::Delete { .. } | Op::WriteBack { .. } | Op::Resolve { .. })).count();
        prop_assume!(writes > 110, "{} writes", writes);
        check_schedule(settings, &ops)?;
    }
}

proptest! {
    #![proptest_config(cases(200_000))]

    /// The long run: `cargo test --release --test lost_writes -- --ignored`.
    #[test]
    #[ignore]
    fn long_run_loses_no_acknowledged_write(
        (settings, ops) in (any::<bool>(), any::<bool>()).prop_flat_map(|(coordinated, wipes)| schedules(coordinated, wipes)),
    ) {
        check_schedule(settings, &ops)?;
    }
}

/// A run of more writes than the log keeps whole (`converge::writes::WRITES_KEPT`): the oldest
/// are forgotten, and the count of lost writes stays what the test's own record says. Each
/// round, nodes 1 and 2 write a fresh key in the same millisecond under last writer wins: the
/// higher node id wins the tie, so node 1's write is acknowledged and then overwritten by a
/// write that never saw it. The test counts a round's write lost when no node holds its value.
#[test]
fn a_run_longer_than_the_write_log_keeps_still_counts_every_lost_write() {
    use converge::writes::WRITES_KEPT;
    let mut sim = common::cluster(3, ConflictMode::LastWriterWins, 20);
    // A key written once, at the start: its newest write outlives the records around it.
    let old = sim.write(NodeId(3), "old", "kept").unwrap();
    sim.run_for(100);
    let mut lost = 0;
    let mut rounds = Vec::new();
    for round in 0..WRITES_KEPT + 1_500 {
        let key = format!("r{round}");
        let a = format!("a{round}");
        let b = format!("b{round}");
        sim.write(NodeId(1), &key, &a).unwrap();
        sim.write(NodeId(2), &key, &b).unwrap();
        sim.run_for(50);
        rounds.push((key, a, b));
    }
    sim.run_for(1_000);
    for (key, a, b) in &rounds {
        let held: Vec<Option<String>> = (1..=3).map(|i| common::value_at(&sim, i, key)).collect();
        for value in [a, b] {
            if !held.contains(&Some(value.clone())) {
                lost += 1;
            }
        }
    }
    assert_eq!(lost, rounds.len(), "every round loses node 1's write");
    let stats = sim.stats();
    assert!(
        stats.writes_forgotten >= WRITES_KEPT as u64,
        "forgot {} of {} writes",
        stats.writes_forgotten,
        stats.writes
    );
    assert_eq!(
        sim.writes().len() as u64,
        stats.writes - stats.writes_forgotten,
        "the forgotten ones are not listed"
    );
    assert!(
        sim.lost_writes().len() < lost,
        "some lost writes were judged as they were forgotten"
    );
    assert_eq!(stats.lost_writes, lost as u64);
    // The first key's only write is long forgotten, and still its newest: a read shows it.
    assert!(sim.writes().iter().all(|w| w.id != old.write));
    let read = sim.read(NodeId(1), "old").unwrap();
    let latest = read
        .latest
        .expect("a read is answered with the key's newest write");
    assert_eq!(
        (latest.id, latest.value.as_deref()),
        (old.write, Some("kept"))
    );
    assert!(!read.stale);
    assert!(sim.converged());
}

/// A write only a message still carries is not lost: its coordinator acknowledged it alone
/// (W = 1), then came back empty while its puts were on their way, and the view of the write
/// (judged one write at a time, as for a short list) must wait for them. Once they arrive the
/// write is held again, and it was never lost.
#[test]
fn a_write_only_a_message_carries_is_not_lost() {
    let mut sim = Simulation::new(Settings {
        nodes: 3,
        seed: 5,
        latency: Latency::Uniform {
            min_ms: 500,
            max_ms: 500,
        },
        coordination: Coordination::Quorum,
        replication_factor: ReplicationFactor::N(3),
        write_quorum: converge::settings::Consistency::Count(1),
        ..Settings::default()
    })
    .unwrap();
    sim.write(NodeId(1), "k", "v").unwrap();
    sim.crash(NodeId(1)).unwrap();
    sim.recover(NodeId(1), true).unwrap();
    sim.run_for(100);
    let view = &sim.writes()[0];
    assert_eq!(view.status, converge::WriteStatus::Acknowledged);
    for node in 1..=3 {
        let replica = sim.replica(NodeId(node)).unwrap();
        assert!(replica.is_empty(), "node {node} holds nothing yet");
    }
    assert!(!view.lost, "two puts still carry it");
    sim.run_for(1_000);
    assert!(!sim.writes()[0].lost);
    assert!(
        !sim.replica(NodeId(2)).unwrap().is_empty(),
        "the put arrived"
    );
    assert_eq!(sim.stats().lost_writes, 0);
}
