//! The coordinator of a client request (Dynamo §4.5, Cassandra's StorageProxy): it sends the
//! request to the key's replicas and answers the client once W acknowledge a write or R reply to
//! a read, or says "unavailable" at once, or "timed out" when the wait is over.

use std::collections::VecDeque;
use std::rc::Rc;

use super::protocol::{HintedHandoff, ReadRepair};
use super::table::{RequestTable, Vacant};
use super::{Env, Message, NodeId, Outbox, Outcome, Output, Replica, RequestId, Time, Timer};
use crate::replica::Key;
use crate::version::{ConflictMode, Held, Version};

/// A request this node coordinates.
#[derive(Clone, Debug)]
pub(super) enum Pending {
    Write {
        needed: u32,
        acks: u32,
        /// Puts sent and not yet acknowledged.
        outstanding: u32,
        answered: bool,
    },
    Read {
        needed: u32,
        replies: Vec<(NodeId, Held)>,
        outstanding: u32,
        /// Once R replies came: what the read returns.
        result: Option<Held>,
        /// Blocking read repair: repairs sent and not yet acknowledged.
        repairs: u32,
        answered: bool,
    },
}

impl Vacant for Pending {
    /// Nothing a read collected stays alive in a free entry.
    const VACANT: Pending = Pending::Write {
        needed: 0,
        acks: 0,
        outstanding: 0,
        answered: true,
    };
}

impl Pending {
    pub(super) fn answered(&self) -> bool {
        match self {
            Pending::Write { answered, .. } | Pending::Read { answered, .. } => *answered,
        }
    }

    pub(super) fn got(&self) -> u32 {
        match self {
            Pending::Write { acks, .. } => *acks,
            Pending::Read { replies, .. } => replies.len() as u32,
        }
    }

    pub(super) fn needed(&self) -> u32 {
        match self {
            Pending::Write { needed, .. } | Pending::Read { needed, .. } => *needed,
        }
    }

    fn done(&self) -> bool {
        match self {
            Pending::Write {
                outstanding,
                answered,
                ..
            }
            | Pending::Read {
                outstanding,
                answered,
                ..
            } => *answered && *outstanding == 0,
        }
    }
}

/// The requests a node coordinates, by id, and when each times out.
///
/// Hundreds may be pending at once on a busy node, and each is looked up on every reply, long
/// after it started: a table that keeps each id beside its state in one cache line finds it
/// ([`RequestTable`]). Most requests finish long before their deadline, so one timer per node
/// stands for all of them (as Cassandra's coordinator checks its callbacks on one expiring
/// map): it fires at the earliest deadline of a request still pending, and deadlines of
/// finished requests are skipped without an event each.
#[derive(Clone, Debug, Default)]
pub(super) struct Requests {
    table: RequestTable<Pending>,
    /// Reply lists of finished reads, emptied, for the next reads (none allocates its own).
    spare_replies: Vec<Vec<(NodeId, Held)>>,
    /// Every request's deadline, earliest first; finished ones are dropped lazily. Requests
    /// start in time order and share one timeout, so a new deadline goes at the back (only a
    /// shortened timeout puts one further in): a queue, not a heap.
    deadlines: VecDeque<(Time, RequestId)>,
    /// When the earliest armed timeout timer fires, if one is armed.
    armed: Option<Time>,
}

/// How many emptied reply lists a node keeps for reuse.
const SPARE_REPLY_LISTS: usize = 64;

impl Requests {
    /// Roughly the bytes it holds of its own (a snapshot of the run copies them).
    pub(super) fn bytes(&self) -> usize {
        self.table.bytes() + self.deadlines.len() * std::mem::size_of::<(Time, RequestId)>()
    }

    /// Starts following `id`; returns its slot (valid until the next insertion or removal).
    fn insert(&mut self, id: RequestId, pending: Pending) -> usize {
        self.table.insert(id, pending)
    }

    /// The slot of `id`, if it is pending: found once per message, then used directly.
    fn slot(&self, id: RequestId) -> Option<usize> {
        self.table.find(id)
    }

    fn at(&mut self, slot: usize) -> &mut Pending {
        self.table.at(slot)
    }

    fn contains(&self, id: RequestId) -> bool {
        self.table.find(id).is_some()
    }

    pub(super) fn get(&self, id: RequestId) -> Option<&Pending> {
        self.table.get(id)
    }

    fn remove(&mut self, id: RequestId) -> Option<Pending> {
        self.table.remove(id)
    }

