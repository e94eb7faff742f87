//! Client sessions (Terry et al., 1994): a client that passes a session with its requests is
//! told which of the session's guarantees a read broke: read-your-writes (the read does not
//! reflect the session's last acknowledged write of the key) and monotonic reads (it does not
//! reflect what the session's last read of the key returned).
//!
//! As in Bayou, the client carries its session: every answer to a request with a session gives
//! the session back, updated, and the client sends it with its next request, through any node.
//! So a session that writes through node 1 and reads through node 2 is checked against its own
//! write. A session is plain JSON, `{"wrote": {"name": stamp}, "read": {"name": [stamps]}}`,
//! bounded to [`MAX_SESSION_KEYS`] keys (the first in key order is forgotten past it).

use std::collections::BTreeMap;
use std::rc::Rc;

use converge_replica::clock::Stamp;
use converge_replica::ids::MAX_KEY_CHARS;
use converge_replica::replica::MAX_SIBLINGS;
use converge_replica::version::{ConflictMode, Version};
use serde::{Deserialize, Serialize};

/// The most keys a session remembers, for its writes and for its reads.
pub const MAX_SESSION_KEYS: usize = 1_000;

/// What a client's session has written and read, key by key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Session {
    /// The session's last acknowledged write of each key (its timestamp, which holds its dot).
    #[serde(default)]
    pub wrote: BTreeMap<String, Stamp>,
    /// What the session's last read of each key returned.
    #[serde(default)]
    pub read: BTreeMap<String, Vec<Stamp>>,
}

/// Whether a reader holding `held` reflects the write stamped `w`, from what the versions say:
/// it holds that write, or a version whose writer had seen it (its context covers the write's
/// dot), or, under a rule that keeps no siblings, a version with a later timestamp, which
/// replaced it. Real nodes have no global order of writes: timestamps stand in for it.
pub fn reflects(conflict: ConflictMode, held: &[Rc<Version>], w: Stamp) -> bool {
    held.iter().any(|v| {
        v.dot() == w.dot()
            || v.context.covers(w.dot())
            || (!conflict.keeps_siblings() && v.stamp > w)
    })
}

impl Session {
    /// Checks a session a client sent: its size, its keys, its nodes.
    pub fn check(&self, nodes: u32) -> Result<(), String> {
        if self.wrote.len() > MAX_SESSION_KEYS || self.read.len() > MAX_SESSION_KEYS {
            return Err(format!(
                "a session remembers at most {MAX_SESSION_KEYS} keys"
            ));
        }
        let keys = self.wrote.keys().chain(self.read.keys());
        if let Some(k) = keys
            .into_iter()
            .find(|k| k.is_empty() || k.chars().count() > MAX_KEY_CHARS)
        {
            return Err(format!(
                "the session names a key of {} characters",
                k.chars().count()
            ));
        }
        if let Some((k, _)) = self.read.iter().find(|(_, s)| s.len() > MAX_SIBLINGS) {
            return Err(format!(
                "the session's read of \"{k}\" has more than {MAX_SIBLINGS} versions"
            ));
        }
        let stamps = self.wrote.values().chain(self.read.values().flatten());
        for s in stamps {
            if !(1..=nodes).contains(&s.node.0) || s.seq == 0 {
                return Err(format!(
                    "the session names a write by node {} (counter {}), not one of this cluster's",
                    s.node.0, s.seq
                ));
            }
        }
        Ok(())
    }

    /// The session's write `stamp` of `key` was acknowledged.
    pub fn wrote(&mut self, key: &str, stamp: Stamp) {
        if self.wrote.len() >= MAX_SESSION_KEYS && !self.wrote.contains_key(key) {
            self.wrote.pop_first();
        }
        self.wrote.insert(key.to_string(), stamp);
    }

    /// The session read `held` from `key`: the guarantees the read broke, by name; the read is
    /// remembered for the next.
    pub fn read(
        &mut self,
        conflict: ConflictMode,
        key: &str,
        held: &[Rc<Version>],
    ) -> Vec<&'static str> {
        let mut broken = Vec::new();
        if let Some(own) = self.wrote.get(key)
            && !reflects(conflict, held, *own)
        {
            broken.push("read-your-writes");
        }
        if let Some(before) = self.read.get(key)
            && !before.iter().all(|s| reflects(conflict, held, *s))
        {
            broken.push("monotonic-reads");
        }
        if self.read.len() >= MAX_SESSION_KEYS && !self.read.contains_key(key) {
            self.read.pop_first();
        }
        self.read
            .insert(key.to_string(), held.iter().map(|v| v.stamp).collect());
        broken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_replica::clock::{CausalContext, Dot};
    use converge_replica::ids::{Key, KeyId, NodeId, WriteId};

    fn stamp(node: u32, seq: u32, millis: i64) -> Stamp {
        Stamp {
            millis,
            node: NodeId(node),
            seq,
        }
    }

    fn version(s: Stamp, context: &[(u32, u32)]) -> Rc<Version> {
        Rc::new(Version {
            write: WriteId(0),
            key: Key::new(KeyId(0), "k"),
            value: Some("v".into()),
            stamp: s,
            context: CausalContext::from_dots(context.iter().map(|&(n, c)| Dot {
                node: NodeId(n),
                counter: c,
            })),
            created: s.millis,
        })
    }

    #[test]
    fn a_read_reflects_a_write_it_holds_or_that_its_versions_saw() {
        let w = stamp(1, 1, 100);
        let vv = ConflictMode::VersionVectors;
        assert!(reflects(vv, &[version(w, &[])], w));
        assert!(reflects(vv, &[version(stamp(2, 1, 50), &[(1, 1)])], w));
        // A concurrent version with a later timestamp is a sibling, not a replacement.
        assert!(!reflects(vv, &[version(stamp(2, 1, 500), &[])], w));
        assert!(reflects(
            ConflictMode::LastWriterWins,
            &[version(stamp(2, 1, 500), &[])],
            w
        ));
        assert!(!reflects(
            ConflictMode::LastWriterWins,
            &[version(stamp(2, 1, 50), &[])],
            w
        ));
        assert!(!reflects(vv, &[], w));
    }

    #[test]
    fn reads_report_the_guarantees_they_break() {
        let mut s = Session::default();
        let lww = ConflictMode::LastWriterWins;
        let (mine, old) = (stamp(1, 2, 200), stamp(1, 1, 100));
        s.wrote("k", mine);
        assert_eq!(s.read(lww, "k", &[version(old, &[])]), ["read-your-writes"]);
        assert!(s.read(lww, "k", &[version(mine, &[])]).is_empty());
        // Having read `mine`, reading `old` again goes back in time.
        let broken = s.read(lww, "k", &[version(old, &[])]);
        assert_eq!(broken, ["read-your-writes", "monotonic-reads"]);
        // Another key has no history.
        assert!(s.read(lww, "other", &[]).is_empty());
    }

    #[test]
    fn a_session_is_bounded_and_checked() {
        let mut s = Session::default();
        for i in 0..=MAX_SESSION_KEYS {
            s.wrote(&format!("k{i:05}"), stamp(1, 1, 1));
        }
        assert_eq!(s.wrote.len(), MAX_SESSION_KEYS);
        assert!(!s.wrote.contains_key("k00000"));
        assert!(s.check(3).is_ok());
        s.wrote("x", stamp(9, 1, 1));
        assert!(s.check(3).unwrap_err().contains("node 9"));
        let json = r#"{"wrote": {"k": {"millis": 1, "node": 1, "seq": 1}}, "extra": 1}"#;
        assert!(serde_json::from_str::<Session>(json).is_err());
    }
}
