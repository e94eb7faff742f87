//! Time travel: a run remembered as its settings and the commands given to it, so that any
//! earlier moment can be shown again, and a saved session (a file, a link) replays exactly.
//!
//! A [`Simulation`] is deterministic: the same settings and the same commands at the same
//! places give the same run, event for event. A [`Timeline`] keeps the command log, each
//! command stamped with the virtual time it was given at and how many events had been handled
//! by then (commands can come between two events of one millisecond, after a single step).
//! Going back restores the nearest earlier snapshot and replays from it; snapshots are taken
//! every few thousand events and thinned as a run grows, so a jump replays a bounded stretch.
//! Running forward from the past replays the remembered future, commands included; giving a
//! command in the past discards that future and starts a new one from there (as RaftScope).

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::NodeId;
use crate::ids::Time;
use crate::network::LinkOverride;
use crate::settings::{Settings, SettingsPatch};
use crate::sim::{ClientOptions, RequestView, Simulation, WriteOutcome};

/// What a saved session says it is.
pub const SESSION_FORMAT: &str = "converge-session";
/// The version of the session format this build writes and reads.
pub const SESSION_VERSION: u32 = 1;
/// The longest session text read, in bytes.
pub const MAX_SESSION_BYTES: usize = 2_000_000;
/// The most commands a session may hold.
pub const MAX_COMMANDS: usize = 20_000;
/// The furthest point in virtual time a session may reach (one day).
pub const MAX_SESSION_MS: Time = 24 * 60 * 60 * 1000;
/// The most events replaying a session may take; beyond it the page would hang.
pub const MAX_REPLAY_EVENTS: u64 = 30_000_000;

/// The most work replaying a session may take: events handled plus the versions their
/// messages carry (an anti-entropy exchange carries every version a node holds, and costs
/// accordingly: 64 nodes exchanging 2,000 keys every 10 ms carry 13 million a second). About
/// ten seconds in the page, loaded in slices between frames.
pub const MAX_REPLAY_WORK: u64 = 60_000_000;

/// Events between snapshots at first; doubled whenever [`MAX_SNAPSHOTS`] are kept.
const SNAPSHOT_EVERY: u64 = 4_000;
/// The most snapshots kept.
const MAX_SNAPSHOTS: usize = 128;
/// The most commands time travel remembers: as many as a session may hold. A longer run
/// forgets its earliest history (going back reaches the last 15,000 to 20,000 commands), so
/// that a page left running through a lecture keeps flat memory.
pub const HISTORY_COMMANDS: usize = MAX_COMMANDS;
/// The most bytes the snapshots may hold together (by [`Simulation::snapshot_bytes`]): a run
/// with hundreds of thousands of messages in flight has snapshots of tens of megabytes each.
pub const MAX_SNAPSHOT_BYTES: usize = 256 << 20;

