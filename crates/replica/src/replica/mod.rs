//! One node of the store, as a sans-IO state machine: it does no I/O, reads no clock and
//! keeps no global view; whoever runs it (the simulation in the `converge` crate, or a real node over HTTP)
//! feeds it inputs and carries out what it asks, as with quinn-proto and stateright.
//!
//! A node plays every role: replica of the keys it owns, coordinator of the client requests
//! sent to it, holder of hints for nodes that are down, spreader of rumors.
//!
//! **Built from** its id, a [`Protocol`] (the rules every node follows), a [`Placement`] (the
//! ring and N: where keys live), its clock offset and its own random stream.
//!
//! **Inputs**, each with an [`Env`] (the time now, and which peers the node believes are up,
//! its failure detector) and an [`Outbox`] to fill:
//! - a client request: [`Replica::client_write`], [`Replica::client_read`];
//! - a message from a peer: [`Replica::handle_message`];
//! - a timer it set, now due: [`Replica::handle_timer`];
//! - a change of its rules or of itself: [`Replica::set_protocol`], [`Replica::start`],
//!   [`Replica::crash`], [`Replica::wipe`].
//!
//! **Outputs**, in the [`Outbox`], two lists polled apart:
//! - effects ([`Output`]): send a message to a peer or to every peer, set a timer, answer a
//!   client;
//! - notes ([`Note`]): what it reports of itself for an observer (a version stored or not, a
//!   hint kept, a tombstone collected, Merkle ranges found to differ); nothing needs doing.
//!
//! **Keys** are [`Key`]s: the number a process's [`KeyTable`] gave the text, and its hash.
//! **Messages** cross between processes in their [`wire`] form (JSON), keys by their text.
//! **Time** is an argument: `Env::now`, in milliseconds; timers are asked for as delays.

mod coordinator;
mod keys;
pub mod merkle;
mod messages;
mod placement;
pub mod protocol;
mod table;
pub mod wire;

use std::collections::VecDeque;
use std::rc::Rc;

pub use keys::KeyTable;
pub use messages::{Message, MessageKind};
pub use placement::Placement;
pub use wire::{WireError, WireMessage, WireVersion};

use crate::clock::{CausalContext, Stamp};
use crate::crdt::{self, CounterEntry};
pub use crate::ids::{Key, KeyId, NodeId, RequestId, Time, WriteId};
use crate::rng::Rng;
pub use crate::version::{ConflictMode, Held, Value, Version};
use merkle::Tree;
pub use protocol::{
    AntiEntropyKind, Coordination, Dissemination, HintedHandoff, Protocol, ReadRepair,
};

/// Timers a replica can set.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Timer {
    /// Time for the next anti-entropy round (of this generation of the schedule: a change of
    /// settings starts a new one and the old one dies out).
    AntiEntropy(u32),
    /// The earliest deadline of a coordinated request is here.
    RequestTimeouts,
    /// Time to offer hints to their owners.
    HintDelivery,
    /// Time for the next gossip round.
    GossipRound,
    /// Time to collect tombstones past their grace period.
    TombstoneGc,
}

/// The most siblings a key may have at the coordinator of a client's write under version
/// vectors: Riak's default `object.siblings.maximum`. A write that would make more is refused
/// ([`Outcome::TooManySiblings`]); reading the key and writing with its context resolves them.
pub const MAX_SIBLINGS: usize = 100;

/// How a client request ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The write reached W replicas (or, without coordination, was taken).
    Written {
        /// How many replicas acknowledged it by then.
        acks: u32,
    },
    /// The read got R replies: the versions it returns (several if they are siblings).
    Read {
        /// The versions, after the coordinator merged the replies.
        versions: Held,
        /// How many replicas replied by then.
        replies: u32,
    },
    /// Fewer than W (or R) replicas were reachable: nothing was sent.
    Unavailable {
        /// How many were reachable.
        alive: u32,
        /// How many were needed.
        needed: u32,
    },
    /// Under version vectors, the write would have left its key with more than
    /// [`MAX_SIBLINGS`] siblings at the coordinator: refused, nothing is written.
    TooManySiblings {
        /// How many siblings the key would have had.
        siblings: u32,
    },
    /// W acknowledgements (or R replies, or repairs) did not come in time.
    TimedOut {
        /// How many came.
        got: u32,
        /// How many were needed.
        needed: u32,
    },
}

/// What a replica asks of its environment: its effects, which the runtime must carry out.
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
    /// Call [`Replica::handle_timer`] with `timer` after `after` milliseconds: not sooner
    /// (by the clock `Env::now` reads), and as soon after as the host can; late is allowed.
    Timer {
        /// Delay from now.
        after: Time,
        /// Which timer.
        timer: Timer,
    },
    /// A client request this node coordinates is answered.
    Respond {
        /// The request.
        request: RequestId,
        /// How it ended.
        outcome: Outcome,
    },
}

