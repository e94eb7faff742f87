//! The node's core: one thread that owns the replica (a sans-IO state machine) and drives it.
//! It takes requests from the HTTP side through a bounded inbox, reads the wall clock for
//! `now`, keeps the replica's timers, asks the links which peers are up (the failure detector),
//! and carries out what the replica asks: messages go to the peers' queues, answers go back to
//! the waiting clients. With durable storage, what changed in a batch of inputs is committed
//! before any of the batch's answers or acknowledgements leave.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use converge::trace::{RequestStatus, TraceEvent};
use converge_replica::clock::CausalContext;
use converge_replica::crdt;
use converge_replica::ids::{Key, KeyId, NodeId, RequestId, WriteId};
use converge_replica::replica::{
    Env, KeyTable, Message, Note, Outbox, Outcome, Output, Placement, Protocol, Replica, Timer,
    WireMessage,
};
use converge_replica::version::{ConflictMode, Version};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::Shared;
use crate::config::Limits;
use crate::events::now_ms;
use crate::peers::Outgoing;
use crate::sessions::Session;
use crate::storage::Disk;

/// An answer for the HTTP side: a status code and a JSON body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// `status` with `{"status": word, "error": message}`.
    pub fn error(status: u16, word: &str, message: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({"status": word, "error": message.into()}),
        }
    }
}

/// Where an answer goes.
pub type Reply = oneshot::Sender<Answer>;

/// Why messages from a peer were not taken.
#[derive(Debug)]
pub enum Refusal {
    /// This node is crashed.
    Crashed,
    /// A message is malformed: nothing was taken.
    Malformed(String),
}

/// What the HTTP side asks of the core.
pub enum Command {
    /// A client writes (or deletes: no value) a key.
    Write {
        /// The key (checked: 1 to 256 characters).
        key: String,
        /// The value (checked), or None to delete.
        value: Option<String>,
        /// The context of an earlier read.
        context: Option<CausalContext>,
        /// W for this request.
        w: Option<u32>,
        /// The client's session, if it keeps one.
        session: Option<Session>,
        /// Where the answer goes.
        reply: Reply,
    },
    /// A client reads a key.
    Read {
        /// The key.
        key: String,
        /// R for this request.
        r: Option<u32>,
        /// The client's session, if it keeps one.
        session: Option<Session>,
        /// Where the answer goes.
        reply: Reply,
    },
    /// Messages from a peer, each with the peer's number for it.
    Deliver {
        /// The peer.
        from: NodeId,
        /// The messages.
        messages: Vec<(u32, WireMessage)>,
        /// How many were taken, or why none was.
        reply: oneshot::Sender<Result<usize, Refusal>>,
    },
    /// The node stops serving (its store kept, or wiped).
    Crash {
        /// Whether it loses its store.
        wipe: bool,
        /// Where the answer goes.
        reply: Reply,
    },
    /// The node serves again.
    Recover {
        /// Where the answer goes.
        reply: Reply,
    },
    /// What the node is and holds, in numbers.
    Status {
        /// Where the answer goes.
        reply: Reply,
    },
    /// Everything the node holds.
    Store {
        /// Whether to list every version with its dot and context.
        detail: bool,
        /// Where the answer goes.
        reply: Reply,
    },
    /// The process is stopping: write what is left and end.
    Stop,
}

/// A timer the replica asked for.
#[derive(Debug)]
struct Due {
    at: Instant,
    seq: u64,
    timer: Timer,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Write,
    Delete,
    Read,
}

/// A client waiting for its answer.
struct Client {
    reply: Reply,
    kind: Kind,
    key: KeyId,
    version: Option<Rc<Version>>,
    /// The replicas that acknowledged (a write) or replied (a read), in order.
    by: Vec<NodeId>,
    started: Instant,
    session: Option<Session>,
}

/// How many inputs the core takes before it commits and lets answers go.
const BATCH: usize = 256;

