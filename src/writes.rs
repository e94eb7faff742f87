//! The observer's record of every client write: where it has reached, when, whether it was
//! acknowledged, and whether it has been lost; and of deleted values that came back.
//!
//! Replicas know nothing of this; the simulation watches them from outside, as a test harness
//! (or Jepsen's checker) would.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Serialize;

use crate::chunked::Chunked;
use crate::clock::{CausalContext, Stamp};
use crate::hash::FastSet;
use crate::ids::Time;
use crate::ids::{KeyId, NodeId, WriteId};
use crate::metrics::ConvergenceTimes;
use crate::replica::Replica;
use crate::version::{ConflictMode, Version};

/// Writes per chunk of the log's shared storage (see [`Chunked`]).
const RECORDS_PER_CHUNK: usize = 1024;

/// How many writes keep their whole record: past this many (looked at every 1,024 writes), the
/// oldest are forgotten a chunk of 1,024 at a time, so that a run of
/// hours keeps flat memory. What the figures need of them is kept: the lost writes among them,
/// judged as they are forgotten, and each key's newest stored write. A forgotten write is no
/// longer followed: if it is lost later (only a write that replaced it knowingly can still
/// carry it, and that one's loss is counted), or reaches its last replica later, the figures
/// do not hear of it; it is not listed by [`WriteLog::last`], nor a candidate for a stale read.
pub const WRITES_KEPT: usize = 20_000;

/// What is left of the writes forgotten (see [`WRITES_KEPT`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Forgotten {
    /// How many.
    pub writes: u64,
    /// Of those, the acknowledged ones that were lost when they were forgotten, judged from the
    /// history ([`WriteLog::lost`]).
    pub lost: u64,
}

/// A set of nodes, one bit each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSet {
    words: Vec<u64>,
}

impl NodeSet {
    /// An empty set able to hold `nodes` nodes.
    pub fn new(nodes: usize) -> NodeSet {
        NodeSet {
            words: vec![0; nodes.div_ceil(64)],
        }
    }

    /// Adds `node`.
    pub fn insert(&mut self, node: NodeId) {
        let (w, b) = (node.index() / 64, node.index() % 64);
        self.words[w] |= 1 << b;
    }

    /// Removes `node`.
    pub fn remove(&mut self, node: NodeId) {
        let (w, b) = (node.index() / 64, node.index() % 64);
        self.words[w] &= !(1 << b);
    }

    /// Whether `node` is in the set.
    pub fn contains(&self, node: NodeId) -> bool {
        let (w, b) = (node.index() / 64, node.index() % 64);
        self.words[w] & (1 << b) != 0
    }
}

/// Which nodes are up, and how many.
#[derive(Clone, Debug)]
pub struct Live {
    /// The nodes that are up.
    pub nodes: NodeSet,
    /// How many they are.
    pub count: usize,
}

/// Where a client write stands with its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteStatus {
    /// The coordinator has not answered yet.
    Pending,
    /// The client was told it succeeded, by a replica that took it.
    Acknowledged,
    /// Without coordination, through a node that is not one of the key's replicas: the client
    /// was answered, but the write was only sent on (no replica had it yet).
    Sent,
    /// Too few replicas were reachable: nothing was written.
    Unavailable,
    /// W acknowledgements did not come in time (some replicas may still have it).
    TimedOut,
    /// Its coordinator refused it: it would have made more siblings than a key may have
    /// ([`crate::replica::MAX_SIBLINGS`]). Nothing was written.
    Refused,
}

impl WriteStatus {
    /// Whether the client was told nothing was written (unavailable, or refused): then no
    /// replica will ever store the write.
    pub fn wrote_nothing(self) -> bool {
        matches!(self, WriteStatus::Unavailable | WriteStatus::Refused)
    }
}

/// Some node stored write `id` of a key whose newest stored write is `latest`: it becomes the
/// newest if it is newer, and a record kept only as the old newest (see
/// [`WriteLog::forget_old`]) is let go.
fn stored_newer(
    latest: &mut Option<WriteId>,
    id: WriteId,
    retained: &mut BTreeMap<WriteId, WriteRecord>,
) {
    if let Some(previous) = latest.filter(|previous| *previous < id) {
        retained.remove(&previous);
    }
    *latest = (*latest).max(Some(id));
}

/// One client write as the observer follows it.
///
/// One is kept for every write of the run, so it is kept small (48 bytes): its moments are
/// milliseconds after the write, in 32 bits (as the replicas' times in the log), read through
/// [`Self::acked_at`], [`Self::all_live_at`] and [`Self::all_at`].
#[derive(Clone, Debug)]
pub struct WriteRecord {
    /// The version the write made.
    pub version: Rc<Version>,
    /// When the client made it.
    pub issued_at: Time,
    /// Where this write's replica times start in the log's flat array.
    after: usize,
    /// Where the writes its client had seen start in the log's flat list (see
    /// [`WriteLog::seen_by`]); they end where the next write's start.
    saw: u32,
    /// Whether some node ever stored it (in its store or as a hint): only such a write can be
    /// the newest of its key.
    pub stored: bool,
    /// How many of the key's replicas reflect it: they received it, or hold a version that
    /// replaced it knowingly, or (last writer wins) one that beats it.
    pub reached: u32,
    acked: u32,
    all_live: u32,
    all: u32,
    /// Where it stands with its client.
    pub status: WriteStatus,
}