/// What a replica reports of itself for whoever watches it (the simulation's observer, a real
/// node's event stream): nothing needs doing about a note.
#[derive(Clone, Debug)]
pub enum Note {
    /// A version reached this node's store; `stored` says whether it now holds it.
    Received {
        /// The write that arrived.
        version: Rc<Version>,
        /// Whether the node kept it.
        stored: bool,
        /// If kept under last writer wins: the timestamp of the version it replaced.
        replaced: Option<Stamp>,
    },
    /// This node now keeps `version` for `owner` (hinted handoff).
    Hinted {
        /// The node the write is for.
        owner: NodeId,
        /// The write.
        version: Rc<Version>,
    },
    /// A tombstone was collected (its grace period is over).
    Collected {
        /// The tombstone.
        version: Rc<Version>,
    },
    /// A Merkle comparison with `peer` found these leaf ranges different.
    RangesDiffer {
        /// The other replica.
        peer: NodeId,
        /// The leaf ranges (0 to 63, clockwise).
        leaves: Vec<u32>,
    },
}

/// Where a replica puts what it wants done ([`Output`]s, in order) and what it reports
/// ([`Note`]s, in order), two queues polled apart ([`Outbox::next_effect`],
/// [`Outbox::next_note`]), as quinn-proto polls transmits and events. Reused from call to call:
/// the runtime empties both after each.
#[derive(Clone, Debug, Default)]
pub struct Outbox {
    effects: VecDeque<Output>,
    notes: VecDeque<Note>,
}

impl Outbox {
    /// An empty outbox.
    pub fn new() -> Outbox {
        Outbox::default()
    }

    /// Adds an effect.
    pub fn push(&mut self, effect: Output) {
        self.effects.push_back(effect);
    }

    /// Adds a note.
    pub fn note(&mut self, note: Note) {
        self.notes.push_back(note);
    }

    /// The effects not yet taken, in order.
    pub fn effects(&self) -> &VecDeque<Output> {
        &self.effects
    }

    /// The notes not yet taken, in order.
    pub fn notes(&self) -> &VecDeque<Note> {
        &self.notes
    }

    /// Takes the next effect, if any.
    #[inline]
    pub fn next_effect(&mut self) -> Option<Output> {
        self.effects.pop_front()
    }

    /// Takes the next note, if any.
    #[inline]
    pub fn next_note(&mut self) -> Option<Note> {
        self.notes.pop_front()
    }

    /// Whether nothing is left in it.
    pub fn is_empty(&self) -> bool {
        self.effects.is_empty() && self.notes.is_empty()
    }

    /// Forgets everything in it.
    pub fn clear(&mut self) {
        self.effects.clear();
        self.notes.clear();
    }
}

/// What a replica is told of the world when it acts: the inputs besides the call itself.
pub struct Env<'a> {
    /// Time now, in milliseconds: virtual in the simulation, the wall clock on a real node.
    pub now: Time,
    /// Which peers this node believes are up: its failure detector, which the runtime supplies.
    /// A coordinator sends only to peers it believes up, and a sloppy quorum stands in for the
    /// others; a hint waits until its owner is believed up. The simulation's detector is
    /// perfect (the peer is up and the links both ways are healthy); a real node's would learn
    /// from requests that failed or timed out. No global view is assumed.
    pub up: &'a dyn Fn(NodeId) -> bool,
}

impl Env<'_> {
    /// Whether node `me` believes `peer` is up (itself always).
    pub fn believes_up(&self, me: NodeId, peer: NodeId) -> bool {
        peer == me || (self.up)(peer)
    }
}

/// A write kept for another node (Dynamo's hinted handoff).
#[derive(Clone, Debug)]
pub struct Hint {
    /// The node the write is for.
    pub owner: NodeId,
    /// The write.
    pub version: Rc<Version>,
}

/// What a node keeps of one key to come back as itself after a restart: the versions it holds,
/// and its own count of its writes to the key (with, under the counter type, its totals), which
/// must survive as Riak keeps a vnode's counter (see [`Replica::wipe`]). A runtime with durable
/// storage writes a key's record out whenever the key changes ([`Replica::record`]) and gives
/// it back on restart ([`Replica::restore`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyRecord {
    /// The versions held (siblings under version vectors).
    pub versions: Vec<Rc<Version>>,
    /// How many writes of the key this node made: the counter of its latest dot.
    pub writes: u32,
    /// This node's totals of the key under the counter type.
    pub total: CounterEntry,
}