/// Something a person (or a script, or a lesson) did to the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "camelCase", deny_unknown_fields)]
pub enum Command {
    /// A client writes `value` to `key` through `node`.
    Write {
        /// The node.
        node: NodeId,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Session, context, W.
        #[serde(default, skip_serializing_if = "is_default")]
        options: ClientOptions,
    },
    /// A client deletes `key` through `node`.
    Delete {
        /// The node.
        node: NodeId,
        /// The key.
        key: String,
        /// Session, context, W.
        #[serde(default, skip_serializing_if = "is_default")]
        options: ClientOptions,
    },
    /// A client reads `key` through `node`.
    Read {
        /// The node.
        node: NodeId,
        /// The key.
        key: String,
        /// Session, R.
        #[serde(default, skip_serializing_if = "is_default")]
        options: ClientOptions,
    },
    /// A client resolves the siblings `node` holds for `key` by writing `value`.
    Resolve {
        /// The node.
        node: NodeId,
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Session, W.
        #[serde(default, skip_serializing_if = "is_default")]
        options: ClientOptions,
    },
    /// Cuts the link between two nodes (only `a` → `b` if `one_way`).
    #[serde(rename_all = "camelCase")]
    Cut {
        /// One end.
        a: NodeId,
        /// The other end.
        b: NodeId,
        /// Whether only messages from `a` to `b` are lost.
        #[serde(default, skip_serializing_if = "is_default")]
        one_way: bool,
    },
    /// Heals the link between two nodes (only `a` → `b` if `one_way`).
    #[serde(rename_all = "camelCase")]
    Heal {
        /// One end.
        a: NodeId,
        /// The other end.
        b: NodeId,
        /// Whether only the direction `a` → `b` heals.
        #[serde(default, skip_serializing_if = "is_default")]
        one_way: bool,
    },
    /// Splits the cluster into groups that cannot reach each other.
    Partition {
        /// The groups.
        groups: Vec<Vec<NodeId>>,
    },
    /// Heals every link.
    HealAll,
    /// Cuts every link of a node.
    Isolate {
        /// The node.
        node: NodeId,
    },
    /// Heals every link of a node.
    Reconnect {
        /// The node.
        node: NodeId,
    },
    /// Gives one direction of a link its own model, or (None) returns it to the common one.
    SetLink {
        /// From.
        from: NodeId,
        /// To.
        to: NodeId,
        /// The link's own latency, loss or duplication.
        link: Option<LinkOverride>,
    },
    /// Crashes a node.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// Recovers a node, with an empty store if `wipe`.
    Recover {
        /// The node.
        node: NodeId,
        /// Whether its store is lost.
        #[serde(default, skip_serializing_if = "is_default")]
        wipe: bool,
    },
    /// Changes settings that a running cluster can change (not nodes, seed, N or vnodes: they
    /// start a new run, see [`Timeline::configure`]).
    Configure {
        /// The changes.
        settings: SettingsPatch,
    },
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// What a command gave back.
#[derive(Clone, Debug)]
pub enum Done {
    /// A write, delete or resolve.
    Write(WriteOutcome),
    /// A read.
    Read(Box<RequestView>),
    /// Anything else.
    Nothing,
}

impl Command {
    /// Gives this command to `sim`, as a [`Timeline`] does (without logging it). A command
    /// that fails changes nothing.
    pub fn apply(&self, sim: &mut Simulation) -> Result<Done, Error> {
        Ok(match self {
            Command::Write {
                node,
                key,
                value,
                options,
            } => Done::Write(sim.write_with(*node, key, Some(value), options)?),
            Command::Delete { node, key, options } => {
                Done::Write(sim.write_with(*node, key, None, options)?)
            }
            Command::Read { node, key, options } => {
                Done::Read(Box::new(sim.read_with(*node, key, options)?))
            }
            Command::Resolve {
                node,
                key,
                value,
                options,
            } => Done::Write(sim.resolve(*node, key, value, options)?),
            Command::Cut { a, b, one_way } => {
                if *one_way {
                    sim.cut_one_way(*a, *b)?;
                } else {
                    sim.cut(*a, *b)?;
                }
                Done::Nothing
            }
            Command::Heal { a, b, one_way } => {
                if *one_way {
                    sim.heal_one_way(*a, *b)?;
                } else {
                    sim.heal(*a, *b)?;
                }
                Done::Nothing
            }
            Command::Partition { groups } => {
                sim.partition(groups)?;
                Done::Nothing
            }
            Command::HealAll => {
                sim.heal_all();
                Done::Nothing
            }
            Command::Isolate { node } => {
                sim.isolate(*node)?;
                Done::Nothing
            }
            Command::Reconnect { node } => {
                sim.reconnect(*node)?;
                Done::Nothing
            }
            Command::SetLink { from, to, link } => {
                sim.set_link(*from, *to, *link)?;
                Done::Nothing
            }
            Command::Crash { node } => {
                sim.crash(*node)?;
                Done::Nothing
            }
            Command::Recover { node, wipe } => {
                sim.recover(*node, *wipe)?;
                Done::Nothing
            }
            Command::Configure { settings } => {
                if settings.needs_restart(sim.settings()) {
                    return Err(Error::InvalidCommand(
                        "a change of nodes, seed, replicationFactor or vnodes starts a new run: \
                         it cannot be a step of this one"
                            .into(),
                    ));
                }
                sim.configure(settings)?;
                Done::Nothing
            }
        })
    }
}

/// A command where it happened in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Logged {
    /// Virtual time when it was given.
    pub at: Time,
    /// How many events had been handled by then.
    pub events: u64,
    /// The command.
    pub command: Command,
}

/// A whole session: everything needed to show again exactly what was on screen.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Session {
    /// Always [`SESSION_FORMAT`].
    pub format: String,
    /// [`SESSION_VERSION`] when written by this build.
    pub version: u32,
    /// The settings the run began with (every one, so later defaults cannot change it).
    pub settings: SettingsPatch,
    /// Every command, in order.
    pub commands: Vec<Logged>,
    /// The moment shown.
    pub time: Time,
    /// How many events the moment shown had handled: several can share a millisecond, and
    /// the time alone does not say which of them it was after. (Sessions written before it
    /// was saved have none: their moment is the end of its millisecond.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<u64>,
    /// How far the run had gone (the moment shown may be earlier, after going back).
    pub end: Time,
    /// The lesson open, if any, and its step (the page's business; kept as given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<LessonPlace>,
}

/// Where in a lesson a session is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LessonPlace {
    /// The lesson's id (its file name without `.json`).
    pub id: String,
    /// The step shown, from 0.
    pub step: u32,
}

