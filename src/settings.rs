//! Every setting of the simulation, with the names the README documents, and how a partial
//! change is checked and applied.

use std::collections::BTreeMap;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::Error;
use crate::ids::NodeId;
use crate::ids::Time;
use crate::network::{Latency, LinkModel, validate_probability};
pub use crate::replica::protocol::{
    AntiEntropyKind, Coordination, Dissemination, HintedHandoff, ReadRepair,
};
use crate::replica::{Placement, Protocol};
use crate::ring::Ring;
use crate::rng::Rng;
use crate::version::ConflictMode;

/// The most nodes the core simulates.
pub const MAX_NODES: u32 = 1024;
/// The shortest anti-entropy period, in milliseconds.
pub const MIN_ANTI_ENTROPY_MS: u32 = 10;
/// The longest anti-entropy period, in milliseconds (one hour).
pub const MAX_ANTI_ENTROPY_MS: u32 = 3_600_000;
/// The largest clock skew in either direction, in milliseconds (one day).
pub const MAX_SKEW_MS: i64 = 86_400_000;
/// The largest seed: 2^53 - 1, so that a seed survives a trip through a JavaScript number.
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// The random stream of replica `i` is this plus `i` (the network's are below it).
const STREAM_REPLICA: u64 = 1000;
/// The random stream that places tokens on the ring.
const STREAM_RING: u64 = 10;

/// The most virtual nodes (tokens) per node on the ring.
pub const MAX_VNODES: u32 = 64;
/// The longest request timeout, tombstone grace, hint or gossip interval, in milliseconds.
pub const MAX_PERIOD_MS: u32 = 3_600_000;

/// On how many nodes each key lives (Dynamo's N, Cassandra's replication factor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplicationFactor {
    /// Every node holds every key: the tutorial's cluster.
    All,
    /// The first N distinct nodes on the ring from the key's hash.
    N(u32),
}

/// How many replicas must answer (Cassandra's consistency levels ONE, QUORUM, ALL, or a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// One replica.
    One,
    /// A majority: N / 2 + 1.
    Quorum,
    /// Every replica.
    All,
    /// This many replicas.
    Count(u32),
}

impl Consistency {
    /// How many replicas that is, out of `n`.
    pub fn of(self, n: u32) -> u32 {
        match self {
            Consistency::One => 1,
            Consistency::Quorum => n / 2 + 1,
            Consistency::All => n,
            Consistency::Count(c) => c,
        }
    }
}

/// A setting given as a word or a number ("all", 3).
enum WordOrNumber {
    Word(String),
    Number(u32),
}

impl<'de> Deserialize<'de> for WordOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Expect;
        impl Visitor<'_> for Expect {
            type Value = WordOrNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a word such as \"all\" or a whole number")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WordOrNumber, E> {
                Ok(WordOrNumber::Word(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WordOrNumber, E> {
                u32::try_from(v)
                    .map(WordOrNumber::Number)
                    .map_err(|_| E::custom(format!("{v} is too large")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WordOrNumber, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("{v} is not a positive number")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WordOrNumber, E> {
                if v.fract() == 0.0 && v >= 0.0 && v <= f64::from(u32::MAX) {
                    Ok(WordOrNumber::Number(v as u32))
                } else {
                    Err(E::custom(format!("{v} is not a whole number")))
                }
            }
        }
        deserializer.deserialize_any(Expect)
    }
}

impl<'de> Deserialize<'de> for ReplicationFactor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match WordOrNumber::deserialize(deserializer)? {
            WordOrNumber::Word(w) if w == "all" => Ok(ReplicationFactor::All),
            WordOrNumber::Number(n) => Ok(ReplicationFactor::N(n)),
            WordOrNumber::Word(w) => Err(de::Error::custom(format!(
                "\"{w}\" is not a replication factor: give \"all\" or a number of nodes"
            ))),
        }
    }
}

impl Serialize for ReplicationFactor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ReplicationFactor::All => serializer.serialize_str("all"),
            ReplicationFactor::N(n) => serializer.serialize_u32(*n),
        }
    }
}