/// One node: its store, its clock, and the state of the protocols it plays a part in.
#[derive(Clone, Debug)]
pub struct Replica {
    id: NodeId,
    protocol: Rc<Protocol>,
    /// Where keys live: the ring as every node knows it, and N (shared by the replicas of a
    /// process, with the preference lists computed so far).
    placement: Rc<Placement>,
    clock_skew: i64,
    /// The versions held for each key, by key id (siblings under version vectors).
    store: Vec<Held>,
    held: usize,
    /// Keys whose tombstone was stored while handling the current message (scratch).
    stored_tombstones: Vec<KeyId>,
    /// How many writes of each key this node made (by key id): the counters of its dots.
    counters: Vec<u32>,
    /// This node's totals of each counter key (by key id), under the counter data type; kept,
    /// like `counters`, through a wipe.
    totals: Vec<CounterEntry>,
    rng: Rng,
    hints: Vec<Hint>,
    requests: coordinator::Requests,
    rumors: Vec<Rc<Version>>,
    /// The rumors this node has heard, by key: each is spread once (Demers et al.: a node
    /// becomes infective only on hearing an update it did not know).
    heard: Vec<CausalContext>,
    /// Timers armed and not yet fired (hint delivery, gossip, tombstone collection).
    armed: Armed,
    /// The current generation of the anti-entropy schedule.
    anti_entropy_generation: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct Armed {
    hints: bool,
    gossip: bool,
    gc: bool,
}

impl Replica {
    /// A node with an empty store, placing keys by `placement`; `rng` is its own random stream
    /// (for picking peers).
    pub fn new(
        id: NodeId,
        protocol: Rc<Protocol>,
        placement: Rc<Placement>,
        clock_skew: i64,
        rng: Rng,
    ) -> Replica {
        Replica {
            id,
            protocol,
            placement,
            clock_skew,
            store: Vec::new(),
            held: 0,
            stored_tombstones: Vec::new(),
            counters: Vec::new(),
            totals: Vec::new(),
            rng,
            hints: Vec::new(),
            requests: coordinator::Requests::default(),
            rumors: Vec::new(),
            heard: Vec::new(),
            armed: Armed::default(),
            anti_entropy_generation: 0,
        }
    }

    // ----- Ask -----

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The versions held for `key` (empty if none).
    pub fn get(&self, key: KeyId) -> &[Rc<Version>] {
        self.store.get(key.index()).map_or(&[], Held::as_slice)
    }

    /// The versions held for `key`, as a value to send or keep (no allocation for one).
    pub fn held(&self, key: KeyId) -> Held {
        self.store.get(key.index()).cloned().unwrap_or_default()
    }

    /// Every version held, in key order.
    pub fn versions(&self) -> impl Iterator<Item = &Rc<Version>> {
        self.store.iter().flat_map(Held::as_slice)
    }

    /// Every key held with its versions, in key order.
    pub fn keys(&self) -> impl Iterator<Item = (KeyId, &[Rc<Version>])> {
        self.store
            .iter()
            .enumerate()
            .filter(|(_, vs)| !vs.is_empty())
            .map(|(k, vs)| (KeyId(k as u32), vs.as_slice()))
    }

    /// How many keys the node holds.
    pub fn len(&self) -> usize {
        self.held
    }

    /// Whether the node holds nothing.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Roughly the bytes this node holds of its own: what a copy of it copies (the versions
    /// themselves are shared, a pointer each).
    pub fn bytes(&self) -> usize {
        use std::mem::size_of;
        let siblings: usize = self
            .store
            .iter()
            .map(|held| match held {
                Held::Siblings(vs) => {
                    size_of::<Vec<Rc<Version>>>() + vs.len() * size_of::<Rc<Version>>()
                }
                _ => 0,
            })
            .sum();
        let heard: usize = self
            .heard
            .iter()
            .map(|c| size_of::<CausalContext>() + c.len() * size_of::<(NodeId, u32)>())
            .sum();
        size_of::<Replica>()
            + self.store.len() * size_of::<Held>()
            + siblings
            + heard
            + self.counters.len() * size_of::<u32>()
            + self.totals.len() * size_of::<CounterEntry>()
            + self.hints.len() * size_of::<Hint>()
            + self.rumors.len() * size_of::<Rc<Version>>()
            + self.requests.bytes()
    }

    /// The writes this node keeps for other nodes.
    pub fn hints(&self) -> &[Hint] {
        &self.hints
    }

    /// The client requests this node is coordinating: (request, acks or replies so far, needed).
    pub fn pending(&self) -> impl Iterator<Item = (RequestId, u32, u32)> + '_ {
        self.requests
            .iter()
            .filter(|(_, p)| !p.answered())
            .map(|(id, p)| (id, p.got(), p.needed()))
    }

    /// How far the unanswered request `id` got, if this node coordinates it: (acks or replies
    /// so far, needed).
    pub fn pending_request(&self, id: RequestId) -> Option<(u32, u32)> {
        let p = self.requests.get(id)?;
        (!p.answered()).then(|| (p.got(), p.needed()))
    }

    /// This node's clock offset.
    pub fn clock_skew(&self) -> i64 {
        self.clock_skew
    }

    /// This node's clock reading at virtual time `now`.
    pub fn clock(&self, now: Time) -> i64 {
        now as i64 + self.clock_skew
    }

    /// The clock this node knows for `key`: what its versions and their contexts cover.
    pub fn context(&self, key: KeyId) -> CausalContext {
        crate::version::context_of(self.get(key))
    }

    /// What this node must keep of `key` to come back as itself ([`KeyRecord`]).
    pub fn record(&self, key: KeyId) -> KeyRecord {
        KeyRecord {
            versions: self.get(key).to_vec(),
            writes: self.counters.get(key.index()).copied().unwrap_or(0),
            total: self.totals.get(key.index()).copied().unwrap_or_default(),
        }
    }

