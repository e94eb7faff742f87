//! The observer's record of every client write: where it has reached, when it reached every
//! replica, and whether it has been lost.
//!
//! Replicas know nothing of this; the simulation watches them from outside, as a test harness
//! (or Jepsen's checker) would.

use std::collections::BTreeSet;
use std::rc::Rc;

use serde::Serialize;

use crate::Time;
use crate::replica::{ConflictMode, KeyId, NodeId, Replica, Stamp, Version, WriteId};

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

    /// Adds `node`; returns whether it was new.
    pub fn insert(&mut self, node: NodeId) -> bool {
        let (w, b) = (node.index() / 64, node.index() % 64);
        let new = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        new
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

    /// Whether every node of `other` is in this set.
    pub fn is_superset(&self, other: &NodeSet) -> bool {
        self.words
            .iter()
            .zip(&other.words)
            .all(|(mine, theirs)| theirs & !mine == 0)
    }

    /// How many nodes the set holds.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|w| *w == 0)
    }
}

/// One client write as the observer follows it.
#[derive(Clone, Debug)]
pub struct WriteRecord {
    /// The version the write made.
    pub version: Rc<Version>,
    /// When the client made it.
    pub issued_at: Time,
    /// The write the origin node held for the key when it wrote (what it knowingly overwrote).
    pub overwrote: Option<WriteId>,
    /// How many nodes reflect this write: they received it, or (last writer wins) hold a
    /// version that beats it.
    pub reached: u32,
    /// The first moment every node that was up reflected it, if that has happened.
    pub all_live_at: Option<Time>,
    /// The first moment every node, up or down, reflected it, if that has happened.
    pub all_at: Option<Time>,
}

impl WriteRecord {
    /// The node that took the write.
    pub fn origin(&self) -> NodeId {
        self.version.stamp.node
    }
}

/// A version that reached a node.
#[derive(Clone, Copy, Debug)]
pub struct Receipt<'a> {
    /// The node it reached.
    pub node: NodeId,
    /// The version.
    pub version: &'a Version,
    /// Whether the node stored it.
    pub stored: bool,
    /// If stored: the timestamp of the version it replaced, if any.
    pub replaced: Option<Stamp>,
}

/// Which nodes are up, and how many.
#[derive(Clone, Debug)]
pub struct Live {
    /// The nodes that are up.
    pub nodes: NodeSet,
    /// How many they are.
    pub count: usize,
}

/// Every write of the run, with what is still being followed.
///
/// Cost matters here: the simulation reports every version that reaches every replica. Writes
/// not yet everywhere wait in a list per key sorted by timestamp, so that under last writer wins
/// a replica that now holds a version with timestamp `H` (replacing one with `P`) newly reflects
/// exactly the writes with timestamps in `(P, H]`: a binary search, not a scan. Which nodes
/// reflect which write is one bit array for all writes, next to each other in memory.
#[derive(Clone, Debug)]
pub struct WriteLog {
    marks: Marks,
    /// Writes not yet reflected at every node, by key id, sorted by timestamp.
    pending: Vec<Vec<(Stamp, WriteId)>>,
    /// The most recent write of each key, by key id.
    latest: Vec<Option<WriteId>>,
}

impl WriteLog {
    /// An empty log for a cluster of `nodes` nodes.
    pub fn new(nodes: usize) -> WriteLog {
        WriteLog {
            marks: Marks {
                nodes,
                words: nodes.div_ceil(64),
                records: Vec::new(),
                reached: Vec::new(),
            },
            pending: Vec::new(),
            latest: Vec::new(),
        }
    }

    /// The id the next write will get.
    pub fn next_id(&self) -> WriteId {
        WriteId(self.marks.records.len() as u32 + 1)
    }

