//! The guided lessons in `www/lessons/`: every one listed loads, plays to its end, and what each
//! step says will hold does hold, so a lesson's text cannot drift from what the simulation does.
//! Bad lesson files are refused with a reason.
#![cfg(not(target_arch = "wasm32"))]

use std::fs;
use std::path::PathBuf;

use converge::Lesson;

fn lessons_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("www/lessons")
}

/// The lessons the page offers, in order (`index.json`).
fn listed() -> Vec<String> {
    let index: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(lessons_dir().join("index.json")).unwrap())
            .unwrap();
    assert_eq!(index["format"], "converge-lessons");
    index["lessons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_string())
        .collect()
}

fn load(id: &str) -> Lesson {
    let text = fs::read_to_string(lessons_dir().join(format!("{id}.json")))
        .unwrap_or_else(|e| panic!("lesson {id}: {e}"));
    Lesson::from_json(&text).unwrap_or_else(|e| panic!("lesson {id}: {e}"))
}

#[test]
fn every_listed_lesson_plays_and_what_it_claims_holds() {
    let ids = listed();
    for id in &ids {
        let lesson = load(id);
        lesson
            .verify()
            .unwrap_or_else(|e| panic!("lesson {id}: {e}"));
    }
    assert!(ids.len() >= 8, "at least eight lessons: {ids:?}");
}

#[test]
fn every_lesson_file_is_listed_once() {
    let ids = listed();
    let mut files: Vec<String> = fs::read_dir(lessons_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name != "index.json" && name.ends_with(".json"))
        .map(|name| name.trim_end_matches(".json").to_string())
        .collect();
    files.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), ids.len(), "listed twice: {ids:?}");
    assert_eq!(files, sorted);
}

#[test]
fn every_step_asks_or_tells_and_every_lesson_asks_a_question() {
    for id in listed() {
        let lesson = load(&id);
        assert!(
            lesson.steps.iter().any(|s| s.predict.is_some()),
            "lesson {id} has no \"predict what happens next\" question"
        );
        assert!(
            lesson.steps.iter().any(|s| s.expect.is_some()),
            "lesson {id} checks nothing it claims"
        );
        for step in &lesson.steps {
            assert!(
                !step.text.trim().is_empty(),
                "lesson {id}: a step without text"
            );
            assert!(
                step.run_ms > 0,
                "lesson {id}: step \"{}\" runs for no time",
                step.title
            );
        }
    }
}

#[test]
fn a_lesson_opens_at_its_start_with_its_script_ahead() {
    let lesson = load("tutorial");
    let timeline = lesson.timeline().unwrap();
    assert_eq!(timeline.sim().now(), 0);
    assert_eq!(timeline.end(), *lesson.starts().last().unwrap());
    assert_eq!(timeline.applied(), 0);
    let actions: usize = lesson.steps.iter().map(|s| s.actions.len()).sum();
    assert_eq!(timeline.log().len(), actions);
}

#[test]
fn bad_lessons_are_refused_with_a_reason() {
    let good = fs::read_to_string(lessons_dir().join("tutorial.json")).unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    let refused =
        |v: &serde_json::Value| Lesson::from_json(&v.to_string()).unwrap_err().to_string();

    assert!(
        Lesson::from_json("{")
            .unwrap_err()
            .to_string()
            .contains("not JSON")
    );
    let mut wrong = value.clone();
    wrong["format"] = "converge-session".into();
    assert!(refused(&wrong).contains("not a converge lesson"));
    let mut wrong = value.clone();
    wrong["version"] = 2.into();
    assert!(refused(&wrong).contains("a newer converge (lesson version 2)"));
    let mut wrong = value.clone();
    wrong["steps"][0]["actions"][0]["at"] = 5000.into();
    assert!(
        refused(&wrong).contains("after the step ends"),
        "{}",
        refused(&wrong)
    );
    let mut wrong = value.clone();
    wrong["steps"][0]["predict"]["answer"] = 7.into();
    assert!(refused(&wrong).contains("choices"));
    let mut wrong = value.clone();
    wrong["steps"][0]["expect"]["stats"] = serde_json::json!({"nonsense": 1});
    assert!(refused(&wrong).contains("unknown counter"));
    // A bound that is neither a number nor {min, max} says what it should be, not which
    // untagged enum failed to match.
    let mut wrong = value.clone();
    wrong["steps"][0]["expect"]["stats"] = serde_json::json!({"writes": "many"});
    assert!(
        refused(&wrong)
            .contains("a counter's bound must be a whole number, or {\"min\": ..., \"max\": ...}"),
        "{}",
        refused(&wrong)
    );
    assert!(!refused(&wrong).contains("untagged"), "{}", refused(&wrong));
    let mut wrong = value.clone();
    wrong["steps"][0]["actions"][0]["do"] = "explode".into();
    assert!(refused(&wrong).contains("explode"), "{}", refused(&wrong));
    let mut wrong = value.clone();
    wrong["steps"][0]["actions"][0]["color"] = "red".into();
    assert!(refused(&wrong).contains("color"), "{}", refused(&wrong));
    let huge = format!(
        "{{\"format\": \"converge-lesson\", \"pad\": \"{}\"}}",
        "x".repeat(300_000)
    );
    assert!(
        Lesson::from_json(&huge)
            .unwrap_err()
            .to_string()
            .contains("at most")
    );

    // An action that cannot be given where it stands: node 9 of 3.
    value["steps"][1]["actions"][0]["node"] = 9.into();
    let lesson = Lesson::from_json(&value.to_string()).unwrap();
    let problem = lesson.timeline().unwrap_err().to_string();
    assert!(
        problem.contains("step 2") && problem.contains("no node 9"),
        "{problem}"
    );

    // A claim that does not hold is reported with what was found.
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    value["steps"][1]["expect"]["values"]["name"]["3"] = serde_json::json!(["Bob"]);
    let problem = Lesson::from_json(&value.to_string())
        .unwrap()
        .verify()
        .unwrap_err()
        .to_string();
    assert!(
        problem.contains("node 3") && problem.contains("Alice"),
        "{problem}"
    );
}

/// At the end of every step of every lesson under version vectors, the lost writes judged from
/// the history and those the replicas' clocks give are the same.
#[test]
fn every_lesson_step_ends_with_the_two_lost_write_counts_agreeing() {
    for id in listed() {
        let lesson = load(&id);
        let mut timeline = lesson.timeline().unwrap();
        for (i, step) in lesson.view(&id).steps.iter().enumerate() {
            timeline.seek(step.end).unwrap();
            let sim = timeline.sim();
            let Some(by_clocks) = sim.lost_writes_by_clocks() else {
                continue;
            };
            assert_eq!(sim.lost_writes(), by_clocks, "lesson {id}, step {}", i + 1);
        }
    }
}
