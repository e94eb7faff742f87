//! What replicas send each other, and how big it is on the wire.

use std::rc::Rc;

use serde::Serialize;

use super::{KeyId, NodeId, RequestId};
use crate::clock::Dot;
use crate::version::{Held, Version};

/// The kinds of message, as the page draws them (the numbers are what it receives).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageKind {
    /// A write on its way to a replica: fire-and-forget, coordinated, or a rumor.
    Replicate = 0,
    /// Anti-entropy: an offer of a whole store, or of Merkle hashes, or of differing keys.
    SyncRequest = 1,
    /// Anti-entropy: the answer.
    SyncReply = 2,
    /// A coordinator asks a replica for a key.
    Read = 3,
    /// A replica answers a coordinator: an acknowledgement or the versions it holds.
    Reply = 4,
    /// Read repair: a coordinator sends the newest version to a stale replica.
    Repair = 5,
    /// Hinted handoff: a write for a node that is down, or its later delivery to it.
    Hint = 6,
}

/// A message between replicas.
#[derive(Clone, Debug)]
pub enum Message {
    /// Fire-and-forget replication of one write, as the tutorial's `propagate_update`.
    Replicate(Rc<Version>),
    /// Gossip: a rumor of one write (Demers et al.).
    Rumor(Rc<Version>),
    /// A coordinator's write to a replica; with `hint`, the receiver keeps it for that node.
    Put {
        /// The client request it serves.
        request: RequestId,
        /// The write.
        version: Rc<Version>,
        /// The intended owner, if the receiver stands in for it (sloppy quorum).
        hint: Option<NodeId>,
    },
    /// A replica acknowledges a put.
    PutAck {
        /// The client request.
        request: RequestId,
    },
    /// A coordinator's read of one key.
    Get {
        /// The client request.
        request: RequestId,
        /// The key.
        key: KeyId,
    },
    /// A replica's answer: every version it holds of the key.
    GetReply {
        /// The client request.
        request: RequestId,
        /// The versions.
        versions: Held,
    },
    /// Read repair: the newest versions of a key for a stale replica, after read `request`;
    /// acknowledged if the read waits for it (blocking read repair).
    Repair {
        /// The read that found the replica stale.
        request: RequestId,
        /// Whether that read waits for an acknowledgement. (A flag beside the id, not an
        /// `Option`, keeps every message within 24 bytes, and a queued event within 48.)
        blocking: bool,
        /// The versions.
        versions: Held,
    },
    /// A replica acknowledges a blocking repair.
    RepairAck {
        /// The read.
        request: RequestId,
    },
    /// Hinted handoff: writes kept for the receiver while it was unreachable.
    Handoff(Rc<Vec<Rc<Version>>>),
    /// The owner acknowledges handed-over writes, each named by its key and its dot; the
    /// holder drops their hints.
    HandoffAck(Rc<Vec<(KeyId, Dot)>>),
    /// Anti-entropy push: every version the sender holds of keys both replicate, in key order.
    SyncRequest(Rc<Vec<Rc<Version>>>),
    /// Anti-entropy pull: what the request lacked or held older, in key order.
    SyncReply(Rc<Vec<Rc<Version>>>),
    /// Merkle anti-entropy: the hashes of some tree nodes at one level, for the receiver to
    /// compare with its own.
    MerkleCompare {
        /// The level (0 under the root).
        level: u8,
        /// (index at that level, hash) pairs.
        hashes: Rc<Vec<(u32, u64)>>,
    },
    /// Merkle anti-entropy: the versions in leaf ranges found to differ; `reply` marks the
    /// answer, which is not answered again.
    MerkleSync {
        /// The leaf ranges.
        leaves: Rc<Vec<u32>>,
        /// The sender's versions in them.
        versions: Rc<Vec<Rc<Version>>>,
        /// Whether this answers an earlier MerkleSync.
        reply: bool,
    },
}

/// Bytes of framing a message costs besides its content (ids, kind, lengths).
const HEADER_BYTES: u64 = 16;

