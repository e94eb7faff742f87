//! One replica of the key-value store, as a sans-IO state machine.
//!
//! A [`Replica`] handles a client write, a message or a timer at a given `now` and pushes what it
//! wants done ([`Output::Send`], [`Output::Timer`]) onto a list instead of doing it, as
//! quinn-proto and stateright do. The [`crate::Simulation`] carries those effects through its
//! network model; the same replica could run over a real network.

use std::fmt;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::Time;
use crate::rng::Rng;

/// A node's id as people see it: 1 for "Node 1". Ids run from 1 to the cluster size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position in 0-based arrays.
    pub fn index(self) -> usize {
        self.0 as usize - 1
    }

    /// The id of the node at 0-based position `index`.
    pub fn from_index(index: usize) -> NodeId {
        NodeId(index as u32 + 1)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// The cluster-wide number of a client write, in the order writes were made (w1, w2, ...).
/// A real store names a write by (node, counter); the simulation numbers them globally so
/// that it can follow each one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct WriteId(pub u32);

impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

/// A key as the cluster's key table numbers it, in order of first use. Replicas index their
/// stores by it, as a storage engine indexes interned keys; the simulation maps it to the
/// key's text for people.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct KeyId(pub u32);

impl KeyId {
    /// The key's position in dense arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A value, shared rather than copied between replicas and messages.
pub type Value = Rc<str>;

/// A write's timestamp for last-writer-wins: the writing node's clock reading, then its id,
/// then a per-node counter so that two writes of one node in one millisecond keep their order.
/// Ordered field by field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize)]
pub struct Stamp {
    /// The writing node's clock in milliseconds (virtual time plus that node's skew).
    pub millis: i64,
    /// The writing node: among equal clock readings the higher id wins.
    pub node: NodeId,
    /// The writing node's own counter of writes.
    pub seq: u32,
}

impl Stamp {
    /// The three fields packed into one number that orders the same way (one comparison
    /// instead of three: stamps are compared on every delivery).
    fn packed(self) -> u128 {
        let millis = (self.millis as u64) ^ (1 << 63); // order-preserving for signed values
        (u128::from(millis) << 64) | (u128::from(self.node.0) << 32) | u128::from(self.seq)
    }
}

impl Ord for Stamp {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.packed().cmp(&other.packed())
    }
}

impl PartialOrd for Stamp {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms@{}", self.millis, self.node)
    }
}

/// One version of one key: what a replica stores and what replication carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Which client write made this version.
    pub write: WriteId,
    /// The key written.
    pub key: KeyId,
    /// The value written.
    pub value: Value,
    /// The write's timestamp.
    pub stamp: Stamp,
}

/// How a replica chooses between the version it holds and one that arrives.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum ConflictMode {
    /// The tutorial's rule: keep whatever arrived last. Replicas can stay different forever.
    #[default]
    #[serde(rename = "arrival")]
    ArrivalOrder,
    /// Cassandra's rule: keep the version with the higher timestamp; ties go to the higher node id.
    #[serde(rename = "lww")]
    LastWriterWins,
}

impl ConflictMode {
    /// Whether `incoming` replaces `held` when it arrives by replication.
    pub fn replaces(self, held: &Version, incoming: &Version) -> bool {
        match self {
            // Tutorial: `store[key] = value` on every /replicate call.
            ConflictMode::ArrivalOrder => held.write != incoming.write,
            // Cassandra: the cell with the higher write timestamp wins.
            ConflictMode::LastWriterWins => incoming.stamp > held.stamp,
        }
    }

    /// Whether anti-entropy repairs `held` with `offered`. Arrival order has no version to
    /// compare, so reconciliation can only fill in keys a replica lacks (`held` is None).
    pub fn repairs(self, held: Option<&Version>, offered: &Version) -> bool {
        match (self, held) {
            (_, None) => true,
            (ConflictMode::ArrivalOrder, Some(_)) => false,
            (ConflictMode::LastWriterWins, Some(held)) => offered.stamp > held.stamp,
        }
    }

    /// Whether a replica that holds `held` already reflects `other`: it holds it, or under
    /// last-writer-wins something that beats it.
    pub fn covers(self, held: &Version, other: &Version) -> bool {
        held.write == other.write
            || (self == ConflictMode::LastWriterWins && held.stamp > other.stamp)
    }
}

