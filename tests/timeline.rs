//! Time travel and sessions: going back shows exactly what a fresh run shows at that moment;
//! acting in the past forks a new future; a saved session replays to the same state; bad
//! session text is refused with a clear message and changes nothing.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::settings::{Consistency, Coordination, ReplicationFactor};
use converge::timeline::{HISTORY_COMMANDS, MAX_COMMANDS, MAX_SNAPSHOT_BYTES, SESSION_VERSION};
use converge::{
    ClientOptions, Command, Error, Latency, Session, Settings, SettingsPatch, Simulation, Time,
    Timeline,
};
use proptest::prelude::*;

/// Everything a page could show of a run and every replica's whole state, as text: equal
/// text, equal state.
fn fingerprint(sim: &Simulation) -> String {
    format!(
        "now {} events {} trace {} {:016x}\nstats {:?}\nkeys {:?}\nnodes {:?}\nrequests {:?}\nwrites {:?}\nflights {:?}\nsamples every {} {:?}\nconvergence {:?} pending {}\nreplicas {:?}",
        sim.now(),
        sim.events(),
        sim.trace().count(),
        sim.trace().hash(),
        sim.stats(),
        sim.keys(None),
        sim.nodes(),
        sim.requests(usize::MAX),
        sim.recent_writes(usize::MAX),
        sim.in_flight().collect::<Vec<_>>(),
        sim.samples().interval(),
        sim.samples().samples().collect::<Vec<_>>(),
        sim.convergence_times(),
        sim.writes_not_yet_everywhere(),
        (1..=sim.node_count())
            .map(|i| sim.replica(n(i)).unwrap())
            .collect::<Vec<_>>(),
    )
}

fn settings(quorum: bool) -> Settings {
    let mut s = Settings {
        nodes: 4,
        seed: 11,
        latency: Latency::Uniform {
            min_ms: 20,
            max_ms: 180,
        },
        loss: 0.05,
        duplication: 0.05,
        anti_entropy: true,
        anti_entropy_interval_ms: 700,
        clock_skew_ms: vec![0, 30, -40, 0],
        ..Settings::default()
    };
    if quorum {
        s.coordination = Coordination::Quorum;
        s.replication_factor = ReplicationFactor::N(3);
        s.write_quorum = Consistency::Quorum;
        s.read_quorum = Consistency::Quorum;
    }
    s
}

/// The run straight through, without a timeline: commands given at their times, up to `t`.
fn straight(settings: &Settings, schedule: &[(Time, Command)], t: Time) -> String {
    let mut sim = Simulation::new(settings.clone()).unwrap();
    for (at, command) in schedule.iter().filter(|(at, _)| *at <= t) {
        sim.run_until(*at);
        let _ = command.apply(&mut sim);
    }
    sim.run_until(t);
    fingerprint(&sim)
}

/// The same commands given through a timeline that snapshots every 64 events, which then runs
/// on to `end`.
fn recorded(settings: &Settings, schedule: &[(Time, Command)], end: Time) -> Timeline {
    recorded_with_snapshots(
        settings,
        schedule,
        end,
        64,
        MAX_SNAPSHOT_BYTES,
        HISTORY_COMMANDS,
    )
}

/// The same, with a snapshot every `every` events, at most `budget` bytes of snapshots and
/// `history` commands remembered.
fn recorded_with_snapshots(
    settings: &Settings,
    schedule: &[(Time, Command)],
    end: Time,
    every: u64,
    budget: usize,
    history: usize,
) -> Timeline {
    let mut timeline = Timeline::new(settings.clone()).unwrap();
    timeline.set_snapshot_every(every);
    timeline.set_snapshot_budget(budget);
    timeline.set_history_commands(history);
    for (at, command) in schedule {
        timeline.run_until(*at);
        let _ = timeline.execute(command.clone());
    }
    timeline.run_until(end);
    timeline
}

fn write(node: u32, key: &str, value: &str) -> Command {
    Command::Write {
        node: n(node),
        key: key.into(),
        value: value.into(),
        options: ClientOptions::default(),
    }
}

fn command() -> impl Strategy<Value = Command> {
    let node = 1u32..=4;
    let key = prop::sample::select(vec!["a", "b", "c"]);
    prop_oneof![
        4 => (node.clone(), key.clone(), 0u32..100)
            .prop_map(|(n, k, v)| write(n, k, &v.to_string())),
        2 => (node.clone(), key.clone()).prop_map(|(n, k)| Command::Read {
            node: converge::NodeId(n),
            key: k.into(),
            options: ClientOptions::default(),
        }),
        1 => (node.clone(), key).prop_map(|(n, k)| Command::Delete {
            node: converge::NodeId(n),
            key: k.into(),
            options: ClientOptions::default(),
        }),
        1 => node.clone().prop_map(|n| Command::Crash { node: converge::NodeId(n) }),
        1 => (node.clone(), any::<bool>())
            .prop_map(|(n, wipe)| Command::Recover { node: converge::NodeId(n), wipe }),
        1 => (node.clone(), node).prop_map(|(a, b)| Command::Cut {
            a: converge::NodeId(a),
            b: converge::NodeId(b),
            one_way: a % 2 == 0,
        }),
        1 => Just(Command::HealAll),
        1 => (0u32..30).prop_map(|p| Command::Configure {
            settings: SettingsPatch {
                loss: Some(f64::from(p) / 100.0),
                ..SettingsPatch::default()
            },
        }),
    ]
}

