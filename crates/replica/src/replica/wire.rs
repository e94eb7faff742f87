//! Messages as they cross between processes: plain data, keys by their text, JSON for nodes
//! over HTTP. Inside one process (the simulation) a message stays in its in-memory form, its
//! versions shared rather than copied; a runtime that sends one elsewhere turns it into a
//! [`WireMessage`] with [`Message::to_wire`], and the receiver turns it back with
//! [`WireMessage::into_message`], which interns the keys into its own [`KeyTable`] and checks
//! every bound first: a malformed message changes nothing.
//!
//! A version's `write` (the simulation's number for the client write) is the observer's label
//! and does not travel: a replica names a write by its dot.

use std::fmt;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::keys::KeyTable;
use super::merkle;
use super::messages::Message;
use crate::clock::{CausalContext, Dot, Stamp};
use crate::ids::{MAX_KEY_CHARS, MAX_VALUE_CHARS, NodeId, RequestId, WriteId};
use crate::version::{Held, Version};

/// One version on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireVersion {
    /// The key, as text.
    pub key: String,
    /// The value; absent for a delete (a tombstone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The write's timestamp, which also holds its dot.
    pub stamp: Stamp,
    /// What the writer knew of the key (version vectors and the data types).
    #[serde(default, skip_serializing_if = "CausalContext::is_empty")]
    pub context: CausalContext,
    /// The coordinator's clock reading when the write was made (ms).
    pub created: i64,
}

/// A message on the wire: one variant per [`Message`], tagged by `type`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
#[allow(missing_docs)]
pub enum WireMessage {
    Replicate {
        version: WireVersion,
    },
    Rumor {
        version: WireVersion,
    },
    Put {
        request: RequestId,
        version: WireVersion,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hint: Option<NodeId>,
    },
    PutAck {
        request: RequestId,
    },
    Get {
        request: RequestId,
        key: String,
    },
    GetReply {
        request: RequestId,
        versions: Vec<WireVersion>,
    },
    Repair {
        request: RequestId,
        blocking: bool,
        versions: Vec<WireVersion>,
    },
    RepairAck {
        request: RequestId,
    },
    Handoff {
        versions: Vec<WireVersion>,
    },
    HandoffAck {
        /// Each write as its key and its dot.
        writes: Vec<(String, Dot)>,
    },
    SyncRequest {
        versions: Vec<WireVersion>,
    },
    SyncReply {
        versions: Vec<WireVersion>,
    },
    MerkleCompare {
        level: u8,
        hashes: Vec<(u32, u64)>,
    },
    MerkleSync {
        leaves: Vec<u32>,
        versions: Vec<WireVersion>,
        reply: bool,
    },
}

/// Why a message from the wire was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireError(pub String);

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WireError {}

fn refuse<T>(why: impl Into<String>) -> Result<T, WireError> {
    Err(WireError(why.into()))
}

impl Message {
    /// This message as plain data, keys named by their text in `keys`.
    pub fn to_wire(&self, keys: &KeyTable) -> WireMessage {
        let one = |v: &Version| wire_version(v, keys);
        let all = |vs: &[Rc<Version>]| vs.iter().map(|v| one(v)).collect();
        match self {
            Message::Replicate(v) => WireMessage::Replicate { version: one(v) },
            Message::Rumor(v) => WireMessage::Rumor { version: one(v) },
            Message::Put {
                request,
                version,
                hint,
            } => WireMessage::Put {
                request: *request,
                version: one(version),
                hint: *hint,
            },
            Message::PutAck { request } => WireMessage::PutAck { request: *request },
            Message::Get { request, key } => WireMessage::Get {
                request: *request,
                key: keys.name(*key).to_string(),
            },
            Message::GetReply { request, versions } => WireMessage::GetReply {
                request: *request,
                versions: all(versions),
            },
            Message::Repair {
                request,
                blocking,
                versions,
            } => WireMessage::Repair {
                request: *request,
                blocking: *blocking,
                versions: all(versions),
            },
            Message::RepairAck { request } => WireMessage::RepairAck { request: *request },
            Message::Handoff(vs) => WireMessage::Handoff { versions: all(vs) },
            Message::HandoffAck(writes) => WireMessage::HandoffAck {
                writes: writes
                    .iter()
                    .map(|(key, dot)| (keys.name(*key).to_string(), *dot))
                    .collect(),
            },
            Message::SyncRequest(vs) => WireMessage::SyncRequest { versions: all(vs) },
            Message::SyncReply(vs) => WireMessage::SyncReply { versions: all(vs) },
            Message::MerkleCompare { level, hashes } => WireMessage::MerkleCompare {
                level: *level,
                hashes: hashes.to_vec(),
            },
            Message::MerkleSync {
                leaves,
                versions,
                reply,
            } => WireMessage::MerkleSync {
                leaves: leaves.to_vec(),
                versions: all(versions),
                reply: *reply,
            },
        }
    }
}