    /// Records a new write, made at the origin already; marks every node whose store already
    /// reflects it (the origin, and under last writer wins any node holding a later timestamp).
    pub fn record(
        &mut self,
        now: Time,
        version: Rc<Version>,
        overwrote: Option<WriteId>,
        replicas: &[Replica],
        conflict: ConflictMode,
        live: &Live,
    ) {
        let id = version.write;
        debug_assert_eq!(id, self.next_id());
        let key = version.key.index();
        if key >= self.latest.len() {
            self.latest.resize(key + 1, None);
            self.pending.resize(key + 1, Vec::new());
        }
        let pending = &mut self.pending[key];
        let at = pending.partition_point(|(stamp, _)| *stamp <= version.stamp);
        pending.insert(at, (version.stamp, id));
        self.latest[key] = Some(id);
        let marks = &mut self.marks;
        marks.reached.extend(std::iter::repeat_n(0, marks.words));
        marks.records.push(WriteRecord {
            version: version.clone(),
            issued_at: now,
            overwrote,
            reached: 0,
            all_live_at: None,
            all_at: None,
        });
        for replica in replicas {
            if replica
                .get(version.key)
                .is_some_and(|held| conflict.covers(held, &version))
            {
                self.marks.mark(id, replica.id(), now, live);
            }
        }
        self.drop_complete(version.key);
    }

    /// Every write, oldest first.
    pub fn all(&self) -> &[WriteRecord] {
        &self.marks.records
    }

    /// One write.
    pub fn get(&self, id: WriteId) -> Option<&WriteRecord> {
        self.marks.records.get((id.0 as usize).checked_sub(1)?)
    }

    /// The most recent write of `key`, if it was ever written.
    pub fn latest(&self, key: KeyId) -> Option<&WriteRecord> {
        self.latest
            .get(key.index())
            .copied()
            .flatten()
            .and_then(|id| self.get(id))
    }

    /// A version reached a node (see [`Receipt`]): marks the writes the node now reflects.
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
            stored,
            replaced,
        } = receipt;
        let Some(pending) = self.pending.get(version.key.index()) else {
            return;
        };
        let range = if stored && conflict == ConflictMode::LastWriterWins {
            // Last writer wins: the node now reflects every write up to the stored timestamp.
            let from = replaced.map_or(0, |p| pending.partition_point(|(s, _)| *s <= p));
            from..pending.partition_point(|(s, _)| *s <= version.stamp)
        } else {
            // Otherwise only the write that arrived is newly reflected.
            let at = pending.partition_point(|(s, _)| *s < version.stamp);
            at..(at + 1).min(pending.len())
        };
        let every = stored && conflict == ConflictMode::LastWriterWins;
        let mut completed = false;
        for &(_, id) in &pending[range] {
            if every || id == version.write {
                completed |= self.marks.mark(id, node, now, live);
            }
        }
        if completed {
            self.drop_complete(version.key);
        }
    }

    /// The set of live nodes shrank (a crash): writes that every remaining live node reflects
    /// are now complete.
    pub fn on_live_changed(&mut self, now: Time, live: &Live) {
        for key in 0..self.pending.len() {
            for i in 0..self.pending[key].len() {
                let id = self.pending[key][i].1;
                self.marks.update_completion(id, now, live);
            }
        }
    }

    /// The conflict rule changed: under last writer wins, nodes holding a later timestamp now
    /// reflect earlier writes they never received.
    pub fn on_conflict_changed(
        &mut self,
        now: Time,
        replicas: &[Replica],
        conflict: ConflictMode,
        live: &Live,
    ) {
        for key in 0..self.pending.len() {
            for i in 0..self.pending[key].len() {
                let id = self.pending[key][i].1;
                let version = self.marks.records[id.0 as usize - 1].version.clone();
                for replica in replicas {
                    if replica
                        .get(version.key)
                        .is_some_and(|held| conflict.covers(held, &version))
                    {
                        self.marks.mark(id, replica.id(), now, live);
                    }
                }
            }
            self.drop_complete(KeyId(key as u32));
        }
    }

    /// Stops following the writes of `key` that every node reflects.
    fn drop_complete(&mut self, key: KeyId) {
        let records = &self.marks.records;
        self.pending[key.index()].retain(|(_, id)| records[id.0 as usize - 1].all_at.is_none());
    }

    /// Whether write `id` is lost (see [`WriteLog::lost`]), looking at its key only.
    pub fn is_lost(&self, id: WriteId, replicas: &[Replica]) -> bool {
        let Some(record) = self.get(id) else {
            return false;
        };
        !replicas.iter().any(|replica| {
            let mut next = replica.get(record.version.key).map(|v| v.write);
            while let Some(held) = next {
                // Chains only go back in time: stop once past the write.
                if held == id {
                    return true;
                }
                if held < id {
                    return false;
                }
                next = self.get(held).and_then(|r| r.overwrote);
            }
            false
        })
    }

    /// Writes that no replica holds and that no held version knowingly overwrote: they were
    /// acknowledged and are gone. Down nodes count as holding what their store keeps.
    pub fn lost(&self, replicas: &[Replica]) -> Vec<WriteId> {
        // Everything a held version descends from is accounted for (chains stay within a key).
        let mut accounted = BTreeSet::new();
        for replica in replicas {
            for held in replica.versions() {
                let mut next = Some(held.write);
                while let Some(id) = next {
                    if !accounted.insert(id) {
                        break;
                    }
                    next = self.get(id).and_then(|r| r.overwrote);
                }
            }
        }
        self.marks
            .records
            .iter()
            .map(|r| r.version.write)
            .filter(|id| !accounted.contains(id))
            .collect()
    }
}

