//! The simulation: replicas, the network between them, and virtual time.

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::error::Error;
use crate::network::{LinkModel, LinkOverride, Network, Transit};
use crate::queue::EventQueue;
use crate::replica::{
    KeyId, Message, MessageKind, NodeId, Output, Replica, ReplicaConfig, Timer, Version, WriteId,
};
use crate::rng::Rng;
use crate::settings::{Settings, SettingsPatch};
use crate::trace::{DropReason, Trace, TraceEvent};
use crate::writes::{Live, NodeSet, Receipt, WriteLog, WriteView};
use crate::{MAX_KEY_CHARS, MAX_VALUE_CHARS, Time};

/// The random stream of replica `i` is this plus `i` (the network's are below it).
const STREAM_REPLICA: u64 = 1000;

/// What waits in the event queue. Messages in flight live in the queue itself: the page
/// draws them by walking it, and nothing else needs to find them.
#[derive(Clone, Debug)]
enum Event {
    /// A message reaches its destination, or (if `lost_at` is set) vanishes on the way.
    Flight(Flight),
    /// A replica's timer; ignored unless `epoch` is still the node's current one.
    Timer {
        node: NodeId,
        epoch: u32,
        timer: Timer,
    },
}

/// A message on its way.
#[derive(Clone, Debug)]
struct Flight {
    from: NodeId,
    to: NodeId,
    message: Message,
    sent_at: Time,
    /// Milliseconds from sending to arrival (kept small: the queue holds every flight).
    latency: u32,
    lost_at: Option<u16>,
    duplicate: bool,
}

/// The cluster's keys: each key's text and its id, in order of first write.
#[derive(Clone, Debug, Default)]
pub struct KeyTable {
    names: Vec<Rc<str>>,
    ids: BTreeMap<Rc<str>, KeyId>,
}

impl KeyTable {
    /// The id of `name`, if it was ever written.
    pub fn id(&self, name: &str) -> Option<KeyId> {
        self.ids.get(name).copied()
    }

    /// The id of `name`, numbering it if it is new.
    fn intern(&mut self, name: &str) -> KeyId {
        if let Some(id) = self.id(name) {
            return id;
        }
        let id = KeyId(self.names.len() as u32);
        let name: Rc<str> = name.into();
        self.names.push(name.clone());
        self.ids.insert(name, id);
        id
    }

    /// The text of key `id`.
    pub fn name(&self, id: KeyId) -> &Rc<str> {
        &self.names[id.index()]
    }

    /// Every key with its id, in alphabetical order.
    pub fn sorted(&self) -> impl Iterator<Item = (&Rc<str>, KeyId)> {
        self.ids.iter().map(|(name, id)| (name, *id))
    }
}

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
    /// Replication messages sent.
    pub sent_replicate: u64,
    /// Anti-entropy messages sent (requests and replies).
    pub sent_anti_entropy: u64,
    /// Versions carried by all messages sent.
    pub versions_sent: u64,
    /// Client writes.
    pub writes: u64,
    /// Client reads.
    pub reads: u64,
    /// Client reads that returned something older than the newest write of their key.
    pub stale_reads: u64,
    /// Writes that are lost: held by no replica and knowingly overwritten by no write.
    pub lost_writes: u64,
}

/// What a client write did.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteOutcome {
    /// The write's number.
    pub write: WriteId,
    /// The node that took it.
    pub node: NodeId,
    /// Virtual time of the write.
    pub time: Time,
    /// The timestamp it carries (the node's clock reading).
    pub stamp_ms: i64,
    /// Whether the node now holds it. Under last-writer-wins a node whose clock lags keeps
    /// a version with a later timestamp, and the write is lost at once.
    pub applied: bool,
    /// How many messages it sent.
    pub messages: u32,
}

/// What a client read returned.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOutcome {
    /// The node that answered.
    pub node: NodeId,
    /// The key read.
    pub key: String,
    /// The value, if the node holds the key.
    pub value: Option<String>,
    /// The write that made the value.
    pub write: Option<WriteId>,
    /// That write's timestamp.
    pub stamp_ms: Option<i64>,
    /// Whether a newer write of the key was made somewhere (the answer is older than it).
    pub stale: bool,
    /// The newest write of the key anywhere, if the key was ever written.
    pub latest: Option<WriteView>,
}

