//! Sets and counters that merge by themselves (Riak's data types): an observed-remove set where
//! add wins, and a PN-counter. Judged against models kept apart from the code: sets of operation
//! ids, and the sum of the increments clients asked for.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use common::*;
use converge::crdt::{CounterEntry, Op, merged_value, prepare};
use converge::settings::Coordination;
use converge::version::Held;
use converge::{
    ClientOptions, ConflictMode, Key, KeyId, NodeId, SettingsPatch, Simulation, Stamp, Version,
    WriteId, WriteStatus,
};
use proptest::prelude::*;

fn crdt_cluster(conflict: ConflictMode) -> Simulation {
    cluster_with(
        3,
        100,
        SettingsPatch {
            conflict: Some(conflict),
            ..Default::default()
        },
    )
}

/// What node `node` holds of `key`, as a client reads it there.
fn merged_at(sim: &Simulation, node: u32, key: &str) -> Option<String> {
    merged_value(
        sim.settings().conflict,
        sim.versions_at(n(node), key).unwrap(),
    )
}

fn merged_everywhere(sim: &Simulation, key: &str) -> Vec<Option<String>> {
    (1..=sim.node_count())
        .map(|i| merged_at(sim, i, key))
        .collect()
}

/// The cart of Dynamo §4.4 under version vectors: one client removes eggs while another, cut
/// off, adds bread; the siblings a union merge joins bring the eggs back.
#[test]
fn a_union_merged_cart_brings_a_removed_item_back() {
    let mut sim = crdt_cluster(ConflictMode::VersionVectors);
    sim.write(n(1), "cart", "eggs,milk").unwrap();
    sim.run_for(1_000);
    sim.partition(&[vec![n(1)], vec![n(2), n(3)]]).unwrap();
    let read = |sim: &mut Simulation, node| ClientOptions {
        context: sim.read(n(node), "cart").unwrap().context,
        ..Default::default()
    };
    let at_1 = read(&mut sim, 1);
    sim.write_with(n(1), "cart", Some("milk"), &at_1).unwrap();
    let at_2 = read(&mut sim, 2);
    sim.write_with(n(2), "cart", Some("bread,eggs,milk"), &at_2)
        .unwrap();
    sim.heal_all();
    sim.run_for(1_000);
    let siblings = read_values(&sim.read(n(3), "cart").unwrap());
    assert_eq!(siblings, ["bread,eggs,milk", "milk"]);
    // The client's merge: the union of the siblings' items.
    let union: BTreeSet<&str> = siblings.iter().flat_map(|s| s.split(',')).collect();
    assert!(
        union.contains("eggs"),
        "the removed eggs are back: {union:?}"
    );
}

/// The same story with an OR-Set: the removal took away only the eggs its node had seen, the
/// concurrent add of bread stays, and every replica agrees with no merge by a client.
#[test]
fn an_or_set_keeps_the_removal_and_the_concurrent_add() {
    let mut sim = crdt_cluster(ConflictMode::OrSet);
    sim.write(n(1), "cart", "+milk").unwrap();
    sim.write(n(1), "cart", "+eggs").unwrap();
    sim.run_for(1_000);
    assert_eq!(merged_at(&sim, 3, "cart").as_deref(), Some("{eggs, milk}"));
    sim.partition(&[vec![n(1)], vec![n(2), n(3)]]).unwrap();
    sim.write(n(1), "cart", "-eggs").unwrap();
    sim.write(n(2), "cart", "+bread").unwrap();
    assert_eq!(merged_at(&sim, 1, "cart").as_deref(), Some("{milk}"));
    assert_eq!(
        merged_at(&sim, 2, "cart").as_deref(),
        Some("{bread, eggs, milk}")
    );
    sim.heal_all();
    sim.run_for(1_000);
    assert!(sim.converged(), "{sim}");
    assert_eq!(
        merged_everywhere(&sim, "cart"),
        vec![Some("{bread, milk}".into()); 3]
    );
    let read = sim.read(n(2), "cart").unwrap();
    assert_eq!(read.merged.as_deref(), Some("{bread, milk}"));
    assert!(sim.lost_writes().is_empty());
    assert_eq!(sim.lost_writes_by_clocks(), Some(Vec::new()));
}

