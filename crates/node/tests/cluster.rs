//! The tutorial end to end over HTTP: clusters of real nodes on free ports of 127.0.0.1 inside
//! the test process (and, for kill -9, the binary in a child process), driven as a person
//! drives them with curl. Every wait is on a condition, bounded in time.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use converge::{NodeId, Settings, Simulation};
use converge_node::config::{NodeConfig, settings_from};
use converge_node::{RunningNode, start};
mod common;

use common::{GIVE_UP, client, get_json, post_json};
use serde_json::{Value, json};
use tokio::net::TcpListener;

struct Cluster {
    nodes: Vec<Option<RunningNode>>,
    addrs: Vec<SocketAddr>,
    configs: Vec<NodeConfig>,
    http: reqwest::Client,
}

fn settings(set: &[&str]) -> Settings {
    let set: Vec<String> = set.iter().map(|s| s.to_string()).collect();
    settings_from(None, &set).expect("test settings")
}

impl Cluster {
    /// `n` nodes on free ports, with these settings.
    async fn start(n: u32, set: &[&str]) -> Cluster {
        Cluster::start_in(n, set, None).await
    }

    /// `n` nodes on free ports, with these settings, each keeping its store in `dir/node-N`.
    async fn start_in(n: u32, set: &[&str], dir: Option<&std::path::Path>) -> Cluster {
        let settings = settings(set);
        let mut listeners = Vec::new();
        for _ in 0..n {
            listeners.push(TcpListener::bind("127.0.0.1:0").await.unwrap());
        }
        let addrs: Vec<SocketAddr> = listeners.iter().map(|l| l.local_addr().unwrap()).collect();
        let configs: Vec<NodeConfig> = (1..=n)
            .map(|id| {
                let peers = (1..=n)
                    .filter(|p| *p != id)
                    .map(|p| (p, format!("http://{}", addrs[p as usize - 1])))
                    .collect::<BTreeMap<_, _>>();
                let mut c =
                    NodeConfig::new(id, addrs[id as usize - 1], peers, settings.clone()).unwrap();
                c.limits.recheck = Duration::from_millis(100);
                c.limits.peer_timeout = Duration::from_millis(500);
                c.data_dir = dir.map(|d| d.join(format!("node-{id}")));
                c
            })
            .collect();
        let mut nodes = Vec::new();
        for (config, listener) in configs.iter().zip(listeners) {
            nodes.push(Some(start(config.clone(), listener).await.unwrap()));
        }
        Cluster {
            nodes,
            addrs,
            configs,
            http: client(GIVE_UP),
        }
    }

    fn url(&self, node: u32, path: &str) -> String {
        format!("http://{}{path}", self.addrs[node as usize - 1])
    }

    async fn post(&self, node: u32, path: &str, body: Value) -> (u16, Value) {
        post_json(&self.http, self.url(node, path), &body).await
    }

    async fn get(&self, node: u32, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(node, path)).send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn write(&self, node: u32, key: &str, value: &str) -> (u16, Value) {
        self.post(node, "/write", json!({"key": key, "value": value}))
            .await
    }

    async fn store(&self, node: u32) -> Value {
        self.get(node, "/store").await.1["store"].clone()
    }

