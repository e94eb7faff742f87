//! Every setting of the simulation, with the names the README documents, and how a partial
//! change is checked and applied.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;
use crate::network::{Latency, LinkModel, validate_probability};
use crate::replica::ConflictMode;

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
    /// Whether replicas reconcile in the background.
    pub anti_entropy: bool,
    /// How often each node starts an anti-entropy round, in milliseconds.
    pub anti_entropy_interval_ms: u32,
    /// Each node's clock offset in milliseconds, by position (node 1 first).
    #[serde(serialize_with = "skew_by_node_id")]
    pub clock_skew_ms: Vec<i64>,
}

impl Default for Settings {
    /// The tutorial: three nodes, arrival order, no background reconciliation.
    fn default() -> Self {
        Settings {
            nodes: 3,
            seed: 1,
            latency: Latency::default(),
            loss: 0.0,
            duplication: 0.0,
            conflict: ConflictMode::ArrivalOrder,
            anti_entropy: false,
            anti_entropy_interval_ms: 2_000,
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

/// A partial change to [`Settings`]: every field is optional; unknown fields are refused.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsPatch {
    /// See [`Settings::nodes`].
    pub nodes: Option<u32>,
    /// See [`Settings::seed`].
    pub seed: Option<u64>,
    /// See [`Settings::latency`].
    pub latency: Option<Latency>,
    /// See [`Settings::loss`].
    pub loss: Option<f64>,
    /// See [`Settings::duplication`].
    pub duplication: Option<f64>,
    /// See [`Settings::conflict`].
    pub conflict: Option<ConflictMode>,
    /// See [`Settings::anti_entropy`].
    pub anti_entropy: Option<bool>,
    /// See [`Settings::anti_entropy_interval_ms`].
    pub anti_entropy_interval_ms: Option<u32>,
    /// Skews to change, keyed by node id; nodes not named keep theirs.
    pub clock_skew_ms: Option<BTreeMap<String, i64>>,
}

impl SettingsPatch {
    /// Whether the patch changes something only a new run can change (node count or seed).
    pub fn needs_restart(&self, current: &Settings) -> bool {
        self.nodes.is_some_and(|n| n != current.nodes)
            || self.seed.is_some_and(|s| s != current.seed)
    }
}

impl Settings {
    /// The link model every link follows.
    pub fn link_model(&self) -> LinkModel {
        LinkModel {
            latency: self.latency,
            loss: self.loss,
            duplication: self.duplication,
        }
    }

    /// These settings with `patch` applied, checked as a whole. `self` is not changed, so a
    /// refused patch leaves everything as it was.
    pub fn patched(&self, patch: &SettingsPatch) -> Result<Settings, Error> {
        let mut next = self.clone();
        if let Some(nodes) = patch.nodes {
            next.nodes = nodes;
            next.clock_skew_ms.resize(nodes.min(MAX_NODES) as usize, 0);
        }
        next.seed = patch.seed.unwrap_or(next.seed);
        next.latency = patch.latency.unwrap_or(next.latency);
        next.loss = patch.loss.unwrap_or(next.loss);
        next.duplication = patch.duplication.unwrap_or(next.duplication);
        next.conflict = patch.conflict.unwrap_or(next.conflict);
        next.anti_entropy = patch.anti_entropy.unwrap_or(next.anti_entropy);
        next.anti_entropy_interval_ms = patch
            .anti_entropy_interval_ms
            .unwrap_or(next.anti_entropy_interval_ms);
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

    /// Checks every setting against its range.
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
        if !(MIN_ANTI_ENTROPY_MS..=MAX_ANTI_ENTROPY_MS).contains(&self.anti_entropy_interval_ms) {
            return Err(Error::setting(
                "antiEntropyIntervalMs",
                format!(
                    "{} ms is out of range: give {MIN_ANTI_ENTROPY_MS} to {MAX_ANTI_ENTROPY_MS}",
                    self.anti_entropy_interval_ms
                ),
            ));
        }
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
        if let Some(ms) = self.clock_skew_ms.iter().find(|ms| ms.abs() > MAX_SKEW_MS) {
            return Err(Error::setting(
                "clockSkewMs",
                format!(
                    "{ms} ms is out of range: skews may be at most {MAX_SKEW_MS} ms either way"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ];
        for (patch, name) in cases {
            let err = s.patched(&patch).unwrap_err().to_string();
            assert!(err.contains(name), "{err} should name {name}");
        }
    }
}
