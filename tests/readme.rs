//! The examples of the README and of the pages in `docs/`, run so that they cannot drift from
//! the code: the lesson file is a lesson every claim of which holds, and the session loads and
//! replays (both are in `docs/api.md`). (The Rust examples run as doctests, through
//! `ReadmeDoctests` and `DocsRustDoctests` in `src/lib.rs`; the JavaScript examples run in the
//! page, in `tests/e2e/readme.test.mjs`.)
#![cfg(not(target_arch = "wasm32"))]

use converge::{Lesson, Session, Settings, Timeline};

/// The README and every page of the documentation it links to.
const PAGES: [&str; 7] = [
    include_str!("../README.md"),
    include_str!("../docs/using.md"),
    include_str!("../docs/model.md"),
    include_str!("../docs/api.md"),
    include_str!("../docs/rust.md"),
    include_str!("../ARCHITECTURE.md"),
    include_str!("../docs/benchmarks.md"),
];

/// The code blocks in `lang` of every page, in order.
fn blocks(lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    PAGES
        .iter()
        .flat_map(|page| {
            page.split(&fence)
                .skip(1)
                .map(|rest| rest.split("\n```").next().unwrap().to_string())
        })
        .collect()
}

/// The one JSON block that names `format`.
fn json_block(format: &str) -> String {
    let found: Vec<String> = blocks("json")
        .into_iter()
        .filter(|b| b.contains(&format!("\"format\": \"{format}\"")))
        .collect();
    assert_eq!(found.len(), 1, "one {format} example in the docs");
    found.into_iter().next().unwrap()
}

#[test]
fn the_lesson_example_is_a_lesson_whose_claims_hold() {
    let lesson = Lesson::from_json(&json_block("converge-lesson")).unwrap();
    lesson.verify().unwrap();
}

#[test]
fn the_session_example_loads_once_its_settings_are_named() {
    let mut session: serde_json::Value =
        serde_json::from_str(&json_block("converge-session")).unwrap();
    // The example names a few settings and stands "..." for the rest; a saved session names them
    // all. Fill them in from the defaults, keeping those it gives.
    let settings = session["settings"].as_object_mut().unwrap();
    assert_eq!(settings.remove("..."), Some("every setting".into()));
    let mut all = serde_json::to_value(Settings::default()).unwrap();
    for (name, value) in settings.iter() {
        assert!(all.get(name).is_some(), "{name} is a setting");
        all[name] = value.clone();
    }
    session["settings"] = all;
    let session = Session::from_json(&session.to_string()).unwrap();
    let timeline = Timeline::from_session(&session).unwrap();
    assert_eq!(timeline.sim().now(), session.time);
    assert_eq!(timeline.log().len(), session.commands.len());
    assert_eq!(timeline.end(), session.end);
}
