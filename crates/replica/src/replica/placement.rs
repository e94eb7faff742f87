//! Where keys live, for every replica of one process: the ring, N, and each preference list
//! computed so far, by the key's hash (Cassandra caches a keyspace's endpoints per token the
//! same way). A pure function of the ring and N, remembered: whoever shares it (the replicas
//! of one process, copies of them) sees the same answers it would compute.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::hash::FastMap;
use crate::ids::{Key, NodeId};
use crate::ring::Ring;

/// The ring and N, with the preference lists met so far.
pub struct Placement {
    ring: Ring,
    n: usize,
    lists: RefCell<FastMap<u64, Rc<[NodeId]>>>,
}

/// The ring and N: the lists are a cache of what they give.
impl fmt::Debug for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Placement")
            .field("ring", &self.ring)
            .field("n", &self.n)
            .finish_non_exhaustive()
    }
}

impl Placement {
    /// Keys on `ring`, each on `n` nodes.
    pub fn new(ring: Ring, n: usize) -> Placement {
        Placement {
            ring,
            n,
            lists: RefCell::default(),
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring {
        &self.ring
    }

    /// The key's replicas (its preference list): the first N nodes clockwise from its hash.
    pub fn replicas(&self, key: Key) -> Rc<[NodeId]> {
        if let Some(list) = self.lists.borrow().get(&key.hash) {
            return list.clone();
        }
        let list: Rc<[NodeId]> = self.ring.preference_list(key.hash, self.n).into();
        self.lists.borrow_mut().insert(key.hash, list.clone());
        list
    }

    /// Every node clockwise from the key: its replicas, then those that stand in for them.
    pub fn walk(&self, key: Key) -> Vec<NodeId> {
        self.ring.walk(key.hash)
    }
}
