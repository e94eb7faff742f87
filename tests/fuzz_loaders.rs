//! A seeded mutation harness for every loader a user can feed (cargo-fuzz needs a nightly
//! compiler; this runs on stable, in CI, for a bounded number of cases): sessions (files and
//! links), lessons, settings patches (the Settings form, `configure`, and what the page makes
//! of its address), and messages from the wire (what a real node's `/replicate` reads, handed to
//! a replica under every conflict rule). Each input is a valid one from the corpus, changed in a few places (a value
//! swapped for a hostile one, text cut, doubled or nested deep); the loader must answer with a
//! result or a refusal, never a panic, within bounded work. `PROPTEST_CASES` raises the count.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use converge::settings::SettingsPatch;
use converge::{Command, Lesson, Session, Settings, Timeline};
use proptest::prelude::*;
use serde_json::Value;

/// Values that broke a loader once, or could: the inputs issue 12 found, and their kin.
fn hostile() -> Vec<Value> {
    let big = format!("1{}", "0".repeat(300));
    vec![
        Value::from(-1),
        Value::from(0),
        Value::from(1024),
        Value::from(i64::MIN),
        Value::from(u64::MAX),
        Value::from(4_294_967_296u64),
        Value::from(1e308),
        Value::from(1.5),
        serde_json::from_str(&big).unwrap_or(Value::Null),
        Value::Null,
        Value::from(true),
        Value::from(""),
        Value::from("x".repeat(5_000)),
        Value::from("\u{1}\u{7f}<script>"),
        Value::from("9".repeat(400)),
        serde_json::json!([]),
        serde_json::json!({}),
        serde_json::json!({"-9223372036854775808": 1}),
        serde_json::from_str(&format!("{}1{}", "[".repeat(20), "]".repeat(20))).unwrap(),
    ]
}

/// One change to an input.
#[derive(Clone, Debug)]
enum Mutation {
    /// The `at`-th value of the document (in a walk of it) becomes hostile value `with`.
    Replace { at: usize, with: usize },
    /// The `at`-th object loses one of its fields.
    DropField { at: usize },
    /// The text is cut at a fraction of its length.
    Truncate { at: f64 },
    /// A stretch of the text is doubled.
    Double { at: f64, len: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (0usize..400, 0usize..19).prop_map(|(at, with)| Mutation::Replace { at, with }),
        2 => (0usize..100).prop_map(|at| Mutation::DropField { at }),
        1 => (0.0f64..1.0).prop_map(|at| Mutation::Truncate { at }),
        1 => (0.0f64..1.0, 1usize..200).prop_map(|(at, len)| Mutation::Double { at, len }),
    ]
}

/// Visits every value of `v` in order, the `k`-th gets `f`; returns whether it was reached.
fn at_value(v: &mut Value, k: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *k == 0 {
        f(v);
        return true;
    }
    *k -= 1;
    match v {
        Value::Array(items) => items.iter_mut().any(|item| at_value(item, k, f)),
        Value::Object(fields) => fields.values_mut().any(|item| at_value(item, k, f)),
        _ => false,
    }
}

/// The char boundary at or before `at` in `text`.
fn boundary(text: &str, at: usize) -> usize {
    let mut i = at.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// `text` with `mutations` made, in order.
fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let hostile = hostile();
    let mut text = text.to_string();
    for m in mutations {
        match m {
            Mutation::Replace { at, with } => {
                if let Ok(mut doc) = serde_json::from_str::<Value>(&text) {
                    let mut k = at % 400;
                    at_value(&mut doc, &mut k, &mut |v| *v = hostile[*with].clone());
                    text = doc.to_string();
                }
            }
            Mutation::DropField { at } => {
                if let Ok(mut doc) = serde_json::from_str::<Value>(&text) {
                    let mut k = *at;
                    at_value(&mut doc, &mut k, &mut |v| {
                        if let Value::Object(fields) = v
                            && let Some(first) = fields.keys().next().cloned()
                        {
                            fields.remove(&first);
                        }
                    });
                    text = doc.to_string();
                }
            }
            Mutation::Truncate { at } => {
                let cut = boundary(&text, (text.len() as f64 * at) as usize);
                text.truncate(cut);
            }
            Mutation::Double { at, len } => {
                let from = boundary(&text, (text.len() as f64 * at) as usize);
                let to = boundary(&text, from + len);
                let stretch = text[from..to].to_string();
                text.insert_str(to, &stretch);
            }
        }
    }
    text
}