/// What one node holds for one key.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaCell {
    /// The node.
    pub node: NodeId,
    /// Whether the node is up.
    pub up: bool,
    /// The write it holds, if any.
    pub write: Option<WriteId>,
    /// Its value, possibly shortened (see `truncated`).
    pub value: Option<String>,
    /// Whether `value` was shortened for display.
    pub truncated: bool,
    /// Whether this is not the newest write of the key.
    pub stale: bool,
}

/// One key across the cluster.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyStatus {
    /// The key.
    pub key: String,
    /// Whether every live replica holds the same version.
    pub converged: bool,
    /// The newest write of the key.
    pub latest: WriteId,
    /// What each node holds, node 1 first.
    pub replicas: Vec<ReplicaCell>,
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
}

/// A simulated cluster of replicas and the network between them.
///
/// - **Ask**: [`now`](Self::now), [`settings`](Self::settings), [`read`](Self::read) (a client
///   read, which is recorded), [`converged`](Self::converged), [`keys`](Self::keys),
///   [`nodes`](Self::nodes), [`writes`](Self::writes), [`stats`](Self::stats),
///   [`in_flight`](Self::in_flight), [`trace`](Self::trace).
/// - **Command**: [`write`](Self::write); the network with [`cut`](Self::cut),
///   [`heal`](Self::heal), [`partition`](Self::partition), [`isolate`](Self::isolate),
///   [`heal_all`](Self::heal_all), [`set_link`](Self::set_link); nodes with
///   [`crash`](Self::crash) and [`recover`](Self::recover); settings with
///   [`configure`](Self::configure) and [`reset`](Self::reset).
/// - **Move time**: [`run_for`](Self::run_for), [`run_until`](Self::run_until),
///   [`step`](Self::step), [`run_until_quiet`](Self::run_until_quiet).
///
/// Every command takes effect at [`now`](Self::now), after every event due at that moment.
/// A command that returns an error has changed nothing.
pub struct Simulation {
    settings: Settings,
    now: Time,
    queue: EventQueue<Event>,
    replicas: Vec<Replica>,
    live: Live,
    /// Per node: timers set under another epoch are ignored (bumped by crash, recovery, settings).
    epochs: Vec<u32>,
    network: Network,
    in_flight: usize,
    keys: KeyTable,
    writes: WriteLog,
    stats: Stats,
    trace: Trace,
    drops: Vec<DropView>,
    /// Bumped whenever anything a view shows may have changed.
    changes: u64,
    out: Vec<Output>,
}

impl Simulation {
    /// A fresh run: every node up with an empty store, every link healed, time zero.
    pub fn new(settings: Settings) -> Result<Simulation, Error> {
        settings.validate()?;
        let n = settings.nodes as usize;
        let seed = settings.seed;
        let replicas = (0..n)
            .map(|i| {
                let id = NodeId::from_index(i);
                let rng = Rng::new(seed, STREAM_REPLICA + i as u64);
                Replica::new(id, replica_config(&settings, i), rng)
            })
            .collect();
        let mut live = Live {
            nodes: NodeSet::new(n),
            count: n,
        };
        (0..n).for_each(|i| {
            live.nodes.insert(NodeId::from_index(i));
        });
        let network = Network::new(n, settings.link_model(), seed);
        let mut sim = Simulation {
            now: 0,
            queue: EventQueue::new(),
            replicas,
            live,
            epochs: vec![0; n],
            network,
            in_flight: 0,
            keys: KeyTable::default(),
            writes: WriteLog::new(n),
            stats: Stats::default(),
            trace: Trace::default(),
            drops: Vec::new(),
            changes: 0,
            out: Vec::new(),
            settings,
        };
        for i in 0..n {
            sim.start_timers(NodeId::from_index(i));
        }
        Ok(sim)
    }

    // ----- Ask -----

    /// Virtual time now, in milliseconds.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The current settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// How many nodes the cluster has.
    pub fn node_count(&self) -> u32 {
        self.settings.nodes
    }

    /// Whether `node` is up.
    pub fn is_up(&self, node: NodeId) -> Result<bool, Error> {
        self.check_node(node)?;
        Ok(self.live.nodes.contains(node))
    }

    /// The replica `node` (its store, its clock).
    pub fn replica(&self, node: NodeId) -> Result<&Replica, Error> {
        self.check_node(node)?;
        Ok(&self.replicas[node.index()])
    }

