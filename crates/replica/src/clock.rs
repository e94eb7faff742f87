//! Logical clocks: the timestamp last-writer-wins compares, the dot that names one write, and
//! version vectors that record what a write knew.

use std::fmt;

use std::collections::BTreeMap;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::NodeId;

/// A write's timestamp for last-writer-wins: the writing node's clock reading, then its id,
/// then the node's counter of writes of the key, so that two writes of one node in one
/// millisecond keep their order. Ordered field by field.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stamp {
    /// The writing node's clock in milliseconds (virtual time plus that node's skew).
    pub millis: i64,
    /// The writing node: among equal clock readings the higher id wins.
    pub node: NodeId,
    /// The writing node's own counter of writes of this key.
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

/// One write's name in version vectors: the node that made it and that node's counter of
/// writes of the key (the "dot" of dotted version vectors, Preguiça et al.; Riak 2.0).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dot {
    /// The node that made the write.
    pub node: NodeId,
    /// How many writes of the key that node had made, this one included.
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

/// A causal context: exactly the writes of one key that a version or a read has seen. Every
/// write of a node up to a counter is kept as a version vector; writes seen beyond a gap (a
/// later write of a node seen without an earlier one) are kept as dots of their own, the "dot
/// cloud" (the dotted causal context of delta-CRDTs, Almeida, Shoker and Baquero, 2018).
///
/// A plain version vector cannot say "node 1's second write but not its first": `{n1:2}` would
/// claim both, and a write made with that context would replace the first write although its
/// client never saw it. With exact contexts a write replaces only what its client saw, however
/// the versions travelled (one write at a time, a rumor, a repair, a hint, a sync).
///
/// Dots are counted per node and key, so a key's history seen without gaps folds into the
/// vector: a cloud is only as large as the gaps a replica has not yet filled.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CausalContext {
    vector: VersionVector,
    /// Dots beyond the vector, sorted; none is covered by the vector, nor next to its counter
    /// (such a dot folds into the vector). Usually there are none: a pointer that is null
    /// then keeps every version small (one is kept per write).
    #[allow(clippy::box_collection)] // one null word in the common case, not three
    cloud: Option<Box<Vec<Dot>>>,
}

impl CausalContext {
    /// The empty context: has seen nothing.
    pub fn new() -> CausalContext {
        CausalContext::default()
    }

    /// The dots `dots`, in any order.
    pub fn from_dots(dots: impl IntoIterator<Item = Dot>) -> CausalContext {
        let mut context = CausalContext::new();
        for dot in dots {
            context.add(dot);
        }
        context
    }

    /// Whether the write `dot` was seen.
    #[inline]
    pub fn covers(&self, dot: Dot) -> bool {
        self.vector.covers(dot)
            || self
                .cloud
                .as_ref()
                .is_some_and(|c| c.binary_search(&dot).is_ok())
    }

    /// Records that `dot` was seen (and only it: not the writes of its node before it); returns
    /// whether it was new.
    pub fn add(&mut self, dot: Dot) -> bool {
        if dot.counter == 0 || self.covers(dot) {
            return false;
        }
        if dot.counter == self.vector.get(dot.node) + 1 {
            self.vector.add(dot);
            self.fold(dot.node);
        } else {
            let cloud = self.cloud.get_or_insert_with(Box::default);
            let at = cloud.partition_point(|d| *d < dot);
            cloud.insert(at, dot);
        }
        true
    }

    /// Moves the dots of `node` that now continue its vector entry into the vector.
    fn fold(&mut self, node: NodeId) {
        let Some(cloud) = self.cloud.as_mut() else {
            return;
        };
        let start = cloud.partition_point(|d| d.node < node);
        let mut end = start;
        while let Some(d) = cloud.get(end)
            && d.node == node
            && d.counter <= self.vector.get(node) + 1
        {
            self.vector.add(*d);
            end += 1;
        }
        cloud.drain(start..end);
        if cloud.is_empty() {
            self.cloud = None;
        }
    }

