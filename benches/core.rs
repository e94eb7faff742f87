//! Core benchmark: simulated events per second for clusters of 3, 64 and 1,000 nodes under a
//! steady stream of writes, beside a bare `BinaryHeap` event queue doing the same number of
//! pushes and pops at the same queue depth, in the same run. Prints figures; never fails.
//!
//! `cargo bench --bench core` (add `-- --quick` for a short run, `-- --only quorum` for one kind of
//! traffic, `-- --nodes 64` for one cluster size, `-- --core-only` to skip the bare queues).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use converge::queue::EventQueue;
use converge::rng::Rng;
use converge::settings::{Consistency, Coordination, ReadRepair, ReplicationFactor};
use converge::{ConflictMode, Latency, NodeId, Settings, Simulation};

mod common;

const MIN_LATENCY_MS: u32 = 1;
const MAX_LATENCY_MS: u32 = 200;
const KEYS: u32 = 100;

/// What one measured run of the core did.
struct CoreRun {
    events: u64,
    elapsed: Duration,
    mean_depth: f64,
    peak_bytes: usize,
}

/// The traffic of a benchmark row.
#[derive(Clone, Copy)]
enum Traffic {
    /// The foundation's: fire-and-forget writes to every node.
    Broadcast,
    /// Dynamo's: coordinated requests to N = 3 replicas, W = R = 2, half of them reads, with
    /// asynchronous read repair.
    Quorum,
}

/// A cluster of `nodes` under a steady stream of `ops_per_ms` client requests every
/// millisecond at random nodes and keys, for `ms` milliseconds of virtual time.
fn run_core(nodes: u32, traffic: Traffic, ops_per_ms: u32, ms: u64) -> CoreRun {
    let mut settings = Settings {
        nodes,
        seed: 42,
        latency: Latency::Uniform {
            min_ms: MIN_LATENCY_MS,
            max_ms: MAX_LATENCY_MS,
        },
        conflict: ConflictMode::LastWriterWins,
        ..Settings::default()
    };
    if let Traffic::Quorum = traffic {
        settings.coordination = Coordination::Quorum;
        settings.replication_factor = ReplicationFactor::N(3);
        settings.write_quorum = Consistency::Quorum;
        settings.read_quorum = Consistency::Quorum;
        settings.read_repair = ReadRepair::Async;
    }
    let mut sim = Simulation::new(settings).expect("benchmark settings are valid");
    sim.set_recording(false);
    let keys: Vec<String> = (0..KEYS).map(|k| format!("key{k}")).collect();
    let mut pick = Rng::new(7, 0);
    let baseline = common::reset_peak();
    let mut depth_sum = 0u64;
    let start = Instant::now();
    for _ in 0..ms {
        for _ in 0..ops_per_ms {
            let node = NodeId(pick.below(u64::from(nodes)) as u32 + 1);
            let key = &keys[pick.below(u64::from(KEYS)) as usize];
            if matches!(traffic, Traffic::Quorum) && pick.below(2) == 0 {
                sim.read(node, key).expect("valid read");
            } else {
                sim.write(node, key, "a value of some thirty bytes..")
                    .expect("valid write");
            }
        }
        sim.run_for(1);
        depth_sum += sim.in_flight_count() as u64;
    }
    let elapsed = start.elapsed();
    let peak_bytes = common::peak() - baseline;
    let stats = sim.stats();
    black_box(sim.converged());
    CoreRun {
        events: stats.events,
        elapsed,
        mean_depth: depth_sum as f64 / ms as f64,
        peak_bytes,
    }
}

/// The payload a bare queue carries: the same size as the core's queued event.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Payload(u64, u64);

/// The classic "hold" model: a queue kept at `depth` events; each step pops the earliest and
/// pushes one at that time plus a latency drawn from the benchmark's latency model.
fn hold_heap(depth: usize, events: u64) -> Duration {
    let mut rng = Rng::new(3, 0);
    let mut heap = BinaryHeap::with_capacity(depth + 1);
    let mut seq = 0u64;
    for _ in 0..depth {
        seq += 1;
        let t = rng.between(0, u64::from(MAX_LATENCY_MS));
        heap.push(Reverse((t, seq, Payload(seq, t))));
    }
    let start = Instant::now();
    for _ in 0..events {
        let Reverse((t, _, payload)) = heap.pop().expect("the queue holds `depth` events");
        black_box(payload);
        seq += 1;
        let next = t + rng.between(u64::from(MIN_LATENCY_MS), u64::from(MAX_LATENCY_MS));
        heap.push(Reverse((next, seq, Payload(seq, next))));
    }
    start.elapsed()
}

