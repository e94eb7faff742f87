//! The names everything else uses: nodes, writes, requests, keys, and virtual time. The bottom
//! of the crate: it uses nothing of it, and every layer above (clocks, versions, the ring, the
//! replica, the simulation) names things with these.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Virtual time, in whole milliseconds since the run began.
pub type Time = u64;

/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 256;
/// The longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 4096;

/// A node's id as people see it: 1 for "Node 1". Ids run from 1 to the cluster size.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position in 0-based arrays.
    pub fn index(self) -> usize {
        self.0 as usize - 1
    }

    /// The id of the node at 0-based position `index`.
    pub fn from_index(index: usize) -> NodeId {
        NodeId(index as u32 + 1)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// The cluster-wide number of a client write, in the order writes were made (w1, w2, ...).
/// A real store names a write by its dot; the simulation also numbers them to follow each one.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize)]
#[serde(transparent)]
pub struct WriteId(pub u32);

impl fmt::Display for WriteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

/// A client request's number, in the order requests were made.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RequestId(pub u32);

/// A key as the cluster's key table numbers it, in order of first use. Replicas index their
/// stores by it, as a storage engine indexes interned keys; the simulation maps it to the
/// key's text for people.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct KeyId(pub u32);

impl KeyId {
    /// The key's position in dense arrays.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A key as a replica handles it: the number its process's key table gave the text, and the
/// key's place on the ring (a hash of the text, [`key_hash`], the same on every node). The number only means something inside one process: between processes a key is its
/// text, and whoever reads a message from the wire interns the text first (the simulation is
/// one process with one table). A replica needs nothing else of a key: it finds where the key
/// lives from the hash and its own ring.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Key {
    /// The key's number in its process (the order keys are offered in by anti-entropy).
    pub id: KeyId,
    /// Its place on the ring.
    pub hash: u64,
}

impl Key {
    /// Key `id`, whose text is `text`.
    pub fn new(id: KeyId, text: &str) -> Key {
        Key {
            id,
            hash: key_hash(text),
        }
    }

    /// The key's position in dense arrays.
    pub fn index(self) -> usize {
        self.id.index()
    }
}

/// Where a key lands on the ring: FNV-1a over its bytes, then a SplitMix64 finaliser so that
/// keys that differ in one letter land far apart (Cassandra uses Murmur3; any fixed, well-mixed
/// hash does). Part of the protocol: every node must compute the same.
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
