//! The samples behind the page's plots: what they count, and that they are the same however
//! a run is driven.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::{Consistency, Coordination};
use converge::{
    CONVERGENCE_BUCKETS_MS, ConflictMode, FIRST_INTERVAL, Latency, MAX_SAMPLES, Sample, Settings,
    SettingsPatch, Simulation,
};
use proptest::prelude::*;

fn samples(sim: &Simulation) -> Vec<Sample> {
    sim.samples().samples().copied().collect()
}

/// The sample describing the moment `ms`.
fn at(sim: &Simulation, ms: u64) -> Sample {
    let metrics = sim.samples();
    assert_eq!(ms % metrics.interval(), 0, "no sample at {ms} ms");
    *metrics
        .samples()
        .nth((ms / metrics.interval()) as usize)
        .expect("sampled")
}

#[test]
fn a_crashed_node_that_misses_a_write_is_one_stale_replica_until_anti_entropy_repairs_it() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    sim.crash(n(3)).unwrap();
    sim.write(n(1), "name", "Alice").unwrap();
    sim.run_for(1_000);
    sim.recover(n(3), false).unwrap();
    anti_entropy(&mut sim, 200);
    sim.run_for(2_000);

    // A sample holds what happened before its moment: at 0 ms, nothing. At 100 ms node 2 has
    // the write too; node 3 is down and has missed it.
    assert_eq!(at(&sim, 0), Sample::default());
    assert_eq!(sim.sample().stale_replicas, 0, "now: converged");
    let missed = at(&sim, 100);
    assert_eq!((missed.stale_replicas, missed.divergent_keys), (1, 1));
    assert_eq!((missed.writes, missed.replicate), (1, 2));
    assert_eq!(
        at(&sim, 1_000).stale_replicas,
        1,
        "recovery alone repairs nothing"
    );
    let last = *samples(&sim).last().unwrap();
    assert_eq!((last.stale_replicas, last.divergent_keys), (0, 0));
    assert!(last.anti_entropy > 0);
    assert!(sim.converged());
}

#[test]
fn messages_are_counted_by_kind() {
    let mut sim = cluster(3, ConflictMode::VersionVectors, 10);
    anti_entropy(&mut sim, 100);
    sim.run_for(1_000);
    let quiet = at(&sim, 1_000);
    assert_eq!((quiet.replicate, quiet.requests, quiet.writes), (0, 0, 0));
    assert!(
        quiet.anti_entropy >= 10,
        "every node every 100 ms: {quiet:?}"
    );
    let mut sim = Simulation::new(settings(
        3,
        10,
        SettingsPatch {
            coordination: Some(Coordination::Quorum),
            ..SettingsPatch::default()
        },
    ))
    .unwrap();
    sim.write(n(1), "k", "v").unwrap();
    sim.read(n(2), "k").unwrap();
    sim.run_for(500);
    let s = *samples(&sim).last().unwrap();
    assert_eq!(
        s.replicate, 2,
        "a coordinated write goes to all N replicas: the coordinator is one"
    );
    assert_eq!(s.requests, 2 + 2 + 2, "acks, read requests and replies");
    assert_eq!((s.writes, s.reads, s.failed), (1, 1, 0));
}

#[test]
fn stale_reads_and_failed_requests_are_counted() {
    let mut sim = Simulation::new(settings(
        3,
        20,
        SettingsPatch {
            coordination: Some(Coordination::Quorum),
            write_quorum: Some(Consistency::One),
            read_quorum: Some(Consistency::One),
            ..SettingsPatch::default()
        },
    ))
    .unwrap();
    sim.isolate(n(3)).unwrap();
    sim.write(n(1), "k", "new").unwrap();
    sim.run_for(100);
    sim.read(n(3), "k").unwrap();
    sim.run_for(100);
    sim.configure(&SettingsPatch {
        write_quorum: Some(Consistency::All),
        ..SettingsPatch::default()
    })
    .unwrap();
    sim.write(n(3), "k", "newer").unwrap();
    sim.run_for(2_000);
    let s = *samples(&sim).last().unwrap();
    assert_eq!(
        (s.reads, s.stale_reads),
        (1, 1),
        "node 3 alone never saw it"
    );
    assert_eq!(s.failed, 1, "W = all cannot be met from node 3: {s:?}");
}