impl<'de> Deserialize<'de> for Consistency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match WordOrNumber::deserialize(deserializer)? {
            WordOrNumber::Word(w) => match w.to_ascii_lowercase().as_str() {
                "one" => Ok(Consistency::One),
                "quorum" => Ok(Consistency::Quorum),
                "all" => Ok(Consistency::All),
                _ => Err(de::Error::custom(format!(
                    "\"{w}\" is not a consistency level: give \"one\", \"quorum\", \"all\" or a number"
                ))),
            },
            WordOrNumber::Number(n) => Ok(Consistency::Count(n)),
        }
    }
}

impl Serialize for Consistency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Consistency::One => serializer.serialize_str("one"),
            Consistency::Quorum => serializer.serialize_str("quorum"),
            Consistency::All => serializer.serialize_str("all"),
            Consistency::Count(n) => serializer.serialize_u32(*n),
        }
    }
}

/// The whole configuration of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    /// How many nodes (ids 1 to `nodes`).
    pub nodes: u32,
    /// The seed of every random choice.
    pub seed: u64,
    /// The latency model of every link.
    pub latency: Latency,
    /// The probability that a message is lost.
    pub loss: f64,
    /// The probability that a message is delivered twice.
    pub duplication: f64,
    /// How replicas resolve conflicting versions.
    pub conflict: ConflictMode,
    /// On how many nodes each key lives.
    pub replication_factor: ReplicationFactor,
    /// Tokens per node on the ring.
    pub vnodes: u32,
    /// How client requests are served.
    pub coordination: Coordination,
    /// How many replicas must acknowledge a coordinated write (W).
    pub write_quorum: Consistency,
    /// How many replicas must reply to a coordinated read (R).
    pub read_quorum: Consistency,
    /// How long a coordinator waits before answering "timed out".
    pub request_timeout_ms: u32,
    /// What a coordinated read does with stale replicas.
    pub read_repair: ReadRepair,
    /// What a coordinated write does when a replica is unreachable.
    pub hinted_handoff: HintedHandoff,
    /// How often a node holding hints tries to hand them over.
    pub hint_interval_ms: u32,
    /// How a write spreads without a coordinator.
    pub dissemination: Dissemination,
    /// Gossip: how many random replicas a node tells each round.
    pub gossip_fanout: u32,
    /// Gossip: after each round a node stops spreading a rumor with probability 1 / this.
    pub gossip_interest: u32,
    /// Gossip: the time between rounds.
    pub gossip_interval_ms: u32,
    /// Whether replicas reconcile in the background.
    pub anti_entropy: bool,
    /// How they reconcile.
    pub anti_entropy_kind: AntiEntropyKind,
    /// How often each node starts an anti-entropy round, in milliseconds.
    pub anti_entropy_interval_ms: u32,
    /// How long a tombstone is kept before it is collected (Cassandra's gc_grace_seconds).
    pub tombstone_grace_ms: u32,
    /// Each node's clock offset in milliseconds, by position (node 1 first).
    #[serde(serialize_with = "skew_by_node_id")]
    pub clock_skew_ms: Vec<i64>,
}

impl Default for Settings {
    /// The tutorial: three nodes holding every key, arrival order, fire-and-forget replication,
    /// no background reconciliation.
    fn default() -> Self {
        Settings {
            nodes: 3,
            seed: 1,
            latency: Latency::default(),
            loss: 0.0,
            duplication: 0.0,
            conflict: ConflictMode::ArrivalOrder,
            replication_factor: ReplicationFactor::All,
            vnodes: 8,
            coordination: Coordination::None,
            write_quorum: Consistency::Quorum,
            read_quorum: Consistency::Quorum,
            request_timeout_ms: 1_000,
            read_repair: ReadRepair::Off,
            hinted_handoff: HintedHandoff::Off,
            hint_interval_ms: 500,
            dissemination: Dissemination::Broadcast,
            gossip_fanout: 2,
            gossip_interest: 4,
            gossip_interval_ms: 100,
            anti_entropy: false,
            anti_entropy_kind: AntiEntropyKind::Full,
            anti_entropy_interval_ms: 2_000,
            tombstone_grace_ms: 10_000,
            clock_skew_ms: vec![0; 3],
        }
    }
}

/// Writes the skews as an object keyed by node id (`{"1": 0, "2": -500}`), as people name nodes.
fn skew_by_node_id<S: Serializer>(skews: &[i64], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_map(
        skews
            .iter()
            .enumerate()
            .map(|(i, ms)| ((i + 1).to_string(), *ms)),
    )
}

