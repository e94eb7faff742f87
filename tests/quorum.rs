//! Coordinated quorum requests with R and W (Dynamo; Cassandra's ONE, QUORUM, ALL),
//! and read repair (Cassandra, Riak).
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::{Consistency, Coordination, ReadRepair, ReplicationFactor};
use converge::{
    ClientOptions, ConflictMode, LinkOverride, RequestStatus, SettingsPatch, Simulation,
};

fn quorum(nodes: u32, n: u32, r: Consistency, w: Consistency) -> Simulation {
    cluster_with(
        nodes,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            coordination: Some(Coordination::Quorum),
            replication_factor: Some(ReplicationFactor::N(n)),
            read_quorum: Some(r),
            write_quorum: Some(w),
            request_timeout_ms: Some(400),
            ..Default::default()
        },
    )
}

#[test]
fn a_write_is_answered_after_w_acknowledgements() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::Quorum);
    let out = sim.write(n(1), "k", "v").unwrap();
    assert_eq!(out.status, RequestStatus::Pending, "1 of 2 acks: its own");
    assert_eq!(sim.nodes()[0].pending.len(), 1);
    assert_eq!(
        (
            sim.nodes()[0].pending[0].got,
            sim.nodes()[0].pending[0].needed
        ),
        (1, 2)
    );
    sim.run_for(99);
    assert_eq!(outcome(&sim, out.request).status, RequestStatus::Pending);
    sim.run_for(1);
    let done = outcome(&sim, out.request);
    assert_eq!(
        done.status,
        RequestStatus::Ok,
        "a put and its ack: 2 x 50 ms"
    );
    assert_eq!(done.latency_ms, Some(100));
    assert_eq!(sim.writes()[0].acked_after_ms, Some(100));
    assert!(sim.nodes()[0].pending.is_empty());
}

#[test]
fn a_write_acknowledged_at_w2_survives_the_crash_of_one_replica() {
    let mut sim = quorum(3, 3, Consistency::Count(2), Consistency::Count(2));
    sim.crash(n(3)).unwrap();
    let out = sim.write(n(1), "k", "v").unwrap();
    sim.run_for(500);
    assert_eq!(outcome(&sim, out.request).status, RequestStatus::Ok);
    sim.crash(n(2)).unwrap();
    sim.recover(n(3), false).unwrap();
    // Node 1 still has it; a read of R = 2 from nodes 1 and 3 returns it.
    let read = sim.read(n(3), "k").unwrap();
    sim.run_for(500);
    let read = outcome(&sim, read.id);
    assert_eq!(read.status, RequestStatus::Ok);
    assert_eq!(read_values(&read), vec!["v"]);
    assert!(sim.lost_writes().is_empty());
}

#[test]
fn with_w_equal_to_n_a_partition_makes_writes_fail() {
    let mut sim = quorum(3, 3, Consistency::One, Consistency::All);
    sim.partition(&[vec![n(1), n(2)], vec![n(3)]]).unwrap();
    let out = sim.write(n(1), "k", "v").unwrap();
    assert_eq!(
        out.status,
        RequestStatus::Unavailable,
        "node 3 is unreachable"
    );
    assert_eq!(out.messages, 0, "nothing is sent");
    assert_eq!(sim.stats().unavailable, 1);
    let view = outcome(&sim, out.request);
    assert_eq!((view.got, view.needed), (2, 3));
    assert_eq!(sim.writes()[0].status, converge::WriteStatus::Unavailable);
}

