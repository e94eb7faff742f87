//! The links to a node's peers: for each, a bounded queue of messages sent in order by one
//! task, the failure detector's belief about the peer, and the faults a teacher injected.
//!
//! Replication is fire-and-forget, as in the tutorial, but made explicit: a message waits in its
//! peer's queue, at most [`crate::Limits::queue`] of them; when the queue is full the oldest is
//! dropped and counted. A request to a peer that fails or takes longer than the timeout drops
//! what it carried and marks the peer down; a prober then asks again every
//! [`crate::Limits::recheck`] until it answers. Nothing waits on a peer beyond its timeout.

use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use converge::trace::{DropReason, TraceEvent};
use converge_replica::ids::NodeId;
use converge_replica::replica::MessageKind;
use tokio::sync::Notify;

use crate::events::{Events, now_ms};

/// A message on its way to a peer, already in its wire form.
#[derive(Debug)]
pub struct Outgoing {
    /// Its number among this node's messages (the receiver's deliver event names it).
    pub id: u32,
    /// What kind of message it is.
    pub kind: MessageKind,
    /// The key it is about, if one.
    pub key: Option<Arc<str>>,
    /// The message as JSON.
    pub json: Box<str>,
}

/// One peer as this node sees it.
#[derive(Debug)]
pub struct Link {
    /// The peer.
    pub peer: NodeId,
    /// Where its `/replicate` is.
    pub url: String,
    queue: Mutex<VecDeque<Outgoing>>,
    wake: Notify,
    capacity: usize,
    /// The failure detector: whether this node believes the peer is up.
    up: AtomicBool,
    /// Messages to the peer are dropped here (a partition).
    pub cut_out: AtomicBool,
    /// Messages from the peer are refused here.
    pub cut_in: AtomicBool,
    /// Extra delay before each request to the peer, in milliseconds.
    pub delay_ms: AtomicU32,
    /// Chance that a message to the peer is lost, in millionths.
    pub loss_ppm: AtomicU32,
    /// Counters.
    pub stats: LinkStats,
}

/// What happened to the messages sent to one peer.
#[derive(Debug, Default)]
pub struct LinkStats {
    /// Messages the peer took.
    pub delivered: AtomicU64,
    /// Dropped because the queue was full (the oldest goes).
    pub dropped_full: AtomicU64,
    /// Dropped because the link is cut.
    pub dropped_cut: AtomicU64,
    /// Lost on purpose (loss injection).
    pub dropped_lost: AtomicU64,
    /// Dropped because the peer refused them, failed or timed out.
    pub dropped_down: AtomicU64,
}

impl Link {
    /// A link to `peer` at `base` (`http://host:port`), its queue holding up to `capacity`.
    pub fn new(peer: NodeId, base: &str, capacity: usize) -> Link {
        Link {
            peer,
            url: format!("{base}/replicate"),
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            capacity: capacity.max(1),
            up: AtomicBool::new(true),
            cut_out: AtomicBool::new(false),
            cut_in: AtomicBool::new(false),
            delay_ms: AtomicU32::new(0),
            loss_ppm: AtomicU32::new(0),
            stats: LinkStats::default(),
        }
    }