impl Session {
    /// Reads a session from JSON, checking its form; nothing runs yet.
    pub fn from_json(text: &str) -> Result<Session, Error> {
        check_header(
            text,
            "session",
            SESSION_FORMAT,
            SESSION_VERSION,
            MAX_SESSION_BYTES,
        )
        .map_err(Error::InvalidSession)?;
        let session: Session =
            serde_json::from_str(text).map_err(|e| Error::InvalidSession(format!("{e}")))?;
        session.check()?;
        Ok(session)
    }

    /// The session as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a session always serializes")
    }

    /// Checks what can be checked without running: sizes and order.
    fn check(&self) -> Result<(), Error> {
        let bad = |problem: String| Err(Error::InvalidSession(problem));
        if self.commands.len() > MAX_COMMANDS {
            return bad(format!(
                "it has {} commands; sessions may have at most {MAX_COMMANDS}",
                self.commands.len()
            ));
        }
        if self.end > MAX_SESSION_MS || self.time > self.end {
            return bad(format!(
                "its time ({} ms) and end ({} ms) must satisfy time <= end <= {MAX_SESSION_MS}",
                self.time, self.end
            ));
        }
        let mut last = (0, 0);
        for (i, logged) in self.commands.iter().enumerate() {
            if logged.at < last.0 || logged.events < last.1 {
                return bad(format!(
                    "command {} comes before the one ahead of it (at {} ms after event {})",
                    i + 1,
                    logged.at,
                    logged.events
                ));
            }
            if logged.at > self.end {
                return bad(format!(
                    "command {} is at {} ms, after the session's end ({} ms)",
                    i + 1,
                    logged.at,
                    self.end
                ));
            }
            if logged.events > MAX_REPLAY_EVENTS {
                return bad(format!(
                    "command {} comes after {} events; a session may replay at most {MAX_REPLAY_EVENTS}",
                    i + 1,
                    logged.events
                ));
            }
            last = (logged.at, logged.events);
        }
        Ok(())
    }
}

/// Checks the size, the format and the version of a converge file (`kind`: "session",
/// "lesson") before anything else is read, so that a newer or foreign file gets the right
/// message. Says what is wrong.
pub(crate) fn check_header(
    text: &str,
    kind: &str,
    format: &str,
    version: u32,
    max_bytes: usize,
) -> Result<(), String> {
    if text.len() > max_bytes {
        return Err(format!(
            "it is {} bytes long; a {kind} may be at most {max_bytes}",
            text.len()
        ));
    }
    #[derive(Deserialize)]
    struct Header {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let header: Header = serde_json::from_str(text)
        .map_err(|e| format!("it is not a converge {kind} (not JSON: {e})"))?;
    if header.format.as_ref().and_then(|f| f.as_str()) != Some(format) {
        return Err(format!(
            "it does not say \"format\": \"{format}\", so it is not a converge {kind}"
        ));
    }
    match header.version.as_ref().and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(version) => Ok(()),
        Some(v) if v > u64::from(version) => Err(format!(
            "it was saved by a newer converge ({kind} version {v}); this page reads version \
             {version}"
        )),
        _ => Err(format!(
            "its version is {}, and this page reads version {version}",
            header
                .version
                .map_or("missing".to_string(), |v| v.to_string())
        )),
    }
}

/// The next history stamp (see [`Timeline::revision`]).
fn next_revision() -> u64 {
    static REVISIONS: AtomicU64 = AtomicU64::new(1);
    REVISIONS.fetch_add(1, Ordering::Relaxed)
}

/// A saved copy of the run at some point, with how much of the log it had applied.
#[derive(Clone)]
struct Snapshot {
    sim: Simulation,
    next: usize,
    /// What it holds of its own (see [`Simulation::snapshot_bytes`]).
    bytes: usize,
}

impl Snapshot {
    fn of(sim: &mut Simulation, next: usize) -> Snapshot {
        let sim = sim.snapshot();
        Snapshot {
            bytes: sim.snapshot_bytes(),
            sim,
            next,
        }
    }
}

/// A run with its history: commands, time travel, sessions.
pub struct Timeline {
    sim: Simulation,
    /// The settings the run began with.
    start: Settings,
    log: Vec<Logged>,
    /// Changes whenever the log does (see [`Timeline::revision`]).
    revision: u64,
    /// How many commands of the log the run has applied; the rest are its remembered future.
    next: usize,
    /// The furthest moment of the remembered future.
    end: Time,
    /// Events handled by then (as far as the run has gone there).
    end_events: u64,
    snapshots: Vec<Snapshot>,
    snapshot_every: u64,
    /// Events between snapshots at the start of a run ([`SNAPSHOT_EVERY`] but in tests).
    first_snapshot_every: u64,
    /// The most bytes the snapshots may hold ([`MAX_SNAPSHOT_BYTES`] but in tests).
    snapshot_budget: usize,
    /// The most commands remembered ([`HISTORY_COMMANDS`] but in tests).
    history_commands: usize,
    /// How many of the earliest commands were forgotten (their history with them).
    forgotten: usize,
}

