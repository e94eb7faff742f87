//! The replica's rules, one node at a time (the simulation's tests cover whole clusters).

use super::*;
fn protocol(rules: &Protocol) -> Rc<Protocol> {
    Rc::new(rules.clone())
}

/// Key `k` of the tests, named "k0" to "k9".
fn key(k: u32) -> Key {
    Key::new(KeyId(k), &format!("k{k}"))
}

/// Three nodes, each key on all three.
fn placement() -> Rc<Placement> {
    Rc::new(Placement::new(
        crate::ring::Ring::new(3, 4, &mut Rng::new(1, 7)),
        3,
    ))
}

fn replica(id: u32, settings: &Protocol) -> Replica {
    Replica::new(
        NodeId(id),
        protocol(settings),
        placement(),
        0,
        Rng::new(1, u64::from(id)),
    )
}

fn everyone(_: NodeId) -> bool {
    true
}

fn env(now: Time) -> Env<'static> {
    Env { now, up: &everyone }
}

fn write(
    r: &mut Replica,
    now: Time,
    id: u32,
    key: u32,
    value: &str,
    out: &mut Outbox,
) -> Rc<Version> {
    r.client_write(
        &env(now),
        RequestId(id),
        WriteId(id),
        self::key(key),
        Some(value.into()),
        None,
        1,
        out,
    )
}

fn values(r: &Replica, key: u32) -> Vec<String> {
    r.get(KeyId(key))
        .iter()
        .map(|v| v.value.as_deref().unwrap_or("⊘").to_string())
        .collect()
}

fn sends(out: &Outbox) -> Vec<(NodeId, MessageKind)> {
    out.effects()
        .iter()
        .flat_map(|o| match o {
            Output::Send { to, message } => vec![(*to, message.kind())],
            Output::Broadcast { message } => vec![(NodeId(0), message.kind())],
            _ => vec![],
        })
        .collect()
}

#[test]
fn a_write_applies_locally_and_is_broadcast_fire_and_forget() {
    let mut r = replica(1, &Protocol::tutorial(3));
    assert!(r.is_empty());
    let mut out = Outbox::new();
    write(&mut r, 5, 1, 0, "Alice", &mut out);
    write(&mut r, 6, 2, 0, "Bob", &mut out);
    write(&mut r, 7, 3, 4, "Carol", &mut out);
    assert_eq!((r.len(), r.is_empty()), (2, false), "two keys");
    out.clear();
    write(&mut r, 8, 4, 0, "Alice", &mut out);
    assert_eq!(values(&r, 0), vec!["Alice"]);
    assert_eq!(sends(&out), vec![(NodeId(0), MessageKind::Replicate)]);
    assert!(out.effects().iter().any(|o| matches!(
        o,
        Output::Respond {
            outcome: Outcome::Written { acks: 1 },
            ..
        }
    )));
}

#[test]
fn a_lagging_clock_cannot_overwrite_its_own_newer_value_under_lww() {
    let settings = Protocol {
        conflict: ConflictMode::LastWriterWins,
        ..Protocol::tutorial(3)
    };
    let mut a = replica(1, &settings);
    let mut b = replica(2, &settings);
    b.set_protocol(protocol(&settings), -1000, &mut Outbox::new());
    let mut out = Outbox::new();
    let first = write(&mut a, 100, 1, 0, "first", &mut out);
    b.handle_message(&env(110), NodeId(1), Message::Replicate(first), &mut out);
    write(&mut b, 200, 2, 0, "second", &mut out);
    assert_eq!(values(&b, 0), vec!["first"]);
}

#[test]
fn blind_writes_under_version_vectors_become_siblings_and_a_read_context_resolves_them() {
    let settings = Protocol {
        conflict: ConflictMode::VersionVectors,
        ..Protocol::tutorial(3)
    };
    let mut a = replica(1, &settings);
    let mut b = replica(2, &settings);
    let mut out = Outbox::new();
    let from_a = write(&mut a, 1, 1, 0, "red", &mut out);
    let from_b = write(&mut b, 1, 2, 0, "blue", &mut out);
    a.handle_message(&env(2), NodeId(2), Message::Replicate(from_b), &mut out);
    b.handle_message(&env(2), NodeId(1), Message::Replicate(from_a), &mut out);
    assert_eq!(values(&a, 0), vec!["red", "blue"]);
    assert_eq!(values(&b, 0), vec!["red", "blue"]);
    let context = a.context(KeyId(0));
    a.client_write(
        &env(3),
        RequestId(3),
        WriteId(3),
        key(0),
        Some("purple".into()),
        Some(context),
        1,
        &mut out,
    );
    assert_eq!(values(&a, 0), vec!["purple"]);
}

