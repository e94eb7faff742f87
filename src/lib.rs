//! converge: a deterministic simulator of an eventually consistent, replicated key-value store.
//!
//! The core ([`Simulation`]) owns the replicas, the network between them, virtual time and one
//! seeded source of randomness. It knows nothing of the browser: the `wasm` module adapts it to
//! JavaScript, and the page in `www/` draws it.
//!
//! ```
//! use converge::{NodeId, Settings, Simulation};
//!
//! let mut sim = Simulation::new(Settings::default()).unwrap();
//! sim.write(NodeId(1), "name", "Alice").unwrap();
//! assert!(!sim.converged()); // the write is still on its way to nodes 2 and 3
//! sim.run_for(1_000);
//! assert!(sim.converged());
//! assert_eq!(sim.read(NodeId(3), "name").unwrap().value.as_deref(), Some("Alice"));
//! ```

pub mod error;
pub mod network;
pub mod queue;
pub mod replica;
pub mod rng;
pub mod settings;
pub mod sim;
pub mod trace;
pub mod writes;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use error::Error;
pub use network::{Latency, LinkModel, LinkOverride};
pub use replica::{ConflictMode, KeyId, MessageKind, NodeId, Version, WriteId};
pub use settings::{Settings, SettingsPatch};
pub use sim::{
    DropView, FlightView, KeyStatus, KeyTable, NodeView, ReadOutcome, ReplicaCell, Simulation,
    Stats, WriteOutcome,
};
pub use trace::{DropReason, TraceEvent};
pub use writes::WriteView;

/// Virtual time, in whole milliseconds since the run began.
pub type Time = u64;

/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 256;
/// The longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 4096;