/// The kinds of message replicas exchange (the numbers are what the page receives).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
pub enum MessageKind {
    /// A write pushed to a peer (the tutorial's `/replicate`).
    Replicate = 0,
    /// Anti-entropy: a node offers its whole store to a peer.
    SyncRequest = 1,
    /// Anti-entropy: the peer answers with what the offer lacked or held older.
    SyncReply = 2,
}

/// What replicas send each other.
#[derive(Clone, Debug)]
pub enum Message {
    /// Fire-and-forget replication of one write, as the tutorial's `propagate_update`.
    Replicate(Rc<Version>),
    /// Anti-entropy push: the sender's whole store, in key order.
    SyncRequest(Rc<Vec<Rc<Version>>>),
    /// Anti-entropy pull: the versions the request lacked or held older, in key order.
    SyncReply(Rc<Vec<Rc<Version>>>),
}

impl Message {
    /// The kind of this message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Replicate(_) => MessageKind::Replicate,
            Message::SyncRequest(_) => MessageKind::SyncRequest,
            Message::SyncReply(_) => MessageKind::SyncReply,
        }
    }

    /// How many versions the message carries.
    pub fn versions(&self) -> usize {
        match self {
            Message::Replicate(_) => 1,
            Message::SyncRequest(v) | Message::SyncReply(v) => v.len(),
        }
    }
}

/// Timers a replica can set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Timer {
    /// Time for the next anti-entropy round.
    AntiEntropy,
}

/// What a replica asks of its environment, or reports to it.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send `message` to `to`.
    Send {
        /// The receiving node.
        to: NodeId,
        /// What to send.
        message: Message,
    },
    /// Send `message` to every other node.
    Broadcast {
        /// What to send.
        message: Message,
    },
    /// Call [`Replica::handle_timer`] with `timer` after `after` milliseconds.
    Timer {
        /// Delay from now.
        after: Time,
        /// Which timer.
        timer: Timer,
    },
    /// A version reached this replica; `stored` says whether it now holds it.
    Received {
        /// The write that arrived.
        version: Rc<Version>,
        /// Whether the replica kept it.
        stored: bool,
        /// If it was kept: the timestamp of the version it replaced, if any.
        replaced: Option<Stamp>,
    },
}

/// How a replica is set up; the simulation keeps it in step with the settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ReplicaConfig {
    /// How many nodes the cluster has (ids `1..=nodes`).
    pub nodes: u32,
    /// How conflicting versions are resolved.
    pub conflict: ConflictMode,
    /// The anti-entropy period, or None when anti-entropy is off.
    pub anti_entropy: Option<Time>,
    /// This node's clock offset from true virtual time, in milliseconds.
    pub clock_skew: i64,
}

/// One replica: its store, its clock and its protocol rules.
#[derive(Clone, Debug)]
pub struct Replica {
    id: NodeId,
    config: ReplicaConfig,
    /// The version held for each key, by key id.
    store: Vec<Option<Rc<Version>>>,
    held: usize,
    writes_made: u32,
    rng: Rng,
}

impl Replica {
    /// A replica with an empty store; `rng` is its own random stream (for picking peers).
    pub fn new(id: NodeId, config: ReplicaConfig, rng: Rng) -> Replica {
        Replica {
            id,
            config,
            store: Vec::new(),
            held: 0,
            writes_made: 0,
            rng,
        }
    }

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The version held for `key`, if any.
    pub fn get(&self, key: KeyId) -> Option<&Rc<Version>> {
        self.store.get(key.index()).and_then(Option::as_ref)
    }

    /// Every version held, in key order.
    pub fn versions(&self) -> impl Iterator<Item = &Rc<Version>> {
        self.store.iter().flatten()
    }

    /// How many keys the replica holds.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether the replica holds nothing.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// The replica's configuration.
    pub fn config(&self) -> ReplicaConfig {
        self.config
    }

    /// Replaces the configuration (the caller restarts timers with [`Replica::start`]).
    pub fn set_config(&mut self, config: ReplicaConfig) {
        self.config = config;
    }

    /// Forgets every stored version (a restart without durable storage, as the tutorial's nodes).
    pub fn wipe(&mut self) {
        self.store.clear();
        self.held = 0;
    }

    /// This node's clock reading at virtual time `now`.
    pub fn clock(&self, now: Time) -> i64 {
        now as i64 + self.config.clock_skew
    }