/// Two replicas (nodes 1 and 2) under last writer wins, and an outbox.
fn lww_pair() -> (Replica, Replica, Outbox) {
    let settings = Protocol {
        conflict: ConflictMode::LastWriterWins,
        ..Protocol::tutorial(3)
    };
    (replica(1, &settings), replica(2, &settings), Outbox::new())
}

/// The first message the outbox holds to send.
fn first_message(out: &Outbox) -> Message {
    out.effects()
        .iter()
        .find_map(|o| match o {
            Output::Send { message, .. } => Some(message.clone()),
            _ => None,
        })
        .expect("a message to send")
}

/// The writes a replica holds, in key order.
fn writes_held(r: &Replica) -> Vec<WriteId> {
    r.versions().map(|v| v.write).collect()
}

#[test]
fn anti_entropy_under_lww_repairs_both_sides() {
    let (mut a, mut b, mut out) = lww_pair();
    write(&mut a, 1, 1, 2, "only-a", &mut out);
    write(&mut a, 2, 2, 3, "a-old", &mut out);
    write(&mut b, 3, 3, 3, "b-new", &mut out);
    write(&mut b, 4, 4, 4, "only-b", &mut out);
    out.clear();
    let offer = Rc::new(a.versions().cloned().collect());
    b.handle_message(&env(5), NodeId(1), Message::SyncRequest(offer), &mut out);
    let reply = first_message(&out);
    assert_eq!(reply.kind(), MessageKind::SyncReply);
    assert_eq!(reply.versions(), 2, "the newer key 3 and the key a lacks");
    a.handle_message(&env(6), NodeId(2), reply, &mut out);
    assert_eq!(writes_held(&a), writes_held(&b));
    assert_eq!(values(&a, 3), vec!["b-new"]);
}

#[test]
fn an_offer_in_another_order_of_keys_reconciles_all_the_same() {
    // A node in another process numbers keys in the order it met them: its offer comes in
    // an order of keys that is not this node's.
    let (mut a, mut b, mut out) = lww_pair();
    write(&mut a, 1, 1, 2, "only-a", &mut out);
    write(&mut a, 2, 2, 3, "a-old", &mut out);
    write(&mut b, 3, 3, 7, "b-old", &mut out);
    write(&mut b, 4, 4, 3, "b-new", &mut out);
    write(&mut b, 5, 5, 4, "only-b", &mut out);
    write(&mut a, 6, 6, 7, "a-new", &mut out);
    out.clear();
    let mut offer: Vec<_> = a.versions().cloned().collect();
    offer.reverse();
    b.handle_message(
        &env(9),
        NodeId(1),
        Message::SyncRequest(Rc::new(offer)),
        &mut out,
    );
    let reply = first_message(&out);
    assert_eq!(
        reply.versions(),
        2,
        "key 3, newer at b, and key 4, which a lacks"
    );
    a.handle_message(&env(10), NodeId(2), reply, &mut out);
    assert_eq!(writes_held(&a), writes_held(&b));
    assert_eq!(
        writes_held(&b),
        [WriteId(1), WriteId(4), WriteId(5), WriteId(6)]
    );
}

#[test]
fn anti_entropy_under_arrival_order_only_fills_missing_keys() {
    let mut a = replica(1, &Protocol::tutorial(3));
    let mut b = replica(2, &Protocol::tutorial(3));
    let mut out = Outbox::new();
    write(&mut a, 1, 1, 1, "a", &mut out);
    write(&mut a, 1, 2, 5, "1", &mut out);
    write(&mut b, 2, 3, 1, "b", &mut out);
    let offer = Rc::new(a.versions().cloned().collect());
    b.handle_message(&env(3), NodeId(1), Message::SyncRequest(offer), &mut out);
    assert_eq!(values(&b, 1), vec!["b"]);
    assert_eq!(values(&b, 5), vec!["1"]);
}

