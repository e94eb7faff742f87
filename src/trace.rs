//! The trace: every event of a run, in order, so that two runs can be compared event for event.

use std::collections::VecDeque;

use serde::Serialize;

use crate::Time;
use crate::replica::{MessageKind, NodeId, RequestId, WriteId};

/// How many recent events the trace keeps; its hash covers every event ever recorded.
pub const TRACE_KEEP: usize = 100_000;

/// Why a message did not arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DropReason {
    /// The network lost it (the link's loss probability).
    Lost = 0,
    /// The link was cut when it arrived.
    LinkCut = 1,
    /// The receiving node was down when it arrived.
    NodeDown = 2,
}

/// One thing that happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(
    tag = "event",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TraceEvent {
    /// A client wrote (or deleted) through a node.
    Write {
        /// When.
        time: Time,
        /// Where.
        node: NodeId,
        /// Which write.
        write: WriteId,
        /// The client request.
        request: RequestId,
        /// The key.
        key: String,
        /// Whether it deletes the key.
        delete: bool,
    },
    /// A client read through a node.
    Read {
        /// When.
        time: Time,
        /// Where.
        node: NodeId,
        /// The client request.
        request: RequestId,
        /// The key.
        key: String,
    },
    /// A coordinator answered a client.
    Answer {
        /// When.
        time: Time,
        /// The coordinator.
        node: NodeId,
        /// The client request.
        request: RequestId,
        /// How it ended.
        status: RequestStatus,
    },
    /// A node took a write for another node (hinted handoff).
    Hint {
        /// When.
        time: Time,
        /// The node keeping the hint.
        node: NodeId,
        /// The node the write is for.
        owner: NodeId,
        /// The write.
        write: WriteId,
    },
    /// A node collected a tombstone.
    Collect {
        /// When.
        time: Time,
        /// Where.
        node: NodeId,
        /// The delete.
        write: WriteId,
    },
    /// A message left a node.
    Send {
        /// When.
        time: Time,
        /// From where.
        from: NodeId,
        /// To where.
        to: NodeId,
        /// What kind.
        message: MessageKind,
        /// How many versions it carried.
        versions: u32,
        /// Whether the network made a second copy.
        duplicated: bool,
    },
    /// A message arrived and was handled.
    Deliver {
        /// When.
        time: Time,
        /// From where.
        from: NodeId,
        /// To where.
        to: NodeId,
        /// What kind.
        message: MessageKind,
    },
    /// A message was dropped.
    Drop {
        /// When.
        time: Time,
        /// From where.
        from: NodeId,
        /// To where.
        to: NodeId,
        /// What kind.
        message: MessageKind,
        /// Why.
        reason: DropReason,
    },
    /// A node's anti-entropy timer fired.
    Timer {
        /// When.
        time: Time,
        /// Where.
        node: NodeId,
    },
    /// A node crashed.
    Crash {
        /// When.
        time: Time,
        /// Which node.
        node: NodeId,
    },
    /// A node came back.
    Recover {
        /// When.
        time: Time,
        /// Which node.
        node: NodeId,
        /// Whether it lost its store.
        wipe: bool,
    },
    /// A directed link was cut or healed.
    Link {
        /// When.
        time: Time,
        /// From where.
        from: NodeId,
        /// To where.
        to: NodeId,
        /// Cut (true) or healed (false).
        cut: bool,
    },
    /// Settings changed during the run.
    Configure {
        /// When.
        time: Time,
    },
}

/// Where a client request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestStatus {
    /// Waiting for its coordinator.
    Pending = 0,
    /// Answered: written, or read.
    Ok = 1,
    /// Too few replicas were reachable.
    Unavailable = 2,
    /// Too few answers came in time.
    TimedOut = 3,
}

/// FNV-1a, 64 bits: a tiny, fixed hash for comparing traces across runs and platforms.
#[derive(Clone, Copy, Debug)]
struct Fnv(u64);