/// Declares [`SettingsPatch`] with one optional field per setting, and the code that applies it.
macro_rules! patch {
    ($($field:ident: $type:ty),* $(,)?) => {
        /// A partial change to [`Settings`]: every field is optional; unknown fields are refused.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase", deny_unknown_fields)]
        pub struct SettingsPatch {
            $(
                #[doc = concat!("See [`Settings::", stringify!($field), "`].")]
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: Option<$type>,
            )*
            /// Skews to change, keyed by node id; nodes not named keep theirs.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub clock_skew_ms: Option<BTreeMap<String, i64>>,
        }

        impl SettingsPatch {
            fn apply_to(&self, settings: &mut Settings) {
                $(
                    if let Some(value) = &self.$field {
                        settings.$field = value.clone();
                    }
                )*
            }
        }
    };
}

patch! {
    nodes: u32,
    seed: u64,
    latency: Latency,
    loss: f64,
    duplication: f64,
    conflict: ConflictMode,
    replication_factor: ReplicationFactor,
    vnodes: u32,
    coordination: Coordination,
    write_quorum: Consistency,
    read_quorum: Consistency,
    request_timeout_ms: u32,
    read_repair: ReadRepair,
    hinted_handoff: HintedHandoff,
    hint_interval_ms: u32,
    dissemination: Dissemination,
    gossip_fanout: u32,
    gossip_interest: u32,
    gossip_interval_ms: u32,
    anti_entropy: bool,
    anti_entropy_kind: AntiEntropyKind,
    anti_entropy_interval_ms: u32,
    tombstone_grace_ms: u32,
}

impl SettingsPatch {
    /// Whether the patch changes something only a new run can change: the node count, the
    /// seed, or where keys live (replication factor, tokens per node).
    pub fn needs_restart(&self, current: &Settings) -> bool {
        self.nodes.is_some_and(|n| n != current.nodes)
            || self.seed.is_some_and(|s| s != current.seed)
            || self.vnodes.is_some_and(|v| v != current.vnodes)
            || self
                .replication_factor
                .is_some_and(|r| r != current.replication_factor)
    }
}

impl Settings {
    /// Every setting, as a patch that turns the defaults into these settings.
    pub fn as_patch(&self) -> SettingsPatch {
        let value = serde_json::to_value(self).expect("settings always serialize");
        serde_json::from_value(value).expect("every setting is a field of the patch")
    }

    /// The link model every link follows.
    pub fn link_model(&self) -> LinkModel {
        LinkModel {
            latency: self.latency,
            loss: self.loss,
            duplication: self.duplication,
        }
    }

    /// N: on how many nodes each key lives.
    pub fn replicas(&self) -> u32 {
        match self.replication_factor {
            ReplicationFactor::All => self.nodes,
            ReplicationFactor::N(n) => n,
        }
    }

    /// The rules every replica of a run with these settings follows.
    pub fn protocol(&self) -> Protocol {
        let ms = |x: u32| Time::from(x);
        Protocol {
            nodes: self.nodes,
            replicas: self.replicas(),
            conflict: self.conflict,
            coordination: self.coordination,
            write_quorum: self.w(),
            read_quorum: self.r(),
            request_timeout: ms(self.request_timeout_ms),
            read_repair: self.read_repair,
            hinted_handoff: self.hinted_handoff,
            hint_interval: ms(self.hint_interval_ms),
            dissemination: self.dissemination,
            gossip_fanout: self.gossip_fanout,
            gossip_interest: self.gossip_interest,
            gossip_interval: ms(self.gossip_interval_ms),
            anti_entropy: self
                .anti_entropy
                .then_some((self.anti_entropy_kind, ms(self.anti_entropy_interval_ms))),
            tombstone_grace: ms(self.tombstone_grace_ms),
        }
    }

    /// Where keys live under these settings: the ring the seed draws (the same on every node
    /// and in every process: a real node given these settings places keys as the simulation
    /// does), and N.
    pub fn placement(&self) -> Placement {
        let ring = Ring::new(
            self.nodes,
            self.vnodes,
            &mut Rng::new(self.seed, STREAM_RING),
        );
        Placement::new(ring, self.replicas() as usize)
    }

