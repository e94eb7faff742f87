//! What is watched of a run, apart from the run itself: the write log (where each write is,
//! lost or stale), the counters, the plotted samples, the trace, the drops and Merkle ranges a
//! page draws. The world (replicas, network, queue, clock) calls one hook for each thing that
//! happens ([`Observer::on_send`], [`on_deliver`](Observer::on_deliver),
//! [`on_drop`](Observer::on_drop), [`on_note`](Observer::on_note), ...); a new metric or kind of
//! event touches this file, not the world's. Nothing here decides what happens next.

use std::collections::VecDeque;
use std::rc::Rc;

use super::views::{DropView, RangesView, Stats};
use crate::ids::{NodeId, Time};
use crate::metrics::Metrics;
use crate::replica::{Message, MessageKind, Note, Replica, Timer};
use crate::trace::{DropReason, Trace, TraceEvent};
use crate::version::ConflictMode;
use crate::writes::{Live, Receipt, WriteLog};

/// How many recent Merkle comparisons that found differences the page can show.
pub(super) const RECENT_RANGES: usize = 32;

/// Everything watched of one run.
#[derive(Clone)]
pub(super) struct Observer {
    /// Where each write is: who holds it, who acknowledged it, whether it was lost.
    pub(super) writes: WriteLog,
    pub(super) stats: Stats,
    pub(super) metrics: Metrics,
    pub(super) trace: Trace,
    /// Drops not yet taken by the page.
    pub(super) drops: Vec<DropView>,
    /// The latest Merkle comparisons that found differences.
    pub(super) ranges: VecDeque<RangesView>,
    /// Bumped whenever anything a view shows may have changed.
    pub(super) changes: u64,
    /// How many messages have been sent: the next one's number.
    messages: u32,
}

/// A message that did not arrive, as the observer sees it.
pub(super) struct Dropped {
    pub(super) from: NodeId,
    pub(super) to: NodeId,
    pub(super) kind: MessageKind,
    /// The message's number (from [`Observer::on_send`]).
    pub(super) id: u32,
    /// How far it got, in thousandths of the way, if it was lost on the way.
    pub(super) lost_at: Option<u16>,
    pub(super) reason: DropReason,
}

impl Observer {
    /// Watches a run of `nodes` nodes with `n` replicas a key.
    pub(super) fn new(nodes: usize, n: usize) -> Observer {
        Observer {
            writes: WriteLog::new(nodes, n),
            stats: Stats::default(),
            metrics: Metrics::default(),
            trace: Trace::default(),
            drops: Vec::new(),
            ranges: VecDeque::new(),
            changes: 0,
            messages: 0,
        }
    }

    /// The world handles its next event.
    pub(super) fn on_event(&mut self) {
        self.stats.events += 1;
        self.trace.set_position(self.stats.events);
    }

    /// `from` sends `message` to `to` (twice if `duplicated`); returns the message's number.
    /// `key` names what it is about, for the trace.
    pub(super) fn on_send(
        &mut self,
        time: Time,
        (from, to): (NodeId, NodeId),
        message: &Message,
        duplicated: bool,
        key: Option<Rc<str>>,
    ) -> u32 {
        let stats = &mut self.stats;
        stats.sent += 1;
        let kind = message.kind();
        match kind {
            MessageKind::Replicate => stats.sent_replicate += 1,
            MessageKind::Read | MessageKind::Reply => stats.sent_requests += 1,
            MessageKind::Repair => stats.sent_repair += 1,
            MessageKind::Hint => stats.sent_hint += 1,
            MessageKind::SyncRequest | MessageKind::SyncReply => stats.sent_anti_entropy += 1,
        }
        let bytes = message.bytes();
        stats.bytes_sent += bytes;
        if message.is_anti_entropy() {
            stats.bytes_anti_entropy += bytes;
        }
        let versions = message.versions() as u32;
        stats.versions_sent += u64::from(versions);
        stats.duplicated += u64::from(duplicated);
        let id = self.messages;
        self.messages = self.messages.wrapping_add(1);
        self.trace.record(|| TraceEvent::Send {
            time,
            from,
            to,
            message: kind,
            versions,
            duplicated,
            id,
            key,
        });
        id
    }