/// Add wins: a removal takes away the adds it observed, not one made concurrently elsewhere.
#[test]
fn an_add_concurrent_with_a_removal_wins() {
    let mut sim = crdt_cluster(ConflictMode::OrSet);
    sim.write(n(1), "s", "+x").unwrap();
    sim.run_for(1_000);
    sim.partition(&[vec![n(1)], vec![n(2), n(3)]]).unwrap();
    sim.write(n(1), "s", "-x").unwrap();
    sim.write(n(2), "s", "+x").unwrap();
    sim.heal_all();
    sim.run_for(1_000);
    assert_eq!(merged_everywhere(&sim, "s"), vec![Some("{x}".into()); 3]);
    // And a removal that has seen both takes it away everywhere.
    sim.write(n(3), "s", "-x").unwrap();
    sim.run_for(1_000);
    assert_eq!(merged_everywhere(&sim, "s"), vec![Some("{}".into()); 3]);
}

/// Removals do not pile up: the next operation a node coordinates takes in the tombstones it
/// holds, and they leave its store.
#[test]
fn tombstones_fold_into_the_next_operation() {
    let mut sim = crdt_cluster(ConflictMode::OrSet);
    for item in ["a", "b", "c"] {
        sim.write(n(1), "s", &format!("+{item}")).unwrap();
        sim.write(n(1), "s", &format!("-{item}")).unwrap();
    }
    sim.run_for(1_000);
    let tombstones = |sim: &Simulation, node| {
        (sim.versions_at(n(node), "s").unwrap().iter())
            .filter(|v| v.is_tombstone())
            .count()
    };
    assert_eq!(tombstones(&sim, 2), 1, "each removal folded the one before");
    sim.write(n(2), "s", "+d").unwrap();
    sim.run_for(1_000);
    for node in 1..=3 {
        assert_eq!(tombstones(&sim, node), 0);
        assert_eq!(merged_at(&sim, node, "s").as_deref(), Some("{d}"));
    }
    assert!(sim.converged());
}

/// Every node counts at once, cut off from the others, on a network that duplicates and
/// loses messages: once healed, every replica holds the sum of what clients added.
#[test]
fn a_counter_counts_every_increment_once() {
    let mut sim = cluster_with(
        3,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::Counter),
            duplication: Some(0.5),
            loss: Some(0.2),
            anti_entropy: Some(true),
            anti_entropy_interval_ms: Some(200),
            ..Default::default()
        },
    );
    sim.partition(&[vec![n(1)], vec![n(2)], vec![n(3)]])
        .unwrap();
    for (node, by) in [(1, "+5"), (2, "+3"), (3, "-2"), (1, "+1"), (2, "-4")] {
        sim.write(n(node), "likes", by).unwrap();
    }
    assert_eq!(merged_at(&sim, 1, "likes").as_deref(), Some("6"));
    heal_everything(&mut sim);
    sim.run_for(10_000);
    assert!(sim.converged(), "{sim}");
    assert_eq!(merged_everywhere(&sim, "likes"), vec![Some("3".into()); 3]);
    // One version a node that counted, never siblings to resolve.
    assert_eq!(sim.versions_at(n(2), "likes").unwrap().len(), 3);
    assert!(sim.lost_writes().is_empty());
}

