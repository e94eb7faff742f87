//! The simulation: replicas, the network between them, and virtual time.

mod clients;
mod observer;
mod views;

use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

pub use crate::metrics::{
    CONVERGENCE_BUCKETS_MS, ConvergenceTimes, FIRST_INTERVAL, MAX_SAMPLES, Metrics, Sample,
};
pub use clients::{ClientOptions, MAX_SESSION_CHARS, REQUESTS_KEPT, Session};
pub use views::*;

use crate::chunked::Chunked;
use crate::error::Error;
use crate::ids::{KeyId, NodeId, RequestId};
use crate::ids::{MAX_KEY_CHARS, Time};
use crate::network::{LinkModel, LinkOverride, Network, Transit};
use crate::queue::EventQueue;
use crate::replica::{Env, KeyTable, Message, Outbox, Output, Placement, Protocol, Replica, Timer};
use crate::ring::key_hash;
use crate::settings::{Settings, SettingsPatch};
use crate::trace::{DropReason, Trace, TraceEvent};
use crate::version::Version;
use crate::writes::{Live, NodeSet};
use observer::{Dropped, Observer};

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
///
/// Every message in flight waits in the event queue, thousands at a time, each written when
/// sent and read when due: its size is the queue's memory traffic, and whether the queue stays
/// in the processor's cache beside everything else. So it is packed into 40 bytes: node ids
/// in 16 bits (at most [`crate::settings::MAX_NODES`]), where a lost one vanishes as a number
/// that is never 0, and no time of sending: the queue knows when the flight ends, and it was
/// sent [`Flight::travel`] before.
#[derive(Clone, Debug)]
struct Flight {
    message: Message,
    /// Milliseconds from sending to arrival.
    latency: u32,
    /// The message's number in the run (a duplicate shares its original's).
    id: u32,
    from: u16,
    to: u16,
    /// Where a lost message vanishes, in thousandths of the way (200 to 800); 0 if it arrives.
    lost_at: u16,
    duplicate: bool,
}

// A flight keeps node ids in 16 bits.
const _: () = assert!(crate::settings::MAX_NODES <= u16::MAX as u32);

impl Flight {
    fn from(&self) -> NodeId {
        NodeId(u32::from(self.from))
    }

    fn to(&self) -> NodeId {
        NodeId(u32::from(self.to))
    }

    fn lost_at(&self) -> Option<u16> {
        (self.lost_at != 0).then_some(self.lost_at)
    }

    /// Milliseconds from sending to the end of the flight: arrival, or where it is lost.
    fn travel(&self) -> Time {
        travel(self.latency, self.lost_at())
    }
}

/// How long a flight of `latency` lasts if it arrives, or (lost at `lost_at` thousandths of the
/// way) until it vanishes.
fn travel(latency: u32, lost_at: Option<u16>) -> Time {
    match lost_at {
        Some(at) => u64::from(latency) * u64::from(at) / 1000,
        None => u64::from(latency),
    }
}