/// A moment of a write's that has not come yet.
const NOT_YET: u32 = u32::MAX;

impl WriteRecord {
    /// The node that coordinated the write.
    pub fn origin(&self) -> NodeId {
        self.version.stamp.node
    }

    /// When the client was told it succeeded.
    pub fn acked_at(&self) -> Option<Time> {
        self.moment(self.acked)
    }

    /// The first moment every replica of the key that was up reflected it.
    pub fn all_live_at(&self) -> Option<Time> {
        self.moment(self.all_live)
    }

    /// The first moment every replica of the key, up or down, reflected it.
    pub fn all_at(&self) -> Option<Time> {
        self.moment(self.all)
    }

    fn moment(&self, after: u32) -> Option<Time> {
        (after != NOT_YET).then(|| self.issued_at + Time::from(after))
    }

    /// `now` as milliseconds after the write (at most 49 days: later ones are kept as that).
    fn offset(&self, now: Time) -> u32 {
        now.saturating_sub(self.issued_at)
            .min(u64::from(NOT_YET - 1)) as u32
    }
}

/// A version a replica received and what it did with it.
#[derive(Clone, Copy, Debug)]
pub struct Receipt<'a> {
    /// The node it reached.
    pub node: NodeId,
    /// The version.
    pub version: &'a Version,
    /// What the node holds for the key now (looked at only if it did not store the version).
    pub held: &'a [Rc<Version>],
    /// Whether the node stored it.
    pub stored: bool,
    /// If stored under last writer wins: the timestamp of the version it replaced, if any.
    pub replaced: Option<Stamp>,
}

/// A deleted value that came back: a replica stored a version a collected tombstone had deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resurrection {
    /// When.
    pub time: Time,
    /// Where.
    pub node: NodeId,
    /// The write that came back.
    pub write: WriteId,
    /// Its key (as numbered by the cluster's key table).
    #[serde(skip)]
    pub key: KeyId,
}

/// What the observer knows of one key.
#[derive(Clone, Debug)]
struct KeyRecord {
    /// The key's replicas, sorted by id: a replica's place here is its bit in `reached`.
    replica_list: Rc<[NodeId]>,
    replica_count: u32,
    /// Every write of the key, oldest first.
    writes: Vec<WriteId>,
    /// Writes not yet reflected at every replica, sorted by timestamp.
    pending: Vec<(Stamp, WriteId)>,
    /// The most recent write that some node stored (a write refused everywhere, or beaten
    /// everywhere at once, is never the newest).
    latest: Option<WriteId>,
    /// Writes no node has stored yet, still followed (usually none: a coordinator that is a
    /// replica stores its write at once), so that a delivery finds out whether it is the
    /// first store of its write without touching the write's record.
    unstored: Vec<WriteId>,
    /// The highest timestamp any write of the key carries.
    highest: Stamp,
    /// The tombstones collected somewhere: what they deleted is gone on purpose.
    collected_writes: Vec<WriteId>,
    /// The joined clocks of those tombstones (for [`WriteLog::lost_by_clocks`] only).
    collected: CausalContext,
}

/// Every write of the run, with what is still being followed.
///
/// Cost matters here: the simulation reports every version that reaches every replica. Writes
/// not yet everywhere wait in a list per key sorted by timestamp, so that under last writer wins
/// a replica that now holds a version with timestamp `H` (replacing one with `P`) newly reflects
/// exactly the writes with timestamps in `(P, H]`: a binary search, not a scan. Which replicas
/// reflect which write is one bit array for all writes, next to each other in memory: a bit per
/// replica of the key (its place in the key's sorted replica list), so a write on 3 of 1,000
/// nodes costs one word, not sixteen.
#[derive(Clone, Debug)]
pub struct WriteLog {
    nodes: usize,
    /// Words of `reached` per write: a bit for each replica of a key, rounded up to a power of
    /// two so that a write's words never straddle two chunks.
    words: usize,
    /// In shared chunks, so that a snapshot of the run copies pointers (see [`Chunked`]).
    records: Chunked<WriteRecord>,
    /// `words` words per write: bit `s` is set when the key's replica `s` (in its sorted replica
    /// list) reflects the write. With every node a replica, `s` is the node's index.
    reached: Chunked<u64>,
    /// For each write, one number per replica of its key (at `WriteRecord::after`): milliseconds
    /// after the write when that replica began to reflect it (meaningful where its bit is set).
    /// Flat, so a write costs no allocation of its own.
    reached_after: Chunked<u32>,
    /// For each write, the writes its client had seen (at `WriteRecord::saw`): see
    /// [`WriteLog::seen_by`].
    seen: Chunked<WriteId>,
    keys: Vec<Option<KeyRecord>>,
    resurrections: Vec<Resurrection>,
    convergence: ConvergenceTimes,
    /// The records of forgotten writes that are still the newest stored write of their key (at
    /// most one a key), for [`Self::latest`].
    retained: BTreeMap<WriteId, WriteRecord>,
    forgotten: Forgotten,
}