/// Commands at non-decreasing times (several at one millisecond, too).
fn schedule() -> impl Strategy<Value = Vec<(Time, Command)>> {
    prop::collection::vec((0u64..300, command()), 1..25).prop_map(|steps| {
        let mut t = 0;
        steps
            .into_iter()
            .map(|(gap, c)| {
                t += gap;
                (t, c)
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(cases(48))]

    /// Seeks back and forth through snapshots taken every few events show, every time, the
    /// whole state a run from the start shows at that moment; with the snapshots over a small
    /// budget of bytes, and with the earliest history forgotten past a few commands (then a
    /// moment before what is kept is refused, and nothing changes).
    #[test]
    fn going_back_shows_what_a_fresh_run_shows_at_that_moment(
        schedule in schedule(),
        quorum in any::<bool>(),
        every in 1u64..300,
        budget in prop_oneof![Just(MAX_SNAPSHOT_BYTES), 0usize..100_000],
        history in prop_oneof![Just(HISTORY_COMMANDS), 1usize..12],
        targets in prop::collection::vec(0u64..8_000, 1..6),
    ) {
        let settings = settings(quorum);
        let end = 8_000;
        let mut timeline =
            recorded_with_snapshots(&settings, &schedule, end, every, budget, history);
        let (kept, bytes) = timeline.snapshots();
        prop_assert!(kept == 1 || bytes <= budget, "{kept} snapshots hold {bytes} bytes");
        prop_assert!(timeline.log().len() <= history);
        prop_assert_eq!(timeline.forgotten() == 0, timeline.session(None).is_ok());
        prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &schedule, end));
        for t in targets {
            if t < timeline.history_start() {
                let before = fingerprint(timeline.sim());
                let refused = timeline.seek(t).unwrap_err().to_string();
                prop_assert!(refused.contains("forgotten"), "{refused}");
                prop_assert_eq!(fingerprint(timeline.sim()), before);
                continue;
            }
            timeline.seek(t).unwrap();
            prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &schedule, t), "seek to {}", t);
        }
        // Running on from the past replays the remembered future, commands included.
        timeline.run_until(end);
        prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &schedule, end));
    }

    /// A run in slices of a few events (as the page runs a long jump) ends where one run
    /// ends, from the end of the timeline and from the past (replaying remembered commands);
    /// each slice says whether it got there, and only the last does.
    #[test]
    fn running_in_slices_ends_where_one_run_ends(
        schedule in schedule(),
        quorum in any::<bool>(),
        slice in 1u64..400,
        back in 0u64..8_000,
    ) {
        let settings = settings(quorum);
        let end = 8_000;
        let mut timeline = recorded(&settings, &schedule, end);
        timeline.seek(back).unwrap();
        let mut slices = 0;
        while !timeline.run_until_within(end, slice) {
            slices += 1;
            prop_assert!(timeline.sim().now() <= end);
            prop_assert!(slices < 1_000_000, "slices must get there");
        }
        prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &schedule, end));
        prop_assert!(timeline.run_until_within(end, slice), "there already");
        let later = end + 3_000;
        while !timeline.run_until_within(later, slice) {}
        prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &schedule, later));
    }

    /// Seeks to an event (and steps back) through snapshots every few events show what a
    /// timeline that keeps no snapshot but the first shows on its way forward.
    #[test]
    fn going_back_by_events_shows_what_a_run_forward_shows(
        schedule in schedule(),
        quorum in any::<bool>(),
        every in 1u64..300,
        targets in prop::collection::vec(0.0f64..1.0, 1..6),
    ) {
        let settings = settings(quorum);
        let mut timeline = recorded_with_snapshots(
            &settings,
            &schedule,
            6_000,
            every,
            MAX_SNAPSHOT_BYTES,
            HISTORY_COMMANDS,
        );
        let events = timeline.sim().events();
        let session = Session::from_json(&timeline.session(None).unwrap().to_json()).unwrap();
        for share in targets {
            let target = (events as f64 * share) as u64;
            timeline.seek_event(target).unwrap();
            let mut forward = Timeline::from_session(&session).unwrap();
            forward.set_snapshot_every(u64::MAX);
            forward.seek(0).unwrap();
            forward.seek_event(target).unwrap();
            prop_assert_eq!(fingerprint(timeline.sim()), fingerprint(forward.sim()), "event {}", target);
            if target > 0 {
                prop_assert!(timeline.step_back().unwrap());
                forward.seek(0).unwrap();
                forward.seek_event(target - 1).unwrap();
                prop_assert_eq!(fingerprint(timeline.sim()), fingerprint(forward.sim()), "back from event {}", target);
            }
        }
    }

    #[test]
    fn acting_in_the_past_forks_a_new_future(
        schedule in schedule(),
        back in 0u64..3_000,
        node in 1u32..=4,
    ) {
        let settings = settings(true);
        let mut timeline = recorded(&settings, &schedule, 6_000);
        timeline.seek(back).unwrap();
        let up = (node..node + 4).map(|i| i % 4 + 1).find(|&i| timeline.sim().is_up(n(i)).unwrap());
        let fork = match up {
            Some(node) => write(node, "fork", "new future"),
            None => Command::HealAll,
        };
        timeline.execute(fork.clone()).unwrap();
        timeline.run_until(6_000);
        let mut forked: Vec<(Time, Command)> =
            schedule.iter().filter(|(at, _)| *at <= back).cloned().collect();
        forked.push((back, fork));
        prop_assert_eq!(fingerprint(timeline.sim()), straight(&settings, &forked, 6_000));
        prop_assert!(timeline.log().iter().all(|l| l.at <= back));
    }

    #[test]
    fn a_saved_session_replays_to_the_same_moment(
        schedule in schedule(),
        quorum in any::<bool>(),
        back in 0u64..5_000,
        by_event in any::<bool>(),
    ) {
        let mut settings = settings(quorum);
        if by_event {
            // Messages sent together arrive together: many events share a millisecond.
            settings.latency = Latency::Constant { ms: 100 };
        }
        let mut timeline = recorded(&settings, &schedule, 5_000);
        if by_event {
            // A moment between two events of one millisecond: the time alone does not name it.
            let events = timeline.sim().events();
            timeline.seek_event(events * back / 5_000).unwrap();
        } else {
            timeline.seek(back).unwrap();
        }
        let text = timeline.session(None).unwrap().to_json();
        let loaded = Timeline::from_session(&Session::from_json(&text).unwrap()).unwrap();
        prop_assert_eq!(fingerprint(loaded.sim()), fingerprint(timeline.sim()));
        prop_assert_eq!(loaded.end(), 5_000);
        prop_assert_eq!(loaded.log(), timeline.log());
    }
}

#[test]
fn stepping_back_event_by_event_retraces_the_steps_forward() {
    let settings = settings(true);
    let mut timeline = Timeline::new(settings).unwrap();
    timeline.execute(write(1, "k", "v1")).unwrap();
    timeline.run_until(150);
    timeline.step().unwrap(); // from here on, every moment is just after an event
    let mut seen = vec![fingerprint(timeline.sim())];
    for i in 0..40 {
        if i == 7 {
            // A command between two events of the same moment, after a single step.
            timeline.execute(write(2, "k", "v2")).unwrap();
            seen.pop();
            seen.push(fingerprint(timeline.sim()));
        }
        timeline.step().unwrap();
        seen.push(fingerprint(timeline.sim()));
    }
    seen.pop();
    while let Some(expected) = seen.pop() {
        assert!(timeline.step_back().unwrap());
        assert_eq!(fingerprint(timeline.sim()), expected);
    }
}

