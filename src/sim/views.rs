//! What the simulation shows of itself: plain data for the page, the API and tests.

use serde::Serialize;

use crate::clock::CausalContext;
use crate::ids::Time;
use crate::ids::{NodeId, RequestId, WriteId};
use crate::replica::MessageKind;
use crate::trace::{DropReason, RequestStatus};
use crate::writes::WriteView;

/// A message in flight, as the page draws it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlightView {
    /// The sender.
    pub from: NodeId,
    /// The receiver.
    pub to: NodeId,
    /// What it carries.
    pub kind: MessageKind,
    /// When it left.
    pub sent_at: Time,
    /// When it would arrive.
    pub arrive_at: Time,
    /// If it will be lost: where along the link, in thousandths.
    pub lost_at: Option<u16>,
    /// Whether it is the network's duplicate of another message.
    pub duplicate: bool,
    /// The message's number in the run (as the trace's send event has it).
    pub id: u32,
}

/// A message that was dropped, for the page to show failing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropView {
    /// The sender.
    pub from: NodeId,
    /// The intended receiver.
    pub to: NodeId,
    /// What it carried.
    pub kind: MessageKind,
    /// Why it was dropped.
    pub reason: DropReason,
    /// How far along the link it got, from 0 to 1.
    pub at: f32,
}

/// Running totals of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Virtual time now, in milliseconds.
    pub now: Time,
    /// Events handled (arrivals, losses, timers).
    pub events: u64,
    /// Messages sent (not counting the network's duplicates).
    pub sent: u64,
    /// Message copies delivered.
    pub delivered: u64,
    /// Message copies dropped, for any reason.
    pub dropped: u64,
    /// Of which lost by the network.
    pub dropped_lost: u64,
    /// Of which dropped because their link was cut.
    pub dropped_cut: u64,
    /// Of which dropped because the receiver was down.
    pub dropped_down: u64,
    /// Extra copies the network made.
    pub duplicated: u64,
    /// Message copies on their way now.
    pub in_flight: u64,
    /// Writes sent to replicas (fire-and-forget, coordinated or gossiped).
    pub sent_replicate: u64,
    /// Coordinator reads, acknowledgements and replies sent.
    pub sent_requests: u64,
    /// Read repairs sent.
    pub sent_repair: u64,
    /// Hinted writes and handoffs sent.
    pub sent_hint: u64,
    /// Anti-entropy messages sent (requests and replies).
    pub sent_anti_entropy: u64,
    /// Bytes of every message sent (an estimate: framing, ids, values, vectors, hashes).
    pub bytes_sent: u64,
    /// Of which anti-entropy.
    pub bytes_anti_entropy: u64,
    /// Versions carried by all messages sent.
    pub versions_sent: u64,
    /// Client writes (deletes included).
    pub writes: u64,
    /// Client reads.
    pub reads: u64,
    /// Client requests answered "unavailable".
    pub unavailable: u64,
    /// Client writes refused for making too many siblings.
    pub refused: u64,
    /// Client requests answered "timed out".
    pub timed_out: u64,
    /// Client reads that returned something older than the newest write of their key.
    pub stale_reads: u64,
    /// Reads that broke a session guarantee (read your writes, monotonic reads).
    pub session_violations: u64,
    /// Hints taken for unreachable nodes.
    pub hints: u64,
    /// Tombstones collected.
    pub tombstones_collected: u64,
    /// Deleted values that came back.
    pub resurrections: u64,
    /// Acknowledged writes that are lost (computed when asked; those among the writes
    /// forgotten were judged as they were forgotten: see [`crate::writes::WRITES_KEPT`]).
    pub lost_writes: u64,
    /// Writes whose records were forgotten to keep memory flat (past
    /// [`crate::writes::WRITES_KEPT`]): counted in the figures, no longer listed or followed.
    pub writes_forgotten: u64,
}

/// One version as a client or the page sees it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    /// The write that made it.
    pub write: WriteId,
    /// Its value, possibly shortened; None for a tombstone (a delete).
    pub value: Option<String>,
    /// Whether `value` was shortened for display.
    pub truncated: bool,
    /// Its timestamp (last writer wins).
    pub stamp_ms: i64,
    /// Its clock: exactly the writes it replaced, and itself.
    pub clock: CausalContext,
}

/// A causal context for a later write: the key it was read from and what the read saw.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Context {
    /// The key.
    pub key: String,
    /// The join of the clocks of the versions read: exactly the writes the read saw.
    pub clock: CausalContext,
    /// The read it came from, if known: the observer's record of what the client saw (the
    /// replicas use only the clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<RequestId>,
}