#[test]
fn a_refused_write_is_not_the_newest_write() {
    let mut sim = quorum(3, 3, Consistency::One, Consistency::All);
    sim.write(n(1), "k", "stored").unwrap();
    sim.run_for(1_000);
    sim.crash(n(3)).unwrap();
    let refused = sim.write(n(1), "k", "refused").unwrap();
    assert_eq!(refused.status, RequestStatus::Unavailable);
    // Nothing was stored anywhere: the live replicas hold the newest write there is.
    assert!(sim.converged());
    let key = &sim.keys(None)[0];
    assert_eq!(key.latest, converge::WriteId(1));
    assert!(key.replicas.iter().all(|cell| !cell.stale), "{key:?}");
    assert_eq!(sim.sample().stale_replicas, 0);
    let read = sim.read(n(2), "k").unwrap();
    sim.run_for(1_000);
    let read = outcome(&sim, read.id);
    assert!(!read.stale && read.behind == 0, "{read:?}");
    assert_eq!(read.latest.unwrap().value.as_deref(), Some("stored"));
    assert!(sim.lost_writes().is_empty(), "refused, not acknowledged");
}

#[test]
fn with_r_and_w_of_one_writes_succeed_in_a_partition_and_reads_go_stale() {
    let mut sim = quorum(3, 3, Consistency::One, Consistency::One);
    sim.partition(&[vec![n(1), n(2)], vec![n(3)]]).unwrap();
    let write = sim.write(n(1), "k", "new").unwrap();
    assert_eq!(
        write.status,
        RequestStatus::Ok,
        "W = 1: its own copy is enough"
    );
    sim.run_for(500);
    let read = sim.read(n(3), "k").unwrap();
    assert_eq!(
        read.status,
        RequestStatus::Ok,
        "R = 1: its own copy is enough"
    );
    assert!(read.versions.is_empty());
    assert!(read.stale, "the acknowledged write is not there");
    assert_eq!(read.behind, 1);
}

#[test]
fn a_write_times_out_when_acknowledgements_are_lost() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::All);
    sim.configure(&SettingsPatch {
        loss: Some(1.0),
        ..Default::default()
    })
    .unwrap();
    let out = sim.write(n(1), "k", "v").unwrap();
    sim.run_for(1_000);
    let view = outcome(&sim, out.request);
    assert_eq!(view.status, RequestStatus::TimedOut);
    assert_eq!(view.finished_at, Some(400));
    assert_eq!((view.got, view.needed), (1, 3));
    assert_eq!(sim.stats().timed_out, 1);
}

#[test]
fn each_waiting_request_times_out_at_its_own_deadline_among_requests_that_finish() {
    // One timer per coordinator stands for all its requests: finished ones must not delay or
    // hide the deadline of those still waiting, whatever order they were made in.
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::All);
    let fine = sim.write(n(1), "a", "1").unwrap();
    sim.run_for(100);
    // Node 3's acknowledgements to node 1 are lost on the way (node 1 cannot tell).
    let lossy = LinkOverride {
        loss: Some(1.0),
        ..Default::default()
    };
    sim.set_link(n(3), n(1), Some(lossy)).unwrap();
    let stuck_early = sim.write(n(1), "b", "2").unwrap();
    sim.run_for(50);
    sim.set_link(n(3), n(1), None).unwrap();
    let fine_too = sim.write(n(1), "c", "3").unwrap();
    sim.run_for(50);
    sim.set_link(n(3), n(1), Some(lossy)).unwrap();
    let stuck_late = sim.write(n(1), "d", "4").unwrap();
    sim.run_for(1_000);
    for (id, started, status) in [
        (fine.request, 0, RequestStatus::Ok),
        (stuck_early.request, 100, RequestStatus::TimedOut),
        (fine_too.request, 150, RequestStatus::Ok),
        (stuck_late.request, 200, RequestStatus::TimedOut),
    ] {
        let view = outcome(&sim, id);
        assert_eq!(
            (view.started_at, view.status),
            (started, status),
            "{view:?}"
        );
        if status == RequestStatus::TimedOut {
            assert_eq!(view.finished_at, Some(started + 400), "{view:?}");
        }
    }
}

