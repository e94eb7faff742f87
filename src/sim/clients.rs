//! Clients: their writes, reads, deletes and resolutions, each a request with an id whose
//! outcome can be read once its coordinator answers; and their sessions (Terry et al., 1994).

use std::collections::BTreeMap;
use std::rc::Rc;

use super::views::{Context, RequestView, WriteOutcome};
use super::{Simulation, check_key, perfect_detector, version_view};
use crate::error::Error;
use crate::ids::{KeyId, NodeId, RequestId, WriteId};
use crate::ids::{MAX_VALUE_CHARS, Time};
use crate::replica::{Env, Outcome, Output};
use crate::settings::Consistency;
use crate::trace::{RequestStatus, TraceEvent};
use crate::version::{ConflictMode, Held, Version};
use crate::writes::WriteStatus;

/// What a client may add to a request.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClientOptions {
    /// The client session the request belongs to (its guarantees are checked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// For a write: the context of an earlier read of the key; it replaces what that read saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Context>,
    /// W or R for this request instead of the setting (Cassandra's per-request level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Consistency>,
}

/// What a session has written and read, key by key: what its guarantees are checked against.
#[derive(Clone, Debug, Default)]
pub struct Session {
    /// The session's latest acknowledged write of each key.
    wrote: BTreeMap<KeyId, Rc<Version>>,
    /// What the session's latest read of each key returned.
    read: BTreeMap<KeyId, Held>,
}

/// The kinds of client request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Write,
    Delete,
    Read,
}

impl RequestRecord {
    /// When it was answered.
    fn finished(&self) -> Option<Time> {
        (self.took != UNANSWERED).then(|| self.started + Time::from(self.took))
    }

    /// A write's version.
    fn write(&self) -> Option<&Rc<Version>> {
        match self.kind {
            Kind::Write | Kind::Delete => self.versions.first(),
            Kind::Read => None,
        }
    }
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Write => "write",
            Kind::Delete => "delete",
            Kind::Read => "read",
        }
    }
}

/// A client request as the simulation remembers it: one is kept for every request of the run,
/// and the one of each request in progress is touched when it starts and when it is answered,
/// so it is packed into 64 bytes (a cache line).
#[derive(Clone, Debug)]
pub(super) struct RequestRecord {
    pub(super) kind: Kind,
    status: RequestStatus,
    stale: bool,
    pub(super) node: NodeId,
    pub(super) key: KeyId,
    /// Acknowledgements or replies it got, and needed (at most the cluster's size).
    got: u16,
    needed: u16,
    behind: u32,
    /// Milliseconds from start to answer ([`UNANSWERED`] until then).
    took: u32,
    started: Time,
    session: Option<Rc<str>>,
    /// A write's version; a read's result once answered.
    versions: Held,
    /// The session guarantees the request broke ([`Violations`]).
    violations: Violations,
}

/// Lists of writes kept for reads in progress, by read. Reads begin in id order and end in
/// roughly that order, so each list is added at the back, found by halving, and forgotten by
/// emptying its slot: the slots at the front go once they are empty (a map's nodes, or shifting
/// thousands of lists for each read answered, cost more under a steady stream of reads).
#[derive(Clone, Debug, Default)]
pub(super) struct ByRead(std::collections::VecDeque<(RequestId, Option<Box<[WriteId]>>)>);

impl ByRead {
    fn insert(&mut self, read: RequestId, writes: Box<[WriteId]>) {
        debug_assert!(self.0.back().is_none_or(|(last, _)| *last < read));
        self.0.push_back((read, Some(writes)));
    }

    fn get(&self, read: RequestId) -> Option<&[WriteId]> {
        let at = self.0.binary_search_by_key(&read, |(r, _)| *r).ok()?;
        self.0[at].1.as_deref()
    }

    fn remove(&mut self, read: RequestId) {
        if let Ok(at) = self.0.binary_search_by_key(&read, |(r, _)| *r) {
            self.0[at].1 = None;
        }
        while self.0.front().is_some_and(|(_, writes)| writes.is_none()) {
            self.0.pop_front();
        }
    }
}

