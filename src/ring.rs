//! Consistent hashing (Karger et al.; Dynamo, Cassandra): nodes own random tokens on a ring of
//! 64-bit positions, several each (virtual nodes); a key lives on the first N distinct nodes
//! met walking clockwise from its hash, its preference list.

use serde::Serialize;

use crate::ids::NodeId;
use crate::rng::Rng;

/// One token: a position on the ring and the node that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Token {
    /// Where on the ring (0 to 2^64 - 1, clockwise).
    pub position: u64,
    /// Its owner.
    pub node: NodeId,
}

/// The ring: every node's tokens, sorted by position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    tokens: Vec<Token>,
    nodes: u32,
}

/// Where a key lands: FNV-1a over its bytes, then a SplitMix64 finaliser so that keys that
/// differ in one letter land far apart (Cassandra uses Murmur3; any fixed, well-mixed hash does).
pub fn key_hash(key: &str) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for byte in key.bytes() {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

impl Ring {
    /// A ring of `nodes` nodes with `vnodes` random tokens each, drawn from `rng` (Cassandra's
    /// random token allocation).
    pub fn new(nodes: u32, vnodes: u32, rng: &mut Rng) -> Ring {
        let mut tokens: Vec<Token> = (1..=nodes)
            .flat_map(|n| (0..vnodes.max(1)).map(move |_| NodeId(n)))
            .map(|node| Token {
                position: rng.next_u64(),
                node,
            })
            .collect();
        tokens.sort();
        Ring { tokens, nodes }
    }

    /// Every token, clockwise from position 0.
    pub fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// The nodes met walking clockwise from `hash`, each once: the first `n` are the key's
    /// preference list, the rest its fallbacks for a sloppy quorum (Dynamo §4.6).
    pub fn walk(&self, hash: u64) -> Vec<NodeId> {
        let start = self.tokens.partition_point(|t| t.position < hash);
        let mut seen = vec![false; self.nodes as usize];
        let mut order = Vec::with_capacity(self.nodes as usize);
        for i in 0..self.tokens.len() {
            let node = self.tokens[(start + i) % self.tokens.len()].node;
            if !seen[node.index()] {
                seen[node.index()] = true;
                order.push(node);
            }
        }
        order
    }

    /// The first `n` distinct nodes clockwise from `hash`.
    pub fn preference_list(&self, hash: u64, n: usize) -> Vec<NodeId> {
        let mut order = self.walk(hash);
        order.truncate(n);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preference_list_has_n_distinct_nodes_starting_after_the_key() {
        let ring = Ring::new(5, 8, &mut Rng::new(1, 9));
        assert_eq!(ring.tokens().len(), 40);
        for key in ["name", "city", "k1", "k2", ""] {
            let hash = key_hash(key);
            let list = ring.preference_list(hash, 3);
            assert_eq!(list.len(), 3);
            let mut sorted = list.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "distinct");
            let first = ring
                .tokens()
                .iter()
                .find(|t| t.position >= hash)
                .unwrap_or(&ring.tokens()[0]);
            assert_eq!(
                list[0], first.node,
                "the first token clockwise owns the key"
            );
        }
        assert_eq!(ring.walk(0).len(), 5, "the walk meets every node once");
    }

    #[test]
    fn keys_spread_over_nodes() {
        let ring = Ring::new(4, 16, &mut Rng::new(3, 9));
        let mut owned = [0; 4];
        for i in 0..4000 {
            owned[ring.preference_list(key_hash(&format!("key{i}")), 1)[0].index()] += 1;
        }
        assert!(owned.iter().all(|&c| (500..1600).contains(&c)), "{owned:?}");
    }

    #[test]
    fn the_same_seed_gives_the_same_ring() {
        assert_eq!(
            Ring::new(3, 4, &mut Rng::new(5, 9)),
            Ring::new(3, 4, &mut Rng::new(5, 9))
        );
        assert_ne!(key_hash("a"), key_hash("b"));
    }
}
