//! Logical clocks: the timestamp last-writer-wins compares, the dot that names one write, and
//! version vectors that record what a write knew.

use std::fmt;

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::replica::NodeId;

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

    /// The write's dot: its node and that node's counter.
    pub fn dot(self) -> Dot {
        Dot {
            node: self.node,
            counter: self.seq,
        }
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

/// One write's name in version vectors: the node that made it and that node's counter
/// (the "dot" of dotted version vectors, Preguiça et al.; Riak 2.0).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
pub struct Dot {
    /// The node that made the write.
    pub node: NodeId,
    /// How many writes that node had made, this one included.
    pub counter: u32,
}

impl fmt::Display for Dot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.node, self.counter)
    }
}

/// A version vector: for each node, the highest counter of its writes that is known.
/// Entries are sorted by node and never zero.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector {
    entries: Vec<(NodeId, u32)>,
}

impl VersionVector {
    /// The empty vector: knows nothing.
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// A vector from (node, counter) pairs in any order; the largest counter per node is kept.
    pub fn from_pairs(pairs: impl IntoIterator<Item = (NodeId, u32)>) -> VersionVector {
        let mut v = VersionVector::new();
        for (node, counter) in pairs {
            v.add(Dot { node, counter });
        }
        v
    }

    /// The counter known for `node` (0 if none).
    pub fn get(&self, node: NodeId) -> u32 {
        match self.entries.binary_search_by_key(&node, |(n, _)| *n) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Whether the write `dot` is known.
    pub fn covers(&self, dot: Dot) -> bool {
        self.get(dot.node) >= dot.counter
    }

    /// Records that `dot` is known (and so every earlier write of its node).
    pub fn add(&mut self, dot: Dot) {
        if dot.counter == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&dot.node, |(n, _)| *n) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.max(dot.counter),
            Err(i) => self.entries.insert(i, (dot.node, dot.counter)),
        }
    }

    /// Everything `other` knows is now known here too.
    pub fn join(&mut self, other: &VersionVector) {
        if other.entries.is_empty() {
            return;
        }
        if self.entries.is_empty() {
            self.entries.extend_from_slice(&other.entries);
            return;
        }
        // Both lists are sorted by node: merge passes, not a search per entry. Usually `other`
        // names no node this vector lacks, and the counters are raised in place.
        let (mut i, mut fresh) = (0, false);
        for &(node, counter) in &other.entries {
            while i < self.entries.len() && self.entries[i].0 < node {
                i += 1;
            }
            match self.entries.get_mut(i) {
                Some((n, c)) if *n == node => *c = (*c).max(counter),
                _ => fresh = true,
            }
        }
        if !fresh {
            return;
        }
        let (mine, theirs) = (&self.entries, &other.entries);
        let mut joined = Vec::with_capacity(mine.len().max(theirs.len()));
        let (mut i, mut j) = (0, 0);
        while i < mine.len() && j < theirs.len() {
            let ((a, x), (b, y)) = (mine[i], theirs[j]);
            joined.push(match a.cmp(&b) {
                std::cmp::Ordering::Less => {
                    i += 1;
                    (a, x)
                }
                std::cmp::Ordering::Greater => {
                    j += 1;
                    (b, y)
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    (a, x.max(y))
                }
            });
        }
        joined.extend_from_slice(&mine[i..]);
        joined.extend_from_slice(&theirs[j..]);
        self.entries = joined;
    }

    /// Whether this vector knows everything `other` knows.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        other.entries.iter().all(|&(n, c)| self.get(n) >= c)
    }

    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The (node, counter) pairs, by node.
    pub fn entries(&self) -> &[(NodeId, u32)] {
        &self.entries
    }
}

impl fmt::Display for VersionVector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (node, counter)) in self.entries.iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{node}:{counter}")?;
        }
        f.write_str("}")
    }
}

impl Serialize for VersionVector {
    /// As an object keyed by node id: `{"1": 3, "2": 1}`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (node, counter) in &self.entries {
            map.serialize_entry(&node.0.to_string(), counter)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for VersionVector {
    /// From an object keyed by node id: `{"1": 3, "2": 1}`.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, u32>::deserialize(deserializer)?;
        let mut v = VersionVector::new();
        for (node, counter) in raw {
            let id = node
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|id| *id >= 1)
                .ok_or_else(|| serde::de::Error::custom(format!("\"{node}\" is not a node id")))?;
            v.add(Dot {
                node: NodeId(id),
                counter,
            });
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(node: u32, counter: u32) -> Dot {
        Dot {
            node: NodeId(node),
            counter,
        }
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
    fn a_vector_covers_the_dots_it_has_seen_and_earlier_ones() {
        let mut v = VersionVector::new();
        v.add(dot(2, 3));
        assert!(v.covers(dot(2, 1)) && v.covers(dot(2, 3)));
        assert!(!v.covers(dot(2, 4)));
        assert!(!v.covers(dot(1, 1)));
        v.add(dot(2, 1));
        assert_eq!(v.get(NodeId(2)), 3, "adding an older dot changes nothing");
    }

    #[test]
    fn join_and_dominance() {
        let a = VersionVector::from_pairs([(NodeId(1), 2), (NodeId(3), 1)]);
        let b = VersionVector::from_pairs([(NodeId(1), 1), (NodeId(2), 5)]);
        assert!(!a.dominates(&b) && !b.dominates(&a), "concurrent");
        let mut j = a.clone();
        j.join(&b);
        assert_eq!(
            j.entries(),
            &[(NodeId(1), 2), (NodeId(2), 5), (NodeId(3), 1)]
        );
        assert!(j.dominates(&a) && j.dominates(&b));
        assert!(VersionVector::new().dominates(&VersionVector::new()));
        assert_eq!(j.to_string(), "{n1:2, n2:5, n3:1}");
    }
}
