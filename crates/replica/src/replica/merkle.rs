//! Merkle trees over key ranges (Merkle 1987; Dynamo §4.7, Cassandra repair, Riak AAE).
//!
//! The hash space is cut into [`LEAVES`] equal ranges, arcs of the ring. A leaf's hash combines
//! the versions of the keys in its range; each inner node hashes its [`FANOUT`] children. Two
//! replicas compare a level at a time, descending only under nodes whose hashes differ, and in
//! the end exchange only the keys of differing leaves.

use std::rc::Rc;

use crate::version::Version;

/// Children per tree node.
pub const FANOUT: usize = 4;
/// Levels below the root: 4, 16 and 64 nodes.
pub const LEVELS: usize = 3;
/// Leaf ranges: FANOUT ^ LEVELS.
pub const LEAVES: usize = 64;

/// The leaf range of a key hash: its top six bits, so leaves are equal arcs of the ring.
pub fn leaf_of(hash: u64) -> u32 {
    (hash >> 58) as u32
}

/// A tree: `levels[0]` has FANOUT nodes, the last level LEAVES.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tree {
    levels: Vec<Vec<u64>>,
}

fn mix(mut h: u64, x: u64) -> u64 {
    h ^= x;
    h = h.wrapping_mul(0x0000_0100_0000_01B3);
    h ^ (h >> 29)
}

/// A key's digest: its hash and the dots of its versions, so that any difference shows.
pub fn key_digest(key_hash: u64, versions: &[Rc<Version>]) -> u64 {
    let mut h = mix(0xCBF2_9CE4_8422_2325, key_hash);
    for v in versions {
        let dot = v.dot();
        h = mix(h, (u64::from(dot.node.0) << 32) | u64::from(dot.counter));
    }
    h
}

impl Tree {
    /// The tree over `keys`: (key hash, digest) pairs in any order.
    pub fn build(keys: impl IntoIterator<Item = (u64, u64)>) -> Tree {
        let mut leaves = vec![0u64; LEAVES];
        for (hash, digest) in keys {
            // XOR makes a leaf's hash independent of the order keys are visited in.
            leaves[leaf_of(hash) as usize] ^= digest;
        }
        let mut levels = vec![leaves];
        while levels[0].len() > FANOUT {
            let below = &levels[0];
            let above = below
                .chunks(FANOUT)
                .map(|children| {
                    children
                        .iter()
                        .fold(0x9E37_79B9_7F4A_7C15, |h, c| mix(h, *c))
                })
                .collect();
            levels.insert(0, above);
        }
        Tree { levels }
    }

    /// The hash of node `index` at `level`.
    pub fn hash(&self, level: usize, index: u32) -> u64 {
        self.levels[level][index as usize]
    }

    /// The (index, hash) pairs of the children of `parents` at `level + 1`.
    pub fn children(&self, level: usize, parents: &[u32]) -> Vec<(u32, u64)> {
        parents
            .iter()
            .flat_map(|p| (0..FANOUT as u32).map(move |c| p * FANOUT as u32 + c))
            .map(|i| (i, self.hash(level + 1, i)))
            .collect()
    }

    /// The top level's (index, hash) pairs: where a comparison starts.
    pub fn top(&self) -> Vec<(u32, u64)> {
        (0..FANOUT as u32).map(|i| (i, self.hash(0, i))).collect()
    }

    /// Which of `theirs` (at `level`) differ from this tree.
    pub fn differing(&self, level: usize, theirs: &[(u32, u64)]) -> Vec<u32> {
        theirs
            .iter()
            .filter(|(i, h)| self.hash(level, *i) != *h)
            .map(|(i, _)| *i)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_contents_equal_trees_in_any_order() {
        let a = Tree::build([(1, 10), (u64::MAX, 20), (1 << 60, 30)]);
        let b = Tree::build([(1 << 60, 30), (1, 10), (u64::MAX, 20)]);
        assert_eq!(a, b);
        assert_eq!(
            a.levels.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![4, 16, 64]
        );
    }

    #[test]
    fn one_different_key_shows_on_one_path_only() {
        let keys = [(5u64, 1u64), (1 << 62, 2), (3 << 62, 3)];
        let a = Tree::build(keys);
        let mut changed = keys;
        changed[1].1 = 99;
        let b = Tree::build(changed);
        let top = a.differing(0, &b.top());
        assert_eq!(top, vec![1], "the second quarter of the ring");
        let mid = a.differing(1, &b.children(0, &top));
        assert_eq!(mid.len(), 1);
        let leaves = a.differing(2, &b.children(1, &mid));
        assert_eq!(leaves, vec![leaf_of(1 << 62)]);
    }

    fn version(node: u32, counter: u32) -> Rc<Version> {
        use crate::clock::{CausalContext, Stamp};
        use crate::replica::{KeyId, NodeId, WriteId};
        Rc::new(Version {
            write: WriteId(counter),
            key: crate::ids::Key::new(KeyId(0), "k"),
            value: None,
            stamp: Stamp {
                millis: 0,
                node: NodeId(node),
                seq: counter,
            },
            context: CausalContext::default(),
            created: 0,
        })
    }

    /// A pseudo-random key hash (splitmix64), spreading keys over every leaf.
    fn key_hash(i: u64) -> u64 {
        let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    #[test]
    fn a_difference_among_thousands_of_keys_still_shows() {
        // About 150 keys a leaf: a leaf's hash must still change when any one of them does.
        let keys: Vec<(u64, u64)> = (0..10_000)
            .map(|i| {
                (
                    key_hash(i),
                    key_digest(key_hash(i), &[version(1, i as u32 + 1)]),
                )
            })
            .collect();
        let tree = Tree::build(keys.iter().copied());
        for changed in (0..keys.len()).step_by(997) {
            let mut other = keys.clone();
            let (hash, _) = other[changed];
            // The replica holds a sibling more of that one key.
            other[changed].1 = key_digest(hash, &[version(1, changed as u32 + 1), version(2, 1)]);
            let theirs = Tree::build(other);
            let top = tree.differing(0, &theirs.top());
            assert_eq!(top.len(), 1, "key {changed}: the root shows the difference");
            let mid = tree.differing(1, &theirs.children(0, &top));
            let leaves = tree.differing(2, &theirs.children(1, &mid));
            assert_eq!(leaves, vec![leaf_of(hash)], "key {changed}");
        }
    }

    #[test]
    fn digests_and_trees_are_the_same_on_every_build() {
        // Replicas compare hashes they computed apart (real nodes may run different builds of
        // this code), so the hash function is part of the protocol: these numbers must not move.
        let digest = key_digest(0x0123_4567_89AB_CDEF, &[version(1, 2), version(3, 4)]);
        assert_eq!(digest, 7_132_356_513_011_636_348);
        let tree = Tree::build([(1, digest), (u64::MAX, 99), (1 << 60, 7)]);
        assert_eq!(
            tree.top(),
            vec![
                (0, 5_551_780_040_283_592_443),
                (1, 1_429_971_162_174_116_573),
                (2, 1_429_971_162_174_116_573),
                (3, 4_419_068_293_528_813_340),
            ]
        );
    }
}