impl Message {
    /// The kind of this message, for drawing and counting.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Replicate(_) | Message::Rumor(_) => MessageKind::Replicate,
            Message::Put { hint: Some(_), .. } | Message::Handoff(_) => MessageKind::Hint,
            Message::Put { .. } => MessageKind::Replicate,
            Message::Get { .. } => MessageKind::Read,
            Message::PutAck { .. }
            | Message::GetReply { .. }
            | Message::RepairAck { .. }
            | Message::HandoffAck(_) => MessageKind::Reply,
            Message::Repair { .. } => MessageKind::Repair,
            Message::SyncRequest(_) | Message::MerkleCompare { .. } => MessageKind::SyncRequest,
            Message::MerkleSync { reply: false, .. } => MessageKind::SyncRequest,
            Message::SyncReply(_) | Message::MerkleSync { reply: true, .. } => {
                MessageKind::SyncReply
            }
        }
    }

    /// Whether this is background reconciliation (its bytes are compared between kinds).
    pub fn is_anti_entropy(&self) -> bool {
        matches!(
            self,
            Message::SyncRequest(_)
                | Message::SyncReply(_)
                | Message::MerkleCompare { .. }
                | Message::MerkleSync { .. }
        )
    }

    /// The versions the message carries.
    pub fn carried(&self) -> &[Rc<Version>] {
        match self {
            Message::Replicate(v) | Message::Rumor(v) | Message::Put { version: v, .. } => {
                std::slice::from_ref(v)
            }
            Message::GetReply { versions, .. } | Message::Repair { versions, .. } => versions,
            Message::Handoff(versions)
            | Message::SyncRequest(versions)
            | Message::SyncReply(versions)
            | Message::MerkleSync { versions, .. } => versions,
            _ => &[],
        }
    }

    /// How many versions the message carries.
    pub fn versions(&self) -> usize {
        self.carried().len()
    }

    /// An estimate of the message's size on the wire: framing, and for each version its ids,
    /// timestamp, value and version vector; 12 bytes per Merkle hash.
    pub fn bytes(&self) -> u64 {
        let versions = |vs: &[Rc<Version>]| vs.iter().map(|v| version_bytes(v)).sum::<u64>();
        HEADER_BYTES
            + match self {
                Message::Replicate(v) | Message::Rumor(v) | Message::Put { version: v, .. } => {
                    version_bytes(v)
                }
                Message::GetReply { versions: vs, .. } | Message::Repair { versions: vs, .. } => {
                    versions(vs)
                }
                Message::Handoff(vs) | Message::SyncRequest(vs) | Message::SyncReply(vs) => {
                    versions(vs)
                }
                Message::MerkleSync {
                    leaves,
                    versions: vs,
                    ..
                } => 4 * leaves.len() as u64 + versions(vs),
                Message::MerkleCompare { hashes, .. } => 12 * hashes.len() as u64,
                Message::HandoffAck(writes) => 12 * writes.len() as u64,
                Message::PutAck { .. } | Message::RepairAck { .. } | Message::Get { .. } => 4,
            }
    }
}

/// One version's size: write id, key id, timestamp (16), value, and 8 bytes per number of its
/// clock (vector entries, dots beyond them, its own dot).
fn version_bytes(v: &Version) -> u64 {
    let value = v.value.as_ref().map_or(0, |s| s.len() as u64);
    24 + value + 8 * (v.context.len() as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{CausalContext, Stamp, VersionVector};
    use crate::ids::WriteId;

    /// A version of value "abc" whose context names two nodes: 24 bytes of ids and timestamp,
    /// 3 of value, 8 for each of the two entries and 8 for its own dot.
    fn version() -> Rc<Version> {
        Rc::new(Version {
            write: WriteId(7),
            key: crate::ids::Key::new(KeyId(0), "k"),
            value: Some("abc".into()),
            stamp: Stamp {
                millis: 5,
                node: NodeId(1),
                seq: 3,
            },
            context: CausalContext::from(VersionVector::from_pairs([
                (NodeId(1), 2),
                (NodeId(2), 4),
            ])),
            created: 0,
        })
    }

    const VERSION: u64 = 24 + 3 + 8 * 3;

    fn versions(n: usize) -> Rc<Vec<Rc<Version>>> {
        Rc::new((0..n).map(|_| version()).collect())
    }

    /// Every kind of message, with how many bytes it is said to cost and whether it is
    /// anti-entropy: the byte counts the page compares between kinds of reconciliation.
    fn every_message() -> Vec<(Message, u64, bool)> {
        let request = RequestId(1);
        vec![
            (Message::Replicate(version()), 16 + VERSION, false),
            (Message::Rumor(version()), 16 + VERSION, false),
            (
                Message::Put {
                    request,
                    version: version(),
                    hint: Some(NodeId(3)),
                },
                16 + VERSION,
                false,
            ),
            (Message::PutAck { request }, 16 + 4, false),
            (
                Message::Get {
                    request,
                    key: KeyId(0),
                },
                16 + 4,
                false,
            ),
            (
                Message::GetReply {
                    request,
                    versions: vec![version(), version()].into(),
                },
                16 + 2 * VERSION,
                false,
            ),
            (
                Message::Repair {
                    request,
                    blocking: true,
                    versions: vec![version()].into(),
                },
                16 + VERSION,
                false,
            ),
            (Message::RepairAck { request }, 16 + 4, false),
            (Message::Handoff(versions(3)), 16 + 3 * VERSION, false),
            (
                Message::HandoffAck(Rc::new(vec![
                    (
                        KeyId(0),
                        Dot {
                            node: NodeId(1),
                            counter: 1,
                        },
                    ),
                    (
                        KeyId(0),
                        Dot {
                            node: NodeId(2),
                            counter: 1,
                        },
                    ),
                ])),
                16 + 2 * 12,
                false,
            ),
            (Message::SyncRequest(versions(2)), 16 + 2 * VERSION, true),
            (Message::SyncReply(versions(1)), 16 + VERSION, true),
            (
                Message::MerkleCompare {
                    level: 1,
                    hashes: Rc::new(vec![(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]),
                },
                16 + 5 * 12,
                true,
            ),
            (
                Message::MerkleSync {
                    leaves: Rc::new(vec![3, 9, 40]),
                    versions: versions(2),
                    reply: false,
                },
                16 + 3 * 4 + 2 * VERSION,
                true,
            ),
        ]
    }

    #[test]
    fn each_message_costs_its_framing_and_what_it_carries() {
        for (message, bytes, _) in every_message() {
            assert_eq!(message.bytes(), bytes, "{message:?}");
        }
    }

    #[test]
    fn only_reconciliation_counts_as_anti_entropy() {
        for (message, _, anti_entropy) in every_message() {
            assert_eq!(message.is_anti_entropy(), anti_entropy, "{message:?}");
        }
    }
}