#[test]
fn a_long_run_jumps_back_from_nearby_snapshots() {
    // Ten minutes of steady traffic on 16 nodes: every jump replays a bounded stretch.
    let settings = Settings {
        nodes: 16,
        anti_entropy: true,
        clock_skew_ms: vec![0; 16],
        ..Settings::default()
    };
    let mut timeline = Timeline::new(settings.clone()).unwrap();
    let mut schedule = Vec::new();
    for tick in 0..6_000u32 {
        let (at, command) = (
            Time::from(tick) * 100,
            write(tick % 16 + 1, &format!("k{}", tick % 20), "v"),
        );
        timeline.run_until(at);
        timeline.execute(command.clone()).unwrap();
        schedule.push((at, command));
    }
    timeline.run_until(600_000);
    let events = timeline.sim().events();
    assert!(events > 100_000, "a long run: {events} events");
    let at_end = fingerprint(timeline.sim());
    let started = std::time::Instant::now();
    for t in [300_000, 10_000, 599_000, 123_456] {
        timeline.seek(t).unwrap();
        assert_eq!(timeline.sim().now(), t);
    }
    let jumps = started.elapsed();
    for t in [10_000, 123_456] {
        timeline.seek(t).unwrap();
        assert_eq!(
            fingerprint(timeline.sim()),
            straight(&settings, &schedule, t),
            "seek to {t}"
        );
    }
    timeline.seek(600_000).unwrap();
    assert_eq!(fingerprint(timeline.sim()), at_end);
    // A jump forward restores a snapshot ahead: the events it keeps are still the run's last.
    timeline.seek(1_000).unwrap();
    timeline.seek(450_000).unwrap();
    let mut fresh = Simulation::new(settings).unwrap();
    for (at, command) in schedule.iter().filter(|(at, _)| *at <= 450_000) {
        fresh.run_until(*at);
        command.apply(&mut fresh).unwrap();
    }
    fresh.run_until(450_000);
    let kept = timeline.sim().trace().recent();
    let all = fresh.trace().recent();
    assert_eq!(timeline.sim().trace().count(), fresh.trace().count());
    assert!(kept.len() <= all.len());
    assert!(kept.iter().eq(all.iter().skip(all.len() - kept.len())));
    // Printed, not asserted: speed is for the benchmark, and machines differ.
    println!("4 jumps over {events} events took {jumps:?}");
}

#[test]
fn a_session_names_every_setting_so_new_defaults_cannot_change_it() {
    let timeline = Timeline::new(settings(true)).unwrap();
    let session = timeline.session(None).unwrap();
    let text = session.to_json();
    for name in [
        "nodes",
        "seed",
        "latency",
        "writeQuorum",
        "clockSkewMs",
        "tombstoneGraceMs",
    ] {
        assert!(
            text.contains(&format!("\"{name}\"")),
            "{name} missing from {text}"
        );
    }
    assert_eq!(
        Settings::default().patched(&session.settings).unwrap(),
        settings(true)
    );
}

fn refused(text: &str) -> String {
    match Session::from_json(text).and_then(|s| Timeline::from_session(&s)) {
        Err(Error::InvalidSession(problem)) => problem,
        Err(other) => panic!("expected a session error, got {other:?}"),
        Ok(_) => panic!("expected {text:.200} to be refused"),
    }
}

fn saved() -> String {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.execute(write(1, "k", "v")).unwrap();
    timeline.run_until(500);
    timeline.session(None).unwrap().to_json()
}

#[test]
fn malformed_sessions_are_refused_with_a_reason() {
    let good = saved();
    assert!(refused(&good[..good.len() / 2]).contains("not JSON"));
    assert!(
        refused("[1, 2]").contains("not JSON")
            || refused("[1, 2]").contains("not a converge session")
    );
    assert!(
        refused(r#"{"format": "something-else", "version": 1}"#).contains("not a converge session")
    );
    let newer = good.replace(
        &format!("\"version\":{SESSION_VERSION}"),
        &format!("\"version\":{}", SESSION_VERSION + 1),
    );
    assert!(refused(&newer).contains("newer converge"));
    let older = good.replace(&format!("\"version\":{SESSION_VERSION}"), "\"version\":0");
    assert!(refused(&older).contains("version is 0"));
    let huge = format!("{}{}", good, " ".repeat(2_000_001));
    assert!(refused(&huge).contains("at most"));
    let unknown = good.replace("\"commands\"", "\"extra\":1,\"commands\"");
    assert!(refused(&unknown).contains("unknown field"));
}

#[test]
fn sessions_whose_commands_do_not_fit_the_run_are_refused() {
    let good = saved();
    let session = Session::from_json(&good).unwrap();

    let mut bad_node = session.clone();
    bad_node.commands[0].command = write(9, "k", "v");
    let problem = refused(&bad_node.to_json());
    assert!(problem.contains("there is no node 9"), "{problem}");

    let mut too_early = session.clone();
    too_early.commands[0].events = 1_000;
    assert!(refused(&too_early.to_json()).contains("after event 1000"));

    let mut out_of_order = session.clone();
    out_of_order.commands.push(out_of_order.commands[0].clone());
    out_of_order.commands[1].at = 0;
    out_of_order.commands[0].at = 10;
    assert!(refused(&out_of_order.to_json()).contains("comes before"));

    let mut many = session.clone();
    many.commands = vec![session.commands[0].clone(); MAX_COMMANDS + 1];
    assert!(refused(&many.to_json()).contains("at most"));

    let mut restart = session.clone();
    restart.commands[0].command = Command::Configure {
        settings: SettingsPatch {
            nodes: Some(5),
            ..SettingsPatch::default()
        },
    };
    assert!(refused(&restart.to_json()).contains("new run"));

    let mut far = session;
    far.end = 10 * 24 * 60 * 60 * 1000;
    assert!(refused(&far.to_json()).contains("end"));
}

#[test]
fn session_bounds_take_what_is_at_their_limit() {
    let session = Session::from_json(&saved()).unwrap();
    let takes = |s: &Session| Session::from_json(&s.to_json()).is_ok();

    let mut most = session.clone();
    most.commands = vec![session.commands[0].clone(); MAX_COMMANDS];
    assert!(takes(&most), "exactly {MAX_COMMANDS} commands");

    // One day, in milliseconds, written out rather than taken from the constant.
    let mut day = session.clone();
    day.end = 86_400_000;
    assert!(takes(&day), "an end of exactly one day");
    day.end += 1;
    assert!(!takes(&day), "a millisecond past a day");

    let mut at_end = session.clone();
    at_end.commands[0].at = at_end.end;
    assert!(takes(&at_end), "a command at the session's end");

    let mut replay = session.clone();
    replay.commands[0].events = 30_000_000;
    assert!(takes(&replay), "a command after exactly 30 million events");
    replay.commands[0].events += 1;
    assert!(!takes(&replay));

    // A file of exactly the most bytes a session may have.
    let text = session.to_json();
    let padded = format!("{text}{}", " ".repeat(2_000_000 - text.len()));
    assert_eq!(padded.len(), 2_000_000);
    assert!(Session::from_json(&padded).is_ok());
    assert!(Session::from_json(&format!("{padded} ")).is_err());

    // Options left at their defaults are not written out.
    assert!(!text.contains("\"options\""), "{text}");
}

#[test]
fn the_moment_shown_includes_the_commands_before_it() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.run_until(100);
    timeline.execute(write(1, "k", "a")).unwrap();
    timeline.run_until(200);
    timeline.execute(write(2, "k", "b")).unwrap();
    timeline.run_until(300);
    assert_eq!(timeline.applied(), 2);
    timeline.seek(150).unwrap();
    assert_eq!(timeline.applied(), 1);
    timeline.seek(50).unwrap();
    assert_eq!(timeline.applied(), 0);
    timeline.seek(300).unwrap();
    assert_eq!(timeline.applied(), 2);
}