impl fmt::Debug for Timeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeline")
            .field("now", &self.sim.now())
            .field("events", &self.sim.events())
            .field("commands", &self.log.len())
            .field("next", &self.next)
            .field("end", &self.end)
            .field("snapshots", &self.snapshots.len())
            .finish()
    }
}

impl Timeline {
    /// A new run.
    pub fn new(settings: Settings) -> Result<Timeline, Error> {
        Ok(Timeline::around(Simulation::new(settings)?))
    }

    fn around(sim: Simulation) -> Timeline {
        let mut timeline = Timeline {
            start: sim.settings().clone(),
            log: Vec::new(),
            revision: 0,
            next: 0,
            end: 0,
            end_events: 0,
            snapshots: Vec::new(),
            snapshot_every: SNAPSHOT_EVERY,
            first_snapshot_every: SNAPSHOT_EVERY,
            snapshot_budget: MAX_SNAPSHOT_BYTES,
            history_commands: HISTORY_COMMANDS,
            forgotten: 0,
            sim,
        };
        timeline.begin();
        timeline
    }

    /// The run has just begun: no history yet but its first moment.
    fn begin(&mut self) {
        self.start = self.sim.settings().clone();
        self.log.clear();
        self.forgotten = 0;
        self.revision = next_revision();
        self.next = 0;
        self.end = self.sim.now();
        self.end_events = self.sim.events();
        self.snapshot_every = self.first_snapshot_every;
        self.snapshots = vec![Snapshot::of(&mut self.sim, 0)];
    }

    /// Takes snapshots every `events` events (at least 1) from now on and in every new run,
    /// instead of every 4,000: tests make it small, so that short runs go back through many
    /// snapshots. The spacing still doubles whenever 128 are kept.
    pub fn set_snapshot_every(&mut self, events: u64) {
        self.first_snapshot_every = events.max(1);
        self.snapshot_every = self.first_snapshot_every;
    }

    /// A stamp of the command log and the start: it changes whenever either does (a command,
    /// a new future, a new run), and no two timelines of a process share one, so equal stamps
    /// mean the same history.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The settings the run began with.
    pub fn start(&self) -> &Settings {
        &self.start
    }

    /// The run at the moment shown.
    pub fn sim(&self) -> &Simulation {
        &self.sim
    }

    /// The run, for what time travel does not concern: draining the drops the page animates,
    /// turning recording on or off. Commands and time go through the timeline.
    pub fn sim_mut(&mut self) -> &mut Simulation {
        &mut self.sim
    }

    /// The commands remembered, in order (those after [`Self::applied`] are the remembered
    /// future); the run's first [`Self::forgotten`] are not among them.
    pub fn log(&self) -> &[Logged] {
        &self.log
    }

    /// How many of the run's earliest commands were forgotten to keep memory flat: going back
    /// reaches [`Self::history_start`] at the earliest, and the run can no longer be saved.
    pub fn forgotten(&self) -> usize {
        self.forgotten
    }

    /// The earliest moment going back can reach: 0, unless early history was forgotten.
    pub fn history_start(&self) -> Time {
        self.snapshots.first().map_or(0, |s| s.sim.now())
    }

    /// Remembers at most `commands` commands (at least 1) instead of [`HISTORY_COMMANDS`],
    /// from now on: for tests.
    pub fn set_history_commands(&mut self, commands: usize) {
        self.history_commands = commands.max(1);
    }

    /// How many commands of the log the moment shown includes.
    pub fn applied(&self) -> usize {
        self.next
    }

    /// The furthest moment reached (the end of the timeline).
    pub fn end(&self) -> Time {
        self.end.max(self.sim.now())
    }

    /// Gives `command` now. In the past, this discards the remembered future first.
    pub fn execute(&mut self, command: Command) -> Result<Done, Error> {
        let done = command.apply(&mut self.sim)?;
        self.forget_future();
        self.log.push(Logged {
            at: self.sim.now(),
            events: self.sim.events(),
            command,
        });
        self.next = self.log.len();
        self.revision = next_revision();
        self.end = self.sim.now();
        self.end_events = self.sim.events();
        self.forget_early_history();
        Ok(done)
    }

