//! The network between replicas: a latency model, loss and duplication for every directed link,
//! and links that can be cut and healed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::ids::NodeId;
use crate::ids::Time;
use crate::rng::Rng;

/// The longest latency any model may be given, in milliseconds (ten minutes).
pub const MAX_LATENCY_MS: u32 = 600_000;

/// How long a message takes on a link, in whole milliseconds of virtual time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", deny_unknown_fields)]
pub enum Latency {
    /// Always the same delay.
    #[serde(rename_all = "camelCase")]
    Constant {
        /// The delay.
        ms: u32,
    },
    /// Uniform between two bounds, both included.
    #[serde(rename_all = "camelCase")]
    Uniform {
        /// The shortest delay.
        min_ms: u32,
        /// The longest delay.
        max_ms: u32,
    },
    /// A fixed base plus an exponentially distributed extra with the given mean: most messages
    /// are quick and a few straggle, as on a real network.
    #[serde(rename_all = "camelCase")]
    Exponential {
        /// The fixed part.
        base_ms: u32,
        /// The mean of the random part.
        mean_ms: u32,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Uniform {
            min_ms: 80,
            max_ms: 240,
        }
    }
}

impl Latency {
    /// Checks the bounds; `name` is the setting's name for the message.
    pub fn validate(&self, name: &'static str) -> Result<(), Error> {
        let too_long = |ms: u32| ms > MAX_LATENCY_MS;
        match *self {
            Latency::Constant { ms } if too_long(ms) => Err(Error::setting(
                name,
                format!("ms is {ms}: latencies may be at most {MAX_LATENCY_MS} ms"),
            )),
            Latency::Uniform { min_ms, max_ms } if min_ms > max_ms => Err(Error::setting(
                name,
                format!("minMs ({min_ms}) is larger than maxMs ({max_ms})"),
            )),
            Latency::Uniform { max_ms, .. } if too_long(max_ms) => Err(Error::setting(
                name,
                format!("maxMs is {max_ms}: latencies may be at most {MAX_LATENCY_MS} ms"),
            )),
            Latency::Exponential { base_ms, mean_ms } if too_long(base_ms) || too_long(mean_ms) => {
                Err(Error::setting(
                    name,
                    format!("baseMs and meanMs may be at most {MAX_LATENCY_MS} ms each"),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Draws one delay. Always takes exactly one number from `rng`, whatever the model, so that
    /// changing the model does not shift the rest of the random stream.
    pub fn sample(&self, rng: &mut Rng) -> Time {
        let bits = rng.next_u64();
        match *self {
            Latency::Constant { ms } => Time::from(ms),
            Latency::Uniform { min_ms, max_ms } => {
                let span = u64::from(max_ms - min_ms) + 1;
                u64::from(min_ms) + ((u128::from(bits) * u128::from(span)) >> 64) as u64
            }
            Latency::Exponential { base_ms, mean_ms } => {
                // Inverse transform: -mean * ln(1 - u), u in [0, 1). libm gives the same bits on
                // every platform, so a seed replays identically natively and in wasm.
                let u = (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
                let extra = -f64::from(mean_ms) * libm::log(1.0 - u);
                u64::from(base_ms) + libm::round(extra) as u64
            }
        }
    }
}

/// Everything that shapes one directed link.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkModel {
    /// Delay of each message.
    pub latency: Latency,
    /// Probability that a message is lost on the way, from 0 to 1.
    pub loss: f64,
    /// Probability that a message is delivered twice, from 0 to 1.
    pub duplication: f64,
}

/// What one directed link does differently from the common model; unset fields follow it.
#[derive(Clone, Copy, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkOverride {
    /// This link's own latency model.
    pub latency: Option<Latency>,
    /// This link's own loss probability.
    pub loss: Option<f64>,
    /// This link's own duplication probability.
    pub duplication: Option<f64>,
}

impl LinkOverride {
    /// The common `model` with this link's differences.
    pub fn apply(&self, model: LinkModel) -> LinkModel {
        LinkModel {
            latency: self.latency.unwrap_or(model.latency),
            loss: self.loss.unwrap_or(model.loss),
            duplication: self.duplication.unwrap_or(model.duplication),
        }
    }
}

/// Checks that `p` is a probability; `name` is the setting's name for the message.
pub fn validate_probability(name: &'static str, p: f64) -> Result<(), Error> {
    if p.is_finite() && (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::setting(
            name,
            format!("{p} is not a probability: give a number from 0 to 1"),
        ))
    }
}

impl LinkModel {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), Error> {
        self.latency.validate("latency")?;
        validate_probability("loss", self.loss)?;
        validate_probability("duplication", self.duplication)
    }
}

/// What happens to one copy of a message on its way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transit {
    /// Milliseconds from sending to arrival.
    pub latency: Time,
    /// If the copy is lost: how far along the link it got, in thousandths.
    pub lost_at: Option<u16>,
}

/// What the network does with one message sent on a link: one or two copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// The message itself.
    pub first: Transit,
    /// A duplicate, if the link duplicated it.
    pub duplicate: Option<Transit>,
}