    /// A finished request's state: its reply list is kept for a later read.
    fn recycle(&mut self, pending: Pending) {
        if let Pending::Read { mut replies, .. } = pending
            && self.spare_replies.len() < SPARE_REPLY_LISTS
        {
            replies.clear();
            self.spare_replies.push(replies);
        }
    }

    /// An empty reply list with room for `n` replies.
    fn reply_list(&mut self, n: usize) -> Vec<(NodeId, Held)> {
        let mut list = self.spare_replies.pop().unwrap_or_default();
        list.reserve(n);
        list
    }

    /// Every request, by id.
    pub(super) fn iter(&self) -> impl Iterator<Item = (RequestId, &Pending)> {
        self.table.iter()
    }

    /// Takes every request out, by id, and forgets their deadlines and the armed timer.
    pub(super) fn take(&mut self) -> Vec<(RequestId, Pending)> {
        self.deadlines.clear();
        self.armed = None;
        self.table.drain()
    }

    /// Notes that `id` times out at `deadline`.
    fn expire_at(&mut self, id: RequestId, deadline: Time) {
        let entry = (deadline, id);
        if self.deadlines.back().is_none_or(|last| *last <= entry) {
            self.deadlines.push_back(entry);
        } else {
            let at = self.deadlines.partition_point(|d| *d <= entry);
            self.deadlines.insert(at, entry);
        }
    }

    /// Takes out the next request whose deadline is at or before `now`, if any.
    fn next_expired(&mut self, now: Time) -> Option<RequestId> {
        let &(deadline, id) = self.deadlines.front()?;
        (deadline <= now).then(|| {
            self.deadlines.pop_front();
            id
        })
    }

    /// When a timeout timer should fire that is not armed yet: at the earliest deadline of a
    /// request still pending, unless a timer armed for no later than that exists.
    fn timer_due(&mut self) -> Option<Time> {
        // Usually a timer is armed already for the earliest deadline or before: nothing to look
        // up (finished requests at the front are dropped when it fires).
        if let (Some(armed), Some(&(deadline, _))) = (self.armed, self.deadlines.front())
            && armed <= deadline
        {
            return None;
        }
        while let Some(&(deadline, id)) = self.deadlines.front() {
            if !self.contains(id) {
                self.deadlines.pop_front();
                continue;
            }
            if self.armed.is_some_and(|armed| armed <= deadline) {
                return None;
            }
            self.armed = Some(deadline);
            return Some(deadline);
        }
        None
    }
}

impl Replica {
    /// Dynamo §4.5: send the write to every replica of the key (Cassandra too: writes always go
    /// to all N), answer once W have it.
    pub(super) fn coordinate_write(
        &mut self,
        env: &Env,
        request: RequestId,
        version: Rc<Version>,
        w: u32,
        out: &mut Outbox,
    ) {
        let key = version.key;
        let replicas = self.replicas_of(key);
        let me = self.id;
        let reaches = |n: &&NodeId| env.believes_up(me, **n);
        let alive = replicas.iter().filter(reaches).count();
        let down = || replicas.iter().filter(|n| !reaches(n));
        // Dynamo §4.6 (sloppy quorum): the next healthy nodes on the ring stand in, each
        // keeping the write with a hint naming the replica it was meant for.
        let stand_ins: Vec<(NodeId, NodeId)> =
            if alive < replicas.len() && self.protocol.hinted_handoff == HintedHandoff::Sloppy {
                let walk = self.walk(key);
                let fallbacks = walk[replicas.len()..].iter().filter(reaches);
                fallbacks.zip(down()).map(|(s, o)| (*s, *o)).collect()
            } else {
                Vec::new()
            };
        let possible = (alive + stand_ins.len()) as u32;
        if possible < w {
            // Cassandra's UnavailableException: nothing is written.
            self.take_back_dot(&version);
            out.push(Output::Respond {
                request,
                outcome: Outcome::Unavailable {
                    alive: possible,
                    needed: w,
                },
            });
            return;
        }
        // Cassandra: the coordinator keeps the hints itself; they do not count toward W.
        if self.protocol.hinted_handoff == HintedHandoff::Strict {
            let owners: Vec<NodeId> = down().copied().collect();
            for owner in owners {
                self.add_hint(owner, version.clone(), out);
            }
        }
        let targets = replicas
            .iter()
            .filter(reaches)
            .map(|n| (*n, None))
            .chain(stand_ins.iter().map(|(to, owner)| (*to, Some(*owner))));
        let mut acks = 0;
        let mut outstanding = 0;
        for (to, hint) in targets {
            if to == self.id {
                match hint {
                    Some(owner) => self.add_hint(owner, version.clone(), out),
                    None => {
                        self.store_version(&version, false, out);
                    }
                }
                acks += 1;
            } else {
                outstanding += 1;
                out.push(Output::Send {
                    to,
                    message: Message::Put {
                        request,
                        version: version.clone(),
                        hint,
                    },
                });
            }
        }
        let pending = Pending::Write {
            needed: w,
            acks,
            outstanding,
            answered: false,
        };
        self.track(env, request, pending, out);
    }