fn wire_version(v: &Version, keys: &KeyTable) -> WireVersion {
    WireVersion {
        key: keys.name(v.key.id).to_string(),
        value: v.value.as_deref().map(String::from),
        stamp: v.stamp,
        context: v.context.clone(),
        created: v.created,
    }
}

impl WireMessage {
    /// The message for a replica of a cluster of `nodes` nodes, its keys interned into `keys`.
    /// Checked whole before any key is interned: node ids within the cluster, keys of 1 to
    /// [`MAX_KEY_CHARS`] characters, values of at most [`MAX_VALUE_CHARS`], counters from 1,
    /// Merkle levels and leaf ranges that exist.
    pub fn into_message(self, nodes: u32, keys: &mut KeyTable) -> Result<Message, WireError> {
        self.validate(nodes)?;
        // Checked whole above: each version's own check cannot fail.
        let mut one = |v: WireVersion| -> Rc<Version> { v.intern(keys) };
        let mut all =
            |vs: Vec<WireVersion>| -> Vec<Rc<Version>> { vs.into_iter().map(&mut one).collect() };
        Ok(match self {
            WireMessage::Replicate { version } => Message::Replicate(one(version)),
            WireMessage::Rumor { version } => Message::Rumor(one(version)),
            WireMessage::Put {
                request,
                version,
                hint,
            } => Message::Put {
                request,
                version: one(version),
                hint,
            },
            WireMessage::PutAck { request } => Message::PutAck { request },
            WireMessage::Get { request, key } => Message::Get {
                request,
                key: keys.intern(&key).id,
            },
            WireMessage::GetReply { request, versions } => Message::GetReply {
                request,
                versions: Held::from(all(versions)),
            },
            WireMessage::Repair {
                request,
                blocking,
                versions,
            } => Message::Repair {
                request,
                blocking,
                versions: Held::from(all(versions)),
            },
            WireMessage::RepairAck { request } => Message::RepairAck { request },
            WireMessage::Handoff { versions } => Message::Handoff(Rc::new(all(versions))),
            WireMessage::HandoffAck { writes } => Message::HandoffAck(Rc::new(
                writes
                    .into_iter()
                    .map(|(key, dot)| (keys.intern(&key).id, dot))
                    .collect(),
            )),
            WireMessage::SyncRequest { versions } => Message::SyncRequest(Rc::new(all(versions))),
            WireMessage::SyncReply { versions } => Message::SyncReply(Rc::new(all(versions))),
            WireMessage::MerkleCompare { level, hashes } => Message::MerkleCompare {
                level,
                hashes: Rc::new(hashes),
            },
            WireMessage::MerkleSync {
                leaves,
                versions,
                reply,
            } => Message::MerkleSync {
                leaves: Rc::new(leaves),
                versions: Rc::new(all(versions)),
                reply,
            },
        })
    }