    /// Whether this node believes the peer is up (and the link to it is not cut).
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed) && !self.cut_out.load(Ordering::Relaxed)
    }

    /// Records what the last request to the peer showed.
    pub fn set_up(&self, up: bool) {
        self.up.store(up, Ordering::Relaxed);
    }

    /// Queues a message; drops the oldest if the queue is full.
    pub fn push(&self, me: NodeId, message: Outgoing, events: &Events) {
        let dropped = {
            let mut queue = self.queue.lock().expect("queue lock");
            let dropped = (queue.len() >= self.capacity)
                .then(|| queue.pop_front())
                .flatten();
            queue.push_back(message);
            dropped
        };
        if let Some(old) = dropped {
            self.stats.dropped_full.fetch_add(1, Ordering::Relaxed);
            self.dropped(me, &old, DropReason::QueueFull, events);
        }
        self.wake.notify_one();
    }

    /// How many messages wait.
    pub fn queued(&self) -> usize {
        self.queue.lock().expect("queue lock").len()
    }

    /// Forgets every waiting message (the node crashed: its memory is gone).
    pub fn clear(&self) {
        self.queue.lock().expect("queue lock").clear();
    }

    fn take(&self, most: usize) -> Vec<Outgoing> {
        let mut queue = self.queue.lock().expect("queue lock");
        let n = queue.len().min(most);
        queue.drain(..n).collect()
    }

    fn dropped(&self, me: NodeId, message: &Outgoing, reason: DropReason, events: &Events) {
        events.emit(|| TraceEvent::Drop {
            time: now_ms(),
            from: me,
            to: self.peer,
            message: message.kind,
            reason,
            id: message.id,
            progress: 0,
            key: message.key.as_deref().map(Rc::from),
        });
    }
}

/// What a link's sender and prober need besides the link.
#[derive(Clone, Debug)]
pub struct Sender {
    /// This node.
    pub me: NodeId,
    /// The cluster's name.
    pub cluster: Arc<str>,
    /// The node's event stream.
    pub events: Events,
    /// The HTTP client.
    pub client: reqwest::Client,
    /// How long a request to a peer may take.
    pub timeout: Duration,
    /// Messages per request, at most.
    pub batch: usize,
    /// Whether this node is crashed (it sends nothing then).
    pub crashed: Arc<AtomicBool>,
}

/// A request from one node to another: the cluster's name, the sender, and its messages
/// (none: a probe of the peer).
pub fn envelope(cluster: &str, from: NodeId, messages: &[Outgoing]) -> String {
    let mut body =
        String::with_capacity(64 + messages.iter().map(|m| m.json.len() + 24).sum::<usize>());
    body.push_str("{\"cluster\":\"");
    body.push_str(cluster);
    body.push_str("\",\"from\":");
    body.push_str(&from.0.to_string());
    body.push_str(",\"messages\":[");
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str("{\"id\":");
        body.push_str(&m.id.to_string());
        body.push_str(",\"message\":");
        body.push_str(&m.json);
        body.push('}');
    }
    body.push_str("]}");
    body
}

/// How a request to a peer went.
enum Sent {
    Delivered,
    /// The peer answered that it is down or the link is cut (503), or refused (4xx).
    Refused(DropReason),
    /// No answer: refused connection, error, or timeout.
    Failed,
}

impl Sender {
    /// Sends what `link` queues, in order, until the process ends.
    pub async fn run(self, link: Arc<Link>) {
        loop {
            let batch = loop {
                let batch = link.take(self.batch);
                if !batch.is_empty() {
                    break batch;
                }
                link.wake.notified().await;
            };
            self.deliver(&link, batch).await;
        }
    }