    /// Dynamo §4.5: ask every reachable replica, answer with what R of them hold.
    pub(super) fn coordinate_read(
        &mut self,
        env: &Env,
        request: RequestId,
        key: Key,
        r: u32,
        out: &mut Outbox,
    ) {
        let replicas = self.replicas_of(key);
        let me = self.id;
        let reaches = |n: &&NodeId| env.believes_up(me, **n);
        let alive = replicas.iter().filter(reaches).count() as u32;
        if alive < r {
            out.push(Output::Respond {
                request,
                outcome: Outcome::Unavailable { alive, needed: r },
            });
            return;
        }
        let mut replies = self.requests.reply_list(replicas.len());
        let mut outstanding = 0;
        for &to in replicas.iter().filter(reaches) {
            if to == self.id {
                replies.push((to, self.held(key.id)));
            } else {
                outstanding += 1;
                out.push(Output::Send {
                    to,
                    message: Message::Get {
                        request,
                        key: key.id,
                    },
                });
            }
        }
        let pending = Pending::Read {
            needed: r,
            replies,
            outstanding,
            result: None,
            repairs: 0,
            answered: false,
        };
        self.track(env, request, pending, out);
    }

    /// Starts waiting for `request`: answers at once if enough answers are in already.
    fn track(&mut self, env: &Env, request: RequestId, pending: Pending, out: &mut Outbox) {
        let slot = self.requests.insert(request, pending);
        if self.progress(request, slot, out) {
            let deadline = env.now + self.protocol.request_timeout;
            self.requests.expire_at(request, deadline);
            self.arm_timeouts(env.now, out);
        }
    }

    /// Arms the timeout timer for the earliest pending deadline, if it is not armed already.
    fn arm_timeouts(&mut self, now: Time, out: &mut Outbox) {
        if let Some(at) = self.requests.timer_due() {
            out.push(Output::Timer {
                after: at.saturating_sub(now),
                timer: Timer::RequestTimeouts,
            });
        }
    }

    pub(super) fn on_put_ack(&mut self, request: RequestId, out: &mut Outbox) {
        let Some(slot) = self.requests.slot(request) else {
            return;
        };
        if let Pending::Write {
            acks, outstanding, ..
        } = self.requests.at(slot)
        {
            *acks += 1;
            *outstanding = outstanding.saturating_sub(1);
            self.progress(request, slot, out);
        }
    }

    pub(super) fn on_get_reply(
        &mut self,
        from: NodeId,
        request: RequestId,
        versions: Held,
        out: &mut Outbox,
    ) {
        let conflict = self.protocol.conflict;
        let read_repair = self.protocol.read_repair;
        let Some(slot) = self.requests.slot(request) else {
            return;
        };
        let Pending::Read {
            replies,
            outstanding,
            result,
            ..
        } = self.requests.at(slot)
        else {
            return;
        };
        *outstanding = outstanding.saturating_sub(1);
        let mut local_repair = None;
        match result {
            // A reply after the answer: the coordinator still merges it and repairs in the
            // background (Riak's get repairs once all N have replied; Cassandra's background
            // read repair compares every reply). A late reply older than what was heard is
            // repaired; one newer than it (news the client's answer missed) gets every replica
            // that had answered older repaired, the coordinator's own store included.
            Some(result) => {
                let mut merged = result.clone();
                for version in versions.iter() {
                    conflict.merge(&mut merged, version, false);
                }
                let news = !reflects_all(conflict, result, &merged);
                replies.push((from, versions));
                if read_repair != ReadRepair::Off {
                    let wants = |node: NodeId| node == from || news;
                    let (_, local) = send_repairs(
                        conflict, self.id, request, replies, &merged, false, wants, out,
                    );
                    local_repair = local.then(|| merged.clone());
                }
                *result = merged;
            }
            None => replies.push((from, versions)),
        }
        if let Some(versions) = local_repair {
            for version in versions.iter() {
                self.store_version(version, false, out);
            }
        }
        self.progress(request, slot, out);
    }

    pub(super) fn on_repair_ack(&mut self, request: RequestId, out: &mut Outbox) {
        let Some(slot) = self.requests.slot(request) else {
            return;
        };
        if let Pending::Read { repairs, .. } = self.requests.at(slot) {
            *repairs = repairs.saturating_sub(1);
            self.progress(request, slot, out);
        }
    }