    /// Every bound the message must keep for a replica of a cluster of `nodes` nodes, checked
    /// without interning anything ([`WireMessage::into_message`] checks it first): a runtime
    /// that takes several messages at once checks them all before it takes any.
    pub fn validate(&self, nodes: u32) -> Result<(), WireError> {
        let node = |id: NodeId, what: &str| check_node(id, nodes, what);
        let key = check_key;
        let dot = |d: Dot, what: &str| check_dot(d, nodes, what);
        let version = |v: &WireVersion| v.check(nodes);
        let versions = |vs: &[WireVersion]| vs.iter().try_for_each(version);
        let leaves = |ls: &[u32]| match ls.iter().find(|l| **l as usize >= merkle::LEAVES) {
            Some(l) => refuse(format!("leaf range {l} (there are {})", merkle::LEAVES)),
            None => Ok(()),
        };
        match self {
            WireMessage::Replicate { version: v } | WireMessage::Rumor { version: v } => version(v),
            WireMessage::Put {
                version: v, hint, ..
            } => {
                if let Some(owner) = hint {
                    node(*owner, "a hint")?;
                }
                version(v)
            }
            WireMessage::PutAck { .. } | WireMessage::RepairAck { .. } => Ok(()),
            WireMessage::Get { key: k, .. } => key(k),
            WireMessage::GetReply { versions: vs, .. }
            | WireMessage::Repair { versions: vs, .. }
            | WireMessage::Handoff { versions: vs }
            | WireMessage::SyncRequest { versions: vs }
            | WireMessage::SyncReply { versions: vs } => versions(vs),
            WireMessage::HandoffAck { writes } => writes.iter().try_for_each(|(k, d)| {
                key(k)?;
                dot(*d, "an acknowledged write")
            }),
            WireMessage::MerkleCompare { level, hashes } => {
                if *level as usize >= merkle::LEVELS {
                    return refuse(format!(
                        "Merkle level {level} (the tree has {})",
                        merkle::LEVELS
                    ));
                }
                let width = merkle::FANOUT.pow(u32::from(*level) + 1);
                match hashes.iter().find(|(i, _)| *i as usize >= width) {
                    Some((i, _)) => {
                        refuse(format!("Merkle node {i} at level {level} (of {width})"))
                    }
                    None => Ok(()),
                }
            }
            WireMessage::MerkleSync {
                leaves: ls,
                versions: vs,
                ..
            } => {
                leaves(ls)?;
                versions(vs)
            }
        }
    }
}

fn check_node(id: NodeId, nodes: u32, what: &str) -> Result<(), WireError> {
    if (1..=nodes).contains(&id.0) {
        Ok(())
    } else {
        refuse(format!(
            "{what} names node {}, not one of 1 to {nodes}",
            id.0
        ))
    }
}

fn check_key(text: &str) -> Result<(), WireError> {
    let chars = text.chars().count();
    if chars == 0 {
        refuse("a key is empty")
    } else if chars > MAX_KEY_CHARS {
        refuse(format!(
            "a key of {chars} characters (at most {MAX_KEY_CHARS})"
        ))
    } else {
        Ok(())
    }
}

fn check_dot(d: Dot, nodes: u32, what: &str) -> Result<(), WireError> {
    check_node(d.node, nodes, what)?;
    if d.counter == 0 {
        return refuse(format!("{what} has counter 0 (counters start at 1)"));
    }
    Ok(())
}

impl Version {
    /// This version as plain data, its key named by its text in `keys`: what a runtime keeps
    /// on disk or shows a client.
    pub fn to_wire(&self, keys: &KeyTable) -> WireVersion {
        wire_version(self, keys)
    }
}

impl WireVersion {
    /// The version for a replica of a cluster of `nodes` nodes, its key interned into `keys`,
    /// checked as a message's versions are (nothing is interned if it is refused).
    pub fn into_version(self, nodes: u32, keys: &mut KeyTable) -> Result<Rc<Version>, WireError> {
        self.check(nodes)?;
        Ok(self.intern(keys))
    }

    /// The version, its key interned into `keys`, unchecked.
    fn intern(self, keys: &mut KeyTable) -> Rc<Version> {
        Rc::new(Version {
            write: WriteId(0),
            key: keys.intern(&self.key),
            value: self.value.map(Into::into),
            stamp: self.stamp,
            context: self.context,
            created: self.created,
        })
    }