    /// Puts back what [`Replica::record`] gave for `key`, as a node coming back from its disk
    /// does before [`Replica::start`] (which then arms the timers its tombstones and hints need).
    pub fn restore(&mut self, key: KeyId, record: KeyRecord) {
        let slot = of_key(&mut self.store, key);
        let was_empty = slot.is_empty();
        slot.set(record.versions);
        match (was_empty, slot.is_empty()) {
            (true, false) => self.held += 1,
            (false, true) => self.held -= 1,
            _ => {}
        }
        *of_key(&mut self.counters, key) = record.writes;
        *of_key(&mut self.totals, key) = record.total;
    }

    /// Puts back a hint kept on disk (before [`Replica::start`]).
    pub fn restore_hint(&mut self, hint: Hint) {
        self.hints.push(hint);
    }

    // ----- Configure -----

    /// Replaces the protocol. A new anti-entropy schedule starts if it changed (the old one
    /// dies out at its next tick).
    pub fn set_protocol(&mut self, protocol: Rc<Protocol>, clock_skew: i64, out: &mut Outbox) {
        let schedule_changed = protocol.anti_entropy != self.protocol.anti_entropy;
        self.protocol = protocol;
        self.clock_skew = clock_skew;
        if schedule_changed {
            self.anti_entropy_generation += 1;
            self.arm_anti_entropy(out);
        }
    }

    /// Forgets every stored version and hint (a restart without durable storage). The write
    /// counters survive, as Riak keeps a vnode's counter apart from its data: a node that came
    /// back empty and counted again from 1 would make dots the others take for old news, and
    /// its new writes would vanish (Riak's bug KV679).
    pub fn wipe(&mut self) {
        self.store.clear();
        self.heard.clear();
        self.held = 0;
        self.hints.clear();
    }

    /// The node crashed: requests it coordinated fail (their clients time out), rumors are
    /// forgotten, and every timer is gone. The store and hints stay, as on disk.
    pub fn crash(&mut self, out: &mut Outbox) {
        for (request, pending) in self.requests.take() {
            if !pending.answered() {
                out.push(Output::Respond {
                    request,
                    outcome: Outcome::TimedOut {
                        got: pending.got(),
                        needed: pending.needed(),
                    },
                });
            }
        }
        self.rumors.clear();
        self.armed = Armed::default();
    }

    /// Arms the node's timers: anti-entropy at a random offset within its first period (Cassandra
    /// and Riak jitter their repair timers), and hint delivery and tombstone collection if there
    /// is work for them.
    pub fn start(&mut self, out: &mut Outbox) {
        self.arm_anti_entropy(out);
        if !self.hints.is_empty() {
            self.arm_hints(out);
        }
        if self.versions().any(|v| v.is_tombstone()) {
            self.arm_gc(out);
        }
    }

    fn arm_anti_entropy(&mut self, out: &mut Outbox) {
        if let Some((_, period)) = self.protocol.anti_entropy {
            let after = self.rng.between(1, period.max(1));
            out.push(Output::Timer {
                after,
                timer: Timer::AntiEntropy(self.anti_entropy_generation),
            });
        }
    }

    // ----- Clients -----

    /// A client writes `value` (None: deletes) to `key` through this node. Under version vectors
    /// `context` is what the client read (Riak), and without one the write is concurrent with
    /// everything (a blind write). Under the data types `value` is an operation
    /// ([`crdt::Op::parse`]: callers check it first; text it cannot read changes nothing) and
    /// the context is this node's own state, as a Riak vnode applies an operation. The other
    /// rules keep no clocks (the tutorial's node and Cassandra send none): the write carries
    /// only its own dot, and replaces what this node holds by arrival or by timestamp.
    #[allow(clippy::too_many_arguments)]
    pub fn client_write(
        &mut self,
        env: &Env,
        request: RequestId,
        write: WriteId,
        key: Key,
        value: Option<Value>,
        context: Option<CausalContext>,
        w: u32,
        out: &mut Outbox,
    ) -> Rc<Version> {
        // Riak: a write's dot counts the coordinator's writes of this key, so that a key's
        // history seen without gaps folds into a version vector.
        let counter = of_key(&mut self.counters, key.id);
        *counter += 1;
        let seq = *counter;
        let stamp = Stamp {
            millis: self.clock(env.now),
            node: self.id,
            seq,
        };
        let conflict = self.protocol.conflict;
        let (value, context) = match conflict {
            ConflictMode::VersionVectors => (value, context.unwrap_or_default()),
            ConflictMode::OrSet | ConflictMode::Counter => {
                let op =
                    crdt::Op::parse(conflict, value.as_deref()).unwrap_or(crdt::Op::Increment(0));
                let own = of_key(&mut self.totals, key.id);
                let held = self.store.get(key.index()).map_or(&[][..], Held::as_slice);
                crdt::prepare(&op, held, self.id, seq, own)
            }
            _ => (value, CausalContext::new()),
        };
        let version = Rc::new(Version {
            write,
            key,
            value,
            stamp,
            context,
            created: self.clock(env.now),
        });
        // Riak (object.siblings.maximum, 100 by default): the coordinator refuses a write that
        // would leave more siblings than that, so that blind writes cannot pile them up without
        // end. Only a client's write is refused; replicas take what they are sent.
        // A counter keeps one version a node, so only version vectors and sets are bounded.
        if matches!(conflict, ConflictMode::VersionVectors | ConflictMode::OrSet) {
            let kept = self
                .get(key.id)
                .iter()
                .filter(|v| !version.context.covers(v.dot()));
            let siblings = kept.count() + 1;
            if siblings > MAX_SIBLINGS {
                self.take_back_dot(&version);
                out.push(Output::Respond {
                    request,
                    outcome: Outcome::TooManySiblings {
                        siblings: siblings as u32,
                    },
                });
                return version;
            }
        }
        match self.protocol.coordination {
            Coordination::None => {
                // The client is answered at once; the write counts as acknowledged by this node
                // only if this node is one of the key's replicas and so took it.
                let acks = u32::from(self.is_replica(key, self.id));
                self.write_uncoordinated(version.clone(), out);
                out.push(Output::Respond {
                    request,
                    outcome: Outcome::Written { acks },
                });
            }
            Coordination::Quorum => self.coordinate_write(env, request, version.clone(), w, out),
        }
        version
    }

