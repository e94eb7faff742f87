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
//! assert_eq!(sim.read(NodeId(3), "name").unwrap().value(), Some("Alice"));
//! ```

pub mod chunked;
// The replica and what it is made of, from their own crate (crates/replica), under the
// same paths as before.
pub use converge_replica::{clock, crdt, hash, ids, replica, ring, rng, version};
pub mod compare;
pub mod encode;
pub mod error;
pub mod lesson;
pub mod metrics;
pub mod network;
pub mod queue;
pub mod settings;
pub mod sim;
pub mod timeline;
pub mod trace;
pub mod writes;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

/// The README's Rust examples, run as doctests so that they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The Rust examples of `docs/rust.md`, run as doctests for the same reason.
#[cfg(doctest)]
#[doc = include_str!("../docs/rust.md")]
pub struct DocsRustDoctests;

pub use clock::{CausalContext, Dot, Stamp, VersionVector};
pub use error::Error;
pub use ids::{Key, KeyId, NodeId, RequestId, WriteId};
pub use ids::{MAX_KEY_CHARS, MAX_VALUE_CHARS, Time};
pub use lesson::Lesson;
pub use network::{Latency, LinkModel, LinkOverride};
pub use replica::KeyTable;
pub use replica::MessageKind;
pub use settings::{Settings, SettingsPatch};
pub use sim::{
    CONVERGENCE_BUCKETS_MS, ClientOptions, Context, ConvergenceTimes, DropView, FIRST_INTERVAL,
    FlightView, KeyStatus, MAX_SAMPLES, Metrics, NodeView, ReadOutcome, ReplicaCell, RequestView,
    Sample, Simulation, Stats, VersionView, WriteOutcome,
};
pub use timeline::{Command, Done, Logged, Session, Timeline};
pub use trace::{DropReason, RequestStatus, TraceEvent};
pub use version::{ConflictMode, Version};
pub use writes::{WriteStatus, WriteView};
