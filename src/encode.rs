//! The numeric encodings the page reads every frame or every refresh: messages in flight,
//! dropped messages and the space-time diagram's events, as flat arrays of numbers (the wasm
//! adapter hands them to JavaScript as typed arrays, without serializing objects).
//!
//! Their layout (how many numbers an item takes, what each code means) is written once, here:
//! [`Layout`] is exported to the page (`Simulation.layout()`), which reads its strides and
//! codes from it instead of repeating them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::ids::{NodeId, Time};
use crate::replica::MessageKind;
use crate::sim::{DropView, FlightView};
use crate::trace::{DropReason, RequestStatus, Trace, TraceEvent};

/// Numbers per message in flight: `fromIndex, toIndex, kind, progress, flags`.
pub const FLIGHT_STRIDE: usize = 5;
/// Numbers per dropped message: `fromIndex, toIndex, kind, reason, at`.
pub const DROP_STRIDE: usize = 5;
/// Numbers per diagram event: `code, time, node, peer, id, extra, progress, position, index`.
pub const DIAGRAM_STRIDE: usize = 9;
/// A dropped message's `extra` in the diagram: its kind plus this many times its reason.
pub const DROP_REASON_FACTOR: u32 = 10;
/// Flight flags: the message will be lost on its way.
pub const FLAG_LOST: u8 = 1;
/// Flight flags: the message is a duplicate the network made.
pub const FLAG_DUPLICATE: u8 = 2;

/// The most diagram events one call returns.
pub const MOST_DIAGRAM_EVENTS: usize = 4_000;

/// What a diagram event is: its `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DiagramCode {
    Write = 0,
    Read = 1,
    Answer = 2,
    Send = 3,
    Deliver = 4,
    Drop = 5,
    Timer = 6,
    Hint = 7,
    Collect = 8,
    Crash = 9,
    Recover = 10,
    Link = 11,
    Configure = 12,
}

impl DiagramCode {
    /// Every code, in order.
    pub const ALL: [DiagramCode; 13] = [
        DiagramCode::Write,
        DiagramCode::Read,
        DiagramCode::Answer,
        DiagramCode::Send,
        DiagramCode::Deliver,
        DiagramCode::Drop,
        DiagramCode::Timer,
        DiagramCode::Hint,
        DiagramCode::Collect,
        DiagramCode::Crash,
        DiagramCode::Recover,
        DiagramCode::Link,
        DiagramCode::Configure,
    ];
}

const MESSAGE_KINDS: [MessageKind; 7] = [
    MessageKind::Replicate,
    MessageKind::SyncRequest,
    MessageKind::SyncReply,
    MessageKind::Read,
    MessageKind::Reply,
    MessageKind::Repair,
    MessageKind::Hint,
];

const DROP_REASONS: [DropReason; 3] = [DropReason::Lost, DropReason::LinkCut, DropReason::NodeDown];

const STATUSES: [RequestStatus; 5] = [
    RequestStatus::Pending,
    RequestStatus::Ok,
    RequestStatus::Unavailable,
    RequestStatus::TimedOut,
    RequestStatus::Refused,
];

/// The layout of the encodings, for the page: strides, and each code by the name the rest of
/// the API gives it (`messageKinds.replicate` is 0, `diagramCodes.deliver` 4, ...).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Layout {
    pub flight_stride: usize,
    pub drop_stride: usize,
    pub diagram_stride: usize,
    pub drop_reason_factor: u32,
    pub flight_flags: BTreeMap<&'static str, u8>,
    pub message_kinds: BTreeMap<String, u8>,
    pub drop_reasons: BTreeMap<String, u8>,
    pub statuses: BTreeMap<String, u8>,
    pub diagram_codes: BTreeMap<String, u8>,
}

/// The name serde gives a unit variant (the name the page knows it by).
fn name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        other => unreachable!("a unit variant serializes as a string, not {other:?}"),
    }
}