    /// Arms the replica's timers, at a random offset within the first period so that nodes do
    /// not all reconcile in the same millisecond (Cassandra and Riak jitter their repair timers).
    pub fn start(&mut self, out: &mut Vec<Output>) {
        if let Some(period) = self.config.anti_entropy {
            let after = self.rng.between(1, period.max(1));
            out.push(Output::Timer {
                after,
                timer: Timer::AntiEntropy,
            });
        }
    }

    /// A client writes `key = value` here: applied locally at once, then sent to every peer,
    /// fire-and-forget, as the tutorial's `/write` does. Returns the new version.
    pub fn client_write(
        &mut self,
        now: Time,
        write: WriteId,
        key: KeyId,
        value: Value,
        out: &mut Vec<Output>,
    ) -> Rc<Version> {
        self.writes_made += 1;
        let stamp = Stamp {
            millis: self.clock(now),
            node: self.id,
            seq: self.writes_made,
        };
        let version = Rc::new(Version {
            write,
            key,
            value,
            stamp,
        });
        // Cassandra applies its own write by the same timestamp rule as a replicated one:
        // a node whose clock lags can "write" and still read back the older value.
        self.receive(version.clone(), out);
        // Tutorial: `for peer in peers: requests.post(f"{peer}/replicate", ...)`.
        if self.config.nodes > 1 {
            out.push(Output::Broadcast {
                message: Message::Replicate(version.clone()),
            });
        }
        version
    }

    /// A message from `from` arrives.
    pub fn handle_message(&mut self, from: NodeId, message: Message, out: &mut Vec<Output>) {
        match message {
            Message::Replicate(version) => self.receive(version, out),
            Message::SyncRequest(offered) => {
                let reply = self.reconcile(&offered, out);
                out.push(Output::Send {
                    to: from,
                    message: Message::SyncReply(Rc::new(reply)),
                });
            }
            Message::SyncReply(offered) => {
                self.reconcile(&offered, out);
            }
        }
    }

    /// A timer fires.
    pub fn handle_timer(&mut self, timer: Timer, out: &mut Vec<Output>) {
        match timer {
            Timer::AntiEntropy => {
                let Some(period) = self.config.anti_entropy else {
                    return;
                };
                // The tutorial's "background thread to periodically reconcile state": each round,
                // push-pull with one peer chosen at random (Demers et al.'s anti-entropy).
                if self.config.nodes > 1 {
                    let pick = self.rng.below(u64::from(self.config.nodes) - 1) as u32 + 1;
                    let peer = if pick >= self.id.0 { pick + 1 } else { pick };
                    let offer = Rc::new(self.versions().cloned().collect());
                    out.push(Output::Send {
                        to: NodeId(peer),
                        message: Message::SyncRequest(offer),
                    });
                }
                out.push(Output::Timer {
                    after: period,
                    timer: Timer::AntiEntropy,
                });
            }
        }
    }

    /// The store's slot for `key`, growing the store to reach it.
    fn slot(&mut self, key: KeyId) -> &mut Option<Rc<Version>> {
        if key.index() >= self.store.len() {
            self.store.resize(key.index() + 1, None);
        }
        &mut self.store[key.index()]
    }

    /// Replication: keep the arriving version if the conflict rule says so.
    fn receive(&mut self, version: Rc<Version>, out: &mut Vec<Output>) {
        let conflict = self.config.conflict;
        let slot = self.slot(version.key);
        let (stored, replaced) = match slot {
            None => {
                *slot = Some(version.clone());
                self.held += 1;
                (true, None)
            }
            Some(held) if conflict.replaces(held, &version) => {
                let replaced = held.stamp;
                *held = version.clone();
                (true, Some(replaced))
            }
            Some(_) => (false, None),
        };
        out.push(Output::Received {
            version,
            stored,
            replaced,
        });
    }

