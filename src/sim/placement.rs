//! Where the simulation shows keys living (the observer's copy of the placement).

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

use crate::ids::{KeyId, NodeId};
use crate::ring::Ring;

/// Where one key lives.
#[derive(Clone, Debug)]
struct KeyPlace {
    hash: u64,
    /// Its preference list: the first N nodes clockwise from it.
    replicas: Rc<[NodeId]>,
}

/// Where keys live, as the simulation shows them: the ring, N, and each key's replicas, computed
/// once per key when the key is first used. The replicas do not use it: each computes where a
/// key lives from its own copy of the ring (the same ring: an `Rc`, as the settings are).
pub struct Placement {
    ring: Rc<Ring>,
    n: usize,
    keys: RefCell<Vec<KeyPlace>>,
}

/// The ring and N: the lists are a cache of what they give, and may hold keys of a future
/// time travel abandoned (see [`Placement::register`]).
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
    pub fn new(ring: Rc<Ring>, n: usize) -> Placement {
        Placement {
            ring,
            n,
            keys: RefCell::new(Vec::new()),
        }
    }

    /// Places key `key` (the next id of the simulation's key table) by its hash.
    ///
    /// A snapshot of the simulation shares this placement with the run it was taken from. When
    /// time travel goes back to it and a different future names different keys, an id is
    /// placed again: the old future that placed it first is gone, and every snapshot still
    /// kept knows fewer keys.
    pub fn register(&self, key: KeyId, hash: u64) {
        let mut keys = self.keys.borrow_mut();
        debug_assert!(key.index() <= keys.len());
        let place = KeyPlace {
            hash,
            replicas: self.ring.preference_list(hash, self.n).into(),
        };
        match keys.get_mut(key.index()) {
            Some(old) => *old = place,
            None => keys.push(place),
        }
    }

    /// The ring.
    pub fn ring(&self) -> &Rc<Ring> {
        &self.ring
    }

    /// The key's hash (its place on the ring).
    pub fn hash(&self, key: KeyId) -> u64 {
        self.keys.borrow()[key.index()].hash
    }

    /// The key's replicas: its preference list.
    pub fn replicas(&self, key: KeyId) -> Rc<[NodeId]> {
        self.keys.borrow()[key.index()].replicas.clone()
    }
}