#[test]
fn the_anti_entropy_timer_picks_another_node_and_rearms() {
    let settings = Protocol {
        anti_entropy: Some((AntiEntropyKind::Full, 1000)),
        ..Protocol::tutorial(3)
    };
    let mut r = replica(2, &settings);
    let mut out = Outbox::new();
    r.start(&mut out);
    assert!(matches!(out.effects()[0], Output::Timer { after, .. } if (1..=1000).contains(&after)));
    for _ in 0..50 {
        out.clear();
        r.handle_timer(&env(0), Timer::AntiEntropy(0), &mut out);
        let (to, kind) = sends(&out)[0];
        assert_ne!(to, NodeId(2));
        assert!((1..=3).contains(&to.0));
        assert_eq!(kind, MessageKind::SyncRequest);
        assert!(matches!(
            out.effects()[1],
            Output::Timer { after: 1000, .. }
        ));
    }
}

#[test]
fn a_quorum_write_answers_after_w_acks_and_times_out_without_them() {
    let settings = Protocol {
        coordination: Coordination::Quorum,
        ..Protocol::tutorial(3)
    };
    let mut r = replica(1, &settings);
    let mut out = Outbox::new();
    r.client_write(
        &env(0),
        RequestId(7),
        WriteId(1),
        key(0),
        Some("v".into()),
        None,
        2,
        &mut out,
    );
    assert_eq!(
        sends(&out)
            .iter()
            .filter(|(_, k)| *k == MessageKind::Replicate)
            .count(),
        2
    );
    assert!(
        !out.effects()
            .iter()
            .any(|o| matches!(o, Output::Respond { .. })),
        "1 of 2 acks: waiting"
    );
    assert_eq!(r.pending().collect::<Vec<_>>(), vec![(RequestId(7), 1, 2)]);
    assert_eq!(r.pending_request(RequestId(7)), Some((1, 2)));
    assert_eq!(
        r.pending_request(RequestId(8)),
        None,
        "not one of its requests"
    );
    out.clear();
    r.handle_message(
        &env(5),
        NodeId(2),
        Message::PutAck {
            request: RequestId(7),
        },
        &mut out,
    );
    assert!(out.effects().iter().any(|o| matches!(
        o,
        Output::Respond {
            request: RequestId(7),
            outcome: Outcome::Written { acks: 2 }
        }
    )));
    assert_eq!(r.pending_request(RequestId(7)), None, "answered");

    out.clear();
    r.client_write(
        &env(10),
        RequestId(8),
        WriteId(2),
        key(0),
        Some("w".into()),
        None,
        3,
        &mut out,
    );
    r.handle_timer(&env(1010), Timer::RequestTimeouts, &mut out);
    assert!(out.effects().iter().any(|o| matches!(
        o,
        Output::Respond {
            request: RequestId(8),
            outcome: Outcome::TimedOut { got: 1, needed: 3 }
        }
    )));
}

/// A real node's timer fires when its thread gets to it, some milliseconds after the time it
/// was set for: every request must still time out, then and ever after (the timer that fired
/// late once was taken to be still armed, and no request timed out again).
#[test]
fn request_timeouts_still_fire_after_a_timer_comes_late() {
    let settings = Protocol {
        coordination: Coordination::Quorum,
        ..Protocol::tutorial(3)
    };
    let mut r = replica(1, &settings);
    let timeout = settings.request_timeout;
    let mut now = 0;
    for request in 1..=4 {
        let mut out = Outbox::new();
        r.client_write(
            &env(now),
            RequestId(request),
            WriteId(request),
            key(0),
            Some("v".into()),
            None,
            3,
            &mut out,
        );
        let after = out
            .effects()
            .iter()
            .find_map(|o| match o {
                Output::Timer {
                    after,
                    timer: Timer::RequestTimeouts,
                } => Some(*after),
                _ => None,
            })
            .unwrap_or_else(|| panic!("request {request}: no timeout timer armed"));
        assert_eq!(after, timeout);
        // The timer fires 7 ms late.
        now += after + 7;
        out.clear();
        r.handle_timer(&env(now), Timer::RequestTimeouts, &mut out);
        assert!(
            out.effects().iter().any(|o| matches!(
                o,
                Output::Respond {
                    request: id,
                    outcome: Outcome::TimedOut { got: 1, needed: 3 }
                } if *id == RequestId(request)
            )),
            "request {request} never timed out"
        );
        assert_eq!(r.pending().count(), 0);
    }
}