impl WriteLog {
    /// Roughly the bytes a copy of the log holds of its own: what it keeps per key, and the
    /// last chunk of each record list (the next write copies it while a copy shares it).
    pub fn snapshot_bytes(&self) -> usize {
        use std::mem::size_of;
        let keys: usize = self
            .keys
            .iter()
            .flatten()
            .map(|k| {
                k.writes.len() * size_of::<WriteId>()
                    + k.pending.len() * size_of::<(Stamp, WriteId)>()
                    + k.unstored.len() * size_of::<WriteId>()
            })
            .sum();
        self.keys.len() * size_of::<Option<KeyRecord>>()
            + keys
            + RECORDS_PER_CHUNK
                * (size_of::<WriteRecord>()
                    + self.words * size_of::<u64>()
                    + 2 * size_of::<WriteId>())
            + (RECORDS_PER_CHUNK * 8).max(self.nodes) * size_of::<u32>()
            + self.resurrections.len() * size_of::<Resurrection>()
            + self.retained.len() * (size_of::<WriteId>() + size_of::<WriteRecord>() + 32)
    }

    /// An empty log for a cluster of `nodes` nodes that keeps each key on `replicas` of them.
    pub fn new(nodes: usize, replicas: usize) -> WriteLog {
        let words = replicas
            .clamp(1, nodes.max(1))
            .div_ceil(64)
            .next_power_of_two();
        WriteLog {
            nodes,
            words,
            records: Chunked::new(RECORDS_PER_CHUNK),
            reached: Chunked::new(RECORDS_PER_CHUNK * words),
            reached_after: Chunked::new((RECORDS_PER_CHUNK * 8).max(nodes)),
            seen: Chunked::new(RECORDS_PER_CHUNK * 2),
            keys: Vec::new(),
            resurrections: Vec::new(),
            convergence: ConvergenceTimes::default(),
            retained: BTreeMap::new(),
            forgotten: Forgotten::default(),
        }
    }

    /// The id the next write will get.
    pub fn next_id(&self) -> WriteId {
        WriteId(self.records.len() as u32 + 1)
    }

