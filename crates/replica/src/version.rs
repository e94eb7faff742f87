//! Versions of a key and the rules that choose between them: arrival order (the tutorial),
//! last writer wins (Cassandra) and version vectors with siblings (Dynamo, Riak).

use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::clock::{CausalContext, Dot, Stamp};
use crate::ids::{Key, WriteId};

/// A value, shared rather than copied between replicas and messages.
pub type Value = Rc<str>;

/// One version of one key: what a replica stores and what replication carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Which client write made this version.
    pub write: WriteId,
    /// The key written.
    pub key: Key,
    /// The value written, or None for a delete (a tombstone).
    pub value: Option<Value>,
    /// The write's timestamp; its node and counter are also the write's dot.
    pub stamp: Stamp,
    /// Under version vectors, what the writer knew of the key when it wrote, exactly: the
    /// versions it replaces. A client that read first passes the context it read (Riak); a write
    /// without one replaces nothing. Empty under the other rules, which keep no clocks.
    pub context: CausalContext,
    /// When the write was made, by its coordinator's clock (ms, skew included): each replica
    /// collects a tombstone once its own clock reads a grace period past it, as Cassandra does
    /// with the local deletion time a delete carries. No clock but the nodes' own is assumed.
    pub created: i64,
}

impl Version {
    /// The write's name in version vectors.
    pub fn dot(&self) -> Dot {
        self.stamp.dot()
    }

    /// Whether this is a delete.
    pub fn is_tombstone(&self) -> bool {
        self.value.is_none()
    }

    /// Everything this version knows: its context and itself.
    pub fn clock(&self) -> CausalContext {
        let mut clock = self.context.clone();
        clock.add(self.dot());
        clock
    }

    /// Adds what this version knows (its context and itself) to `clock`.
    pub fn known_into(&self, clock: &mut CausalContext) {
        clock.join(&self.context);
        clock.add(self.dot());
    }
}

/// The versions a replica holds for one key: none, one (always, but under version vectors),
/// or siblings. One version is kept inline, without a list to follow on every delivery; so it
/// also carries a key's versions in replies, repairs and answers without an allocation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Held {
    /// The key is not held.
    #[default]
    Nothing,
    /// One version.
    One(Rc<Version>),
    /// Siblings (version vectors), ordered by dot. Boxed, so that a key's slot, and a message
    /// carrying one, stays two words.
    Siblings(Box<Vec<Rc<Version>>>),
}

impl Held {
    /// The versions, as a slice.
    pub fn as_slice(&self) -> &[Rc<Version>] {
        match self {
            Held::Nothing => &[],
            Held::One(v) => std::slice::from_ref(v),
            Held::Siblings(vs) => vs.as_slice(),
        }
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        matches!(self, Held::Nothing)
    }

    /// Takes the versions out, leaving nothing.
    pub fn take(&mut self) -> Vec<Rc<Version>> {
        match std::mem::take(self) {
            Held::Nothing => Vec::new(),
            Held::One(v) => vec![v],
            Held::Siblings(vs) => *vs,
        }
    }

    /// Holds `versions`.
    pub fn set(&mut self, versions: Vec<Rc<Version>>) {
        *self = Held::from(versions);
    }
}

impl From<Vec<Rc<Version>>> for Held {
    fn from(mut versions: Vec<Rc<Version>>) -> Held {
        match versions.len() {
            0 => Held::Nothing,
            1 => Held::One(versions.pop().expect("one version")),
            _ => Held::Siblings(Box::new(versions)),
        }
    }
}

impl std::ops::Deref for Held {
    type Target = [Rc<Version>];

    fn deref(&self) -> &[Rc<Version>] {
        self.as_slice()
    }
}

/// How replicas choose between versions of a key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum ConflictMode {
    /// The tutorial's rule: keep whatever arrived last. Replicas can stay different forever.
    #[default]
    #[serde(rename = "arrival")]
    ArrivalOrder,
    /// Cassandra's rule: keep the version with the higher timestamp; ties go to the higher node id.
    #[serde(rename = "lww")]
    LastWriterWins,
    /// Dynamo's and Riak's (allow_mult): keep every version no other version's context covers;
    /// concurrent ones are siblings, for the client to reconcile.
    #[serde(rename = "vv")]
    VersionVectors,
    /// Riak's set data type: every key is an observed-remove set (add wins) whose replicas merge
    /// without siblings to resolve (see [`crate::crdt`]).
    #[serde(rename = "orset")]
    OrSet,
    /// Riak's counter data type: every key is a PN-counter (see [`crate::crdt`]).
    #[serde(rename = "counter")]
    Counter,
}