    /// A client write this node made was refused before anything was written: its dot is
    /// given to the next write, as in Riak, where the counter lives in the object a refused
    /// put never stores. A dot never used would leave a gap in this node's writes of the key
    /// that no context could fold, and every later context of the key would carry each dot
    /// beyond it.
    pub(super) fn take_back_dot(&mut self, version: &Version) {
        let counter = of_key(&mut self.counters, version.key.id);
        if *counter == version.stamp.seq {
            *counter -= 1;
        }
        // A counter's increment is taken back with it: its totals never reached anyone.
        if self.protocol.conflict == ConflictMode::Counter
            && let Some((by, _)) = version.value.as_deref().and_then(CounterEntry::decode)
        {
            of_key(&mut self.totals, version.key.id).take_back(by);
        }
    }

    /// A client reads `key` through this node.
    pub fn client_read(
        &mut self,
        env: &Env,
        request: RequestId,
        key: Key,
        r: u32,
        out: &mut Outbox,
    ) {
        match self.protocol.coordination {
            // The tutorial: answer from this node alone.
            Coordination::None => out.push(Output::Respond {
                request,
                outcome: Outcome::Read {
                    versions: self.held(key.id),
                    replies: 1,
                },
            }),
            Coordination::Quorum => self.coordinate_read(env, request, key, r, out),
        }
    }

    /// The tutorial's path: keep the write if this node is a replica, then send it on to the
    /// other replicas, fire-and-forget, to each (broadcast) or to a few (gossip).
    fn write_uncoordinated(&mut self, version: Rc<Version>, out: &mut Outbox) {
        let key = version.key;
        if self.is_replica(key, self.id) {
            self.store_version(&version, false, out);
        }
        match self.protocol.dissemination {
            Dissemination::Broadcast => {
                if self.everyone_replicates() {
                    // Tutorial: `for peer in peers: requests.post(f"{peer}/replicate", ...)`.
                    if self.protocol.nodes > 1 {
                        out.push(Output::Broadcast {
                            message: Message::Replicate(version),
                        });
                    }
                } else {
                    for &to in self.replicas_of(key).iter() {
                        if to != self.id {
                            out.push(Output::Send {
                                to,
                                message: Message::Replicate(version.clone()),
                            });
                        }
                    }
                }
            }
            Dissemination::Gossip => {
                self.first_hearing(&version);
                self.rumors.push(version.clone());
                self.gossip_once(&version, out);
                self.arm_gossip(out);
            }
        }
    }

    // ----- Messages -----

    /// A message from `from` arrives.
    pub fn handle_message(&mut self, env: &Env, from: NodeId, message: Message, out: &mut Outbox) {
        self.dispatch(from, message, out);
        if !self.stored_tombstones.is_empty() {
            self.collect_expired(env, out);
        }
    }

