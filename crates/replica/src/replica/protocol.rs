//! The rules every node of a cluster follows: how requests are served, how conflicts are
//! resolved, how writes spread and replicas reconcile. A replica is built with a [`Protocol`];
//! the simulation's settings build one (`Settings::protocol`), and so could a real node's flags.

use serde::{Deserialize, Serialize};

use crate::ids::Time;
use crate::version::ConflictMode;

/// The rules every node of a run follows.
#[derive(Clone, Debug, PartialEq)]
pub struct Protocol {
    /// How many nodes the cluster has (ids `1..=nodes`).
    pub nodes: u32,
    /// N: how many replicas each key has (the first N nodes clockwise from it on the ring).
    pub replicas: u32,
    /// How conflicting versions are resolved.
    pub conflict: ConflictMode,
    /// How client requests are served.
    pub coordination: Coordination,
    /// W, as a number of replicas.
    pub write_quorum: u32,
    /// R, as a number of replicas.
    pub read_quorum: u32,
    /// How long a coordinator waits for W or R answers.
    pub request_timeout: Time,
    /// What a coordinated read does with stale replicas.
    pub read_repair: ReadRepair,
    /// What a coordinated write does for unreachable replicas.
    pub hinted_handoff: HintedHandoff,
    /// How often hints are offered to their owners.
    pub hint_interval: Time,
    /// How writes spread without a coordinator.
    pub dissemination: Dissemination,
    /// Gossip: peers told per round.
    pub gossip_fanout: u32,
    /// Gossip: a node stops spreading a rumor after a round with probability 1 / this.
    pub gossip_interest: u32,
    /// Gossip: time between rounds.
    pub gossip_interval: Time,
    /// Background reconciliation, if on: how, and how often.
    pub anti_entropy: Option<(AntiEntropyKind, Time)>,
    /// How long tombstones are kept.
    pub tombstone_grace: Time,
}

impl Protocol {
    /// The tutorial's rules for `nodes` nodes: no coordinator (a node answers at once and
    /// sends writes on, fire-and-forget), arrival order, no repair, no hints, no background
    /// reconciliation; R and W of 2 and a one-second request timeout should requests be
    /// coordinated. The simulation's default settings build this same protocol for three nodes.
    pub fn tutorial(nodes: u32) -> Protocol {
        Protocol {
            nodes,
            replicas: nodes,
            conflict: ConflictMode::ArrivalOrder,
            coordination: Coordination::None,
            write_quorum: nodes / 2 + 1,
            read_quorum: nodes / 2 + 1,
            request_timeout: 1_000,
            read_repair: ReadRepair::Off,
            hinted_handoff: HintedHandoff::Off,
            hint_interval: 500,
            dissemination: Dissemination::Broadcast,
            gossip_fanout: 2,
            gossip_interest: 4,
            gossip_interval: 100,
            anti_entropy: None,
            tombstone_grace: 10_000,
        }
    }
}

/// How a client request is served.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Coordination {
    /// The tutorial: the node the client talks to answers at once and sends writes on,
    /// fire-and-forget; a read answers from that node alone.
    #[default]
    None,
    /// Dynamo and Cassandra: a coordinator sends the request to the key's N replicas and answers
    /// once W of them acknowledge a write, or R of them reply to a read.
    Quorum,
}

/// What a coordinator does with replicas a read found stale (Cassandra, Riak).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadRepair {
    /// Nothing.
    #[default]
    Off,
    /// Sends them the newest version after answering the client.
    Async,
    /// Sends them the newest version and answers once they acknowledge it.
    Blocking,
}

/// What a coordinator does when a replica of the key is unreachable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum HintedHandoff {
    /// Nothing: the replica misses the write.
    #[default]
    Off,
    /// Dynamo and Riak: the next healthy node on the ring takes the write with a hint naming
    /// the owner, counts toward W, and hands it over when the owner is back.
    Sloppy,
    /// Cassandra: the coordinator keeps a hint for the owner and replays it later; hints do not
    /// count toward W.
    Strict,
}

/// How replicas reconcile in the background.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AntiEntropyKind {
    /// Push-pull of whole stores: simple, and every round sends everything.
    #[default]
    Full,
    /// Merkle trees over key ranges (Dynamo, Cassandra repair, Riak AAE): compare hashes,
    /// descend only into ranges that differ, send only their keys.
    Merkle,
}

/// How a write spreads when there is no coordinator.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Dissemination {
    /// One message to every replica (the tutorial).
    #[default]
    Broadcast,
    /// Rumor mongering (Demers et al.): tell a few random replicas each round, who pass it on
    /// until they lose interest.
    Gossip,
}