/// Which writes were acknowledged before a read began when both happened in one millisecond,
/// where times alone cannot tell: a read that began before a write was acknowledged (or even
/// issued) in the same millisecond is not stale for missing it.
#[derive(Clone, Debug, Default)]
pub(super) struct AckOrder {
    /// The millisecond of the latest acknowledgement, and the writes acknowledged in it so far.
    now: Time,
    acked: Vec<WriteId>,
    /// Reads in progress that began in a millisecond after some of its acknowledgements:
    /// those writes.
    reads: ByRead,
}

impl AckOrder {
    fn acknowledged(&mut self, now: Time, write: WriteId) {
        if now != self.now {
            self.now = now;
            self.acked.clear();
        }
        self.acked.push(write);
    }

    fn read_began(&mut self, now: Time, read: RequestId) {
        if now == self.now && !self.acked.is_empty() {
            self.reads.insert(read, self.acked.as_slice().into());
        }
    }

    /// Whether `write`, acknowledged at `acked_at`, was acknowledged before `read` (begun at
    /// `started`) began.
    fn before(&self, read: RequestId, started: Time, write: WriteId, acked_at: Time) -> bool {
        acked_at < started
            || (acked_at == started && self.reads.get(read).is_some_and(|w| w.contains(&write)))
    }

    fn read_answered(&mut self, read: RequestId) {
        self.reads.remove(read);
    }
}

/// How many of the latest requests are searched for the read a context came from, when the
/// context does not name it.
const READS_SEARCHED: usize = 10_000;

/// `RequestRecord::took` of a request not answered yet.
const UNANSWERED: u32 = u32::MAX;

/// The session guarantees a read broke, as bits (a request record stays small: one is kept for
/// every request of the run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Violations(u8);

impl Violations {
    const READ_YOUR_WRITES: u8 = 1;
    const MONOTONIC_READS: u8 = 2;

    fn any(self) -> bool {
        self.0 != 0
    }

    /// Their names, as the page and the API show them.
    fn names(self) -> Vec<&'static str> {
        [
            (Self::READ_YOUR_WRITES, "read-your-writes"),
            (Self::MONOTONIC_READS, "monotonic-reads"),
        ]
        .into_iter()
        .filter(|(bit, _)| self.0 & bit != 0)
        .map(|(_, name)| name)
        .collect()
    }
}

impl Simulation {
    /// A client writes `key = value` through `node`, without options.
    pub fn write(&mut self, node: NodeId, key: &str, value: &str) -> Result<WriteOutcome, Error> {
        self.write_with(node, key, Some(value), &ClientOptions::default())
    }

    /// A client deletes `key` through `node`: a tombstone is written, and replicates like a value.
    pub fn delete(&mut self, node: NodeId, key: &str) -> Result<WriteOutcome, Error> {
        self.write_with(node, key, None, &ClientOptions::default())
    }

    /// A client reads `key` through `node`, without options.
    pub fn read(&mut self, node: NodeId, key: &str) -> Result<RequestView, Error> {
        self.read_with(node, key, &ClientOptions::default())
    }

    /// A client writes `value` (None: deletes) to `key` through `node`. Without coordination the
    /// node applies it at once and sends it on; with it, the node coordinates a quorum write,
    /// and the outcome says "pending" until W replicas acknowledge (see [`Self::request`]).
    pub fn write_with(
        &mut self,
        node: NodeId,
        key: &str,
        value: Option<&str>,
        options: &ClientOptions,
    ) -> Result<WriteOutcome, Error> {
        self.write_having_seen(node, key, value, options, None)
    }