#[test]
fn time_to_reach_every_replica_lands_in_its_bucket() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    sim.write(n(1), "a", "1").unwrap();
    sim.run_for(100);
    sim.crash(n(2)).unwrap();
    sim.write(n(1), "b", "2").unwrap();
    sim.run_for(1_000);
    let counts = sim.convergence_times().counts().to_vec();
    let fifty = CONVERGENCE_BUCKETS_MS.partition_point(|&b| b <= 50);
    assert_eq!(
        counts[fifty], 1,
        "the first write took one latency: {counts:?}"
    );
    assert_eq!(counts.iter().sum::<u32>(), 1);
    assert_eq!(sim.writes_not_yet_everywhere(), 1, "node 2 missed b");
    sim.recover(n(2), false).unwrap();
    anti_entropy(&mut sim, 500);
    sim.run_for(3_000);
    assert_eq!(sim.writes_not_yet_everywhere(), 0);
    assert_eq!(sim.convergence_times().counts().iter().sum::<u32>(), 2);
}

#[test]
fn a_long_run_keeps_a_bounded_series_at_a_coarser_interval() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    anti_entropy(&mut sim, 1_000);
    sim.run_for(10 * 60 * 1000);
    let metrics = sim.samples();
    assert!(metrics.len() < MAX_SAMPLES && metrics.len() > MAX_SAMPLES / 4);
    assert!(metrics.interval() > FIRST_INTERVAL);
    assert_eq!(
        metrics.len() as u64,
        10 * 60 * 1000 / metrics.interval() + 1,
        "one sample per interval from 0 to now"
    );
}

fn busy() -> Settings {
    Settings {
        nodes: 5,
        seed: 3,
        latency: Latency::Exponential {
            base_ms: 5,
            mean_ms: 40,
        },
        loss: 0.1,
        anti_entropy: true,
        anti_entropy_interval_ms: 250,
        clock_skew_ms: vec![0; 5],
        ..Settings::default()
    }
}

proptest! {
    #![proptest_config(cases(24))]

    /// However a run is cut into frames (as the page does, a few milliseconds at a time, or
    /// event by event), its samples are the same, and so is the cluster now.
    #[test]
    fn samples_do_not_depend_on_how_the_run_is_driven(
        frames in prop::collection::vec(1u64..400, 1..60),
        writes in prop::collection::vec((1u32..=5, 0u8..4), 1..30),
    ) {
        let mut straight = Simulation::new(busy()).unwrap();
        let mut framed = Simulation::new(busy()).unwrap();
        let mut writes = writes.into_iter();
        for frame in frames {
            // A write at the start of every frame, in both runs at the same moment.
            if let Some((node, key)) = writes.next() {
                for sim in [&mut straight, &mut framed] {
                    sim.write(n(node), &format!("k{key}"), "v").unwrap();
                }
            }
            let end = straight.now() + frame;
            straight.run_until(end);
            // The framed run goes 7 ms at a time, and event by event every other frame.
            let mut odd = false;
            while framed.now() < end {
                let next = (framed.now() + 7).min(end);
                odd = !odd;
                match framed.next_event_time() {
                    Some(t) if odd && t <= next => {
                        framed.step();
                    }
                    _ => {
                        framed.run_until(next);
                    }
                }
            }
            // A step can land on `end` with more events due then: both runs finish the moment.
            framed.run_until(end);
        }
        prop_assert_eq!(samples(&straight), samples(&framed));
        prop_assert_eq!(straight.sample(), framed.sample());
        prop_assert_eq!(straight.convergence_times(), framed.convergence_times());
    }
}

/// Halving keeps the moments it keeps exactly as they were: the plots of the same stretch of
/// time look the same before and after (only half as finely).
#[test]
fn halving_the_samples_keeps_each_kept_moment_as_it_was() {
    let mut sim = cluster(4, ConflictMode::LastWriterWins, 40);
    anti_entropy(&mut sim, 700);
    let mut before = Vec::new();
    for tick in 0..600u64 {
        if tick % 3 == 0 {
            let _ = sim.write(n((tick % 4) as u32 + 1), &format!("k{}", tick % 7), "v");
        }
        if tick % 50 == 10 {
            let _ = sim.crash(n(2));
        }
        if tick % 50 == 30 {
            let _ = sim.recover(n(2), false);
        }
        sim.run_for(500);
        if sim.samples().interval() == FIRST_INTERVAL {
            before = samples(&sim);
        }
    }
    assert!(
        before.len() > MAX_SAMPLES - 10,
        "a series just before the first halving"
    );
    let interval = sim.samples().interval();
    assert!(interval >= 2 * FIRST_INTERVAL, "halved at least once");
    let step = (interval / FIRST_INTERVAL) as usize;
    let after = samples(&sim);
    let mut compared = 0;
    for (i, sample) in after.iter().enumerate() {
        if let Some(old) = before.get(i * step) {
            assert_eq!(sample, old, "the moment {} ms", i as u64 * interval);
            compared += 1;
        }
    }
    assert!(compared > 200, "{compared} moments compared");
    assert!(
        before.iter().any(|s| s.stale_replicas > 0) && before.iter().any(|s| s.writes > 0),
        "the series has something to show"
    );
}