/// The same hold model on the core's own timing wheel.
fn hold_wheel(depth: usize, events: u64) -> Duration {
    let mut rng = Rng::new(3, 0);
    let mut queue = EventQueue::new();
    for i in 0..depth as u64 {
        let t = rng.between(0, u64::from(MAX_LATENCY_MS));
        queue.push(t, Payload(i, t));
    }
    let start = Instant::now();
    for i in 0..events {
        let (t, payload) = queue.pop().expect("the queue holds `depth` events");
        black_box(payload);
        let next = t + rng.between(u64::from(MIN_LATENCY_MS), u64::from(MAX_LATENCY_MS));
        queue.push(next, Payload(i, next));
    }
    start.elapsed()
}

fn per_second(events: u64, elapsed: Duration) -> f64 {
    events as f64 / elapsed.as_secs_f64()
}

fn millions(rate: f64) -> String {
    format!("{:.2} M/s", rate / 1e6)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let repeats = if quick { 1 } else { 3 };
    // (nodes, traffic, requests per virtual ms, virtual ms): two to three million events each.
    let cases: [(u32, Traffic, u32, u64); 5] = if quick {
        [
            (3, Traffic::Broadcast, 20, 5_000),
            (64, Traffic::Broadcast, 1, 5_000),
            (1000, Traffic::Broadcast, 1, 300),
            (64, Traffic::Quorum, 10, 5_000),
            (1000, Traffic::Quorum, 10, 5_000),
        ]
    } else {
        [
            (3, Traffic::Broadcast, 50, 30_000),
            (64, Traffic::Broadcast, 2, 20_000),
            (1000, Traffic::Broadcast, 1, 2_500),
            (64, Traffic::Quorum, 20, 20_000),
            (1000, Traffic::Quorum, 20, 20_000),
        ]
    };
    println!(
        "converge core benchmark (best of {repeats}; latency uniform {MIN_LATENCY_MS}-{MAX_LATENCY_MS} ms, last writer wins, {KEYS} keys)"
    );
    println!();
    println!(
        "{:>6} {:>9} {:>10} {:>10} {:>11} {:>11} {:>11} {:>9} {:>10}",
        "nodes",
        "traffic",
        "events",
        "depth",
        "core",
        "bare heap",
        "same wheel",
        "core/heap",
        "peak heap"
    );
    // `-- --only quorum` (or `broadcast`) runs just those rows, for profiling.
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    // `-- --nodes 64` runs just the rows of that cluster size.
    let only_nodes: Option<u32> = args
        .iter()
        .position(|a| a == "--nodes")
        .and_then(|i| args.get(i + 1)?.parse().ok());
    // `-- --core-only` skips the bare queues: one run of the core per row (for callgrind).
    let core_only = args.iter().any(|a| a == "--core-only");
    for (nodes, traffic, ops_per_ms, ms) in cases {
        let name = match traffic {
            Traffic::Broadcast => "broadcast",
            Traffic::Quorum => "quorum",
        };
        if only.as_deref().is_some_and(|o| o != name) || only_nodes.is_some_and(|n| n != nodes) {
            continue;
        }
        if core_only {
            let run = run_core(nodes, traffic, ops_per_ms, ms);
            println!(
                "{:>6} {:>9} {:>10} {:>10.0} {:>11}",
                nodes,
                name,
                run.events,
                run.mean_depth,
                millions(per_second(run.events, run.elapsed)),
            );
            continue;
        }
        let best = (0..repeats)
            .map(|_| run_core(nodes, traffic, ops_per_ms, ms))
            .min_by_key(|run| run.elapsed)
            .expect("at least one repeat");
        let depth = best.mean_depth.round().max(1.0) as usize;
        let heap = (0..repeats)
            .map(|_| hold_heap(depth, best.events))
            .min()
            .expect("at least one repeat");
        let wheel = (0..repeats)
            .map(|_| hold_wheel(depth, best.events))
            .min()
            .expect("at least one repeat");
        let core_rate = per_second(best.events, best.elapsed);
        let heap_rate = per_second(best.events, heap);
        println!(
            "{:>6} {:>9} {:>10} {:>10.0} {:>11} {:>11} {:>11} {:>9.2} {:>7.1} MB",
            nodes,
            name,
            best.events,
            best.mean_depth,
            millions(core_rate),
            millions(heap_rate),
            millions(per_second(best.events, wheel)),
            core_rate / heap_rate,
            best.peak_bytes as f64 / 1e6,
        );
    }
    println!();
    println!("broadcast: fire-and-forget writes to every node (the foundation's traffic);");
    println!(
        "quorum: coordinated requests to N = 3 replicas, W = R = 2, half reads, async read repair."
    );
    println!(
        "core: whole simulated events (deliveries, with replica logic, network model and tracking);"
    );
    println!(
        "bare heap / same wheel: push + pop only, at the core's mean queue depth (the hold model)."
    );
    println!(
        "Target: on 64 nodes core/heap >= 1.00. Peak heap: bytes allocated at once during the run."
    );
}
