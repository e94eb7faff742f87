//! The observer's record of every client write: where it has reached, when it reached every
//! replica, and whether it has been lost.
//!
//! Replicas know nothing of this; the simulation watches them from outside, as a test harness
//! (or Jepsen's checker) would.

use std::collections::BTreeMap;
use std::rc::Rc;

use serde::Serialize;

use crate::Time;
use crate::replica::{ConflictMode, Key, NodeId, Replica, Version, WriteId};

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
    /// Nodes whose store reflects this write: they received it, or (last writer wins) hold
    /// a version that beats it.
    pub reached: NodeSet,
    /// The first moment every node that was up held it, if that has happened.
    pub all_live_at: Option<Time>,
    /// The first moment every node, up or down, held it, if that has happened.
    pub all_at: Option<Time>,
}

impl WriteRecord {
    /// The node that took the write.
    pub fn origin(&self) -> NodeId {
        self.version.stamp.node
    }
}

/// Every write of the run, with what is still being followed.
#[derive(Clone, Debug)]
pub struct WriteLog {
    nodes: usize,
    records: Vec<WriteRecord>,
    /// Writes not yet reflected at every node, by key.
    pending: BTreeMap<Key, Vec<WriteId>>,
    /// The most recent write of each key.
    latest: BTreeMap<Key, WriteId>,
}

impl WriteLog {
    /// An empty log for a cluster of `nodes` nodes.
    pub fn new(nodes: usize) -> WriteLog {
        WriteLog {
            nodes,
            records: Vec::new(),
            pending: BTreeMap::new(),
            latest: BTreeMap::new(),
        }
    }

    /// The id the next write will get.
    pub fn next_id(&self) -> WriteId {
        WriteId(self.records.len() as u32 + 1)
    }

    /// Records a new write (before it is applied anywhere).
    pub fn record(&mut self, version: Rc<Version>, issued_at: Time, overwrote: Option<WriteId>) {
        let id = version.write;
        debug_assert_eq!(id, self.next_id());
        self.pending
            .entry(version.key.clone())
            .or_default()
            .push(id);
        self.latest.insert(version.key.clone(), id);
        self.records.push(WriteRecord {
            version,
            issued_at,
            overwrote,
            reached: NodeSet::new(self.nodes),
            all_live_at: None,
            all_at: None,
        });
    }

    /// Every write, oldest first.
    pub fn all(&self) -> &[WriteRecord] {
        &self.records
    }

    /// One write.
    pub fn get(&self, id: WriteId) -> Option<&WriteRecord> {
        self.records.get((id.0 as usize).checked_sub(1)?)
    }

    /// The most recent write of `key`, if it was ever written.
    pub fn latest(&self, key: &str) -> Option<&WriteRecord> {
        self.latest.get(key).and_then(|id| self.get(*id))
    }

    /// Every key ever written, in order.
    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.latest.keys()
    }

    /// `version` reached `node`, which now holds `held` for that key. Marks every pending write
    /// of the key that `node` now reflects, and notes the moments they became complete.
    pub fn on_received(
        &mut self,
        now: Time,
        node: NodeId,
        version: &Version,
        held: &Version,
        conflict: ConflictMode,
        live: &NodeSet,
    ) {
        let Some(pending) = self.pending.get_mut(&version.key) else {
            return;
        };
        let (records, nodes) = (&mut self.records, self.nodes);
        match conflict {
            // Arrival order: nothing but the write itself reflects a write.
            ConflictMode::ArrivalOrder => {
                if mark(records, version.write, node, now, live, nodes) {
                    pending.retain(|id| *id != version.write);
                }
            }
            // Last writer wins: holding a version that beats a write reflects it too.
            ConflictMode::LastWriterWins => pending.retain(|id| {
                let reflected = *id == version.write
                    || conflict.covers(held, &records[id.0 as usize - 1].version);
                !(reflected && mark(records, *id, node, now, live, nodes))
            }),
        }
        if pending.is_empty() {
            self.pending.remove(&version.key);
        }
    }

    /// The set of live nodes shrank (a crash): writes that every remaining live node holds are
    /// now complete.
    pub fn on_live_changed(&mut self, now: Time, live: &NodeSet) {
        for ids in self.pending.values() {
            for id in ids {
                update_completion(&mut self.records[id.0 as usize - 1], now, live, self.nodes);
            }
        }
    }

    /// Writes that no replica holds and that no held version knowingly overwrote: they were
    /// acknowledged and are gone. Down nodes count as holding what their store keeps.
    pub fn lost(&self, replicas: &[Replica]) -> Vec<WriteId> {
        // Everything a held version descends from is accounted for (chains stay within a key).
        let mut accounted = std::collections::BTreeSet::new();
        for key in self.latest.keys() {
            for replica in replicas {
                let mut next = replica.get(key).map(|v| v.write);
                while let Some(id) = next {
                    if !accounted.insert(id) {
                        break;
                    }
                    next = self.get(id).and_then(|r| r.overwrote);
                }
            }
        }
        self.records
            .iter()
            .map(|r| r.version.write)
            .filter(|id| !accounted.contains(id))
            .collect()
    }
}

/// Notes that `node` reflects write `id`; returns whether the write is now reflected everywhere.
fn mark(
    records: &mut [WriteRecord],
    id: WriteId,
    node: NodeId,
    now: Time,
    live: &NodeSet,
    nodes: usize,
) -> bool {
    let record = &mut records[id.0 as usize - 1];
    if record.reached.insert(node) {
        update_completion(record, now, live, nodes);
    }
    record.all_at.is_some()
}

fn update_completion(record: &mut WriteRecord, now: Time, live: &NodeSet, nodes: usize) {
    if record.all_live_at.is_none() && record.reached.is_superset(live) {
        record.all_live_at = Some(now);
    }
    if record.all_at.is_none() && record.reached.len() == nodes {
        record.all_at = Some(now);
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