    /// The random stream of `node`'s replica (for picking peers) under these settings.
    pub fn replica_rng(&self, node: NodeId) -> Rng {
        Rng::new(self.seed, STREAM_REPLICA + node.index() as u64)
    }

    /// W as a number of replicas.
    pub fn w(&self) -> u32 {
        self.write_quorum.of(self.replicas())
    }

    /// R as a number of replicas.
    pub fn r(&self) -> u32 {
        self.read_quorum.of(self.replicas())
    }

    /// These settings with `patch` applied, checked as a whole. `self` is not changed, so a
    /// refused patch leaves everything as it was.
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, Error> {
        let mut next = self.clone();
        patch.apply_to(&mut next);
        next.clock_skew_ms
            .resize(next.nodes.clamp(1, MAX_NODES) as usize, 0);
        next.validate()?;
        for (node, ms) in patch.clock_skew_ms.iter().flatten() {
            let id = node
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|id| (1..=next.nodes).contains(id));
            let Some(id) = id else {
                return Err(Error::setting(
                    "clockSkewMs",
                    format!(
                        "\"{node}\" is not a node id: nodes are numbered 1 to {}",
                        next.nodes
                    ),
                ));
            };
            next.clock_skew_ms[id as usize - 1] = *ms;
        }
        next.validate()?;
        Ok(next)
    }

    /// Checks every setting against its range, and that they fit together.
    pub fn validate(&self) -> Result<(), Error> {
        if !(1..=MAX_NODES).contains(&self.nodes) {
            return Err(Error::setting(
                "nodes",
                format!(
                    "{} nodes is out of range: give 1 to {MAX_NODES}",
                    self.nodes
                ),
            ));
        }
        if self.seed > MAX_SEED {
            return Err(Error::setting(
                "seed",
                format!(
                    "{} is too large: give a whole number from 0 to {MAX_SEED}",
                    self.seed
                ),
            ));
        }
        self.latency.validate("latency")?;
        validate_probability("loss", self.loss)?;
        validate_probability("duplication", self.duplication)?;
        if let ReplicationFactor::N(n) = self.replication_factor
            && !(1..=self.nodes).contains(&n)
        {
            return Err(Error::setting(
                "replicationFactor",
                format!(
                    "N = {n} does not fit a cluster of {} nodes: give 1 to {} (or \"all\")",
                    self.nodes, self.nodes
                ),
            ));
        }
        let n = self.replicas();
        for (name, level) in [
            ("writeQuorum", self.write_quorum),
            ("readQuorum", self.read_quorum),
        ] {
            let count = level.of(n);
            if count == 0 || count > n {
                let letter = if name == "writeQuorum" { "W" } else { "R" };
                return Err(Error::setting(
                    name,
                    format!("{letter} = {count} does not fit N = {n}: give 1 to {n}"),
                ));
            }
        }
        range("vnodes", self.vnodes, 1, MAX_VNODES)?;
        range("gossipFanout", self.gossip_fanout, 1, MAX_NODES)?;
        range("gossipInterest", self.gossip_interest, 1, 1_000)?;
        for (name, ms) in [
            ("requestTimeoutMs", self.request_timeout_ms),
            ("hintIntervalMs", self.hint_interval_ms),
            ("gossipIntervalMs", self.gossip_interval_ms),
            ("tombstoneGraceMs", self.tombstone_grace_ms),
        ] {
            range(name, ms, 1, MAX_PERIOD_MS)?;
        }
        range(
            "antiEntropyIntervalMs",
            self.anti_entropy_interval_ms,
            MIN_ANTI_ENTROPY_MS,
            MAX_ANTI_ENTROPY_MS,
        )?;
        if self.clock_skew_ms.len() != self.nodes as usize {
            return Err(Error::setting(
                "clockSkewMs",
                format!(
                    "{} skews given for {} nodes",
                    self.clock_skew_ms.len(),
                    self.nodes
                ),
            ));
        }
        if let Some(ms) = self
            .clock_skew_ms
            .iter()
            .find(|ms| ms.unsigned_abs() > MAX_SKEW_MS.unsigned_abs())
        {
            return Err(Error::setting(
                "clockSkewMs",
                format!(
                    "{ms} ms is out of range: skews may be at most {MAX_SKEW_MS} ms either way"
                ),
            ));
        }
        Ok(())
    }

    /// A period setting as virtual time.
    pub fn ms(value: u32) -> Time {
        Time::from(value)
    }
}