#[test]
fn a_shorter_timeout_applies_to_requests_made_after_the_change() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::All);
    let lossy = LinkOverride {
        loss: Some(1.0),
        ..Default::default()
    };
    sim.set_link(n(3), n(1), Some(lossy)).unwrap();
    let long = sim.write(n(1), "a", "1").unwrap();
    sim.run_for(10);
    sim.configure(&SettingsPatch {
        request_timeout_ms: Some(100),
        ..Default::default()
    })
    .unwrap();
    let short = sim.write(n(1), "b", "2").unwrap();
    sim.run_for(1_000);
    assert_eq!(outcome(&sim, short.request).finished_at, Some(110));
    assert_eq!(outcome(&sim, long.request).finished_at, Some(400));
}

#[test]
fn a_crashed_coordinator_leaves_its_requests_timed_out() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::All);
    let out = sim.write(n(1), "k", "v").unwrap();
    sim.crash(n(1)).unwrap();
    assert_eq!(outcome(&sim, out.request).status, RequestStatus::TimedOut);
}

#[test]
fn r_plus_w_above_n_reads_see_the_last_acknowledged_write_when_nothing_fails() {
    let mut sim = quorum(5, 3, Consistency::Count(2), Consistency::Count(2));
    for i in 0..20u32 {
        let coordinator = n(i % 5 + 1);
        let out = sim.write(coordinator, "k", &format!("v{i}")).unwrap();
        sim.run_for(300);
        assert_eq!(outcome(&sim, out.request).status, RequestStatus::Ok);
        let reader = n((i * 3) % 5 + 1);
        let read = sim.read(reader, "k").unwrap();
        sim.run_for(300);
        let read = outcome(&sim, read.id);
        assert_eq!(read.status, RequestStatus::Ok);
        assert!(!read.stale, "read {i} missed an acknowledged write");
        assert_eq!(read_values(&read), vec![format!("v{i}")]);
    }
}