/// A simulated cluster of replicas and the network between them.
///
/// - **Ask**: [`now`](Self::now), [`settings`](Self::settings), [`converged`](Self::converged),
///   [`keys`](Self::keys), [`nodes`](Self::nodes), [`writes`](Self::writes),
///   [`request`](Self::request), [`stats`](Self::stats), [`ring`](Self::ring),
///   [`in_flight`](Self::in_flight), [`trace`](Self::trace).
/// - **Command**: clients with [`write`](Self::write), [`read`](Self::read),
///   [`delete`](Self::delete), [`resolve`](Self::resolve) (each with options in its `_with`
///   form); the network with [`cut`](Self::cut), [`heal`](Self::heal),
///   [`partition`](Self::partition), [`isolate`](Self::isolate), [`heal_all`](Self::heal_all),
///   [`set_link`](Self::set_link); nodes with [`crash`](Self::crash) and
///   [`recover`](Self::recover); settings with [`configure`](Self::configure) and
///   [`reset`](Self::reset).
/// - **Move time**: [`run_for`](Self::run_for), [`run_until`](Self::run_until),
///   [`step`](Self::step), [`run_until_quiet`](Self::run_until_quiet).
///
/// Every command takes effect at [`now`](Self::now), after every event due at that moment.
/// A command that returns an error has changed nothing.
#[derive(Clone)]
pub struct Simulation {
    settings: Settings,
    protocol: Rc<Protocol>,
    placement: Rc<Placement>,
    now: Time,
    queue: EventQueue<Event>,
    replicas: Vec<Replica>,
    live: Live,
    /// Per node: timers set before its last crash are ignored.
    epochs: Vec<u32>,
    network: Network,
    in_flight: usize,
    keys: KeyTable,
    /// What is watched of the run.
    observer: Observer,
    /// Every client request, in shared chunks (a snapshot copies pointers: see [`Chunked`]).
    requests: Chunked<clients::RequestRecord>,
    sessions: BTreeMap<String, Session>,
    /// Whether a node ever came back with an empty store (stale reads are then looked for
    /// among every write, not only those still spreading).
    wiped: bool,
    /// For each read in progress, the writes it could be stale for missing (noted when it
    /// began; only reads with some).
    stale_candidates: clients::ByRead,
    /// Acknowledgements and reads in the same millisecond, in the order they happened.
    ack_order: clients::AckOrder,
    /// A list reused by every read's staleness check (no allocation per read).
    scratch_writes: Vec<crate::WriteId>,
    out: Outbox,
}

/// Node `node`'s failure detector, a perfect one: a peer is believed up when it is up and the
/// links both ways are healthy.
fn perfect_detector<'a>(
    network: &'a Network,
    live: &'a Live,
    node: NodeId,
) -> impl Fn(NodeId) -> bool + 'a {
    move |to| live.nodes.contains(to) && !network.is_cut(node, to) && !network.is_cut(to, node)
}

