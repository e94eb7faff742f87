//! converge's replica as a real node: the same sans-IO protocol the simulator animates
//! (`converge-replica`), driven by the wall clock, real failures and HTTP.
//!
//! A node is three parts: the HTTP side ([`http`]: the tutorial's routes, mended, and the
//! admin routes), the core ([`core`]: one thread owning the replica, its timers and storage),
//! and the links to its peers ([`peers`]: a bounded queue and a sender per peer, and the
//! failure detector). Nothing of the simulator runs here: the node only borrows its settings
//! (names, defaults, checks) and its event schema.
//!
//! ```no_run
//! # async fn run() -> Result<(), String> {
//! let settings = converge_node::config::settings_from(None, &["conflict=vv".into()])?;
//! let configs = converge_node::config::local_cluster(3, 5000, &settings)?;
//! let mut nodes = Vec::new();
//! for config in configs {
//!     nodes.push(converge_node::bind(config).await?);
//! }
//! for node in nodes {
//!     node.stop().await;
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

pub mod config;
pub mod core;
pub mod events;
pub mod http;
pub mod peers;
pub mod sessions;
pub mod storage;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

use converge_replica::ids::NodeId;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{Limits, NodeConfig};

use crate::core::{Command, Core};
use crate::events::Events;
use crate::peers::{Link, Sender};

/// What the HTTP side, the core and the links share.
#[derive(Debug)]
pub struct Shared {
    /// This node.
    pub id: NodeId,
    /// How many nodes the cluster has.
    pub nodes: u32,
    /// N: how many replicas each key has.
    pub replicas: u32,
    /// The cluster's name ([`NodeConfig::cluster`]).
    pub cluster: Arc<str>,
    /// The links to the peers, by node index (None for this node).
    pub links: Vec<Option<Arc<Link>>>,
    /// Whether the node is crashed (it serves only `/status` and `/admin` then).
    pub crashed: Arc<AtomicBool>,
    /// The event stream.
    pub events: Events,
    /// When the node started.
    pub started: Instant,
}

impl Shared {
    /// The link to `peer`, if it is one.
    pub fn link(&self, peer: NodeId) -> Option<&Arc<Link>> {
        self.links.get(peer.index()).and_then(Option::as_ref)
    }
}

/// A node that is running: stop it with [`RunningNode::stop`].
pub struct RunningNode {
    /// Its id.
    pub id: NodeId,
    /// The address it listens on.
    pub addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    server: JoinHandle<()>,
    inbox: SyncSender<Command>,
    core: std::thread::JoinHandle<()>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts a node listening where its config says.
pub async fn bind(config: NodeConfig) -> Result<RunningNode, String> {
    let listener = TcpListener::bind(config.listen).await.map_err(|e| {
        format!(
            "node {}: cannot listen on {}: {e}",
            config.id.0, config.listen
        )
    })?;
    start(config, listener).await
}

/// Starts a node on `listener` (bound already, e.g. to a free port a test chose).
pub async fn start(config: NodeConfig, listener: TcpListener) -> Result<RunningNode, String> {
    let id = config.id;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("node {}: {e}", id.0))?;
    let limits = config.limits.clone();
    let nodes = config.settings.nodes;
    let events = Events::new(limits.events);
    let crashed = Arc::new(AtomicBool::new(false));
    let links: Vec<Option<Arc<Link>>> = (1..=nodes)
        .map(|n| {
            config
                .peers
                .get(&n)
                .map(|url| Arc::new(Link::new(NodeId(n), url, limits.queue)))
        })
        .collect();
    let shared = Arc::new(Shared {
        id,
        nodes,
        replicas: config.settings.replicas(),
        cluster: config.cluster().into(),
        links,
        crashed: crashed.clone(),
        events: events.clone(),
        started: Instant::now(),
    });
    let disk = match &config.data_dir {
        Some(dir) => Some(storage::Disk::open(dir).map_err(|e| format!("node {}: {e}", id.0))?),
        None => None,
    };

    // The core owns the replica (not Send: it shares versions by Rc), so it is built on its
    // own thread; a failure to load the store comes back before anything listens.
    let (inbox, commands) = std::sync::mpsc::sync_channel(limits.inbox.max(1));
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let core = {
        let shared = shared.clone();
        let settings = config.settings.clone();
        let limits = limits.clone();
        std::thread::Builder::new()
            .name(format!("node-{}-core", id.0))
            .spawn(move || match Core::new(shared, &settings, disk, limits) {
                Ok(core) => {
                    let _ = ready_tx.send(Ok(()));
                    core.run(commands);
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            })
            .map_err(|e| format!("node {}: {e}", id.0))?
    };
    tokio::task::spawn_blocking(move || ready.recv())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| format!("node {}: the core did not start", id.0))?
        .map_err(|e| format!("node {}: {e}", id.0))?;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| format!("node {}: {e}", id.0))?;
    let sender = Sender {
        me: id,
        cluster: shared.cluster.clone(),
        events: events.clone(),
        client,
        timeout: limits.peer_timeout,
        batch: limits.batch.max(1),
        crashed,
    };
    let mut tasks = Vec::new();
    for link in shared.links.iter().flatten() {
        tasks.push(tokio::spawn(sender.clone().run(link.clone())));
        tasks.push(tokio::spawn(
            sender.clone().probe(link.clone(), limits.recheck),
        ));
    }

    let app = http::router(shared, inbox.clone(), &limits);
    let (shutdown, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
        if let Err(e) = served {
            eprintln!("node {}: {e}", id.0);
        }
    });
    Ok(RunningNode {
        id,
        addr,
        shutdown,
        server,
        inbox,
        core,
        tasks,
    })
}

impl RunningNode {
    /// Stops the node cleanly: it stops listening, finishes the requests in progress (an
    /// event stream is cut), writes what is left to disk and ends its tasks.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        // Event streams never end on their own: give requests a moment, then stop waiting.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), self.server).await;
        let (inbox, core) = (self.inbox, self.core);
        let _ = tokio::task::spawn_blocking(move || {
            let _ = inbox.send(Command::Stop);
            core.join()
        })
        .await;
        for task in self.tasks {
            task.abort();
        }
    }
}