#[test]
fn r_or_w_larger_than_n_is_refused() {
    let mut sim = quorum(3, 2, Consistency::One, Consistency::One);
    let err = sim
        .configure(&SettingsPatch {
            write_quorum: Some(Consistency::Count(3)),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
    assert!(err.contains("W = 3 does not fit N = 2"), "{err}");
    let options = ClientOptions {
        quorum: Some(Consistency::Count(5)),
        ..Default::default()
    };
    let err = sim.read_with(n(1), "k", &options).unwrap_err().to_string();
    assert!(err.contains("R = 5 does not fit N = 2"), "{err}");
    assert_eq!(sim.stats().reads, 0);
}

fn repaired_after_read(mode: ReadRepair) -> (Simulation, converge::RequestId) {
    let mut sim = quorum(3, 3, Consistency::All, Consistency::One);
    sim.configure(&SettingsPatch {
        read_repair: Some(mode),
        ..Default::default()
    })
    .unwrap();
    sim.cut(n(1), n(3)).unwrap();
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(500);
    sim.heal_all();
    assert_eq!(value_at(&sim, 3, "k"), None);
    let read = sim.read(n(2), "k").unwrap();
    (sim, read.id)
}

#[test]
fn async_read_repair_answers_then_repairs_the_stale_replica() {
    let (mut sim, read) = repaired_after_read(ReadRepair::Async);
    sim.run_for(100);
    assert_eq!(outcome(&sim, read).status, RequestStatus::Ok);
    assert_eq!(outcome(&sim, read).latency_ms, Some(100));
    sim.run_for(100);
    assert_eq!(value_at(&sim, 3, "k").as_deref(), Some("v"));
    assert_eq!(sim.stats().sent_repair, 1);
}

#[test]
fn blocking_read_repair_answers_once_the_stale_replica_has_it() {
    let (mut sim, read) = repaired_after_read(ReadRepair::Blocking);
    sim.run_for(150);
    assert_eq!(
        outcome(&sim, read).status,
        RequestStatus::Pending,
        "waiting for the repair ack"
    );
    sim.run_for(100);
    let view = outcome(&sim, read);
    assert_eq!(view.status, RequestStatus::Ok);
    assert_eq!(view.latency_ms, Some(200));
    assert_eq!(value_at(&sim, 3, "k").as_deref(), Some("v"));
}

/// R = 1 at the stale replica: the client gets its stale answer at once, and the late replies
/// bring the newer version, which the coordinator merges and repairs in the background: its
/// own store, and any replica that had answered older (Riak repairs once all N replied).
#[test]
fn late_replies_newer_than_the_answer_repair_the_replicas_that_answered_older() {
    for mode in [ReadRepair::Async, ReadRepair::Blocking] {
        let mut sim = quorum(3, 3, Consistency::One, Consistency::One);
        sim.configure(&SettingsPatch {
            read_repair: Some(mode),
            ..Default::default()
        })
        .unwrap();
        sim.partition(&[vec![n(1)], vec![n(2), n(3)]]).unwrap();
        sim.write(n(1), "k", "new").unwrap();
        sim.run_for(500);
        sim.heal_all();
        assert_eq!(values(&sim, "k"), [Some("new".into()), None, None]);
        // Through node 3, with R = 1: its own (empty) reply answers at once.
        let read = sim.read(n(3), "k").unwrap();
        assert_eq!(read.status, RequestStatus::Ok, "{mode:?}");
        assert!(read.versions.is_empty() && read.stale, "{mode:?}");
        sim.run_for(300);
        assert_eq!(
            values(&sim, "k"),
            [Some("new".into()), Some("new".into()), Some("new".into())],
            "{mode:?}: node 3 (the coordinator) and node 2 (which answered empty) repaired"
        );
        assert_eq!(
            sim.stats().sent_repair,
            1,
            "{mode:?}: node 2's; node 3's is local"
        );
    }
}

#[test]
fn without_read_repair_the_stale_replica_stays_stale() {
    let (mut sim, _) = repaired_after_read(ReadRepair::Off);
    sim.run_for(1_000);
    assert_eq!(value_at(&sim, 3, "k"), None);
}

#[test]
fn a_read_made_the_moment_a_write_is_acknowledged_sees_it_though_a_replica_never_got_it() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::Quorum);
    sim.cut(n(1), n(3)).unwrap();
    let out = sim.write(n(1), "k", "new").unwrap();
    while outcome(&sim, out.request).status == RequestStatus::Pending {
        sim.step().unwrap();
    }
    assert_eq!(outcome(&sim, out.request).status, RequestStatus::Ok);
    assert_eq!(
        values(&sim, "k"),
        [Some("new".into()), Some("new".into()), None]
    );
    // Node 3 coordinates: its own empty replica is one answer of the two it needs.
    let read = sim.read(n(3), "k").unwrap();
    sim.run_for(300);
    let read = outcome(&sim, read.id);
    assert_eq!((read.status, read.got), (RequestStatus::Ok, 2));
    assert_eq!(read_values(&read), ["new"]);
}

/// In one millisecond, order decides: a read begun just after a write was acknowledged is stale
/// if it misses it; one begun just before, in the same millisecond, is not (times alone cannot
/// tell the two apart).
#[test]
fn within_one_millisecond_a_read_is_stale_only_if_it_began_after_the_acknowledgement() {
    let mut sim = quorum(3, 3, Consistency::One, Consistency::Quorum);
    sim.cut(n(1), n(3)).unwrap();
    // Two writes whose acknowledgements both reach node 1 at 100 ms.
    let a = sim.write(n(1), "a", "new").unwrap().request;
    let b = sim.write(n(1), "b", "new").unwrap().request;
    let done = |sim: &Simulation, r| outcome(sim, r).status != RequestStatus::Pending;
    while !done(&sim, a) && !done(&sim, b) {
        sim.step().unwrap();
    }
    let now = sim.now();
    let (acked, waiting) = if done(&sim, a) { ("a", b) } else { ("b", a) };
    let other = if acked == "a" { "b" } else { "a" };
    assert!(!done(&sim, waiting));
    assert_eq!(
        sim.next_event_time(),
        Some(now),
        "the other acknowledgement, same millisecond"
    );
    // Node 3 never got either write; R = 1 answers from it alone.
    let after = sim.read(n(3), acked).unwrap();
    let before = sim.read(n(3), other).unwrap();
    while !done(&sim, waiting) {
        sim.step().unwrap();
    }
    assert_eq!(sim.now(), now);
    assert!(after.versions.is_empty() && before.versions.is_empty());
    assert!(
        after.stale,
        "began after its write's acknowledgement, and missed it"
    );
    assert!(
        !before.stale,
        "began before its write's acknowledgement, in the same millisecond"
    );
    assert!(!outcome(&sim, before.id).stale);
    assert_eq!(sim.stats().stale_reads, 1);
}