/// Sessions to start from: a short run with every kind of command, saved.
fn sessions() -> Vec<String> {
    let mut timeline = Timeline::new(Settings {
        nodes: 4,
        seed: 3,
        ..Settings::default()
    })
    .unwrap();
    let commands = [
        r#"{"do": "write", "node": 1, "key": "k", "value": "v", "options": {"session": "s"}}"#,
        r#"{"do": "cut", "a": 1, "b": 2, "oneWay": true}"#,
        r#"{"do": "crash", "node": 3}"#,
        r#"{"do": "read", "node": 2, "key": "k"}"#,
        r#"{"do": "recover", "node": 3, "wipe": true}"#,
        r#"{"do": "setLink", "from": 1, "to": 4, "link": {"loss": 0.5}}"#,
        r#"{"do": "configure", "settings": {"antiEntropy": true, "clockSkewMs": {"2": 50}}}"#,
        r#"{"do": "partition", "groups": [[1, 2], [3, 4]]}"#,
        r#"{"do": "healAll"}"#,
    ];
    for (i, command) in commands.iter().enumerate() {
        timeline.run_until(100 * i as u64);
        let command: Command = serde_json::from_str(command).unwrap();
        timeline.execute(command).unwrap();
    }
    timeline.run_until(2_000);
    let end = timeline.saved(None).unwrap();
    timeline.seek(450).unwrap();
    vec![end, timeline.saved(None).unwrap()]
}

fn lessons() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("www/lessons");
    ["tutorial", "quorums", "version-vectors"]
        .iter()
        .map(|id| std::fs::read_to_string(dir.join(format!("{id}.json"))).unwrap())
        .collect()
}