#[test]
fn running_says_how_many_events_it_handled() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.execute(write(1, "k", "a")).unwrap();
    let before = timeline.sim().events();
    let handled = timeline.run_for(300);
    assert!(handled > 1, "the write's messages arrived");
    assert_eq!(timeline.sim().events(), before + handled);
    timeline.execute(write(2, "k", "b")).unwrap();
    let before = timeline.sim().events();
    let handled = timeline.run_until(600);
    assert!(handled > 1);
    assert_eq!(timeline.sim().events(), before + handled);
    assert_eq!(timeline.run_until(600), 0, "nothing left to handle by then");
}

#[test]
fn a_new_command_in_the_past_discards_the_snapshots_of_the_old_future() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.set_snapshot_every(5);
    timeline.execute(write(1, "k", "old")).unwrap();
    timeline.run_until(2_000);
    timeline.seek(500).unwrap();
    // No command after the first: the old future's snapshots name as many commands as now.
    timeline.execute(write(2, "k", "new")).unwrap();
    timeline.run_until(2_000);
    for t in [600, 1_000, 1_900] {
        timeline.seek(t).unwrap();
        assert_eq!(
            value_at(timeline.sim(), 2, "k").as_deref(),
            Some("new"),
            "at {t} ms"
        );
    }
}

#[test]
fn a_command_between_two_events_of_one_millisecond_reopens_there() {
    // Constant latency: both writes' four messages arrive at 100 ms.
    let settings = Settings {
        latency: converge::Latency::Constant { ms: 100 },
        ..settings(false)
    };
    let mut timeline = Timeline::new(settings).unwrap();
    timeline.execute(write(1, "k", "a")).unwrap();
    timeline.execute(write(2, "k", "b")).unwrap();
    timeline.run_until(500);
    // Just after the first arrival at 100 ms, with more due in the same millisecond.
    let first = (1..20)
        .find(|&e| {
            timeline.seek_event(e).unwrap();
            timeline.sim().now() == 100
        })
        .expect("messages arrive at 100 ms");
    timeline.seek_event(first).unwrap();
    assert_eq!(timeline.sim().next_event_time(), Some(100));
    timeline.execute(write(3, "k", "c")).unwrap();
    timeline.run_until(1_000);
    let text = timeline.session(None).unwrap().to_json();
    let loaded = Timeline::from_session(&Session::from_json(&text).unwrap()).unwrap();
    assert_eq!(fingerprint(loaded.sim()), fingerprint(timeline.sim()));
}

#[test]
fn a_command_said_to_come_before_events_due_earlier_is_refused() {
    let mut session = Session::from_json(&saved()).unwrap();
    // The write at 0 ms makes messages due before 400 ms; a command at 400 ms "after event 0"
    // would skip them.
    let mut late = session.commands[0].clone();
    late.at = 400;
    session.commands.push(late);
    let problem = refused(&session.to_json());
    assert!(
        problem.contains("events due earlier were still waiting"),
        "{problem}"
    );
}

#[test]
fn at_most_128_snapshots_are_kept_and_all_128_are_used() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.set_snapshot_every(1);
    let mut most = 0;
    let mut after_thinning = None;
    for i in 0..60u32 {
        timeline
            .execute(write(1 + i % 3, &format!("k{i}"), "v"))
            .unwrap();
        for _ in 0..20 {
            let before = timeline.snapshots().0;
            timeline.step();
            let now = timeline.snapshots().0;
            most = most.max(now);
            if now < before && after_thinning.is_none() {
                after_thinning = Some(now);
            }
        }
    }
    assert_eq!(most, 128, "thinned past 128, not at it");
    // Thinning keeps the first and every other one after it: 65 of 129.
    assert_eq!(after_thinning, Some(65));
    // The first is the start of the run: going back there still works.
    timeline.seek(0).unwrap();
    assert_eq!(timeline.sim().now(), 0);
    assert_eq!(timeline.sim().events(), 0);
}