    /// Waits until `check` holds of every node's store, or fails after `limit`.
    async fn until_stores(&self, limit: Duration, what: &str, check: impl Fn(&Value) -> bool) {
        let start = Instant::now();
        loop {
            let mut all = true;
            let mut seen = Vec::new();
            for node in 1..=self.addrs.len() as u32 {
                let store = self.store(node).await;
                all &= check(&store);
                seen.push(store);
            }
            if all {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "{what}: not within {limit:?}; stores: {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn stop_node(&mut self, node: u32) {
        if let Some(n) = self.nodes[node as usize - 1].take() {
            n.stop().await;
        }
    }

    /// Starts node `node` again on its address, with nothing in memory.
    async fn restart_node(&mut self, node: u32) {
        let addr = self.addrs[node as usize - 1];
        let listener = TcpListener::bind(addr).await.unwrap();
        let config = self.configs[node as usize - 1].clone();
        self.nodes[node as usize - 1] = Some(start(config, listener).await.unwrap());
    }

    async fn stop(self) {
        for n in self.nodes.into_iter().flatten() {
            n.stop().await;
        }
    }
}

const SOON: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tutorial_write_through_node_1_reaches_every_node() {
    let c = Cluster::start(3, &[]).await;
    // The tutorial's step 2.
    let (status, body) = c.write(1, "name", "Alice").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["acknowledgedBy"], json!([1]));
    // Step 3, mended: every node's store, until they agree.
    c.until_stores(SOON, "Alice everywhere", |s| s == &json!({"name": "Alice"}))
        .await;
    for node in 1..=3 {
        let (status, read) = c.get(node, "/read/name").await;
        assert_eq!(status, 200);
        assert_eq!(read["value"], "Alice", "node {node}: {read}");
        assert_eq!(read["answeredBy"], json!([node]));
    }
    // The tutorial's broken step: a GET of /replicate says what to do instead.
    let r = c.http.get(c.url(1, "/replicate")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let text = r.text().await.unwrap();
    assert!(text.contains("/read/") && text.contains("/store"), "{text}");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_down_during_a_write_misses_it_and_anti_entropy_repairs_it() {
    for anti_entropy in [false, true] {
        let set: &[&str] = if anti_entropy {
            &["antiEntropy=true", "antiEntropyIntervalMs=100"]
        } else {
            &[]
        };
        let mut c = Cluster::start(3, set).await;
        c.write(1, "name", "Alice").await;
        c.until_stores(SOON, "Alice everywhere", |s| s["name"] == "Alice")
            .await;
        // The tutorial's failure: node 3 is stopped while node 1 takes a write.
        c.stop_node(3).await;
        let (status, _) = c.write(1, "name", "Bob").await;
        assert_eq!(status, 200);
        // Node 1's sender finds node 3 down: the copy is dropped and counted.
        let start = Instant::now();
        loop {
            let (_, s) = c.get(1, "/status").await;
            let peer3 = &s["peers"][1];
            if peer3["droppedNodeDown"].as_u64().unwrap() >= 1 {
                assert_eq!(peer3["believedUp"], false);
                break;
            }
            assert!(
                start.elapsed() < SOON,
                "node 1 never gave up on node 3: {s}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Node 3 comes back with what was in its memory: nothing.
        c.restart_node(3).await;
        if anti_entropy {
            c.until_stores(SOON, "anti-entropy brings Bob to node 3", |s| {
                s == &json!({"name": "Bob"})
            })
            .await;
        } else {
            // Without reconciliation nothing brings the key back (the tutorial's exercise).
            tokio::time::sleep(Duration::from_millis(700)).await;
            assert_eq!(c.store(3).await, json!({}));
            assert_eq!(c.store(2).await, json!({"name": "Bob"}));
        }
        c.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_become_siblings_and_a_write_with_the_context_resolves_them() {
    let c = Cluster::start(3, &["conflict=vv"]).await;
    // Two blind writes (no context) through two nodes: concurrent under version vectors.
    assert_eq!(c.write(1, "cart", "milk").await.0, 200);
    assert_eq!(c.write(2, "cart", "eggs").await.0, 200);
    c.until_stores(SOON, "siblings everywhere", |s| {
        s["cart"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let (_, read) = c.get(3, "/read/cart").await;
    let mut siblings: Vec<String> = read["siblings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    siblings.sort();
    assert_eq!(siblings, ["eggs", "milk"]);
    // The client merges and writes back with the context it read.
    let (status, _) = c
        .post(
            3,
            "/write",
            json!({"key": "cart", "value": "eggs, milk", "context": read["context"]}),
        )
        .await;
    assert_eq!(status, 200);
    c.until_stores(SOON, "one value everywhere", |s| {
        s == &json!({"cart": "eggs, milk"})
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w_all_fails_while_a_node_is_partitioned_and_succeeds_once_healed() {
    let c = Cluster::start(3, &["coordination=quorum", "requestTimeoutMs=300"]).await;
    let all = json!({"key": "k", "value": "v1", "w": "all"});
    let (status, body) = c.post(1, "/write", all.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["acks"], 3);
    let mut by: Vec<u64> = body["acknowledgedBy"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    by.sort();
    assert_eq!(by, [1, 2, 3]);
    // Node 3 is cut off from both others, both ways.
    for (node, peers) in [(3, json!([1, 2])), (1, json!([3])), (2, json!([3]))] {
        let (s, _) = c
            .post(node, "/admin/partition", json!({"peers": peers}))
            .await;
        assert_eq!(s, 200);
    }
    let (status, body) = c.post(1, "/write", all.clone()).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["alive"], 2);
    // W = quorum still works through the majority.
    let (status, body) = c
        .post(
            1,
            "/write",
            json!({"key": "k", "value": "v2", "w": "quorum"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for node in [1, 2, 3] {
        c.post(node, "/admin/heal", json!({})).await;
    }
    // Once node 1's prober finds node 3 again, W = all succeeds.
    let start = Instant::now();
    loop {
        let (status, body) = c.post(1, "/write", all.clone()).await;
        if status == 200 {
            assert_eq!(body["acks"], 3);
            break;
        }
        assert!(start.elapsed() < SOON, "W = all never came back: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused_and_change_nothing() {
    let c = Cluster::start(3, &[]).await;
    let raw = |node: u32, path: &str, body: &str| {
        c.http
            .post(c.url(node, path))
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let long_key = "k".repeat(257);
    let long_value = "v".repeat(4097);
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/write", "{not json".into(), 400, "key"),
        ("/write", "".into(), 400, "empty"),
        ("/write", r#"{"key": "a"}"#.into(), 400, "value"),
        (
            "/write",
            r#"{"key": "a", "value": "b", "extra": 1}"#.into(),
            400,
            "extra",
        ),
        (
            "/write",
            r#"{"key": "", "value": "b"}"#.into(),
            400,
            "empty",
        ),
        (
            "/write",
            json!({"key": long_key, "value": "b"}).to_string(),
            400,
            "257 characters",
        ),
        (
            "/write",
            json!({"key": "a", "value": long_value}).to_string(),
            400,
            "4097 characters",
        ),
        (
            "/write",
            r#"{"key": "a", "value": "b", "w": 9}"#.into(),
            400,
            "w = 9",
        ),
        (
            "/write",
            r#"{"key": "a", "value": "b", "context": {"7": 1}}"#.into(),
            400,
            "node 7",
        ),
        (
            "/admin/partition",
            r#"{"peers": [1]}"#.into(),
            400,
            "not a peer",
        ),
        (
            "/admin/link",
            r#"{"peer": 2, "loss": 2}"#.into(),
            400,
            "loss",
        ),
        // Between nodes: not from a peer, another cluster, malformed messages.
        (
            "/replicate",
            r#"{"cluster": "x", "from": 2, "messages": []}"#.into(),
            400,
            "cluster",
        ),
        ("/replicate", "[1, 2]".into(), 400, "messages"),
    ];
    for (path, body, status, says) in &cases {
        let r = raw(1, path, body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), *status, "{path} {body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{path} {body}: {text}");
    }
    let cluster = c.configs[0].cluster();
    let wire = |from: u32, message: Value| {
        json!({"cluster": cluster, "from": from, "messages": [{"id": 1, "message": message}]})
            .to_string()
    };
    let version = |counter: u32| {
        json!({"type": "replicate", "version": {"key": "a", "value": "x",
            "stamp": {"millis": 1, "node": 2, "seq": counter}, "created": 1}})
    };
    for (body, says) in [
        (wire(7, version(1)), "not a peer"),
        (wire(1, version(1)), "not a peer"),
        (wire(2, version(0)), "counter 0"),
        (wire(2, json!({"type": "teleport"})), "teleport"),
    ] {
        let r = raw(1, "/replicate", &body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{body}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{body}: {text}");
    }
    // A body over the client limit (64 KiB).
    let huge = json!({"key": "a", "value": "v".repeat(70_000)}).to_string();
    let r = raw(1, "/write", &huge).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 413);
    // Nothing was stored anywhere, and the node still serves.
    for node in 1..=3 {
        assert_eq!(c.store(node).await, json!({}));
    }
    assert_eq!(c.write(1, "a", "fine").await.0, 200);
    // Reads of made-up keys find nothing and number nothing.
    for i in 0..200 {
        let (status, read) = c.get(2, &format!("/read/made-up-{i}")).await;
        assert_eq!(status, 200);
        assert_eq!(read["found"], false);
    }
    let (_, status) = c.get(2, "/status").await;
    assert!(status["keysKnown"].as_u64().unwrap() <= 2, "{status}");
    // A well-formed message from a peer is taken.
    let r = raw(1, "/replicate", &wire(2, version(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_node_serves_nothing_but_status_until_it_recovers() {
    let c = Cluster::start(3, &[]).await;
    let (s, body) = c.post(2, "/admin/crash", json!({})).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = c.write(2, "a", "b").await;
    assert_eq!(s, 503);
    assert!(
        body["error"].as_str().unwrap().contains("recover"),
        "{body}"
    );
    assert_eq!(c.get(2, "/read/a").await.0, 503);
    let (s, status) = c.get(2, "/status").await;
    assert_eq!(s, 200);
    assert_eq!(status["up"], false);
    // A write through node 1 while node 2 is crashed reaches node 3 only.
    c.write(1, "a", "b").await;
    let start = Instant::now();
    while c.store(3).await != json!({"a": "b"}) {
        assert!(start.elapsed() < SOON);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.post(2, "/admin/recover", json!({})).await.0, 200);
    assert_eq!(c.store(2).await, json!({}));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_in_the_simulators_schema() {
    let c = Cluster::start(3, &[]).await;
    let mut stream = c.http.get(c.url(1, "/events")).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    c.write(1, "name", "Alice").await;
    let mut text = String::new();
    let start = Instant::now();
    while text.matches("\"event\":\"send\"").count() < 2 {
        assert!(start.elapsed() < SOON, "events so far: {text}");
        let chunk = tokio::time::timeout(SOON, stream.chunk())
            .await
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    let events: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let write = events.iter().find(|e| e["event"] == "write").unwrap();
    assert_eq!(write["node"], 1);
    assert_eq!(write["key"], "name");
    // The same fields as the simulator's send events.
    let mut sim = Simulation::new(Settings::default()).unwrap();
    sim.write(NodeId(1), "name", "Alice").unwrap();
    sim.run_for(1);
    let sim_send = sim
        .trace()
        .recent()
        .iter()
        .map(|e| serde_json::to_value(e).unwrap())
        .find(|e| e["event"] == "send")
        .unwrap();
    let send = events.iter().find(|e| e["event"] == "send").unwrap();
    let fields = |v: &Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(fields(send), fields(&sim_send));
    assert_eq!(send["message"], "replicate");
    c.stop().await;
}

/// The simulator and real nodes, given the same settings and the same client actions, end in
/// the same converged state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_scenario_converges_to_the_same_state_in_the_simulator_and_on_real_nodes() {
    let set = [
        "conflict=vv",
        "antiEntropy=true",
        "antiEntropyIntervalMs=100",
    ];
    // The scenario: concurrent writes of one key through two nodes, a node down during a
    // write to another key, a delete.
    let mut sim = Simulation::new(settings(&set)).unwrap();
    sim.write(NodeId(1), "cart", "milk").unwrap();
    sim.write(NodeId(2), "cart", "eggs").unwrap();
    sim.write(NodeId(1), "name", "Alice").unwrap();
    sim.write(NodeId(2), "gone", "soon").unwrap();
    sim.run_for(1_000);
    sim.crash(NodeId(3)).unwrap();
    sim.write(NodeId(1), "name", "Bob").unwrap();
    sim.run_for(1_000);
    sim.recover(NodeId(3), true).unwrap();
    sim.run_for(200);
    let clock = sim
        .replica(NodeId(1))
        .unwrap()
        .context(sim.key_table().id("gone").unwrap());
    let options = converge::sim::ClientOptions {
        context: Some(converge::sim::Context {
            key: "gone".into(),
            clock,
            read: None,
        }),
        ..Default::default()
    };
    sim.write_with(NodeId(1), "gone", None, &options).unwrap();
    sim.run_for(5_000);
    assert!(sim.converged());
    let sim_state = |node: u32| -> BTreeMap<String, Vec<Option<String>>> {
        let mut state = BTreeMap::new();
        for key in ["cart", "name", "gone"] {
            let mut values: Vec<Option<String>> = sim
                .versions_at(NodeId(node), key)
                .unwrap()
                .iter()
                .map(|v| v.value.as_deref().map(String::from))
                .collect();
            values.sort();
            state.insert(key.to_string(), values);
        }
        state
    };

    let mut c = Cluster::start(3, &set).await;
    c.write(1, "cart", "milk").await;
    c.write(2, "cart", "eggs").await;
    c.write(1, "name", "Alice").await;
    c.write(2, "gone", "soon").await;
    c.until_stores(SOON, "first writes everywhere", |s| {
        s["name"] == "Alice" && s["gone"] == "soon" && s["cart"].as_array().is_some()
    })
    .await;
    c.stop_node(3).await;
    c.write(1, "name", "Bob").await;
    c.restart_node(3).await;
    let (_, read) = c.get(1, "/read/gone").await;
    let (status, _) = c
        .post(
            1,
            "/delete",
            json!({"key": "gone", "context": read["context"]}),
        )
        .await;
    assert_eq!(status, 200);
    let real_state = |store: &Value, versions: &Value| -> BTreeMap<String, Vec<Option<String>>> {
        let _ = store;
        let mut state = BTreeMap::new();
        for key in ["cart", "name", "gone"] {
            let mut values: Vec<Option<String>> = versions[key]
                .as_array()
                .map(|vs| {
                    vs.iter()
                        .map(|v| v["value"].as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            values.sort();
            state.insert(key.to_string(), values);
        }
        state
    };
    let expected = sim_state(1);
    let start = Instant::now();
    loop {
        let mut states = Vec::new();
        for node in 1..=3 {
            let (_, body) = c.get(node, "/store?detail=true").await;
            states.push(real_state(&body["store"], &body["versions"]));
        }
        if states.iter().all(|s| s == &expected) {
            break;
        }
        assert!(
            start.elapsed() < SOON,
            "the real nodes hold {states:?}, the simulator {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for node in 2..=3 {
        assert_eq!(sim_state(node), expected);
    }
    c.stop().await;
}

/// A peer that accepts connections and never answers: requests to it time out, its queue fills
/// and drops its oldest messages (counted), and clients are never kept waiting for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_peer_fills_its_queue_not_the_clients_wait() {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung_addr = hung.local_addr().unwrap();
    // Accept and hold every connection, saying nothing.
    let held = std::thread::spawn(move || {
        let mut conns = Vec::new();
        hung.set_nonblocking(true).unwrap();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            match hung.accept() {
                Ok((c, _)) => conns.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let peers = BTreeMap::from([(2, format!("http://{hung_addr}"))]);
    let mut config = NodeConfig::new(1, addr, peers, Settings::default()).unwrap();
    config.limits.queue = 5;
    config.limits.batch = 1;
    config.limits.peer_timeout = Duration::from_millis(300);
    let node = start(config, listener).await.unwrap();
    let http = client(GIVE_UP);
    let started = Instant::now();
    for i in 0..40 {
        let r = http
            .post(format!("http://{addr}/write"))
            .json(&json!({"key": format!("k{i}"), "value": "v"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    // Forty writes answered while the peer hangs: none waited for it.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let status = get_json(&http, format!("http://{addr}/status")).await;
    let peer = &status["peers"][0];
    assert!(peer["queued"].as_u64().unwrap() <= 5, "{peer}");
    assert!(peer["droppedQueueFull"].as_u64().unwrap() >= 30, "{peer}");
    // The request in flight times out: the peer is believed down.
    let start = Instant::now();
    loop {
        let status = get_json(&http, format!("http://{addr}/status")).await;
        if status["peers"][0]["believedUp"] == false {
            assert!(status["peers"][0]["droppedNodeDown"].as_u64().unwrap() >= 1);
            break;
        }
        assert!(start.elapsed() < SOON, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.stop().await;
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_loss_and_delay_act_on_one_link_and_heal_clears_them() {
    let c = Cluster::start(3, &[]).await;
    let (s, body) = c
        .post(1, "/admin/link", json!({"peer": 3, "loss": 1.0}))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, _) = c
        .post(1, "/admin/link", json!({"peer": 2, "delayMs": 300}))
        .await;
    assert_eq!(s, 200);
    let sent = Instant::now();
    c.write(1, "a", "b").await;
    // Node 2 gets it after the delay; node 3 never does.
    let mut reached_2 = None;
    while sent.elapsed() < Duration::from_secs(2) {
        if reached_2.is_none() && c.store(2).await == json!({"a": "b"}) {
            reached_2 = Some(sent.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let reached_2 = reached_2.expect("node 2 never got the write");
    assert!(reached_2 >= Duration::from_millis(300), "{reached_2:?}");
    assert_eq!(c.store(3).await, json!({}));
    let (_, status) = c.get(1, "/status").await;
    assert_eq!(status["peers"][1]["droppedLost"], 1, "{status}");
    // Healing clears both.
    c.post(1, "/admin/heal", json!({})).await;
    let sent = Instant::now();
    c.write(1, "c", "d").await;
    c.until_stores(SOON, "the next write everywhere", |s| s["c"] == "d")
        .await;
    assert!(sent.elapsed() < Duration::from_millis(300));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_cut_drops_what_crosses_it_and_says_why() {
    let c = Cluster::start(3, &[]).await;
    // Node 1 stops hearing node 2; node 2 does not know until its messages are refused.
    let (s, body) = c
        .post(
            1,
            "/admin/partition",
            json!({"peers": [2], "direction": "in"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["direction"], "in");
    c.write(2, "from2", "x").await;
    c.write(1, "from1", "y").await;
    c.until_stores(SOON, "node 1's write everywhere", |s| s["from1"] == "y")
        .await;
    let start = Instant::now();
    loop {
        let (_, status) = c.get(2, "/status").await;
        if status["peers"][0]["droppedLinkCut"].as_u64().unwrap() >= 1 {
            break;
        }
        assert!(start.elapsed() < SOON, "{status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(c.store(1).await.get("from2").is_none());
    assert_eq!(c.store(3).await["from2"], "x");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_requests_gets_429_and_the_node_keeps_serving() {
    // Quorum writes to a node whose peers are both crashed wait for their timeout: with room
    // for only 4 at once, the rest of a burst are turned away at once.
    let listeners = [
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    ];
    let addr = listeners[0].local_addr().unwrap();
    let peer = listeners[1].local_addr().unwrap();
    let s = settings(&[
        "coordination=quorum",
        "requestTimeoutMs=400",
        "writeQuorum=2",
    ]);
    let mut config =
        NodeConfig::new(1, addr, BTreeMap::from([(2, format!("http://{peer}"))]), s).unwrap();
    config.limits.concurrency = 4;
    // The peer: a listener that never answers, so node 1 believes it up until a timeout.
    let [listener, _peer_listener] = listeners;
    let node = start(config, listener).await.unwrap();
    let http = client(GIVE_UP);
    let mut burst = Vec::new();
    for i in 0..12 {
        let http = http.clone();
        burst.push(tokio::spawn(async move {
            let body = json!({"key": format!("k{i}"), "value": "v"});
            post_json(&http, format!("http://{addr}/write"), &body).await
        }));
    }
    let mut answers = Vec::new();
    for b in burst {
        answers.push(b.await.unwrap());
    }
    let busy = answers.iter().filter(|(c, _)| *c == 429).count();
    assert!(busy >= 8, "{answers:?}");
    // The four let in waited for their acknowledgements until the request timeout.
    for (code, body) in answers.iter().filter(|(c, _)| *c != 429) {
        assert_eq!(*code, 504, "{body}");
        assert_eq!(body["status"], "timedOut");
        assert_eq!(body["needed"], 2);
        assert_eq!(body["acknowledgedBy"], json!([1]));
    }
    // Afterwards the node answers as before.
    let r = http
        .get(format!("http://{addr}/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    node.stop().await;
}

/// A client carries its session from node to node: a read through a node that missed the
/// session's write says it broke read-your-writes, and a read older than the last says it broke
/// monotonic reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_carried_between_nodes_is_told_which_guarantees_a_read_broke() {
    let c = Cluster::start(3, &["conflict=lww"]).await;
    // Node 2 will not hear from node 1.
    c.post(
        1,
        "/admin/partition",
        json!({"peers": [2], "direction": "out"}),
    )
    .await;
    let (status, wrote) = c
        .post(
            1,
            "/write",
            json!({"key": "name", "value": "Alice", "session": {}}),
        )
        .await;
    assert_eq!(status, 200, "{wrote}");
    let session = wrote["session"].clone();
    assert_eq!(session["wrote"]["name"]["node"], 1, "{session}");
    let read = |node: u32, session: Value| {
        let http = c.http.clone();
        let url = c.url(node, "/read/name");
        async move {
            let r = http
                .get(url)
                .query(&[("session", session.to_string())])
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200);
            r.json::<Value>().await.unwrap()
        }
    };
    // Node 3 got it: nothing broken.
    let start = Instant::now();
    while c.store(3).await != json!({"name": "Alice"}) {
        assert!(start.elapsed() < SOON);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at3 = read(3, session.clone()).await;
    assert_eq!(at3["broken"], json!([]), "{at3}");
    // Node 2 missed it.
    let at2 = read(2, at3["session"].clone()).await;
    assert_eq!(at2["value"], Value::Null);
    assert_eq!(
        at2["broken"],
        json!(["read-your-writes", "monotonic-reads"]),
        "{at2}"
    );
    // A session that never wrote or read the key breaks nothing there.
    let fresh = read(2, json!({})).await;
    assert_eq!(fresh["broken"], json!([]));
    // A session naming a node outside the cluster is refused.
    let bad = c
        .http
        .get(c.url(1, "/read/name"))
        .query(&[(
            "session",
            r#"{"wrote": {"name": {"millis": 1, "node": 9, "seq": 1}}}"#,
        )])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);
    c.stop().await;
}

/// Cassandra's hinted handoff with durable storage: the coordinator keeps a hint for a node
/// that is down, is itself stopped and started again from its disk, and still hands the write
/// over once the owner is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hint_kept_on_disk_survives_its_holders_restart_and_reaches_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let set = [
        "coordination=quorum",
        "hintedHandoff=strict",
        "hintIntervalMs=100",
        "requestTimeoutMs=500",
    ];
    let mut c = Cluster::start_in(3, &set, Some(dir.path())).await;
    c.stop_node(3).await;
    // Node 1 learns that node 3 is down from a write that fails to reach it.
    c.write(1, "warmup", "x").await;
    let start = Instant::now();
    loop {
        let (_, s) = c.get(1, "/status").await;
        if s["peers"][1]["believedUp"] == false {
            break;
        }
        assert!(start.elapsed() < SOON, "{s}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (status, body) = c.write(1, "name", "Alice").await;
    assert_eq!(status, 200, "{body}");
    let (_, s) = c.get(1, "/status").await;
    assert!(s["hints"].as_u64().unwrap() >= 1, "{s}");
    // The hint's holder restarts from its disk, then the owner comes back.
    c.stop_node(1).await;
    c.restart_node(1).await;
    let (_, s) = c.get(1, "/status").await;
    assert!(
        s["hints"].as_u64().unwrap() >= 1,
        "hints after the restart: {s}"
    );
    c.restart_node(3).await;
    let start = Instant::now();
    while c.store(3).await["name"] != "Alice" {
        assert!(start.elapsed() < SOON, "node 3 holds {}", c.store(3).await);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // Handed over and acknowledged: the hint is gone, on disk too.
    let start = Instant::now();
    loop {
        let (_, s) = c.get(1, "/status").await;
        if s["hints"] == 0 {
            break;
        }
        assert!(start.elapsed() < SOON, "{s}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    c.stop_node(1).await;
    c.restart_node(1).await;
    assert_eq!(c.get(1, "/status").await.1["hints"], 0);
    c.stop().await;
}

/// The curl commands of the ```sh block of `file` (from the repository's root) that follows
/// `after`, with the ports of this cluster in place of 5000-5002.
fn doc_commands(c: &Cluster, file: &str, after: &str) -> Vec<String> {
    let path = format!("{}/../../{file}", env!("CARGO_MANIFEST_DIR"));
    let doc = std::fs::read_to_string(path).unwrap();
    let from = doc
        .find(after)
        .unwrap_or_else(|| panic!("{file} lost {after:?}"));
    let block = doc[from..].split("```sh\n").nth(1).unwrap();
    let block = &block[..block.find("```").unwrap()];
    block
        .lines()
        .filter(|l| l.starts_with("curl "))
        .map(|l| {
            let mut l = l.split("  #").next().unwrap().trim().to_string();
            for (i, addr) in c.addrs.iter().enumerate() {
                l = l.replace(&format!("localhost:{}", 5000 + i), &addr.to_string());
            }
            assert!(
                !l.contains("localhost:50"),
                "a port this test cannot map: {l}"
            );
            l
        })
        .collect()
}

fn sh(command: &str) -> Value {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .output()
        .unwrap();
    assert!(out.status.success(), "{command}: {out:?}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{command}: {e}: {out:?}"))
}

/// The examples of docs/nodes.md, run as written (with this cluster's ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curl_examples_of_the_node_docs_do_what_they_say() {
    let c = Cluster::start(3, &["conflict=vv"]).await;
    let siblings = doc_commands(&c, "docs/nodes.md", "a write with that context replaces");
    assert_eq!(siblings.len(), 4, "{siblings:?}");
    for line in &siblings[..2] {
        assert_eq!(sh(line)["status"], "ok");
    }
    c.until_stores(SOON, "siblings everywhere", |s| {
        s["cart"].as_array().is_some_and(|a| a.len() == 2)
    })
    .await;
    let read = sh(&siblings[2]);
    assert_eq!(read["siblings"], json!(["milk", "eggs"]), "{read}");
    assert_eq!(read["context"], json!({"1": 1, "2": 1}), "{read}");
    assert_eq!(sh(&siblings[3])["status"], "ok");
    c.until_stores(SOON, "resolved everywhere", |s| {
        s == &json!({"cart": "eggs, milk"})
    })
    .await;

    let partition = doc_commands(&c, "docs/nodes.md", "A partition of node 3 from the others");
    assert_eq!(partition.len(), 3, "{partition:?}");
    for line in &partition {
        assert_eq!(sh(line)["status"], "ok");
    }
    let (_, s3) = c.get(3, "/status").await;
    assert!(
        s3["peers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["cutOut"] == true && p["cutIn"] == true)
    );
    let (_, s1) = c.get(1, "/status").await;
    assert_eq!(s1["peers"][1]["cutOut"], true);
    assert_eq!(s1["peers"][0]["cutOut"], false);
    c.stop().await;
}

/// The README's commands for real nodes, run as written (with this cluster's ports).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_curl_commands_do_what_it_says() {
    let c = Cluster::start(3, &[]).await;
    let lines = doc_commands(&c, "README.md", "## Real nodes");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(sh(&lines[0])["status"], "ok");
    c.until_stores(SOON, "Alice everywhere", |s| s == &json!({"name": "Alice"}))
        .await;
    assert_eq!(sh(&lines[1])["value"], "Alice");
    assert_eq!(sh(&lines[2])["store"], json!({"name": "Alice"}));
    c.stop().await;
}

/// The mechanisms that only show over several messages, over HTTP: Merkle-tree anti-entropy
/// repairing a node that came back empty, gossip reaching every node, read repair bringing a
/// stale replica up to date, and a sloppy quorum's stand-in handing its hint over.
///
/// On a loaded machine this test once hung: a request timeout timer that fired a few
/// milliseconds late left the coordinator believing a timer was still armed, and no request
/// timed out again (`request_timeouts_still_fire_after_a_timer_comes_late` in the replica).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merkle_anti_entropy_gossip_read_repair_and_sloppy_hints_work_over_http() {
    // Merkle trees: node 3 comes back empty, and only the ranges that differ are exchanged.
    let set = [
        "antiEntropy=true",
        "antiEntropyKind=merkle",
        "antiEntropyIntervalMs=100",
    ];
    let mut c = Cluster::start(3, &set).await;
    for i in 0..20 {
        c.write(1, &format!("k{i}"), "v").await;
    }
    c.until_stores(SOON, "twenty keys everywhere", |s| {
        s.as_object().unwrap().len() == 20
    })
    .await;
    // Node 3 comes back from memory: empty (a round may refill it before it can be looked at).
    c.stop_node(3).await;
    c.restart_node(3).await;
    c.until_stores(SOON, "Merkle anti-entropy refills node 3", |s| {
        s.as_object().unwrap().len() == 20
    })
    .await;
    c.stop().await;

    // Gossip: rumors reach every node.
    let c = Cluster::start(3, &["dissemination=gossip", "gossipIntervalMs=50"]).await;
    c.write(2, "rumor", "spread").await;
    c.until_stores(SOON, "the rumor everywhere", |s| s["rumor"] == "spread")
        .await;
    c.stop().await;

    // Read repair: node 3 missed a write (W = 2 of 3); a read of all three repairs it.
    let set = [
        "coordination=quorum",
        "readRepair=blocking",
        "requestTimeoutMs=500",
    ];
    let mut c = Cluster::start(3, &set).await;
    c.stop_node(3).await;
    // Node 1 learns node 3 is down, then writes with W = 2.
    c.write(1, "warmup", "x").await;
    let start = Instant::now();
    while c.get(1, "/status").await.1["peers"][1]["believedUp"] != false {
        assert!(start.elapsed() < SOON);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(c.write(1, "name", "Alice").await.0, 200);
    c.restart_node(3).await;
    let start = Instant::now();
    loop {
        let (status, read) = c.get(1, "/read/name?r=all").await;
        if status == 200 {
            assert_eq!(read["value"], "Alice", "{read}");
            break;
        }
        // Until node 1's prober finds node 3 again, R = all is unavailable.
        assert!(start.elapsed() < SOON, "{read}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let start = Instant::now();
    while c.store(3).await["name"] != "Alice" {
        assert!(start.elapsed() < SOON, "read repair never reached node 3");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        c.store(3).await.get("warmup").is_none(),
        "only the key read was repaired"
    );
    c.stop().await;

    // Sloppy quorum: with node 3 down, a stand-in keeps its copy and hands it over later.
    let set = [
        "coordination=quorum",
        "hintedHandoff=sloppy",
        "replicationFactor=2",
        "writeQuorum=2",
        "hintIntervalMs=100",
        "requestTimeoutMs=500",
    ];
    let mut c = Cluster::start(3, &set).await;
    // A key whose two replicas include node 3: the third node stands in for it.
    let (_, status) = c.get(1, "/status").await;
    assert_eq!(status["settings"]["replicas"], 2);
    c.stop_node(3).await;
    let mut written = Vec::new();
    for i in 0..12 {
        let key = format!("s{i}");
        // Through a node that is up; retry while the coordinator still believes node 3 up.
        let start = Instant::now();
        loop {
            let (code, body) = c.write(1 + (i % 2), &key, "v").await;
            if code == 200 {
                written.push((key.clone(), body));
                break;
            }
            assert!(start.elapsed() < SOON, "{body}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let mut hints = 0;
    for node in [1, 2] {
        hints += c.get(node, "/status").await.1["hints"].as_u64().unwrap();
    }
    assert!(hints > 0, "no stand-in kept a hint: {written:?}");
    c.restart_node(3).await;
    let start = Instant::now();
    loop {
        let mut left = 0;
        for node in [1, 2] {
            left += c.get(node, "/status").await.1["hints"].as_u64().unwrap();
        }
        if left == 0 {
            break;
        }
        assert!(start.elapsed() < SOON, "{left} hints never handed over");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!c.store(3).await.as_object().unwrap().is_empty());
    c.stop().await;
}