    /// Everything `other` has seen is now seen here too.
    pub fn join(&mut self, other: &CausalContext) {
        self.vector.join(&other.vector);
        if self.cloud.is_none() && other.cloud.is_none() {
            return;
        }
        let mut cloud = self.cloud.take().map_or_else(Vec::new, |c| *c);
        cloud.extend_from_slice(other.cloud());
        cloud.sort_unstable();
        cloud.dedup();
        for dot in cloud {
            self.add(dot);
        }
    }

    /// Whether nothing was seen.
    pub fn is_empty(&self) -> bool {
        self.vector.is_empty() && self.cloud.is_none()
    }

    /// How many numbers it takes: vector entries and dots beyond them.
    pub fn len(&self) -> usize {
        self.vector.entries().len() + self.cloud().len()
    }

    /// The writes seen without gaps: for each node, every write up to a counter.
    pub fn vector(&self) -> &VersionVector {
        &self.vector
    }

    /// The writes seen beyond the vector, sorted.
    pub fn cloud(&self) -> &[Dot] {
        self.cloud.as_deref().map_or(&[], Vec::as_slice)
    }

    /// Every node named, with its vector counter (0 if none) and its dots beyond it.
    fn by_node(&self) -> Vec<(NodeId, u32, Vec<u32>)> {
        let mut nodes: Vec<(NodeId, u32, Vec<u32>)> = self
            .vector
            .entries()
            .iter()
            .map(|&(n, c)| (n, c, Vec::new()))
            .collect();
        for dot in self.cloud() {
            match nodes.binary_search_by_key(&dot.node, |(n, _, _)| *n) {
                Ok(i) => nodes[i].2.push(dot.counter),
                Err(i) => nodes.insert(i, (dot.node, 0, vec![dot.counter])),
            }
        }
        nodes
    }
}

impl From<VersionVector> for CausalContext {
    fn from(vector: VersionVector) -> CausalContext {
        CausalContext {
            vector,
            cloud: None,
        }
    }
}

impl fmt::Display for CausalContext {
    /// `{n1:2, n3:+5}`: node 1's writes 1 and 2, and node 3's fifth alone; `n2:1+4` is node 2's
    /// first and fourth.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (node, counter, beyond)) in self.by_node().into_iter().enumerate() {
            let sep = if i == 0 { "" } else { ", " };
            write!(f, "{sep}{node}:")?;
            if counter > 0 {
                write!(f, "{counter}")?;
            }
            for dot in beyond {
                write!(f, "+{dot}")?;
            }
        }
        f.write_str("}")
    }
}

/// One node's part of a context in JSON: a counter (every write up to it), or a list whose
/// first number is that counter and the rest the dots seen beyond it.
#[derive(Serialize)]
#[serde(untagged)]
enum NodePart {
    Upto(u32),
    WithDots(Vec<u32>),
}

impl<'de> Deserialize<'de> for NodePart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PartVisitor;
        impl<'de> serde::de::Visitor<'de> for PartVisitor {
            type Value = NodePart;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a write counter (a whole number), or a list [counter, dots beyond it...]",
                )
            }

            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodePart, E> {
                u32::try_from(v)
                    .map(NodePart::Upto)
                    .map_err(|_| E::custom(format!("counter {v} is too large")))
            }

            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<NodePart, A::Error> {
                let mut list = Vec::new();
                while let Some(counter) = seq.next_element::<u32>()? {
                    if list.len() > MAX_CLOUD {
                        return Err(serde::de::Error::custom(format!(
                            "more than {MAX_CLOUD} dots beyond the vector"
                        )));
                    }
                    list.push(counter);
                }
                Ok(NodePart::WithDots(list))
            }
        }
        deserializer.deserialize_any(PartVisitor)
    }
}

impl Serialize for CausalContext {
    /// As an object keyed by node id: `{"1": 2, "3": [0, 5]}` (node 1's writes 1 and 2, node 3's
    /// fifth alone).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let nodes = self.by_node();
        let mut map = serializer.serialize_map(Some(nodes.len()))?;
        for (node, counter, beyond) in nodes {
            let part = if beyond.is_empty() {
                NodePart::Upto(counter)
            } else {
                NodePart::WithDots(std::iter::once(counter).chain(beyond).collect())
            };
            map.serialize_entry(&node.0.to_string(), &part)?;
        }
        map.end()
    }
}

