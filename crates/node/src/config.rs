//! What a node is started with: its id and address, its peers, the cluster's settings (the
//! simulator's, with the same names, defaults and checks), where it keeps its data, and the
//! limits that bound what any input can make it do.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use converge::settings::{Settings, SettingsPatch};
use converge_replica::ids::NodeId;
use converge_replica::ring::key_hash;

/// Bounds on the work and memory any input can cause.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Messages waiting to be sent to one peer; when full, the oldest is dropped and counted.
    pub queue: usize,
    /// Requests waiting for the replica; when full, clients get 503 and peers are refused.
    pub inbox: usize,
    /// How long a message to a peer (or a probe) may take before the peer is believed down.
    pub peer_timeout: Duration,
    /// How often a peer believed down is probed again.
    pub recheck: Duration,
    /// Messages sent to a peer in one request, at most.
    pub batch: usize,
    /// The largest body a client may send.
    pub client_body: usize,
    /// The largest body a peer may send (anti-entropy carries whole key ranges).
    pub peer_body: usize,
    /// Client requests served at once; more get 503 at once.
    pub concurrency: usize,
    /// The most keys a node takes from clients; a write of a new key past it gets 507.
    pub max_keys: usize,
    /// How many events the stream keeps for a slow listener before it skips ahead.
    pub events: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            queue: 10_000,
            inbox: 10_000,
            peer_timeout: Duration::from_millis(1_000),
            recheck: Duration::from_millis(500),
            batch: 256,
            client_body: 64 * 1024,
            peer_body: 64 * 1024 * 1024,
            concurrency: 1_024,
            max_keys: 1_000_000,
            events: 4_096,
        }
    }
}

/// Everything one node is started with.
#[derive(Clone, Debug)]
pub struct NodeConfig {
    /// This node's id (1 to the number of nodes).
    pub id: NodeId,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Every other node of the cluster: its id and base address (`http://127.0.0.1:5001`).
    pub peers: BTreeMap<u32, String>,
    /// The cluster's settings (every node must be given the same).
    pub settings: Settings,
    /// Where the node keeps its store and hints; in memory only if None (the tutorial's node).
    pub data_dir: Option<PathBuf>,
    /// Bounds on inputs.
    pub limits: Limits,
}

