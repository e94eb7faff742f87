//! The binary as a person runs it: a node with `--data-dir` killed with SIGKILL comes back with
//! what it acknowledged, and Ctrl+C (SIGINT) stops a cluster cleanly.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{GIVE_UP, client, get_json, post_json};
use serde_json::json;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_converge-node"))
}

/// Waits until the node at `port` answers /status.
async fn until_up(http: &reqwest::Client, port: u16, child: &mut Child) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the node exited before it answered"
        );
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the node never answered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_node_killed_with_sigkill_comes_back_with_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Its peers are never started: every write is acknowledged by this node alone.
    let (p2, p3) = (free_port(), free_port());
    let start = || {
        binary()
            .args([
                "node",
                "--id",
                "1",
                "--listen",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--peer", &format!("2=http://127.0.0.1:{p2}")])
            .args(["--peer", &format!("3=http://127.0.0.1:{p3}")])
            .arg("--data-dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let http = client(GIVE_UP);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let mut node = start();
    until_up(&http, port, &mut node).await;
    for i in 0..50 {
        let body = json!({"key": format!("k{i}"), "value": format!("v{i}")});
        assert_eq!(post_json(&http, url("/write"), &body).await.0, 200);
    }
    for value in ["Alice", "Bob"] {
        let body = json!({"key": "name", "value": value});
        assert_eq!(post_json(&http, url("/write"), &body).await.0, 200);
    }
    // kill -9: no chance to write anything more.
    node.kill().unwrap();
    node.wait().unwrap();
    let mut node = start();
    until_up(&http, port, &mut node).await;
    let store = get_json(&http, url("/store")).await;
    assert_eq!(store["keys"], 51, "{store}");
    assert_eq!(store["store"]["name"], "Bob");
    assert_eq!(store["store"]["k49"], "v49");
    // Its count of its own writes to the key survived too: the next write is its third, not a
    // first that the other replicas would take for old news (Riak's KV679).
    let answer = post_json(
        &http,
        url("/write"),
        &json!({"key": "name", "value": "Carol"}),
    )
    .await
    .1;
    assert_eq!(answer["version"]["counter"], 3, "{answer}");
    node.kill().unwrap();
    node.wait().unwrap();
}

#[tokio::test]
async fn ctrl_c_stops_a_cluster_cleanly() {
    let base = free_port();
    // The cluster command takes three ports from --base-port up; find three free in a row.
    let base = (base..base + 200)
        .find(|p| (0..3).all(|i| TcpListener::bind(("127.0.0.1", p + i)).is_ok()))
        .expect("three free ports in a row");
    let mut cluster = binary()
        .args(["cluster", "--base-port", &base.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = client(GIVE_UP);
    for i in 0..3 {
        until_up(&http, base + i, &mut cluster).await;
    }
    let pid = cluster.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    let status = loop {
        if let Some(status) = cluster.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "still running after Ctrl+C"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
    let out = cluster.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("node 3 listening on http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("stopping"), "{text}");
    // The ports are free again.
    assert!(TcpListener::bind(("127.0.0.1", base)).is_ok());
}

/// The compose file's commands (docker cannot run on the build machines): each node's command
/// line, with the containers' names and ports made local, starts a cluster that replicates.
#[tokio::test]
async fn the_compose_files_commands_start_a_working_cluster() {
    let compose = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/compose.yaml"
    ))
    .unwrap();
    let mut commands = Vec::new();
    let mut lines = compose.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "command: >-" {
            let mut words = Vec::new();
            for next in lines.by_ref() {
                if next.trim().starts_with("ports:") {
                    break;
                }
                words.extend(next.split_whitespace().map(String::from));
            }
            commands.push(words);
        }
    }
    assert_eq!(commands.len(), 3, "{compose}");
    let dir = tempfile::tempdir().unwrap();
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut children = Vec::new();
    for (i, words) in commands.iter().enumerate() {
        let args: Vec<String> = words
            .iter()
            .filter(|w| !w.starts_with("${SETTINGS"))
            .map(|w| {
                let mut w = w.replace("0.0.0.0:5000", &format!("127.0.0.1:{}", ports[i]));
                for n in 1..=3 {
                    w = w.replace(
                        &format!("http://node{n}:5000"),
                        &format!("http://127.0.0.1:{}", ports[n - 1]),
                    );
                }
                if w == "/data" {
                    w = dir
                        .path()
                        .join(format!("node{}", i + 1))
                        .display()
                        .to_string();
                }
                w
            })
            .collect();
        children.push(
            binary()
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let http = client(GIVE_UP);
    for (i, child) in children.iter_mut().enumerate() {
        until_up(&http, ports[i], child).await;
    }
    let r = http
        .post(format!("http://127.0.0.1:{}/write", ports[0]))
        .json(&json!({"key": "name", "value": "Alice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let start = Instant::now();
    for port in &ports {
        loop {
            let store = get_json(&http, format!("http://127.0.0.1:{port}/store")).await;
            if store["store"] == json!({"name": "Alice"}) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "{store}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for mut child in children {
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