    /// Records a new write, made at its coordinator already; marks every replica whose store
    /// already reflects it. The coordinator's own outputs, fed in after this call (its receipt,
    /// or its hint), say whether it stored the write. `saw` are the writes its client had seen (see [`Self::seen_by`]),
    /// `replicas` the key's replicas and `stores` every node.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &mut self,
        now: Time,
        version: Rc<Version>,
        saw: &[WriteId],
        replicas: &Rc<[NodeId]>,
        stores: &[Replica],
        conflict: ConflictMode,
        live: &Live,
    ) {
        let id = version.write;
        debug_assert_eq!(id, self.next_id());
        let key = version.key.index();
        if key >= self.keys.len() {
            self.keys.resize(key + 1, None);
        }
        let record = self.keys[key].get_or_insert_with(|| {
            KeyRecord {
                // Sorted by id, so that a node finds its slot by binary search.
                replica_list: {
                    let mut sorted = replicas.to_vec();
                    sorted.sort();
                    sorted.into()
                },
                replica_count: replicas.len() as u32,
                writes: Vec::new(),
                pending: Vec::new(),
                latest: None,
                unstored: Vec::new(),
                highest: version.stamp,
                collected_writes: Vec::new(),
                collected: CausalContext::new(),
            }
        });
        // Not stored anywhere yet as far as the log knows: the coordinator's own receipt (or
        // hint), fed in after this, says when it is.
        record.unstored.push(id);
        let beaten = version.stamp < record.highest;
        record.highest = record.highest.max(version.stamp);
        let at = record
            .pending
            .partition_point(|(stamp, _)| *stamp <= version.stamp);
        record.pending.insert(at, (version.stamp, id));
        record.writes.push(id);
        let saw_from = self.seen.len() as u32;
        for seen in saw {
            debug_assert!(*seen < id, "a client can only have seen earlier writes");
            self.seen.push(*seen);
        }
        // One group: a chunk holds a whole number of writes' words, so no padding is ever added.
        self.reached
            .push_group(std::iter::repeat_n(0, self.words), || 0);
        let after = self
            .reached_after
            .push_group(std::iter::repeat_n(0, replicas.len()), || 0);
        self.records.push(WriteRecord {
            version: version.clone(),
            issued_at: now,
            status: WriteStatus::Pending,
            acked: NOT_YET,
            reached: 0,
            all_live: NOT_YET,
            all: NOT_YET,
            after,
            saw: saw_from,
            stored: false,
        });
        // Nobody knows the new write's dot yet, so only last writer wins can make a replica
        // reflect it already: one holding a later timestamp (a faster clock, or a concurrent
        // write). The coordinator's own copy is reported by the replica like any other.
        if conflict == ConflictMode::LastWriterWins && beaten {
            for node in replicas.iter() {
                let held = stores[node.index()].get(version.key.id);
                if held.first().is_some_and(|h| h.stamp > version.stamp) {
                    let key = self.keys[version.key.index()].as_ref();
                    if let Some(slot) = key.and_then(|k| self.slot(k, *node)) {
                        self.mark(id, slot, now, live);
                    }
                }
            }
            self.drop_complete(version.key.id);
        }
    }

    /// The client was answered: the write was acknowledged (by at least one replica that took
    /// it), or sent on without any replica taking it yet, or it failed.
    pub fn set_status(&mut self, id: WriteId, status: WriteStatus, now: Time) {
        if let Some(record) = self.records.get_mut(id.0 as usize - 1) {
            record.status = status;
            if status == WriteStatus::Acknowledged {
                record.acked = record.offset(now);
            }
            // Refused: nothing was sent, so nothing will store it.
            let key = record.version.key.index();
            if status.wrote_nothing()
                && let Some(Some(key)) = self.keys.get_mut(key)
            {
                key.unstored.retain(|w| *w != id);
            }
        }
    }

    /// Every write, oldest first.
    pub fn all(&self) -> impl DoubleEndedIterator<Item = &WriteRecord> + '_ {
        self.records.iter()
    }

    /// The last `count` writes, oldest first.
    pub fn last(&self, count: usize) -> impl Iterator<Item = &WriteRecord> + '_ {
        self.records
            .iter_from(self.records.len().saturating_sub(count))
    }

    /// How many writes were made.
    pub fn count(&self) -> usize {
        self.records.len()
    }

    /// One write.
    pub fn get(&self, id: WriteId) -> Option<&WriteRecord> {
        match self.records.get((id.0 as usize).checked_sub(1)?) {
            Some(record) => Some(record),
            None => self.retained.get(&id),
        }
    }

    /// What is left of the writes forgotten (see [`WRITES_KEPT`]).
    pub fn forgotten(&self) -> Forgotten {
        self.forgotten
    }

    /// Whether it is time to forget the oldest writes (see [`WRITES_KEPT`]): then the caller
    /// judges which are lost, and hands that to [`Self::forget_old`].
    pub fn forget_due(&self) -> bool {
        let len = self.records.len();
        len % RECORDS_PER_CHUNK == 0
            && len - self.records.first() >= WRITES_KEPT + RECORDS_PER_CHUNK
    }

    /// Forgets the writes before the last [`WRITES_KEPT`] (a chunk at a time), keeping what the
    /// figures need of them: how many of them are in `lost` (what [`Self::lost`] says now), and
    /// each key's newest stored write.
    pub fn forget_old(&mut self, lost: &[WriteId]) {
        let first = self.records.first();
        // The chunk holding the target stays: forgetting stops at its start.
        let until = (self.records.len() - WRITES_KEPT) / RECORDS_PER_CHUNK * RECORDS_PER_CHUNK;
        if until <= first {
            return;
        }
        let horizon = WriteId(until as u32 + 1);
        self.forgotten.writes += (until - first) as u64;
        self.forgotten.lost += lost.iter().filter(|id| **id < horizon).count() as u64;
        for key in self.keys.iter_mut().flatten() {
            let before = key.writes.partition_point(|id| *id < horizon);
            key.writes.drain(..before);
            key.unstored.retain(|id| *id >= horizon);
            key.pending.retain(|(_, id)| *id >= horizon);
            if let Some(latest) = key.latest.filter(|id| *id < horizon)
                && let Some(record) = self.records.get(latest.0 as usize - 1)
            {
                self.retained.insert(latest, record.clone());
            }
        }
        let next = &self.records[until];
        let (after, saw) = (next.after, next.saw as usize);
        self.records.forget_before(until);
        debug_assert_eq!(self.records.first(), until);
        self.reached.forget_before(until * self.words);
        self.reached_after.forget_before(after);
        self.seen.forget_before(saw);
    }

    /// The most recent write of `key` that some node stored, if there is one.
    pub fn latest(&self, key: KeyId) -> Option<&WriteRecord> {
        let record = self.keys.get(key.index())?.as_ref()?;
        self.get(record.latest?)
    }

    /// The writes the client of write `id` had seen when it made it: those returned by the read
    /// whose context the write carried (or, for a resolve, the siblings it resolved; for a write
    /// without a context under arrival order or last writer wins, what its coordinator held,
    /// which the tutorial's node overwrites knowingly). None for a blind write under version
    /// vectors. This is the history a checker judges by, apart from the replicas' clocks.
    pub fn seen_by(&self, id: WriteId) -> impl Iterator<Item = WriteId> + '_ {
        let index = (id.0 as usize).saturating_sub(1);
        let range = match self.records.get(index) {
            Some(record) => {
                let end = self
                    .records
                    .get(index + 1)
                    .map_or(self.seen.len(), |next| next.saw as usize);
                record.saw as usize..end
            }
            None => 0..0,
        };
        range.map(|i| self.seen[i])
    }

    /// Whether write `target` is one of `from`, or in their past as their clients saw it:
    /// seen by one of them ([`Self::seen_by`]), or by a write one of them had seen, and so on.
    pub fn in_past_of(&self, from: impl IntoIterator<Item = WriteId>, target: WriteId) -> bool {
        // A client can only have seen earlier writes: nothing below `target` leads to it.
        self.walk_past(from, target, |id| id == target)
    }

    /// Every write in the past of write `from` as clients saw it, `from` included, down to
    /// write `floor`.
    #[inline(never)] // off the common path (last writer wins never walks): keeps its callers small
    fn past_of(&self, from: WriteId, floor: WriteId) -> FastSet<WriteId> {
        let mut past = FastSet::default();
        self.walk_past([from], floor, |id| {
            past.insert(id);
            false
        });
        past
    }

    /// Visits `from` and every write in their past (see [`Self::in_past_of`]) not below
    /// `floor`, each once, until `stop` says so; returns whether it did.
    fn walk_past(
        &self,
        from: impl IntoIterator<Item = WriteId>,
        floor: WriteId,
        mut stop: impl FnMut(WriteId) -> bool,
    ) -> bool {
        let mut stack: Vec<WriteId> = Vec::new();
        let mut visited: FastSet<WriteId> = FastSet::default();
        for id in from.into_iter().filter(|id| *id >= floor) {
            if stop(id) {
                return true;
            }
            stack.push(id);
        }
        while let Some(id) = stack.pop() {
            for seen in self.seen_by(id) {
                if seen >= floor && visited.insert(seen) {
                    if stop(seen) {
                        return true;
                    }
                    stack.push(seen);
                }
            }
        }
        false
    }

    /// Whether a replica or a client holding `held` reflects the write `w`, judged from the
    /// history: it holds `w`, or a version whose client had seen it ([`Self::in_past_of`]), or
    /// (but under version vectors, where it would be a sibling) a later write that replaced it
    /// by the store's rule: any later one under arrival order, a later one with a higher
    /// timestamp under last writer wins.
    #[inline(never)] // off the common path (last writer wins never walks): keeps its callers small
    pub fn reflects(&self, conflict: ConflictMode, held: &[Rc<Version>], w: &Version) -> bool {
        let replaced_by_rule = |v: &Rc<Version>| {
            !conflict.keeps_siblings()
                && v.write > w.write
                && (conflict == ConflictMode::ArrivalOrder || v.stamp > w.stamp)
        };
        held.iter()
            .any(|v| v.write == w.write || replaced_by_rule(v))
            || self.in_past_of(held.iter().map(|v| v.write), w.write)
    }

    /// The writes of `key` not yet reflected at every replica.
    pub fn pending(&self, key: KeyId) -> impl Iterator<Item = WriteId> + '_ {
        let pending = match self.keys.get(key.index()) {
            Some(Some(record)) => record.pending.as_slice(),
            _ => &[],
        };
        pending.iter().map(|(_, id)| *id)
    }

    /// The ids of the writes of `key` made after `after` (all if None), oldest first: read from
    /// the key's own list, without touching the writes' records.
    pub fn ids_of_key_after(&self, key: KeyId, after: Option<WriteId>) -> &[WriteId] {
        let ids = match self.keys.get(key.index()) {
            Some(Some(record)) => record.writes.as_slice(),
            _ => &[],
        };
        let from = after.map_or(0, |a| first_after(ids, a));
        &ids[from..]
    }

    /// Each node that reflects write `id`, with how many milliseconds after the write, in the
    /// order they began to.
    pub fn arrivals(&self, id: WriteId) -> Vec<Arrival> {
        let index = id.0 as usize - 1;
        // A forgotten write's arrivals are forgotten with it.
        let Some(record) = self.records.get(index) else {
            return Vec::new();
        };
        let bits = self
            .reached
            .slice(index * self.words..(index + 1) * self.words);
        let Some(Some(key)) = self.keys.get(record.version.key.index()) else {
            return Vec::new();
        };
        let mut arrivals: Vec<Arrival> = key
            .replica_list
            .iter()
            .enumerate()
            .filter(|(slot, _)| bits[slot / 64] & (1 << (slot % 64)) != 0)
            .map(|(slot, n)| Arrival {
                node: *n,
                after_ms: self.reached_after[record.after + slot],
            })
            .collect();
        arrivals.sort_by_key(|a| (a.after_ms, a.node));
        arrivals
    }

    /// Writes by how long they took to reach every replica of their key.
    pub fn convergence_times(&self) -> &ConvergenceTimes {
        &self.convergence
    }

    /// How many writes have not reached every replica of their key yet (those that wrote
    /// nothing, refused as unavailable, aside).
    pub fn not_yet_everywhere(&self) -> usize {
        self.keys
            .iter()
            .flatten()
            .flat_map(|key| &key.pending)
            .filter(|(_, id)| {
                let record = &self.records[id.0 as usize - 1];
                record.all == NOT_YET && !record.status.wrote_nothing()
            })
            .count()
    }

    /// For each key some node stored a write of: its replicas and its most recent such write.
    pub fn latest_by_key(&self) -> impl Iterator<Item = (KeyId, &[NodeId], &WriteRecord)> + '_ {
        self.keys.iter().enumerate().filter_map(|(i, key)| {
            let key = key.as_ref()?;
            Some((
                KeyId(i as u32),
                &key.replica_list[..],
                self.get(key.latest?)?,
            ))
        })
    }

    /// Deleted values that came back, oldest first.
    pub fn resurrections(&self) -> &[Resurrection] {
        &self.resurrections
    }

    /// How many different deleted writes came back (each once, wherever it came back).
    pub fn resurrected_writes(&self) -> usize {
        let mut writes: Vec<WriteId> = self.resurrections.iter().map(|r| r.write).collect();
        writes.sort();
        writes.dedup();
        writes.len()
    }

    /// Whether a collected tombstone deleted `w` knowingly (it is gone on purpose, not stale).
    pub fn deleted_away(&self, w: &Version) -> bool {
        match self.keys.get(w.key.index()) {
            Some(Some(k)) if !k.collected_writes.is_empty() => {
                self.in_past_of(k.collected_writes.iter().copied(), w.write)
            }
            _ => false,
        }
    }

    /// Notes that a node stored write `id` (in its store or as a hint): it can now be the
    /// newest write of its key.
    fn note_stored(&mut self, version: &Version) {
        let id = version.write;
        let Some(Some(key)) = self.keys.get_mut(version.key.index()) else {
            return;
        };
        let Some(at) = key.unstored.iter().position(|w| *w == id) else {
            return;
        };
        key.unstored.swap_remove(at);
        stored_newer(&mut key.latest, id, &mut self.retained);
        if let Some(record) = self.records.get_mut(id.0 as usize - 1) {
            record.stored = true;
        }
    }

    /// A node keeps `version` as a hint for another.
    pub fn on_hinted(&mut self, version: &Version) {
        self.note_stored(version);
    }

    /// A version reached a node (see [`Receipt`]): marks the writes the node now reflects,
    /// and notes a resurrection if a collected tombstone had deleted what it stored.
    pub fn on_received(
        &mut self,
        now: Time,
        receipt: Receipt,
        conflict: ConflictMode,
        live: &Live,
    ) {
        let Receipt {
            node,
            version,
            held,
            stored,
            replaced,
        } = receipt;
        if stored {
            self.note_stored(version);
        }
        let Some(Some(record)) = self.keys.get(version.key.index()) else {
            return;
        };
        if stored
            && !version.is_tombstone()
            && !record.collected_writes.is_empty()
            && self.in_past_of(record.collected_writes.iter().copied(), version.write)
        {
            self.resurrections.push(Resurrection {
                time: now,
                node,
                write: version.write,
                key: version.key.id,
            });
        }
        // Only the key's replicas count towards its writes being everywhere.
        let Some(slot) = self.slot(record, node) else {
            return;
        };
        let mut completed = false;
        if !stored {
            // A duplicate, old news or a loser, by the replica's word; the observer checks that
            // the node does reflect it, by the history (or under last writer wins, by the
            // timestamps): a replica that takes a write for old news wrongly has not seen it.
            let reflected = match conflict {
                ConflictMode::LastWriterWins => held
                    .iter()
                    .any(|v| v.write == version.write || v.stamp >= version.stamp),
                _ => self.reflects(conflict, held, version),
            };
            if reflected {
                completed = self.mark(version.write, slot, now, live);
            }
        } else {
            // Lent out while marking (mark needs the whole log), so nothing is allocated per
            // delivery; put back right after.
            let key = version.key.index();
            let pending =
                std::mem::take(&mut self.keys[key].as_mut().expect("checked above").pending);
            if conflict == ConflictMode::LastWriterWins {
                // The node now reflects every write up to the stored timestamp.
                let from = replaced.map_or(0, |p| pending.partition_point(|(s, _)| *s <= p));
                let to = pending.partition_point(|(s, _)| *s <= version.stamp);
                for (_, id) in &pending[from..to] {
                    completed |= self.mark(*id, slot, now, live);
                }
            } else {
                // The version itself, and every write its client had seen and so replaced.
                let oldest = pending.iter().map(|(_, id)| *id).min();
                let past = match oldest {
                    Some(oldest) if oldest < version.write => self.past_of(version.write, oldest),
                    _ => FastSet::default(),
                };
                for (_, id) in &pending {
                    if *id == version.write || past.contains(id) {
                        completed |= self.mark(*id, slot, now, live);
                    }
                }
            }
            self.keys[key].as_mut().expect("checked above").pending = pending;
        }
        if completed {
            self.drop_complete(version.key.id);
        }
    }

    /// A node collected a tombstone: values it deleted must not come back.
    pub fn on_collected(&mut self, tombstone: &Version) {
        if let Some(Some(record)) = self.keys.get_mut(tombstone.key.index()) {
            record.collected.join(&tombstone.clock());
            if !record.collected_writes.contains(&tombstone.write) {
                record.collected_writes.push(tombstone.write);
            }
        }
    }

    /// The set of live nodes shrank (a crash): writes that every remaining live replica
    /// reflects are now complete.
    pub fn on_live_changed(&mut self, now: Time, live: &Live) {
        let pending: Vec<WriteId> = self
            .keys
            .iter()
            .flatten()
            .flat_map(|k| k.pending.iter().map(|(_, id)| *id))
            .collect();
        for id in pending {
            self.update_completion(id, now, live);
        }
    }

    /// Starts loading what a receipt of write `id` will touch (its record and its bits), while
    /// the replica works out what to do with it: they were last touched when the write was
    /// made, and are likely out of the cache.
    pub fn prefetch(&self, id: WriteId) {
        let Some(index) = (id.0 as usize).checked_sub(1) else {
            return;
        };
        self.records.prefetch(index);
        self.reached.prefetch(index * self.words);
    }

    /// `node`'s place among the replicas of the key of `record` (with every node a replica, its
    /// index; else looked up), or None if it is not one.
    fn slot(&self, record: &KeyRecord, node: NodeId) -> Option<usize> {
        if record.replica_list.len() == self.nodes {
            Some(node.index())
        } else {
            record.replica_list.binary_search(&node).ok()
        }
    }

    /// Notes that the replica in `slot` of its key reflects write `id`; returns whether that
    /// made every replica reflect it (so it can stop being followed).
    fn mark(&mut self, id: WriteId, slot: usize, now: Time, live: &Live) -> bool {
        let index = id.0 as usize - 1;
        if index < self.records.first() {
            return false; // forgotten: no longer followed
        }
        let word = &mut self.reached[index * self.words + slot / 64];
        let bit = 1 << (slot % 64);
        if *word & bit == 0 {
            *word |= bit;
            let record = &mut self.records[index];
            record.reached += 1;
            let after = record.offset(now);
            self.reached_after[record.after + slot] = after;
            return self.update_completion(id, now, live);
        }
        false
    }

    /// Notes when write `id` became everywhere (among live replicas, and among all); returns
    /// whether it just became so among all.
    fn update_completion(&mut self, id: WriteId, now: Time, live: &Live) -> bool {
        let index = id.0 as usize - 1;
        let record = &mut self.records[index];
        let Some(Some(key)) = self.keys.get(record.version.key.index()) else {
            return false;
        };
        // Fewer reached than the replicas that could be up: not complete, no need to look.
        let down = self.nodes - live.count;
        let could_be_live = (key.replica_count as usize).saturating_sub(down);
        if record.all_live == NOT_YET && record.reached as usize >= could_be_live {
            let bits = self
                .reached
                .slice(index * self.words..(index + 1) * self.words);
            let everywhere = if key.replica_list.len() == self.nodes {
                // Every node a replica: the bits are by node, a word at a time.
                bits.iter()
                    .zip(&live.nodes.words)
                    .all(|(reached, up)| up & !reached == 0)
            } else {
                key.replica_list.iter().enumerate().all(|(slot, node)| {
                    !live.nodes.contains(*node) || bits[slot / 64] & (1 << (slot % 64)) != 0
                })
            };
            if everywhere {
                record.all_live = record.offset(now);
            }
        }
        if record.all == NOT_YET && record.reached >= key.replica_count {
            record.all = record.offset(now);
            self.convergence.add(now - record.issued_at);
            return true;
        }
        false
    }

    /// Stops following the writes of `key` that every replica reflects.
    fn drop_complete(&mut self, key: KeyId) {
        let records = &self.records;
        if let Some(Some(record)) = self.keys.get_mut(key.index()) {
            let following = |id: &WriteId| records[id.0 as usize - 1].all == NOT_YET;
            record.pending.retain(|(_, id)| following(id));
            record.unstored.retain(following);
        }
    }

    /// Whether write `id` is lost (see [`WriteLog::lost`]), looking at its key's replicas, every
    /// node's hints, collected tombstones and, only if those do not account for it, the
    /// messages in flight.
    pub fn is_lost<'a>(
        &self,
        id: WriteId,
        stores: &'a [Replica],
        in_flight: impl FnOnce() -> Box<dyn Iterator<Item = &'a Rc<Version>> + 'a>,
    ) -> bool {
        let Some(record) = self.get(id) else {
            return false;
        };
        let Some(Some(key)) = self.keys.get(record.version.key.index()) else {
            return false;
        };
        if record.status != WriteStatus::Acknowledged {
            return false;
        }
        let k = record.version.key.id;
        let held = key
            .replica_list
            .iter()
            .flat_map(|node| stores[node.index()].get(k))
            .chain(stores.iter().flat_map(|s| s.hints()).map(|h| &h.version))
            .filter(|v| v.key.id == k)
            .map(|v| v.write);
        if self.in_past_of(held.chain(key.collected_writes.iter().copied()), id) {
            return false;
        }
        let carried = in_flight().filter(|v| v.key.id == k).map(|v| v.write);
        !self.in_past_of(carried, id)
    }

    /// Acknowledged writes that are gone, judged from the history alone: no node holds them
    /// (as a value or a hint), no message carries them, and no version that is held or carried,
    /// nor a collected tombstone, was written by a client that had seen them ([`Self::seen_by`],
    /// followed back). The client was told they succeeded, and they are gone without anyone
    /// having seen them. Down nodes count as holding what their store keeps.
    ///
    /// This does not ask the replicas' clocks; [`Self::lost_by_clocks`] does, and the tests
    /// hold the two to the same answer.
    pub fn lost<'a>(
        &self,
        stores: &'a [Replica],
        in_flight: impl Iterator<Item = &'a Rc<Version>>,
    ) -> Vec<WriteId> {
        // By index from the first write kept (a forgotten write was judged as it was forgotten).
        let first = self.records.first();
        let mut accounted = vec![false; self.records.len() - first];
        let mut stack: Vec<WriteId> = Vec::new();
        for store in stores {
            stack.extend(store.versions().map(|v| v.write));
            stack.extend(store.hints().iter().map(|h| h.version.write));
        }
        stack.extend(in_flight.map(|v| v.write));
        for key in self.keys.iter().flatten() {
            stack.extend_from_slice(&key.collected_writes);
        }
        while let Some(id) = stack.pop() {
            let Some(seen) = accounted.get_mut((id.0 as usize - 1).wrapping_sub(first)) else {
                continue;
            };
            if !*seen {
                *seen = true;
                stack.extend(self.seen_by(id));
            }
        }
        self.records
            .iter()
            .zip(accounted)
            .filter(|(r, accounted)| r.status == WriteStatus::Acknowledged && !accounted)
            .map(|(r, _)| r.version.write)
            .collect()
    }

    /// The same question answered by the replicas' own rule: acknowledged writes whose dot no
    /// clock covers, joining the clocks of every version a node holds or keeps as a hint, every
    /// version on its way, and every collected tombstone. Kept beside [`Self::lost`] so that a
    /// disagreement between the history and the clocks shows.
    pub fn lost_by_clocks<'a>(
        &self,
        stores: &'a [Replica],
        in_flight: impl Iterator<Item = &'a Rc<Version>>,
    ) -> Vec<WriteId> {
        let mut clocks = vec![CausalContext::new(); self.keys.len()];
        let mut account = |v: &Version| {
            if let Some(clock) = clocks.get_mut(v.key.index()) {
                v.known_into(clock);
            }
        };
        for store in stores {
            store.versions().for_each(|v| account(v));
            store.hints().iter().for_each(|h| account(&h.version));
        }
        in_flight.for_each(|v| account(v));
        for (clock, record) in clocks.iter_mut().zip(&self.keys) {
            if let Some(record) = record {
                clock.join(&record.collected);
            }
        }
        self.records
            .iter()
            .filter(|r| r.status == WriteStatus::Acknowledged)
            .filter(|r| !clocks[r.version.key.index()].covers(r.version.dot()))
            .map(|r| r.version.write)
            .collect()
    }
}