    /// Message number `id` (of `kind`) from `from` reaches `to`.
    pub(super) fn on_deliver(
        &mut self,
        time: Time,
        (from, to): (NodeId, NodeId),
        message: MessageKind,
        id: u32,
        key: Option<Rc<str>>,
    ) {
        self.stats.delivered += 1;
        self.trace.record(|| TraceEvent::Deliver {
            time,
            from,
            to,
            message,
            id,
            key,
        });
    }

    /// A message did not arrive.
    pub(super) fn on_drop(&mut self, time: Time, dropped: Dropped, key: Option<Rc<str>>) {
        let Dropped {
            from,
            to,
            kind,
            id,
            lost_at,
            reason,
        } = dropped;
        self.stats.dropped += 1;
        match reason {
            DropReason::Lost => self.stats.dropped_lost += 1,
            DropReason::LinkCut => self.stats.dropped_cut += 1,
            DropReason::NodeDown => self.stats.dropped_down += 1,
            // Only a real node drops for a full queue: the simulation's links have none.
            DropReason::QueueFull => {}
        }
        let progress = lost_at.unwrap_or(1000);
        self.trace.record(|| TraceEvent::Drop {
            time,
            from,
            to,
            message: kind,
            reason,
            id,
            progress,
            key,
        });
        let at = lost_at.map_or(1.0, |t| f32::from(t) / 1000.0);
        self.drops.push(DropView {
            from,
            to,
            kind,
            reason,
            at,
        });
        // Keep only what a page could still be showing if nobody drains.
        if self.drops.len() > 10_000 {
            self.drops.drain(..5_000);
        }
    }

    /// `node`'s timer fires.
    pub(super) fn on_timer(&mut self, time: Time, node: NodeId, timer: Timer) {
        if matches!(timer, Timer::AntiEntropy(_)) {
            self.trace.record(|| TraceEvent::Timer { time, node });
        }
    }

    /// The link from → to was cut or healed.
    pub(super) fn on_link(&mut self, time: Time, from: NodeId, to: NodeId, cut: bool) {
        self.trace.record(|| TraceEvent::Link {
            time,
            from,
            to,
            cut,
        });
        self.changes += 1;
    }

    /// `node` (now `replica`) reported `note` about itself.
    pub(super) fn on_note(
        &mut self,
        time: Time,
        replica: &Replica,
        note: Note,
        conflict: ConflictMode,
        live: &Live,
    ) {
        let node = replica.id();
        match note {
            Note::Received {
                version,
                stored,
                replaced,
            } => {
                self.changes += u64::from(stored);
                let receipt = Receipt {
                    node,
                    version: &version,
                    // Only looked at when the node did not store it.
                    held: if stored {
                        &[]
                    } else {
                        replica.get(version.key.id)
                    },
                    stored,
                    replaced,
                };
                self.writes.on_received(time, receipt, conflict, live);
            }
            Note::Hinted { owner, version } => {
                self.stats.hints += 1;
                self.changes += 1;
                self.writes.on_hinted(&version);
                let write = version.write;
                self.trace.record(|| TraceEvent::Hint {
                    time,
                    node,
                    owner,
                    write,
                });
            }
            Note::Collected { version } => {
                self.stats.tombstones_collected += 1;
                self.changes += 1;
                self.writes.on_collected(&version);
                let write = version.write;
                self.trace
                    .record(|| TraceEvent::Collect { time, node, write });
            }
            Note::RangesDiffer { peer, leaves } => {
                self.ranges.push_back(RangesView {
                    time,
                    node,
                    peer,
                    leaves,
                });
                if self.ranges.len() > RECENT_RANGES {
                    self.ranges.pop_front();
                }
            }
        }
    }
}
