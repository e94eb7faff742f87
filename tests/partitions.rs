//! Cut links, partitions and isolated nodes.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::*;
use converge::ConflictMode;

#[test]
fn a_partition_lets_replicas_drift_and_healing_with_anti_entropy_converges_them() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 50);
    sim.partition(&[vec![n(1), n(2)], vec![n(3)]]).unwrap();
    assert_eq!(sim.cut_links().len(), 4);
    sim.write(n(1), "name", "Alice").unwrap();
    sim.run_for(10);
    sim.write(n(3), "name", "Bob").unwrap();
    sim.write(n(3), "city", "Oslo").unwrap();
    sim.run_for(1_000);
    assert_eq!(
        values(&sim, "name"),
        vec![
            Some("Alice".into()),
            Some("Alice".into()),
            Some("Bob".into())
        ]
    );
    assert_eq!(
        sim.divergent_keys(),
        vec!["city".to_string(), "name".to_string()]
    );
    assert_eq!(
        sim.stats().dropped_cut,
        5,
        "n1->n3 once, n3->n1 and n3->n2 twice each"
    );

    sim.heal_all();
    assert!(sim.cut_links().is_empty());
    sim.run_for(5_000);
    assert!(!sim.converged(), "healing resends nothing by itself");
    anti_entropy(&mut sim, 300);
    sim.run_for(5_000);
    assert!(sim.converged(), "{sim}");
    assert!(all_replicas_equal(&sim));
    // Bob was written later (t=10) with an equal-or-later clock: last writer wins.
    assert_eq!(values(&sim, "name"), vec![Some("Bob".into()); 3]);
    assert_eq!(
        sim.lost_writes().len(),
        1,
        "Alice was overwritten by a write that never saw it"
    );
}

#[test]
fn a_message_whose_link_is_cut_while_it_flies_is_dropped() {
    let mut sim = cluster(3, ConflictMode::ArrivalOrder, 100);
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(50);
    sim.cut(n(1), n(2)).unwrap();
    sim.run_for(100);
    assert_eq!(
        values(&sim, "k"),
        vec![Some("v".into()), None, Some("v".into())]
    );
    let stats = sim.stats();
    assert_eq!((stats.dropped_cut, stats.delivered), (1, 1));
    let drops = sim.drain_drops();
    assert_eq!(drops.len(), 1);
    assert_eq!((drops[0].from, drops[0].to, drops[0].at), (n(1), n(2), 1.0));
}

#[test]
fn a_link_healed_before_arrival_delivers() {
    let mut sim = cluster(2, ConflictMode::ArrivalOrder, 100);
    sim.write(n(1), "k", "v").unwrap();
    sim.cut(n(1), n(2)).unwrap();
    sim.run_for(50);
    sim.heal(n(1), n(2)).unwrap();
    sim.run_for(50);
    assert!(sim.converged());
}

#[test]
fn a_one_way_cut_blocks_one_direction_only() {
    let mut sim = cluster(2, ConflictMode::LastWriterWins, 20);
    sim.cut_one_way(n(1), n(2)).unwrap();
    assert!(sim.is_cut(n(1), n(2)).unwrap());
    assert!(!sim.is_cut(n(2), n(1)).unwrap());
    sim.write(n(1), "from1", "x").unwrap();
    sim.write(n(2), "from2", "y").unwrap();
    sim.run_for(100);
    assert_eq!(value_at(&sim, 2, "from1"), None);
    assert_eq!(value_at(&sim, 1, "from2").as_deref(), Some("y"));
    sim.heal_one_way(n(1), n(2)).unwrap();
    assert!(sim.cut_links().is_empty());
}

#[test]
fn an_isolated_node_hears_nothing_and_reconnects() {
    let mut sim = cluster(4, ConflictMode::LastWriterWins, 20);
    sim.isolate(n(4)).unwrap();
    assert!(sim.nodes()[3].isolated);
    assert!(!sim.nodes()[0].isolated);
    sim.write(n(1), "k", "v").unwrap();
    sim.write(n(4), "j", "w").unwrap();
    sim.run_for(100);
    assert_eq!(value_at(&sim, 4, "k"), None);
    assert_eq!(value_at(&sim, 1, "j"), None);
    sim.reconnect(n(4)).unwrap();
    assert!(!sim.nodes()[3].isolated);
    assert!(sim.cut_links().is_empty());
}

#[test]
fn a_new_partition_replaces_the_old_one() {
    let mut sim = cluster(4, ConflictMode::LastWriterWins, 20);
    sim.partition(&[vec![n(1)], vec![n(2), n(3), n(4)]])
        .unwrap();
    sim.partition(&[vec![n(1), n(2)], vec![n(3), n(4)]])
        .unwrap();
    assert!(!sim.is_cut(n(1), n(2)).unwrap());
    assert!(sim.is_cut(n(1), n(3)).unwrap());
    sim.partition(&[vec![n(1), n(2), n(3), n(4)]]).unwrap();
    assert!(sim.cut_links().is_empty());
}

#[test]
fn bad_partitions_are_refused_and_change_nothing() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 20);
    sim.cut(n(1), n(2)).unwrap();
    let before = sim.cut_links();
    let missing = sim.partition(&[vec![n(1), n(2)]]).unwrap_err().to_string();
    assert!(missing.contains("node 3 is in no group"), "{missing}");
    let twice = sim
        .partition(&[vec![n(1), n(2)], vec![n(2), n(3)]])
        .unwrap_err()
        .to_string();
    assert!(
        twice.contains("node 2 is in more than one group"),
        "{twice}"
    );
    let unknown = sim
        .partition(&[vec![n(1), n(2)], vec![n(3), n(9)]])
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("no node 9"), "{unknown}");
    assert_eq!(sim.cut_links(), before);
    assert!(sim.cut(n(2), n(2)).is_err());
    assert!(sim.cut(n(0), n(2)).is_err());
}

#[test]
fn a_link_can_have_its_own_latency_and_loss() {
    let mut sim = cluster(3, ConflictMode::LastWriterWins, 20);
    let slow_and_lossy = converge::LinkOverride {
        latency: Some(converge::Latency::Constant { ms: 500 }),
        loss: Some(1.0),
        duplication: None,
    };
    sim.set_link(n(1), n(3), Some(slow_and_lossy)).unwrap();
    assert_eq!(sim.link(n(1), n(3)).unwrap().loss, 1.0);
    assert_eq!(
        sim.link(n(3), n(1)).unwrap().loss,
        0.0,
        "links are directed"
    );
    sim.write(n(1), "k", "v").unwrap();
    sim.run_for(1_000);
    assert_eq!(
        values(&sim, "k"),
        vec![Some("v".into()), Some("v".into()), None]
    );
    assert_eq!(sim.stats().dropped_lost, 1);
    sim.set_link(n(1), n(3), None).unwrap();
    assert_eq!(sim.link(n(1), n(3)).unwrap(), sim.settings().link_model());
}
