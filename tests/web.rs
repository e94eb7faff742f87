//! The exported JavaScript API, in a real browser (headless Chrome and Firefox), through
//! wasm-bindgen-test. Run by scripts/test.sh.
#![cfg(target_arch = "wasm32")]

#[path = "common/golden.rs"]
mod golden;

use converge::wasm::Sim;
use js_sys::{Array, Float32Array, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const GOLDEN: &str = include_str!("fixtures/golden_trace.txt");

/// A JS value from JSON text.
fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("test JSON parses")
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).expect("property readable")
}

fn num(x: f64) -> JsValue {
    JsValue::from_f64(x)
}

fn s(text: &str) -> JsValue {
    JsValue::from_str(text)
}

/// The message of a thrown JsError.
fn message(err: JsError) -> String {
    let value: JsValue = err.into();
    js_sys::Error::from(value).message().into()
}

fn sim(settings: &str) -> Sim {
    Sim::new(js(settings)).expect("valid settings")
}

#[wasm_bindgen_test]
fn the_golden_scenario_replays_identically_in_the_browser() {
    // The same hash, event count and end time as natively (tests/determinism.rs).
    assert_eq!(golden::run(), GOLDEN.trim());
}

#[wasm_bindgen_test]
fn the_tutorial_through_the_exported_api() {
    let mut sim = sim(r#"{"seed": 5, "latency": {"kind": "constant", "ms": 50}}"#);
    let out = sim
        .write(num(1.0), s("name"), s("Alice"), JsValue::UNDEFINED)
        .unwrap();
    assert_eq!(get(&out, "write").as_f64(), Some(1.0));
    assert_eq!(get(&out, "messages").as_f64(), Some(2.0));
    assert!(!sim.converged());
    let flights = sim.flights(25.0);
    assert_eq!(flights.length(), 2 * 5, "two messages, five numbers each");
    assert_eq!(flights.get_index(2), 0.0, "kind: replicate");
    assert_eq!(flights.get_index(3), 0.5, "halfway at t = 25 of 50");
    assert_eq!(sim.run_for(num(50.0)).unwrap(), 2.0);
    assert!(sim.converged());
    let read = sim.read(num(3.0), s("name"), JsValue::UNDEFINED).unwrap();
    let versions = Array::from(&get(&read, "versions"));
    assert_eq!(versions.length(), 1);
    assert_eq!(
        get(&versions.get(0), "value").as_string().as_deref(),
        Some("Alice")
    );
    assert_eq!(get(&read, "status").as_string().as_deref(), Some("ok"));
    assert_eq!(get(&read, "stale").as_bool(), Some(false));
    assert_eq!(
        get(&get(&read, "context"), "key").as_string().as_deref(),
        Some("name")
    );
    let stats = sim.stats().unwrap();
    assert_eq!(get(&stats, "delivered").as_f64(), Some(2.0));
    assert_eq!(get(&stats, "now").as_f64(), Some(50.0));
    let keys = Array::from(&sim.keys(JsValue::UNDEFINED).unwrap());
    assert_eq!(keys.length(), 1);
    assert_eq!(get(&keys.get(0), "converged").as_bool(), Some(true));
}

#[wasm_bindgen_test]
fn settings_round_trip_with_readme_names() {
    let mut sim = sim(r#"{"seed": 9, "nodes": 4, "conflict": "lww"}"#);
    let settings = sim.settings().unwrap();
    let names: Vec<String> = Object::keys(&settings.clone().into())
        .iter()
        .filter_map(|k| k.as_string())
        .collect();
    for name in [
        "nodes",
        "seed",
        "latency",
        "loss",
        "duplication",
        "conflict",
        "antiEntropy",
        "antiEntropyIntervalMs",
        "clockSkewMs",
    ] {
        assert!(
            names.contains(&name.to_string()),
            "{name} missing from {names:?}"
        );
    }
    assert_eq!(
        get(&settings, "conflict").as_string().as_deref(),
        Some("lww")
    );
    assert_eq!(
        get(&get(&settings, "latency"), "kind")
            .as_string()
            .as_deref(),
        Some("uniform")
    );
    let restarted = sim
        .configure(js(r#"{"antiEntropy": true, "clockSkewMs": {"2": -300}}"#))
        .unwrap();
    assert!(!restarted);
    let settings = sim.settings().unwrap();
    assert_eq!(
        get(&get(&settings, "clockSkewMs"), "2").as_f64(),
        Some(-300.0)
    );
    assert!(
        sim.configure(js(r#"{"nodes": 6}"#)).unwrap(),
        "a new node count restarts"
    );
    assert_eq!(Array::from(&sim.nodes().unwrap()).length(), 6);
}

#[wasm_bindgen_test]
fn bad_input_throws_a_clear_error_and_changes_nothing() {
    let mut sim = sim(r#"{"seed": 3}"#);
    sim.write(num(1.0), s("k"), s("v"), JsValue::UNDEFINED)
        .unwrap();
    sim.run_for(num(10.0)).unwrap();
    let before = (sim.trace_hash(), sim.now(), sim.changes());
    let long_key = "k".repeat(257);
    let long_value = "v".repeat(4097);
    let cases: Vec<(String, Result<JsValue, JsError>)> = vec![
        (
            "no node 9".into(),
            sim.write(num(9.0), s("k"), s("v"), JsValue::UNDEFINED),
        ),
        (
            "whole number".into(),
            sim.write(num(1.5), s("k"), s("v"), JsValue::UNDEFINED),
        ),
        (
            "whole number".into(),
            sim.write(s("1"), s("k"), s("v"), JsValue::UNDEFINED),
        ),
        (
            "key is empty".into(),
            sim.write(num(1.0), s(""), s("v"), JsValue::UNDEFINED),
        ),
        (
            "257 characters".into(),
            sim.write(num(1.0), s(&long_key), s("v"), JsValue::UNDEFINED),
        ),
        (
            "4097 characters".into(),
            sim.write(num(1.0), s("k"), s(&long_value), JsValue::UNDEFINED),
        ),
        (
            "value must be a string".into(),
            sim.write(num(1.0), s("k"), num(5.0), JsValue::UNDEFINED),
        ),
        (
            "key must be a string".into(),
            sim.read(num(1.0), JsValue::NULL, JsValue::UNDEFINED),
        ),
    ];
    for (expected, result) in cases {
        let err = message(result.expect_err("refused"));
        assert!(err.contains(&expected), "{err:?} should say {expected:?}");
    }
    let settings_cases = [
        (r#"{"loss": 2}"#, "setting loss"),
        (r#"{"nodes": 65}"#, "1 to 64"),
        (r#"{"nodes": 0}"#, "setting nodes"),
        (r#"{"lose": 0.1}"#, "unknown field `lose`"),
        (
            r#"{"latency": {"kind": "uniform", "minMs": 1.5, "maxMs": 9}}"#,
            "settings.latency: invalid type: floating point `1.5`",
        ),
        (
            r#"{"latency": {"kind": "uniform", "minMs": 1}}"#,
            "missing field `maxMs`",
        ),
        (r#"{"loss": "lots"}"#, "settings.loss: invalid type: string"),
        (r#"{"latency": {"kind": "warp"}}"#, "unknown variant `warp`"),
        (r#"{"conflict": "crdt"}"#, "conflict"),
        (r#"{"antiEntropy": "yes"}"#, "antiEntropy"),
        (r#"[1, 2]"#, "must be an object"),
        (r#"{"clockSkewMs": {"7": 100}}"#, "clockSkewMs"),
    ];
    for (json, expected) in settings_cases {
        let err = message(sim.configure(js(json)).expect_err(json));
        assert!(
            err.contains(expected),
            "{json}: {err:?} should say {expected:?}"
        );
        let err = message(sim.reset(js(json)).expect_err(json));
        assert!(
            err.contains(expected),
            "{json}: {err:?} should say {expected:?}"
        );
    }
    let partition_cases = [
        ("[[1, 2]]", "node 3 is in no group"),
        ("[[1, 2], [2, 3]]", "more than one group"),
        ("[1, 2, 3]", "array of groups"),
        ("[[1, 2], [3, 4]]", "no node 4"),
    ];
    for (json, expected) in partition_cases {
        let err = message(sim.partition(js(json)).expect_err(json));
        assert!(err.contains(expected), "{json}: {err:?}");
    }
    let err = message(sim.cut(num(1.0), num(1.0), JsValue::UNDEFINED).unwrap_err());
    assert!(err.contains("no link to itself"), "{err}");
    let err = message(sim.recover(num(1.0), js(r#"{"wipe": "yes"}"#)).unwrap_err());
    assert!(err.contains("wipe must be true or false"), "{err}");
    // NaN and the infinities would become JSON null, "no change": refused, saying where
    // (issue 12, item 8).
    let number_at = |outer: &str, inner: Option<&str>, x: f64| {
        let object = Object::new();
        let leaf = match inner {
            Some(inner) => {
                let nested = Object::new();
                Reflect::set(&nested, &s(inner), &num(x)).unwrap();
                JsValue::from(nested)
            }
            None => num(x),
        };
        Reflect::set(&object, &s(outer), &leaf).unwrap();
        JsValue::from(object)
    };
    let err = message(
        sim.configure(number_at("loss", None, f64::NAN))
            .unwrap_err(),
    );
    assert_eq!(err, "settings.loss: NaN is not a number that can be used");
    let err = message(
        sim.reset(number_at("seed", None, f64::INFINITY))
            .unwrap_err(),
    );
    assert_eq!(
        err,
        "settings.seed: Infinity is not a number that can be used"
    );
    let err = message(
        sim.configure(number_at("clockSkewMs", Some("2"), f64::NEG_INFINITY))
            .unwrap_err(),
    );
    assert_eq!(
        err,
        "settings.clockSkewMs.2: -Infinity is not a number that can be used"
    );
    let err = message(
        sim.set_link(num(1.0), num(2.0), number_at("latency", None, f64::NAN))
            .unwrap_err(),
    );
    assert!(err.contains("NaN is not a number"), "{err}");
    assert!(Sim::new(number_at("nodes", None, f64::INFINITY)).is_err());
    // Messages are short and human: no Rust type names, no 300-digit numbers, no 100 KB
    // echoes (issue 12, item 13).
    let err = message(sim.configure(js(r#"{"loss": "abc"}"#)).unwrap_err());
    assert_eq!(
        err,
        "settings.loss: invalid type: string \"abc\", expected a number"
    );
    let err = message(sim.run_until(num(1e300)).unwrap_err());
    assert!(
        err.starts_with("runUntil(1e300) is more than one day"),
        "{err}"
    );
    let kind = "x".repeat(100_000);
    let err = message(
        sim.event_log(
            js(&format!(r#"{{"kinds": ["{kind}"]}}"#)),
            JsValue::UNDEFINED,
        )
        .unwrap_err(),
    );
    assert!(err.len() < 400, "{} characters", err.len());
    assert!(err.starts_with("there is no event kind \"xxxx"), "{err}");
    // The event log's filter and limit are checked, not answered with nothing.
    let err = message(
        sim.event_log(js(r#"{"node": 0}"#), JsValue::UNDEFINED)
            .unwrap_err(),
    );
    assert_eq!(err, "there is no node 0: nodes are numbered 1 to 3");
    let err = message(sim.event_log(js("{}"), num(-1.0)).unwrap_err());
    assert_eq!(err, "limit must be a whole number from 0 to 100000, not -1");
    // A misspelt option is refused, not taken for "no" (issue 12, item 11).
    let err = message(sim.recover(num(1.0), js(r#"{"Wipe": true}"#)).unwrap_err());
    assert_eq!(err, "unknown option \"Wipe\": the only option here is wipe");
    let err = message(
        sim.cut(num(1.0), num(2.0), js(r#"{"oneway": true}"#))
            .unwrap_err(),
    );
    assert_eq!(
        err,
        "unknown option \"oneway\": the only option here is oneWay"
    );
    let err = message(
        sim.heal(num(1.0), num(2.0), js(r#"{"oneWay": true, "both": 1}"#))
            .unwrap_err(),
    );
    assert!(err.contains("unknown option \"both\""), "{err}");
    let err = message(sim.run_for(num(-5.0)).unwrap_err());
    assert!(err.contains("milliseconds"), "{err}");
    let err = message(
        sim.set_link(num(1.0), num(2.0), js(r#"{"loss": 3}"#))
            .unwrap_err(),
    );
    assert!(err.contains("setting loss"), "{err}");
    let err = message(
        sim.set_link(num(1.0), num(2.0), js(r#"{"los": 1}"#))
            .unwrap_err(),
    );
    assert!(err.contains("unknown field `los`"), "{err}");
    assert_eq!(
        (sim.trace_hash(), sim.now(), sim.changes()),
        before,
        "nothing changed"
    );
}

#[wasm_bindgen_test]
fn faults_through_the_api() {
    let mut sim =
        sim(r#"{"seed": 4, "latency": {"kind": "constant", "ms": 20}, "conflict": "lww"}"#);
    sim.partition(js("[[1, 2], [3]]")).unwrap();
    assert_eq!(Array::from(&sim.cut_links().unwrap()).length(), 4);
    sim.write(num(3.0), s("k"), s("island"), JsValue::UNDEFINED)
        .unwrap();
    sim.run_for(num(100.0)).unwrap();
    let drops = sim.drain_drops();
    assert_eq!(drops.length(), 2 * 5);
    assert_eq!(drops.get_index(3), 1.0, "reason: link cut");
    assert_eq!(sim.drain_drops().length(), 0, "drained");
    assert!(!sim.converged());
    let divergent = Array::from(&sim.divergent_keys().unwrap());
    assert_eq!(divergent.get(0).as_string().as_deref(), Some("k"));
    sim.heal_all().unwrap();
    sim.set_link(num(1.0), num(2.0), js(r#"{"loss": 0.5}"#))
        .unwrap();
    assert_eq!(
        get(&sim.link(num(1.0), num(2.0)).unwrap(), "loss").as_f64(),
        Some(0.5)
    );
    sim.set_link(num(1.0), num(2.0), JsValue::NULL).unwrap();
    sim.crash(num(2.0)).unwrap();
    let err = message(sim.crash(num(2.0)).unwrap_err());
    assert!(err.contains("already down"));
    sim.recover(num(2.0), js(r#"{"wipe": true}"#)).unwrap();
    sim.configure(js(r#"{"antiEntropy": true, "antiEntropyIntervalMs": 100}"#))
        .unwrap();
    sim.run_for(num(3000.0)).unwrap();
    assert!(sim.converged());
    let writes = Array::from(&sim.writes(JsValue::UNDEFINED).unwrap());
    assert!(get(&writes.get(0), "allAfterMs").as_f64().unwrap() > 100.0);
    let events = Array::from(&sim.events(num(0.0)).unwrap());
    assert!(events.length() > 10);
    assert_eq!(
        get(&events.get(0), "event").as_string().as_deref(),
        Some("link")
    );
    assert_eq!(get(&events.get(0), "index").as_f64(), Some(0.0));
    let (before, handled) = (sim.now(), sim.events_handled());
    let step_time = sim.step().expect("anti-entropy timers keep events coming");
    assert!(step_time >= before, "a step never goes back in time");
    assert_eq!(
        sim.now(),
        step_time,
        "the clock stands at the event handled"
    );
    assert_eq!(sim.events_handled(), handled + 1.0, "one event, no more");
}

#[wasm_bindgen_test]
fn the_same_seed_replays_identically_through_the_api() {
    let run = || {
        let mut sim = sim(
            r#"{"seed": 77, "nodes": 5, "loss": 0.2, "duplication": 0.2, "conflict": "lww",
                "antiEntropy": true, "latency": {"kind": "exponential", "baseMs": 10, "meanMs": 40}}"#,
        );
        for i in 0..20 {
            let node = num(f64::from(i % 5 + 1));
            sim.write(
                node,
                s(&format!("k{}", i % 3)),
                s(&i.to_string()),
                JsValue::UNDEFINED,
            )
            .unwrap();
            sim.run_for(num(33.0)).unwrap();
        }
        sim.run_for(num(2000.0)).unwrap();
        (sim.trace_hash(), sim.event_count())
    };
    assert_eq!(run(), run());
}

#[wasm_bindgen_test]
fn a_view_of_flights_reflects_lost_and_duplicate_messages() {
    let mut sim = sim(
        r#"{"seed": 1, "nodes": 2, "loss": 1, "duplication": 1, "latency": {"kind": "constant", "ms": 100}}"#,
    );
    sim.write(num(1.0), s("k"), s("v"), JsValue::UNDEFINED)
        .unwrap();
    let flights: Float32Array = sim.flights(0.0);
    assert_eq!(flights.length(), 2 * 5, "the message and its duplicate");
    let flags: Vec<f32> = (0..2).map(|i| flights.get_index(i * 5 + 4)).collect();
    assert!(flags.contains(&1.0), "the original: lost");
    assert!(flags.contains(&3.0), "the duplicate: lost and a duplicate");

    // Past 20,000 in flight, one in every few is drawn (here 63,000: one in four).
    let mut many = Sim::new(js(r#"{"seed": 1, "nodes": 64}"#)).unwrap();
    for i in 0..1_000 {
        many.write(
            num(f64::from(i % 64 + 1)),
            s(&format!("k{i}")),
            s("v"),
            JsValue::UNDEFINED,
        )
        .unwrap();
    }
    assert_eq!(
        get(&many.stats().unwrap(), "inFlight").as_f64(),
        Some(63_000.0)
    );
    assert_eq!(many.flights(0.0).length(), 15_750 * 5);
}

#[wasm_bindgen_test]
fn coordinated_requests_are_pending_until_their_quorum_answers() {
    let mut sim = sim(
        r#"{"seed": 2, "nodes": 5, "replicationFactor": 3, "coordination": "quorum",
            "writeQuorum": "all", "readQuorum": 2, "latency": {"kind": "constant", "ms": 10},
            "conflict": "vv"}"#,
    );
    let place = sim.preference_list(s("cart")).unwrap();
    let replicas = Array::from(&get(&place, "nodes"));
    assert_eq!(replicas.length(), 3);
    let coordinator = replicas.get(0);
    let out = sim
        .write(
            coordinator.clone(),
            s("cart"),
            s("milk"),
            js(r#"{"session": "ann"}"#),
        )
        .unwrap();
    assert_eq!(get(&out, "status").as_string().as_deref(), Some("pending"));
    let request = get(&out, "request");
    let nodes = Array::from(&sim.nodes().unwrap());
    let me = nodes.get(coordinator.as_f64().unwrap() as u32 - 1);
    let waiting = Array::from(&get(&me, "pending"));
    assert_eq!(get(&waiting.get(0), "got").as_f64(), Some(1.0));
    assert_eq!(get(&waiting.get(0), "needed").as_f64(), Some(3.0));
    sim.run_for(num(20.0)).unwrap();
    let done = sim.request(request).unwrap();
    assert_eq!(get(&done, "status").as_string().as_deref(), Some("ok"));
    assert_eq!(get(&done, "latencyMs").as_f64(), Some(20.0));
    let read = sim
        .read(
            coordinator.clone(),
            s("cart"),
            js(r#"{"session": "ann", "r": "one"}"#),
        )
        .unwrap();
    assert_eq!(
        get(&read, "status").as_string().as_deref(),
        Some("ok"),
        "R = 1: its own copy"
    );
    let versions = Array::from(&get(&read, "versions"));
    assert_eq!(
        get(&versions.get(0), "value").as_string().as_deref(),
        Some("milk")
    );
    // The context a read returns replaces exactly what it saw.
    let options = Object::new();
    Reflect::set(&options, &s("context"), &get(&read, "context")).unwrap();
    sim.write(
        coordinator.clone(),
        s("cart"),
        s("milk, eggs"),
        options.into(),
    )
    .unwrap();
    sim.run_for(num(100.0)).unwrap();
    assert!(sim.converged());
    let requests = Array::from(&sim.requests(JsValue::UNDEFINED).unwrap());
    assert_eq!(requests.length(), 3);
    assert_eq!(Array::from(&sim.ring().unwrap()).length(), 5 * 8);
}

#[wasm_bindgen_test]
fn siblings_deletes_and_bad_options_through_the_api() {
    let mut sim =
        sim(r#"{"seed": 3, "conflict": "vv", "latency": {"kind": "constant", "ms": 10}}"#);
    sim.write(num(1.0), s("k"), s("red"), JsValue::UNDEFINED)
        .unwrap();
    sim.write(num(2.0), s("k"), s("blue"), JsValue::UNDEFINED)
        .unwrap();
    sim.run_for(num(50.0)).unwrap();
    let keys = Array::from(&sim.keys(JsValue::UNDEFINED).unwrap());
    assert_eq!(get(&keys.get(0), "siblings").as_bool(), Some(true));
    let before = sim.trace_hash();
    let err = message(
        sim.write(num(1.0), s("k"), s("x"), js(r#"{"sesion": "a"}"#))
            .unwrap_err(),
    );
    assert!(err.contains("unknown field `sesion`"), "{err}");
    let err = message(
        sim.write(num(1.0), s("k"), s("x"), js(r#"{"w": "most"}"#))
            .unwrap_err(),
    );
    assert!(err.contains("not a consistency level"), "{err}");
    let err = message(
        sim.write(
            num(1.0),
            s("k"),
            s("x"),
            js(r#"{"context": {"key": "other", "clock": {}}}"#),
        )
        .unwrap_err(),
    );
    assert!(err.contains("read from key \"other\""), "{err}");
    let err = message(sim.read(num(1.0), s("k"), js(r#"{"r": 4}"#)).unwrap_err());
    assert!(err.contains("R = 4 does not fit N = 3"), "{err}");
    let err = message(
        sim.resolve(num(1.0), s("nothing"), s("x"), JsValue::UNDEFINED)
            .unwrap_err(),
    );
    assert!(err.contains("no siblings"), "{err}");
    assert_eq!(sim.trace_hash(), before, "nothing changed");
    sim.resolve(num(1.0), s("k"), s("purple"), JsValue::UNDEFINED)
        .unwrap();
    sim.delete(num(2.0), s("k"), JsValue::UNDEFINED).unwrap();
    sim.run_for(num(50.0)).unwrap();
    let keys = Array::from(&sim.keys(JsValue::UNDEFINED).unwrap());
    assert_eq!(get(&keys.get(0), "deleted").as_bool(), Some(true));
    assert_eq!(get(&sim.stats().unwrap(), "lostWrites").as_f64(), Some(0.0));
}

/// The version-vector scenario of issue 10 through the exported API: the context of a read that
/// missed a write names exactly what it saw, crosses to JS and back, and the write made with it
/// keeps the sibling its read missed. A malformed context is refused and changes nothing.
#[wasm_bindgen_test]
fn a_context_with_a_gap_crosses_to_js_and_back() {
    let mut sim = sim(r#"{"nodes": 3, "seed": 5, "conflict": "vv"}"#);
    sim.crash(num(3.0)).unwrap();
    sim.write(num(1.0), s("k"), s("a"), JsValue::UNDEFINED)
        .unwrap();
    sim.run_for(num(2000.0)).unwrap();
    sim.recover(num(3.0), JsValue::UNDEFINED).unwrap();
    sim.write(num(1.0), s("k"), s("b"), JsValue::UNDEFINED)
        .unwrap();
    sim.run_for(num(2000.0)).unwrap();
    let read = sim.read(num(3.0), s("k"), JsValue::UNDEFINED).unwrap();
    let context = get(&read, "context");
    assert_eq!(
        js_sys::JSON::stringify(&context)
            .unwrap()
            .as_string()
            .unwrap(),
        r#"{"key":"k","clock":{"1":[0,2]},"read":3}"#,
        "node 1's second write of k, without its first"
    );
    let before = sim.trace_hash();
    for bad in [
        r#"{"1": [0, 0]}"#,
        r#"{"1": []}"#,
        r#"{"one": 2}"#,
        r#"{"1": -2}"#,
    ] {
        let options = js(&format!(r#"{{"context": {{"key": "k", "clock": {bad}}}}}"#));
        let err = message(sim.write(num(3.0), s("k"), s("c"), options).unwrap_err());
        assert!(err.contains("context"), "{bad}: {err}");
    }
    assert_eq!(sim.trace_hash(), before, "nothing changed");
    let options = Object::new();
    Reflect::set(&options, &s("context"), &context).unwrap();
    sim.write(num(3.0), s("k"), s("c"), options.into()).unwrap();
    sim.run_for(num(5000.0)).unwrap();
    sim.configure(js(r#"{"antiEntropy": true}"#)).unwrap();
    sim.run_for(num(20000.0)).unwrap();
    assert!(sim.converged());
    let keys = Array::from(&sim.keys(JsValue::UNDEFINED).unwrap());
    let cell = Array::from(&get(&keys.get(0), "replicas")).get(2);
    let values: Vec<String> = Array::from(&get(&cell, "versions"))
        .iter()
        .map(|v| get(&v, "value").as_string().unwrap())
        .collect();
    assert_eq!(
        values,
        ["a", "c"],
        "node 3 has the write its client never saw"
    );
    assert_eq!(get(&sim.stats().unwrap(), "lostWrites").as_f64(), Some(0.0));
}

#[wasm_bindgen_test]
fn time_travel_and_sessions_through_the_api() {
    let settings = r#"{"seed": 9, "nodes": 4, "antiEntropy": true, "antiEntropyIntervalMs": 300}"#;
    let mut a = sim(settings);
    a.write(num(1.0), s("k"), s("one"), JsValue::UNDEFINED)
        .unwrap();
    a.run_for(num(400.0)).unwrap();
    a.crash(num(2.0)).unwrap();
    a.write(num(3.0), s("k"), s("two"), JsValue::UNDEFINED)
        .unwrap();
    a.run_for(num(1_600.0)).unwrap();
    let (hash_end, events_end) = (a.trace_hash(), a.events_handled());

    // Back to 1 s, then forward again: the remembered future replays, crash and write included.
    a.seek(num(1_000.0)).unwrap();
    assert_eq!(a.now(), 1_000.0);
    let hash_then = a.trace_hash();
    assert_eq!(get(&a.commands().unwrap(), "applied").as_f64(), Some(3.0));
    assert!(a.step_back().unwrap());
    a.seek(num(2_000.0)).unwrap();
    assert_eq!(
        (a.trace_hash(), a.events_handled()),
        (hash_end.clone(), events_end)
    );
    assert_eq!(a.end(), 2_000.0);

    // A session saved at 1 s loads elsewhere at that moment, with the same future.
    a.seek(num(1_000.0)).unwrap();
    let text = a.session(JsValue::UNDEFINED).unwrap();
    let mut b = sim("{}");
    b.load_session(&text).unwrap();
    assert_eq!(
        (b.now(), b.trace_hash(), b.end()),
        (1_000.0, hash_then, 2_000.0)
    );
    b.seek(num(2_000.0)).unwrap();
    assert_eq!(b.trace_hash(), hash_end);

    // Bad session text: a clear message, and the run stays as it was.
    let before = (b.now(), b.trace_hash());
    for (bad, says) in [
        ("{\"format\": \"converge-session\", \"vers", "not JSON"),
        (
            "{\"format\": \"converge-session\", \"version\": 99}",
            "newer converge",
        ),
        ("{\"hello\": 1}", "not a converge session"),
        // More nodes than the page draws, as settings are refused (issue 12, item 7).
        (
            r#"{"format": "converge-session", "version": 1, "settings": {"nodes": 1024}, "commands": [], "time": 0, "end": 0}"#,
            "1024 nodes is out of range: the page draws 1 to 64",
        ),
    ] {
        let err = message(b.load_session(bad).unwrap_err());
        assert!(err.contains(says), "{err}");
        assert_eq!((b.now(), b.trace_hash()), before);
    }
    assert!(message(b.seek(num(-5.0)).unwrap_err()).contains("milliseconds"));
}

#[wasm_bindgen_test]
fn plots_lessons_and_a_twin_through_the_api() {
    // Plots: the header, one sample per 100 ms from 0 to now, the cluster now, the histogram.
    let mut a = sim(r#"{"seed": 4, "nodes": 3, "latency": {"kind": "constant", "ms": 50}}"#);
    a.crash(num(3.0)).unwrap();
    a.write(num(1.0), s("k"), s("v"), JsValue::UNDEFINED)
        .unwrap();
    a.run_for(num(1_000.0)).unwrap();
    let p = a.plots().to_vec();
    let (interval, count, fields, buckets) = (p[0], p[1] as usize, p[2] as usize, p[3] as usize);
    assert_eq!((interval, count, fields), (100.0, 11, 12));
    assert_eq!(buckets, Sim::plot_buckets().len() + 1);
    assert_eq!(p.len(), 5 + (count + 1) * fields + buckets);
    assert_eq!(p[4], 1.0, "the write has not reached node 3");
    let now = &p[5 + count * fields..5 + (count + 1) * fields];
    assert_eq!(
        (now[6], now[10], now[11]),
        (1.0, 1.0, 1.0),
        "1 write; 1 replica behind, on 1 key"
    );

    // A lesson replaces the run, shown at its start with its script ahead; a bad one changes nothing.
    let lesson = include_str!("../www/lessons/tutorial.json");
    let view = a.load_lesson("tutorial", lesson).unwrap();
    assert_eq!(get(&view, "id").as_string().unwrap(), "tutorial");
    let steps = Array::from(&get(&view, "steps"));
    assert_eq!(steps.length(), 4);
    assert_eq!(get(&steps.get(1), "start").as_f64(), Some(1_000.0));
    assert_eq!((a.now(), a.end()), (0.0, 14_200.0));
    let before = (a.now(), a.trace_hash(), a.end());
    // More nodes than the page draws, as settings are refused (issue 12, item 7).
    let huge = lesson.replacen("\"nodes\": 3", "\"nodes\": 1024", 1);
    assert_ne!(huge, lesson);
    for (bad, says) in [
        (
            huge.as_str(),
            "1024 nodes is out of range: the page draws 1 to 64",
        ),
        ("{", "not JSON"),
        (
            r#"{"format": "converge-lesson", "version": 7}"#,
            "lesson version 7",
        ),
        (
            r#"{"format": "converge-session", "version": 1}"#,
            "not a converge lesson",
        ),
    ] {
        let err = message(a.load_lesson("x", bad).unwrap_err());
        assert!(err.contains(says), "{err}");
        assert_eq!((a.now(), a.trace_hash(), a.end()), before);
    }
    assert!(Sim::read_lesson("tutorial", lesson).is_ok());

    // A twin follows its leader's commands and moments, with its own settings.
    let mut leader =
        sim(r#"{"seed": 2, "nodes": 3, "coordination": "quorum", "writeQuorum": "one"}"#);
    let mut twin = Sim::twin_of(&leader, js(r#"{"writeQuorum": "all"}"#)).unwrap();
    leader.isolate(num(3.0)).unwrap();
    leader
        .write(num(1.0), s("k"), s("v"), JsValue::UNDEFINED)
        .unwrap();
    leader.run_for(num(2_000.0)).unwrap();
    twin.follow(&leader).unwrap();
    assert_eq!(twin.now(), 2_000.0);
    let failed = |sim: &Sim| {
        let stats = sim.stats().unwrap();
        get(&stats, "unavailable").as_f64().unwrap() + get(&stats, "timedOut").as_f64().unwrap()
    };
    assert_eq!((failed(&leader), failed(&twin)), (0.0, 1.0));
    assert_eq!(
        get(&twin.twin_change().unwrap(), "writeQuorum")
            .as_string()
            .unwrap(),
        "all"
    );
    leader.seek(num(500.0)).unwrap();
    twin.follow(&leader).unwrap();
    assert_eq!(twin.now(), 500.0);
    assert!(message(Sim::twin_of(&leader, js(r#"{"nodes": 0}"#)).err().unwrap()).contains("nodes"));
    assert!(message(leader.follow(&twin).unwrap_err()).contains("not a twin"));
}

/// A long jump in slices (as the page runs runFor past a million events): each slice handles
/// at most what it is given and says whether it got there; the target is checked as runUntil's.
#[wasm_bindgen_test]
fn run_slices_stop_at_their_budget_and_end_where_one_run_ends() {
    let settings = r#"{"nodes": 8, "seed": 3, "antiEntropy": true, "antiEntropyIntervalMs": 10}"#;
    let mut sliced = sim(settings);
    let mut whole = sim(settings);
    let target = sliced.time_after(num(2_000.0)).unwrap();
    assert_eq!(target, 2_000.0);
    let mut slices = 0;
    while !sliced.run_slice(num(target), 500.0).unwrap() {
        slices += 1;
        assert!(sliced.events_handled() <= 500.0 * f64::from(slices));
    }
    assert!(slices > 3, "{slices} slices");
    whole.run_until(num(target)).unwrap();
    assert_eq!(sliced.events_handled(), whole.events_handled());
    assert_eq!(sliced.trace_hash(), whole.trace_hash());
    assert!(sliced.run_slice(num(1e300), 10.0).is_err());
    assert!(sliced.run_slice(num(3_000.0), 0.0).is_err());
    assert!(sliced.time_after(num(-1.0)).is_err());
    assert_eq!(
        sliced.events_handled(),
        whole.events_handled(),
        "refused: nothing ran"
    );
}

/// The page reads the encodings' layout from the core: the strides and codes it gives are
/// the ones `flights`, `drainDrops` and `diagram` use.
#[wasm_bindgen_test]
fn the_layout_the_page_reads_is_the_one_the_encodings_use() {
    let layout = Sim::layout().unwrap();
    let stride = get(&layout, "flightStride").as_f64().unwrap() as u32;
    let replicate = get(&get(&layout, "messageKinds"), "replicate")
        .as_f64()
        .unwrap();
    let mut sim = sim(r#"{"seed": 5, "latency": {"kind": "constant", "ms": 50}}"#);
    sim.write(num(1.0), s("name"), s("Alice"), JsValue::UNDEFINED)
        .unwrap();
    let flights = sim.flights(25.0);
    assert_eq!(flights.length(), 2 * stride);
    assert_eq!(f64::from(flights.get_index(2)), replicate);
    let diagram = sim.diagram(num(0.0)).unwrap();
    let stride = get(&layout, "diagramStride").as_f64().unwrap() as u32;
    let write = get(&get(&layout, "diagramCodes"), "write")
        .as_f64()
        .unwrap();
    assert_eq!(diagram.length() % stride, 0);
    assert_eq!(diagram.get_index(0), write, "the first event is the write");
}