    /// Anti-entropy: takes from `offered` what repairs this store, and returns what this store
    /// has that `offered` lacks or holds older. Both are in key order (a merge join).
    fn reconcile(&mut self, offered: &[Rc<Version>], out: &mut Vec<Output>) -> Vec<Rc<Version>> {
        let conflict = self.config.conflict;
        let mut give = Vec::new();
        let mut repaired = Vec::new();
        let mut offered = offered.iter().peekable();
        for held in self.store.iter().flatten() {
            while let Some(offer) = offered.next_if(|o| o.key < held.key) {
                repaired.push(offer.clone());
            }
            match offered.next_if(|o| o.key == held.key) {
                Some(offer) if conflict.repairs(Some(held), offer) => repaired.push(offer.clone()),
                Some(offer) if conflict.repairs(Some(offer), held) => give.push(held.clone()),
                Some(_) => {}
                None => give.push(held.clone()),
            }
        }
        repaired.extend(offered.cloned());
        for version in repaired {
            let replaced = self.slot(version.key).replace(version.clone());
            self.held += usize::from(replaced.is_none());
            out.push(Output::Received {
                version,
                stored: true,
                replaced: replaced.map(|v| v.stamp),
            });
        }
        give
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(conflict: ConflictMode) -> ReplicaConfig {
        ReplicaConfig {
            nodes: 3,
            conflict,
            anti_entropy: None,
            clock_skew: 0,
        }
    }

    fn replica(id: u32, conflict: ConflictMode) -> Replica {
        Replica::new(NodeId(id), config(conflict), Rng::new(1, u64::from(id)))
    }

    /// The messages in `out`, a broadcast spelled out per peer of a three-node cluster.
    fn sends(out: &[Output], me: u32) -> Vec<(NodeId, MessageKind)> {
        out.iter()
            .flat_map(|o| match o {
                Output::Send { to, message } => vec![(*to, message.kind())],
                Output::Broadcast { message } => (1..=3)
                    .filter(|p| *p != me)
                    .map(|p| (NodeId(p), message.kind()))
                    .collect(),
                _ => vec![],
            })
            .collect()
    }

    #[test]
    fn stamps_order_by_clock_then_node_then_counter() {
        let stamp = |millis, node, seq| Stamp {
            millis,
            node: NodeId(node),
            seq,
        };
        let mut stamps = vec![
            stamp(5, 1, 9),
            stamp(-3, 2, 1),
            stamp(5, 2, 1),
            stamp(-4, 9, 9),
            stamp(5, 1, 10),
            stamp(0, 1, 1),
        ];
        stamps.sort();
        assert_eq!(
            stamps,
            vec![
                stamp(-4, 9, 9),
                stamp(-3, 2, 1),
                stamp(0, 1, 1),
                stamp(5, 1, 9),
                stamp(5, 1, 10),
                stamp(5, 2, 1),
            ]
        );
    }

    #[test]
    fn a_write_applies_locally_and_goes_to_every_peer() {
        let mut r = replica(1, ConflictMode::ArrivalOrder);
        let mut out = Vec::new();
        r.client_write(5, WriteId(1), KeyId(0), "Alice".into(), &mut out);
        assert_eq!(&*r.get(KeyId(0)).unwrap().value, "Alice");
        assert_eq!(
            sends(&out, 1),
            vec![
                (NodeId(2), MessageKind::Replicate),
                (NodeId(3), MessageKind::Replicate)
            ]
        );
    }

    #[test]
    fn arrival_order_keeps_the_last_arrival_even_if_older() {
        let mut a = replica(1, ConflictMode::ArrivalOrder);
        let mut b = replica(2, ConflictMode::ArrivalOrder);
        let mut out = Vec::new();
        let old = a.client_write(1, WriteId(1), KeyId(1), "old".into(), &mut out);
        let new = b.client_write(2, WriteId(2), KeyId(1), "new".into(), &mut out);
        let mut c = replica(3, ConflictMode::ArrivalOrder);
        c.handle_message(NodeId(2), Message::Replicate(new), &mut out);
        c.handle_message(NodeId(1), Message::Replicate(old), &mut out);
        assert_eq!(&*c.get(KeyId(1)).unwrap().value, "old");
    }

    #[test]
    fn last_writer_wins_keeps_the_higher_stamp_whatever_the_order() {
        let mut a = replica(1, ConflictMode::LastWriterWins);
        let mut b = replica(2, ConflictMode::LastWriterWins);
        let mut out = Vec::new();
        let old = a.client_write(1, WriteId(1), KeyId(1), "old".into(), &mut out);
        let new = b.client_write(2, WriteId(2), KeyId(1), "new".into(), &mut out);
        let mut c = replica(3, ConflictMode::LastWriterWins);
        c.handle_message(NodeId(2), Message::Replicate(new), &mut out);
        c.handle_message(NodeId(1), Message::Replicate(old), &mut out);
        assert_eq!(&*c.get(KeyId(1)).unwrap().value, "new");
    }

    #[test]
    fn equal_clock_readings_go_to_the_higher_node() {
        let mut a = replica(1, ConflictMode::LastWriterWins);
        let mut b = replica(2, ConflictMode::LastWriterWins);
        let mut out = Vec::new();
        let from_b = b.client_write(7, WriteId(2), KeyId(1), "b".into(), &mut out);
        a.client_write(7, WriteId(1), KeyId(1), "a".into(), &mut out);
        a.handle_message(NodeId(2), Message::Replicate(from_b), &mut out);
        assert_eq!(&*a.get(KeyId(1)).unwrap().value, "b");
    }

    #[test]
    fn a_lagging_clock_cannot_overwrite_its_own_newer_value() {
        let mut a = replica(1, ConflictMode::LastWriterWins);
        let mut b = replica(2, ConflictMode::LastWriterWins);
        b.set_config(ReplicaConfig {
            clock_skew: -1000,
            ..b.config()
        });
        let mut out = Vec::new();
        let first = a.client_write(100, WriteId(1), KeyId(1), "first".into(), &mut out);
        b.handle_message(NodeId(1), Message::Replicate(first), &mut out);
        b.client_write(200, WriteId(2), KeyId(1), "second".into(), &mut out);
        assert_eq!(&*b.get(KeyId(1)).unwrap().value, "first");
    }

    #[test]
    fn sync_request_repairs_both_sides_under_lww() {
        let mut a = replica(1, ConflictMode::LastWriterWins);
        let mut b = replica(2, ConflictMode::LastWriterWins);
        let mut out = Vec::new();
        a.client_write(1, WriteId(1), KeyId(2), "1".into(), &mut out);
        a.client_write(2, WriteId(2), KeyId(3), "a-old".into(), &mut out);
        b.client_write(3, WriteId(3), KeyId(3), "b-new".into(), &mut out);
        b.client_write(4, WriteId(4), KeyId(4), "2".into(), &mut out);
        out.clear();
        let offer = Rc::new(a.versions().cloned().collect());
        b.handle_message(NodeId(1), Message::SyncRequest(offer), &mut out);
        let reply = out
            .iter()
            .find_map(|o| match o {
                Output::Send { to, message } if *to == NodeId(1) => Some(message.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(reply.kind(), MessageKind::SyncReply);
        assert_eq!(reply.versions(), 2, "both (newer at b) and only-b");
        a.handle_message(NodeId(2), reply, &mut out);
        assert_eq!(a.len(), 3);
        assert_eq!(
            a.versions().map(|v| v.write).collect::<Vec<_>>(),
            b.versions().map(|v| v.write).collect::<Vec<_>>()
        );
        assert_eq!(&*a.get(KeyId(3)).unwrap().value, "b-new");
    }

    #[test]
    fn sync_under_arrival_order_only_fills_missing_keys() {
        let mut a = replica(1, ConflictMode::ArrivalOrder);
        let mut b = replica(2, ConflictMode::ArrivalOrder);
        let mut out = Vec::new();
        a.client_write(1, WriteId(1), KeyId(1), "a".into(), &mut out);
        a.client_write(1, WriteId(2), KeyId(5), "1".into(), &mut out);
        b.client_write(2, WriteId(3), KeyId(1), "b".into(), &mut out);
        out.clear();
        let offer = Rc::new(a.versions().cloned().collect());
        b.handle_message(NodeId(1), Message::SyncRequest(offer), &mut out);
        assert_eq!(&*b.get(KeyId(1)).unwrap().value, "b");
        assert_eq!(&*b.get(KeyId(5)).unwrap().value, "1");
    }

    #[test]
    fn anti_entropy_timer_picks_a_peer_other_than_itself_and_rearms() {
        let mut r = replica(2, ConflictMode::LastWriterWins);
        r.set_config(ReplicaConfig {
            anti_entropy: Some(1000),
            ..r.config()
        });
        let mut out = Vec::new();
        r.start(&mut out);
        assert!(matches!(out[0], Output::Timer { after, .. } if (1..=1000).contains(&after)));
        for _ in 0..50 {
            out.clear();
            r.handle_timer(Timer::AntiEntropy, &mut out);
            let (to, kind) = sends(&out, 2)[0];
            assert_ne!(to, NodeId(2));
            assert!(to.0 >= 1 && to.0 <= 3);
            assert_eq!(kind, MessageKind::SyncRequest);
            assert!(matches!(out[1], Output::Timer { after: 1000, .. }));
        }
    }
}