/// The byte budget thins snapshots by what they hold: under a budget of about twelve empty
/// runs' worth, a run that would keep 128 snapshots keeps only a few, and the bytes the
/// timeline reports are those of the snapshots it keeps, each no smaller than the run's start
/// (sizes from `Simulation::snapshot_bytes`, which `snapshot_memory.rs` holds to what a copy
/// allocates).
#[test]
fn a_byte_budget_keeps_few_snapshots_and_reports_their_bytes() {
    let empty = Timeline::new(settings(false))
        .unwrap()
        .sim()
        .snapshot_bytes();
    let budget = 12 * empty;
    let run = |budget: usize| {
        let mut timeline = Timeline::new(settings(false)).unwrap();
        timeline.set_snapshot_every(1);
        timeline.set_snapshot_budget(budget);
        for i in 0..60u32 {
            timeline
                .execute(write(1 + i % 3, &format!("k{i}"), "v"))
                .unwrap();
            for _ in 0..20 {
                timeline.step();
            }
        }
        timeline
    };
    let unbounded = run(MAX_SNAPSHOT_BYTES).snapshots().0;
    assert!(
        unbounded > 64,
        "{unbounded} snapshots without a byte budget"
    );
    let timeline = run(budget);
    let (kept, bytes) = timeline.snapshots();
    assert!(
        (2..=12).contains(&kept),
        "{kept} snapshots kept under {budget} bytes (an empty run: {empty})"
    );
    assert!(bytes <= budget, "{bytes} bytes over the budget of {budget}");
    assert!(
        bytes >= kept * empty,
        "{kept} snapshots said to hold {bytes} bytes, less than {kept} empty runs ({empty} each)"
    );
}

#[test]
fn script_in_a_key_is_only_text() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    let key = "<script>alert('x')</script>";
    timeline
        .execute(write(1, key, "<img src=x onerror=alert(1)>"))
        .unwrap();
    timeline.run_until(1_000);
    let text = timeline.session(None).unwrap().to_json();
    let loaded = Timeline::from_session(&Session::from_json(&text).unwrap()).unwrap();
    assert_eq!(
        value_at(loaded.sim(), 3, key).as_deref(),
        Some("<img src=x onerror=alert(1)>")
    );
}

#[test]
fn a_new_node_count_starts_a_new_timeline() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.execute(write(1, "k", "v")).unwrap();
    timeline.run_until(1_000);
    let restarted = timeline
        .configure(&SettingsPatch {
            nodes: Some(5),
            ..SettingsPatch::default()
        })
        .unwrap();
    assert!(restarted);
    assert!(timeline.log().is_empty());
    assert_eq!((timeline.sim().now(), timeline.end()), (0, 0));
    assert_eq!(timeline.sim().node_count(), 5);
}

#[test]
fn every_kept_event_leads_back_to_the_moment_it_happened() {
    let mut timeline = Timeline::new(settings(true)).unwrap();
    timeline.execute(write(1, "k", "v")).unwrap();
    timeline.run_until(300);
    timeline.execute(Command::Crash { node: n(2) }).unwrap();
    timeline.run_until(2_000);
    let trace = timeline.sim().trace().clone();
    assert_eq!(trace.recent().len(), trace.positions().len());
    assert!(trace.positions().iter().is_sorted());
    let first = trace.count() - trace.recent().len() as u64;
    for (i, (event, position)) in trace
        .recent()
        .iter()
        .zip(trace.positions())
        .enumerate()
        .step_by(7)
    {
        timeline.seek_event(*position).unwrap();
        let now = timeline.sim();
        // The event is among those recorded by then, and at that moment's time.
        assert!(now.trace().count() > first + i as u64, "{event:?}");
        assert_eq!(now.trace().recent().get(i), Some(event));
        assert_eq!(now.now(), event.time());
    }
}

#[test]
fn an_event_filter_picks_by_node_key_and_kind() {
    use converge::trace::EventFilter;
    let mut timeline = Timeline::new(settings(false)).unwrap();
    timeline.execute(write(1, "a", "1")).unwrap();
    timeline.execute(write(2, "b", "2")).unwrap();
    timeline.run_until(1_000);
    let events = timeline.sim().trace().recent();
    let pick = |filter: EventFilter| events.iter().filter(|e| e.passes(&filter)).count();
    let writes = EventFilter {
        kinds: Some(vec!["write".into()]),
        ..Default::default()
    };
    assert_eq!(pick(writes.clone()), 2);
    assert_eq!(
        pick(EventFilter {
            key: Some("b".into()),
            ..writes
        }),
        1
    );
    // A key picks the messages about it too: the write's copies sent and delivered.
    let of_b = EventFilter {
        key: Some("b".into()),
        ..Default::default()
    };
    let b_kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.passes(&of_b))
        .map(|e| e.kind())
        .collect();
    assert!(
        b_kinds.contains(&"send") && b_kinds.contains(&"deliver"),
        "{b_kinds:?}"
    );
    assert!(
        b_kinds
            .iter()
            .all(|k| ["write", "send", "deliver", "drop"].contains(k))
    );
    let sends_about = |key: Option<&str>| {
        events
            .iter()
            .filter(|e| e.kind() == "send" && e.key() == key)
            .count()
    };
    let sends = events.iter().filter(|e| e.kind() == "send").count();
    assert_eq!(
        sends_about(Some("a")) + sends_about(Some("b")) + sends_about(None),
        sends,
        "every send is about a or b, or (anti-entropy) about no one key"
    );
    assert!(sends_about(None) > 0, "anti-entropy runs in these settings");
    let at_3 = pick(EventFilter {
        node: Some(n(3)),
        ..Default::default()
    });
    assert!(at_3 > 0 && at_3 < events.len());
    let typo = EventFilter {
        kinds: Some(vec!["wrote".into()]),
        ..Default::default()
    };
    assert!(
        typo.check(4)
            .unwrap_err()
            .to_string()
            .contains("no event kind \"wrote\"")
    );
    // A node the cluster does not have, or a key no key could be, is refused too.
    for (filter, refused) in [
        (
            EventFilter {
                node: Some(n(5)),
                ..Default::default()
            },
            "there is no node 5: nodes are numbered 1 to 4",
        ),
        (
            EventFilter {
                key: Some("k".repeat(300)),
                ..Default::default()
            },
            "the key has 300 characters: keys may have at most 256",
        ),
    ] {
        assert_eq!(filter.check(4).unwrap_err().to_string(), refused);
    }
    assert!(typo.check(4).is_err() && EventFilter::default().check(4).is_ok());
}

// ----- Side by side -----