    /// A write, as [`Self::write_with`]; `resolved` lists the siblings a resolve read at the
    /// node (what its client saw), for the observer's history.
    fn write_having_seen(
        &mut self,
        node: NodeId,
        key: &str,
        value: Option<&str>,
        options: &ClientOptions,
        resolved: Option<Vec<WriteId>>,
    ) -> Result<WriteOutcome, Error> {
        self.check_up(node, "write to")?;
        check_key(key)?;
        check_session(options)?;
        if let Some(value) = value {
            let chars = value.chars().count();
            if chars > MAX_VALUE_CHARS {
                return Err(Error::ValueTooLong { chars });
            }
        }
        let op = if self.settings.conflict.is_crdt() {
            Some(
                crate::crdt::Op::parse(self.settings.conflict, value)
                    .map_err(Error::InvalidCommand)?,
            )
        } else {
            None
        };
        let context = match &options.context {
            Some(context) if context.key != key => {
                return Err(Error::InvalidCommand(format!(
                    "this context was read from key \"{}\", not \"{key}\": read \"{key}\" first",
                    short(&context.key)
                )));
            }
            Some(context) => Some(context.clock.clone()),
            None => None,
        };
        let w = self.quorum_for(options.quorum, "writeQuorum")?;
        let key_id = self.intern(key);
        let request = self.open_request(
            if value.is_some() {
                Kind::Write
            } else {
                Kind::Delete
            },
            node,
            key_id,
            options,
            w,
        );
        let write = self.observer.writes.next_id();
        // Taken before the write: a coordinator's own write replaces what it held.
        let saw = match (resolved, &op) {
            (Some(saw), _) => saw,
            (None, Some(op)) => self.seen_by_coordinator(node, key_id, op),
            (None, None) => self.seen_by_client(node, key_id, options.context.as_ref()),
        };
        let mut out = std::mem::take(&mut self.out);
        let version = {
            let up = perfect_detector(&self.network, &self.live, node);
            let env = Env {
                now: self.now,
                up: &up,
            };
            let key = self.keys.key(key_id);
            self.replicas[node.index()].client_write(
                &env,
                request,
                write,
                key,
                value.map(Into::into),
                context,
                w,
                &mut out,
            )
        };
        let applied = self.replicas[node.index()]
            .get(key_id)
            .iter()
            .any(|v| v.write == write);
        let replicas = self.placement.replicas(self.keys.key(key_id));
        let conflict = self.settings.conflict;
        self.observer.writes.record(
            self.now,
            version.clone(),
            &saw,
            &replicas,
            &self.replicas,
            conflict,
            &self.live,
        );
        if self.observer.writes.forget_due() {
            let lost = self.lost_writes();
            self.observer.writes.forget_old(&lost);
        }
        self.requests[request.0 as usize - 1].versions = Held::One(version.clone());
        self.observer.stats.writes += 1;
        let time = self.now;
        self.observer.trace.record(|| TraceEvent::Write {
            time,
            node,
            write,
            request,
            key: key.to_string(),
            delete: value.is_none(),
        });
        let messages = out
            .effects()
            .iter()
            .map(|o| match o {
                Output::Send { .. } => 1,
                Output::Broadcast { .. } => self.settings.nodes - 1,
                _ => 0,
            })
            .sum();
        self.apply(node, &mut out);
        self.put_back(out);
        self.observer.changes += 1;
        Ok(WriteOutcome {
            request,
            write,
            node,
            time,
            stamp_ms: version.stamp.millis,
            applied,
            status: self.requests[request.0 as usize - 1].status,
            messages,
        })
    }

    /// A client reads `key` through `node`. Without coordination the node answers from its own
    /// store; with it, the node coordinates a quorum read and the outcome is "pending" until R
    /// replicas reply (see [`Self::request`]).
    pub fn read_with(
        &mut self,
        node: NodeId,
        key: &str,
        options: &ClientOptions,
    ) -> Result<RequestView, Error> {
        self.check_up(node, "read from")?;
        check_key(key)?;
        check_session(options)?;
        if options.context.is_some() {
            return Err(Error::InvalidCommand(
                "a read takes no context: pass the context a read returns to a write".into(),
            ));
        }
        let r = self.quorum_for(options.quorum, "readQuorum")?;
        let key_id = self.intern(key);
        let request = self.open_request(Kind::Read, node, key_id, options, r);
        self.observer.stats.reads += 1;
        let time = self.now;
        self.observer.trace.record(|| TraceEvent::Read {
            time,
            node,
            request,
            key: key.to_string(),
        });
        let mut out = std::mem::take(&mut self.out);
        {
            let up = perfect_detector(&self.network, &self.live, node);
            let env = Env {
                now: self.now,
                up: &up,
            };
            let key = self.keys.key(key_id);
            self.replicas[node.index()].client_read(&env, request, key, r, &mut out);
        }
        self.apply(node, &mut out);
        self.put_back(out);
        self.observer.changes += 1;
        Ok(self.request(request).expect("the request was just made"))
    }