    /// Past [`HISTORY_COMMANDS`] commands, forgets the earliest: the log up to the earliest
    /// snapshot that leaves three quarters of the limit or fewer after it (one is taken now if
    /// none does), and every snapshot before that one, which becomes the start of history.
    /// Called at the end of the timeline, where commands are given.
    fn forget_early_history(&mut self) {
        if self.log.len() <= self.history_commands {
            return;
        }
        let keep = self.history_commands - self.history_commands / 4;
        let from = self.log.len() - keep;
        let cut = match self.snapshots.iter().position(|s| s.next >= from) {
            Some(cut) => cut,
            None => {
                self.snapshots.push(Snapshot::of(&mut self.sim, self.next));
                self.snapshots.len() - 1
            }
        };
        let drop = self.snapshots[cut].next;
        self.snapshots.drain(..cut);
        self.log.drain(..drop);
        for snapshot in &mut self.snapshots {
            snapshot.next -= drop;
        }
        self.next -= drop;
        self.forgotten += drop;
    }

    /// Changes settings: those a running cluster can change are a command like any other;
    /// nodes, seed, N or vnodes start a new run (returns true), with a new timeline.
    pub fn configure(&mut self, patch: &SettingsPatch) -> Result<bool, Error> {
        if patch.needs_restart(self.sim.settings()) {
            self.reset(patch)?;
            return Ok(true);
        }
        self.execute(Command::Configure {
            settings: patch.clone(),
        })?;
        Ok(false)
    }

    /// Starts a new run with the current settings changed by `patch`; history is cleared.
    pub fn reset(&mut self, patch: &SettingsPatch) -> Result<(), Error> {
        self.sim.reset(patch)?;
        self.begin();
        Ok(())
    }

    /// The future after the moment shown is discarded: the log after it, and snapshots of it.
    fn forget_future(&mut self) {
        self.log.truncate(self.next);
        let (next, events) = (self.next, self.sim.events());
        self.snapshots
            .retain(|s| s.next <= next && s.sim.events() <= events);
    }

    // ----- Moving forward -----

    /// Runs to `time`, replaying remembered commands on the way. Returns events handled.
    pub fn run_until(&mut self, time: Time) -> u64 {
        let before = self.sim.events();
        self.forward(time, u64::MAX)
            .expect("a log made by this run replays");
        self.sim.events() - before
    }

    /// Runs toward `time`, handling at most `events` events; returns whether it got there (no
    /// event or remembered command is left at or before `time`). A long run goes in slices this
    /// way, so that a page can draw, show progress and let a person cancel between them; the
    /// slices end where one run to `time` would.
    pub fn run_until_within(&mut self, time: Time, events: u64) -> bool {
        let most = self.sim.events().saturating_add(events);
        self.forward(time, most)
            .expect("a log made by this run replays");
        self.sim.now() >= time
            && self.sim.next_event_time().is_none_or(|next| next > time)
            && self.log.get(self.next).is_none_or(|c| c.at > time)
    }

    /// Runs `ms` milliseconds.
    pub fn run_for(&mut self, ms: Time) -> u64 {
        self.run_until(self.sim.now().saturating_add(ms))
    }

    /// Handles the next event, and then any remembered command given right after it (before
    /// the one after). Returns the time of the event, or None if nothing waits.
    pub fn step(&mut self) -> Option<Time> {
        self.apply_due_commands()
            .expect("a log made by this run replays");
        let time = self.sim.step();
        self.apply_due_commands()
            .expect("a log made by this run replays");
        self.after_moving();
        time
    }

    /// Applies every remembered command given before the next event.
    fn apply_due_commands(&mut self) -> Result<(), Error> {
        self.apply_commands_until(Time::MAX)
    }

    /// Applies every remembered command given before the next event and by `time`.
    fn apply_commands_until(&mut self, time: Time) -> Result<(), Error> {
        while let Some(logged) = self.log.get(self.next) {
            if logged.events != self.sim.events() || logged.at > time {
                break;
            }
            if self.sim.next_event_time().is_some_and(|t| t < logged.at) {
                return Err(Error::InvalidSession(format!(
                    "command {} is said to come after event {} at {} ms, but events due \
                     earlier were still waiting",
                    self.next + 1,
                    logged.events,
                    logged.at
                )));
            }
            self.sim.advance_to(logged.at);
            logged.command.apply(&mut self.sim).map_err(|e| {
                Error::InvalidSession(format!(
                    "command {} ({}) fails where it was given: {e}",
                    self.next + 1,
                    serde_json::to_string(&logged.command).unwrap_or_default()
                ))
            })?;
            self.next += 1;
        }
        Ok(())
    }

