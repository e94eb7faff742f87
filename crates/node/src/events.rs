//! What a node does, as events in the simulator's schema (`converge::trace::TraceEvent`: send,
//! deliver, drop, client requests, answers, timers, crashes, links), streamed to whoever
//! listens at `GET /events`. An event is only built and serialised while someone listens; a
//! listener that falls more than the stream's capacity behind skips ahead and is told how many
//! it missed.

use std::sync::{Arc, OnceLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use converge::trace::TraceEvent;
use tokio::sync::broadcast;

/// The time in milliseconds since 1970: a real node's `now`, and its events' times (so that
/// the events of several nodes interleave by time). It is the wall clock read once, then moved
/// on by the monotonic clock: it never goes back when the system clock is set back, so a timer
/// the replica asks for never fires before its time by the replica's own clock.
pub fn now_ms() -> u64 {
    static START: OnceLock<(u64, Instant)> = OnceLock::new();
    let (wall, then) = START.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        (wall, Instant::now())
    });
    wall + then.elapsed().as_millis() as u64
}

/// The node's event stream.
#[derive(Clone, Debug)]
pub struct Events {
    tx: broadcast::Sender<Arc<str>>,
}

impl Events {
    /// A stream keeping up to `capacity` events for a slow listener.
    pub fn new(capacity: usize) -> Events {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Events { tx }
    }

    /// Sends the event `make` builds, if anyone listens.
    pub fn emit(&self, make: impl FnOnce() -> TraceEvent) {
        if self.tx.receiver_count() > 0 {
            let json = serde_json::to_string(&make()).expect("events always serialize");
            // Nobody may be left listening by now: that is fine.
            let _ = self.tx.send(json.into());
        }
    }

    /// A new listener.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<str>> {
        self.tx.subscribe()
    }
}