impl Simulation {
    /// A fresh run: every node up with an empty store, every link healed, time zero.
    /// Nodes without a clock skew in the settings get none.
    pub fn new(mut settings: Settings) -> Result<Simulation, Error> {
        if settings.clock_skew_ms.len() < settings.nodes as usize {
            let nodes = settings.nodes.min(crate::settings::MAX_NODES) as usize;
            settings.clock_skew_ms.resize(nodes, 0);
        }
        settings.validate()?;
        let n = settings.nodes as usize;
        let seed = settings.seed;
        let protocol = Rc::new(settings.protocol());
        let placement = Rc::new(settings.placement());
        let replicas = (0..n)
            .map(|i| {
                let id = NodeId::from_index(i);
                Replica::new(
                    id,
                    protocol.clone(),
                    placement.clone(),
                    settings.clock_skew_ms[i],
                    settings.replica_rng(id),
                )
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
            protocol,
            placement,
            now: 0,
            queue: EventQueue::new(),
            replicas,
            live,
            epochs: vec![0; n],
            network,
            in_flight: 0,
            keys: KeyTable::default(),
            observer: Observer::new(n, settings.replicas() as usize),
            requests: Chunked::new(1024),
            sessions: BTreeMap::new(),
            wiped: false,
            stale_candidates: clients::ByRead::default(),
            ack_order: clients::AckOrder::default(),
            scratch_writes: Vec::new(),
            out: Outbox::new(),
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

    /// The replica `node` (its store, its hints, its clock).
    pub fn replica(&self, node: NodeId) -> Result<&Replica, Error> {
        self.check_node(node)?;
        Ok(&self.replicas[node.index()])
    }

    /// Every token on the ring, clockwise.
    pub fn ring(&self) -> Vec<TokenView> {
        self.placement
            .ring()
            .tokens()
            .iter()
            .map(|t| TokenView {
                position: fraction(t.position),
                node: t.node,
            })
            .collect()
    }

    /// The replicas of `key` (its preference list) and its place on the ring, whether or not
    /// it was ever written.
    pub fn preference_list(&self, key: &str) -> Result<(Vec<NodeId>, f64), Error> {
        check_key(key)?;
        let hash = key_hash(key);
        let n = self.settings.replicas() as usize;
        Ok((
            self.placement.ring().preference_list(hash, n),
            fraction(hash),
        ))
    }

    /// Every node.
    pub fn nodes(&self) -> Vec<NodeView> {
        self.replicas
            .iter()
            .map(|r| NodeView {
                id: r.id(),
                up: self.live.nodes.contains(r.id()),
                isolated: self.is_isolated(r.id()),
                clock_skew_ms: r.clock_skew(),
                keys: r.len(),
                hints: r
                    .hints()
                    .iter()
                    .map(|h| HintView {
                        owner: h.owner,
                        write: h.version.write,
                        key: self.keys.name(h.version.key.id).to_string(),
                    })
                    .collect(),
                pending: r
                    .pending()
                    .filter_map(|(request, got, needed)| {
                        let record = self.requests.get(request.0 as usize - 1)?;
                        Some(PendingView {
                            request,
                            kind: record.kind.name(),
                            key: self.keys.name(record.key).to_string(),
                            got,
                            needed,
                        })
                    })
                    .collect(),
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

    /// The versions `node` holds for `key` (empty if none).
    pub fn versions_at(&self, node: NodeId, key: &str) -> Result<&[Rc<Version>], Error> {
        self.check_node(node)?;
        let replica = &self.replicas[node.index()];
        Ok(self.keys.id(key).map_or(&[], |id| replica.get(id)))
    }

    /// Whether, for every key, every live replica of it holds the same versions.
    pub fn converged(&self) -> bool {
        self.keys.all().all(|key| self.key_converged(key))
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
        let write_ids = |node: &NodeId| {
            self.replicas[node.index()]
                .get(key)
                .iter()
                .map(|v| v.write)
                .collect::<Vec<_>>()
        };
        let replicas = self.placement.replicas(self.keys.key(key));
        let mut held = replicas
            .iter()
            .filter(|n| self.live.nodes.contains(**n))
            .map(write_ids);
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
            .filter_map(|(name, key)| {
                let latest = self.observer.writes.latest(key)?;
                // A key deleted and collected everywhere is gone: no row for it.
                let held_anywhere = self.replicas.iter().any(|r| !r.get(key).is_empty());
                if latest.version.is_tombstone() && !held_anywhere {
                    return None;
                }
                let replicas = self.placement.replicas(self.keys.key(key));
                let cells = self
                    .replicas
                    .iter()
                    .map(|r| {
                        let held = r.get(key);
                        ReplicaCell {
                            node: r.id(),
                            up: self.live.nodes.contains(r.id()),
                            replica: replicas.contains(&r.id()),
                            versions: held
                                .iter()
                                .map(|v| version_view(v, preview_chars))
                                .collect(),
                            merged: crate::crdt::merged_value(self.settings.conflict, held),
                            stale: self.behind(held, &latest.version),
                        }
                    })
                    .collect::<Vec<_>>();
                Some(KeyStatus {
                    key: name.to_string(),
                    ring_position: fraction(self.keys.key(key).hash),
                    preference_list: replicas.to_vec(),
                    converged: self.key_converged(key),
                    siblings: self.replicas.iter().any(|r| r.get(key).len() > 1),
                    deleted: latest.version.is_tombstone(),
                    latest: latest.version.write,
                    replicas: cells,
                })
            })
            .collect()
    }

    /// Whether a replica holding `held` lacks `latest`, the newest write of its key (the ≠ of
    /// the page's tables and the plots' replicas behind). Holding nothing after a delete is as
    /// up to date as holding its tombstone.
    fn behind(&self, held: &[Rc<Version>], latest: &Version) -> bool {
        // Most replicas hold exactly the latest write: no need for the whole rule.
        if held.iter().any(|v| v.write == latest.write) {
            return false;
        }
        let collected = latest.is_tombstone() && held.is_empty();
        !collected
            && !self
                .observer
                .writes
                .reflects(self.settings.conflict, held, latest)
    }

    /// Running totals.
    pub fn stats(&self) -> Stats {
        Stats {
            now: self.now,
            in_flight: self.in_flight as u64,
            lost_writes: self.lost_writes().len() as u64 + self.observer.writes.forgotten().lost,
            writes_forgotten: self.observer.writes.forgotten().writes,
            resurrections: self.observer.writes.resurrected_writes() as u64,
            ..self.observer.stats
        }
    }

    /// The run sampled at fixed moments up to now (see [`Metrics`]): sample `i` describes
    /// the cluster at `i × interval` milliseconds, before anything happened at that moment.
    pub fn samples(&self) -> &Metrics {
        &self.observer.metrics
    }

    /// Writes by how long they took to reach every replica of their key.
    pub fn convergence_times(&self) -> &ConvergenceTimes {
        self.observer.writes.convergence_times()
    }

    /// How many writes have not reached every replica of their key yet.
    pub fn writes_not_yet_everywhere(&self) -> usize {
        self.observer.writes.not_yet_everywhere()
    }

    /// The cluster now, as a sample (commands given at this moment included).
    pub fn sample(&self) -> Sample {
        let s = &self.observer.stats;
        let mut sample = Sample {
            replicate: s.sent_replicate,
            requests: s.sent_requests,
            repair: s.sent_repair,
            hint: s.sent_hint,
            anti_entropy: s.sent_anti_entropy,
            dropped: s.dropped,
            writes: s.writes,
            reads: s.reads,
            stale_reads: s.stale_reads,
            failed: s.unavailable + s.timed_out + s.refused,
            stale_replicas: 0,
            divergent_keys: 0,
        };
        // As the page's table marks a replica ≠ (see `keys`).
        for (key, replicas, latest) in self.observer.writes.latest_by_key() {
            let stale = replicas
                .iter()
                .filter(|node| self.behind(self.replicas[node.index()].get(key), &latest.version))
                .count() as u32;
            sample.stale_replicas += stale;
            sample.divergent_keys += u32::from(stale > 0);
        }
        sample
    }

    /// How many message copies are on their way.
    pub fn in_flight_count(&self) -> usize {
        self.in_flight
    }

    /// Messages on their way, in a stable order.
    pub fn in_flight(&self) -> impl Iterator<Item = FlightView> + '_ {
        let flights = self.queue.iter().filter_map(|(end, event)| match event {
            Event::Flight(flight) => Some((end - flight.travel(), flight)),
            Event::Timer { .. } => None,
        });
        flights.map(|(sent_at, f)| FlightView {
            from: f.from(),
            to: f.to(),
            kind: f.message.kind(),
            sent_at,
            arrive_at: sent_at + Time::from(f.latency),
            lost_at: f.lost_at(),
            duplicate: f.duplicate,
            id: f.id,
        })
    }

    /// The versions carried by messages on their way.
    fn in_flight_versions(&self) -> impl Iterator<Item = &Rc<Version>> {
        self.queue.iter().flat_map(|(_, event)| match event {
            Event::Flight(flight) => flight.message.carried(),
            Event::Timer { .. } => &[],
        })
    }

    /// Messages dropped since the last call, oldest first.
    pub fn drain_drops(&mut self) -> Vec<DropView> {
        std::mem::take(&mut self.observer.drops)
    }

    /// The most recent Merkle comparisons that found differing ranges, oldest first.
    pub fn recent_ranges(&self) -> Vec<RangesView> {
        self.observer.ranges.iter().cloned().collect()
    }

    /// Deleted values that came back, oldest first.
    pub fn resurrections(&self) -> Vec<ResurrectionView> {
        self.observer
            .writes
            .resurrections()
            .iter()
            .map(|r| ResurrectionView {
                time: r.time,
                node: r.node,
                key: self.keys.name(r.key).to_string(),
                write: r.write,
            })
            .collect()
    }

    /// A counter that moves whenever a store, a node, a link or a setting may have changed.
    pub fn changes(&self) -> u64 {
        self.observer.changes
    }

    /// The events of the run.
    pub fn trace(&self) -> &Trace {
        &self.observer.trace
    }

    /// Turns event recording on or off (off makes long benchmarks cheaper).
    pub fn set_recording(&mut self, on: bool) {
        self.observer.trace.set_enabled(on);
    }

    /// The time of the next event, if any.
    pub fn next_event_time(&self) -> Option<Time> {
        self.queue.peek_time()
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
            self.observer.on_link(self.now, from, to, cut);
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
        self.observer.changes += 1;
        Ok(())
    }

    // ----- Command: nodes -----

    /// Crashes `node`: it drops whatever reaches it and runs no timers until it recovers;
    /// the requests it was coordinating time out.
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
        let time = self.now;
        self.observer
            .trace
            .record(|| TraceEvent::Crash { time, node });
        let mut out = std::mem::take(&mut self.out);
        self.replicas[node.index()].crash(&mut out);
        self.apply(node, &mut out);
        self.put_back(out);
        self.observer.writes.on_live_changed(self.now, &self.live);
        self.observer.changes += 1;
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
            self.wiped = true;
        }
        let time = self.now;
        self.observer
            .trace
            .record(|| TraceEvent::Recover { time, node, wipe });
        self.start_timers(node);
        self.observer.changes += 1;
        Ok(())
    }

    // ----- Command: settings -----

    /// Changes some settings. A new node count, seed, replication factor or token count starts
    /// a new run (as [`reset`](Self::reset)); anything else takes effect now, in the running
    /// cluster. Returns whether a new run began.
    pub fn configure(&mut self, patch: &SettingsPatch) -> Result<bool, Error> {
        let next = self.settings.patched(patch)?;
        if patch.needs_restart(&self.settings) {
            self.restart(next)?;
            return Ok(true);
        }
        self.network.set_model(next.link_model());
        self.protocol = Rc::new(next.protocol());
        self.settings = next;
        for i in 0..self.replicas.len() {
            let node = NodeId::from_index(i);
            let mut out = std::mem::take(&mut self.out);
            let skew = self.settings.clock_skew_ms[i];
            self.replicas[i].set_protocol(self.protocol.clone(), skew, &mut out);
            if self.live.nodes.contains(node) {
                self.apply(node, &mut out);
            }
            out.clear();
            self.put_back(out);
        }
        let time = self.now;
        self.observer
            .trace
            .record(|| TraceEvent::Configure { time });
        self.observer.changes += 1;
        Ok(false)
    }

    /// Starts afresh with the current settings changed by `patch` (say, another seed).
    pub fn reset(&mut self, patch: &SettingsPatch) -> Result<(), Error> {
        let next = self.settings.patched(patch)?;
        self.restart(next)
    }

    fn restart(&mut self, settings: Settings) -> Result<(), Error> {
        let recording = self.observer.trace.enabled();
        let changes = self.observer.changes;
        *self = Simulation::new(settings)?;
        self.observer.trace.set_enabled(recording);
        self.observer.changes = changes + 1;
        Ok(())
    }

    // ----- Move time -----

    /// Handles every event due up to `time` and moves the clock there (never backwards).
    /// Returns how many events were handled.
    pub fn run_until(&mut self, time: Time) -> u64 {
        let before = self.observer.stats.events;
        self.run_bounded(time, u64::MAX);
        self.observer.stats.events - before
    }

    /// Handles events due up to `time` until `events` have been handled since the run began,
    /// then moves the clock to `time` if every event due by then was handled. Returns whether
    /// it was (the time travel of [`crate::timeline`] stops at exact event counts).
    pub(crate) fn run_bounded(&mut self, time: Time, events: u64) -> bool {
        while self.observer.stats.events < events {
            match self.queue.pop_until(time) {
                Some((at, event)) => {
                    self.move_clock(at);
                    self.handle(event);
                }
                None => {
                    self.move_clock(time);
                    return true;
                }
            }
        }
        if self.queue.peek_time().is_none_or(|next| next > time) {
            self.move_clock(time);
            return true;
        }
        false
    }

    /// Moves the clock to `time` without handling anything (a logged command happened then).
    /// Nothing can be due before it: the log was made by a run in which it was not.
    pub(crate) fn advance_to(&mut self, time: Time) {
        self.move_clock(time);
    }

    /// The work the run has taken so far: events handled plus the versions carried by the
    /// messages sent (what replaying it costs; see [`crate::timeline::MAX_REPLAY_WORK`]).
    pub fn work(&self) -> u64 {
        self.observer.stats.events + self.observer.stats.versions_sent
    }

    /// How many events have been handled since the run began: a position in the run.
    pub fn events(&self) -> u64 {
        self.observer.stats.events
    }

    /// A copy of the run as it is now, for going back to later, without the recorded events
    /// (they are long, and the run's own copy holds them: see [`Self::resume_history`]).
    pub(crate) fn snapshot(&mut self) -> Simulation {
        let events = self.observer.trace.take_events();
        let drops = std::mem::take(&mut self.observer.drops);
        let copy = self.clone();
        self.observer.trace.restore_events(events);
        self.observer.drops = drops;
        copy
    }

    /// Roughly the bytes a snapshot of the run holds of its own, not shared with the run: the
    /// queued events with the pointers their messages carry, every replica's state, the key
    /// table and what the write log keeps per key (the records of writes and requests are
    /// shared, but for their last chunks: see [`Chunked`]). Time travel keeps its
    /// snapshots within a budget of these.
    pub fn snapshot_bytes(&self) -> usize {
        use std::mem::size_of;
        let carried: usize = self
            .queue
            .iter()
            .map(|(_, event)| match event {
                Event::Flight(flight) => flight.message.carried().len(),
                Event::Timer { .. } => 0,
            })
            .sum();
        let queue = self.queue.bytes() + carried * size_of::<Rc<Version>>();
        let replicas: usize = self.replicas.iter().map(Replica::bytes).sum();
        let keys = self.keys.bytes();
        size_of::<Simulation>() + queue + replicas + keys + self.observer.writes.snapshot_bytes()
    }

    /// After going back to a snapshot of this run: takes the events `later` recorded that
    /// this (earlier) point of the same run had recorded too.
    pub(crate) fn resume_history(&mut self, later: &mut Simulation) {
        self.observer
            .trace
            .take_earlier_events_of(&mut later.observer.trace);
    }

    /// Runs for `ms` milliseconds of virtual time. Returns how many events were handled.
    pub fn run_for(&mut self, ms: Time) -> u64 {
        self.run_until(self.now.saturating_add(ms))
    }

    /// Handles the next event, moving the clock to it. Returns its time, or None if nothing waits.
    pub fn step(&mut self) -> Option<Time> {
        let (at, event) = self.queue.pop()?;
        self.move_clock(at);
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
                    self.move_clock(at);
                    self.handle(event);
                }
                None => break,
            }
        }
        if self.in_flight > 0 {
            self.move_clock(end);
        }
        self.in_flight == 0
    }