    fn check(&self, nodes: u32) -> Result<(), WireError> {
        check_key(&self.key)?;
        if let Some(value) = &self.value {
            let chars = value.chars().count();
            if chars > MAX_VALUE_CHARS {
                return refuse(format!(
                    "a value of {chars} characters (at most {MAX_VALUE_CHARS})"
                ));
            }
        }
        check_dot(self.stamp.dot(), nodes, "a version's stamp")?;
        for &(n, _) in self.context.vector().entries() {
            check_node(n, nodes, "a context")?;
        }
        for &d in self.context.cloud() {
            check_dot(d, nodes, "a context")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::VersionVector;
    use crate::replica::{Env, Outbox, Output, Placement, Protocol, Replica};
    use crate::ring::Ring;
    use crate::rng::Rng;
    use crate::version::ConflictMode;

    fn version(
        keys: &mut KeyTable,
        key: &str,
        value: Option<&str>,
        node: u32,
        seq: u32,
    ) -> Rc<Version> {
        Rc::new(Version {
            write: WriteId(0),
            key: keys.intern(key),
            value: value.map(Into::into),
            stamp: Stamp {
                millis: -5 + i64::from(seq),
                node: NodeId(node),
                seq,
            },
            context: CausalContext::from(VersionVector::from_pairs([
                (NodeId(1), 2),
                (NodeId(3), 1),
            ])),
            created: 1_700_000_000_000,
        })
    }

    /// One message of every kind, carrying keys "b" and "a" (in that order of first use).
    fn every_kind(keys: &mut KeyTable) -> Vec<Message> {
        let b = version(keys, "b", Some("Bob"), 2, 3);
        let a = version(keys, "a", None, 3, 1);
        let mut with_dots = (*b).clone();
        with_dots.context = CausalContext::from_dots([
            Dot {
                node: NodeId(1),
                counter: 1,
            },
            Dot {
                node: NodeId(1),
                counter: 4,
            },
        ]);
        let with_dots = Rc::new(with_dots);
        let both = || Rc::new(vec![b.clone(), a.clone()]);
        vec![
            Message::Replicate(b.clone()),
            Message::Rumor(a.clone()),
            Message::Put {
                request: RequestId(7),
                version: with_dots.clone(),
                hint: None,
            },
            Message::Put {
                request: RequestId(8),
                version: b.clone(),
                hint: Some(NodeId(3)),
            },
            Message::PutAck {
                request: RequestId(7),
            },
            Message::Get {
                request: RequestId(9),
                key: a.key.id,
            },
            Message::GetReply {
                request: RequestId(9),
                versions: Held::from(vec![b.clone(), with_dots]),
            },
            Message::GetReply {
                request: RequestId(9),
                versions: Held::Nothing,
            },
            Message::Repair {
                request: RequestId(9),
                blocking: true,
                versions: Held::One(a.clone()),
            },
            Message::RepairAck {
                request: RequestId(9),
            },
            Message::Handoff(both()),
            Message::HandoffAck(Rc::new(vec![(a.key.id, a.dot()), (b.key.id, b.dot())])),
            Message::SyncRequest(both()),
            Message::SyncReply(Rc::new(Vec::new())),
            Message::MerkleCompare {
                level: 2,
                hashes: Rc::new(vec![(63, u64::MAX), (0, 1)]),
            },
            Message::MerkleSync {
                leaves: Rc::new(vec![0, 63]),
                versions: both(),
                reply: true,
            },
        ]
    }

    #[test]
    fn every_message_crosses_as_json_into_a_process_that_numbers_keys_otherwise() {
        let mut here = KeyTable::default();
        let messages = every_kind(&mut here);
        let mut there = KeyTable::default();
        there.intern("a");
        there.intern("zzz");
        for message in &messages {
            let wire = message.to_wire(&here);
            let json = serde_json::to_string(&wire).unwrap();
            let back: WireMessage = serde_json::from_str(&json).unwrap();
            assert_eq!(back, wire, "{json}");
            let arrived = back.into_message(3, &mut there).unwrap();
            assert_eq!(arrived.kind(), message.kind());
            assert_eq!(
                arrived.to_wire(&there),
                wire,
                "the same message, named by text: {json}"
            );
            for (sent, got) in message.carried().iter().zip(arrived.carried()) {
                assert_eq!(there.name(got.key.id), here.name(sent.key.id));
                assert_eq!(
                    got.key.hash, sent.key.hash,
                    "each process hashes the text alike"
                );
            }
        }
        assert_eq!(
            there.id("b"),
            Some(crate::ids::KeyId(2)),
            "numbered where it arrived"
        );
        let json = serde_json::to_string(&messages[3].to_wire(&here)).unwrap();
        assert!(
            json.starts_with(r#"{"type":"put","request":8,"version":{"key":"b","value":"Bob""#),
            "{json}"
        );
    }

    #[test]
    fn a_malformed_message_is_refused_and_interns_nothing() {
        let good = r#"{"type":"replicate","version":{"key":"k","value":"v","stamp":{"millis":1,"node":2,"seq":1},"created":1}}"#;
        let mut keys = KeyTable::default();
        let parse = |json: &str| serde_json::from_str::<WireMessage>(json);
        assert!(parse(good).unwrap().into_message(3, &mut keys).is_ok());
        // At the limits, taken: a key of 256 characters (here of two bytes each), a value of 4,096.
        let at_limits = good
            .replace(
                r#""key":"k""#,
                &format!(r#""key":"{}""#, "é".repeat(MAX_KEY_CHARS)),
            )
            .replace(
                r#""value":"v""#,
                &format!(r#""value":"{}""#, "v".repeat(MAX_VALUE_CHARS)),
            );
        assert!(
            parse(&at_limits)
                .unwrap()
                .into_message(3, &mut keys)
                .is_ok()
        );
        let long_key = "k".repeat(MAX_KEY_CHARS + 1);
        let long_value = "v".repeat(MAX_VALUE_CHARS + 1);
        let refused_by_check = [
            (good.replace(r#""node":2"#, r#""node":4"#), "names node 4, not one of 1 to 3"),
            (good.replace(r#""node":2"#, r#""node":0"#), "names node 0"),
            (good.replace(r#""seq":1"#, r#""seq":0"#), "counter 0"),
            (good.replace(r#""key":"k""#, r#""key":"""#), "a key is empty"),
            (good.replace(r#""key":"k""#, &format!(r#""key":"{long_key}""#)), "at most 256"),
            (good.replace(r#""value":"v""#, &format!(r#""value":"{long_value}""#)), "at most 4096"),
            (good.replace(r#""created":1"#, r#""created":1,"context":{"9":1}"#), "a context names node 9"),
            (r#"{"type":"merkleCompare","level":3,"hashes":[]}"#.into(), "Merkle level 3"),
            (r#"{"type":"merkleCompare","level":0,"hashes":[[4,1]]}"#.into(), "Merkle node 4 at level 0"),
            (r#"{"type":"merkleSync","leaves":[64],"versions":[],"reply":false}"#.into(), "leaf range 64"),
            (r#"{"type":"put","request":1,"version":{"key":"x","stamp":{"millis":1,"node":1,"seq":1},"created":1},"hint":5}"#.into(), "a hint names node 5"),
            (r#"{"type":"handoffAck","writes":[["x",{"node":1,"counter":0}]]}"#.into(), "counter 0"),
        ];
        for (json, why) in refused_by_check {
            let error = parse(&json)
                .unwrap()
                .into_message(3, &mut keys)
                .unwrap_err();
            assert!(error.0.contains(why), "{json}: {error}");
        }
        let refused_by_parse = [
            good.replace(r#""created":1"#, r#""created":1,"write":5"#),
            good.replace("replicate", "replicant"),
            r#"{"type":"putAck"}"#.into(),
            r#"{"type":"get","request":1,"key":"a","extra":true}"#.into(),
            r#"{"type":"putAck","request":-1}"#.into(),
        ];
        for json in refused_by_parse {
            assert!(parse(&json).is_err(), "{json}");
        }
        assert_eq!(keys.len(), 2, "only the good messages' keys were numbered");
    }

    /// Two nodes in two processes, each with its own key table, meeting keys in other orders:
    /// every message between them crosses as JSON, and anti-entropy leaves them alike.
    #[test]
    fn two_replicas_that_only_speak_json_reconcile() {
        let protocol = Rc::new(Protocol {
            conflict: ConflictMode::VersionVectors,
            anti_entropy: Some((crate::replica::AntiEntropyKind::Merkle, 100)),
            ..Protocol::tutorial(2)
        });
        let placement = Rc::new(Placement::new(Ring::new(2, 4, &mut Rng::new(1, 1)), 2));
        let mut nodes: Vec<(Replica, KeyTable)> = (1..=2)
            .map(|id| {
                let replica = Replica::new(
                    NodeId(id),
                    protocol.clone(),
                    placement.clone(),
                    0,
                    Rng::new(2, u64::from(id)),
                );
                (replica, KeyTable::default())
            })
            .collect();
        let nobody = |_: NodeId| false;
        let env = |now| Env { now, up: &nobody };
        let texts = ["apple", "pear", "fig", "plum", "kiwi"];
        let mut out = Outbox::new();
        for (i, text) in texts.iter().enumerate() {
            for (n, (replica, keys)) in nodes.iter_mut().enumerate() {
                // Node 2 meets the keys backwards, and writes only some of them.
                let text = if n == 0 {
                    *text
                } else {
                    texts[texts.len() - 1 - i]
                };
                if n == 1 && i % 2 == 1 {
                    continue;
                }
                let key = keys.intern(text);
                let value = Some(format!("{text} from n{}", n + 1).into());
                replica.client_write(
                    &env(i as u64),
                    RequestId(1),
                    WriteId(0),
                    key,
                    value,
                    None,
                    1,
                    &mut out,
                );
            }
        }
        // A Merkle exchange started by node 1, every message through JSON, until quiet.
        out.clear();
        nodes[0]
            .0
            .handle_timer(&env(10), crate::replica::Timer::AntiEntropy(0), &mut out);
        let mut mail: Vec<(usize, Message)> = std::iter::from_fn(|| out.next_effect())
            .filter_map(|o| match o {
                Output::Send { to, message } => Some((to.index(), message)),
                _ => None,
            })
            .collect();
        let mut hops = 0;
        while let Some((to, message)) = mail.pop() {
            hops += 1;
            let from = 1 - to;
            let json = serde_json::to_string(&message.to_wire(&nodes[from].1)).unwrap();
            let wire: WireMessage = serde_json::from_str(&json).unwrap();
            let (replica, keys) = &mut nodes[to];
            let message = wire.into_message(2, keys).unwrap();
            replica.handle_message(&env(11), NodeId::from_index(from), message, &mut out);
            while let Some(o) = out.next_effect() {
                if let Output::Send { to, message } = o {
                    mail.push((to.index(), message));
                }
            }
        }
        assert!(
            hops >= 4,
            "compare, descend, sync and its reply: {hops} hops"
        );
        let store = |(replica, keys): &(Replica, KeyTable)| {
            let mut all: Vec<(String, Vec<String>)> = replica
                .keys()
                .map(|(id, vs)| {
                    let mut values: Vec<String> = vs
                        .iter()
                        .map(|v| v.value.as_deref().unwrap_or("").to_string())
                        .collect();
                    values.sort();
                    (keys.name(id).to_string(), values)
                })
                .collect();
            all.sort();
            all
        };
        let (one, two) = (store(&nodes[0]), store(&nodes[1]));
        assert_eq!(one, two);
        assert_eq!(one.len(), 5);
        assert_eq!(
            one[0],
            (
                "apple".into(),
                vec!["apple from n1".into(), "apple from n2".into()]
            ),
            "blind writes are siblings"
        );
    }
}