    fn dispatch(&mut self, from: NodeId, message: Message, out: &mut Outbox) {
        match message {
            Message::Replicate(version) => {
                self.store_version(&version, false, out);
            }
            Message::Rumor(version) => {
                // Rumor mongering: a node that hears something new spreads it too, once. (Under
                // arrival order two concurrent writes would otherwise replace each other at
                // every arrival, each time as news, and spread without end.)
                if self.store_version(&version, false, out) && self.first_hearing(&version) {
                    self.rumors.push(version);
                    self.arm_gossip(out);
                }
            }
            Message::Put {
                request,
                version,
                hint,
            } => {
                match hint {
                    Some(owner) => self.add_hint(owner, version, out),
                    None => {
                        self.store_version(&version, false, out);
                    }
                }
                out.push(Output::Send {
                    to: from,
                    message: Message::PutAck { request },
                });
            }
            Message::Get { request, key } => out.push(Output::Send {
                to: from,
                message: Message::GetReply {
                    request,
                    versions: self.held(key),
                },
            }),
            Message::Repair {
                request,
                blocking,
                versions,
            } => {
                for version in versions.iter() {
                    self.store_version(version, false, out);
                }
                if blocking {
                    out.push(Output::Send {
                        to: from,
                        message: Message::RepairAck { request },
                    });
                }
            }
            Message::PutAck { request } => self.on_put_ack(request, out),
            Message::GetReply { request, versions } => {
                self.on_get_reply(from, request, versions, out)
            }
            Message::RepairAck { request } => self.on_repair_ack(request, out),
            Message::Handoff(versions) => {
                for version in versions.iter() {
                    self.store_version(version, false, out);
                }
                let writes = versions.iter().map(|v| (v.key.id, v.dot())).collect();
                out.push(Output::Send {
                    to: from,
                    message: Message::HandoffAck(Rc::new(writes)),
                });
            }
            Message::HandoffAck(writes) => {
                // Dynamo §4.6: once the owner has the writes, the hints are deleted.
                self.hints.retain(|h| {
                    h.owner != from || !writes.contains(&(h.version.key.id, h.version.dot()))
                });
            }
            Message::SyncRequest(offered) => {
                let reply = self.reconcile(from, &offered, None, out);
                out.push(Output::Send {
                    to: from,
                    message: Message::SyncReply(Rc::new(reply)),
                });
            }
            Message::SyncReply(offered) => {
                self.reconcile(from, &offered, None, out);
            }
            Message::MerkleCompare { level, hashes } => {
                self.on_merkle_compare(from, level as usize, &hashes, out)
            }
            Message::MerkleSync {
                leaves,
                versions,
                reply,
            } => {
                let give = self.reconcile(from, &versions, Some(&leaves), out);
                if !reply {
                    out.push(Output::Send {
                        to: from,
                        message: Message::MerkleSync {
                            leaves,
                            versions: Rc::new(give),
                            reply: true,
                        },
                    });
                }
            }
        }
    }

    // ----- Timers -----

    /// A timer fires: at or after the time it was set for (a simulation fires it at that time
    /// exactly, a real node when its thread gets to it).
    pub fn handle_timer(&mut self, env: &Env, timer: Timer, out: &mut Outbox) {
        match timer {
            Timer::AntiEntropy(generation) => {
                if generation == self.anti_entropy_generation {
                    self.anti_entropy_round(out);
                }
            }
            Timer::RequestTimeouts => self.on_timeouts(env.now, out),
            Timer::HintDelivery => self.deliver_hints(env, out),
            Timer::GossipRound => self.gossip_round(out),
            Timer::TombstoneGc => self.collect_tombstones(env, out),
        }
    }

    // ----- The store -----

    /// The store's versions of `key`, growing the store to reach it.
    fn slot(&mut self, key: Key) -> &mut Held {
        of_key(&mut self.store, key.id)
    }

    // ----- Where keys live -----

    /// Whether every node replicates every key (N is the cluster's size).
    fn everyone_replicates(&self) -> bool {
        self.protocol.replicas >= self.protocol.nodes
    }

    /// The replicas of `key` (its preference list): the first N nodes clockwise from its hash.
    fn replicas_of(&self, key: Key) -> Rc<[NodeId]> {
        self.placement.replicas(key)
    }

    /// Whether `node` is one of the replicas of `key`.
    fn is_replica(&self, key: Key, node: NodeId) -> bool {
        self.everyone_replicates() || self.replicas_of(key).contains(&node)
    }

    /// Every node clockwise from `key`: its replicas, then the nodes that stand in for them.
    fn walk(&self, key: Key) -> Vec<NodeId> {
        self.placement.walk(key)
    }

    /// Merges `version` into the store by the conflict rule; returns whether it was kept.
    pub(crate) fn store_version(
        &mut self,
        version: &Rc<Version>,
        repair: bool,
        out: &mut Outbox,
    ) -> bool {
        let conflict = self.protocol.conflict;
        let slot = self.slot(version.key);
        let was_empty = slot.is_empty();
        let merge = conflict.merge(slot, version, repair);
        if was_empty && merge.stored {
            self.held += 1;
        }
        out.note(Note::Received {
            version: version.clone(),
            stored: merge.stored,
            replaced: merge.replaced,
        });
        if merge.stored && version.is_tombstone() {
            self.stored_tombstones.push(version.key.id);
            self.arm_gc(out);
        }
        merge.stored
    }