    /// The timeout timer fires: every request past its deadline times out (unless it was
    /// answered and only waits for late replies), and the timer is armed for the next one.
    ///
    /// A simulated timer fires at its time exactly; a real node's fires when its thread gets to
    /// it, later. Either way, once `now` has reached the armed time that timer has fired.
    pub(super) fn on_timeouts(&mut self, now: Time, out: &mut Outbox) {
        if self.requests.armed.is_some_and(|armed| armed <= now) {
            self.requests.armed = None;
        }
        while let Some(request) = self.requests.next_expired(now) {
            if let Some(pending) = self.requests.remove(request)
                && !pending.answered()
            {
                out.push(Output::Respond {
                    request,
                    outcome: Outcome::TimedOut {
                        got: pending.got(),
                        needed: pending.needed(),
                    },
                });
            }
        }
        self.arm_timeouts(now, out);
    }

    /// Answers the request (in `slot`) if it has what it needs; forgets it once nothing more
    /// can come. Returns whether it is still followed.
    fn progress(&mut self, request: RequestId, slot: usize, out: &mut Outbox) -> bool {
        let conflict = self.protocol.conflict;
        let read_repair = self.protocol.read_repair;
        let pending = self.requests.at(slot);
        let mut local_repair = None;
        match pending {
            Pending::Write {
                needed,
                acks,
                answered,
                ..
            } => {
                if !*answered && *acks >= *needed {
                    *answered = true;
                    out.push(Output::Respond {
                        request,
                        outcome: Outcome::Written { acks: *acks },
                    });
                }
            }
            Pending::Read {
                needed,
                replies,
                result,
                repairs,
                answered,
                ..
            } => {
                if result.is_none() && replies.len() as u32 >= *needed {
                    // The coordinator merges the replies by the conflict rule: under version
                    // vectors the client sees every sibling (Dynamo §4.4).
                    let mut merged = Held::Nothing;
                    for (_, versions) in replies.iter() {
                        for version in versions.iter() {
                            conflict.merge(&mut merged, version, false);
                        }
                    }
                    if read_repair != ReadRepair::Off {
                        let blocking = read_repair == ReadRepair::Blocking;
                        let (sent, local) = send_repairs(
                            conflict,
                            self.id,
                            request,
                            replies,
                            &merged,
                            blocking,
                            |_| true,
                            out,
                        );
                        *repairs += if blocking { sent } else { 0 };
                        local_repair = local.then(|| merged.clone());
                    }
                    *result = Some(merged);
                }
                if !*answered
                    && *repairs == 0
                    && let Some(versions) = result.clone()
                {
                    *answered = true;
                    out.push(Output::Respond {
                        request,
                        outcome: Outcome::Read {
                            versions,
                            replies: replies.len() as u32,
                        },
                    });
                }
            }
        }
        let done = pending.done();
        if let Some(versions) = local_repair {
            for version in versions.iter() {
                self.store_version(version, false, out);
            }
        }
        if done && let Some(finished) = self.requests.remove(request) {
            self.requests.recycle(finished);
        }
        !done
    }
}

/// Read repair: sends `merged` to every replica among `replies` that `wants` whose reply does
/// not reflect it. Returns how many were sent, and whether the coordinator's own store (`me`)
/// needs it too (the caller stores it).
#[allow(clippy::too_many_arguments)]
fn send_repairs(
    conflict: ConflictMode,
    me: NodeId,
    request: RequestId,
    replies: &[(NodeId, Held)],
    merged: &Held,
    blocking: bool,
    wants: impl Fn(NodeId) -> bool,
    out: &mut Outbox,
) -> (u32, bool) {
    let (mut sent, mut local) = (0, false);
    for (node, held) in replies {
        if !wants(*node) || reflects_all(conflict, held, merged) {
            continue;
        }
        if *node == me {
            local = true;
        } else {
            sent += 1;
            out.push(Output::Send {
                to: *node,
                message: Message::Repair {
                    request,
                    blocking,
                    versions: merged.clone(),
                },
            });
        }
    }
    (sent, local)
}

/// Whether `held` reflects every version of `result`.
fn reflects_all(conflict: ConflictMode, held: &[Rc<Version>], result: &[Rc<Version>]) -> bool {
    result.iter().all(|v| conflict.reflects(held, v))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// The request table keeps an id and its state in one cache line (see `table`).
    #[test]
    fn a_request_and_its_id_fill_one_cache_line() {
        assert_eq!(super::super::table::entry_bytes::<Pending>(), 64);
    }
}