    /// Resolves the siblings `node` holds for `key` (version vectors): writes `value` with the
    /// context of every sibling, replacing them all, as a Riak client does after reading them.
    pub fn resolve(
        &mut self,
        node: NodeId,
        key: &str,
        value: &str,
        options: &ClientOptions,
    ) -> Result<WriteOutcome, Error> {
        self.check_up(node, "resolve at")?;
        check_key(key)?;
        if self.settings.conflict.is_crdt() {
            return Err(Error::InvalidCommand(
                "sets and counters merge by themselves: there are no siblings to resolve"
                    .to_string(),
            ));
        }
        let held = self.versions_at(node, key)?;
        if held.len() < 2 {
            return Err(Error::InvalidCommand(format!(
                "node {} holds no siblings of \"{}\" to resolve ({} version{}): only concurrent \
                 writes under version vectors make siblings",
                node.0,
                short(key),
                held.len(),
                if held.len() == 1 { "" } else { "s" }
            )));
        }
        let saw = held.iter().map(|v| v.write).collect();
        let context = Context {
            key: key.to_string(),
            clock: crate::version::context_of(held),
            read: None,
        };
        let options = ClientOptions {
            context: Some(context),
            ..options.clone()
        };
        self.write_having_seen(node, key, Some(value), &options, Some(saw))
    }

    /// What the coordinator of a data type's operation had seen, for the observer's history:
    /// the state it applied the operation to. A set's add or remove of an element saw that
    /// element's versions and the removals the node holds; a clear saw everything it holds; a
    /// counter's increment saw the node's own earlier increments of the key, which its totals
    /// carry (the last one, which saw those before it), held or not.
    fn seen_by_coordinator(&self, node: NodeId, key: KeyId, op: &crate::crdt::Op) -> Vec<WriteId> {
        use crate::crdt::Op;
        if let Op::Increment(_) = op {
            return (self
                .observer
                .writes
                .ids_of_key_after(key, None)
                .iter()
                .rev())
            .find(|id| {
                self.observer
                    .writes
                    .get(**id)
                    .is_some_and(|r| r.origin() == node)
            })
            .into_iter()
            .copied()
            .collect();
        }
        let held = self.replicas[node.index()].get(key);
        held.iter()
            .filter(|v| match op {
                Op::Add(element) | Op::Remove(element) => {
                    v.value.is_none() || v.value.as_ref() == Some(element)
                }
                _ => true,
            })
            .map(|v| v.write)
            .collect()
    }

    /// What the client of a write through `node` had seen of `key`, for the observer's history
    /// (see [`crate::writes::WriteLog::seen_by`]): what the read its context came from returned.
    /// Without a context, nothing under version vectors (a blind write), and under the other
    /// rules what the node holds (the tutorial's node overwrites its own value knowingly).
    fn seen_by_client(&self, node: NodeId, key: KeyId, context: Option<&Context>) -> Vec<WriteId> {
        let Some(context) = context else {
            return match self.settings.conflict {
                ConflictMode::VersionVectors => Vec::new(),
                _ => self.replicas[node.index()]
                    .get(key)
                    .iter()
                    .map(|v| v.write)
                    .collect(),
            };
        };
        let read_of_key = |id: RequestId| {
            let r = self.requests.get((id.0 as usize).checked_sub(1)?)?;
            (r.kind == Kind::Read && r.key == key && r.status == RequestStatus::Ok).then_some(r)
        };
        let read = context.read.and_then(read_of_key).or_else(|| {
            // A context that does not name its read (typed in, or saved before reads were
            // named): the latest recent read of the key that returned exactly it.
            (0..self.requests.len())
                .rev()
                .take(READS_SEARCHED)
                .filter_map(|i| read_of_key(RequestId(i as u32 + 1)))
                .find(|r| crate::version::context_of(&r.versions) == context.clock)
        });
        read.map_or_else(Vec::new, |r| r.versions.iter().map(|v| v.write).collect())
    }