/// The core's state; see the module's documentation.
pub struct Core {
    shared: Arc<Shared>,
    protocol: Rc<Protocol>,
    placement: Rc<Placement>,
    replica: Replica,
    keys: KeyTable,
    out: Outbox,
    timers: BinaryHeap<Reverse<Due>>,
    next_timer: u64,
    clients: HashMap<RequestId, Client>,
    next_request: u32,
    next_write: u32,
    next_message: u32,
    disk: Option<Disk>,
    changed: Vec<KeyId>,
    hints_changed: bool,
    sends: Vec<(NodeId, Outgoing)>,
    answers: Vec<(Reply, Answer)>,
    limits: Limits,
    storage_failed: Option<String>,
}

impl Core {
    /// The core of node `shared.id`, its store loaded from `disk` if given.
    pub fn new(
        shared: Arc<Shared>,
        settings: &converge::Settings,
        disk: Option<Disk>,
        limits: Limits,
    ) -> Result<Core, String> {
        let id = shared.id;
        let protocol = Rc::new(settings.protocol());
        let placement = Rc::new(settings.placement());
        let skew = settings.clock_skew_ms.get(id.index()).copied().unwrap_or(0);
        let replica = Replica::new(
            id,
            protocol.clone(),
            placement.clone(),
            skew,
            settings.replica_rng(id),
        );
        let mut core = Core {
            shared,
            protocol,
            placement,
            replica,
            keys: KeyTable::default(),
            out: Outbox::new(),
            timers: BinaryHeap::new(),
            next_timer: 0,
            clients: HashMap::new(),
            next_request: 0,
            next_write: 0,
            next_message: 0,
            disk,
            changed: Vec::new(),
            hints_changed: false,
            sends: Vec::new(),
            answers: Vec::new(),
            limits,
            storage_failed: None,
        };
        if let Some(disk) = &core.disk {
            let loaded = disk.load(core.protocol.nodes, &mut core.keys)?;
            for (key, record) in loaded.keys {
                core.replica.restore(key.id, record);
            }
            for hint in loaded.hints {
                core.replica.restore_hint(hint);
            }
        }
        core.replica.start(&mut core.out);
        core.absorb();
        core.flush();
        Ok(core)
    }