/// A change of settings to compare with.
fn change() -> impl Strategy<Value = SettingsPatch> {
    prop_oneof![
        Just(SettingsPatch::default()),
        Just(SettingsPatch {
            conflict: Some(converge::ConflictMode::VersionVectors),
            ..SettingsPatch::default()
        }),
        Just(SettingsPatch {
            write_quorum: Some(Consistency::All),
            ..SettingsPatch::default()
        }),
        Just(SettingsPatch {
            anti_entropy: Some(false),
            ..SettingsPatch::default()
        }),
        Just(SettingsPatch {
            seed: Some(12),
            ..SettingsPatch::default()
        }),
    ]
}

proptest! {
    #![proptest_config(cases(32))]

    /// A twin following a leader, through its commands, jumps back and a fork, is the run a
    /// fresh simulation with the changed settings makes from the same commands at the same
    /// moments; with no change, it is the leader itself.
    #[test]
    fn a_twin_is_the_same_commands_run_with_the_changed_settings(
        schedule in schedule(),
        change in change(),
        back in 0u64..3_000,
    ) {
        use converge::compare::Twin;
        let leader_settings = settings(true);
        let twin_settings = leader_settings.patched(&change).unwrap();
        let mut leader = Timeline::new(leader_settings.clone()).unwrap();
        let mut twin = Twin::new(&leader, change.clone()).unwrap();
        for (at, command) in &schedule {
            leader.run_until(*at);
            let _ = leader.execute(command.clone());
            twin.follow(&leader).unwrap();
        }
        leader.run_until(5_000);
        twin.follow(&leader).unwrap();
        prop_assert_eq!(fingerprint(twin.timeline().sim()), straight(&twin_settings, &schedule, 5_000));
        if change == SettingsPatch::default() {
            prop_assert_eq!(fingerprint(twin.timeline().sim()), fingerprint(leader.sim()));
        }
        // Back in time with the leader, and a new future from there.
        leader.seek(back).unwrap();
        twin.follow(&leader).unwrap();
        prop_assert_eq!(fingerprint(twin.timeline().sim()), straight(&twin_settings, &schedule, back));
        let fork = Command::HealAll;
        leader.execute(fork.clone()).unwrap();
        leader.run_until(5_000);
        twin.follow(&leader).unwrap();
        let mut forked: Vec<(Time, Command)> =
            schedule.iter().filter(|(at, _)| *at <= back).cloned().collect();
        forked.push((back, fork));
        prop_assert_eq!(fingerprint(twin.timeline().sim()), straight(&twin_settings, &forked, 5_000));
    }
}

#[test]
fn side_by_side_w_one_against_w_all_under_a_partition() {
    use converge::compare::Twin;
    let mut s = settings(true);
    s.loss = 0.0;
    s.duplication = 0.0;
    s.anti_entropy = false;
    s.write_quorum = Consistency::One;
    let mut leader = Timeline::new(s).unwrap();
    let all = SettingsPatch {
        write_quorum: Some(Consistency::All),
        ..SettingsPatch::default()
    };
    let mut twin = Twin::new(&leader, all).unwrap();
    leader
        .execute(Command::Partition {
            groups: vec![vec![n(1), n(2)], vec![n(3), n(4)]],
        })
        .unwrap();
    leader.execute(write(1, "k", "v")).unwrap();
    leader.run_for(3_000);
    twin.follow(&leader).unwrap();
    let (a, b) = (leader.sim().stats(), twin.timeline().sim().stats());
    assert_eq!(
        (a.writes, a.unavailable + a.timed_out),
        (1, 0),
        "W = 1 succeeds"
    );
    assert_eq!(
        (b.writes, b.unavailable + b.timed_out),
        (1, 1),
        "W = all cannot reach every replica"
    );
    assert_eq!(twin.timeline().sim().now(), leader.sim().now());
    assert!(twin.skipped().is_empty());
}

#[test]
fn a_command_the_twin_cannot_take_is_skipped_and_said() {
    use converge::compare::Twin;
    let leader_settings = settings(false);
    let mut leader = Timeline::new(leader_settings).unwrap();
    let fewer = SettingsPatch {
        nodes: Some(3),
        ..SettingsPatch::default()
    };
    let mut twin = Twin::new(&leader, fewer).unwrap();
    leader.run_until(100);
    leader.execute(write(4, "k", "v")).unwrap();
    leader.execute(write(1, "k", "w")).unwrap();
    twin.follow(&leader).unwrap();
    assert_eq!(twin.skipped().len(), 1);
    assert!(
        twin.skipped()[0].contains("0.100 s") && twin.skipped()[0].contains("no node 4"),
        "{:?}",
        twin.skipped()
    );
    assert_eq!(twin.timeline().sim().stats().writes, 1);
    // A new run of the leader (another seed) starts the twin again from it, with the change.
    leader
        .reset(&SettingsPatch {
            seed: Some(99),
            ..SettingsPatch::default()
        })
        .unwrap();
    twin.follow(&leader).unwrap();
    assert!(twin.skipped().is_empty());
    assert_eq!(twin.timeline().sim().settings().seed, 99);
    assert_eq!(twin.timeline().sim().settings().nodes, 3);
    assert_eq!(twin.timeline().sim().now(), 0);
}

