//! The golden scenario: runs that exercise every random choice, every fault and every mechanism,
//! whose trace hashes are pinned in `tests/fixtures/golden_trace.txt`. The native test and the
//! wasm test both run them, so a seed replays event for event on both platforms.

use converge::settings::{
    AntiEntropyKind, Consistency, Coordination, Dissemination, HintedHandoff, ReadRepair,
    ReplicationFactor,
};
use converge::{ClientOptions, ConflictMode, Latency, NodeId, Settings, SettingsPatch, Simulation};

/// Runs the scenario and returns `"<hash> <events> <final time>"`.
pub fn run() -> String {
    let mut sim = Simulation::new(Settings {
        nodes: 5,
        seed: 20_261_124,
        latency: Latency::Exponential {
            base_ms: 20,
            mean_ms: 60,
        },
        loss: 0.1,
        duplication: 0.1,
        conflict: ConflictMode::LastWriterWins,
        anti_entropy: true,
        anti_entropy_interval_ms: 700,
        clock_skew_ms: vec![0, -40, 0, 25, 0],
        ..Settings::default()
    })
    .unwrap();
    let n = NodeId;
    for round in 0..20u32 {
        let node = n(round % 5 + 1);
        if sim.is_up(node).unwrap() {
            sim.write(node, &format!("k{}", round % 7), &format!("v{round}"))
                .unwrap();
        }
        sim.run_for(37 + u64::from(round) * 11);
        match round {
            3 => sim.crash(n(3)).unwrap(),
            6 => sim
                .partition(&[vec![n(1), n(2)], vec![n(3), n(4), n(5)]])
                .unwrap(),
            9 => sim.recover(n(3), true).unwrap(),
            11 => sim.cut_one_way(n(5), n(1)).unwrap(),
            13 => sim.heal_all(),
            15 => {
                sim.configure(&SettingsPatch {
                    latency: Some(Latency::Uniform {
                        min_ms: 5,
                        max_ms: 300,
                    }),
                    ..SettingsPatch::default()
                })
                .unwrap();
            }
            _ => {}
        }
        let reader = n((round * 3) % 5 + 1);
        if sim.is_up(reader).unwrap() {
            sim.read(reader, "k1").unwrap();
        }
    }
    sim.run_for(10_000);
    format!("{} | {}", summary(&sim), dynamo())
}

/// `"<hash> <events> <final time>"`.
fn summary(sim: &Simulation) -> String {
    let (hash, count) = (sim.trace().hash(), sim.trace().count());
    format!("{hash:016x} {count} {}", sim.now())
}

/// The mechanisms of Dynamo and its kin: a ring with N = 3 of 6 nodes, quorum requests with
/// sloppy hints and read repair, version vectors, Merkle anti-entropy, deletes and sessions;
/// then gossip without coordination.
fn dynamo() -> String {
    let mut sim = Simulation::new(Settings {
        nodes: 6,
        seed: 77,
        latency: Latency::Exponential {
            base_ms: 10,
            mean_ms: 40,
        },
        loss: 0.05,
        duplication: 0.05,
        conflict: ConflictMode::VersionVectors,
        replication_factor: ReplicationFactor::N(3),
        vnodes: 4,
        coordination: Coordination::Quorum,
        write_quorum: Consistency::Quorum,
        read_quorum: Consistency::Count(2),
        request_timeout_ms: 300,
        read_repair: ReadRepair::Async,
        hinted_handoff: HintedHandoff::Sloppy,
        hint_interval_ms: 150,
        anti_entropy: true,
        anti_entropy_kind: AntiEntropyKind::Merkle,
        anti_entropy_interval_ms: 400,
        tombstone_grace_ms: 1_500,
        ..Settings::default()
    })
    .unwrap();
    let n = NodeId;
    let session = ClientOptions {
        session: Some("s".into()),
        ..ClientOptions::default()
    };
    for round in 0..24u32 {
        let node = n(round % 6 + 1);
        let key = format!("k{}", round % 5);
        if sim.is_up(node).unwrap() {
            let value = (round % 7 != 3).then(|| format!("v{round}"));
            sim.write_with(node, &key, value.as_deref(), &session)
                .unwrap();
            sim.read_with(node, &key, &session).unwrap();
        }
        sim.run_for(53);
        match round {
            4 => sim.crash(n(2)).unwrap(),
            9 => sim.cut(n(1), n(4)).unwrap(),
            12 => sim.recover(n(2), false).unwrap(),
            15 => sim.heal_all(),
            _ => {}
        }
    }
    sim.run_for(5_000);
    sim.configure(&SettingsPatch {
        coordination: Some(Coordination::None),
        dissemination: Some(Dissemination::Gossip),
        gossip_fanout: Some(2),
        ..SettingsPatch::default()
    })
    .unwrap();
    for round in 0..6u32 {
        sim.write(n(round % 6 + 1), "gossip", &round.to_string())
            .unwrap();
        sim.run_for(97);
    }
    sim.run_for(3_000);
    summary(&sim)
}
