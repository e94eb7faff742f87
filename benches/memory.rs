//! Memory benchmark: what a run keeps, in live heap bytes, where a person can make it grow.
//!
//! - **burst**: 64 nodes, 5,000 writes given at t = 0 (a 95 KB link can hold 20,000), run until
//!   they have spread, then back to the start and on to 5 s: the peak with time travel (a
//!   [`Timeline`], as the page runs) beside a bare [`Simulation`].
//! - **soak**: a page left running through a lecture: 12 virtual hours of a steady workload
//!   through a [`Timeline`], live bytes at the end of each hour. Quorum requests (8 nodes,
//!   N = 3, R = W = 2, half reads, 20 requests a second over 100 keys), and version vectors with
//!   blind writes and one client in twenty resolving (past 100 siblings a write is refused, as
//!   in Riak: the count of refused writes is printed).
//! - **replay**: how long loading a session takes, and how soon one too heavy to replay (its
//!   messages carry every key, a hundred times a second) is refused.
//!
//! Prints figures; never fails. `cargo bench --bench memory` (`-- --quick` for 2 hours and
//! 1,000 writes, `-- --writes 20000` for more, `-- --only burst`, `replay`, `soak`, `quorum` or `vv`
//! for one of them).

mod common;

use std::time::Instant;

use converge::replica::NodeId;
use converge::rng::Rng;
use converge::settings::{Consistency, Coordination, ReadRepair, ReplicationFactor};
use converge::sim::ClientOptions;
use converge::timeline::MAX_SNAPSHOT_BYTES;
use converge::{Command, ConflictMode, Session, Settings, Simulation, Timeline};

const HOUR_MS: u64 = 60 * 60 * 1000;
const MB: f64 = 1024.0 * 1024.0;

fn mb(bytes: usize) -> String {
    format!("{:.1} MB", bytes as f64 / MB)
}

/// A write through `node` of `key`, with no options: a blind write.
fn write(node: u32, key: String) -> Command {
    Command::Write {
        node: NodeId(node),
        key,
        value: "a value of some thirty bytes..".into(),
        options: ClientOptions::default(),
    }
}

/// `writes` writes at t = 0 on 64 nodes, then 10 s to spread them. Returns the peak bytes,
/// the seconds it took and (with time travel) the snapshots kept and their estimated bytes.
fn burst(writes: u32, time_travel: Option<usize>) -> (usize, f64, Option<(usize, usize)>) {
    let settings = Settings {
        nodes: 64,
        seed: 1,
        ..Settings::default()
    };
    let base = common::reset_peak();
    let start = Instant::now();
    let mut pick = Rng::new(3, 0);
    let command = |pick: &mut Rng, i: u32| write(pick.below(64) as u32 + 1, format!("key{i}"));
    if let Some(budget) = time_travel {
        let mut timeline = Timeline::new(settings).expect("valid settings");
        timeline.set_snapshot_budget(budget);
        for i in 0..writes {
            timeline
                .execute(command(&mut pick, i))
                .expect("a valid write");
        }
        timeline.run_for(10_000);
        let snapshots = timeline.snapshots();
        timeline.seek(0).expect("back to the start");
        timeline.seek(5_000).expect("forward to the middle");
        return (
            common::peak() - base,
            start.elapsed().as_secs_f64(),
            Some(snapshots),
        );
    } else {
        let mut sim = Simulation::new(settings).expect("valid settings");
        for i in 0..writes {
            command(&mut pick, i)
                .apply(&mut sim)
                .expect("a valid write");
        }
        sim.run_for(10_000);
    }
    (common::peak() - base, start.elapsed().as_secs_f64(), None)
}

/// Loading sessions, as a link or a file does: a 10-minute run of 16 nodes with a write every
/// 100 ms, and the heavy one (64 nodes, full anti-entropy every 10 ms over 2,000 keys,
/// here 12 s of it), refused by the work it would take. Returns (seconds to load or refuse,
/// events, work, what happened).
fn replay() -> Vec<(&'static str, f64, u64, u64, String)> {
    let mut rows = Vec::new();
    let mut light = Timeline::new(Settings {
        nodes: 16,
        seed: 5,
        ..Settings::default()
    })
    .expect("valid settings");
    let mut pick = Rng::new(9, 0);
    for i in 0..6_000u64 {
        light.run_until(i * 100);
        let node = pick.below(16) as u32 + 1;
        light
            .execute(write(node, format!("key{}", pick.below(100))))
            .expect("a valid write");
    }
    light.run_until(600_000);
    let mut heavy = Timeline::new(Settings {
        nodes: 64,
        seed: 5,
        anti_entropy: true,
        anti_entropy_interval_ms: 10,
        ..Settings::default()
    })
    .expect("valid settings");
    for i in 0..2_000u32 {
        heavy
            .execute(write(i % 64 + 1, format!("key{i}")))
            .expect("a valid write");
    }
    heavy.run_until(12_000);
    for (what, timeline) in [
        ("16 nodes, 10 min", &light),
        ("64 nodes, AE 10 ms, 2,000 keys, 12 s", &heavy),
    ] {
        let text = timeline.saved(None).expect("a session");
        let session = Session::from_json(&text).expect("a session");
        let start = Instant::now();
        let said = match Timeline::from_session(&session) {
            Ok(_) => format!("loaded ({} KB)", text.len() / 1024),
            Err(e) => format!("refused: {}", &e.to_string()[..80.min(e.to_string().len())]),
        };
        rows.push((
            what,
            start.elapsed().as_secs_f64(),
            timeline.sim().events(),
            timeline.sim().work(),
            said,
        ));
    }
    rows
}