    /// Runs to `time` (and at most to `max_events` events), applying remembered commands at
    /// their places and taking snapshots on the way.
    fn forward(&mut self, time: Time, max_events: u64) -> Result<(), Error> {
        loop {
            let boundary = self.last_snapshot_events() + self.snapshot_every;
            let command = self
                .log
                .get(self.next)
                .filter(|c| c.at <= time)
                .map(|c| (c.at, c.events));
            let (until, limit) = match command {
                Some((at, events)) => (at, events),
                None => (time, u64::MAX),
            };
            let limit = limit.min(boundary).min(max_events);
            let reached = self.sim.run_bounded(until, limit);
            self.snapshot_if_due();
            if self.sim.events() >= max_events && !reached {
                break;
            }
            match command {
                Some((at, events)) if self.sim.events() == events => {
                    self.sim.advance_to(at);
                    self.apply_commands_until(time)?;
                }
                Some((at, events)) if reached || self.sim.events() > events => {
                    return Err(Error::InvalidSession(format!(
                        "command {} is said to come after event {events} at {at} ms, but the \
                         run had handled {} events by then",
                        self.next + 1,
                        self.sim.events()
                    )));
                }
                Some(_) => {}
                None if reached => break,
                None => {}
            }
        }
        self.after_moving();
        Ok(())
    }

    fn after_moving(&mut self) {
        self.end = self.end.max(self.sim.now());
        self.end_events = self.end_events.max(self.sim.events());
        self.snapshot_if_due();
    }

    fn last_snapshot_events(&self) -> u64 {
        self.snapshots.last().map_or(0, |s| s.sim.events())
    }

    /// Takes a snapshot if the run has gone `snapshot_every` events past the last one.
    fn snapshot_if_due(&mut self) {
        if self.sim.events() < self.last_snapshot_events() + self.snapshot_every {
            return;
        }
        self.snapshots.push(Snapshot::of(&mut self.sim, self.next));
        while self.snapshots.len() > MAX_SNAPSHOTS
            || (self.snapshot_bytes() > self.snapshot_budget && self.snapshots.len() > 1)
        {
            // Keep the first and every other one after it; space later ones twice as far.
            let mut i = 0;
            self.snapshots.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.snapshot_every = self.snapshot_every.saturating_mul(2);
        }
    }

    /// What the snapshots hold together.
    fn snapshot_bytes(&self) -> usize {
        self.snapshots.iter().map(|s| s.bytes).sum()
    }

    /// Keeps the snapshots within `bytes` (at least the run's first is kept, whatever its size)
    /// instead of [`MAX_SNAPSHOT_BYTES`], from now on: for tests.
    pub fn set_snapshot_budget(&mut self, bytes: usize) {
        self.snapshot_budget = bytes;
    }

    /// How many snapshots are kept, and the bytes they hold (roughly: see
    /// [`Simulation::snapshot_bytes`]).
    pub fn snapshots(&self) -> (usize, usize) {
        (self.snapshots.len(), self.snapshot_bytes())
    }

    // ----- Going back -----

    /// Shows the run at `time`: every event due by then handled, every command given by then
    /// applied. Earlier than now, from the nearest snapshot; later, by running on.
    pub fn seek(&mut self, time: Time) -> Result<(), Error> {
        // Forward within the first day, or back to any moment the run has reached: a run can
        // go past a day (and "Latest" must still find its end).
        if time > MAX_SESSION_MS.max(self.end()) {
            return Err(Error::InvalidTime(format!(
                "{time} ms is more than a day into the run, and past its end ({} ms)",
                self.end()
            )));
        }
        if time < self.history_start() {
            return Err(self.before_history());
        }
        let back = time < self.sim.now();
        self.restore_nearest(|s| s.now() <= time, back);
        self.forward(time, u64::MAX)
    }

    /// Why a moment before the start of history cannot be shown.
    fn before_history(&self) -> Error {
        Error::InvalidTime(format!(
            "the run's first {} commands were forgotten to keep memory flat: the earliest \
             moment kept is {} ms",
            self.forgotten,
            self.history_start()
        ))
    }

    /// Shows the run just after its `events`-th event, with the commands given before the
    /// next one.
    pub fn seek_event(&mut self, events: u64) -> Result<(), Error> {
        if self
            .snapshots
            .first()
            .is_some_and(|s| events < s.sim.events())
        {
            return Err(self.before_history());
        }
        // Not past the furthest the run has gone: a billion events would be hours of replay.
        let furthest = self.end_events.max(self.sim.events());
        if events > furthest {
            return Err(Error::InvalidTime(format!(
                "the run has handled {furthest} events so far: seekEvent goes to one of them \
                 (runFor goes further)"
            )));
        }
        let back = events < self.sim.events();
        // From a snapshot before the event, not at it: one taken after time ran on past it
        // (to a command's moment, say) would show a later clock than the event's own.
        self.restore_nearest(|s| s.events() < events || s.events() == 0, back);
        self.apply_due_commands()?;
        while self.sim.events() < events {
            if self.sim.step().is_none() {
                break;
            }
            self.apply_due_commands()?;
            self.snapshot_if_due();
        }
        self.after_moving();
        if self.sim.events() < events {
            return Err(Error::InvalidTime(format!(
                "the run has only {} events so far",
                self.sim.events()
            )));
        }
        Ok(())
    }