impl NodeConfig {
    /// A node of a cluster whose other members are `peers`, with `settings` (their `nodes`
    /// becomes the cluster's size). Checks that the ids are 1 to the cluster's size, each
    /// once, and the settings as the simulator does.
    pub fn new(
        id: u32,
        listen: SocketAddr,
        peers: BTreeMap<u32, String>,
        mut settings: Settings,
    ) -> Result<NodeConfig, String> {
        let nodes = peers.len() as u32 + 1;
        if peers.contains_key(&id) {
            return Err(format!("node {id} is named as its own peer"));
        }
        let mut ids: Vec<u32> = peers.keys().copied().chain([id]).collect();
        ids.sort();
        if ids != (1..=nodes).collect::<Vec<_>>() {
            return Err(format!(
                "a cluster of {nodes} nodes numbers them 1 to {nodes}: this node and its peers are {}",
                ids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for (peer, url) in &peers {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!(
                    "peer {peer}'s address \"{url}\" should start with http:// (http://host:port)"
                ));
            }
        }
        settings = settings
            .patched(&SettingsPatch {
                nodes: Some(nodes),
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        let peers = peers
            .into_iter()
            .map(|(id, url)| (id, url.trim_end_matches('/').to_string()))
            .collect();
        Ok(NodeConfig {
            id: NodeId(id),
            listen,
            peers,
            settings,
            data_dir: None,
            limits: Limits::default(),
        })
    }

    /// The cluster's name on the wire: a hash of its settings. A node refuses messages from a
    /// node started with other settings (another ring, other rules), as Cassandra refuses a
    /// node with another cluster name.
    pub fn cluster(&self) -> String {
        cluster_name(&self.settings)
    }
}

/// The cluster name of nodes started with `settings`.
pub fn cluster_name(settings: &Settings) -> String {
    let text = serde_json::to_string(settings).expect("settings always serialize");
    format!("{:016x}", key_hash(&text))
}

/// Settings from a JSON file's text (the simulator's names, e.g. `{"conflict": "vv"}`; any
/// setting left out keeps its default) and then `name=value` overrides (`conflict=lww`,
/// `antiEntropy=true`, `writeQuorum=all`), checked as the simulator checks them.
pub fn settings_from(file: Option<&str>, overrides: &[String]) -> Result<Settings, String> {
    let mut patch = match file {
        Some(text) => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text)
            .map_err(|e| format!("the settings file is not a JSON object of settings: {e}"))?,
        None => serde_json::Map::new(),
    };
    for item in overrides {
        let Some((name, value)) = item.split_once('=') else {
            return Err(format!(
                "\"{item}\" is not name=value (e.g. --set conflict=vv)"
            ));
        };
        // A number, true/false or a JSON value as such; anything else as a word.
        let value = serde_json::from_str(value.trim())
            .unwrap_or_else(|_| serde_json::Value::String(value.trim().to_string()));
        // Each alone first, so that a refusal names the setting.
        let mut one = serde_json::Map::new();
        one.insert(name.trim().to_string(), value.clone());
        serde_json::from_value::<SettingsPatch>(serde_json::Value::Object(one))
            .map_err(|e| format!("--set {item}: {e}"))?;
        patch.insert(name.trim().to_string(), value);
    }
    if patch.contains_key("nodes") {
        return Err(
            "the number of nodes is not a setting here: it is --nodes (cluster), or this node and its peers (node)"
                .into(),
        );
    }
    let patch: SettingsPatch = serde_json::from_value(serde_json::Value::Object(patch))
        .map_err(|e| format!("settings: {e}"))?;
    Settings::default()
        .patched(&patch)
        .map_err(|e| e.to_string())
}

/// The tutorial's cluster: `nodes` nodes on 127.0.0.1 from `base_port` up, node 1 on the
/// first port.
pub fn local_cluster(
    nodes: u32,
    base_port: u16,
    settings: &Settings,
) -> Result<Vec<NodeConfig>, String> {
    if nodes == 0 || nodes > 64 {
        return Err(format!("{nodes} nodes: a local cluster has 1 to 64"));
    }
    if u32::from(base_port) + nodes > 65_536 {
        return Err(format!("ports {base_port} and up cannot fit {nodes} nodes"));
    }
    let address = |i: u32| SocketAddr::from(([127, 0, 0, 1], base_port + (i - 1) as u16));
    (1..=nodes)
        .map(|id| {
            let peers = (1..=nodes)
                .filter(|p| *p != id)
                .map(|p| (p, format!("http://{}", address(p))))
                .collect();
            NodeConfig::new(id, address(id), peers, settings.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_one_to_the_cluster_size() {
        let addr: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let peers = |ids: &[u32]| {
            ids.iter()
                .map(|i| (*i, format!("http://127.0.0.1:{}", 5000 + i)))
                .collect::<BTreeMap<_, _>>()
        };
        assert!(NodeConfig::new(1, addr, peers(&[2, 3]), Settings::default()).is_ok());
        let err = NodeConfig::new(1, addr, peers(&[2, 4]), Settings::default()).unwrap_err();
        assert!(err.contains("numbers them 1 to 3"), "{err}");
        let err = NodeConfig::new(2, addr, peers(&[2, 3]), Settings::default()).unwrap_err();
        assert!(err.contains("its own peer"), "{err}");
        let err = settings_from(Some(r#"{"nodes": 5}"#), &[]).unwrap_err();
        assert!(err.contains("--nodes"), "{err}");
    }

    #[test]
    fn overrides_take_the_simulators_names_and_checks() {
        let s = settings_from(
            Some(r#"{"conflict": "vv"}"#),
            &["antiEntropy=true".into(), "writeQuorum=all".into()],
        )
        .unwrap();
        assert_eq!(
            s.conflict,
            converge_replica::version::ConflictMode::VersionVectors
        );
        assert!(s.anti_entropy);
        let err = settings_from(None, &["conflict=sometimes".into()]).unwrap_err();
        assert!(
            err.contains("conflict") || err.contains("sometimes"),
            "{err}"
        );
        let err = settings_from(None, &["nope".into()]).unwrap_err();
        assert!(err.contains("name=value"), "{err}");
        let err = settings_from(None, &["loss=2".into()]).unwrap_err();
        assert!(err.contains("loss"), "{err}");
    }

    #[test]
    fn the_cluster_name_follows_the_settings() {
        let a = Settings::default();
        let mut b = Settings::default();
        b.seed += 1;
        assert_eq!(cluster_name(&a), cluster_name(&a.clone()));
        assert_ne!(cluster_name(&a), cluster_name(&b));
    }
}
