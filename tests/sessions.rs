//! Session guarantees (Terry et al., 1994): read your writes, monotonic reads.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::{ClientOptions, ConflictMode, SettingsPatch};

fn alice() -> ClientOptions {
    ClientOptions {
        session: Some("alice".into()),
        ..Default::default()
    }
}

#[test]
fn reading_from_a_replica_the_write_has_not_reached_breaks_read_your_writes() {
    let mut sim = cluster_with(
        3,
        100,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            ..Default::default()
        },
    );
    sim.write_with(n(1), "k", Some("mine"), &alice()).unwrap();
    let at_home = sim.read_with(n(1), "k", &alice()).unwrap();
    assert!(at_home.violations.is_empty());
    let elsewhere = sim.read_with(n(2), "k", &alice()).unwrap();
    assert_eq!(
        elsewhere.violations,
        vec!["read-your-writes", "monotonic-reads"]
    );
    let anonymous = sim.read(n(2), "k").unwrap();
    assert!(
        anonymous.violations.is_empty(),
        "no session, no guarantee to break"
    );
    sim.run_for(200);
    let later = sim.read_with(n(2), "k", &alice()).unwrap();
    assert!(later.violations.is_empty());
    assert_eq!(sim.stats().session_violations, 1);
}

#[test]
fn reading_an_older_replica_after_a_newer_one_breaks_monotonic_reads() {
    let mut sim = cluster_with(
        3,
        100,
        SettingsPatch {
            conflict: Some(ConflictMode::LastWriterWins),
            ..Default::default()
        },
    );
    sim.write(n(1), "k", "old").unwrap();
    sim.run_for(200);
    sim.write(n(1), "k", "new").unwrap();
    let first = sim.read_with(n(1), "k", &alice()).unwrap();
    assert_eq!(first.value(), Some("new"));
    let second = sim.read_with(n(3), "k", &alice()).unwrap();
    assert_eq!(second.value(), Some("old"));
    assert_eq!(second.violations, vec!["monotonic-reads"]);
}

/// Every request keeps its session's name: a name of more than 64 characters is refused, and
/// nothing changes.
#[test]
fn a_session_name_longer_than_64_characters_is_refused() {
    let mut sim = cluster_with(3, 100, SettingsPatch::default());
    let long = ClientOptions {
        session: Some("s".repeat(65)),
        ..Default::default()
    };
    let before = sim.stats();
    for refused in [
        sim.write_with(n(1), "k", Some("v"), &long).unwrap_err(),
        sim.read_with(n(1), "k", &long).unwrap_err(),
    ] {
        assert_eq!(
            refused.to_string(),
            "the session name has 65 characters: session names may have at most 64"
        );
    }
    assert_eq!(sim.stats(), before);
    let fits = ClientOptions {
        session: Some("s".repeat(64)),
        ..Default::default()
    };
    sim.write_with(n(1), "k", Some("v"), &fits).unwrap();
}

/// A long run keeps the last 20,000 requests (older ones, once answered, are forgotten so that
/// memory stays flat, every 20,000 requests: here at 40,000 and again at 60,000); the counters
/// still count every one.
#[test]
fn a_long_run_forgets_old_requests_but_counts_them() {
    use converge::sim::REQUESTS_KEPT;
    let mut sim = cluster_with(3, 5, SettingsPatch::default());
    sim.set_recording(false);
    let total = 3 * REQUESTS_KEPT + 500;
    for i in 0..total {
        sim.write(n(1 + (i % 3) as u32), &format!("k{}", i % 10), "v")
            .unwrap();
        if i % 100 == 0 {
            sim.run_for(10);
        }
    }
    sim.run_for(1_000);
    assert_eq!(sim.stats().writes, total as u64);
    let kept = sim.requests(usize::MAX);
    // Forgotten a chunk of records at a time: the last 20,000 and part of a chunk stay.
    assert!(
        (REQUESTS_KEPT + 500..REQUESTS_KEPT + 500 + 2_048).contains(&kept.len()),
        "{} kept",
        kept.len()
    );
    assert_eq!(kept[0].id.0 as usize, total - kept.len() + 1);
    assert!(sim.request(converge::RequestId(1)).is_none());
    assert!(sim.request(converge::RequestId(total as u32)).is_some());
    assert_eq!(sim.requests(10).len(), 10);
}

/// Forgetting stops at the first request still waiting for its answer: a write left waiting
/// (its acknowledgements from node 3 are all lost) while 40,000 others come and go is still
/// there, and is answered when its timeout comes.
#[test]
fn a_request_still_waiting_is_not_forgotten() {
    use converge::settings::{Consistency, Coordination};
    use converge::sim::REQUESTS_KEPT;
    use converge::{LinkOverride, RequestId, RequestStatus};
    let mut sim = cluster_with(
        3,
        5,
        SettingsPatch {
            coordination: Some(Coordination::Quorum),
            request_timeout_ms: Some(3_600_000),
            ..Default::default()
        },
    );
    sim.set_recording(false);
    let lost = LinkOverride {
        loss: Some(1.0),
        ..Default::default()
    };
    sim.set_link(n(3), n(1), Some(lost)).unwrap();
    // Requests 1 to 100 come and go; request 101 waits for an acknowledgement that never comes.
    for i in 0..100 {
        sim.write(n(2), &format!("k{}", i % 10), "v").unwrap();
    }
    sim.run_for(100);
    let all = ClientOptions {
        quorum: Some(Consistency::All),
        ..Default::default()
    };
    sim.write_with(n(1), "waiting", Some("v"), &all).unwrap();
    let waiting = RequestId(101);
    for i in 0..2 * REQUESTS_KEPT {
        sim.write(n(2 + (i % 2) as u32), &format!("k{}", i % 10), "v")
            .unwrap();
        if i % 100 == 0 {
            sim.run_for(10);
        }
    }
    sim.run_for(1_000);
    let request = sim
        .request(waiting)
        .expect("the waiting write was forgotten");
    assert_eq!(request.status, RequestStatus::Pending);
    sim.run_for(3_600_000);
    let request = sim
        .request(waiting)
        .expect("the waiting write was forgotten");
    assert_eq!(request.status, RequestStatus::TimedOut);
}