    /// Every node.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.replicas
            .iter()
            .map(|r| NodeView {
                id: r.id(),
                up: self.live.nodes.contains(r.id()),
                isolated: self.is_isolated(r.id()),
                clock_skew_ms: r.config().clock_skew,
                keys: r.len(),
            })
            .collect()
    }

    /// Whether every link to and from `node` is cut (a one-node cluster is never isolated).
    fn is_isolated(&self, node: NodeId) -> bool {
        self.settings.nodes > 1
            && self
                .peers(node)
                .all(|peer| self.network.is_cut(node, peer) && self.network.is_cut(peer, node))
    }

    /// Whether the directed link from → to is cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> Result<bool, Error> {
        self.check_link(from, to)?;
        Ok(self.network.is_cut(from, to))
    }

    /// Every cut directed link, in order.
    pub fn cut_links(&self) -> Vec<(NodeId, NodeId)> {
        let ids = || (0..self.settings.nodes as usize).map(NodeId::from_index);
        ids()
            .flat_map(|from| ids().map(move |to| (from, to)))
            .filter(|(from, to)| from != to && self.network.is_cut(*from, *to))
            .collect()
    }

    /// The model of the link from → to.
    pub fn link(&self, from: NodeId, to: NodeId) -> Result<LinkModel, Error> {
        self.check_link(from, to)?;
        Ok(self.network.link_model(from, to))
    }

    /// The cluster's keys.
    pub fn key_table(&self) -> &KeyTable {
        &self.keys
    }

    /// The version `node` holds for `key`, if any.
    pub fn version_at(&self, node: NodeId, key: &str) -> Result<Option<&Rc<Version>>, Error> {
        self.check_node(node)?;
        let replica = &self.replicas[node.index()];
        Ok(self.keys.id(key).and_then(|id| replica.get(id)))
    }

    /// Whether, for every key, every live replica holds the same version.
    pub fn converged(&self) -> bool {
        self.keys.sorted().all(|(_, key)| self.key_converged(key))
    }

    /// The keys whose live replicas hold different versions, in order.
    pub fn divergent_keys(&self) -> Vec<String> {
        self.keys
            .sorted()
            .filter(|(_, key)| !self.key_converged(*key))
            .map(|(name, _)| name.to_string())
            .collect()
    }

    fn key_converged(&self, key: KeyId) -> bool {
        let mut held = self
            .replicas
            .iter()
            .filter(|r| self.live.nodes.contains(r.id()))
            .map(|r| r.get(key).map(|v| v.write));
        match held.next() {
            None => true,
            Some(first) => held.all(|w| w == first),
        }
    }

    /// Every key ever written with what each node holds; values longer than `preview_chars`
    /// characters are shortened (for display).
    pub fn keys(&self, preview_chars: Option<usize>) -> Vec<KeyStatus> {
        self.keys
            .sorted()
            .map(|(name, key)| {
                let latest = self.writes.latest(key).map(|w| w.version.write);
                let latest = latest.expect("every written key has a latest write");
                let replicas = self
                    .replicas
                    .iter()
                    .map(|r| {
                        let held = r.get(key);
                        let (value, truncated) = match held {
                            Some(v) => {
                                let (text, cut) = preview(&v.value, preview_chars);
                                (Some(text), cut)
                            }
                            None => (None, false),
                        };
                        ReplicaCell {
                            node: r.id(),
                            up: self.live.nodes.contains(r.id()),
                            write: held.map(|v| v.write),
                            value,
                            truncated,
                            stale: held.map(|v| v.write) != Some(latest),
                        }
                    })
                    .collect();
                KeyStatus {
                    key: name.to_string(),
                    converged: self.key_converged(key),
                    latest,
                    replicas,
                }
            })
            .collect()
    }

    /// Every client write so far, oldest first, with how far it has spread.
    pub fn writes(&self) -> Vec<WriteView> {
        self.recent_writes(usize::MAX)
    }

    /// The last `count` client writes, oldest first.
    pub fn recent_writes(&self, count: usize) -> Vec<WriteView> {
        let lost = self.writes.lost(&self.replicas);
        let all = self.writes.all();
        all[all.len().saturating_sub(count)..]
            .iter()
            .map(|r| {
                let id = r.version.write;
                self.write_view(id, lost.binary_search(&id).is_ok())
            })
            .collect()
    }

    /// The writes that are lost: held by no replica and knowingly overwritten by no write.
    pub fn lost_writes(&self) -> Vec<WriteId> {
        self.writes.lost(&self.replicas)
    }

    fn write_view(&self, id: WriteId, lost: bool) -> WriteView {
        let r = self.writes.get(id).expect("write ids come from the log");
        WriteView {
            id,
            node: r.origin(),
            key: self.keys.name(r.version.key).to_string(),
            value: r.version.value.to_string(),
            stamp_ms: r.version.stamp.millis,
            issued_at: r.issued_at,
            reached: r.reached as usize,
            all_live_after_ms: r.all_live_at.map(|t| t - r.issued_at),
            all_after_ms: r.all_at.map(|t| t - r.issued_at),
            lost,
        }
    }

    /// Running totals.
    pub fn stats(&self) -> Stats {
        Stats {
            now: self.now,
            in_flight: self.in_flight as u64,
            lost_writes: self.writes.lost(&self.replicas).len() as u64,
            ..self.stats
        }
    }

    /// How many message copies are on their way.
    pub fn in_flight_count(&self) -> usize {
        self.in_flight
    }

    /// Messages on their way, in a stable order.
    pub fn in_flight(&self) -> impl Iterator<Item = FlightView> + '_ {
        let flights = self.queue.iter().filter_map(|(_, event)| match event {
            Event::Flight(flight) => Some(flight),
            Event::Timer { .. } => None,
        });
        flights.map(|f| FlightView {
            from: f.from,
            to: f.to,
            kind: f.message.kind(),
            sent_at: f.sent_at,
            arrive_at: f.sent_at + Time::from(f.latency),
            lost_at: f.lost_at,
            duplicate: f.duplicate,
        })
    }

    /// Messages dropped since the last call, oldest first.
    pub fn drain_drops(&mut self) -> Vec<DropView> {
        std::mem::take(&mut self.drops)
    }

    /// A counter that moves whenever a store, a node, a link or a setting may have changed.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// The events of the run.
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// Turns event recording on or off (off makes long benchmarks cheaper).
    pub fn set_recording(&mut self, on: bool) {
        self.trace.set_enabled(on);
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Time> {
        self.queue.peek_time()
    }

    // ----- Command: clients -----

    /// A client writes `key = value` at `node`: applied there at once, then replicated.
    pub fn write(&mut self, node: NodeId, key: &str, value: &str) -> Result<WriteOutcome, Error> {
        self.check_up(node, "write to")?;
        check_key(key)?;
        let chars = value.chars().count();
        if chars > MAX_VALUE_CHARS {
            return Err(Error::ValueTooLong { chars });
        }
        let id = self.writes.next_id();
        let key_id = self.keys.intern(key);
        let replica = &mut self.replicas[node.index()];
        let overwrote = replica.get(key_id).map(|v| v.write);
        let mut out = std::mem::take(&mut self.out);
        let version = replica.client_write(self.now, id, key_id, value.into(), &mut out);
        let applied = replica.get(key_id).is_some_and(|v| v.write == id);
        let conflict = self.settings.conflict;
        self.writes.record(
            self.now,
            version.clone(),
            overwrote,
            &self.replicas,
            conflict,
            &self.live,
        );
        self.stats.writes += 1;
        let time = self.now;
        self.trace.record(|| TraceEvent::Write {
            time,
            node,
            write: id,
            key: key.to_string(),
        });
        let messages = out
            .iter()
            .map(|o| match o {
                Output::Send { .. } => 1,
                Output::Broadcast { .. } => self.settings.nodes - 1,
                _ => 0,
            })
            .sum();
        self.apply(node, &mut out);
        self.out = out;
        self.changes += 1;
        Ok(WriteOutcome {
            write: id,
            node,
            time,
            stamp_ms: version.stamp.millis,
            applied,
            messages,
        })
    }

    /// A client reads `key` at `node`, which answers from its own store alone.
    pub fn read(&mut self, node: NodeId, key: &str) -> Result<ReadOutcome, Error> {
        self.check_up(node, "read from")?;
        check_key(key)?;
        let key_id = self.keys.id(key);
        let held = key_id.and_then(|k| self.replicas[node.index()].get(k).cloned());
        let latest = key_id
            .and_then(|k| self.writes.latest(k))
            .map(|w| w.version.write);
        let stale = latest.is_some() && held.as_ref().map(|v| v.write) != latest;
        self.stats.reads += 1;
        self.stats.stale_reads += u64::from(stale);
        let time = self.now;
        self.trace.record(|| TraceEvent::Read {
            time,
            node,
            key: key.to_string(),
            write: held.as_ref().map(|v| v.write),
            stale,
        });
        let lost = latest.is_some_and(|id| self.writes.is_lost(id, &self.replicas));
        Ok(ReadOutcome {
            node,
            key: key.to_string(),
            value: held.as_ref().map(|v| v.value.to_string()),
            write: held.as_ref().map(|v| v.write),
            stamp_ms: held.as_ref().map(|v| v.stamp.millis),
            stale,
            latest: latest.map(|id| self.write_view(id, lost)),
        })
    }

    // ----- Command: network -----

    /// Cuts the links between `a` and `b`, both ways.
    pub fn cut(&mut self, a: NodeId, b: NodeId) -> Result<(), Error> {
        self.set_link_cut(a, b, true, true)
    }

    /// Cuts the link from → to only: messages still flow to → from.
    pub fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> Result<(), Error> {
        self.set_link_cut(from, to, true, false)
    }

    /// Heals the links between `a` and `b`, both ways.
    pub fn heal(&mut self, a: NodeId, b: NodeId) -> Result<(), Error> {
        self.set_link_cut(a, b, false, true)
    }

    /// Heals the link from → to only.
    pub fn heal_one_way(&mut self, from: NodeId, to: NodeId) -> Result<(), Error> {
        self.set_link_cut(from, to, false, false)
    }

    fn set_link_cut(&mut self, a: NodeId, b: NodeId, cut: bool, both: bool) -> Result<(), Error> {
        self.check_link(a, b)?;
        self.set_cut(a, b, cut);
        if both {
            self.set_cut(b, a, cut);
        }
        Ok(())
    }

    fn set_cut(&mut self, from: NodeId, to: NodeId, cut: bool) {
        if self.network.is_cut(from, to) != cut {
            self.network.set_cut(from, to, cut);
            let time = self.now;
            self.trace.record(|| TraceEvent::Link {
                time,
                from,
                to,
                cut,
            });
            self.changes += 1;
        }
    }

    /// Splits the cluster into `groups`: links within a group work, links between groups are
    /// cut both ways. Every node must be in exactly one group. Replaces any earlier cuts.
    pub fn partition(&mut self, groups: &[Vec<NodeId>]) -> Result<(), Error> {
        let n = self.settings.nodes as usize;
        let mut group_of = vec![usize::MAX; n];
        for (g, group) in groups.iter().enumerate() {
            for node in group {
                self.check_node(*node)?;
                if group_of[node.index()] != usize::MAX {
                    return Err(Error::InvalidCommand(format!(
                        "node {} is in more than one group: each node belongs to exactly one",
                        node.0
                    )));
                }
                group_of[node.index()] = g;
            }
        }
        if let Some(missing) = group_of.iter().position(|g| *g == usize::MAX) {
            return Err(Error::InvalidCommand(format!(
                "node {} is in no group: list every node once, e.g. [[1, 2], [3]]",
                missing + 1
            )));
        }
        for from in 0..n {
            for to in 0..n {
                if from != to {
                    let cut = group_of[from] != group_of[to];
                    self.set_cut(NodeId::from_index(from), NodeId::from_index(to), cut);
                }
            }
        }
        Ok(())
    }

    /// Cuts every link to and from `node`.
    pub fn isolate(&mut self, node: NodeId) -> Result<(), Error> {
        self.set_node_links(node, true)
    }

    /// Heals every link to and from `node`.
    pub fn reconnect(&mut self, node: NodeId) -> Result<(), Error> {
        self.set_node_links(node, false)
    }

    fn set_node_links(&mut self, node: NodeId, cut: bool) -> Result<(), Error> {
        self.check_node(node)?;
        for peer in self.peers(node).collect::<Vec<_>>() {
            self.set_cut(node, peer, cut);
            self.set_cut(peer, node, cut);
        }
        Ok(())
    }

    /// Heals every link.
    pub fn heal_all(&mut self) {
        for (from, to) in self.cut_links() {
            self.set_cut(from, to, false);
        }
    }

    /// Gives the link from → to differences of its own (say, a higher loss), or (None)
    /// returns it to the common settings. Unset fields follow the common settings.
    pub fn set_link(
        &mut self,
        from: NodeId,
        to: NodeId,
        own: Option<LinkOverride>,
    ) -> Result<(), Error> {
        self.check_link(from, to)?;
        if let Some(own) = &own {
            own.apply(self.network.model()).validate()?;
        }
        self.network.set_link_override(from, to, own);
        self.changes += 1;
        Ok(())
    }

    // ----- Command: nodes -----

    /// Crashes `node`: it drops whatever reaches it and runs no timers until it recovers.
    pub fn crash(&mut self, node: NodeId) -> Result<(), Error> {
        self.check_node(node)?;
        if !self.live.nodes.contains(node) {
            return Err(Error::InvalidCommand(format!(
                "node {} is already down",
                node.0
            )));
        }
        self.live.nodes.remove(node);
        self.live.count -= 1;
        self.epochs[node.index()] += 1;
        self.writes.on_live_changed(self.now, &self.live);
        let time = self.now;
        self.trace.record(|| TraceEvent::Crash { time, node });
        self.changes += 1;
        Ok(())
    }

    /// Brings `node` back up, with its store as it was, or empty if `wipe`
    /// (the tutorial's nodes keep data in memory only).
    pub fn recover(&mut self, node: NodeId, wipe: bool) -> Result<(), Error> {
        self.check_node(node)?;
        if self.live.nodes.contains(node) {
            return Err(Error::InvalidCommand(format!(
                "node {} is not down",
                node.0
            )));
        }
        self.live.nodes.insert(node);
        self.live.count += 1;
        if wipe {
            self.replicas[node.index()].wipe();
        }
        let time = self.now;
        self.trace
            .record(|| TraceEvent::Recover { time, node, wipe });
        self.start_timers(node);
        self.changes += 1;
        Ok(())
    }

    // ----- Command: settings -----

    /// Changes some settings. A new node count or seed starts a new run (as [`reset`](Self::reset));
    /// anything else takes effect now, in the running cluster. Returns whether a new run began.
    pub fn configure(&mut self, patch: &SettingsPatch) -> Result<bool, Error> {
        let next = self.settings.patched(patch)?;
        if patch.needs_restart(&self.settings) {
            self.restart(next)?;
            return Ok(true);
        }
        let timers_changed = next.anti_entropy != self.settings.anti_entropy
            || (next.anti_entropy
                && next.anti_entropy_interval_ms != self.settings.anti_entropy_interval_ms);
        self.network.set_model(next.link_model());
        for (i, replica) in self.replicas.iter_mut().enumerate() {
            replica.set_config(replica_config(&next, i));
        }
        let conflict_changed = next.conflict != self.settings.conflict;
        self.settings = next;
        if conflict_changed {
            let conflict = self.settings.conflict;
            self.writes
                .on_conflict_changed(self.now, &self.replicas, conflict, &self.live);
        }
        if timers_changed {
            for i in 0..self.replicas.len() {
                let node = NodeId::from_index(i);
                self.epochs[i] += 1;
                if self.live.nodes.contains(node) {
                    self.start_timers(node);
                }
            }
        }
        let time = self.now;
        self.trace.record(|| TraceEvent::Configure { time });
        self.changes += 1;
        Ok(false)
    }

    /// Starts afresh with the current settings changed by `patch` (say, another seed).
    pub fn reset(&mut self, patch: &SettingsPatch) -> Result<(), Error> {
        let next = self.settings.patched(patch)?;
        self.restart(next)
    }

    fn restart(&mut self, settings: Settings) -> Result<(), Error> {
        let recording = self.trace.enabled();
        let changes = self.changes;
        *self = Simulation::new(settings)?;
        self.trace.set_enabled(recording);
        self.changes = changes + 1;
        Ok(())
    }

    // ----- Move time -----

    /// Handles every event due up to `time` and moves the clock there (never backwards).
    /// Returns how many events were handled.
    pub fn run_until(&mut self, time: Time) -> u64 {
        let mut handled = 0;
        while let Some((at, event)) = self.queue.pop_until(time) {
            self.now = at;
            self.handle(event);
            handled += 1;
        }
        self.now = self.now.max(time);
        handled
    }

    /// Runs for `ms` milliseconds of virtual time. Returns how many events were handled.
    pub fn run_for(&mut self, ms: Time) -> u64 {
        self.run_until(self.now.saturating_add(ms))
    }

    /// Handles the next event, moving the clock to it. Returns its time, or None if nothing waits.
    pub fn step(&mut self) -> Option<Time> {
        let (at, event) = self.queue.pop()?;
        self.now = at;
        self.handle(event);
        Some(at)
    }

    /// Runs until no message is in flight, or until `limit` milliseconds have passed.
    /// Returns whether the network went quiet. Timers keep running meanwhile.
    pub fn run_until_quiet(&mut self, limit: Time) -> bool {
        let end = self.now.saturating_add(limit);
        while self.in_flight > 0 {
            match self.queue.pop_until(end) {
                Some((at, event)) => {
                    self.now = at;
                    self.handle(event);
                }
                None => break,
            }
        }
        if self.in_flight > 0 {
            self.now = end;
        }
        self.in_flight == 0
    }

    // ----- Inside -----

    fn handle(&mut self, event: Event) {
        self.stats.events += 1;
        match event {
            Event::Flight(flight) => {
                self.in_flight -= 1;
                if flight.lost_at.is_some() {
                    self.dropped(flight, DropReason::Lost);
                } else if self.network.is_cut(flight.from, flight.to) {
                    self.dropped(flight, DropReason::LinkCut);
                } else if !self.live.nodes.contains(flight.to) {
                    self.dropped(flight, DropReason::NodeDown);
                } else {
                    self.deliver(flight);
                }
            }
            Event::Timer { node, epoch, timer } => {
                if epoch != self.epochs[node.index()] || !self.live.nodes.contains(node) {
                    return;
                }
                let time = self.now;
                self.trace.record(|| TraceEvent::Timer { time, node });
                let mut out = std::mem::take(&mut self.out);
                self.replicas[node.index()].handle_timer(timer, &mut out);
                self.apply(node, &mut out);
                self.out = out;
            }
        }
    }

    fn deliver(&mut self, flight: Flight) {
        self.stats.delivered += 1;
        let (time, from, to) = (self.now, flight.from, flight.to);
        let message = flight.message.kind();
        self.trace.record(|| TraceEvent::Deliver {
            time,
            from,
            to,
            message,
        });
        let mut out = std::mem::take(&mut self.out);
        self.replicas[to.index()].handle_message(from, flight.message, &mut out);
        self.apply(to, &mut out);
        self.out = out;
    }

    fn dropped(&mut self, flight: Flight, reason: DropReason) {
        self.stats.dropped += 1;
        match reason {
            DropReason::Lost => self.stats.dropped_lost += 1,
            DropReason::LinkCut => self.stats.dropped_cut += 1,
            DropReason::NodeDown => self.stats.dropped_down += 1,
        }
        let (time, from, to, message) = (self.now, flight.from, flight.to, flight.message.kind());
        self.trace.record(|| TraceEvent::Drop {
            time,
            from,
            to,
            message,
            reason,
        });
        let at = flight.lost_at.map_or(1.0, |t| f32::from(t) / 1000.0);
        self.drops.push(DropView {
            from,
            to,
            kind: message,
            reason,
            at,
        });
        // Keep only what a page could still be showing if nobody drains.
        if self.drops.len() > 10_000 {
            self.drops.drain(..5_000);
        }
    }

    /// Carries out what `node` asked for.
    fn apply(&mut self, node: NodeId, out: &mut Vec<Output>) {
        for output in out.drain(..) {
            match output {
                Output::Send { to, message } => self.send(node, to, message),
                Output::Broadcast { message } => {
                    for i in 0..self.replicas.len() {
                        let peer = NodeId::from_index(i);
                        if peer != node {
                            self.send(node, peer, message.clone());
                        }
                    }
                }
                Output::Timer { after, timer } => {
                    let epoch = self.epochs[node.index()];
                    self.queue
                        .push(self.now + after, Event::Timer { node, epoch, timer });
                }
                Output::Received {
                    version,
                    stored,
                    replaced,
                } => {
                    self.changes += u64::from(stored);
                    let conflict = self.settings.conflict;
                    let receipt = Receipt {
                        node,
                        version: &version,
                        stored,
                        replaced,
                    };
                    self.writes
                        .on_received(self.now, receipt, conflict, &self.live);
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        let fate = self.network.transmit(from, to);
        self.stats.sent += 1;
        match message.kind() {
            MessageKind::Replicate => self.stats.sent_replicate += 1,
            MessageKind::SyncRequest | MessageKind::SyncReply => self.stats.sent_anti_entropy += 1,
        }
        let versions = message.versions() as u32;
        self.stats.versions_sent += u64::from(versions);
        let time = self.now;
        let kind = message.kind();
        let duplicated = fate.duplicate.is_some();
        self.trace.record(|| TraceEvent::Send {
            time,
            from,
            to,
            message: kind,
            versions,
            duplicated,
        });
        if let Some(copy) = fate.duplicate {
            self.stats.duplicated += 1;
            self.launch(from, to, message.clone(), copy, true);
        }
        self.launch(from, to, message, fate.first, false);
    }

    fn launch(
        &mut self,
        from: NodeId,
        to: NodeId,
        message: Message,
        transit: Transit,
        duplicate: bool,
    ) {
        // Every model's delay fits in 32 bits (at most 10 minutes plus an exponential tail).
        let latency = u32::try_from(transit.latency).unwrap_or(u32::MAX);
        let end = match transit.lost_at {
            Some(at) => self.now + u64::from(latency) * u64::from(at) / 1000,
            None => self.now + u64::from(latency),
        };
        self.in_flight += 1;
        let flight = Flight {
            from,
            to,
            message,
            sent_at: self.now,
            latency,
            lost_at: transit.lost_at,
            duplicate,
        };
        self.queue.push(end, Event::Flight(flight));
    }

    fn start_timers(&mut self, node: NodeId) {
        let mut out = std::mem::take(&mut self.out);
        self.replicas[node.index()].start(&mut out);
        self.apply(node, &mut out);
        self.out = out;
    }

    fn peers(&self, node: NodeId) -> impl Iterator<Item = NodeId> {
        (1..=self.settings.nodes)
            .map(NodeId)
            .filter(move |peer| *peer != node)
    }

    fn check_node(&self, node: NodeId) -> Result<(), Error> {
        if (1..=self.settings.nodes).contains(&node.0) {
            Ok(())
        } else {
            Err(Error::UnknownNode {
                id: i64::from(node.0),
                nodes: self.settings.nodes,
            })
        }
    }

    fn check_up(&self, node: NodeId, doing: &str) -> Result<(), Error> {
        self.check_node(node)?;
        if self.live.nodes.contains(node) {
            Ok(())
        } else {
            Err(Error::InvalidCommand(format!(
                "node {} is down: cannot {doing} a crashed node (recover it first)",
                node.0
            )))
        }
    }

    fn check_link(&self, a: NodeId, b: NodeId) -> Result<(), Error> {
        self.check_node(a)?;
        self.check_node(b)?;
        if a == b {
            return Err(Error::InvalidCommand(format!(
                "node {} has no link to itself: name two different nodes",
                a.0
            )));
        }
        Ok(())
    }
}

fn replica_config(settings: &Settings, index: usize) -> ReplicaConfig {
    ReplicaConfig {
        nodes: settings.nodes,
        conflict: settings.conflict,
        anti_entropy: settings
            .anti_entropy
            .then_some(Time::from(settings.anti_entropy_interval_ms)),
        clock_skew: settings.clock_skew_ms[index],
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() {
        return Err(Error::EmptyKey);
    }
    let chars = key.chars().count();
    if chars > MAX_KEY_CHARS {
        return Err(Error::KeyTooLong { chars });
    }
    Ok(())
}

/// `text` cut to `limit` characters with an ellipsis, and whether it was cut.
fn preview(text: &Rc<str>, limit: Option<usize>) -> (String, bool) {
    match limit {
        Some(limit) if text.chars().count() > limit => {
            let mut short: String = text.chars().take(limit.saturating_sub(1)).collect();
            short.push('…');
            (short, true)
        }
        _ => (text.to_string(), false),
    }
}

impl fmt::Display for Simulation {
    /// The cluster at a glance: time, each node's store, cut links and traffic.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "t={}ms  {} in flight  converged={}",
            self.now,
            self.in_flight,
            self.converged()
        )?;
        for replica in &self.replicas {
            let state = if self.live.nodes.contains(replica.id()) {
                "up"
            } else {
                "DOWN"
            };
            write!(f, "  {} {state:<4} {{", replica.id())?;
            let mut held: Vec<_> = replica
                .versions()
                .map(|v| (self.keys.name(v.key), v))
                .collect();
            held.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, v)) in held.into_iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{key}={} ({} {})", v.value, v.write, v.stamp)?;
            }
            writeln!(f, "}}")?;
        }
        let cuts = self.cut_links();
        if !cuts.is_empty() {
            let list: Vec<String> = cuts.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            writeln!(f, "  cut: {}", list.join(" "))?;
        }
        Ok(())
    }
}