#[test]
fn a_quorum_write_with_too_few_reachable_replicas_is_unavailable_and_sends_nothing() {
    let settings = Protocol {
        coordination: Coordination::Quorum,
        ..Protocol::tutorial(3)
    };
    let mut r = replica(1, &settings);
    let mut out = Outbox::new();
    let only_me = |n: NodeId| n == NodeId(1);
    let env = Env {
        now: 0,
        up: &only_me,
    };
    r.client_write(
        &env,
        RequestId(1),
        WriteId(1),
        key(0),
        Some("v".into()),
        None,
        2,
        &mut out,
    );
    assert!(sends(&out).is_empty());
    assert!(out.effects().iter().any(|o| matches!(
        o,
        Output::Respond {
            outcome: Outcome::Unavailable {
                alive: 1,
                needed: 2
            },
            ..
        }
    )));
    assert!(r.get(KeyId(0)).is_empty());
}

#[test]
fn tombstones_are_collected_after_their_grace_period() {
    let settings = Protocol {
        tombstone_grace: 100,
        ..Protocol::tutorial(3)
    };
    let mut r = replica(1, &settings);
    let mut out = Outbox::new();
    write(&mut r, 0, 1, 0, "v", &mut out);
    r.client_write(
        &env(10),
        RequestId(2),
        WriteId(2),
        key(0),
        None,
        None,
        1,
        &mut out,
    );
    assert_eq!(values(&r, 0), vec!["⊘"]);
    out.clear();
    r.handle_timer(&env(60), Timer::TombstoneGc, &mut out);
    assert_eq!(values(&r, 0), vec!["⊘"], "still in grace");
    r.handle_timer(&env(110), Timer::TombstoneGc, &mut out);
    assert!(values(&r, 0).is_empty());
    assert!(
        out.notes()
            .iter()
            .any(|o| matches!(o, Note::Collected { .. }))
    );
    assert_eq!(r.len(), 0);
}

/// Grace is read on each node's own clock: a delete made by a node whose clock runs 1 s ahead
/// carries that clock's reading, and a replica with a true clock keeps the tombstone until its
/// own clock is a grace period past it (Cassandra's local deletion time); the fast node itself
/// collects it a grace period after the delete, by its own clock.
#[test]
fn tombstone_grace_is_read_on_each_node_s_own_clock() {
    let rules = Protocol {
        tombstone_grace: 100,
        ..Protocol::tutorial(3)
    };
    let mut fast = replica(1, &rules);
    fast.set_protocol(protocol(&rules), 1_000, &mut Outbox::new());
    let mut other = replica(2, &rules);
    let mut out = Outbox::new();
    let delete = fast.client_write(
        &env(10),
        RequestId(1),
        WriteId(1),
        key(0),
        None,
        None,
        1,
        &mut out,
    );
    assert_eq!(delete.created, 1_010, "the fast node's clock");
    other.handle_message(&env(20), NodeId(1), Message::Replicate(delete), &mut out);
    assert_eq!(values(&other, 0), vec!["⊘"]);
    other.handle_timer(&env(200), Timer::TombstoneGc, &mut out);
    assert_eq!(
        values(&other, 0),
        vec!["⊘"],
        "its clock reads 200, not yet 1,110"
    );
    other.handle_timer(&env(1_110), Timer::TombstoneGc, &mut out);
    assert!(values(&other, 0).is_empty());
    fast.handle_timer(&env(110), Timer::TombstoneGc, &mut out);
    assert!(values(&fast, 0).is_empty(), "its own clock reads 1,110");
}