    /// Takes commands until told to stop (or until the HTTP side is gone).
    pub fn run(mut self, inbox: Receiver<Command>) {
        loop {
            let next = self.timers.peek().map(|Reverse(d)| d.at);
            let first = match next {
                Some(at) => inbox.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => inbox.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            let mut stop = match first {
                Ok(command) => self.handle(command),
                Err(RecvTimeoutError::Disconnected) => true,
                Err(RecvTimeoutError::Timeout) => false,
            };
            for _ in 1..BATCH {
                if stop {
                    break;
                }
                stop = match inbox.try_recv() {
                    Ok(command) => self.handle(command),
                    Err(TryRecvError::Disconnected) => true,
                    Err(TryRecvError::Empty) => break,
                };
            }
            self.fire_timers();
            self.flush();
            if stop {
                return;
            }
        }
    }

    fn crashed(&self) -> bool {
        self.shared.crashed.load(Ordering::SeqCst)
    }

    /// Does what `command` asks; returns whether it asked the core to stop.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Write {
                key,
                value,
                context,
                w,
                session,
                reply,
            } => self.write(key, value, context, w, session, reply),
            Command::Read {
                key,
                r,
                session,
                reply,
            } => self.read(key, r, session, reply),
            Command::Deliver {
                from,
                messages,
                reply,
            } => {
                let result = self.deliver(from, messages);
                let _ = reply.send(result);
            }
            Command::Crash { wipe, reply } => self.crash(wipe, reply),
            Command::Recover { reply } => self.recover(reply),
            Command::Status { reply } => {
                let _ = reply.send(self.status());
            }
            Command::Store { detail, reply } => {
                let _ = reply.send(self.store(detail));
            }
            Command::Stop => return true,
        }
        false
    }

    /// Calls the replica with the time now and the failure detector's view, and its outbox.
    fn drive<R>(&mut self, call: impl FnOnce(&mut Replica, &Env, &mut Outbox) -> R) -> R {
        let shared = self.shared.clone();
        let up = move |peer: NodeId| shared.link(peer).is_some_and(|link| link.is_up());
        let env = Env {
            now: now_ms(),
            up: &up,
        };
        call(&mut self.replica, &env, &mut self.out)
    }

    fn crashed_answer(&self) -> Answer {
        Answer::error(
            503,
            "crashed",
            format!(
                "node {} is crashed: POST /admin/recover brings it back",
                self.shared.id.0
            ),
        )
    }

    // ----- Clients -----

    /// Whether a client's request of `key` may go ahead: not while crashed, nor for a key the
    /// node has no room to number.
    fn admit(&self, key: &str) -> Result<(), Answer> {
        if self.crashed() {
            return Err(self.crashed_answer());
        }
        if self.keys.id(key).is_none() && self.keys.len() >= self.limits.max_keys {
            return Err(Answer::error(
                507,
                "full",
                format!(
                    "node {} holds its limit of {} keys and this one is new to it",
                    self.shared.id.0, self.limits.max_keys
                ),
            ));
        }
        Ok(())
    }

    fn write(
        &mut self,
        key: String,
        value: Option<String>,
        context: Option<CausalContext>,
        w: Option<u32>,
        session: Option<Session>,
        reply: Reply,
    ) {
        if let Err(refused) = self.admit(&key) {
            let _ = reply.send(refused);
            return;
        }
        let conflict = self.protocol.conflict;
        if matches!(conflict, ConflictMode::OrSet | ConflictMode::Counter)
            && let Err(e) = crdt::Op::parse(conflict, value.as_deref())
        {
            let _ = reply.send(Answer::error(400, "refused", e));
            return;
        }
        let key = self.keys.intern(&key);
        let request = self.next_request();
        self.next_write = self.next_write.wrapping_add(1);
        let write = WriteId(self.next_write);
        let kind = if value.is_some() {
            Kind::Write
        } else {
            Kind::Delete
        };
        let me = self.shared.id;
        self.shared.events.emit(|| TraceEvent::Write {
            time: now_ms(),
            node: me,
            write,
            request,
            key: self.keys.name(key.id).to_string(),
            delete: value.is_none(),
        });
        self.clients.insert(
            request,
            Client {
                reply,
                kind,
                key: key.id,
                version: None,
                by: Vec::new(),
                started: Instant::now(),
                session,
            },
        );
        let w = w.unwrap_or(self.protocol.write_quorum);
        let value = value.map(Into::into);
        let version = self.drive(|replica, env, out| {
            replica.client_write(env, request, write, key, value, context, w, out)
        });
        // The coordinator's own copy (or hint) counts as its acknowledgement.
        let took_it = self.out.notes().iter().any(|n| match n {
            Note::Received {
                version: v,
                stored: true,
                ..
            } => Rc::ptr_eq(v, &version),
            Note::Hinted { version: v, .. } => Rc::ptr_eq(v, &version),
            _ => false,
        });
        if let Some(client) = self.clients.get_mut(&request) {
            client.version = Some(version);
            if took_it {
                client.by.push(me);
            }
        }
        self.absorb();
    }

    fn read(&mut self, key: String, r: Option<u32>, session: Option<Session>, reply: Reply) {
        // The tutorial's read answers from this node alone: a key it never met is not there,
        // and is not numbered (reads of made-up keys must not fill the key table).
        if self.protocol.coordination == converge_replica::replica::Coordination::None
            && self.keys.id(&key).is_none()
        {
            if self.crashed() {
                let _ = reply.send(self.crashed_answer());
                return;
            }
            let me = self.shared.id;
            let request = self.next_request();
            self.shared.events.emit(|| TraceEvent::Read {
                time: now_ms(),
                node: me,
                request,
                key: key.clone(),
            });
            self.shared.events.emit(|| TraceEvent::Answer {
                time: now_ms(),
                node: me,
                request,
                status: RequestStatus::Ok,
            });
            let mut body = self.read_body(&key, &[], 1, &[me.0], 0.0);
            if let Some(mut session) = session {
                let broken = session.read(self.protocol.conflict, &key, &[]);
                body["session"] = serde_json::to_value(&session).expect("sessions serialize");
                body["broken"] = json!(broken);
            }
            let _ = reply.send(Answer { status: 200, body });
            return;
        }
        // Under quorums a key never met here is read as any other (the replicas may hold it),
        // if the node has room to number it.
        if let Err(refused) = self.admit(&key) {
            let _ = reply.send(refused);
            return;
        }
        let key = self.keys.intern(&key);
        let request = self.next_request();
        let me = self.shared.id;
        self.shared.events.emit(|| TraceEvent::Read {
            time: now_ms(),
            node: me,
            request,
            key: self.keys.name(key.id).to_string(),
        });
        let is_replica = self.protocol.coordination
            == converge_replica::replica::Coordination::None
            || self.replica_of(key, me);
        self.clients.insert(
            request,
            Client {
                reply,
                kind: Kind::Read,
                key: key.id,
                version: None,
                by: if is_replica { vec![me] } else { Vec::new() },
                started: Instant::now(),
                session,
            },
        );
        let r = r.unwrap_or(self.protocol.read_quorum);
        self.drive(|replica, env, out| replica.client_read(env, request, key, r, out));
        self.absorb();
    }

    fn replica_of(&self, key: Key, node: NodeId) -> bool {
        self.protocol.replicas >= self.protocol.nodes || self.placement_has(key, node)
    }

    fn placement_has(&self, key: Key, node: NodeId) -> bool {
        self.placement.replicas(key).contains(&node)
    }

    fn next_request(&mut self) -> RequestId {
        self.next_request = self.next_request.wrapping_add(1);
        RequestId(self.next_request)
    }

    // ----- Peers -----

    fn deliver(
        &mut self,
        from: NodeId,
        messages: Vec<(u32, WireMessage)>,
    ) -> Result<usize, Refusal> {
        if self.crashed() {
            return Err(Refusal::Crashed);
        }
        let nodes = self.protocol.nodes;
        for (i, (_, m)) in messages.iter().enumerate() {
            m.validate(nodes)
                .map_err(|e| Refusal::Malformed(format!("message {}: {e}", i + 1)))?;
        }
        let count = messages.len();
        let me = self.shared.id;
        for (id, wire) in messages {
            let Ok(message) = wire.into_message(nodes, &mut self.keys) else {
                continue; // checked above
            };
            match &message {
                Message::PutAck { request }
                | Message::RepairAck { request }
                | Message::GetReply { request, .. } => {
                    if let Some(client) = self.clients.get_mut(request)
                        && !client.by.contains(&from)
                    {
                        client.by.push(from);
                    }
                }
                Message::HandoffAck(_) => self.hints_changed = true,
                _ => {}
            }
            let kind = message.kind();
            let key = self.message_key(&message);
            self.shared.events.emit(|| TraceEvent::Deliver {
                time: now_ms(),
                from,
                to: me,
                message: kind,
                id,
                key,
            });
            self.drive(|replica, env, out| replica.handle_message(env, from, message, out));
            self.absorb();
        }
        Ok(count)
    }

    fn message_key(&self, message: &Message) -> Option<Rc<str>> {
        match message {
            Message::Get { key, .. } => Some(self.keys.name(*key).clone()),
            _ => match message.carried() {
                [one] => Some(self.keys.name(one.key.id).clone()),
                _ => None,
            },
        }
    }

    // ----- Timers -----

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse(due)) = self.timers.peek() {
            if due.at > now {
                break;
            }
            let Some(Reverse(due)) = self.timers.pop() else {
                break;
            };
            if self.crashed() {
                continue;
            }
            if matches!(due.timer, Timer::AntiEntropy(_)) {
                let me = self.shared.id;
                self.shared.events.emit(|| TraceEvent::Timer {
                    time: now_ms(),
                    node: me,
                });
            }
            self.drive(|replica, env, out| replica.handle_timer(env, due.timer, out));
            self.absorb();
        }
    }

    // ----- What the replica asked -----

    /// Takes the replica's notes and effects: keys to write out, events, messages to send,
    /// timers to set, answers to give.
    fn absorb(&mut self) {
        let me = self.shared.id;
        while let Some(note) = self.out.next_note() {
            match note {
                Note::Received {
                    version,
                    stored: true,
                    ..
                } => self.changed.push(version.key.id),
                Note::Received { .. } | Note::RangesDiffer { .. } => {}
                Note::Hinted { owner, version } => {
                    self.hints_changed = true;
                    self.shared.events.emit(|| TraceEvent::Hint {
                        time: now_ms(),
                        node: me,
                        owner,
                        write: version.write,
                    });
                }
                Note::Collected { version } => {
                    self.changed.push(version.key.id);
                    self.shared.events.emit(|| TraceEvent::Collect {
                        time: now_ms(),
                        node: me,
                        write: version.write,
                    });
                }
            }
        }
        while let Some(effect) = self.out.next_effect() {
            match effect {
                Output::Send { to, message } => self.send(to, &message),
                Output::Broadcast { message } => {
                    for peer in 1..=self.protocol.nodes {
                        if peer != me.0 {
                            self.send(NodeId(peer), &message);
                        }
                    }
                }
                Output::Timer { after, timer } => {
                    self.next_timer += 1;
                    self.timers.push(Reverse(Due {
                        at: Instant::now() + Duration::from_millis(after),
                        seq: self.next_timer,
                        timer,
                    }));
                }
                Output::Respond { request, outcome } => self.respond(request, outcome),
            }
        }
    }

    fn send(&mut self, to: NodeId, message: &Message) {
        if to == self.shared.id {
            return; // a replica never sends to itself
        }
        self.next_message = self.next_message.wrapping_add(1);
        let id = self.next_message;
        let kind = message.kind();
        let key = self.message_key(message);
        let me = self.shared.id;
        self.shared.events.emit(|| TraceEvent::Send {
            time: now_ms(),
            from: me,
            to,
            message: kind,
            versions: message.carried().len() as u32,
            duplicated: false,
            id,
            key: key.clone(),
        });
        let json =
            serde_json::to_string(&message.to_wire(&self.keys)).expect("wire messages serialize");
        self.sends.push((
            to,
            Outgoing {
                id,
                kind,
                key: key.map(|k| Arc::from(&*k)),
                json: json.into(),
            },
        ));
    }

    fn respond(&mut self, request: RequestId, outcome: Outcome) {
        let Some(mut client) = self.clients.remove(&request) else {
            return;
        };
        let me = self.shared.id;
        let status = match &outcome {
            Outcome::Written { .. } | Outcome::Read { .. } => RequestStatus::Ok,
            Outcome::Unavailable { .. } => RequestStatus::Unavailable,
            Outcome::TimedOut { .. } => RequestStatus::TimedOut,
            Outcome::TooManySiblings { .. } => RequestStatus::Refused,
        };
        self.shared.events.emit(|| TraceEvent::Answer {
            time: now_ms(),
            node: me,
            request,
            status,
        });
        let mut session = client.session.take();
        let name = self.keys.name(client.key).clone();
        let broken = match (&mut session, &outcome) {
            (Some(session), Outcome::Written { .. }) => {
                if let Some(version) = &client.version {
                    session.wrote(&name, version.stamp);
                }
                None
            }
            (Some(session), Outcome::Read { versions, .. }) => {
                Some(session.read(self.protocol.conflict, &name, versions))
            }
            _ => None,
        };
        let mut answer = self.answer(&client, outcome);
        if let Some(session) = &session {
            answer.body["session"] = serde_json::to_value(session).expect("sessions serialize");
        }
        if let Some(broken) = broken {
            answer.body["broken"] = json!(broken);
        }
        self.answers.push((client.reply, answer));
    }

    fn answer(&self, client: &Client, outcome: Outcome) -> Answer {
        let key = self.keys.name(client.key).to_string();
        let by: Vec<u32> = client.by.iter().map(|n| n.0).collect();
        let ms = client.started.elapsed().as_secs_f64() * 1000.0;
        let ms = (ms * 100.0).round() / 100.0;
        let action = match client.kind {
            Kind::Write => "write",
            Kind::Delete => "delete",
            Kind::Read => "read",
        };
        match outcome {
            Outcome::Written { acks } => {
                let version = client.version.as_ref().map(|v| self.version_json(v));
                let coordinated =
                    self.protocol.coordination == converge_replica::replica::Coordination::Quorum;
                Answer {
                    status: 200,
                    body: json!({
                        "status": "ok",
                        "node": self.shared.id.0,
                        "key": key,
                        "version": version,
                        "acks": acks,
                        "acknowledgedBy": by,
                        "replication": if coordinated {
                            "acknowledged by W replicas; the rest follow asynchronously"
                        } else {
                            "asynchronous: sent on to the other replicas, fire-and-forget"
                        },
                        "ms": ms,
                    }),
                }
            }
            Outcome::Read { versions, replies } => Answer {
                status: 200,
                body: self.read_body(&key, &versions, replies, &by, ms),
            },
            Outcome::Unavailable { alive, needed } => Answer {
                status: 503,
                body: json!({
                    "status": "unavailable",
                    "node": self.shared.id.0,
                    "key": key,
                    "error": format!(
                        "only {alive} of the {needed} replicas this {action} needs are reachable: nothing was sent"
                    ),
                    "alive": alive,
                    "needed": needed,
                }),
            },
            Outcome::TimedOut { got, needed } => Answer {
                status: 504,
                body: json!({
                    "status": "timedOut",
                    "node": self.shared.id.0,
                    "key": key,
                    "error": format!(
                        "{got} of the {needed} replicas this {action} needs answered in time{}",
                        if client.kind == Kind::Read { "" } else { ": the write may still reach the others" }
                    ),
                    "got": got,
                    "needed": needed,
                    "acknowledgedBy": by,
                }),
            },
            Outcome::TooManySiblings { siblings } => Answer {
                status: 409,
                body: json!({
                    "status": "tooManySiblings",
                    "node": self.shared.id.0,
                    "key": key,
                    "error": format!(
                        "the write would leave {siblings} siblings (at most {}): read the key and write with its context",
                        converge_replica::replica::MAX_SIBLINGS
                    ),
                }),
            },
        }
    }

    /// What a read answers: the value (or siblings, or the data type's value), every version,
    /// the context to write back with, and who replied.
    fn read_body(
        &self,
        key: &str,
        versions: &[Rc<Version>],
        replies: u32,
        by: &[u32],
        ms: f64,
    ) -> Value {
        let conflict = self.protocol.conflict;
        let live: Vec<&Rc<Version>> = versions.iter().filter(|v| !v.is_tombstone()).collect();
        let data_type = matches!(conflict, ConflictMode::OrSet | ConflictMode::Counter);
        let value: Value = match conflict {
            _ if data_type => {
                crdt::merged_value(conflict, versions).map_or(Value::Null, Value::from)
            }
            _ if live.len() == 1 => Value::from(live[0].value.as_deref().unwrap_or("")),
            _ => Value::Null,
        };
        let mut body = json!({
            "status": "ok",
            "node": self.shared.id.0,
            "key": key,
            "found": !live.is_empty(),
            "value": value,
            "versions": versions.iter().map(|v| self.version_json(v)).collect::<Vec<_>>(),
            "context": converge_replica::version::context_of(versions),
            "replies": replies,
            "answeredBy": by,
            "ms": ms,
        });
        if live.len() > 1 && !data_type {
            body["siblings"] = live
                .iter()
                .map(|v| Value::from(v.value.as_deref().unwrap_or("")))
                .collect();
        }
        if live.is_empty() && !versions.is_empty() {
            body["deleted"] = Value::Bool(true);
        }
        body
    }

    fn version_json(&self, v: &Version) -> Value {
        json!({
            "value": v.value.as_deref(),
            "node": v.stamp.node.0,
            "counter": v.stamp.seq,
            "millis": v.stamp.millis,
        })
    }

    // ----- Crash and recovery -----

    fn crash(&mut self, wipe: bool, reply: Reply) {
        let me = self.shared.id;
        if self.crashed() && !wipe {
            let _ = reply.send(Answer::error(
                409,
                "crashed",
                format!("node {} is already crashed", me.0),
            ));
            return;
        }
        self.shared.crashed.store(true, Ordering::SeqCst);
        self.replica.crash(&mut self.out);
        self.absorb();
        // What was in memory is gone: timers, messages not yet sent.
        self.timers.clear();
        self.sends.clear();
        for link in self.shared.links.iter().flatten() {
            link.clear();
        }
        if wipe {
            let counts: Vec<(Rc<str>, converge_replica::replica::KeyRecord)> = self
                .keys
                .all()
                .map(|k| {
                    let mut record = self.replica.record(k);
                    record.versions.clear();
                    (self.keys.name(k).clone(), record)
                })
                .filter(|(_, r)| r.writes > 0)
                .collect();
            self.replica.wipe();
            self.changed.clear();
            self.hints_changed = false;
            if let Some(disk) = &self.disk
                && let Err(e) = disk.wipe(&counts, &self.keys)
            {
                eprintln!("node {}: {e}", me.0);
            }
        }
        self.shared.events.emit(|| TraceEvent::Crash {
            time: now_ms(),
            node: me,
        });
        self.answers.push((
            reply,
            Answer {
                status: 200,
                body: json!({
                    "status": "crashed",
                    "node": me.0,
                    "wiped": wipe,
                    "keys": self.replica.len(),
                }),
            },
        ));
    }

    fn recover(&mut self, reply: Reply) {
        let me = self.shared.id;
        if !self.crashed() {
            let _ = reply.send(Answer::error(
                409,
                "up",
                format!("node {} is not crashed", me.0),
            ));
            return;
        }
        self.shared.crashed.store(false, Ordering::SeqCst);
        self.replica.start(&mut self.out);
        self.absorb();
        self.shared.events.emit(|| TraceEvent::Recover {
            time: now_ms(),
            node: me,
            wipe: self.replica.is_empty(),
        });
        self.answers.push((
            reply,
            Answer {
                status: 200,
                body: json!({"status": "up", "node": me.0, "keys": self.replica.len()}),
            },
        ));
    }

    // ----- Views -----

    fn status(&self) -> Answer {
        let p = &self.protocol;
        let peers: Vec<Value> = self
            .shared
            .links
            .iter()
            .flatten()
            .map(|l| {
                let s = &l.stats;
                json!({
                    "id": l.peer.0,
                    "url": l.url.trim_end_matches("/replicate"),
                    "believedUp": l.is_up(),
                    "cutOut": l.cut_out.load(Ordering::Relaxed),
                    "cutIn": l.cut_in.load(Ordering::Relaxed),
                    "delayMs": l.delay_ms.load(Ordering::Relaxed),
                    "loss": f64::from(l.loss_ppm.load(Ordering::Relaxed)) / 1e6,
                    "queued": l.queued(),
                    "delivered": s.delivered.load(Ordering::Relaxed),
                    "droppedQueueFull": s.dropped_full.load(Ordering::Relaxed),
                    "droppedLinkCut": s.dropped_cut.load(Ordering::Relaxed),
                    "droppedLost": s.dropped_lost.load(Ordering::Relaxed),
                    "droppedNodeDown": s.dropped_down.load(Ordering::Relaxed),
                })
            })
            .collect();
        Answer {
            status: 200,
            body: json!({
                "node": self.shared.id.0,
                "up": !self.crashed(),
                "cluster": &*self.shared.cluster,
                "nodes": p.nodes,
                "settings": {
                    "conflict": p.conflict,
                    "replicas": p.replicas,
                    "coordination": p.coordination,
                    "writeQuorum": p.write_quorum,
                    "readQuorum": p.read_quorum,
                    "requestTimeoutMs": p.request_timeout,
                    "readRepair": p.read_repair,
                    "hintedHandoff": p.hinted_handoff,
                    "dissemination": p.dissemination,
                    "antiEntropy": p.anti_entropy.map(|(kind, ms)| json!({"kind": kind, "intervalMs": ms})),
                    "tombstoneGraceMs": p.tombstone_grace,
                },
                "keys": self.replica.len(),
                "keysKnown": self.keys.len(),
                "hints": self.replica.hints().len(),
                "pendingRequests": self.clients.len(),
                "storage": match &self.disk { Some(_) => "disk", None => "memory" },
                "storageError": self.storage_failed,
                "uptimeMs": self.shared.started.elapsed().as_millis() as u64,
                "peers": peers,
            }),
        }
    }

    fn store(&self, detail: bool) -> Answer {
        if self.crashed() {
            return self.crashed_answer();
        }
        let conflict = self.protocol.conflict;
        let mut store = serde_json::Map::new();
        let mut deleted = Vec::new();
        let mut versions = serde_json::Map::new();
        for (name, id) in self.keys.sorted() {
            let held = self.replica.get(id);
            if held.is_empty() {
                continue;
            }
            let live: Vec<&Rc<Version>> = held.iter().filter(|v| !v.is_tombstone()).collect();
            if live.is_empty() {
                deleted.push(Value::from(&**name));
            } else {
                let value = match conflict {
                    ConflictMode::OrSet | ConflictMode::Counter => {
                        crdt::merged_value(conflict, held).map_or(Value::Null, Value::from)
                    }
                    _ if live.len() == 1 => Value::from(live[0].value.as_deref().unwrap_or("")),
                    _ => live
                        .iter()
                        .map(|v| Value::from(v.value.as_deref().unwrap_or("")))
                        .collect(),
                };
                store.insert(name.to_string(), value);
            }
            if detail {
                versions.insert(
                    name.to_string(),
                    held.iter().map(|v| self.version_json(v)).collect(),
                );
            }
        }
        let mut body = json!({
            "node": self.shared.id.0,
            "keys": self.replica.len(),
            "store": store,
            "deleted": deleted,
        });
        if detail {
            body["versions"] = Value::Object(versions);
        }
        Answer { status: 200, body }
    }

    // ----- Commit, then let go -----

    /// Writes out what changed (with durable storage), then sends the batch's messages and
    /// answers. If the write fails, nothing of the batch is acknowledged: clients get 500 and
    /// the messages are not sent.
    fn flush(&mut self) {
        if let Some(disk) = &self.disk
            && (!self.changed.is_empty() || self.hints_changed)
        {
            self.changed.sort_unstable();
            self.changed.dedup();
            let records: Vec<_> = self
                .changed
                .iter()
                .map(|k| (self.keys.name(*k).clone(), self.replica.record(*k)))
                .collect();
            let hints = self.hints_changed.then(|| self.replica.hints());
            if let Err(e) = disk.save(&records, hints, &self.keys) {
                eprintln!("node {}: {e}", self.shared.id.0);
                self.storage_failed = Some(e.clone());
                self.sends.clear();
                for (reply, _) in self.answers.drain(..) {
                    let _ = reply.send(Answer::error(500, "storageFailed", e.clone()));
                }
            }
        }
        self.changed.clear();
        self.hints_changed = false;
        for (to, message) in self.sends.drain(..) {
            if let Some(Some(link)) = self.shared.links.get(to.index()) {
                link.push(self.shared.id, message, &self.shared.events);
            }
        }
        for (reply, answer) in self.answers.drain(..) {
            let _ = reply.send(answer);
        }
    }
}