/// What happened when a version reached a key's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Merge {
    /// Whether the state now holds the version.
    pub stored: bool,
    /// If stored under last writer wins: the timestamp of the version it replaced.
    pub replaced: Option<Stamp>,
}

const NOT_STORED: Merge = Merge {
    stored: false,
    replaced: None,
};

impl ConflictMode {
    /// Whether versions carry clocks and a key keeps every version no other covers: version
    /// vectors and the data types built on them.
    pub fn keeps_siblings(self) -> bool {
        matches!(
            self,
            ConflictMode::VersionVectors | ConflictMode::OrSet | ConflictMode::Counter
        )
    }

    /// Whether every key is a data type that merges by itself (see [`crate::crdt`]).
    pub fn is_crdt(self) -> bool {
        matches!(self, ConflictMode::OrSet | ConflictMode::Counter)
    }

    /// Merges `incoming` into `held` (the versions a replica holds for one key: one, or under
    /// version vectors any number of siblings). `repair` is true for anti-entropy, which
    /// under arrival order may only fill in a key a replica lacks.
    pub fn merge(self, held: &mut Held, incoming: &Rc<Version>, repair: bool) -> Merge {
        let versions = held.as_slice();
        // The same write (a dot names one write of a key) is old news.
        if versions.iter().any(|v| v.dot() == incoming.dot()) {
            return NOT_STORED;
        }
        let replaced = versions.first().map(|v| v.stamp);
        match self {
            // Tutorial: `store[key] = value` on every /replicate call; a background
            // reconciliation has no version to compare, so it only fills in what is missing.
            ConflictMode::ArrivalOrder => {
                if repair && !versions.is_empty() {
                    return NOT_STORED;
                }
                *held = Held::One(incoming.clone());
                Merge {
                    stored: true,
                    replaced,
                }
            }
            // Cassandra: the cell with the higher write timestamp wins.
            ConflictMode::LastWriterWins => {
                if versions.first().is_some_and(|v| v.stamp >= incoming.stamp) {
                    return NOT_STORED;
                }
                *held = Held::One(incoming.clone());
                Merge {
                    stored: true,
                    replaced,
                }
            }
            // Dotted version vectors (Riak 2.0): a version already covered by what the replica
            // knows is old news; otherwise it joins, and replaces the siblings its context covers.
            // The data types keep the same kernel: only their contexts are chosen differently.
            ConflictMode::VersionVectors | ConflictMode::OrSet | ConflictMode::Counter => {
                if versions
                    .iter()
                    .any(|v| v.context.covers(incoming.dot()) || v.dot() == incoming.dot())
                {
                    return NOT_STORED;
                }
                // The common case, a write that knew the one version held, replaces it in place.
                if let Held::One(only) = held
                    && incoming.context.covers(only.dot())
                {
                    *held = Held::One(incoming.clone());
                    return Merge {
                        stored: true,
                        replaced: None,
                    };
                }
                let mut siblings = held.take();
                siblings.retain(|v| !incoming.context.covers(v.dot()));
                siblings.push(incoming.clone());
                siblings.sort_by_key(|v| v.stamp.dot());
                held.set(siblings);
                Merge {
                    stored: true,
                    replaced: None,
                }
            }
        }
    }

    /// Whether a replica holding `held` already reflects the write `other`: it holds it, or
    /// holds a version that replaced it knowingly, or under last writer wins one that beats it.
    pub fn reflects(self, held: &[Rc<Version>], other: &Version) -> bool {
        held.iter().any(|v| {
            v.dot() == other.dot()
                || v.context.covers(other.dot())
                || (self == ConflictMode::LastWriterWins && v.stamp > other.stamp)
        })
    }

    /// The versions of `mine` that `theirs` lacks or holds older: what anti-entropy sends back.
    pub fn newer_than(self, mine: &[Rc<Version>], theirs: &[Rc<Version>]) -> Vec<Rc<Version>> {
        match self {
            // Without versions, only a key the other side lacks can be offered.
            ConflictMode::ArrivalOrder if !theirs.is_empty() => Vec::new(),
            _ => mine
                .iter()
                .filter(|v| !self.reflects(theirs, v))
                .cloned()
                .collect(),
        }
    }
}