/// A write as the page and the API show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteView {
    /// Its number (1 for w1).
    pub id: WriteId,
    /// The node that coordinated it.
    pub node: NodeId,
    /// The key written.
    pub key: String,
    /// The value written, or None for a delete.
    pub value: Option<String>,
    /// The coordinator's clock reading, the timestamp last-writer-wins compares.
    pub stamp_ms: i64,
    /// Its clock: exactly the writes it replaced, and itself.
    pub clock: CausalContext,
    /// When it was made, in virtual milliseconds.
    pub issued_at: Time,
    /// Where it stands with its client.
    pub status: WriteStatus,
    /// Milliseconds from the write until the client was told it succeeded.
    pub acked_after_ms: Option<Time>,
    /// How many of the key's replicas reflect it.
    pub reached: u32,
    /// Each replica that reflects it, and how many milliseconds after the write.
    pub arrivals: Vec<Arrival>,
    /// Milliseconds until every live replica reflected it, if that has happened.
    pub all_live_after_ms: Option<Time>,
    /// Milliseconds until every replica reflected it, if that has happened.
    pub all_after_ms: Option<Time>,
    /// Whether the write is lost: acknowledged, held nowhere, replaced knowingly by nothing.
    pub lost: bool,
}

/// When a write reached one replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Arrival {
    /// The replica.
    pub node: NodeId,
    /// Milliseconds after the write.
    pub after_ms: u32,
}