/// The most dots a context read from outside may name beyond its vector (a context from a read
/// names as many as the gaps its replica had: a handful).
const MAX_CLOUD: usize = 4096;

impl<'de> Deserialize<'de> for CausalContext {
    /// From an object keyed by node id: `{"1": 2, "3": [0, 5]}`; a plain version vector
    /// (`{"1": 2}`) is a context without gaps.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, NodePart>::deserialize(deserializer)?;
        let mut context = CausalContext::new();
        let mut dots = 0;
        for (node, part) in raw {
            let node = node
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|id| *id >= 1)
                .map(NodeId)
                .ok_or_else(|| serde::de::Error::custom(format!("\"{node}\" is not a node id")))?;
            let (counter, beyond) = match part {
                NodePart::Upto(counter) => (counter, Vec::new()),
                NodePart::WithDots(list) => match list.split_first() {
                    Some((counter, beyond)) => (*counter, beyond.to_vec()),
                    None => {
                        return Err(serde::de::Error::custom(format!(
                            "node {}: an empty list (give a counter, or [counter, dots beyond it...])",
                            node.0
                        )));
                    }
                },
            };
            dots += beyond.len();
            if dots > MAX_CLOUD {
                return Err(serde::de::Error::custom(format!(
                    "more than {MAX_CLOUD} dots beyond the vector"
                )));
            }
            context.vector.add(Dot { node, counter });
            for counter in beyond {
                if counter == 0 {
                    return Err(serde::de::Error::custom(format!(
                        "node {}: dot 0 (counters start at 1)",
                        node.0
                    )));
                }
                context.add(Dot { node, counter });
            }
        }
        Ok(context)
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
    fn a_context_is_empty_until_it_has_seen_a_write() {
        assert!(VersionVector::default().is_empty());
        assert!(CausalContext::new().is_empty());
        let mut gap = CausalContext::new();
        gap.add(dot(2, 3));
        assert!(!gap.is_empty(), "a dot beyond the vector");
        assert!(gap.vector().is_empty());
        let mut run = CausalContext::new();
        run.add(dot(1, 1));
        assert!(!run.is_empty() && !run.vector().is_empty());
    }

    #[test]
    fn a_dot_that_closes_a_gap_folds_its_node_and_only_its_node_into_the_vector() {
        let mut c = CausalContext::new();
        for d in [dot(1, 3), dot(2, 2), dot(2, 3), dot(3, 2), dot(2, 5)] {
            assert!(c.add(d));
        }
        assert!(c.vector().is_empty());
        assert!(c.add(dot(2, 1)));
        assert_eq!(c.vector().entries(), &[(NodeId(2), 3)]);
        assert_eq!(c.cloud(), &[dot(1, 3), dot(2, 5), dot(3, 2)]);
        assert_eq!(c.len(), 4, "one entry and three dots");
        assert!(!c.add(dot(2, 2)), "already seen");
        assert!(c.add(dot(1, 1)) && c.add(dot(1, 2)));
        assert_eq!(c.vector().entries(), &[(NodeId(1), 3), (NodeId(2), 3)]);
        assert_eq!(c.cloud(), &[dot(2, 5), dot(3, 2)]);
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod context_tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn dot(node: u32, counter: u32) -> Dot {
        Dot {
            node: NodeId(node),
            counter,
        }
    }

    #[test]
    fn a_context_covers_exactly_the_dots_it_saw() {
        // The issue's read: node 1's second write of the key, seen without its first.
        let seen = CausalContext::from_dots([dot(1, 2)]);
        assert!(seen.covers(dot(1, 2)));
        assert!(
            !seen.covers(dot(1, 1)),
            "a plain vector {{n1:2}} would claim this"
        );
        assert_eq!(seen.to_string(), "{n1:+2}");
        let mut filled = seen.clone();
        filled.add(dot(1, 1));
        assert_eq!(
            filled.to_string(),
            "{n1:2}",
            "the gap closed: it folds into the vector"
        );
        assert!(filled.cloud().is_empty());
    }

    #[test]
    fn json_names_the_dots_beyond_the_vector() {
        let context =
            CausalContext::from_dots([dot(1, 1), dot(1, 2), dot(3, 5), dot(2, 1), dot(2, 4)]);
        let json = serde_json::to_string(&context).unwrap();
        assert_eq!(json, r#"{"1":2,"2":[1,4],"3":[0,5]}"#);
        let back: CausalContext = serde_json::from_str(&json).unwrap();
        assert_eq!(back, context);
        let plain: CausalContext = serde_json::from_str(r#"{"1": 2}"#).unwrap();
        assert_eq!(plain, CausalContext::from_dots([dot(1, 1), dot(1, 2)]));
        for (bad, says) in [
            (r#"{"0": 1}"#, "\"0\" is not a node id"),
            (r#"{"x": 1}"#, "\"x\" is not a node id"),
            (r#"{"1": []}"#, "node 1: an empty list"),
            (r#"{"1": [0, 0]}"#, "node 1: dot 0"),
            (
                r#"{"1": -1}"#,
                "expected a write counter (a whole number), or a list",
            ),
            (
                r#"{"1": "2"}"#,
                "expected a write counter (a whole number), or a list",
            ),
        ] {
            let err = serde_json::from_str::<CausalContext>(bad)
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn json_contexts_name_at_most_4096_dots_beyond_the_vector() {
        // Dots 2, 4, 6, ... beyond a counter of 0: each one a gap.
        let list = |node: u32, dots: usize| {
            let counters: Vec<String> = (1..=dots).map(|i| (2 * i).to_string()).collect();
            format!("\"{node}\": [0, {}]", counters.join(", "))
        };
        let parse = |json: String| serde_json::from_str::<CausalContext>(&json);
        let full = parse(format!("{{{}}}", list(1, MAX_CLOUD))).unwrap();
        assert_eq!(full.cloud().len(), MAX_CLOUD);
        let over = parse(format!("{{{}}}", list(1, MAX_CLOUD + 1))).unwrap_err();
        assert!(over.to_string().contains("more than 4096 dots"), "{over}");
        // The bound is over all nodes together.
        let half = MAX_CLOUD / 2;
        let both = parse(format!("{{{}, {}}}", list(1, half), list(2, half))).unwrap();
        assert_eq!(both.cloud().len(), MAX_CLOUD);
        let across = parse(format!("{{{}, {}}}", list(1, half), list(2, half + 1))).unwrap_err();
        assert!(
            across.to_string().contains("more than 4096 dots"),
            "{across}"
        );
    }

    fn dots() -> impl Strategy<Value = Vec<Dot>> {
        prop::collection::vec((1u32..4, 1u32..9).prop_map(|(n, c)| dot(n, c)), 0..14)
    }

    proptest! {
        /// A context is the set of dots added to it, however it is stored: checked against a
        /// plain set, for adds, joins and the JSON round trip.
        #[test]
        fn a_context_is_the_set_of_its_dots(a in dots(), b in dots()) {
            let (left, right) = (CausalContext::from_dots(a.clone()), CausalContext::from_dots(b.clone()));
            let mut joined = left.clone();
            joined.join(&right);
            let model: BTreeSet<Dot> = a.iter().chain(&b).copied().collect();
            for node in 1..5 {
                for counter in 1..11 {
                    let d = dot(node, counter);
                    prop_assert_eq!(joined.covers(d), model.contains(&d), "{} {}", joined, d);
                    prop_assert_eq!(left.covers(d), a.contains(&d));
                }
            }
            prop_assert_eq!(&joined, &CausalContext::from_dots(model.iter().copied()), "one form per set");
            prop_assert!(joined.cloud().windows(2).all(|w| w[0] < w[1]));
            prop_assert!(joined.cloud().iter().all(|d| d.counter > joined.vector().get(d.node) + 1));
            let json = serde_json::to_string(&joined).unwrap();
            prop_assert_eq!(serde_json::from_str::<CausalContext>(&json).unwrap(), joined);
        }
    }
}