impl Layout {
    /// The layout this build writes.
    pub fn new() -> Layout {
        Layout {
            flight_stride: FLIGHT_STRIDE,
            drop_stride: DROP_STRIDE,
            diagram_stride: DIAGRAM_STRIDE,
            drop_reason_factor: DROP_REASON_FACTOR,
            flight_flags: [("lost", FLAG_LOST), ("duplicate", FLAG_DUPLICATE)].into(),
            message_kinds: MESSAGE_KINDS.iter().map(|k| (name(k), *k as u8)).collect(),
            drop_reasons: DROP_REASONS.iter().map(|r| (name(r), *r as u8)).collect(),
            statuses: STATUSES.iter().map(|s| (name(s), *s as u8)).collect(),
            diagram_codes: DiagramCode::ALL
                .iter()
                .map(|c| (name(c), *c as u8))
                .collect(),
        }
    }
}

impl Default for Layout {
    fn default() -> Self {
        Layout::new()
    }
}

/// Appends the messages of `flights` to `out` as they are at (fractional) time `t`, taking
/// one in every `every`: `FLIGHT_STRIDE` numbers each (progress 0 to 1 along the link).
pub fn flights(
    flights: impl Iterator<Item = FlightView>,
    t: f64,
    every: usize,
    out: &mut Vec<f32>,
) {
    for f in flights.step_by(every.max(1)) {
        let span = (f.arrive_at - f.sent_at) as f64;
        let progress = if span <= 0.0 {
            1.0
        } else {
            ((t - f.sent_at as f64) / span).clamp(0.0, 1.0)
        };
        let flags = if f.lost_at.is_some() { FLAG_LOST } else { 0 }
            | if f.duplicate { FLAG_DUPLICATE } else { 0 };
        out.extend_from_slice(&[
            f.from.index() as f32,
            f.to.index() as f32,
            f.kind as u8 as f32,
            progress as f32,
            f32::from(flags),
        ]);
    }
}

/// Dropped messages: `DROP_STRIDE` numbers each (`at`: how far along the link, 0 to 1).
pub fn drops(drops: &[DropView]) -> Vec<f32> {
    drops
        .iter()
        .flat_map(|d| {
            [
                d.from.index() as f32,
                d.to.index() as f32,
                d.kind as u8 as f32,
                d.reason as u8 as f32,
                d.at,
            ]
        })
        .collect()
}