/// Every write's record, and which nodes reflect it: `words` words per write, bit `n` set
/// when node `n` reflects the write.
#[derive(Clone, Debug)]
struct Marks {
    nodes: usize,
    words: usize,
    records: Vec<WriteRecord>,
    reached: Vec<u64>,
}

impl Marks {
    /// Notes that `node` reflects write `id`; returns whether the write is now everywhere.
    #[inline]
    fn mark(&mut self, id: WriteId, node: NodeId, now: Time, live: &Live) -> bool {
        let index = id.0 as usize - 1;
        let word = &mut self.reached[index * self.words + node.index() / 64];
        let bit = 1 << (node.index() % 64);
        if *word & bit == 0 {
            *word |= bit;
            self.records[index].reached += 1;
            self.update_completion(id, now, live);
        }
        self.records[index].all_at.is_some()
    }

    fn update_completion(&mut self, id: WriteId, now: Time, live: &Live) {
        let index = id.0 as usize - 1;
        let record = &mut self.records[index];
        let reached = record.reached as usize;
        if record.all_live_at.is_none() && reached >= live.count {
            let bits = &self.reached[index * self.words..(index + 1) * self.words];
            if bits.iter().zip(&live.nodes.words).all(|(r, l)| l & !r == 0) {
                record.all_live_at = Some(now);
            }
        }
        if record.all_at.is_none() && reached == self.nodes {
            record.all_at = Some(now);
        }
    }
}

/// A write as the page and the API show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteView {
    /// Its number (1 for w1).
    pub id: WriteId,
    /// The node that took it.
    pub node: NodeId,
    /// The key written.
    pub key: String,
    /// The value written.
    pub value: String,
    /// The origin's clock reading, the timestamp last-writer-wins compares.
    pub stamp_ms: i64,
    /// When it was made, in virtual milliseconds.
    pub issued_at: Time,
    /// How many nodes reflect it.
    pub reached: usize,
    /// Milliseconds from the write until every live node held it, if that has happened.
    pub all_live_after_ms: Option<Time>,
    /// Milliseconds from the write until every node held it, if that has happened.
    pub all_after_ms: Option<Time>,
    /// Whether the write is lost: held nowhere and knowingly overwritten by nobody.
    pub lost: bool,
}