    // ----- Inside -----

    /// Moves virtual time forward to `to` (never back). Every sample moment passed on the way
    /// is recorded first: it holds everything that happened before it, and nothing of the
    /// moment itself, however the run is driven.
    fn move_clock(&mut self, to: Time) {
        if to > self.now {
            if self.observer.metrics.due(to) {
                let sample = self.sample();
                self.observer.metrics.record(to, sample);
            }
            self.now = to;
        }
    }

    fn handle(&mut self, event: Event) {
        self.observer.on_event();
        match event {
            Event::Flight(flight) => {
                self.in_flight -= 1;
                if flight.lost_at().is_some() {
                    self.dropped(flight, DropReason::Lost);
                } else if self.network.is_cut(flight.from(), flight.to()) {
                    self.dropped(flight, DropReason::LinkCut);
                } else if !self.live.nodes.contains(flight.to()) {
                    self.dropped(flight, DropReason::NodeDown);
                } else {
                    self.deliver(flight);
                }
            }
            Event::Timer { node, epoch, timer } => {
                if epoch != self.epochs[node.index()] || !self.live.nodes.contains(node) {
                    return;
                }
                self.observer.on_timer(self.now, node, timer);
                let mut out = std::mem::take(&mut self.out);
                {
                    let up = perfect_detector(&self.network, &self.live, node);
                    let env = Env {
                        now: self.now,
                        up: &up,
                    };
                    self.replicas[node.index()].handle_timer(&env, timer, &mut out);
                }
                self.apply(node, &mut out);
                self.put_back(out);
            }
        }
    }