/// Where the ids after `a` begin in ascending `ids`. Searched from the end, doubling the step
/// (an exponential search): the caller asks about a recent write, so the answer is nearly
/// always in the last cache line, where a plain binary search would miss the cache at every
/// probe of a long history.
fn first_after(ids: &[WriteId], a: WriteId) -> usize {
    let mut hi = ids.len();
    let mut step = 1;
    // Every id in ids[hi..] is after `a`.
    while hi > 0 {
        let lo = hi.saturating_sub(step);
        if ids[lo] <= a {
            return lo + ids[lo..hi].partition_point(|id| *id <= a);
        }
        hi = lo;
        step *= 2;
    }
    0
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn searching_from_the_end_finds_what_a_binary_search_finds(
            mut ids in proptest::collection::vec(1u32..500, 0..200),
            a in 0u32..520,
        ) {
            ids.sort_unstable();
            ids.dedup();
            let ids: Vec<WriteId> = ids.into_iter().map(WriteId).collect();
            let a = WriteId(a);
            prop_assert_eq!(first_after(&ids, a), ids.partition_point(|id| *id <= a));
        }
    }

    /// The record of a forgotten write kept because it was its key's newest is let go when a
    /// newer write of the key is stored, and only then: not when the same write reaches
    /// another node, nor when an older one arrives late.
    #[test]
    fn the_kept_old_newest_goes_only_when_a_newer_write_is_stored() {
        let record = |id| WriteRecord {
            version: Rc::new(Version {
                write: WriteId(id),
                key: crate::ids::Key::new(KeyId(0), "k"),
                value: None,
                stamp: Stamp {
                    millis: 0,
                    node: NodeId(1),
                    seq: id,
                },
                context: CausalContext::new(),
                created: 0,
            }),
            issued_at: 0,
            after: 0,
            saw: 0,
            stored: true,
            reached: 1,
            acked: NOT_YET,
            all_live: NOT_YET,
            all: NOT_YET,
            status: WriteStatus::Sent,
        };
        let mut retained = BTreeMap::from([(WriteId(3), record(3))]);
        let mut latest = Some(WriteId(3));
        stored_newer(&mut latest, WriteId(3), &mut retained);
        stored_newer(&mut latest, WriteId(2), &mut retained);
        assert_eq!(latest, Some(WriteId(3)));
        assert!(retained.contains_key(&WriteId(3)), "still the newest");
        stored_newer(&mut latest, WriteId(5), &mut retained);
        assert_eq!(latest, Some(WriteId(5)));
        assert!(retained.is_empty());
    }

    /// A write the client was told was not made (unavailable, refused) is not on its way
    /// anywhere; every other status may be.
    #[test]
    fn only_unavailable_and_refused_wrote_nothing() {
        use WriteStatus::*;
        for (status, nothing) in [
            (Pending, false),
            (Acknowledged, false),
            (Sent, false),
            (Unavailable, true),
            (TimedOut, false),
            (Refused, true),
        ] {
            assert_eq!(status.wrote_nothing(), nothing, "{status:?}");
        }
    }
}