/// The join of the clocks of `versions`: the context a read returns (Riak's vclock).
pub fn context_of(versions: &[Rc<Version>]) -> CausalContext {
    let mut clock = CausalContext::new();
    for v in versions {
        v.known_into(&mut clock);
    }
    clock
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;

    fn version(
        write: u32,
        node: u32,
        seq: u32,
        millis: i64,
        context: &[(u32, u32)],
    ) -> Rc<Version> {
        Rc::new(Version {
            write: WriteId(write),
            key: Key::new(crate::ids::KeyId(0), "k"),
            value: Some(format!("v{write}").into()),
            stamp: Stamp {
                millis,
                node: NodeId(node),
                seq,
            },
            context: CausalContext::from(crate::clock::VersionVector::from_pairs(
                context.iter().map(|&(n, c)| (NodeId(n), c)),
            )),
            created: 0,
        })
    }

    fn writes(held: &[Rc<Version>]) -> Vec<u32> {
        held.iter().map(|v| v.write.0).collect()
    }

    #[test]
    fn one_version_is_held_inline_and_none_as_nothing() {
        let (a, b) = (version(1, 1, 1, 0, &[]), version(2, 2, 1, 0, &[]));
        let mut held = Held::from(vec![a.clone()]);
        assert_eq!(held, Held::One(a.clone()));
        assert!(!held.is_empty());
        held.set(vec![a.clone(), b.clone()]);
        assert!(matches!(&held, Held::Siblings(vs) if vs.len() == 2));
        assert_eq!(writes(&held.take()), [1, 2]);
        assert_eq!(held, Held::Nothing);
        assert!(held.is_empty());
        assert_eq!(Held::from(Vec::new()), Held::Nothing);
    }

    #[test]
    fn arrival_order_takes_the_last_arrival_but_repairs_only_gaps() {
        let mut held = Held::Nothing;
        let (a, b) = (version(1, 1, 1, 10, &[]), version(2, 2, 1, 5, &[]));
        assert!(
            ConflictMode::ArrivalOrder
                .merge(&mut held, &a, false)
                .stored
        );
        assert!(
            ConflictMode::ArrivalOrder
                .merge(&mut held, &b, false)
                .stored
        );
        assert_eq!(writes(held.as_slice()), vec![2]);
        assert!(!ConflictMode::ArrivalOrder.merge(&mut held, &a, true).stored);
        assert!(
            !ConflictMode::ArrivalOrder
                .merge(&mut held, &b, false)
                .stored,
            "a duplicate"
        );
    }

    #[test]
    fn last_writer_wins_keeps_the_highest_stamp() {
        let mut held = Held::Nothing;
        let (old, new) = (version(1, 1, 1, 10, &[]), version(2, 2, 1, 20, &[]));
        ConflictMode::LastWriterWins.merge(&mut held, &new, false);
        let m = ConflictMode::LastWriterWins.merge(&mut held, &old, false);
        assert!(!m.stored);
        assert_eq!(writes(held.as_slice()), vec![2]);
    }

    #[test]
    fn version_vectors_keep_concurrent_writes_as_siblings_and_a_context_resolves_them() {
        let vv = ConflictMode::VersionVectors;
        let mut held = Held::Nothing;
        let a = version(1, 1, 1, 10, &[]);
        let b = version(2, 2, 1, 5, &[]);
        vv.merge(&mut held, &a, false);
        vv.merge(&mut held, &b, false);
        assert_eq!(writes(held.as_slice()), vec![1, 2], "siblings");
        let ctx = context_of(held.as_slice());
        assert_eq!(ctx.to_string(), "{n1:1, n2:1}");
        let merged = version(3, 1, 2, 30, &[(1, 1), (2, 1)]);
        assert!(vv.merge(&mut held, &merged, false).stored);
        assert_eq!(
            writes(held.as_slice()),
            vec![3],
            "the context covered both siblings"
        );
        assert!(!vv.merge(&mut held, &a, false).stored, "old news stays out");
    }

    #[test]
    fn reflects_and_newer_than() {
        let lww = ConflictMode::LastWriterWins;
        let (old, new) = (version(1, 1, 1, 10, &[]), version(2, 2, 1, 20, &[]));
        assert!(lww.reflects(std::slice::from_ref(&new), &old));
        assert!(
            !ConflictMode::VersionVectors.reflects(std::slice::from_ref(&new), &old),
            "concurrent"
        );
        let knowing = version(3, 2, 2, 5, &[(1, 1)]);
        assert!(ConflictMode::ArrivalOrder.reflects(std::slice::from_ref(&knowing), &old));
        assert_eq!(
            writes(&lww.newer_than(std::slice::from_ref(&new), std::slice::from_ref(&old))),
            vec![2]
        );
        assert!(
            lww.newer_than(std::slice::from_ref(&old), std::slice::from_ref(&new))
                .is_empty()
        );
        assert!(
            ConflictMode::ArrivalOrder
                .newer_than(std::slice::from_ref(&new), &[old])
                .is_empty()
        );
        assert_eq!(
            writes(&ConflictMode::ArrivalOrder.newer_than(&[new], &[])),
            vec![2]
        );
    }
}
