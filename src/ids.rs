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
