//! Side by side: a second run of the same scenario with one setting changed, kept in lock
//! step with the first (W = 1 against W = all, last writer wins against version vectors).
//!
//! The twin follows its leader's command log: every command the leader was given, the twin is
//! given at the same virtual time, and it shows the same moment. Its events are its own: with
//! another setting the same commands make another run. When the leader's history changes other
//! than by a new command at its end (a command in the past forked a new future, or a new run
//! began), the twin is rebuilt by replaying the leader's log: replays are cheap, and a twin that
//! always replays the same log is the same twin. A command the twin cannot take (a node it does
//! not have, siblings it does not hold) is skipped, and said.

use crate::error::Error;
use crate::ids::Time;
use crate::settings::{Settings, SettingsPatch};
use crate::timeline::{Command, Timeline};

/// A second run following a leader's commands with one change of settings.
#[derive(Debug)]
pub struct Twin {
    follower: Follower,
    timeline: Timeline,
}

impl Twin {
    /// A twin of `leader` whose settings differ by `change`, at the leader's moment.
    pub fn new(leader: &Timeline, change: SettingsPatch) -> Result<Twin, Error> {
        let (follower, timeline) = Follower::start(leader, change)?;
        Ok(Twin { follower, timeline })
    }

    /// The twin's run.
    pub fn timeline(&self) -> &Timeline {
        &self.timeline
    }

    /// How it follows.
    pub fn follower(&self) -> &Follower {
        &self.follower
    }

    /// Commands the twin could not take, and why.
    pub fn skipped(&self) -> &[String] {
        self.follower.skipped()
    }

    /// Catches up with `leader` (see [`Follower::follow`]).
    pub fn follow(&mut self, leader: &Timeline) -> Result<(), Error> {
        self.follower.follow(&mut self.timeline, leader)
    }
}

/// What a twin keeps to follow its leader; the twin's own run is kept beside it (the page's
/// twin is a simulation like the leader, with a follower attached).
#[derive(Clone, Debug)]
pub struct Follower {
    change: SettingsPatch,
    /// The leader's settings at its start, as last seen.
    base: Settings,
    /// The leader's commands followed so far, in order, with when they were given (but the
    /// first `forgotten`, which the leader no longer remembers either).
    followed: Vec<(Time, Command)>,
    forgotten: usize,
    /// The commands the twin could not take, with why (for the page).
    skipped: Vec<String>,
    /// The leader's history stamp when last followed: while it stands, only time moves.
    seen: u64,
}

impl Follower {
    /// A follower of `leader` with `change`, and its run, at the leader's moment.
    pub fn start(leader: &Timeline, change: SettingsPatch) -> Result<(Follower, Timeline), Error> {
        let base = leader.start().clone();
        let mut timeline = Timeline::new(base.patched(&change)?)?;
        let mut follower = Follower {
            change,
            base,
            followed: Vec::new(),
            forgotten: 0,
            skipped: Vec::new(),
            seen: 0,
        };
        follower.follow(&mut timeline, leader)?;
        Ok((follower, timeline))
    }

    /// The change of settings.
    pub fn change(&self) -> &SettingsPatch {
        &self.change
    }

    /// Commands the twin could not take, and why.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }

    /// Brings `own` (the twin's run) up to `leader`: its new commands, a new future or a new
    /// run, and its moment.
    pub fn follow(&mut self, own: &mut Timeline, leader: &Timeline) -> Result<(), Error> {
        if leader.revision() != self.seen {
            self.follow_commands(own, leader)?;
            self.seen = leader.revision();
        }
        let now = leader.sim().now();
        if own.sim().now() > now {
            own.seek(now)?;
        } else {
            own.run_until(now);
        }
        Ok(())
    }

    /// Takes the leader's new commands, or its new future or new run (the twin starts again).
    fn follow_commands(&mut self, own: &mut Timeline, leader: &Timeline) -> Result<(), Error> {
        let log = leader.log();
        // The leader forgot its earliest commands (a long run): so does the follower.
        if leader.forgotten() > self.forgotten && *leader.start() == self.base {
            let newly = (leader.forgotten() - self.forgotten).min(self.followed.len());
            self.followed.drain(..newly);
            self.forgotten = leader.forgotten();
        }
        let same = self
            .followed
            .iter()
            .zip(log)
            .take_while(|((at, command), logged)| *at == logged.at && *command == logged.command)
            .count();
        if *leader.start() != self.base || same < self.followed.len() {
            if leader.forgotten() > 0 {
                return Err(Error::InvalidCommand(format!(
                    "the other run cannot start again: this run's first {} commands were \
                     forgotten to keep memory flat",
                    leader.forgotten()
                )));
            }
            self.rebuild(own, leader)?;
        }
        // New commands at the end of the leader's history: given here at the same moments.
        for logged in &log[self.followed.len()..] {
            if own.sim().now() > logged.at {
                own.seek(logged.at)?;
            }
            own.run_until(logged.at);
            if let Err(e) = own.execute(logged.command.clone()) {
                self.skipped.push(format!(
                    "at {:.3} s the other run could not follow: {e}",
                    logged.at as f64 / 1000.0
                ));
            }
            self.followed.push((logged.at, logged.command.clone()));
        }
        Ok(())
    }

    /// Starts again from the leader's settings with the change; `follow` then replays its log.
    fn rebuild(&mut self, own: &mut Timeline, leader: &Timeline) -> Result<(), Error> {
        self.base = leader.start().clone();
        let recording = own.sim().trace().enabled();
        *own = Timeline::new(self.base.patched(&self.change)?)?;
        own.sim_mut().set_recording(recording);
        self.followed.clear();
        self.forgotten = 0;
        self.skipped.clear();
        Ok(())
    }
}