/// The diagram events of `trace` from time `from` on, at most the last
/// [`MOST_DIAGRAM_EVENTS`], `DIAGRAM_STRIDE` numbers each: `code, time, node, peer, id,
/// extra, progress, position, index`. `node` and `peer` are node ids (`peer` 0 if none: for
/// messages and links the receiver, for a hint the owner). `id`: the message's number (send,
/// deliver, drop), the write's (write, hint, collect), or the request's (read, answer).
/// `extra`: the message kind, a write's delete flag, an answer's status, a drop's kind plus
/// [`DROP_REASON_FACTOR`] times its reason, a recovery's wipe flag, a link's cut flag.
/// `progress`: how far a dropped message got (0 to 1). `position`: events handled by then.
/// `index`: the event's number in the trace.
pub fn diagram(trace: &Trace, from: Time) -> Vec<f64> {
    use DiagramCode as C;
    use TraceEvent as E;
    let events = trace.recent();
    let start = events
        .partition_point(|e| e.time() < from)
        .max(events.len().saturating_sub(MOST_DIAGRAM_EVENTS));
    let first = trace.count() - events.len() as u64;
    let mut out = Vec::with_capacity((events.len() - start) * DIAGRAM_STRIDE);
    let kept = events.iter().zip(trace.positions()).enumerate().skip(start);
    for (i, (event, position)) in kept {
        let n = |node: &NodeId| f64::from(node.0);
        let (code, node, peer, id, extra, progress) = match event {
            E::Write {
                node,
                write,
                delete,
                ..
            } => (C::Write, n(node), 0.0, write.0, u32::from(*delete), 0.0),
            E::Read { node, request, .. } => (C::Read, n(node), 0.0, request.0, 0, 0.0),
            E::Answer {
                node,
                request,
                status,
                ..
            } => (C::Answer, n(node), 0.0, request.0, *status as u32, 0.0),
            E::Send {
                from,
                to,
                message,
                id,
                ..
            } => (C::Send, n(from), n(to), *id, *message as u32, 0.0),
            E::Deliver {
                from,
                to,
                message,
                id,
                ..
            } => (C::Deliver, n(from), n(to), *id, *message as u32, 1.0),
            E::Drop {
                from,
                to,
                message,
                reason,
                id,
                progress,
                ..
            } => (
                C::Drop,
                n(from),
                n(to),
                *id,
                *message as u32 + DROP_REASON_FACTOR * *reason as u32,
                f64::from(*progress) / 1000.0,
            ),
            E::Timer { node, .. } => (C::Timer, n(node), 0.0, 0, 0, 0.0),
            E::Hint {
                node, owner, write, ..
            } => (C::Hint, n(node), n(owner), write.0, 0, 0.0),
            E::Collect { node, write, .. } => (C::Collect, n(node), 0.0, write.0, 0, 0.0),
            E::Crash { node, .. } => (C::Crash, n(node), 0.0, 0, 0, 0.0),
            E::Recover { node, wipe, .. } => (C::Recover, n(node), 0.0, 0, u32::from(*wipe), 0.0),
            E::Link { from, to, cut, .. } => (C::Link, n(from), n(to), 0, u32::from(*cut), 0.0),
            E::Configure { .. } => (C::Configure, 0.0, 0.0, 0, 0, 0.0),
        };
        out.extend_from_slice(&[
            f64::from(code as u8),
            event.time() as f64,
            node,
            peer,
            f64::from(id),
            f64::from(extra),
            progress,
            *position as f64,
            (first + i as u64) as f64,
        ]);
    }
    out
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use crate::sim::Simulation;

    #[test]
    fn the_layout_names_every_code_once_by_the_name_the_api_uses() {
        let layout = Layout::new();
        assert_eq!(layout.message_kinds["replicate"], 0);
        assert_eq!(layout.message_kinds["syncReply"], 2);
        assert_eq!(layout.message_kinds.len(), 7);
        assert_eq!(layout.drop_reasons["nodeDown"], 2);
        assert_eq!(layout.statuses["timedOut"], 3);
        assert_eq!(layout.diagram_codes["deliver"], 4);
        assert_eq!(layout.diagram_codes["configure"], 12);
        // Codes are distinct and dense: an array indexed by code holds each name once.
        for codes in [
            &layout.message_kinds,
            &layout.diagram_codes,
            &layout.statuses,
        ] {
            let mut values: Vec<u8> = codes.values().copied().collect();
            values.sort_unstable();
            assert_eq!(values, (0..codes.len() as u8).collect::<Vec<_>>());
        }
        let json = serde_json::to_value(&layout).unwrap();
        assert_eq!(json["flightStride"], 5);
        assert_eq!(json["diagramCodes"]["send"], 3);
    }

    #[test]
    fn each_encoding_takes_its_stride_per_item() {
        let mut sim = Simulation::new(Settings::default()).unwrap();
        sim.write(NodeId(1), "k", "v").unwrap();
        sim.cut(NodeId(1), NodeId(3)).unwrap();
        let mut out = Vec::new();
        flights(sim.in_flight(), 1.0, 1, &mut out);
        assert_eq!(out.len(), 2 * FLIGHT_STRIDE, "two copies on their way");
        assert_eq!(out[2], MessageKind::Replicate as u8 as f32);
        sim.run_for(1_000);
        let dropped = drops(&sim.drain_drops());
        assert_eq!(
            dropped.len(),
            DROP_STRIDE,
            "the copy to node 3 died at the cut"
        );
        assert_eq!(dropped[3], DropReason::LinkCut as u8 as f32);
        let events = diagram(sim.trace(), 0);
        assert_eq!(events.len() % DIAGRAM_STRIDE, 0);
        let codes: Vec<f64> = events.chunks(DIAGRAM_STRIDE).map(|e| e[0]).collect();
        assert_eq!(codes[0], DiagramCode::Write as u8 as f64);
        let drop = events
            .chunks(DIAGRAM_STRIDE)
            .find(|e| e[0] == DiagramCode::Drop as u8 as f64)
            .unwrap();
        let (kind, reason) = (
            drop[5] as u32 % DROP_REASON_FACTOR,
            drop[5] as u32 / DROP_REASON_FACTOR,
        );
        assert_eq!(
            (kind, reason),
            (MessageKind::Replicate as u32, DropReason::LinkCut as u32)
        );
    }
}
