//! One node of converge's replicated key-value store, as a sans-IO state machine
//! ([`replica::Replica`]), with everything it is made of: the names of nodes, keys and writes
//! ([`ids`]), clocks and causal contexts ([`clock`]), the hash ring ([`ring`]), versions and the
//! rules that choose between them ([`version`], [`crdt`]), and its own random stream ([`rng`]).
//!
//! It lives in a crate of its own so that the compiler holds it apart: nothing here can reach
//! the simulation, its network model or its observer, which are built on top of it (the
//! `converge` crate); a real node over HTTP runs the same code.

pub mod clock;
pub mod crdt;
pub mod hash;
pub mod ids;
pub mod replica;
pub mod ring;
pub mod rng;
pub mod version;