/// Under arrival order a replica can lose a write it had, to an older one arriving later: a read
/// there returns the older write, and is stale for missing the newer one if that was
/// acknowledged before the read began, even in the same millisecond (the order of events says
/// which came first, where times cannot).
#[test]
fn a_read_that_misses_a_write_its_replica_lost_is_stale_only_if_it_began_after_the_acknowledgement()
{
    let mut sim = cluster_with(
        3,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::ArrivalOrder),
            coordination: Some(Coordination::Quorum),
            replication_factor: Some(ReplicationFactor::N(3)),
            read_quorum: Some(Consistency::Quorum),
            write_quorum: Some(Consistency::All),
            ..Default::default()
        },
    );
    // w1 from node 1 is slow to node 3 (80 ms); w2 from node 2, 10 ms later, reaches every
    // replica by 60 ms, and its two acknowledgements reach node 2 at 110 ms. By then node 3
    // (and node 2) hold w1 again: it arrived after w2.
    let slow = LinkOverride {
        latency: Some(converge::Latency::Constant { ms: 80 }),
        ..Default::default()
    };
    sim.set_link(n(1), n(3), Some(slow)).unwrap();
    sim.write(n(1), "k", "older").unwrap();
    sim.run_for(10);
    let w2 = sim.write(n(2), "k", "newer").unwrap().request;
    while sim.next_event_time().is_some_and(|t| t < 110) {
        sim.step().unwrap();
    }
    assert_eq!(value_at(&sim, 3, "k").as_deref(), Some("older"));
    assert_eq!(outcome(&sim, w2).status, RequestStatus::Pending);
    // The first acknowledgement at 110 ms: w2 still waits for the second.
    sim.step().unwrap();
    assert_eq!(
        (sim.now(), outcome(&sim, w2).status),
        (110, RequestStatus::Pending)
    );
    let before = sim.read(n(3), "k").unwrap();
    sim.step().unwrap();
    assert_eq!(
        (sim.now(), outcome(&sim, w2).status),
        (110, RequestStatus::Ok)
    );
    let after = sim.read(n(3), "k").unwrap();
    // R = 2: both are answered later, after the acknowledgement, by node 3 and node 2, which
    // both hold w1 again; only the order of the beginnings can tell them apart.
    sim.run_for(500);
    let (before, after) = (outcome(&sim, before.id), outcome(&sim, after.id));
    assert_eq!(read_values(&before), ["older"]);
    assert_eq!(read_values(&after), ["older"]);
    assert!(
        !before.stale,
        "began before w2 was acknowledged, in the same millisecond"
    );
    assert!(
        after.stale,
        "began after w2 was acknowledged, and returns what it replaced"
    );
}

