//! The trace: every event of a run, in order, so that two runs can be compared event for event.

use std::collections::VecDeque;
use std::rc::Rc;

use serde::Serialize;

use crate::ids::Time;
use crate::ids::{NodeId, RequestId, WriteId};
use crate::replica::MessageKind;

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
    /// The receiving node was down when it arrived (on a real node: the peer refused the
    /// connection or did not answer in time).
    NodeDown = 2,
    /// A real node's queue to the peer was full: the oldest message in it was dropped (the
    /// simulation's links have no queue, so it never drops one for this reason).
    QueueFull = 3,
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
        /// The message's number in the run (its copies share it): pairs a send with its
        /// delivery or drop.
        id: u32,
        /// The key the message is about, if it is about one (anti-entropy covers many). Not
        /// hashed: the message decides it.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<Rc<str>>,
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
        /// The message's number (as its send).
        id: u32,
        /// The key the message is about, if it is about one (anti-entropy covers many). Not
        /// hashed: the message decides it.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<Rc<str>>,
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
        /// The message's number (as its send).
        id: u32,
        /// How far along the link it got, in thousandths (1000: at the receiver).
        progress: u16,
        /// The key the message is about, if it is about one (anti-entropy covers many). Not
        /// hashed: the message decides it.
        #[serde(skip_serializing_if = "Option::is_none")]
        key: Option<Rc<str>>,
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
    /// Refused by its coordinator: the write would have made too many siblings.
    Refused = 4,
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
        let (fields, key): ([u64; 8], Option<&str>) = match self {
            TraceEvent::Write {
                time,
                node,
                write,
                request,
                key,
                delete,
            } => {
                let (w, r, d) = (u64::from(write.0), u64::from(request.0), u64::from(*delete));
                ([0, *time, n(node), w, r, d, 0, 0], Some(key))
            }
            TraceEvent::Read {
                time,
                node,
                request,
                key,
            } => (
                [1, *time, n(node), u64::from(request.0), 0, 0, 0, 0],
                Some(key),
            ),
            TraceEvent::Answer {
                time,
                node,
                request,
                status,
            } => {
                let r = u64::from(request.0);
                ([10, *time, n(node), r, *status as u64, 0, 0, 0], None)
            }
            TraceEvent::Hint {
                time,
                node,
                owner,
                write,
            } => (
                [11, *time, n(node), n(owner), u64::from(write.0), 0, 0, 0],
                None,
            ),
            TraceEvent::Collect { time, node, write } => {
                ([12, *time, n(node), u64::from(write.0), 0, 0, 0, 0], None)
            }
            TraceEvent::Send {
                time,
                from,
                to,
                message,
                versions,
                duplicated,
                id,
                key: _,
            } => {
                let (kind, dup, id) = (*message as u64, u64::from(*duplicated), u64::from(*id));
                let v = u64::from(*versions);
                ([2, *time, n(from), n(to), kind, v, dup, id], None)
            }
            TraceEvent::Deliver {
                time,
                from,
                to,
                message,
                id,
                key: _,
            } => {
                let (kind, id) = (*message as u64, u64::from(*id));
                ([3, *time, n(from), n(to), kind, id, 0, 0], None)
            }
            TraceEvent::Drop {
                time,
                from,
                to,
                message,
                reason,
                id,
                progress,
                key: _,
            } => {
                let (kind, why) = (*message as u64, *reason as u64);
                let (id, progress) = (u64::from(*id), u64::from(*progress));
                ([4, *time, n(from), n(to), kind, why, id, progress], None)
            }
            TraceEvent::Timer { time, node } => ([5, *time, n(node), 0, 0, 0, 0, 0], None),
            TraceEvent::Crash { time, node } => ([6, *time, n(node), 0, 0, 0, 0, 0], None),
            TraceEvent::Recover { time, node, wipe } => {
                ([7, *time, n(node), u64::from(*wipe), 0, 0, 0, 0], None)
            }
            TraceEvent::Link {
                time,
                from,
                to,
                cut,
            } => ([8, *time, n(from), n(to), u64::from(*cut), 0, 0, 0], None),
            TraceEvent::Configure { time } => ([9, *time, 0, 0, 0, 0, 0, 0], None),
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
    /// For each kept event, where in the run it happened: how many events the simulation had
    /// handled (the handling of event `k` records at `k`; a command given after it, too).
    positions: VecDeque<u64>,
    /// The position events are recorded at now.
    position: u64,
    count: u64,
    hash: Fnv,
}

impl Default for Trace {
    fn default() -> Self {
        Trace {
            enabled: true,
            recent: VecDeque::new(),
            positions: VecDeque::new(),
            position: 0,
            count: 0,
            hash: Fnv(0xCBF2_9CE4_8422_2325),
        }
    }
}

/// Which events a person wants to see in the event log.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventFilter {
    /// Only events at or between this node (as the node, the sender or the receiver).
    #[serde(default)]
    pub node: Option<NodeId>,
    /// Only events that name this key (client writes and reads).
    #[serde(default)]
    pub key: Option<String>,
    /// Only events of these kinds (`write`, `read`, `answer`, `send`, `deliver`, `drop`,
    /// `timer`, `hint`, `collect`, `crash`, `recover`, `link`, `configure`).
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
}