/// Messages as nodes send them over the wire, one of each shape that carries data.
fn wire_messages() -> Vec<String> {
    let version = |key: &str, value: &str, node: u32, seq: u32| {
        format!(
            r#"{{"key":"{key}","value":"{value}","stamp":{{"millis":{},"node":{node},"seq":{seq}}},"context":{{"1":[1,3],"2":1}},"created":5}}"#,
            100 + seq
        )
    };
    let (a, b) = (
        version("cart", "+milk", 1, 4),
        version("n", "+3 (p3 n0)", 2, 2),
    );
    vec![
        format!(r#"{{"type":"replicate","version":{a}}}"#),
        format!(r#"{{"type":"put","request":7,"version":{b},"hint":3}}"#),
        format!(r#"{{"type":"getReply","request":7,"versions":[{a},{b}]}}"#),
        format!(r#"{{"type":"syncRequest","versions":[{b},{a}]}}"#),
        format!(r#"{{"type":"merkleSync","leaves":[0,63],"versions":[{a}],"reply":false}}"#),
        r#"{"type":"merkleCompare","level":1,"hashes":[[0,1],[15,18446744073709551615]]}"#.into(),
        r#"{"type":"handoffAck","writes":[["cart",{"node":1,"counter":4}]]}"#.into(),
    ]
}

/// Runs `load`, failing the case if it panics.
fn never_panics(what: &str, text: &str, load: impl FnOnce()) -> Result<(), TestCaseError> {
    let shown: String = text.chars().take(300).collect();
    prop_assert!(
        catch_unwind(AssertUnwindSafe(load)).is_ok(),
        "{what} panicked on: {shown}"
    );
    Ok(())
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn a_changed_session_is_replayed_or_refused_never_a_panic(
        which in 0usize..2,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let text = mutate(&sessions()[which], &mutations);
        never_panics("a session", &text, || {
            if let Ok(session) = Session::from_json(&text) {
                // Bounded: a session may not make the test run for long either.
                let _ = Timeline::from_session_within(&session, 200_000);
            }
        })?;
    }

    #[test]
    fn a_changed_lesson_is_played_or_refused_never_a_panic(
        which in 0usize..3,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let text = mutate(&lessons()[which], &mutations);
        never_panics("a lesson", &text, || {
            if let Ok(lesson) = Lesson::from_json(&text) {
                let _ = lesson.timeline();
            }
        })?;
    }

    #[test]
    fn a_changed_settings_patch_is_taken_or_refused_never_a_panic(
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        let all = serde_json::to_string(&Settings::default().as_patch()).unwrap();
        let text = mutate(&all, &mutations);
        never_panics("a settings patch", &text, || {
            if let Ok(patch) = serde_json::from_str::<SettingsPatch>(&text)
                && let Ok(settings) = Settings::default().patched(&patch)
            {
                let mut timeline = Timeline::new(settings).unwrap();
                timeline.run_until(200);
            }
        })?;
    }
    #[test]
    fn a_changed_wire_message_is_handled_or_refused_never_a_panic(
        which in 0usize..7,
        rule in 0usize..5,
        mutations in prop::collection::vec(mutation(), 1..5),
    ) {
        use std::rc::Rc;
        use converge::replica::{Env, KeyTable, Outbox, Placement, Protocol, Replica, Timer, WireMessage};
        use converge::ring::Ring;
        use converge::rng::Rng;
        use converge::{ConflictMode, NodeId};
        let text = mutate(&wire_messages()[which], &mutations);
        never_panics("a wire message", &text, || {
            let Ok(wire) = serde_json::from_str::<WireMessage>(&text) else { return };
            let mut keys = KeyTable::default();
            let Ok(message) = wire.into_message(3, &mut keys) else { return };
            let conflict = [
                ConflictMode::ArrivalOrder,
                ConflictMode::LastWriterWins,
                ConflictMode::VersionVectors,
                ConflictMode::OrSet,
                ConflictMode::Counter,
            ][rule];
            let protocol = Rc::new(Protocol {
                conflict,
                tombstone_grace: 10,
                ..Protocol::tutorial(3)
            });
            let placement = Rc::new(Placement::new(Ring::new(3, 4, &mut Rng::new(1, 1)), 2));
            let mut replica = Replica::new(NodeId(3), protocol, placement, 0, Rng::new(1, 3));
            let up = |_: NodeId| true;
            let mut out = Outbox::new();
            replica.handle_message(&Env { now: 50, up: &up }, NodeId(2), message, &mut out);
            replica.handle_timer(&Env { now: 100, up: &up }, Timer::TombstoneGc, &mut out);
            replica.handle_timer(&Env { now: 100, up: &up }, Timer::AntiEntropy(0), &mut out);
            for id in keys.all() {
                let _ = replica.context(id);
            }
        })?;
    }
}

/// The inputs issue 12 found, each refused with a reason (the harness starts from their kind).
#[test]
fn the_inputs_that_broke_loaders_are_refused() {
    let session = &sessions()[0];
    let mut doc: Value = serde_json::from_str(session).unwrap();
    doc["settings"]["clockSkewMs"] = serde_json::json!({"1": i64::MIN});
    let refused = Session::from_json(&doc.to_string())
        .and_then(|s| Timeline::from_session(&s).map(drop))
        .unwrap_err();
    assert!(refused.to_string().contains("clockSkewMs"), "{refused}");
    let mut doc: Value = serde_json::from_str(session).unwrap();
    doc["settings"]["nodes"] = Value::from(100_000);
    let refused = Session::from_json(&doc.to_string())
        .and_then(|s| Timeline::from_session(&s).map(drop))
        .unwrap_err();
    assert!(refused.to_string().contains("nodes"), "{refused}");
    let patch: Result<SettingsPatch, _> = serde_json::from_str(r#"{"seed": 1e400}"#);
    assert!(patch.is_err());
    let _ = n(1);
}

/// The harness starts from messages a replica takes: each one of the corpus is read and taken.
#[test]
fn every_wire_message_of_the_corpus_is_taken() {
    use converge::replica::{KeyTable, WireMessage};
    for text in wire_messages() {
        let wire: WireMessage =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let taken = wire.into_message(3, &mut KeyTable::default());
        assert!(taken.is_ok(), "{text}: {taken:?}");
    }
}
