//! Guided lessons: narrated scenarios kept as data files (`www/lessons/*.json`), so that a
//! teacher can write one without touching Rust.
//!
//! A lesson is settings and a list of steps. Each step has text to read, actions given at
//! chosen moments after the step begins, how long it runs, and usually a question: the reader
//! predicts what will happen, then runs the step to see. Loading a lesson replays the whole
//! script once into a [`Timeline`] and goes back to its start: playing forward then replays
//! the lesson's remembered future exactly, and acting along the way forks a new one, as
//! anywhere else. A step may also say what must hold when it ends (`expect`): the tests check
//! every lesson's claims against the simulation, so the text cannot drift from what happens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::Time;
use crate::settings::{Settings, SettingsPatch};
use crate::sim::Simulation;
use crate::timeline::{Command, Timeline, check_header};

/// What a lesson file says it is.
pub const LESSON_FORMAT: &str = "converge-lesson";
/// The version of the lesson format this build reads.
pub const LESSON_VERSION: u32 = 1;
/// The longest lesson file read, in bytes.
pub const MAX_LESSON_BYTES: usize = 200_000;
/// The most steps a lesson may have.
pub const MAX_STEPS: usize = 40;
/// The most actions one step may give.
pub const MAX_ACTIONS: usize = 200;
/// The longest a step may run (ten minutes of virtual time).
pub const MAX_STEP_MS: Time = 10 * 60 * 1000;

/// A lesson, as its file says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lesson {
    /// Always [`LESSON_FORMAT`].
    pub format: String,
    /// [`LESSON_VERSION`].
    pub version: u32,
    /// Its title.
    pub title: String,
    /// One or two sentences: what it teaches.
    pub summary: String,
    /// Settings over the defaults (seed and nodes included: a lesson is always the same run).
    #[serde(default)]
    pub settings: SettingsPatch,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// One step of a lesson.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Step {
    /// Its title.
    pub title: String,
    /// What to read before running it: paragraphs separated by blank lines; `**bold**` marks
    /// words to stress.
    pub text: String,
    /// What happens during the step, each at `at` milliseconds after it begins.
    #[serde(default)]
    pub actions: Vec<Action>,
    /// How long the step runs, in milliseconds of virtual time.
    pub run_ms: Time,
    /// A question to answer before running it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict: Option<Predict>,
    /// What to read once it has run: what happened, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// What must hold when the step ends (checked by the tests, not shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

/// An action of a step: a command and when, after the step begins, it is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Milliseconds after the step begins (at most its `runMs`).
    pub at: Time,
    /// The command, as in a session (`{"do": "write", "node": 1, ...}`).
    #[serde(flatten)]
    pub command: Command,
}

/// "Predict what happens next".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Predict {
    /// The question.
    pub question: String,
    /// Two to six answers to choose from.
    pub choices: Vec<String>,
    /// The right one, from 0.
    pub answer: usize,
    /// Why it is right, shown after the step has run.
    pub explain: String,
}

/// What must hold when a step ends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// Whether every live replica of every key holds the same versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub converged: Option<bool>,
    /// For a key, for a node (its id as text): the values it holds, in any order (siblings
    /// are several; `null` is a tombstone; none is an empty list).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, BTreeMap<String, Vec<Option<String>>>>,
    /// For a key, for a node: the value a client reads there under a data type (a set's
    /// `{bread, milk}`, a counter's total; see [`crate::crdt::merged_value`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub merged: BTreeMap<String, BTreeMap<String, String>>,
    /// Counters of `Simulation::stats` by their JSON names (`staleReads`, `lostWrites`, ...):
    /// an exact number, or `{"min": a, "max": b}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub stats: BTreeMap<String, Bound>,
}

/// A number a counter must have.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    untagged,
    expecting = "a counter's bound must be a whole number, or {\"min\": ..., \"max\": ...} with either or both"
)]
pub enum Bound {
    /// Exactly this.
    Exactly(u64),
    /// Within these bounds (each optional, inclusive).
    Within {
        /// At least.
        #[serde(default)]
        min: Option<u64>,
        /// At most.
        #[serde(default)]
        max: Option<u64>,
    },
}

impl Bound {
    fn holds(self, value: u64) -> bool {
        match self {
            Bound::Exactly(want) => value == want,
            Bound::Within { min, max } => {
                min.is_none_or(|m| value >= m) && max.is_none_or(|m| value <= m)
            }
        }
    }
}