/// Every kind of event, as [`TraceEvent::kind`] names them.
pub const EVENT_KINDS: [&str; 13] = [
    "write",
    "read",
    "answer",
    "send",
    "deliver",
    "drop",
    "timer",
    "hint",
    "collect",
    "crash",
    "recover",
    "link",
    "configure",
];

impl EventFilter {
    /// Refuses kinds that do not exist (a typo would otherwise hide every event).
    pub fn check(&self, nodes: u32) -> Result<(), crate::error::Error> {
        if let Some(node) = self.node
            && !(1..=nodes).contains(&node.0)
        {
            return Err(crate::error::Error::UnknownNode {
                id: i64::from(node.0),
                nodes,
            });
        }
        if let Some(key) = &self.key {
            let chars = key.chars().count();
            if chars > crate::ids::MAX_KEY_CHARS {
                return Err(crate::error::Error::KeyTooLong { chars });
            }
        }
        for kind in self.kinds.iter().flatten() {
            if !EVENT_KINDS.contains(&kind.as_str()) {
                let shown: String = kind.chars().take(40).collect();
                return Err(crate::error::Error::InvalidCommand(format!(
                    "there is no event kind \"{shown}\": kinds are {}",
                    EVENT_KINDS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

impl TraceEvent {
    /// The event's kind, as the event log and JSON name it.
    pub fn kind(&self) -> &'static str {
        match self {
            TraceEvent::Write { .. } => "write",
            TraceEvent::Read { .. } => "read",
            TraceEvent::Answer { .. } => "answer",
            TraceEvent::Hint { .. } => "hint",
            TraceEvent::Collect { .. } => "collect",
            TraceEvent::Send { .. } => "send",
            TraceEvent::Deliver { .. } => "deliver",
            TraceEvent::Drop { .. } => "drop",
            TraceEvent::Timer { .. } => "timer",
            TraceEvent::Crash { .. } => "crash",
            TraceEvent::Recover { .. } => "recover",
            TraceEvent::Link { .. } => "link",
            TraceEvent::Configure { .. } => "configure",
        }
    }

    /// The nodes the event happened at or between.
    pub fn nodes(&self) -> [Option<NodeId>; 2] {
        match self {
            TraceEvent::Write { node, .. }
            | TraceEvent::Read { node, .. }
            | TraceEvent::Answer { node, .. }
            | TraceEvent::Collect { node, .. }
            | TraceEvent::Timer { node, .. }
            | TraceEvent::Crash { node, .. }
            | TraceEvent::Recover { node, .. } => [Some(*node), None],
            TraceEvent::Hint { node, owner, .. } => [Some(*node), Some(*owner)],
            TraceEvent::Send { from, to, .. }
            | TraceEvent::Deliver { from, to, .. }
            | TraceEvent::Drop { from, to, .. }
            | TraceEvent::Link { from, to, .. } => [Some(*from), Some(*to)],
            TraceEvent::Configure { .. } => [None, None],
        }
    }

    /// The key the event names, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            TraceEvent::Write { key, .. } | TraceEvent::Read { key, .. } => Some(key),
            TraceEvent::Send { key, .. }
            | TraceEvent::Deliver { key, .. }
            | TraceEvent::Drop { key, .. } => key.as_deref(),
            _ => None,
        }
    }

    /// Whether the event passes `filter`.
    pub fn passes(&self, filter: &EventFilter) -> bool {
        filter.node.is_none_or(|n| self.nodes().contains(&Some(n)))
            && filter.key.as_deref().is_none_or(|k| self.key() == Some(k))
            && filter
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.iter().any(|k| k == self.kind()))
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
            self.positions.pop_front();
        }
        self.recent.push_back(event);
        self.positions.push_back(self.position);
    }

    /// Events recorded from now on happened after `handled` events of the run.
    pub(crate) fn set_position(&mut self, handled: u64) {
        self.position = handled;
    }

    /// Where each kept event happened (see [`Self::recent`]): how many events had been handled.
    pub fn positions(&self) -> &VecDeque<u64> {
        &self.positions
    }

    /// Takes the kept events out (the count and hash stay).
    pub(crate) fn take_events(&mut self) -> (VecDeque<TraceEvent>, VecDeque<u64>) {
        (
            std::mem::take(&mut self.recent),
            std::mem::take(&mut self.positions),
        )
    }

    /// Puts back events taken by [`Self::take_events`].
    pub(crate) fn restore_events(
        &mut self,
        (events, positions): (VecDeque<TraceEvent>, VecDeque<u64>),
    ) {
        self.recent = events;
        self.positions = positions;
    }

    /// This trace is another point of the run `other` records: takes `other`'s kept events
    /// that were recorded by then. If this point is later than `other`'s, the events in
    /// between were never kept here: the kept events start afresh (numbering stays right).
    pub(crate) fn take_earlier_events_of(&mut self, later: &mut Trace) {
        if later.count < self.count {
            self.recent.clear();
            self.positions.clear();
            return;
        }
        let (mut events, mut positions) = later.take_events();
        let first = later.count - events.len() as u64;
        let keep = self.count.saturating_sub(first) as usize;
        events.truncate(keep);
        positions.truncate(keep);
        self.recent = events;
        self.positions = positions;
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