    fn deliver(&mut self, flight: Flight) {
        let (from, to) = (flight.from(), flight.to());
        let key = self.traced_key(&flight.message);
        let kind = flight.message.kind();
        self.observer
            .on_deliver(self.now, (from, to), kind, flight.id, key);
        // Start loading what the delivery will likely touch, last touched long ago: the write's
        // record for a write, the request's record for an answer to its coordinator.
        match &flight.message {
            Message::Put { version, .. } | Message::Replicate(version) => {
                self.observer.writes.prefetch(version.write);
            }
            Message::PutAck { request } | Message::GetReply { request, .. } => {
                self.requests
                    .prefetch((request.0 as usize).saturating_sub(1));
            }
            _ => {}
        }
        let mut out = std::mem::take(&mut self.out);
        {
            let up = perfect_detector(&self.network, &self.live, to);
            let env = Env {
                now: self.now,
                up: &up,
            };
            self.replicas[to.index()].handle_message(&env, from, flight.message, &mut out);
        }
        self.apply(to, &mut out);
        self.put_back(out);
    }

    fn dropped(&mut self, flight: Flight, reason: DropReason) {
        let key = self.traced_key(&flight.message);
        let dropped = Dropped {
            from: flight.from(),
            to: flight.to(),
            kind: flight.message.kind(),
            id: flight.id,
            lost_at: flight.lost_at(),
            reason,
        };
        self.observer.on_drop(self.now, dropped, key);
    }