    /// Goes one event back: to just before the last event handled. Returns false at the start
    /// (of the run, or of the history kept).
    pub fn step_back(&mut self) -> Result<bool, Error> {
        let events = self.sim.events();
        if events <= self.snapshots.first().map_or(0, |s| s.sim.events()) {
            return Ok(false);
        }
        self.seek_event(events - 1)?;
        Ok(true)
    }

    /// Restores the latest snapshot that `fits` (the one at or before the target), when the
    /// target is `back` in time or that snapshot lies ahead in the remembered future (a jump
    /// forward need not replay everything in between).
    fn restore_nearest(&mut self, fits: impl Fn(&Simulation) -> bool, back: bool) {
        let from = self
            .snapshots
            .iter()
            .rposition(|s| fits(&s.sim))
            .unwrap_or(0);
        if back || self.snapshots[from].sim.events() > self.sim.events() {
            self.restore(from);
        }
    }

    fn restore(&mut self, index: usize) {
        let snapshot = &self.snapshots[index];
        let mut sim = snapshot.sim.clone();
        sim.resume_history(&mut self.sim);
        sim.set_recording(self.sim.trace().enabled());
        self.sim = sim;
        self.next = snapshot.next;
    }

    // ----- Sessions -----

    /// The session: settings, commands, the moment shown and the end.
    /// A run the page could not reopen is refused (never a file the page would refuse): one
    /// whose early history was forgotten, that runs past one day or 30 million events, or
    /// holds more than 20,000 commands.
    pub fn session(&self, lesson: Option<LessonPlace>) -> Result<Session, Error> {
        self.session_within(lesson, MAX_REPLAY_EVENTS)
    }

    /// The same, refusing a run that has gone past `max_events` events (tests use a small
    /// bound, as [`Self::from_session_within`] does: the real one takes seconds to reach).
    pub fn session_within(
        &self,
        lesson: Option<LessonPlace>,
        max_events: u64,
    ) -> Result<Session, Error> {
        if self.forgotten > 0 {
            return Err(Error::CannotSave(format!(
                "it is longer than a session can hold ({MAX_COMMANDS} commands), and its first \
                 {} commands were forgotten to keep memory flat",
                self.forgotten
            )));
        }
        if self.end() > MAX_SESSION_MS {
            return Err(Error::CannotSave(format!(
                "it has run past one day of virtual time ({} ms), and a session may reach \
                 {MAX_SESSION_MS} ms at most",
                self.end()
            )));
        }
        if self.end_events > max_events {
            return Err(Error::CannotSave(format!(
                "it has run {} events, and a session may replay at most {max_events}",
                self.end_events
            )));
        }
        let session = Session {
            format: SESSION_FORMAT.to_string(),
            version: SESSION_VERSION,
            settings: self.start.as_patch(),
            commands: self.log.clone(),
            time: self.sim.now(),
            events: Some(self.sim.events()),
            end: self.end(),
            lesson,
        };
        session.check().map_err(|e| match e {
            Error::InvalidSession(problem) => Error::CannotSave(problem),
            e => e,
        })?;
        Ok(session)
    }

    /// The session as JSON text (see [`Self::session`]), refused if longer than a session may
    /// be ([`MAX_SESSION_BYTES`]).
    pub fn saved(&self, lesson: Option<LessonPlace>) -> Result<String, Error> {
        let text = self.session(lesson)?.to_json();
        if text.len() > MAX_SESSION_BYTES {
            return Err(Error::CannotSave(format!(
                "it would take {} bytes, and a session may take at most {MAX_SESSION_BYTES}",
                text.len()
            )));
        }
        Ok(text)
    }

    /// Replays `session` to its end, then goes to its moment. Every command must apply where
    /// it was given; if one does not, or replaying would take too long, this says why.
    pub fn from_session(session: &Session) -> Result<Timeline, Error> {
        Timeline::from_session_within(session, MAX_REPLAY_EVENTS)
    }

    /// The same, refusing a session whose replay takes more than `max_events` events (tests
    /// use a small bound: the real one takes seconds to reach).
    pub fn from_session_within(session: &Session, max_events: u64) -> Result<Timeline, Error> {
        let mut replay = Replay::within(session.clone(), max_events, MAX_REPLAY_WORK)?;
        while !replay.step(u64::MAX)? {}
        replay.finish()
    }
}

/// Events replayed between two looks at the work done (see [`Replay::step`]).
const REPLAY_SLICE_EVENTS: u64 = 256;