/// A client request and how it went.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestView {
    /// Its number.
    pub id: RequestId,
    /// "write", "delete" or "read".
    pub kind: &'static str,
    /// The node that coordinated it (the one the client contacted).
    pub node: NodeId,
    /// The key.
    pub key: String,
    /// The client session it belongs to, if any.
    pub session: Option<String>,
    /// When it started.
    pub started_at: Time,
    /// Where it stands.
    pub status: RequestStatus,
    /// When it was answered.
    pub finished_at: Option<Time>,
    /// How long it took.
    pub latency_ms: Option<Time>,
    /// Acknowledgements (writes) or replies (reads) by the time it was answered.
    pub got: u32,
    /// How many it needed (W or R).
    pub needed: u32,
    /// The write it made (writes and deletes).
    pub write: Option<WriteId>,
    /// The versions a read returned (several if siblings).
    pub versions: Vec<VersionView>,
    /// Under the data types, the value those versions make: a set's elements as `{a, b}` or a
    /// counter's total (see [`crate::crdt::merged_value`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<String>,
    /// The context a read returned, to pass to a later write of the key.
    pub context: Option<Context>,
    /// Whether the read returned something older than the newest acknowledged write.
    pub stale: bool,
    /// By how many acknowledged writes the read was behind.
    pub behind: u32,
    /// Session guarantees the read broke: "read-your-writes", "monotonic-reads".
    pub violations: Vec<&'static str>,
    /// For reads: the newest write of the key anywhere when the read was answered.
    pub latest: Option<WriteView>,
}

impl RequestView {
    /// The value a read returned, if it returned exactly one version and that is not a delete.
    pub fn value(&self) -> Option<&str> {
        match self.versions.as_slice() {
            [only] => only.value.as_deref(),
            _ => None,
        }
    }
}

/// What one node holds for one key.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCell {
    /// The node.
    pub node: NodeId,
    /// Whether the node is up.
    pub up: bool,
    /// Whether the node is one of the key's replicas.
    pub replica: bool,
    /// The versions it holds (several if siblings; none if it lacks the key).
    pub versions: Vec<VersionView>,
    /// Under the data types, the value they make (see [`RequestView::merged`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged: Option<String>,
    /// Whether what it holds does not reflect the newest write of the key.
    pub stale: bool,
}

/// One key across the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatus {
    /// The key.
    pub key: String,
    /// Its place on the ring (its hash), as a fraction of the circle from 0 to 1.
    pub ring_position: f64,
    /// Its replicas (the preference list), in ring order.
    pub preference_list: Vec<NodeId>,
    /// Whether every live replica holds the same versions.
    pub converged: bool,
    /// Whether any replica holds siblings.
    pub siblings: bool,
    /// Whether the newest write deleted the key.
    pub deleted: bool,
    /// The newest write of the key.
    pub latest: WriteId,
    /// What each node holds, node 1 first.
    pub replicas: Vec<ReplicaCell>,
}

/// A write a node keeps for another (hinted handoff).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HintView {
    /// The node the write is for.
    pub owner: NodeId,
    /// The write.
    pub write: WriteId,
    /// Its key.
    pub key: String,
}

/// A client request a node is coordinating, as the page shows it beside the node.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingView {
    /// The request.
    pub request: RequestId,
    /// "write", "delete" or "read".
    pub kind: &'static str,
    /// The key.
    pub key: String,
    /// Acknowledgements or replies so far.
    pub got: u32,
    /// How many it needs.
    pub needed: u32,
}

/// One node as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeView {
    /// Its id.
    pub id: NodeId,
    /// Whether it is running.
    pub up: bool,
    /// Whether every link to and from it is cut.
    pub isolated: bool,
    /// Its clock's offset from virtual time.
    pub clock_skew_ms: i64,
    /// How many keys it holds.
    pub keys: usize,
    /// The writes it keeps for other nodes.
    pub hints: Vec<HintView>,
    /// The client requests it is coordinating.
    pub pending: Vec<PendingView>,
}

/// A token on the ring, for the ring view.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    /// Where, as a fraction of the circle from 0 to 1.
    pub position: f64,
    /// Its owner.
    pub node: NodeId,
}

/// Ranges a Merkle comparison found different, for the ring view.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RangesView {
    /// When.
    pub time: Time,
    /// The node that compared.
    pub node: NodeId,
    /// The peer it compared with.
    pub peer: NodeId,
    /// The leaf ranges (0 to 63; range i covers [i/64, (i+1)/64) of the circle).
    pub leaves: Vec<u32>,
}

/// A deleted value that came back, as the page shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResurrectionView {
    /// When.
    pub time: Time,
    /// Where.
    pub node: NodeId,
    /// The key.
    pub key: String,
    /// The write that came back.
    pub write: WriteId,
}

/// What a client write returned when it was made.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOutcome {
    /// The request (its outcome can be read later if it is still pending).
    pub request: RequestId,
    /// The write's number.
    pub write: WriteId,
    /// The node that coordinated it.
    pub node: NodeId,
    /// Virtual time of the write.
    pub time: Time,
    /// The timestamp it carries (the coordinator's clock reading).
    pub stamp_ms: i64,
    /// Whether the coordinator now holds it. Under last-writer-wins a node whose clock lags
    /// keeps a version with a later timestamp, and the write is lost at once.
    pub applied: bool,
    /// Where it stands: ok at once without coordination, or pending, or unavailable.
    pub status: RequestStatus,
    /// How many messages it sent at once.
    pub messages: u32,
}

/// What a client read returned: at once without coordination; with it, its request is
/// pending and [`crate::Simulation::request`] tells the outcome later.
pub type ReadOutcome = RequestView;