    /// Puts the shared outbox back after a call took it out. The empty one that stood in for
    /// it holds no allocation, so it is forgotten rather than dropped (its drop glue showed in
    /// the profile of every event).
    fn put_back(&mut self, out: Outbox) {
        let stand_in = std::mem::replace(&mut self.out, out);
        debug_assert!(stand_in.is_empty());
        std::mem::forget(stand_in);
    }

    /// Notes what `node` reported, then carries out what it asked for.
    fn apply(&mut self, node: NodeId, out: &mut Outbox) {
        let replica = &self.replicas[node.index()];
        let conflict = self.settings.conflict;
        while let Some(note) = out.next_note() {
            self.observer
                .on_note(self.now, replica, note, conflict, &self.live);
        }
        while let Some(effect) = out.next_effect() {
            match effect {
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
                Output::Respond { request, outcome } => self.answered(node, request, outcome),
            }
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        let fate = self.network.transmit(from, to);
        let key = self.traced_key(&message);
        let duplicated = fate.duplicate.is_some();
        let id = self
            .observer
            .on_send(self.now, (from, to), &message, duplicated, key);
        if let Some(copy) = fate.duplicate {
            self.launch(from, to, (message.clone(), id), copy, true);
        }
        self.launch(from, to, (message, id), fate.first, false);
    }

    /// The key a message is about, for the trace (only while it records): the key of what it
    /// carries if that is one key, or of the request it answers; none for anti-entropy over
    /// several keys.
    #[inline]
    fn traced_key(&self, message: &Message) -> Option<Rc<str>> {
        if self.observer.trace.enabled() {
            self.key_of_message(message)
        } else {
            None
        }
    }

    fn key_of_message(&self, message: &Message) -> Option<Rc<str>> {
        let of_request = |request: RequestId| {
            self.requests
                .get((request.0 as usize).checked_sub(1)?)
                .map(|r| r.key)
        };
        let key = match message {
            Message::Get { key, .. } => Some(*key),
            Message::PutAck { request }
            | Message::RepairAck { request }
            | Message::GetReply { request, .. } => of_request(*request),
            _ => {
                let mut keys = message.carried().iter().map(|v| v.key.id);
                let first = keys.next()?;
                keys.all(|k| k == first).then_some(first)
            }
        }?;
        Some(self.keys.name(key).clone())
    }

    fn launch(
        &mut self,
        from: NodeId,
        to: NodeId,
        (message, id): (Message, u32),
        transit: Transit,
        duplicate: bool,
    ) {
        // Every model's delay fits in 32 bits (at most 10 minutes plus an exponential tail).
        let latency = u32::try_from(transit.latency).unwrap_or(u32::MAX);
        let end = self.now + travel(latency, transit.lost_at);
        self.in_flight += 1;
        // Node ids fit 16 bits (at most MAX_NODES); a lost message vanishes past the start.
        let compact = |node: NodeId| u16::try_from(node.0).expect("node ids fit 16 bits");
        let flight = Flight {
            from: compact(from),
            to: compact(to),
            message,
            latency,
            lost_at: transit.lost_at.map_or(0, |at| at.max(1)),
            duplicate,
            id,
        };
        self.queue.push(end, Event::Flight(flight));
    }

    fn start_timers(&mut self, node: NodeId) {
        let mut out = std::mem::take(&mut self.out);
        self.replicas[node.index()].start(&mut out);
        self.apply(node, &mut out);
        self.put_back(out);
    }

    fn peers(&self, node: NodeId) -> impl Iterator<Item = NodeId> + use<> {
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

/// A ring position as a fraction of the circle.
fn fraction(position: u64) -> f64 {
    position as f64 / 18_446_744_073_709_551_616.0
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

/// A version as clients and the page see it; values longer than `limit` are shortened.
fn version_view(v: &Version, limit: Option<usize>) -> VersionView {
    let (value, truncated) = match &v.value {
        Some(text) => {
            let (short, cut) = preview(text, limit);
            (Some(short), cut)
        }
        None => (None, false),
    };
    VersionView {
        write: v.write,
        value,
        truncated,
        stamp_ms: v.stamp.millis,
        clock: v.clock(),
    }
}

/// `text` cut to `limit` characters with an ellipsis, and whether it was cut.
fn preview(text: &str, limit: Option<usize>) -> (String, bool) {
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
                .keys()
                .map(|(k, vs)| (self.keys.name(k), vs))
                .collect();
            held.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (key, versions)) in held.into_iter().enumerate() {
                let sep = if i == 0 { "" } else { ", " };
                write!(f, "{sep}{key}=")?;
                for (j, v) in versions.iter().enumerate() {
                    let bar = if j == 0 { "" } else { "|" };
                    let value = v.value.as_deref().unwrap_or("⊘");
                    write!(f, "{bar}{value} ({} {})", v.write, v.stamp)?;
                }
            }
            write!(f, "}}")?;
            if !replica.hints().is_empty() {
                write!(f, " hints: {}", replica.hints().len())?;
            }
            writeln!(f)?;
        }
        let cuts = self.cut_links();
        if !cuts.is_empty() {
            let list: Vec<String> = cuts.iter().map(|(a, b)| format!("{a}->{b}")).collect();
            writeln!(f, "  cut: {}", list.join(" "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod size_tests {
    /// Every message in flight waits in the event queue: its size is the queue's memory traffic.
    #[test]
    fn a_queued_event_stays_within_40_bytes() {
        assert!(std::mem::size_of::<crate::replica::Message>() <= 24);
        assert!(std::mem::size_of::<super::Event>() <= 40);
    }

    /// One is kept for every request of a run, and touched when it starts and ends.
    #[test]
    fn a_request_record_fits_a_cache_line() {
        assert!(std::mem::size_of::<super::clients::RequestRecord>() <= 64);
    }

    /// One is kept for every write of a run.
    #[test]
    fn a_write_record_stays_within_48_bytes() {
        assert!(std::mem::size_of::<crate::writes::WriteRecord>() <= 48);
    }
}