/// Quorums judged from the history: a read is stale if it misses a write acknowledged before
/// it began (under version vectors, where blind writes are siblings, one it does not return;
/// under last writer wins, one begun after what it returns). The simulation's stale flag must
/// say the same, and with strict quorums (R + W > N, hinted handoff off) no read that succeeds
/// is stale, whatever is cut or down, and however soon after the acknowledgement it comes.
mod strict_quorums {
    use super::*;
    use converge::{Latency, NodeId, RequestId, Settings};
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Write {
            node: u32,
            key: u8,
            quorum: Option<u32>,
        },
        Read {
            node: u32,
            key: u8,
            quorum: Option<u32>,
        },
        /// A write, then a read at `reader` the moment the write is acknowledged.
        ReadOnAck {
            node: u32,
            reader: u32,
            key: u8,
        },
        Cut(u32, u32),
        CutOneWay(u32, u32),
        HealAll,
        Crash(u32),
        Recover(u32),
        Wait(u64),
    }

    const NODES: u32 = 5;

    fn op() -> impl Strategy<Value = Op> {
        let node = 1..=NODES;
        let key = 0u8..3;
        let raise = prop::option::weighted(0.3, 0u32..5);
        prop_oneof![
            4 => (node.clone(), key.clone(), raise.clone()).prop_map(|(node, key, quorum)| Op::Write { node, key, quorum }),
            4 => (node.clone(), key.clone(), raise).prop_map(|(node, key, quorum)| Op::Read { node, key, quorum }),
            3 => (node.clone(), node.clone(), key).prop_map(|(node, reader, key)| Op::ReadOnAck { node, reader, key }),
            1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::Cut(a, b)),
            1 => (node.clone(), node.clone()).prop_map(|(a, b)| Op::CutOneWay(a, b)),
            1 => Just(Op::HealAll),
            1 => node.clone().prop_map(Op::Crash),
            1 => node.prop_map(Op::Recover),
            3 => (0u64..300).prop_map(Op::Wait),
        ]
    }

    /// A write as its client knows it: its value and request.
    struct Written {
        key: String,
        value: String,
        request: RequestId,
        started_at: u64,
    }

    /// A read, with the writes of its key acknowledged before it began.
    struct Read {
        request: RequestId,
        acknowledged: Vec<usize>,
    }

    #[derive(Default)]
    struct History {
        writes: Vec<Written>,
        reads: Vec<Read>,
    }

    impl History {
        fn write(
            &mut self,
            sim: &mut Simulation,
            node: u32,
            key: u8,
            quorum: Option<u32>,
            w: u32,
        ) -> Option<RequestId> {
            let key = format!("k{key}");
            let value = format!("v{}", self.writes.len());
            let options = ClientOptions {
                quorum: quorum.map(|raise| Consistency::Count((w + raise).min(sim_n(sim)))),
                ..ClientOptions::default()
            };
            let out = sim
                .write_with(NodeId(node), &key, Some(&value), &options)
                .ok()?;
            self.writes.push(Written {
                key,
                value,
                request: out.request,
                started_at: sim.now(),
            });
            Some(out.request)
        }

        fn read(
            &mut self,
            sim: &mut Simulation,
            node: u32,
            key: &str,
            quorum: Option<u32>,
            r: u32,
        ) {
            let acknowledged = (0..self.writes.len())
                .filter(|&i| {
                    let w = &self.writes[i];
                    w.key == key && outcome(sim, w.request).status == RequestStatus::Ok
                })
                .collect();
            let options = ClientOptions {
                quorum: quorum.map(|raise| Consistency::Count((r + raise).min(sim_n(sim)))),
                ..ClientOptions::default()
            };
            if let Ok(view) = sim.read_with(NodeId(node), key, &options) {
                self.reads.push(Read {
                    request: view.id,
                    acknowledged,
                });
            }
        }
    }

    fn sim_n(sim: &Simulation) -> u32 {
        match sim.settings().replication_factor {
            ReplicationFactor::N(n) => n,
            ReplicationFactor::All => sim.node_count(),
        }
    }

    proptest! {
        #![proptest_config(cases(400))]

        #[test]
        fn a_read_returns_every_write_acknowledged_before_it_began(
            seed in any::<u64>().prop_map(|s| s >> 11),
            n in 1u32..=NODES,
            r_share in 0.0f64..1.0,
            strict in prop::bool::weighted(0.7),
            vv in any::<bool>(),
            read_repair in strategies::read_repair(),
            ops in prop::collection::vec(op(), 1..50),
        ) {
            let r = ((f64::from(n) * r_share) as u32).clamp(1, n);
            let w = if strict { n + 1 - r } else { (n - r).max(1) };
            let mut sim = Simulation::new(Settings {
                nodes: NODES,
                seed,
                latency: Latency::Exponential { base_ms: 5, mean_ms: 60 },
                conflict: if vv { ConflictMode::VersionVectors } else { ConflictMode::LastWriterWins },
                coordination: Coordination::Quorum,
                replication_factor: ReplicationFactor::N(n),
                read_quorum: Consistency::Count(r),
                write_quorum: Consistency::Count(w),
                read_repair,
                request_timeout_ms: 400,
                ..Settings::default()
            })
            .unwrap();
            let mut history = History::default();
            for op in &ops {
                match *op {
                    Op::Write { node, key, quorum } => {
                        history.write(&mut sim, node, key, quorum, w);
                    }
                    Op::Read { node, key, quorum } => history.read(&mut sim, node, &format!("k{key}"), quorum, r),
                    Op::ReadOnAck { node, reader, key } => {
                        if let Some(request) = history.write(&mut sim, node, key, None, w) {
                            while outcome(&sim, request).status == RequestStatus::Pending {
                                sim.step();
                            }
                            history.read(&mut sim, reader, &format!("k{key}"), None, r);
                        }
                    }
                    Op::Cut(a, b) => { let _ = sim.cut(NodeId(a), NodeId(b)); }
                    Op::CutOneWay(a, b) => { let _ = sim.cut_one_way(NodeId(a), NodeId(b)); }
                    Op::HealAll => sim.heal_all(),
                    Op::Crash(node) => { let _ = sim.crash(NodeId(node)); }
                    Op::Recover(node) => { let _ = sim.recover(NodeId(node), false); }
                    Op::Wait(ms) => { sim.run_for(ms); }
                }
                // Under last writer wins, two writes in one millisecond are concurrent and one
                // loses by design: every step takes at least a millisecond.
                if !vv {
                    sim.run_for(1);
                }
            }
            sim.run_for(1_000);
            for read in &history.reads {
                let view = outcome(&sim, read.request);
                if view.status != RequestStatus::Ok {
                    continue;
                }
                let got = read_values(&view);
                let at = |value: &str| history.writes.iter().find(|x| x.value == value).map(|x| x.started_at);
                let missed: Vec<&str> = read.acknowledged.iter()
                    .map(|&i| &history.writes[i])
                    .filter(|write| if vv {
                        !got.contains(&write.value)
                    } else {
                        !got.iter().any(|g| at(g) >= Some(write.started_at))
                    })
                    .map(|write| write.value.as_str())
                    .collect();
                prop_assert_eq!(view.stale, !missed.is_empty(), "the flag disagrees: read {:?} missed {:?}", view, missed);
                if r + w > n {
                    prop_assert!(missed.is_empty(), "R = {} W = {} N = {}: read {:?} missed acknowledged {:?}", r, w, n, view, missed);
                }
            }
        }
    }
}