impl Fnv {
    fn feed(&mut self, x: u64) {
        for byte in x.to_le_bytes() {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    fn feed_str(&mut self, s: &str) {
        self.feed(s.len() as u64);
        for chunk in s.as_bytes().chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.feed(u64::from_le_bytes(word));
        }
    }
}

impl TraceEvent {
    /// Feeds every field, tagged by variant, into `h`.
    fn hash_into(&self, h: &mut Fnv) {
        let n = |node: &NodeId| u64::from(node.0);
        let (fields, key): ([u64; 7], Option<&str>) = match self {
            TraceEvent::Write {
                time,
                node,
                write,
                request,
                key,
                delete,
            } => {
                let (w, r, d) = (u64::from(write.0), u64::from(request.0), u64::from(*delete));
                ([0, *time, n(node), w, r, d, 0], Some(key))
            }
            TraceEvent::Read {
                time,
                node,
                request,
                key,
            } => (
                [1, *time, n(node), u64::from(request.0), 0, 0, 0],
                Some(key),
            ),
            TraceEvent::Answer {
                time,
                node,
                request,
                status,
            } => {
                let r = u64::from(request.0);
                ([10, *time, n(node), r, *status as u64, 0, 0], None)
            }
            TraceEvent::Hint {
                time,
                node,
                owner,
                write,
            } => (
                [11, *time, n(node), n(owner), u64::from(write.0), 0, 0],
                None,
            ),
            TraceEvent::Collect { time, node, write } => {
                ([12, *time, n(node), u64::from(write.0), 0, 0, 0], None)
            }
            TraceEvent::Send {
                time,
                from,
                to,
                message,
                versions,
                duplicated,
            } => {
                let (kind, dup) = (*message as u64, u64::from(*duplicated));
                (
                    [2, *time, n(from), n(to), kind, u64::from(*versions), dup],
                    None,
                )
            }
            TraceEvent::Deliver {
                time,
                from,
                to,
                message,
            } => ([3, *time, n(from), n(to), *message as u64, 0, 0], None),
            TraceEvent::Drop {
                time,
                from,
                to,
                message,
                reason,
            } => (
                [4, *time, n(from), n(to), *message as u64, *reason as u64, 0],
                None,
            ),
            TraceEvent::Timer { time, node } => ([5, *time, n(node), 0, 0, 0, 0], None),
            TraceEvent::Crash { time, node } => ([6, *time, n(node), 0, 0, 0, 0], None),
            TraceEvent::Recover { time, node, wipe } => {
                ([7, *time, n(node), u64::from(*wipe), 0, 0, 0], None)
            }
            TraceEvent::Link {
                time,
                from,
                to,
                cut,
            } => ([8, *time, n(from), n(to), u64::from(*cut), 0, 0], None),
            TraceEvent::Configure { time } => ([9, *time, 0, 0, 0, 0, 0], None),
        };
        fields.into_iter().for_each(|x| h.feed(x));
        if let Some(key) = key {
            h.feed_str(key);
        }
    }

    /// When it happened.
    pub fn time(&self) -> Time {
        match self {
            TraceEvent::Write { time, .. }
            | TraceEvent::Read { time, .. }
            | TraceEvent::Answer { time, .. }
            | TraceEvent::Hint { time, .. }
            | TraceEvent::Collect { time, .. }
            | TraceEvent::Send { time, .. }
            | TraceEvent::Deliver { time, .. }
            | TraceEvent::Drop { time, .. }
            | TraceEvent::Timer { time, .. }
            | TraceEvent::Crash { time, .. }
            | TraceEvent::Recover { time, .. }
            | TraceEvent::Link { time, .. }
            | TraceEvent::Configure { time } => *time,
        }
    }
}

/// The recent events of a run and a hash of all of them.
#[derive(Clone, Debug)]
pub struct Trace {
    enabled: bool,
    recent: VecDeque<TraceEvent>,
    count: u64,
    hash: Fnv,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            enabled: true,
            recent: VecDeque::new(),
            count: 0,
            hash: Fnv(0xCBF2_9CE4_8422_2325),
        }
    }
}

impl Trace {
    /// Whether events are being recorded.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Turns recording on or off (off makes long benchmarks cheaper).
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
    }

    /// Records `event` if recording is on.
    pub fn record(&mut self, event: impl FnOnce() -> TraceEvent) {
        if !self.enabled {
            return;
        }
        let event = event();
        event.hash_into(&mut self.hash);
        self.count += 1;
        if self.recent.len() == TRACE_KEEP {
            self.recent.pop_front();
        }
        self.recent.push_back(event);
    }

    /// Takes the kept events out (the count and hash stay).
    pub(crate) fn take_events(&mut self) -> VecDeque<TraceEvent> {
        std::mem::take(&mut self.recent)
    }

    /// Puts back events taken by [`Self::take_events`].
    pub(crate) fn restore_events(&mut self, events: VecDeque<TraceEvent>) {
        self.recent = events;
    }

    /// This trace is another point of the run `other` records: takes `other`'s kept events
    /// that were recorded by then. If this point is later than `other`'s, the events in
    /// between were never kept here: the kept events start afresh (numbering stays right).
    pub(crate) fn take_earlier_events_of(&mut self, later: &mut Trace) {
        if later.count < self.count {
            self.recent.clear();
            return;
        }
        let mut events = std::mem::take(&mut later.recent);
        let first = later.count - events.len() as u64;
        events.truncate(self.count.saturating_sub(first) as usize);
        self.recent = events;
    }

    /// How many events were recorded in all.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// A hash of every event recorded, in order: equal for equal runs on every platform.
    pub fn hash(&self) -> u64 {
        self.hash.0
    }

    /// The most recent events (up to [`TRACE_KEEP`]), oldest first, numbered from
    /// `count() - recent().len()`.
    pub fn recent(&self) -> &VecDeque<TraceEvent> {
        &self.recent
    }
}