/// The collection timer costs a real node a wake-up: only a tombstone this node keeps arms it.
#[test]
fn only_a_stored_tombstone_arms_the_collection_timer() {
    let settings = Protocol {
        conflict: ConflictMode::LastWriterWins,
        ..Protocol::tutorial(3)
    };
    let gc_timers = |out: &Outbox| {
        out.effects()
            .iter()
            .filter(|o| {
                matches!(
                    o,
                    Output::Timer {
                        timer: Timer::TombstoneGc,
                        ..
                    }
                )
            })
            .count()
    };
    let mut writer = replica(2, &settings);
    let mut out = Outbox::new();
    let value = write(&mut writer, 5, 1, 0, "v", &mut out);
    let older_delete = {
        let mut v = (*value).clone();
        v.value = None;
        v.stamp.millis = 1;
        Rc::new(v)
    };
    let mut r = replica(1, &settings);
    out.clear();
    r.handle_message(&env(6), NodeId(2), Message::Replicate(value), &mut out);
    assert_eq!(gc_timers(&out), 0, "a value arms nothing");
    r.handle_message(
        &env(7),
        NodeId(2),
        Message::Replicate(older_delete),
        &mut out,
    );
    assert_eq!(values(&r, 0), vec!["v"], "the older delete lost");
    assert_eq!(gc_timers(&out), 0, "a tombstone not kept arms nothing");
}

/// Dynamo §4.6: a hint is dropped when its owner acknowledges that very write, and only then.
#[test]
fn an_owner_s_acknowledgement_drops_only_the_hints_it_names() {
    let settings = Protocol {
        conflict: ConflictMode::LastWriterWins,
        ..Protocol::tutorial(3)
    };
    let mut writer = replica(2, &settings);
    let mut out = Outbox::new();
    let first = write(&mut writer, 1, 1, 0, "a", &mut out);
    let second = write(&mut writer, 2, 2, 1, "b", &mut out);
    let mut holder = replica(1, &settings);
    for (request, version) in [(1, &first), (2, &second)] {
        let put = Message::Put {
            request: RequestId(request),
            version: version.clone(),
            hint: Some(NodeId(3)),
        };
        holder.handle_message(&env(3), NodeId(2), put, &mut out);
    }
    assert_eq!(holder.hints().len(), 2);
    let ack = Message::HandoffAck(Rc::new(vec![(first.key.id, first.dot())]));
    holder.handle_message(&env(4), NodeId(3), ack.clone(), &mut out);
    let kept: Vec<_> = holder.hints().iter().map(|h| h.version.dot()).collect();
    assert_eq!(
        kept,
        vec![second.dot()],
        "the write not acknowledged keeps its hint"
    );
    // An acknowledgement from another node than the owner drops nothing.
    let ack = Message::HandoffAck(Rc::new(vec![(second.key.id, second.dot())]));
    holder.handle_message(&env(5), NodeId(2), ack, &mut out);
    assert_eq!(holder.hints().len(), 1);
}

/// A delete from the wire may say it was made at any clock reading: one from the end of time is
/// kept (its grace never ends), and checking it overflows nothing.
#[test]
fn a_tombstone_made_at_the_end_of_time_is_kept_without_overflow() {
    let settings = Protocol {
        tombstone_grace: 100,
        ..Protocol::tutorial(3)
    };
    let (mut writer, mut out) = (replica(2, &settings), Outbox::new());
    let value = write(&mut writer, 0, 1, 0, "v", &mut out);
    let mut r = replica(1, &settings);
    for (later, created) in [(1, i64::MAX), (2, i64::MIN)] {
        let delete = Rc::new(Version {
            value: None,
            created,
            stamp: crate::clock::Stamp {
                seq: value.stamp.seq + later,
                ..value.stamp
            },
            ..(*value).clone()
        });
        r.handle_message(&env(1), NodeId(2), Message::Replicate(delete), &mut out);
        r.handle_timer(&env(1_000), Timer::TombstoneGc, &mut out);
        let kept = !r.get(KeyId(0)).is_empty();
        assert_eq!(kept, created == i64::MAX, "created at {created}");
    }
}