#[test]
fn what_a_data_type_cannot_take_is_refused_and_changes_nothing() {
    let mut sim = crdt_cluster(ConflictMode::Counter);
    sim.write(n(1), "likes", "+1").unwrap();
    let before = sim.to_string();
    let err = sim.write(n(1), "likes", "lots").unwrap_err().to_string();
    assert!(err.contains("whole number"), "{err}");
    let err = sim.delete(n(1), "likes").unwrap_err().to_string();
    assert!(err.contains("cannot be deleted"), "{err}");
    let err = (sim.resolve(n(1), "likes", "1", &ClientOptions::default()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no siblings"), "{err}");
    assert_eq!(sim.to_string(), before);
    let mut set = crdt_cluster(ConflictMode::OrSet);
    let err = set.write(n(1), "s", "-").unwrap_err().to_string();
    assert!(err.contains("+milk"), "{err}");
}

/// A counter's increment that a quorum refuses (too few replicas reachable) is taken back with
/// its dot: the next increment does not carry it.
#[test]
fn an_unavailable_increment_is_not_counted() {
    let mut sim = cluster_with(
        3,
        50,
        SettingsPatch {
            conflict: Some(ConflictMode::Counter),
            coordination: Some(Coordination::Quorum),
            write_quorum: Some(converge::settings::Consistency::All),
            ..Default::default()
        },
    );
    sim.write(n(1), "c", "+1").unwrap();
    sim.run_for(1_000);
    sim.crash(n(3)).unwrap();
    let refused = sim.write(n(1), "c", "+100").unwrap();
    assert_eq!(
        sim.writes().last().unwrap().status,
        WriteStatus::Unavailable,
        "{refused:?}"
    );
    assert_eq!(
        sim.writes_not_yet_everywhere(),
        0,
        "it is on its way nowhere"
    );
    sim.recover(n(3), false).unwrap();
    sim.write(n(1), "c", "+2").unwrap();
    sim.run_for(1_000);
    assert_eq!(merged_everywhere(&sim, "c"), vec![Some("3".into()); 3]);
}

// ----- Properties -----

/// One update at one of three in-memory replicas, or a delivery of everything one holds to
/// another (a state-based exchange, as anti-entropy makes).
#[derive(Clone, Debug)]
enum Step {
    Update { at: usize, op: u8 },
    Sync { from: usize, to: usize },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0usize..3, any::<u8>()).prop_map(|(at, op)| Step::Update { at, op }),
            2 => (0usize..3, 0usize..3).prop_map(|(from, to)| Step::Sync { from, to }),
        ],
        0..60,
    )
}

/// The operation a byte stands for: a set's add or remove of one of four elements, or a clear;
/// a counter's increment between -5 and 5.
fn op_of(mode: ConflictMode, byte: u8) -> Op {
    let element = || Rc::from(["a", "b", "c", "d"][usize::from(byte % 4)]);
    match (mode, byte % 9) {
        (ConflictMode::Counter, _) => Op::Increment(i64::from(byte % 11) - 5),
        (_, 0..=4) => Op::Add(element()),
        (_, 5..=7) => Op::Remove(element()),
        _ => Op::Clear,
    }
}

/// Three replicas of one key, each applying operations as a coordinator and merging what it is
/// sent; beside them, the model: for each add, its element, and for each removal, the adds its
/// replica had received of that element (sets of ids, no clocks).
struct Harness {
    mode: ConflictMode,
    held: Vec<Held>,
    seqs: Vec<u32>,
    totals: Vec<CounterEntry>,
    next: u32,
    adds: BTreeMap<u32, Rc<str>>,
    received: Vec<BTreeSet<u32>>,
    removed: BTreeSet<u32>,
    counted: i128,
}

impl Harness {
    fn new(mode: ConflictMode) -> Harness {
        Harness {
            mode,
            held: vec![Held::Nothing; 3],
            seqs: vec![0; 3],
            totals: vec![CounterEntry::default(); 3],
            next: 0,
            adds: BTreeMap::new(),
            received: vec![BTreeSet::new(); 3],
            removed: BTreeSet::new(),
            counted: 0,
        }
    }