    /// Anti-entropy: takes from `offered` what repairs this store, and returns what this store
    /// has that `offered` lacks or holds older, among keys `from` replicates (and, for Merkle,
    /// within `leaves`). Both are in key order (a merge join).
    fn reconcile(
        &mut self,
        from: NodeId,
        offered: &[Rc<Version>],
        leaves: Option<&[u32]>,
        out: &mut Outbox,
    ) -> Vec<Rc<Version>> {
        let conflict = self.protocol.conflict;
        // Offers are in the sender's key order; a sender whose process numbers keys otherwise
        // (another machine) is put in this one's order first.
        let sorted: Vec<Rc<Version>>;
        let offered = if offered.is_sorted_by_key(|v| v.key.id) {
            offered
        } else {
            sorted = {
                let mut copy = offered.to_vec();
                copy.sort_by_key(|v| v.key.id);
                copy
            };
            &sorted
        };
        let mut give = Vec::new();
        let mut i = 0;
        let shared = self.shared_keys(from, leaves);
        let mut mine = shared.iter().peekable();
        while i < offered.len() || mine.peek().is_some() {
            let next_offered = offered.get(i).map(|v| v.key);
            let key = match (next_offered, mine.peek()) {
                (Some(a), Some(&&b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(&&b)) => b,
                (None, None) => break,
            };
            let end = offered[i..]
                .iter()
                .position(|v| v.key != key)
                .map_or(offered.len(), |p| i + p);
            let theirs = &offered[i..end];
            i = end;
            if mine.peek() == Some(&&key) {
                mine.next();
            }
            give.extend(conflict.newer_than(self.get(key.id), theirs));
            for version in theirs {
                self.store_version(version, true, out);
            }
        }
        give
    }

    /// The keys this node holds that `peer` also replicates, within `leaves` if given.
    fn shared_keys(&self, peer: NodeId, leaves: Option<&[u32]>) -> Vec<Key> {
        self.keys()
            .map(|(_, versions)| versions[0].key)
            .filter(|k| self.is_replica(*k, peer))
            .filter(|k| leaves.is_none_or(|ls| ls.contains(&merkle::leaf_of(k.hash))))
            .collect()
    }

    // ----- Anti-entropy -----

    /// The tutorial's "background thread to periodically reconcile state": each round, exchange
    /// with one peer chosen at random (Demers et al.'s anti-entropy), whole stores or Merkle trees.
    fn anti_entropy_round(&mut self, out: &mut Outbox) {
        let Some((kind, period)) = self.protocol.anti_entropy else {
            return;
        };
        if let Some(peer) = self.random_peer() {
            let message = match kind {
                AntiEntropyKind::Full => {
                    let offer = self
                        .shared_keys(peer, None)
                        .into_iter()
                        .flat_map(|k| self.get(k.id).to_vec())
                        .collect();
                    Message::SyncRequest(Rc::new(offer))
                }
                AntiEntropyKind::Merkle => Message::MerkleCompare {
                    level: 0,
                    hashes: Rc::new(self.tree_for(peer).top()),
                },
            };
            out.push(Output::Send { to: peer, message });
        }
        out.push(Output::Timer {
            after: period,
            timer: Timer::AntiEntropy(self.anti_entropy_generation),
        });
    }

    /// A peer other than this node, at random.
    fn random_peer(&mut self) -> Option<NodeId> {
        let nodes = self.protocol.nodes;
        if nodes < 2 {
            return None;
        }
        let pick = self.rng.below(u64::from(nodes) - 1) as u32 + 1;
        Some(NodeId(if pick >= self.id.0 { pick + 1 } else { pick }))
    }

    /// The Merkle tree over the keys this node holds that `peer` replicates too.
    fn tree_for(&self, peer: NodeId) -> Tree {
        Tree::build(
            self.shared_keys(peer, None)
                .into_iter()
                .map(|k| (k.hash, merkle::key_digest(k.hash, self.get(k.id)))),
        )
    }

    /// Merkle: compare the peer's hashes at `level` with this node's; descend under those that
    /// differ, and at the leaves send the keys of the differing ranges.
    fn on_merkle_compare(
        &mut self,
        from: NodeId,
        level: usize,
        hashes: &[(u32, u64)],
        out: &mut Outbox,
    ) {
        let tree = self.tree_for(from);
        let differing = tree.differing(level, hashes);
        if differing.is_empty() {
            return;
        }
        let message = if level + 1 < merkle::LEVELS {
            Message::MerkleCompare {
                level: level as u8 + 1,
                hashes: Rc::new(tree.children(level, &differing)),
            }
        } else {
            out.note(Note::RangesDiffer {
                peer: from,
                leaves: differing.clone(),
            });
            let versions = self
                .shared_keys(from, Some(&differing))
                .into_iter()
                .flat_map(|k| self.get(k.id).to_vec())
                .collect();
            Message::MerkleSync {
                leaves: Rc::new(differing),
                versions: Rc::new(versions),
                reply: false,
            }
        };
        out.push(Output::Send { to: from, message });
    }

    // ----- Hinted handoff -----

    fn add_hint(&mut self, owner: NodeId, version: Rc<Version>, out: &mut Outbox) {
        out.note(Note::Hinted {
            owner,
            version: version.clone(),
        });
        self.hints.push(Hint { owner, version });
        self.arm_hints(out);
    }

    fn arm_hints(&mut self, out: &mut Outbox) {
        if !self.armed.hints {
            self.armed.hints = true;
            out.push(Output::Timer {
                after: self.protocol.hint_interval,
                timer: Timer::HintDelivery,
            });
        }
    }

    /// Dynamo §4.6: a node holding hints checks whether their owners are back, and hands the
    /// writes over; it keeps trying until the owner acknowledges.
    fn deliver_hints(&mut self, env: &Env, out: &mut Outbox) {
        self.armed.hints = false;
        let mut owners: Vec<NodeId> = self.hints.iter().map(|h| h.owner).collect();
        owners.sort();
        owners.dedup();
        for owner in owners {
            if (env.up)(owner) {
                let versions = self
                    .hints
                    .iter()
                    .filter(|h| h.owner == owner)
                    .map(|h| h.version.clone())
                    .collect();
                out.push(Output::Send {
                    to: owner,
                    message: Message::Handoff(Rc::new(versions)),
                });
            }
        }
        if !self.hints.is_empty() {
            self.arm_hints(out);
        }
    }

    // ----- Gossip -----

    /// Notes that this node heard the rumor of `version`; returns whether it was the first time.
    fn first_hearing(&mut self, version: &Version) -> bool {
        of_key(&mut self.heard, version.key.id).add(version.dot())
    }

    fn arm_gossip(&mut self, out: &mut Outbox) {
        if !self.armed.gossip && !self.rumors.is_empty() {
            self.armed.gossip = true;
            out.push(Output::Timer {
                after: self.protocol.gossip_interval,
                timer: Timer::GossipRound,
            });
        }
    }

    /// Tells `fanout` random replicas of the rumor's key about it.
    fn gossip_once(&mut self, version: &Rc<Version>, out: &mut Outbox) {
        let mut peers: Vec<NodeId> = self
            .replicas_of(version.key)
            .iter()
            .copied()
            .filter(|p| *p != self.id)
            .collect();
        for _ in 0..self.protocol.gossip_fanout.min(peers.len() as u32) {
            let i = self.rng.below(peers.len() as u64) as usize;
            let to = peers.swap_remove(i);
            out.push(Output::Send {
                to,
                message: Message::Rumor(version.clone()),
            });
        }
    }

    /// A gossip round: every rumor this node still spreads goes to `fanout` random replicas;
    /// then it loses interest in each with probability 1/k (the "blind coin" variant).
    fn gossip_round(&mut self, out: &mut Outbox) {
        self.armed.gossip = false;
        for version in std::mem::take(&mut self.rumors) {
            self.gossip_once(&version, out);
            if self.rng.below(u64::from(self.protocol.gossip_interest)) != 0 {
                self.rumors.push(version);
            }
        }
        self.arm_gossip(out);
    }

    // ----- Tombstones -----

    fn arm_gc(&mut self, out: &mut Outbox) {
        if !self.armed.gc {
            self.armed.gc = true;
            out.push(Output::Timer {
                after: (self.protocol.tombstone_grace / 2).max(1),
                timer: Timer::TombstoneGc,
            });
        }
    }

    /// A tombstone that arrives already past its grace period (anti-entropy from a replica that
    /// has not collected it yet, a late hint) still deletes what it covers, and is collected at
    /// once, as compaction would purge it in Cassandra; kept, it would travel back to replicas
    /// that had collected it, and tombstones would bounce between replicas for as long as
    /// anti-entropy runs.
    fn collect_expired(&mut self, env: &Env, out: &mut Outbox) {
        let mut keys = std::mem::take(&mut self.stored_tombstones);
        for &key in &keys {
            self.collect_if_expired(key.index(), env.now, out);
        }
        keys.clear();
        self.stored_tombstones = keys;
    }

    /// Cassandra: a tombstone older than gc_grace_seconds is purged at compaction. A replica that
    /// missed the delete and still holds the value can then bring it back (resurrection).
    fn collect_tombstones(&mut self, env: &Env, out: &mut Outbox) {
        self.armed.gc = false;
        let mut remaining = false;
        for index in 0..self.store.len() {
            remaining |= self.collect_if_expired(index, env.now, out) == Some(false);
        }
        if remaining {
            self.arm_gc(out);
        }
    }

    /// Collects the tombstones held at `index` if the key holds only tombstones, all past their
    /// grace period. None if it holds something else (or nothing); otherwise whether it did.
    fn collect_if_expired(&mut self, index: usize, now: Time, out: &mut Outbox) -> Option<bool> {
        let grace = self.protocol.tombstone_grace as i64;
        let now = self.clock(now);
        let held = self.store.get_mut(index)?;
        let versions = held.as_slice();
        if versions.is_empty() || !versions.iter().all(|v| v.is_tombstone()) {
            return None;
        }
        if !versions
            .iter()
            .all(|v| v.created.saturating_add(grace) <= now)
        {
            return Some(false);
        }
        for version in held.take() {
            out.note(Note::Collected { version });
        }
        self.held -= 1;
        Some(true)
    }
}

/// The entry of `key` in a list kept by key id, growing the list to reach it.
fn of_key<T: Default>(list: &mut Vec<T>, key: KeyId) -> &mut T {
    if key.index() >= list.len() {
        list.resize_with(key.index() + 1, T::default);
    }
    &mut list[key.index()]
}

#[cfg(test)]
mod tests;