/// Checks that `value` lies in `lo..=hi`.
fn range(name: &'static str, value: u32, lo: u32, hi: u32) -> Result<(), Error> {
    if (lo..=hi).contains(&value) {
        Ok(())
    } else {
        Err(Error::setting(
            name,
            format!("{value} is out of range: give {lo} to {hi}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_settings_build_the_tutorial_protocol() {
        assert_eq!(Settings::default().protocol(), Protocol::tutorial(3));
    }

    #[test]
    fn default_is_the_tutorial_and_valid() {
        let s = Settings::default();
        assert_eq!(s.nodes, 3);
        assert_eq!(s.conflict, ConflictMode::ArrivalOrder);
        assert!(!s.anti_entropy);
        s.validate().unwrap();
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let s = Settings::default();
        let p = SettingsPatch {
            loss: Some(0.25),
            ..SettingsPatch::default()
        };
        let next = s.patched(&p).unwrap();
        assert_eq!(next.loss, 0.25);
        assert_eq!(next.nodes, s.nodes);
        assert_eq!(next.latency, s.latency);
    }

    #[test]
    fn growing_the_cluster_gives_new_nodes_no_skew_and_skews_are_by_id() {
        let s = Settings::default();
        let p = SettingsPatch {
            nodes: Some(5),
            clock_skew_ms: Some([("5".to_string(), -300)].into()),
            ..SettingsPatch::default()
        };
        let next = s.patched(&p).unwrap();
        assert_eq!(next.clock_skew_ms, vec![0, 0, 0, 0, -300]);
        assert!(p.needs_restart(&s));
    }

    #[test]
    fn bad_values_are_refused_and_say_why() {
        let s = Settings::default();
        let cases: Vec<(SettingsPatch, &str)> = vec![
            (
                SettingsPatch {
                    nodes: Some(0),
                    ..Default::default()
                },
                "nodes",
            ),
            (
                SettingsPatch {
                    nodes: Some(MAX_NODES + 1),
                    ..Default::default()
                },
                "nodes",
            ),
            (
                SettingsPatch {
                    loss: Some(-0.1),
                    ..Default::default()
                },
                "loss",
            ),
            (
                SettingsPatch {
                    duplication: Some(2.0),
                    ..Default::default()
                },
                "duplication",
            ),
            (
                SettingsPatch {
                    seed: Some(MAX_SEED + 1),
                    ..Default::default()
                },
                "seed",
            ),
            (
                SettingsPatch {
                    anti_entropy_interval_ms: Some(0),
                    ..Default::default()
                },
                "antiEntropyIntervalMs",
            ),
            (
                SettingsPatch {
                    replication_factor: Some(ReplicationFactor::N(4)),
                    ..Default::default()
                },
                "replicationFactor",
            ),
            (
                SettingsPatch {
                    replication_factor: Some(ReplicationFactor::N(2)),
                    write_quorum: Some(Consistency::Count(3)),
                    ..Default::default()
                },
                "W = 3 does not fit N = 2",
            ),
            (
                SettingsPatch {
                    read_quorum: Some(Consistency::Count(0)),
                    ..Default::default()
                },
                "readQuorum",
            ),
            (
                SettingsPatch {
                    clock_skew_ms: Some([("9".to_string(), 5)].into()),
                    ..Default::default()
                },
                "clockSkewMs",
            ),
            (
                SettingsPatch {
                    clock_skew_ms: Some([("1".to_string(), MAX_SKEW_MS + 1)].into()),
                    ..Default::default()
                },
                "clockSkewMs",
            ),
            // Its absolute value does not fit an i64: it once wrapped round to pass.
            (
                SettingsPatch {
                    clock_skew_ms: Some([("1".to_string(), i64::MIN)].into()),
                    ..Default::default()
                },
                "clockSkewMs",
            ),
        ];
        for (patch, name) in cases {
            let err = s.patched(&patch).unwrap_err().to_string();
            assert!(err.contains(name), "{err} should name {name}");
        }
    }
}