/// The page redraws when `changes` moves: a read still waiting for its replies is a change.
#[test]
fn a_pending_read_or_write_is_a_change_the_page_must_show() {
    let mut sim = quorum(3, 3, Consistency::Quorum, Consistency::Quorum);
    let before = sim.changes();
    let read = sim.read(n(1), "k").unwrap();
    assert_eq!(read.status, RequestStatus::Pending);
    assert!(sim.changes() > before, "the pending read");
    let before = sim.changes();
    let write = sim.write(n(1), "k", "v").unwrap();
    assert_eq!(write.status, RequestStatus::Pending);
    assert!(sim.changes() > before, "the pending write");
    // Only an answered read says what the newest write was and what context it gives.
    let pending = sim.read(n(2), "k").unwrap();
    assert!(pending.latest.is_none() && pending.context.is_none());
    sim.run_for(500);
    let written = sim.request(write.request).unwrap();
    assert_eq!(written.status, RequestStatus::Ok);
    assert!(
        written.latest.is_none() && written.context.is_none(),
        "a write is no read"
    );
    let answered = sim.request(pending.id).unwrap();
    assert_eq!(answered.status, RequestStatus::Ok);
    assert!(answered.latest.is_some() && answered.context.is_some());
}

/// A write refused at once (W = all with a replica out of reach) sends nothing; another write
/// of the key, still on its way to the replicas from a coordinator that holds none of the key,
/// must stay in the running to be the key's newest: once acknowledged, a read at the replica it
/// never reached misses it and is stale.
#[test]
fn a_write_refused_at_once_leaves_the_key_s_other_writes_in_flight_counted() {
    let mut sim = cluster_with(
        5,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            coordination: Some(Coordination::Quorum),
            replication_factor: Some(ReplicationFactor::N(3)),
            read_quorum: Some(Consistency::One),
            write_quorum: Some(Consistency::One),
            ..Default::default()
        },
    );
    let (replicas, _) = sim.preference_list("k").unwrap();
    let others: Vec<_> = (1..=5)
        .map(n)
        .filter(|node| !replicas.contains(node))
        .collect();
    let (x, y, far) = (others[0], others[1], replicas[2]);
    sim.cut(x, far).unwrap();
    sim.cut(y, far).unwrap();
    let sent = sim.write(x, "k", "sent").unwrap();
    let all = ClientOptions {
        quorum: Some(Consistency::All),
        ..Default::default()
    };
    let refused = sim.write_with(y, "k", Some("refused"), &all).unwrap();
    assert_eq!(
        outcome(&sim, refused.request).status,
        RequestStatus::Unavailable
    );
    sim.run_for(200);
    assert_eq!(outcome(&sim, sent.request).status, RequestStatus::Ok);
    assert_eq!(value_at(&sim, far.0, "k"), None);
    let read = sim.read(far, "k").unwrap();
    sim.run_for(200);
    let read = outcome(&sim, read.id);
    assert_eq!(read.status, RequestStatus::Ok);
    assert!(read.stale, "it misses the acknowledged write: {read:?}");
}