/// The workloads of the soak.
#[derive(Clone, Copy)]
enum Workload {
    Quorum,
    VersionVectors,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Quorum => "quorum, LWW",
            Workload::VersionVectors => "version vectors, blind writes, 1 in 20 a resolve",
        }
    }

    fn id(self) -> &'static str {
        match self {
            Workload::Quorum => "quorum",
            Workload::VersionVectors => "vv",
        }
    }

    fn settings(self) -> Settings {
        let mut settings = Settings {
            nodes: 8,
            seed: 42,
            ..Settings::default()
        };
        match self {
            Workload::Quorum => {
                settings.coordination = Coordination::Quorum;
                settings.replication_factor = ReplicationFactor::N(3);
                settings.write_quorum = Consistency::Quorum;
                settings.read_quorum = Consistency::Quorum;
                settings.read_repair = ReadRepair::Async;
            }
            Workload::VersionVectors => settings.conflict = ConflictMode::VersionVectors,
        }
        settings
    }
}

/// `hours` of `workload` through a timeline; returns live bytes after each hour.
fn soak(workload: Workload, hours: u64) -> Vec<(usize, u64, f64, u64)> {
    const EVERY_MS: u64 = 50;
    const KEYS: u64 = 100;
    let base = common::live();
    let mut timeline = Timeline::new(workload.settings()).expect("valid settings");
    let mut pick = Rng::new(7, 0);
    let mut hourly = Vec::new();
    let start = Instant::now();
    let mut t = 0;
    for _ in 0..hours {
        let end = t + HOUR_MS;
        while t < end {
            t += EVERY_MS;
            timeline.run_until(t);
            let node = pick.below(8) as u32 + 1;
            let key = format!("key{}", pick.below(KEYS));
            let roll = pick.below(20);
            let command = match workload {
                Workload::Quorum if roll < 10 => Command::Read {
                    node: NodeId(node),
                    key,
                    options: ClientOptions::default(),
                },
                // One client in twenty merges the siblings its node holds (the rest write
                // blindly): without it, every key would soon hold the most siblings a key may
                // have, and every write would be refused.
                Workload::VersionVectors if roll == 0 => Command::Resolve {
                    node: NodeId(node),
                    key,
                    value: "merged".into(),
                    options: ClientOptions::default(),
                },
                _ => write(node, key),
            };
            // A resolve where the node holds nothing is refused; nothing changes.
            let _ = timeline.execute(command);
        }
        hourly.push((
            common::live().saturating_sub(base),
            timeline.sim().events(),
            start.elapsed().as_secs_f64(),
            timeline.sim().stats().refused,
        ));
    }
    hourly
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let only = std::env::args()
        .skip_while(|a| a != "--only")
        .nth(1)
        .unwrap_or_default();
    if only.is_empty() || only == "burst" {
        let writes = std::env::args()
            .skip_while(|a| a != "--writes")
            .nth(1)
            .and_then(|w| w.parse().ok())
            .unwrap_or(if quick { 1_000 } else { 5_000 });
        println!("burst: {writes} writes at t = 0 on 64 nodes (broadcast), then 10 s");
        // Without the budget (as before it) 20,000 writes took 10.7 GB: only up to 5,000.
        let unbounded = (writes <= 5_000).then_some(usize::MAX);
        for time_travel in [None, Some(MAX_SNAPSHOT_BYTES)]
            .into_iter()
            .chain(unbounded.map(Some))
        {
            let (peak, seconds, snapshots) = burst(writes, time_travel);
            let what = match time_travel {
                None => "bare Simulation",
                Some(MAX_SNAPSHOT_BYTES) => "with time travel (Timeline)",
                Some(_) => "snapshots without a budget",
            };
            let kept = snapshots.map_or(String::new(), |(n, bytes)| {
                format!("   {n} snapshots kept, {} by their estimate", mb(bytes))
            });
            println!("  {what:<28} peak {:>10}   {seconds:.1} s{kept}", mb(peak));
        }
        println!();
    }
    if only.is_empty() || only == "replay" {
        println!("replay: loading a session as a link or a file does (in one go here)");
        for (what, seconds, events, work, said) in replay() {
            println!("  {what:<36} {events:>9} events {work:>11} work   {seconds:>5.2} s   {said}");
        }
        println!();
    }
    let soaks: Vec<Workload> = [Workload::Quorum, Workload::VersionVectors]
        .into_iter()
        .filter(|w| only.is_empty() || only == "soak" || only == w.id())
        .collect();
    if !soaks.is_empty() {
        let hours = if quick { 2 } else { 12 };
        println!(
            "soak: {hours} virtual hours through a Timeline, 8 nodes, 20 requests a second over 100 keys"
        );
        for workload in soaks {
            println!("  {}", workload.name());
            for (hour, (bytes, events, seconds, refused)) in
                soak(workload, hours).into_iter().enumerate()
            {
                println!(
                    "    hour {:>2}: live {:>10}   {:>11} events   {seconds:>6.1} s   {refused} writes refused (too many siblings)",
                    hour + 1,
                    mb(bytes),
                    events
                );
            }
        }
    }
}