    /// A request and its outcome so far.
    pub fn request(&self, id: RequestId) -> Option<RequestView> {
        let record = self.requests.get((id.0 as usize).checked_sub(1)?)?;
        let key = String::from(&**self.keys.name(record.key));
        let latest = (record.kind == Kind::Read && record.status != RequestStatus::Pending)
            .then(|| self.observer.writes.latest(record.key))
            .flatten()
            .map(|w| {
                let id = w.version.write;
                let in_flight = || -> Box<dyn Iterator<Item = &Rc<Version>> + '_> {
                    Box::new(self.in_flight_versions())
                };
                self.write_view(
                    id,
                    self.observer.writes.is_lost(id, &self.replicas, in_flight),
                )
            });
        let reading = record.kind == Kind::Read && record.status == RequestStatus::Ok;
        Some(RequestView {
            id,
            kind: record.kind.name(),
            node: record.node,
            key: key.clone(),
            session: record.session.as_deref().map(String::from),
            started_at: record.started,
            status: record.status,
            finished_at: record.finished(),
            latency_ms: record.finished().map(|f| f - record.started),
            got: match record.status {
                // Still waiting: what its coordinator has so far.
                RequestStatus::Pending => self.replicas[record.node.index()]
                    .pending_request(id)
                    .map_or(u32::from(record.got), |(got, _)| got),
                _ => u32::from(record.got),
            },
            needed: u32::from(record.needed),
            write: record.write().map(|v| v.write),
            versions: match record.kind {
                Kind::Read => record
                    .versions
                    .iter()
                    .map(|v| version_view(v, None))
                    .collect(),
                Kind::Write | Kind::Delete => Vec::new(),
            },
            merged: (record.kind == Kind::Read)
                .then(|| crate::crdt::merged_value(self.settings.conflict, &record.versions))
                .flatten(),
            context: reading.then(|| Context {
                key,
                clock: crate::version::context_of(&record.versions),
                read: Some(id),
            }),
            stale: record.stale,
            behind: record.behind,
            violations: record.violations.names(),
            latest,
        })
    }

    /// Every request kept, oldest first (or the last `count`).
    pub fn requests(&self, count: usize) -> Vec<RequestView> {
        let first = self
            .requests
            .len()
            .saturating_sub(count)
            .max(self.requests.first());
        (first..self.requests.len())
            .filter_map(|i| self.request(RequestId(i as u32 + 1)))
            .collect()
    }

    /// Every client write so far, oldest first, with how far it has spread.
    pub fn writes(&self) -> Vec<crate::WriteView> {
        self.recent_writes(usize::MAX)
    }

    /// The last `count` client writes, oldest first.
    pub fn recent_writes(&self, count: usize) -> Vec<crate::WriteView> {
        let shown: Vec<&crate::writes::WriteRecord> = self.observer.writes.last(count).collect();
        // A few (the page's panel): each checked alone, which rarely needs the messages in
        // flight. Many: one pass over every write and message.
        let lost = (shown.len() > 100).then(|| self.lost_writes());
        shown
            .iter()
            .map(|r| {
                let id = r.version.write;
                let is_lost = match &lost {
                    Some(lost) => lost.binary_search(&id).is_ok(),
                    None => self
                        .observer
                        .writes
                        .is_lost(id, &self.replicas, || Box::new(self.in_flight_versions())),
                };
                self.write_view(id, is_lost)
            })
            .collect()
    }

    /// The acknowledged writes that are lost, judged from the history (what clients were told
    /// and saw): no node holds them, no message carries them, and nothing held or carried was
    /// written by a client that had seen them. Among the writes whose records are kept: those
    /// forgotten were judged as they were (see [`crate::writes::WRITES_KEPT`]), and
    /// [`Self::stats`] counts them too.
    pub fn lost_writes(&self) -> Vec<WriteId> {
        self.observer
            .writes
            .lost(&self.replicas, self.in_flight_versions())
    }

    /// The same, judged by the replicas' own rule (their clocks), under version vectors; None
    /// under the other rules, which keep no clocks. Tests hold it to [`Self::lost_writes`]: a
    /// disagreement means a replica replaced a write no client saw, or the clocks claim what
    /// the history does not. (Writes made before a switch to version vectors carry no clock.)
    pub fn lost_writes_by_clocks(&self) -> Option<Vec<WriteId>> {
        self.settings.conflict.keeps_siblings().then(|| {
            self.observer
                .writes
                .lost_by_clocks(&self.replicas, self.in_flight_versions())
        })
    }

    fn write_view(&self, id: WriteId, lost: bool) -> crate::WriteView {
        let r = self
            .observer
            .writes
            .get(id)
            .expect("write ids come from the log");
        crate::WriteView {
            id,
            node: r.origin(),
            key: self.keys.name(r.version.key.id).to_string(),
            value: r.version.value.as_ref().map(|v| {
                // A counter's write shows as the increment it made, not the totals it carries.
                match crate::crdt::CounterEntry::decode(v) {
                    Some((by, _)) if self.settings.conflict == ConflictMode::Counter => {
                        format!("{by:+}")
                    }
                    _ => v.to_string(),
                }
            }),
            stamp_ms: r.version.stamp.millis,
            clock: r.version.clock(),
            issued_at: r.issued_at,
            status: r.status,
            acked_after_ms: r.acked_at().map(|t| t - r.issued_at),
            reached: r.reached,
            arrivals: self.observer.writes.arrivals(id),
            all_live_after_ms: r.all_live_at().map(|t| t - r.issued_at),
            all_after_ms: r.all_at().map(|t| t - r.issued_at),
            lost,
        }
    }

    /// The key's id, numbering it if it is new.
    fn intern(&mut self, name: &str) -> KeyId {
        self.keys.intern(name).id
    }

    /// W or R for a request: its own level, or the setting's; checked against N. Without
    /// coordination one answer (the node's own) is all there is.
    fn quorum_for(&self, own: Option<Consistency>, name: &str) -> Result<u32, Error> {
        let n = self.settings.replicas();
        let level = own.unwrap_or(if name == "writeQuorum" {
            self.settings.write_quorum
        } else {
            self.settings.read_quorum
        });
        let count = level.of(n);
        if count == 0 || count > n {
            let letter = if name == "writeQuorum" { "W" } else { "R" };
            return Err(Error::InvalidCommand(format!(
                "{letter} = {count} does not fit N = {n}: give 1 to {n}"
            )));
        }
        if self.settings.coordination == crate::settings::Coordination::None {
            return Ok(1);
        }
        Ok(count)
    }

    fn open_request(
        &mut self,
        kind: Kind,
        node: NodeId,
        key: KeyId,
        options: &ClientOptions,
        needed: u32,
    ) -> RequestId {
        self.requests.push(RequestRecord {
            kind,
            node,
            key,
            session: options.session.as_deref().map(Rc::from),
            started: self.now,
            status: RequestStatus::Pending,
            took: UNANSWERED,
            got: 0,
            needed: u16::try_from(needed).unwrap_or(u16::MAX),
            versions: Held::Nothing,
            stale: false,
            behind: 0,
            violations: Violations::default(),
        });
        let id = RequestId(self.requests.len() as u32);
        self.forget_old_requests();
        if kind == Kind::Read {
            self.note_stale_candidates(id, key);
            self.ack_order.read_began(self.now, id);
        }
        id
    }

    /// Notes the writes read `id` could be stale for missing: those of `key` acknowledged
    /// before it began (that is, by now) that not every replica reflects yet, or (once a store
    /// was wiped) all of them. A write every replica reflects when the read begins is
    /// reflected by any answer, sent later; one acknowledged later cannot make it stale.
    /// (A store wiped while the read is in progress is not looked for: a replica coming back
    /// empty in those few milliseconds may answer it unnoticed.)
    fn note_stale_candidates(&mut self, id: RequestId, key: KeyId) {
        let acked = |w: &WriteId| {
            self.observer
                .writes
                .get(*w)
                .is_some_and(|r| r.status == WriteStatus::Acknowledged)
        };
        let candidates: Box<[WriteId]> = if self.wiped {
            self.observer
                .writes
                .ids_of_key_after(key, None)
                .iter()
                .copied()
                .filter(acked)
                .collect()
        } else {
            self.observer.writes.pending(key).filter(acked).collect()
        };
        if !candidates.is_empty() {
            self.stale_candidates.insert(id, candidates);
        }
    }

    /// A coordinator answered request `id`: notes the outcome, the write's acknowledgement,
    /// the read's staleness and the session's guarantees.
    pub(super) fn answered(&mut self, node: NodeId, id: RequestId, outcome: Outcome) {
        let Some(record) = self.requests.get_mut(id.0 as usize - 1) else {
            return;
        };
        if record.status != RequestStatus::Pending {
            return;
        }
        record.took = u32::try_from(self.now - record.started).unwrap_or(UNANSWERED - 1);
        let (status, got) = match &outcome {
            Outcome::Written { acks } => (RequestStatus::Ok, *acks),
            Outcome::Read { replies, .. } => (RequestStatus::Ok, *replies),
            Outcome::Unavailable { alive, .. } => (RequestStatus::Unavailable, *alive),
            Outcome::TimedOut { got, .. } => (RequestStatus::TimedOut, *got),
            Outcome::TooManySiblings { siblings } => (RequestStatus::Refused, *siblings),
        };
        record.status = status;
        record.got = u16::try_from(got).unwrap_or(u16::MAX);
        match status {
            RequestStatus::Unavailable => self.observer.stats.unavailable += 1,
            RequestStatus::TimedOut => self.observer.stats.timed_out += 1,
            RequestStatus::Refused => self.observer.stats.refused += 1,
            _ => {}
        }
        let time = self.now;
        self.observer.trace.record(|| TraceEvent::Answer {
            time,
            node,
            request: id,
            status,
        });
        self.observer.changes += 1;
        let record = &self.requests[id.0 as usize - 1];
        let key = record.key;
        let (write, session) = (record.write().cloned(), record.session.clone());
        if let Some(version) = &write {
            let write_status = match status {
                RequestStatus::Ok if got == 0 => WriteStatus::Sent,
                RequestStatus::Ok => WriteStatus::Acknowledged,
                RequestStatus::Unavailable => WriteStatus::Unavailable,
                RequestStatus::Refused => WriteStatus::Refused,
                _ => WriteStatus::TimedOut,
            };
            self.observer
                .writes
                .set_status(version.write, write_status, self.now);
            if write_status == WriteStatus::Acknowledged {
                self.ack_order.acknowledged(self.now, version.write);
            }
            if status == RequestStatus::Ok
                && let Some(session) = &session
            {
                self.sessions
                    .entry(session.to_string())
                    .or_default()
                    .wrote
                    .insert(key, version.clone());
            }
        }
        if let Outcome::Read { versions, .. } = outcome {
            self.finish_read(id, key, session, versions);
        }
        if write.is_none() {
            self.stale_candidates.remove(id);
            self.ack_order.read_answered(id);
        }
    }

    /// A read's result: is it stale, by how much, and does it keep its session's guarantees?
    fn finish_read(&mut self, id: RequestId, key: KeyId, session: Option<Rc<str>>, versions: Held) {
        let conflict = self.settings.conflict;
        // Stale: an acknowledged write, acknowledged before the read began, that the result
        // does not show (Dynamo's R + W > N promise is about exactly these): one of the
        // candidates noted when it began. Under arrival order a replica can also lose a write
        // it had (an older one arriving later replaces it): the writes after the newest
        // returned are looked at too.
        let mut candidates = std::mem::take(&mut self.scratch_writes);
        candidates.clear();
        candidates.extend(self.stale_candidates.get(id).into_iter().flatten());
        if conflict == ConflictMode::ArrivalOrder {
            let newest = versions.iter().map(|v| v.write).max();
            let started = self.requests[id.0 as usize - 1].started;
            candidates.extend(
                self.observer
                    .writes
                    .ids_of_key_after(key, newest)
                    .iter()
                    .filter(|w| {
                        self.observer
                            .writes
                            .get(**w)
                            .and_then(|r| r.acked_at())
                            .is_some_and(|t| self.ack_order.before(id, started, **w, t))
                    }),
            );
            candidates.sort_unstable();
            candidates.dedup();
        }
        let behind = candidates
            .iter()
            .filter_map(|id| self.observer.writes.get(*id))
            .filter(|w| {
                w.stored
                    && !self
                        .observer
                        .writes
                        .reflects(conflict, &versions, &w.version)
            })
            .filter(|w| !self.observer.writes.deleted_away(&w.version))
            .count() as u32;
        self.scratch_writes = candidates;
        let mut violations = Violations::default();
        if let Some(session) = session {
            let state = self.sessions.entry(session.to_string()).or_default();
            if let Some(own) = state.wrote.get(&key)
                && !self.observer.writes.reflects(conflict, &versions, own)
            {
                violations.0 |= Violations::READ_YOUR_WRITES;
            }
            if let Some(before) = state.read.get(&key)
                && !before
                    .iter()
                    .all(|v| self.observer.writes.reflects(conflict, &versions, v))
            {
                violations.0 |= Violations::MONOTONIC_READS;
            }
            state.read.insert(key, versions.clone());
        }
        self.observer.stats.stale_reads += u64::from(behind > 0);
        self.observer.stats.session_violations += u64::from(violations.any());
        let record = &mut self.requests[id.0 as usize - 1];
        record.versions = versions;
        record.stale = behind > 0;
        record.behind = behind;
        record.violations = violations;
    }
}

