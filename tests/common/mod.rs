//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

pub mod golden;

use converge::{ConflictMode, Latency, NodeId, Settings, SettingsPatch, Simulation};

/// Node `id`.
pub fn n(id: u32) -> NodeId {
    NodeId(id)
}

/// A cluster of `nodes` with a constant latency, so that tests can reason about exact times.
pub fn cluster(nodes: u32, conflict: ConflictMode, latency_ms: u32) -> Simulation {
    Simulation::new(Settings {
        nodes,
        conflict,
        latency: Latency::Constant { ms: latency_ms },
        clock_skew_ms: vec![0; nodes as usize],
        ..Settings::default()
    })
    .unwrap()
}

/// Turns anti-entropy on with the given period.
pub fn anti_entropy(sim: &mut Simulation, every_ms: u32) {
    sim.configure(&SettingsPatch {
        anti_entropy: Some(true),
        anti_entropy_interval_ms: Some(every_ms),
        ..SettingsPatch::default()
    })
    .unwrap();
}

/// The value `node` holds for `key`.
pub fn value_at(sim: &Simulation, node: u32, key: &str) -> Option<String> {
    let held = sim.versions_at(n(node), key).unwrap();
    match held {
        [only] => only.value.as_ref().map(|v| v.to_string()),
        [] => None,
        many => Some(
            many.iter()
                .map(|v| v.value.as_deref().unwrap_or("⊘").to_string())
                .collect::<Vec<_>>()
                .join("|"),
        ),
    }
}

/// Every node's value for `key`, node 1 first.
pub fn values(sim: &Simulation, key: &str) -> Vec<Option<String>> {
    (1..=sim.node_count())
        .map(|i| value_at(sim, i, key))
        .collect()
}

/// Whether every replica (up or down) holds exactly the same versions.
pub fn all_replicas_equal(sim: &Simulation) -> bool {
    let stores: Vec<Vec<_>> = (1..=sim.node_count())
        .map(|i| {
            sim.replica(n(i))
                .unwrap()
                .versions()
                .map(|v| v.write)
                .collect()
        })
        .collect();
    stores.windows(2).all(|w| w[0] == w[1])
}

/// Settings for a cluster of `nodes` with constant latency, changed by `patch`.
pub fn settings(nodes: u32, latency_ms: u32, patch: SettingsPatch) -> Settings {
    Settings {
        nodes,
        latency: Latency::Constant { ms: latency_ms },
        clock_skew_ms: vec![0; nodes as usize],
        ..Settings::default()
    }
    .patched(&patch)
    .unwrap()
}

/// A cluster from [`settings`].
pub fn cluster_with(nodes: u32, latency_ms: u32, patch: SettingsPatch) -> Simulation {
    Simulation::new(settings(nodes, latency_ms, patch)).unwrap()
}

/// The outcome of request `id` once it is no longer pending.
pub fn outcome(sim: &Simulation, id: converge::RequestId) -> converge::RequestView {
    sim.request(id).expect("a request made by the test")
}

/// The values a read returned, sorted ("⊘" for a delete).
pub fn read_values(view: &converge::RequestView) -> Vec<String> {
    let mut values: Vec<String> = view
        .versions
        .iter()
        .map(|v| v.value.clone().unwrap_or_else(|| "⊘".into()))
        .collect();
    values.sort();
    values
}

/// The two groups a partition of `sides` (each node's side, 0 or 1, node 1 first) makes.
pub fn halves(sides: &[u32]) -> [Vec<NodeId>; 2] {
    let group = |side| {
        sides
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == side)
            .map(|(i, _)| NodeId(i as u32 + 1))
            .collect()
    };
    [group(0), group(1)]
}

/// Heals every fault: every link, every node (with its store), and the lossy network.
pub fn heal_everything(sim: &mut Simulation) {
    sim.heal_all();
    for id in 1..=sim.node_count() {
        if !sim.is_up(NodeId(id)).unwrap() {
            sim.recover(NodeId(id), false).unwrap();
        }
    }
    sim.configure(&SettingsPatch {
        loss: Some(0.0),
        ..SettingsPatch::default()
    })
    .unwrap();
}

/// Property-test settings with `default` cases, or `PROPTEST_CASES` if set (so a long run can
/// raise every count at once).
pub fn cases(default: u32) -> proptest::test_runner::Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(default);
    proptest::test_runner::Config {
        cases,
        ..proptest::test_runner::Config::default()
    }
}

/// Property-test strategies for settings, shared by the property tests.
pub mod strategies {
    use converge::SettingsPatch;
    use converge::settings::{
        AntiEntropyKind, Consistency, Coordination, Dissemination, HintedHandoff, ReadRepair,
        ReplicationFactor,
    };
    use proptest::prelude::*;

    /// W or R: one, a quorum, or all.
    pub fn level() -> impl Strategy<Value = Consistency> {
        prop_oneof![
            Just(Consistency::One),
            Just(Consistency::Quorum),
            Just(Consistency::All)
        ]
    }

    /// Read repair off, asynchronous or blocking.
    pub fn read_repair() -> impl Strategy<Value = ReadRepair> {
        prop_oneof![
            Just(ReadRepair::Off),
            Just(ReadRepair::Async),
            Just(ReadRepair::Blocking)
        ]
    }

    /// Hinted handoff off, sloppy or strict.
    pub fn hinted_handoff() -> impl Strategy<Value = HintedHandoff> {
        prop_oneof![
            Just(HintedHandoff::Off),
            Just(HintedHandoff::Sloppy),
            Just(HintedHandoff::Strict)
        ]
    }

    /// Broadcast or gossip.
    pub fn dissemination() -> impl Strategy<Value = Dissemination> {
        prop_oneof![Just(Dissemination::Broadcast), Just(Dissemination::Gossip)]
    }

    /// Full or Merkle anti-entropy.
    pub fn anti_entropy_kind() -> impl Strategy<Value = AntiEntropyKind> {
        prop_oneof![Just(AntiEntropyKind::Full), Just(AntiEntropyKind::Merkle)]
    }

    /// Settings drawn at random: every mechanism in some mix, every path a version travels.
    pub fn mechanisms() -> impl Strategy<Value = SettingsPatch> {
        (
            prop_oneof![
                Just(ReplicationFactor::All),
                (2u32..4).prop_map(ReplicationFactor::N)
            ],
            prop_oneof![Just(Coordination::None), Just(Coordination::Quorum)],
            level(),
            level(),
            read_repair(),
            hinted_handoff(),
            anti_entropy_kind(),
            dissemination(),
        )
            .prop_map(
                |(rf, coordination, r, w, read_repair, hinted_handoff, kind, dissemination)| {
                    SettingsPatch {
                        replication_factor: Some(rf),
                        coordination: Some(coordination),
                        read_quorum: Some(r),
                        write_quorum: Some(w),
                        read_repair: Some(read_repair),
                        hinted_handoff: Some(hinted_handoff),
                        anti_entropy_kind: Some(kind),
                        dissemination: Some(dissemination),
                        request_timeout_ms: Some(500),
                        hint_interval_ms: Some(300),
                        ..SettingsPatch::default()
                    }
                },
            )
    }
}