    async fn deliver(&self, link: &Link, mut batch: Vec<Outgoing>) {
        if self.crashed.load(Ordering::Relaxed) {
            return;
        }
        if link.cut_out.load(Ordering::Relaxed) {
            link.stats
                .dropped_cut
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            for m in &batch {
                link.dropped(self.me, m, DropReason::LinkCut, &self.events);
            }
            return;
        }
        let loss = link.loss_ppm.load(Ordering::Relaxed);
        if loss > 0 {
            batch.retain(|m| {
                let lost = chance() < loss;
                if lost {
                    link.stats.dropped_lost.fetch_add(1, Ordering::Relaxed);
                    link.dropped(self.me, m, DropReason::Lost, &self.events);
                }
                !lost
            });
            if batch.is_empty() {
                return;
            }
        }
        let delay = link.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
        }
        match self.post(link, &batch).await {
            Sent::Delivered => {
                link.set_up(true);
                link.stats
                    .delivered
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
            }
            Sent::Refused(reason) => {
                link.set_up(false);
                self.drop_all(link, &batch, reason);
            }
            Sent::Failed => {
                link.set_up(false);
                self.drop_all(link, &batch, DropReason::NodeDown);
            }
        }
    }

    fn drop_all(&self, link: &Link, batch: &[Outgoing], reason: DropReason) {
        let counter = match reason {
            DropReason::LinkCut => &link.stats.dropped_cut,
            _ => &link.stats.dropped_down,
        };
        counter.fetch_add(batch.len() as u64, Ordering::Relaxed);
        for m in batch {
            link.dropped(self.me, m, reason, &self.events);
        }
    }

    async fn post(&self, link: &Link, batch: &[Outgoing]) -> Sent {
        let body = envelope(&self.cluster, self.me, batch);
        let request = self
            .client
            .post(&link.url)
            .header("content-type", "application/json")
            .timeout(self.timeout)
            .body(body)
            .send();
        match request.await {
            Ok(response) if response.status().is_success() => Sent::Delivered,
            Ok(response) if response.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE => {
                // The peer says why: it is crashed, busy, or cut off from this node.
                let why = response.text().await.unwrap_or_default();
                Sent::Refused(if why.contains("\"linkCut\"") {
                    DropReason::LinkCut
                } else {
                    DropReason::NodeDown
                })
            }
            Ok(response) => {
                let status = response.status();
                let why = response.text().await.unwrap_or_default();
                eprintln!(
                    "node {}: node {} refused messages ({status}): {}",
                    self.me.0,
                    link.peer.0,
                    why.trim()
                );
                Sent::Refused(DropReason::NodeDown)
            }
            Err(_) => Sent::Failed,
        }
    }

    /// Asks a peer believed down whether it is back, every `recheck`, until the process ends.
    pub async fn probe(self, link: Arc<Link>, recheck: Duration) {
        loop {
            tokio::time::sleep(recheck).await;
            let down = !link.up.load(Ordering::Relaxed);
            if down
                && !link.cut_out.load(Ordering::Relaxed)
                && !self.crashed.load(Ordering::Relaxed)
                && matches!(self.post(&link, &[]).await, Sent::Delivered)
            {
                link.set_up(true);
            }
        }
    }
}

/// A number below a million, from a small generator seeded by the clock (loss injection on a
/// real node need not be replayable).
fn chance() -> u32 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(now_ms() | 1);
    }
    STATE.with(|s| {
        // xorshift64*
        let mut x = s.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        s.set(x);
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32 % 1_000_000
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: u32) -> Outgoing {
        Outgoing {
            id,
            kind: MessageKind::Replicate,
            key: Some("k".into()),
            json: format!("{{\"n\":{id}}}").into(),
        }
    }

    #[test]
    fn a_full_queue_drops_its_oldest_message_and_counts_it() {
        let link = Link::new(NodeId(2), "http://127.0.0.1:1", 3);
        let events = Events::new(16);
        for id in 1..=5 {
            link.push(NodeId(1), message(id), &events);
        }
        assert_eq!(link.queued(), 3);
        assert_eq!(link.stats.dropped_full.load(Ordering::Relaxed), 2);
        let left: Vec<u32> = link.take(10).iter().map(|m| m.id).collect();
        assert_eq!(left, vec![3, 4, 5]);
    }

    #[test]
    fn an_envelope_is_json_with_the_messages_in_order() {
        let body = envelope("abc", NodeId(3), &[message(7), message(8)]);
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["cluster"], "abc");
        assert_eq!(value["from"], 3);
        assert_eq!(value["messages"][1]["id"], 8);
        assert_eq!(value["messages"][0]["message"]["n"], 7);
        let probe: serde_json::Value =
            serde_json::from_str(&envelope("abc", NodeId(1), &[])).unwrap();
        assert_eq!(probe["messages"].as_array().unwrap().len(), 0);
    }

    #[test]
    fn chances_spread_over_a_million() {
        let draws: Vec<u32> = (0..10_000).map(|_| chance()).collect();
        assert!(draws.iter().all(|d| *d < 1_000_000));
        let below_half = draws.iter().filter(|d| **d < 500_000).count();
        assert!((4_000..6_000).contains(&below_half), "{below_half}");
    }
}