/// How many requests are kept: every [`REQUESTS_KEPT`] requests, those answered before the last
/// that many are forgotten (the counters keep counting them), so that a run of hours keeps flat
/// memory. A write carrying the context of a read forgotten so is taken as one whose context
/// was typed in: it saw what the latest kept read of the key returning exactly that context saw,
/// or nothing.
pub const REQUESTS_KEPT: usize = 20_000;

impl Simulation {
    /// Forgets requests older than the last [`REQUESTS_KEPT`], up to the first still waiting
    /// for its answer; looked at once every that many requests.
    fn forget_old_requests(&mut self) {
        let len = self.requests.len();
        if len % REQUESTS_KEPT != 0 || len < 2 * REQUESTS_KEPT {
            return;
        }
        let until = (self.requests.first()..len - REQUESTS_KEPT)
            .find(|&i| {
                self.requests
                    .get(i)
                    .is_some_and(|r| r.status == RequestStatus::Pending)
            })
            .unwrap_or(len - REQUESTS_KEPT);
        self.requests.forget_before(until);
    }
}

/// The longest name a client session may have, in characters.
pub const MAX_SESSION_CHARS: usize = 64;

/// Refuses a session name longer than [`MAX_SESSION_CHARS`] (every request keeps it).
fn check_session(options: &ClientOptions) -> Result<(), Error> {
    match &options.session {
        Some(name) if name.chars().count() > MAX_SESSION_CHARS => {
            Err(Error::InvalidCommand(format!(
                "the session name has {} characters: session names may have at most \
                 {MAX_SESSION_CHARS}",
                name.chars().count()
            )))
        }
        _ => Ok(()),
    }
}

/// A key shortened for an error message.
fn short(key: &str) -> String {
    if key.chars().count() > 40 {
        format!("{}…", key.chars().take(39).collect::<String>())
    } else {
        key.to_string()
    }
}
