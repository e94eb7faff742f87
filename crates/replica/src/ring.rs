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

pub use crate::ids::key_hash;

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

    /// The first `n` distinct nodes clockwise from `hash`: the walk's first `n`, found without
    /// walking further than they are (a few tokens for a small N).
    pub fn preference_list(&self, hash: u64, n: usize) -> Vec<NodeId> {
        let n = n.min(self.nodes as usize);
        if n > 16 {
            let mut order = self.walk(hash);
            order.truncate(n);
            return order;
        }
        let start = self.tokens.partition_point(|t| t.position < hash);
        let mut order = Vec::with_capacity(n);
        for i in 0..self.tokens.len() {
            if order.len() == n {
                break;
            }
            let node = self.tokens[(start + i) % self.tokens.len()].node;
            if !order.contains(&node) {
                order.push(node);
            }
        }
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
        let big = Ring::new(40, 4, &mut Rng::new(2, 9));
        for key in ["name", "city", "k1"] {
            let walk = big.walk(key_hash(key));
            for n in [1, 3, 16, 17, 40, 41] {
                assert_eq!(
                    big.preference_list(key_hash(key), n),
                    walk[..n.min(40)],
                    "the first {n} of the walk"
                );
            }
        }
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