/// The links between `n` nodes: which are cut, and how each behaves.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    /// Bit `from * nodes + to` is set when the link from → to is cut.
    cut: Vec<u64>,
    cut_count: usize,
    model: LinkModel,
    overrides: BTreeMap<(NodeId, NodeId), LinkOverride>,
    rng: NetworkRngs,
}

/// The network's random streams, one per purpose: a run with more loss keeps the same
/// latencies, and a run with more duplication loses the same messages.
#[derive(Clone, Debug)]
struct NetworkRngs {
    latency: Rng,
    loss: Rng,
    lost_at: Rng,
    duplication: Rng,
    copy: Rng,
}

impl Network {
    /// A fully connected network of `nodes` nodes whose links all follow `model`, drawing its
    /// random choices from streams of `seed`.
    pub fn new(nodes: usize, model: LinkModel, seed: u64) -> Network {
        Network {
            nodes,
            cut: vec![0; (nodes * nodes).div_ceil(64)],
            cut_count: 0,
            model,
            overrides: BTreeMap::new(),
            rng: NetworkRngs {
                latency: Rng::new(seed, STREAM_LATENCY),
                loss: Rng::new(seed, STREAM_LOSS),
                lost_at: Rng::new(seed, STREAM_LOST_AT),
                duplication: Rng::new(seed, STREAM_DUPLICATION),
                copy: Rng::new(seed, STREAM_COPY),
            },
        }
    }

    /// The model every link without an override follows.
    pub fn model(&self) -> LinkModel {
        self.model
    }

    /// Sets the model for every link without an override.
    pub fn set_model(&mut self, model: LinkModel) {
        self.model = model;
    }

    /// The model of the link from → to: the common one with the link's own differences.
    pub fn link_model(&self, from: NodeId, to: NodeId) -> LinkModel {
        match self.overrides.get(&(from, to)) {
            Some(own) => own.apply(self.model),
            None => self.model,
        }
    }

    /// Gives the link from → to its own differences, or (None) returns it to the common model.
    pub fn set_link_override(&mut self, from: NodeId, to: NodeId, own: Option<LinkOverride>) {
        match own {
            Some(own) => self.overrides.insert((from, to), own),
            None => self.overrides.remove(&(from, to)),
        };
    }

    /// The links with differences of their own.
    pub fn overrides(&self) -> &BTreeMap<(NodeId, NodeId), LinkOverride> {
        &self.overrides
    }

    fn bit(&self, from: NodeId, to: NodeId) -> usize {
        from.index() * self.nodes + to.index()
    }

    /// Whether the link from → to is cut.
    #[inline]
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        // Most of the time no link is cut at all.
        if self.cut_count == 0 {
            return false;
        }
        let bit = self.bit(from, to);
        self.cut[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Cuts (true) or heals (false) the link from → to.
    pub fn set_cut(&mut self, from: NodeId, to: NodeId, cut: bool) {
        if from == to || self.is_cut(from, to) == cut {
            return;
        }
        let bit = self.bit(from, to);
        self.cut[bit / 64] ^= 1 << (bit % 64);
        if cut {
            self.cut_count += 1;
        } else {
            self.cut_count -= 1;
        }
    }

    /// How many directed links are cut.
    pub fn cut_count(&self) -> usize {
        self.cut_count
    }

    /// Heals every link.
    pub fn heal_all(&mut self) {
        self.cut.iter_mut().for_each(|w| *w = 0);
        self.cut_count = 0;
    }

    /// Decides what happens to a message sent from → to: one latency draw, plus a draw for
    /// each fault the link can have. Each purpose has a random stream of its own.
    pub fn transmit(&mut self, from: NodeId, to: NodeId) -> Fate {
        let model = self.link_model(from, to);
        let rng = &mut self.rng;
        let first = Transit {
            latency: model.latency.sample(&mut rng.latency),
            lost_at: lose(model.loss, &mut rng.loss, &mut rng.lost_at),
        };
        let duplicated = model.duplication > 0.0 && rng.duplication.chance(model.duplication);
        let duplicate = duplicated.then(|| {
            // The copy's own latency and fate, from a stream of its own.
            let latency = model.latency.sample(&mut rng.copy);
            let lost = model.loss > 0.0 && rng.copy.chance(model.loss);
            Transit {
                latency,
                lost_at: lost.then(|| lost_position(&mut rng.copy)),
            }
        });
        Fate { first, duplicate }
    }
}

/// Whether a message is lost (probability `p`), and if so where.
fn lose(p: f64, decide: &mut Rng, place: &mut Rng) -> Option<u16> {
    (p > 0.0 && decide.chance(p)).then(|| lost_position(place))
}

/// Where a lost message vanishes: between a fifth and four fifths of the way, in thousandths.
fn lost_position(rng: &mut Rng) -> u16 {
    200 + rng.below(601) as u16
}

const STREAM_LATENCY: u64 = 1;
const STREAM_LOSS: u64 = 2;
const STREAM_LOST_AT: u64 = 3;
const STREAM_DUPLICATION: u64 = 4;
const STREAM_COPY: u64 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    fn net(model: LinkModel) -> Network {
        Network::new(3, model, 1)
    }