/// A session whose replay would take more than 30 million events is refused with a reason,
/// after handling that many and no more (checked with a bound of 200,000: the real one takes
/// seconds to reach). A session just within the bound loads.
#[test]
fn a_session_too_long_to_replay_is_refused() {
    assert_eq!(converge::timeline::MAX_REPLAY_EVENTS, 30_000_000);
    let mut timeline = Timeline::new(Settings {
        nodes: 16,
        anti_entropy: true,
        anti_entropy_interval_ms: 10,
        ..Settings::default()
    })
    .unwrap();
    timeline.run_until(60_000);
    let needed = timeline.sim().events();
    assert!(needed > 200_000, "{needed} events");
    let session = timeline.session(None).unwrap();
    match Timeline::from_session_within(&session, 200_000) {
        Err(Error::InvalidSession(problem)) => {
            assert!(problem.contains("more than 200000 events"), "{problem}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let loaded = Timeline::from_session_within(&session, needed).unwrap();
    assert_eq!(loaded.sim().events(), needed);
    // Saving has the same bound, on the furthest the run went (not the moment shown): a run
    // of exactly that many events is saved, one more is refused.
    timeline.seek(1_000).unwrap();
    assert!(timeline.session_within(None, needed).is_ok());
    match timeline.session_within(None, needed - 1) {
        Err(Error::CannotSave(problem)) => {
            assert!(
                problem.contains(&format!("it has run {needed} events")),
                "{problem}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A run longer than a session can hold forgets its earliest commands (and the history before
/// them): going back stops at the earliest moment kept, stepping back stops there too, and
/// the run can no longer be saved (never a file the page would refuse). A twin following it
/// keeps following, and says why it cannot start again.
#[test]
fn a_long_run_forgets_its_earliest_history_and_says_so() {
    use converge::compare::Twin;
    let settings = settings(true);
    let mut timeline = Timeline::new(settings.clone()).unwrap();
    timeline.set_snapshot_every(50);
    timeline.set_history_commands(40);
    let mut twin = Twin::new(&timeline, SettingsPatch::default()).unwrap();
    let schedule: Vec<(Time, Command)> = (0..200)
        .map(|i| {
            (
                i * 20,
                write(1 + (i % 3) as u32, &format!("k{}", i % 7), "v"),
            )
        })
        .collect();
    for (at, command) in &schedule {
        timeline.run_until(*at);
        let before = timeline.forgotten();
        timeline.execute(command.clone()).unwrap();
        twin.follow(&timeline).unwrap();
        if timeline.forgotten() > before {
            // Forgetting leaves three quarters of the limit or fewer, so it happens seldom.
            assert!(timeline.log().len() <= 30, "{}", timeline.log().len());
        }
    }
    timeline.run_until(5_000);
    twin.follow(&timeline).unwrap();
    assert_eq!(
        fingerprint(twin.timeline().sim()),
        fingerprint(timeline.sim())
    );
    assert_eq!(timeline.forgotten() + timeline.log().len(), 200);
    assert!(timeline.log().len() <= 40);
    let start = timeline.history_start();
    assert!(start > 0 && start <= schedule[200 - timeline.log().len()].0);

    let refused = timeline.session(None).unwrap_err().to_string();
    assert!(refused.starts_with("this run cannot be saved"), "{refused}");
    assert!(refused.contains("forgotten"), "{refused}");
    let refused = timeline.seek(start - 1).unwrap_err().to_string();
    assert!(
        refused.contains(&format!("earliest moment kept is {start} ms")),
        "{refused}"
    );

    // What is kept is exact: the same as a run from the start.
    for t in [start, start + 7, (start + 5_000) / 2, 5_000] {
        timeline.seek(t).unwrap();
        assert_eq!(
            fingerprint(timeline.sim()),
            straight(&settings, &schedule, t),
            "at {t}"
        );
    }
    timeline.seek(start).unwrap();
    let mut steps = 0;
    while timeline.step_back().unwrap() {
        steps += 1;
    }
    assert!(
        timeline.sim().now() >= start,
        "stepped back past the history kept"
    );
    assert_eq!(steps, 0, "at the start of history, there is no step back");

    // A new future in the past makes the twin start again, which it cannot: it says why.
    timeline.seek(3_500).unwrap();
    timeline.execute(Command::HealAll).unwrap();
    let refused = twin.follow(&timeline).unwrap_err().to_string();
    assert!(refused.contains("forgotten"), "{refused}");
}

/// A run whose session text would pass the size a session may have is refused when saved.
#[test]
fn a_run_too_big_for_a_session_file_is_refused_when_saved() {
    let mut timeline = Timeline::new(settings(false)).unwrap();
    let value = "v".repeat(converge::MAX_VALUE_CHARS);
    for i in 0..600 {
        timeline.run_until(i * 10);
        timeline.execute(write(1, "k", &value)).unwrap();
    }
    assert!(
        timeline.session(None).is_ok(),
        "the session itself is within its limits"
    );
    let refused = timeline.saved(None).unwrap_err().to_string();
    assert!(
        refused.starts_with("this run cannot be saved: it would take"),
        "{refused}"
    );
}

/// An event beyond the furthest the run has gone is refused at once (a billion would be hours
/// of running), and nothing changes; the furthest itself is fine, from the past too.
#[test]
fn seeking_past_the_furthest_event_is_refused() {
    let mut timeline = recorded(&settings(true), &[(0, write(1, "k", "v"))], 2_000);
    let furthest = timeline.sim().events();
    timeline.seek(500).unwrap();
    let before = fingerprint(timeline.sim());
    let refused = timeline
        .seek_event(1_000_000_000_000)
        .unwrap_err()
        .to_string();
    assert_eq!(
        refused,
        format!(
            "the run has handled {furthest} events so far: seekEvent goes to one of them (runFor goes further)"
        )
    );
    assert_eq!(fingerprint(timeline.sim()), before);
    timeline.seek_event(furthest).unwrap();
    assert_eq!(timeline.sim().events(), furthest);
}

/// A run can go past one day of virtual time: its end and any moment before it can still be
/// shown (the page's "Latest" seeks to the end), but it can no longer be saved, and seeking
/// further than both a day and its end is refused.
#[test]
fn a_run_past_one_day_can_still_go_to_its_end_but_not_be_saved() {
    let day = converge::timeline::MAX_SESSION_MS;
    let mut timeline = Timeline::new(Settings {
        nodes: 3,
        ..Settings::default()
    })
    .unwrap();
    timeline.execute(write(1, "k", "v")).unwrap();
    timeline.run_until(day + 3_600_000);
    let end = timeline.end();
    timeline.seek(1_000).unwrap();
    timeline.seek(end).unwrap();
    assert_eq!(timeline.sim().now(), end);
    let refused = timeline.seek(end + 1).unwrap_err().to_string();
    assert!(
        refused.contains("more than a day into the run"),
        "{refused}"
    );
    let refused = timeline.session(None).unwrap_err().to_string();
    assert!(
        refused.starts_with("this run cannot be saved: it has run past one day"),
        "{refused}"
    );
}

/// A session replays a slice at a time (the page shows progress between frames), to the same
/// moment as in one go; one whose messages carry too much is refused by the work it takes,
/// not only by its events.
#[test]
fn a_session_replays_in_slices_and_is_refused_by_the_work_it_takes() {
    use converge::timeline::Replay;
    let settings = settings(true);
    let schedule: Vec<(Time, Command)> = (0..300)
        .map(|i| {
            (
                i * 100,
                write(1 + (i % 4) as u32, &format!("k{}", i % 5), "v"),
            )
        })
        .collect();
    let mut timeline = recorded(&settings, &schedule, 31_000);
    timeline.seek(25_000).unwrap();
    let session = Session::from_json(&timeline.saved(None).unwrap()).unwrap();
    let mut replay = Replay::new(session.clone()).unwrap();
    let mut progress = vec![replay.progress()];
    while !replay.step(20).unwrap() {
        progress.push(replay.progress());
    }
    assert!(progress.len() > 5, "{} slices", progress.len());
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    let sliced = replay.finish().unwrap();
    assert_eq!(fingerprint(sliced.sim()), fingerprint(timeline.sim()));

    // Anti-entropy every 10 ms over 300 keys: few events, but each exchange carries every key.
    let mut heavy = Timeline::new(Settings {
        nodes: 16,
        anti_entropy: true,
        anti_entropy_interval_ms: 10,
        ..Settings::default()
    })
    .unwrap();
    for i in 0..300 {
        heavy
            .execute(write(1 + i % 16, &format!("k{i}"), "v"))
            .unwrap();
    }
    heavy.run_until(3_000);
    let (events, work) = (heavy.sim().events(), heavy.sim().work());
    assert!(work > 20 * events, "{work} work for {events} events");
    let session = heavy.session(None).unwrap();
    // Refused at the bound, or before it when the rate so far says it will not fit.
    for (bound, says, early) in [
        (
            work * 2 / 3,
            format!("more than {} events and versions carried", work * 2 / 3),
            false,
        ),
        (
            work / 5,
            format!("and at most {} are allowed", work / 5),
            true,
        ),
    ] {
        let mut replay = Replay::within(session.clone(), u64::MAX, bound).unwrap();
        let refused = loop {
            match replay.step(10_000) {
                Ok(done) => assert!(!done, "it would take more work than allowed"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(refused.contains(&says), "{refused}");
        assert_eq!(replay.progress() < 0.5, early, "{refused}");
    }
}

/// A replay is done at the session's end, not when it has run out of events: a run in which
/// nothing was ever due (no command given, no timer set) loads with the end it reached.
#[test]
fn a_run_where_nothing_happened_loads_with_its_end() {
    let mut timeline = Timeline::new(Settings {
        nodes: 3,
        ..Settings::default()
    })
    .unwrap();
    timeline.run_until(100_000);
    assert_eq!(timeline.sim().events(), 0);
    timeline.seek(50).unwrap();
    let session = timeline.session(None).unwrap();
    let loaded = Timeline::from_session(&session).unwrap();
    assert_eq!(loaded.end(), 100_000);
    assert_eq!(loaded.sim().now(), 50);
}

/// A run of `nodes` nodes on links of a constant 100 ms, given `writes` writes at 0 ms, from
/// node 1 on in turn: every message sent arrives at 100 ms, many events in one millisecond.
fn writes_at_once(nodes: u32, writes: u32) -> Timeline {
    let mut timeline = Timeline::new(Settings {
        nodes,
        latency: Latency::Constant { ms: 100 },
        clock_skew_ms: vec![0; nodes as usize],
        ..Settings::default()
    })
    .unwrap();
    for i in 0..writes {
        timeline
            .execute(write(1 + i % nodes, "k", &i.to_string()))
            .unwrap();
    }
    timeline
}

/// A replay is done once every event due by the session's end is handled, not when its clock
/// reaches the end: here 380 messages arrive in the run's last millisecond, and the replay's
/// first slice of 256 events stops among them. The loaded run has handled them all: it can
/// show its last event.
#[test]
fn a_replay_handles_every_event_of_the_session_s_last_millisecond() {
    let mut timeline = writes_at_once(20, 20);
    timeline.run_until(100);
    let total = timeline.sim().events();
    let before_last_ms = {
        let mut t = writes_at_once(20, 20);
        t.run_until(99);
        t.sim().events()
    };
    assert!(
        before_last_ms < 256 && total > 256,
        "{before_last_ms} events before the last millisecond, {total} in all"
    );
    timeline.seek(0).unwrap();
    let mut loaded = Timeline::from_session(&timeline.session(None).unwrap()).unwrap();
    assert_eq!(loaded.end(), 100);
    loaded.seek_event(total).unwrap();
    assert_eq!(loaded.sim().events(), total);
    assert_eq!(fingerprint(loaded.sim()), {
        timeline.seek(100).unwrap();
        fingerprint(timeline.sim())
    });
}

/// A session's moment between two events of one millisecond loads from a snapshot before it,
/// never from one taken later in that millisecond: here 4,032 messages arrive at 100 ms, the
/// replay takes a snapshot after the 4,000th of them, and the moment is after the 200th.
#[test]
fn a_moment_early_in_a_busy_millisecond_loads_from_a_snapshot_before_it() {
    let mut timeline = writes_at_once(64, 64);
    timeline.run_until(100);
    assert_eq!(timeline.sim().events(), 64 * 63, "every message at 100 ms");
    timeline.seek_event(200).unwrap();
    let loaded = Timeline::from_session(&timeline.session(None).unwrap()).unwrap();
    assert_eq!(
        loaded.snapshots().0,
        2,
        "the start, and one after 4,000 events"
    );
    assert_eq!((loaded.sim().now(), loaded.sim().events()), (100, 200));
    assert_eq!(fingerprint(loaded.sim()), fingerprint(timeline.sim()));
}

/// A session's moment in a quiet stretch loads from a snapshot taken before it, never from one
/// whose clock had already run past it: here the run's 4,000th event is its last before a
/// quiet stretch up to a write at 5 s, so the replay's snapshot after 4,000 events shows 5 s;
/// the moment, at 2 s, has handled those same 4,000 events.
#[test]
fn a_moment_in_a_quiet_stretch_loads_from_a_snapshot_before_it() {
    let mut timeline = writes_at_once(41, 100);
    timeline.run_until(5_000);
    assert_eq!(timeline.sim().events(), 4_000, "every message at 100 ms");
    timeline.execute(write(1, "k", "later")).unwrap();
    timeline.run_until(6_000);
    timeline.seek(2_000).unwrap();
    assert_eq!(timeline.sim().events(), 4_000);
    let loaded = Timeline::from_session(&timeline.session(None).unwrap()).unwrap();
    assert_eq!((loaded.sim().now(), loaded.sim().events()), (2_000, 4_000));
    assert_eq!(fingerprint(loaded.sim()), fingerprint(timeline.sim()));
}