    fn update(&mut self, at: usize, op: &Op) {
        match op {
            // An add of an element replaces the adds of it its replica has seen.
            Op::Add(x) => self.removed.extend(
                (self.received[at].iter()).filter(|id| self.adds.get(id).is_some_and(|e| e == x)),
            ),
            Op::Remove(x) => self.removed.extend(
                (self.received[at].iter()).filter(|id| self.adds.get(id).is_some_and(|e| e == x)),
            ),
            Op::Clear => self
                .removed
                .extend((self.received[at].iter()).filter(|id| self.adds.contains_key(id))),
            Op::Increment(by) => self.counted += i128::from(*by),
        }
        self.next += 1;
        self.seqs[at] += 1;
        let node = NodeId(at as u32 + 1);
        let (value, context) = prepare(
            op,
            &self.held[at],
            node,
            self.seqs[at],
            &mut self.totals[at],
        );
        if let Op::Add(x) = op {
            self.adds.insert(self.next, x.clone());
        }
        let version = Rc::new(Version {
            write: WriteId(self.next),
            key: Key::new(KeyId(0), "k"),
            value,
            stamp: Stamp {
                millis: 0,
                node,
                seq: self.seqs[at],
            },
            context,
            created: 0,
        });
        self.deliver(at, &version);
    }

    fn deliver(&mut self, to: usize, version: &Rc<Version>) {
        self.received[to].insert(version.write.0);
        self.mode.merge(&mut self.held[to], version, false);
    }

    fn sync(&mut self, from: usize, to: usize) {
        let sent = self.held[from].clone();
        for version in sent.iter() {
            self.deliver(to, version);
        }
    }