    #[test]
    fn latency_models_stay_in_their_bounds() {
        let mut rng = Rng::new(5, 0);
        for _ in 0..2000 {
            assert_eq!(Latency::Constant { ms: 7 }.sample(&mut rng), 7);
            let u = Latency::Uniform {
                min_ms: 10,
                max_ms: 20,
            }
            .sample(&mut rng);
            assert!((10..=20).contains(&u));
            let e = Latency::Exponential {
                base_ms: 5,
                mean_ms: 50,
            }
            .sample(&mut rng);
            assert!(e >= 5);
        }
    }

    #[test]
    fn exponential_mean_is_about_base_plus_mean() {
        let mut rng = Rng::new(11, 0);
        let model = Latency::Exponential {
            base_ms: 10,
            mean_ms: 100,
        };
        let total: u64 = (0..20_000).map(|_| model.sample(&mut rng)).sum();
        let mean = total as f64 / 20_000.0;
        assert!((100.0..120.0).contains(&mean), "{mean}");
    }

    #[test]
    fn uniform_reaches_both_bounds() {
        let mut rng = Rng::new(2, 0);
        let model = Latency::Uniform {
            min_ms: 1,
            max_ms: 3,
        };
        let seen: Vec<u64> = (0..300).map(|_| model.sample(&mut rng)).collect();
        assert!(seen.contains(&1) && seen.contains(&3));
    }

    #[test]
    fn invalid_models_are_refused_with_reasons() {
        let bad = Latency::Uniform {
            min_ms: 9,
            max_ms: 3,
        };
        assert!(
            bad.validate("latency")
                .unwrap_err()
                .to_string()
                .contains("minMs")
        );
        let far = Latency::Constant {
            ms: MAX_LATENCY_MS + 1,
        };
        assert!(far.validate("latency").is_err());
        let lossy = LinkModel {
            loss: 1.5,
            ..LinkModel::default()
        };
        assert!(lossy.validate().unwrap_err().to_string().contains("loss"));
        let nan = LinkModel {
            duplication: f64::NAN,
            ..LinkModel::default()
        };
        assert!(nan.validate().is_err());
    }

    #[test]
    fn cuts_are_directed_and_heal() {
        let mut n = net(LinkModel::default());
        n.set_cut(NodeId(1), NodeId(2), true);
        assert!(n.is_cut(NodeId(1), NodeId(2)));
        assert!(!n.is_cut(NodeId(2), NodeId(1)));
        assert_eq!(n.cut_count(), 1);
        n.set_cut(NodeId(1), NodeId(2), true);
        assert_eq!(n.cut_count(), 1);
        n.set_cut(NodeId(3), NodeId(1), true);
        n.heal_all();
        assert_eq!(n.cut_count(), 0);
        assert!(!n.is_cut(NodeId(3), NodeId(1)));
    }

    #[test]
    fn loss_and_duplication_follow_their_probabilities() {
        let mut all = net(LinkModel {
            latency: Latency::Constant { ms: 5 },
            loss: 1.0,
            duplication: 1.0,
        });
        let fate = all.transmit(NodeId(1), NodeId(2));
        assert!(fate.first.lost_at.is_some());
        assert!(fate.duplicate.is_some());
        let mut none = net(LinkModel::default());
        for _ in 0..100 {
            let fate = none.transmit(NodeId(1), NodeId(2));
            assert_eq!(fate.first.lost_at, None);
            assert_eq!(fate.duplicate, None);
        }
    }

    #[test]
    fn per_link_models_override_the_common_one() {
        let mut n = net(LinkModel::default());
        let slow = LinkOverride {
            latency: Some(Latency::Constant { ms: 999 }),
            ..LinkOverride::default()
        };
        n.set_link_override(NodeId(1), NodeId(3), Some(slow));
        assert_eq!(n.transmit(NodeId(1), NodeId(3)).first.latency, 999);
        assert_ne!(n.transmit(NodeId(3), NodeId(1)).first.latency, 999);
        // Unset fields follow the common model, even when it changes later.
        n.set_model(LinkModel {
            loss: 0.5,
            ..LinkModel::default()
        });
        assert_eq!(n.link_model(NodeId(1), NodeId(3)).loss, 0.5);
        n.set_link_override(NodeId(1), NodeId(3), None);
        assert_eq!(
            n.link_model(NodeId(1), NodeId(3)).latency,
            Latency::default()
        );
    }

    #[test]
    fn latencies_do_not_depend_on_fault_settings() {
        let mut clean = net(LinkModel::default());
        let mut faulty = net(LinkModel {
            loss: 0.3,
            duplication: 0.3,
            ..LinkModel::default()
        });
        for _ in 0..100 {
            let a = clean.transmit(NodeId(1), NodeId(2));
            let b = faulty.transmit(NodeId(1), NodeId(2));
            assert_eq!(a.first.latency, b.first.latency);
        }
    }
}
