//! Bad input gets a clear message and leaves the simulation as it was.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{
    ConflictMode, Latency, LinkOverride, MAX_KEY_CHARS, MAX_VALUE_CHARS, SettingsPatch, Simulation,
};

/// Everything an observer can see, to compare before and after a refused command.
fn snapshot(sim: &Simulation) -> String {
    format!(
        "{sim}{:?}{:?}{:?}{}",
        sim.stats(),
        sim.settings(),
        sim.cut_links(),
        sim.trace().hash()
    )
}

fn refused(
    sim: &mut Simulation,
    what: impl FnOnce(&mut Simulation) -> Result<(), converge::Error>,
) -> String {
    let before = snapshot(sim);
    let err = what(sim).expect_err("should be refused");
    assert_eq!(
        snapshot(sim),
        before,
        "a refused command changed the simulation: {err}"
    );
    err.to_string()
}

fn busy() -> Simulation {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 100);
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(30);
    sim
}

#[test]
fn keys_and_values_are_checked() {
    let mut sim = busy();
    let long_key = "k".repeat(MAX_KEY_CHARS + 1);
    let long_value = "v".repeat(MAX_VALUE_CHARS + 1);
    let msg = refused(&mut sim, |s| s.write(n(1), "", "v").map(|_| ()));
    assert!(msg.contains("key is empty"), "{msg}");
    let msg = refused(&mut sim, |s| s.write(n(1), &long_key, "v").map(|_| ()));
    assert!(
        msg.contains("257 characters") && msg.contains("at most 256"),
        "{msg}"
    );
    let msg = refused(&mut sim, |s| s.write(n(1), "k", &long_value).map(|_| ()));
    assert!(
        msg.contains("4097 characters") && msg.contains("at most 4096"),
        "{msg}"
    );
    let msg = refused(&mut sim, |s| s.read(n(1), "").map(|_| ()));
    assert!(msg.contains("key is empty"), "{msg}");
    // The limits count characters, not bytes.
    sim.write(
        n(1),
        &"é".repeat(MAX_KEY_CHARS),
        &"ü".repeat(MAX_VALUE_CHARS),
    )
    .unwrap();
    sim.write(n(1), "empty value", "").unwrap();
}

#[test]
fn unknown_nodes_are_named() {
    let mut sim = busy();
    for bad in [0, 4, 99] {
        let msg = refused(&mut sim, |s| s.write(n(bad), "k", "v").map(|_| ()));
        assert_eq!(
            msg,
            format!("there is no node {bad}: nodes are numbered 1 to 3")
        );
        refused(&mut sim, |s| s.crash(n(bad)));
        refused(&mut sim, |s| s.recover(n(bad), false));
        refused(&mut sim, |s| s.isolate(n(bad)));
        refused(&mut sim, |s| s.cut(n(1), n(bad)));
        refused(&mut sim, |s| s.read(n(bad), "k").map(|_| ()));
    }
}

#[test]
fn node_state_commands_say_what_is_wrong() {
    let mut sim = busy();
    let msg = refused(&mut sim, |s| s.recover(n(2), false));
    assert!(msg.contains("node 2 is not down"), "{msg}");
    sim.crash(n(2)).unwrap();
    let msg = refused(&mut sim, |s| s.crash(n(2)));
    assert!(msg.contains("already down"), "{msg}");
    let msg = refused(&mut sim, |s| s.read(n(2), "k").map(|_| ()));
    assert!(msg.contains("node 2 is down"), "{msg}");
}

#[test]
fn settings_out_of_range_are_refused_whole() {
    let mut sim = busy();
    let cases = [
        SettingsPatch {
            nodes: Some(0),
            ..Default::default()
        },
        SettingsPatch {
            nodes: Some(5000),
            ..Default::default()
        },
        SettingsPatch {
            loss: Some(1.01),
            ..Default::default()
        },
        SettingsPatch {
            duplication: Some(-1.0),
            ..Default::default()
        },
        SettingsPatch {
            loss: Some(f64::INFINITY),
            ..Default::default()
        },
        // A good change beside a bad one is refused with it.
        SettingsPatch {
            loss: Some(0.5),
            anti_entropy_interval_ms: Some(1),
            ..Default::default()
        },
        SettingsPatch {
            latency: Some(Latency::Uniform {
                min_ms: 10,
                max_ms: 5,
            }),
            ..Default::default()
        },
        SettingsPatch {
            clock_skew_ms: Some([("x".into(), 1)].into()),
            ..Default::default()
        },
    ];
    for patch in cases {
        let msg = refused(&mut sim, |s| s.configure(&patch).map(|_| ()));
        assert!(msg.starts_with("setting "), "{msg}");
        refused(&mut sim, |s| s.reset(&patch));
    }
    let msg = refused(&mut sim, |s| {
        s.set_link(
            n(1),
            n(2),
            Some(LinkOverride {
                loss: Some(2.0),
                ..LinkOverride::default()
            }),
        )
    });
    assert!(msg.contains("loss"), "{msg}");
}

#[test]
fn configure_applies_live_and_a_new_node_count_starts_a_new_run() {
    let mut sim = busy();
    let restarted = sim
        .configure(&SettingsPatch {
            loss: Some(0.5),
            ..Default::default()
        })
        .unwrap();
    assert!(!restarted);
    assert_eq!(sim.now(), 30, "the run goes on");
    let restarted = sim
        .configure(&SettingsPatch {
            nodes: Some(5),
            ..Default::default()
        })
        .unwrap();
    assert!(restarted);
    assert_eq!((sim.now(), sim.node_count()), (0, 5));
    assert_eq!(sim.settings().loss, 0.5, "other settings are kept");
}