    /// The model's value: the elements of the adds no removal saw, or the sum of increments.
    fn expected(&self) -> String {
        match self.mode {
            ConflictMode::Counter => self.counted.to_string(),
            _ => {
                let present: BTreeSet<&str> = (self.adds.iter())
                    .filter(|(id, _)| !self.removed.contains(id))
                    .map(|(_, e)| &**e)
                    .collect();
                format!("{{{}}}", present.into_iter().collect::<Vec<_>>().join(", "))
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(256))]

    /// Strong eventual consistency: replicas that have received the same updates hold the same
    /// state, whatever the order and however often they arrived, and that state is the model's.
    #[test]
    fn replicas_with_the_same_updates_hold_the_same_state(
        counter in any::<bool>(),
        steps in steps(),
        finish in prop::collection::vec((0usize..3, 0usize..3), 6..12),
    ) {
        let mode = if counter { ConflictMode::Counter } else { ConflictMode::OrSet };
        let mut h = Harness::new(mode);
        for step in &steps {
            match step {
                Step::Update { at, op } => h.update(*at, &op_of(mode, *op)),
                Step::Sync { from, to } => h.sync(*from, *to),
            }
        }
        // Everyone sends everything to everyone, in a random order, then once more in a ring,
        // so that every replica has every update (some twice).
        for (from, to) in finish {
            h.sync(from, to);
        }
        for _ in 0..2 {
            for i in 0..3 {
                h.sync(i, (i + 1) % 3);
            }
        }
        let values: Vec<_> = h.held.iter().map(|held| merged_value(mode, held)).collect();
        let sorted = |held: &Held| {
            let mut writes: Vec<u32> = held.iter().map(|v| v.write.0).collect();
            writes.sort_unstable();
            writes
        };
        prop_assert_eq!(sorted(&h.held[0]), sorted(&h.held[1]));
        prop_assert_eq!(sorted(&h.held[1]), sorted(&h.held[2]));
        if h.next > 0 {
            prop_assert_eq!(values[0].clone(), Some(h.expected()), "{:?}", h.held[0]);
        }
    }
}

/// One thing that happens to a simulated cluster of four.
#[derive(Clone, Debug)]
enum Event {
    Update(u32, u8, u8),
    Read(u32, u8),
    Partition(Vec<u32>),
    Heal,
    Crash(u32),
    Recover(u32),
    Wait(u64),
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    let node = 1u32..=4;
    prop::collection::vec(
        prop_oneof![
            6 => (node.clone(), 0u8..3, any::<u8>()).prop_map(|(n, k, b)| Event::Update(n, k, b)),
            1 => (node.clone(), 0u8..3).prop_map(|(n, k)| Event::Read(n, k)),
            1 => prop::collection::vec(0..2u32, 4).prop_map(Event::Partition),
            1 => Just(Event::Heal),
            1 => node.clone().prop_map(Event::Crash),
            1 => node.prop_map(Event::Recover),
            3 => (0u64..400).prop_map(Event::Wait),
        ],
        0..60,
    )
}

/// What clients asked of one key, in the order they asked: the model's history.
#[derive(Default)]
struct History {
    /// (element, node, the write's id) of each add.
    adds: Vec<(Rc<str>, u32, WriteId)>,
    /// For each add (by index), the removals of its element asked later: (node, write id).
    removals: Vec<Vec<(u32, WriteId)>>,
    increments: Vec<(u32, WriteId, i64)>,
}

proptest! {
    #![proptest_config(cases(48))]

    /// Through every path (broadcast or gossip, quorums with sloppy or strict hints, read
    /// repair, full or Merkle anti-entropy), on a network that loses, duplicates and is cut,
    /// with nodes crashing: once healed and quiet, every replica of a key holds the same state,
    /// and that state is what the clients' history says. A counter holds the sum of every
    /// increment its coordinator took (not those refused as unavailable); a set holds every
    /// element added with no removal asked after it, and none whose every add was followed by
    /// a removal at the add's own node.
    #[test]
    fn data_types_converge_to_what_the_history_says(
        seed in any::<u64>().prop_map(|s| s >> 11),
        counter in any::<bool>(),
        patch in strategies::mechanisms(),
        events in events(),
    ) {
        let mode = if counter { ConflictMode::Counter } else { ConflictMode::OrSet };
        let mut sim = faulty_cluster(4, seed, mode);
        sim.reset(&patch).unwrap();
        let mut history: [History; 3] = Default::default();
        for event in &events {
            match event {
                Event::Update(node, k, byte) => {
                    let op = op_of(mode, *byte);
                    let text = match &op {
                        Op::Add(x) => Some(format!("+{x}")),
                        Op::Remove(x) => Some(format!("-{x}")),
                        Op::Clear => None,
                        Op::Increment(by) => Some(format!("{by:+}")),
                    };
                    let key = format!("k{k}");
                    let done = match &text {
                        Some(text) => sim.write(n(*node), &key, text),
                        None => sim.delete(n(*node), &key),
                    };
                    let Ok(done) = done else { continue };
                    let h = &mut history[*k as usize];
                    match op {
                        Op::Add(x) => {
                            h.adds.push((x, *node, done.write));
                            h.removals.push(Vec::new());
                        }
                        Op::Remove(_) | Op::Clear => {
                            for (i, (element, _, _)) in h.adds.iter().enumerate() {
                                let hits = match &op {
                                    Op::Remove(x) => x == element,
                                    _ => true,
                                };
                                if hits {
                                    h.removals[i].push((*node, done.write));
                                }
                            }
                        }
                        Op::Increment(by) => h.increments.push((*node, done.write, by)),
                    }
                }
                Event::Read(node, k) => { let _ = sim.read(n(*node), &format!("k{k}")); }
                Event::Partition(sides) => { let _ = sim.partition(&halves(sides)); }
                Event::Heal => sim.heal_all(),
                Event::Crash(node) => { let _ = sim.crash(n(*node)); }
                Event::Recover(node) => { let _ = sim.recover(n(*node), false); }
                Event::Wait(ms) => { sim.run_for(*ms); }
            }
        }
        heal_everything(&mut sim);
        sim.configure(&SettingsPatch { anti_entropy: Some(true), ..Default::default() }).unwrap();
        sim.run_for(30_000);
        prop_assert!(sim.converged(), "{}", sim);
        let statuses: BTreeMap<WriteId, WriteStatus> =
            sim.writes().into_iter().map(|w| (w.id, w.status)).collect();
        let refused = |id: &WriteId| statuses.get(id).is_some_and(|s| s.wrote_nothing());
        let acknowledged = |id: &WriteId| statuses.get(id) == Some(&WriteStatus::Acknowledged);
        for (k, h) in history.iter().enumerate() {
            let key = format!("k{k}");
            let (replicas, _) = sim.preference_list(&key).unwrap();
            let values: Vec<_> = replicas.iter().map(|r| merged_at(&sim, r.0, &key)).collect();
            prop_assert!(values.windows(2).all(|w| w[0] == w[1]), "{:?}", values);
            if mode == ConflictMode::Counter {
                // Each node's entry carries all its increments so far, and replicas keep each
                // node's latest: a node adds the sum of its increments up to one that reached a
                // replica, at least up to its last acknowledged one (a later one, only sent or
                // timed out, may have reached a replica or not).
                let mut possible = BTreeSet::from([0i64]);
                for node in 1..=4 {
                    let mine: Vec<_> = (h.increments.iter())
                        .filter(|(origin, id, _)| *origin == node && !refused(id))
                        .collect();
                    let from = mine.iter().rposition(|(_, id, _)| acknowledged(id)).map_or(0, |i| i + 1);
                    let prefix = |j: usize| mine[..j].iter().map(|(_, _, by)| by).sum::<i64>();
                    let sums: BTreeSet<i64> = (from..=mine.len()).map(prefix).collect();
                    possible = possible.iter().flat_map(|a| sums.iter().map(move |b| a + b)).collect();
                }
                let shown: i64 = values[0].as_deref().unwrap_or("0").parse().unwrap();
                prop_assert!(possible.contains(&shown), "key {}: {} not in {:?}", key, shown, possible);
            } else {
                let shown = values[0].clone().unwrap_or_else(|| "{}".into());
                let set: BTreeSet<&str> = shown.trim_matches(['{', '}']).split(", ").filter(|s| !s.is_empty()).collect();
                // A coordinator that is one of the key's replicas keeps its own add at once, so
                // a removal it coordinates later has seen it.
                let removed = |i: usize| h.removals[i].iter().filter(|(_, id)| !refused(id));
                for (i, (element, _, id)) in h.adds.iter().enumerate() {
                    let mut same = h.adds.iter().enumerate().filter(|(_, (e, _, _))| e == element);
                    if removed(i).next().is_none() && acknowledged(id) {
                        prop_assert!(set.contains(&**element), "{} lost from {}: {:?}", element, key, set);
                    }
                    let removed_at_its_node = |j: usize, origin: u32| {
                        replicas.contains(&n(origin)) && removed(j).any(|(node, _)| *node == origin)
                    };
                    if same.all(|(j, (_, origin, id))| refused(id) || removed_at_its_node(j, *origin)) {
                        prop_assert!(!set.contains(&**element), "{} came back to {}: {:?}", element, key, set);
                    }
                }
                let added: BTreeSet<&str> = h.adds.iter().map(|(e, _, _)| &**e).collect();
                prop_assert!(set.is_subset(&added));
            }
        }
        prop_assert_eq!(sim.lost_writes_by_clocks(), Some(sim.lost_writes()));
    }
}

/// A cluster of four with a lossy, duplicating network and skewed clocks.
fn faulty_cluster(nodes: u32, seed: u64, conflict: ConflictMode) -> Simulation {
    use converge::{Latency, Settings};
    Simulation::new(Settings {
        nodes,
        seed,
        latency: Latency::Exponential {
            base_ms: 5,
            mean_ms: 60,
        },
        loss: 0.15,
        duplication: 0.1,
        conflict,
        anti_entropy: true,
        anti_entropy_interval_ms: 300,
        clock_skew_ms: (0..nodes).map(|i| (i as i64 - 1) * 37).collect(),
        ..Settings::default()
    })
    .unwrap()
}