/// A session being replayed a slice at a time, so that the page can show progress between
/// frames and cancel: [`Replay::step`] until it says it is done, then [`Replay::finish`].
/// A replay that would take more than its bound of events, or of work (events and versions
/// carried, [`MAX_REPLAY_WORK`]), stops with the reason.
pub struct Replay {
    timeline: Timeline,
    session: Session,
    max_events: u64,
    max_work: u64,
}

impl Replay {
    /// Starts replaying `session`, within the usual bounds.
    pub fn new(session: Session) -> Result<Replay, Error> {
        Replay::within(session, MAX_REPLAY_EVENTS, MAX_REPLAY_WORK)
    }

    /// Starts replaying `session`, refused past `max_events` events or `max_work` work.
    pub fn within(session: Session, max_events: u64, max_work: u64) -> Result<Replay, Error> {
        session.check()?;
        let settings = Settings::default()
            .patched(&session.settings)
            .map_err(|e| Error::InvalidSession(format!("its settings are refused: {e}")))?;
        let mut timeline = Timeline::new(settings)?;
        timeline.log = session.commands.clone();
        timeline.revision = next_revision();
        Ok(Replay {
            timeline,
            session,
            max_events,
            max_work,
        })
    }

    /// Where in a lesson the session was saved, if it was.
    pub fn lesson(&self) -> Option<&LessonPlace> {
        self.session.lesson.as_ref()
    }

    /// How far the replay has gone, from 0 to 1 (by virtual time).
    pub fn progress(&self) -> f64 {
        if self.session.end == 0 {
            return 1.0;
        }
        (self.timeline.sim.now() as f64 / self.session.end as f64).min(1.0)
    }

    /// Whether the run has reached the session's end: its time, every event due by then and
    /// every command.
    fn done(&self) -> bool {
        let sim = &self.timeline.sim;
        sim.now() >= self.session.end
            && sim.next_event_time().is_none_or(|t| t > self.session.end)
            && self.timeline.next == self.timeline.log.len()
    }

    /// Replays about `work` more (events and versions carried); returns whether it is done.
    pub fn step(&mut self, work: u64) -> Result<bool, Error> {
        let target = self.timeline.sim.work().saturating_add(work.max(1));
        while !self.done() {
            let sim = &self.timeline.sim;
            if sim.events() >= self.max_events {
                return Err(Error::InvalidSession(format!(
                    "replaying it would take more than {} events",
                    self.max_events
                )));
            }
            if sim.work() > self.max_work {
                return Err(Error::InvalidSession(format!(
                    "replaying it would take more than {} events and versions carried (its \
                     messages carry a lot: frequent anti-entropy over many keys, say)",
                    self.max_work
                )));
            }
            // Refused early when the rate so far says it will not fit, twice over: a replay
            // that would be refused after its whole bound need not run for ten seconds first.
            let progress = self.progress();
            if progress > 0.02 && sim.work() > self.max_work / 50 {
                let projected = sim.work() as f64 / progress;
                if projected > 2.0 * self.max_work as f64 {
                    return Err(Error::InvalidSession(format!(
                        "at the rate so far, replaying it would take about {projected:.0} \
                         events and versions carried, and at most {} are allowed (its messages \
                         carry a lot: frequent anti-entropy over many keys, say)",
                        self.max_work
                    )));
                }
            }
            if sim.work() >= target {
                return Ok(false);
            }
            let limit = sim
                .events()
                .saturating_add(REPLAY_SLICE_EVENTS)
                .min(self.max_events);
            let before = (sim.events(), sim.now(), self.timeline.next);
            self.timeline.forward(self.session.end, limit)?;
            let sim = &self.timeline.sim;
            if (sim.events(), sim.now(), self.timeline.next) == before && !self.done() {
                return Err(Error::InvalidSession(format!(
                    "command {} was never reached",
                    self.timeline.next + 1
                )));
            }
        }
        Ok(true)
    }

    /// The replayed run, shown at the session's moment. Call once [`Self::step`] is done.
    pub fn finish(mut self) -> Result<Timeline, Error> {
        if !self.done() {
            return Err(Error::InvalidSession(
                "its replay has not reached its end yet".into(),
            ));
        }
        let session = &self.session;
        let timeline = &mut self.timeline;
        match session.events {
            Some(events) => {
                // From the nearest snapshot at or before both, on to the time without handling
                // more than that many events (commands given by then are applied on the way).
                let fits = |s: &Simulation| s.events() <= events && s.now() <= session.time;
                timeline.restore_nearest(fits, true);
                timeline.forward(session.time, events)?;
                if (timeline.sim.now(), timeline.sim.events()) != (session.time, events) {
                    return Err(Error::InvalidSession(format!(
                        "its moment, after event {events} at {} ms, is not in the run",
                        session.time
                    )));
                }
            }
            None => timeline.seek(session.time)?,
        }
        Ok(self.timeline)
    }
}