/// A step as the page shows it: its text, and where it lies in the run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepView {
    /// Its title.
    pub title: String,
    /// Its text.
    pub text: String,
    /// When it begins and ends (virtual ms).
    pub start: Time,
    /// When it ends.
    pub end: Time,
    /// Its question, if any.
    pub predict: Option<Predict>,
    /// Its text for afterwards, if any.
    pub after: Option<String>,
}

/// A lesson as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LessonView {
    /// Its id (the file name without `.json`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its summary.
    pub summary: String,
    /// Its steps.
    pub steps: Vec<StepView>,
}

impl Lesson {
    /// Reads a lesson from JSON and checks it (nothing runs yet).
    pub fn from_json(text: &str) -> Result<Lesson, Error> {
        let bad = |problem: String| Error::InvalidLesson(problem);
        check_header(
            text,
            "lesson",
            LESSON_FORMAT,
            LESSON_VERSION,
            MAX_LESSON_BYTES,
        )
        .map_err(bad)?;
        let lesson: Lesson = serde_json::from_str(text).map_err(|e| bad(format!("{e}")))?;
        lesson.check()?;
        Ok(lesson)
    }

    fn check(&self) -> Result<(), Error> {
        let bad = |problem: String| Err(Error::InvalidLesson(problem));
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return bad(format!(
                "it has {} steps; a lesson has 1 to {MAX_STEPS}",
                self.steps.len()
            ));
        }
        for (i, step) in self.steps.iter().enumerate() {
            let name = format!("step {} (\"{}\")", i + 1, step.title);
            if step.run_ms > MAX_STEP_MS {
                return bad(format!(
                    "{name} runs {} ms; a step runs at most {MAX_STEP_MS}",
                    step.run_ms
                ));
            }
            if step.actions.len() > MAX_ACTIONS {
                return bad(format!(
                    "{name} has {} actions; a step has at most {MAX_ACTIONS}",
                    step.actions.len()
                ));
            }
            if let Some(action) = step.actions.iter().find(|a| a.at > step.run_ms) {
                return bad(format!(
                    "{name} has an action at {} ms, after the step ends ({} ms)",
                    action.at, step.run_ms
                ));
            }
            if step.actions.windows(2).any(|w| w[1].at < w[0].at) {
                return bad(format!("{name} lists its actions out of time order"));
            }
            if let Some(p) = &step.predict {
                if !(2..=6).contains(&p.choices.len()) || p.answer >= p.choices.len() {
                    return bad(format!(
                        "{name}: a question has 2 to 6 choices and its answer is one of them \
                         (from 0)"
                    ));
                }
            }
            if let Some(expect) = &step.expect {
                for name_of in expect.stats.keys() {
                    if !STAT_NAMES.contains(&name_of.as_str()) {
                        return bad(format!(
                            "{name} expects an unknown counter \"{name_of}\" (known: {})",
                            STAT_NAMES.join(", ")
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// The settings the lesson runs with.
    pub fn settings(&self) -> Result<Settings, Error> {
        Settings::default()
            .patched(&self.settings)
            .map_err(|e| Error::InvalidLesson(format!("its settings are refused: {e}")))
    }

    /// When each step begins: step `i` runs from `starts()[i]` to `starts()[i + 1]`.
    pub fn starts(&self) -> Vec<Time> {
        let mut at = 0;
        let mut starts = Vec::with_capacity(self.steps.len() + 1);
        starts.push(0);
        for step in &self.steps {
            at += step.run_ms;
            starts.push(at);
        }
        starts
    }

    /// Plays the whole script into a new timeline, calling `at_end(step, sim)` as each step
    /// ends, and leaves the timeline at the end.
    pub fn play(
        &self,
        mut at_end: impl FnMut(usize, &Simulation) -> Result<(), Error>,
    ) -> Result<Timeline, Error> {
        let mut timeline = Timeline::new(self.settings()?)?;
        let starts = self.starts();
        for (i, step) in self.steps.iter().enumerate() {
            for (j, action) in step.actions.iter().enumerate() {
                timeline.run_until(starts[i] + action.at);
                timeline.execute(action.command.clone()).map_err(|e| {
                    Error::InvalidLesson(format!(
                        "step {} (\"{}\"), action {} at {} ms: {e}",
                        i + 1,
                        step.title,
                        j + 1,
                        action.at
                    ))
                })?;
            }
            timeline.run_until(starts[i + 1]);
            at_end(i, timeline.sim())?;
        }
        Ok(timeline)
    }

    /// The timeline of the whole lesson, shown at its start (the script is its future).
    pub fn timeline(&self) -> Result<Timeline, Error> {
        let mut timeline = self.play(|_, _| Ok(()))?;
        timeline.seek(0)?;
        Ok(timeline)
    }

    /// Plays the lesson and checks every step's `expect`; says what did not hold.
    pub fn verify(&self) -> Result<(), Error> {
        self.play(|i, sim| {
            let step = &self.steps[i];
            match &step.expect {
                Some(expect) => expect.check(sim).map_err(|problem| {
                    Error::InvalidLesson(format!(
                        "after step {} (\"{}\"): {problem}",
                        i + 1,
                        step.title
                    ))
                }),
                None => Ok(()),
            }
        })
        .map(|_| ())
    }

    /// The lesson as the page shows it.
    pub fn view(&self, id: &str) -> LessonView {
        let starts = self.starts();
        LessonView {
            id: id.to_string(),
            title: self.title.clone(),
            summary: self.summary.clone(),
            steps: self
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepView {
                    title: s.title.clone(),
                    text: s.text.clone(),
                    start: starts[i],
                    end: starts[i + 1],
                    predict: s.predict.clone(),
                    after: s.after.clone(),
                })
                .collect(),
        }
    }
}

/// The counters a lesson may name in `expect.stats`.
const STAT_NAMES: [&str; 21] = [
    "sent",
    "delivered",
    "dropped",
    "droppedLost",
    "droppedCut",
    "droppedDown",
    "sentReplicate",
    "sentRequests",
    "sentRepair",
    "sentHint",
    "sentAntiEntropy",
    "writes",
    "reads",
    "unavailable",
    "timedOut",
    "staleReads",
    "sessionViolations",
    "hints",
    "tombstonesCollected",
    "resurrections",
    "lostWrites",
];

impl Expect {
    /// Checks `sim` against this; says every thing that does not hold, with what it found.
    pub fn check(&self, sim: &Simulation) -> Result<(), String> {
        let mut problems = Vec::new();
        if let Some(want) = self.converged {
            if sim.converged() != want {
                problems.push(format!(
                    "expected converged = {want}, but it is {} (divergent keys: {:?})",
                    !want,
                    sim.divergent_keys()
                ));
            }
        }
        let mut held_at = |node: &str, key: &str| {
            let held = node
                .trim()
                .parse::<u32>()
                .map_err(|_| format!("\"{node}\" is not a node id"))
                .and_then(|id| {
                    sim.versions_at(crate::NodeId(id), key)
                        .map_err(|e| e.to_string())
                });
            held.map_err(|problem| problems.push(problem)).ok()
        };
        let mut mismatches = Vec::new();
        for (key, nodes) in &self.values {
            for (node, want) in nodes {
                let Some(held) = held_at(node, key) else {
                    continue;
                };
                let mut got: Vec<Option<String>> = held
                    .iter()
                    .map(|v| v.value.as_ref().map(|v| v.to_string()))
                    .collect();
                let mut want = want.clone();
                got.sort();
                want.sort();
                if got != want {
                    mismatches.push(format!(
                        "expected node {node} to hold {want:?} for \"{key}\", but it holds {got:?}"
                    ));
                }
            }
        }
        for (key, nodes) in &self.merged {
            for (node, want) in nodes {
                let Some(held) = held_at(node, key) else {
                    continue;
                };
                let got = crate::crdt::merged_value(sim.settings().conflict, held);
                if got.as_deref() != Some(want.as_str()) {
                    mismatches.push(format!(
                        "expected node {node} to read {want} for \"{key}\", but it reads {}",
                        got.as_deref().unwrap_or("nothing")
                    ));
                }
            }
        }
        problems.extend(mismatches);
        let stats = serde_json::to_value(sim.stats()).expect("stats serialize");
        for (name, bound) in &self.stats {
            let value = stats.get(name).and_then(|v| v.as_u64()).unwrap_or(0);
            if !bound.holds(value) {
                problems.push(format!("expected {name} {bound:?}, but it is {value}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}
