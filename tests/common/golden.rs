//! The golden scenario: one run that exercises every random choice and every fault, whose trace
//! hash is pinned in `tests/fixtures/golden_trace.txt`. The native test and the wasm test both
//! run it, so a seed replays event for event on both platforms.

use converge::{ConflictMode, Latency, NodeId, Settings, SettingsPatch, Simulation};

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
    format!(
        "{:016x} {} {}",
        sim.trace().hash(),
        sim.trace().count(),
        sim.now()
    )
}