/// A write whose coordinator is not a replica of its key stores nothing there and is not
/// answered yet, yet the Writes panel must show it: it is a change too.
#[test]
fn a_write_its_coordinator_only_sends_on_is_a_change_the_page_must_show() {
    let mut sim = quorum(5, 1, Consistency::Count(1), Consistency::Count(1));
    let (replicas, _) = sim.preference_list("k").unwrap();
    let elsewhere = (1..=5)
        .map(n)
        .find(|node| !replicas.contains(node))
        .unwrap();
    let before = sim.changes();
    let write = sim.write(elsewhere, "k", "v").unwrap();
    assert_eq!(write.status, RequestStatus::Pending);
    assert!(
        sim.replica(elsewhere).unwrap().is_empty(),
        "its node keeps nothing"
    );
    assert!(sim.changes() > before);
}

/// A read answered when its last reply arrives changes nothing stored, yet the page must show
/// its answer: the answer is a change.
#[test]
fn an_answer_is_a_change_the_page_must_show() {
    let mut sim = quorum(3, 3, Consistency::All, Consistency::All);
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(1_000);
    let read = sim.read(n(1), "k").unwrap();
    assert_eq!(read.status, RequestStatus::Pending);
    let before = sim.changes();
    sim.run_for(1_000);
    assert_eq!(sim.request(read.id).unwrap().status, RequestStatus::Ok);
    assert!(sim.changes() > before);
}
