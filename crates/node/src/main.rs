//! `converge-node`: the tutorial's cluster for real (`cluster`), or one node of a cluster
//! spread over machines (`node`). See docs/nodes.md.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use converge_node::config::{self, NodeConfig};

#[derive(Parser)]
#[command(
    name = "converge-node",
    version,
    about = "converge's replica as real nodes over HTTP: the tutorial's cluster on ports 5000-5002"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The tutorial's cluster: --nodes nodes on 127.0.0.1 from --base-port up, in this process.
    Cluster {
        /// How many nodes.
        #[arg(long, default_value_t = 3)]
        nodes: u32,
        /// Node 1's port; node 2 listens on the next, and so on.
        #[arg(long, default_value_t = 5000)]
        base_port: u16,
        #[command(flatten)]
        common: Common,
    },
    /// One node of a cluster: --id, where it listens, and every other node as --peer.
    Node {
        /// This node's id: the nodes of a cluster are numbered 1 to its size.
        #[arg(long)]
        id: u32,
        /// Where to listen, e.g. 0.0.0.0:5001.
        #[arg(long)]
        listen: SocketAddr,
        /// Another node: ID=http://host:port (give one for each).
        #[arg(long = "peer", value_parser = parse_peer)]
        peers: Vec<(u32, String)>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args)]
struct Common {
    /// A JSON file of settings with the simulator's names, e.g. {"conflict": "vv"}.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// One setting, name=value (e.g. --set conflict=lww --set antiEntropy=true); after the file.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Keep the store and hints here (the cluster command uses DIR/node-1, DIR/node-2, ...);
    /// without it a node keeps everything in memory, like the tutorial's.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Messages waiting for one peer, at most; the oldest is dropped past it.
    #[arg(long, default_value_t = 10_000)]
    queue: usize,
    /// How long a request to a peer may take before the peer is believed down (ms).
    #[arg(long, default_value_t = 1_000)]
    peer_timeout_ms: u64,
}

fn parse_peer(text: &str) -> Result<(u32, String), String> {
    let (id, url) = text
        .split_once('=')
        .ok_or_else(|| format!("\"{text}\": give ID=http://host:port"))?;
    let id = id
        .trim()
        .parse::<u32>()
        .map_err(|_| format!("\"{id}\" is not a node id"))?;
    Ok((id, url.trim().to_string()))
}

impl Common {
    fn settings(&self) -> Result<converge::Settings, String> {
        let file = match &self.settings {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            ),
            None => None,
        };
        config::settings_from(file.as_deref(), &self.set)
    }

    fn apply(&self, config: &mut NodeConfig, dir: Option<PathBuf>) {
        config.data_dir = dir;
        config.limits.queue = self.queue.max(1);
        config.limits.peer_timeout = Duration::from_millis(self.peer_timeout_ms.max(1));
    }
}

fn configs(command: &Command) -> Result<Vec<NodeConfig>, String> {
    match command {
        Command::Cluster {
            nodes,
            base_port,
            common,
        } => {
            let mut configs = config::local_cluster(*nodes, *base_port, &common.settings()?)?;
            for c in &mut configs {
                let dir = common
                    .data_dir
                    .as_ref()
                    .map(|d| d.join(format!("node-{}", c.id.0)));
                common.apply(c, dir);
            }
            Ok(configs)
        }
        Command::Node {
            id,
            listen,
            peers,
            common,
        } => {
            let mut named = BTreeMap::new();
            for (peer, url) in peers {
                if named.insert(*peer, url.clone()).is_some() {
                    return Err(format!("peer {peer} is named twice"));
                }
            }
            let mut config = NodeConfig::new(*id, *listen, named, common.settings()?)?;
            common.apply(&mut config, common.data_dir.clone());
            Ok(vec![config])
        }
    }
}

async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let term = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let configs = match configs(&cli.command) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("converge-node: {e}");
            return ExitCode::from(2);
        }
    };
    let summary = {
        let s = &configs[0].settings;
        format!(
            "conflict {}, N = {}, W = {}, R = {}, coordination {}, anti-entropy {}",
            serde_json::to_value(s.conflict)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?"),
            s.replicas(),
            s.w(),
            s.r(),
            serde_json::to_value(s.coordination)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("?"),
            if s.anti_entropy { "on" } else { "off" },
        )
    };
    let mut running = Vec::new();
    for config in configs {
        let storage = config
            .data_dir
            .as_ref()
            .map_or("in memory".to_string(), |d| format!("in {}", d.display()));
        match converge_node::bind(config).await {
            Ok(node) => {
                println!(
                    "node {} listening on http://{} (store {storage})",
                    node.id.0, node.addr
                );
                running.push(node);
            }
            Err(e) => {
                eprintln!("converge-node: {e}");
                for node in running {
                    node.stop().await;
                }
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{summary}");
    println!(
        "Ctrl+C stops {}.",
        if running.len() > 1 { "them" } else { "it" }
    );
    stop_signal().await;
    println!("stopping");
    for node in running {
        node.stop().await;
    }
    ExitCode::SUCCESS
}
