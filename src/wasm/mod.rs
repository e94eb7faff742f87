//! The JavaScript API: the only code that knows wasm-bindgen.
//!
//! Commands come in as plain JS values and are checked here for type (a node id must be a
//! whole number, a key a string); the core checks meaning. Views go out through serde as plain
//! objects; per-frame data (messages in flight) goes out as a `Float32Array` view into wasm
//! memory, with no copying and no serialization. Every error becomes a JS `Error` whose
//! message says what was wrong, and nothing changes.

use serde::Serialize;
use wasm_bindgen::prelude::*;

mod interop;

use interop::*;

use crate::compare::Follower;
use crate::encode;
use crate::lesson::Lesson;
use crate::settings::Settings;
use crate::sim::{ClientOptions, Sample};
use crate::timeline::{Command, Done, LessonPlace, Replay, Session, Timeline};
use crate::trace::EventFilter;
use crate::{Error, LinkOverride, NodeId, RequestId, Time};

/// The most nodes the page draws.
pub const PAGE_MAX_NODES: u32 = 64;
/// The longest single `runFor` / `runUntil` jump, in milliseconds (one day of virtual time).
pub const MAX_RUN_MS: f64 = 86_400_000.0;

/// Shows a panic's message on the page (through `globalThis.convergePanic`, if the page set
/// one) and in the console, so that a bug never leaves the page silently dead.
#[wasm_bindgen(start)]
pub fn start() {
    std::panic::set_hook(Box::new(|info| {
        let message = format!("converge crashed: {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        let global = js_sys::global();
        if let Ok(report) = js_sys::Reflect::get(&global, &JsValue::from_str("convergePanic"))
            && let Some(report) = report.dyn_ref::<js_sys::Function>()
        {
            let _ = report.call1(&JsValue::NULL, &JsValue::from_str(&message));
        }
    }));
}

/// Panics on purpose, so that a test can check that a bug in the core shows on the page
/// instead of leaving it silently dead. Nothing in the page calls it.
#[wasm_bindgen(js_name = "crashForTesting")]
pub fn crash_for_testing(message: &str) {
    panic!("{message}");
}

#[wasm_bindgen(js_class = "Simulation")]
impl Sim {
    /// Aborts the wasm instance in the middle of a call, as running out of memory does (a trap,
    /// no panic message, the object left borrowed): for the test of what the page then says.
    #[wasm_bindgen(js_name = "abortForTesting")]
    pub fn abort_for_testing(&mut self) {
        std::process::abort();
    }
}

/// The most messages in flight `flights` returns for drawing.
const MAX_DRAWN_FLIGHTS: usize = 20_000;

/// A client request's node, key, value (empty for a read or a delete) and options.
type RequestArgs = (NodeId, String, String, ClientOptions);

/// How far loading a session has gone (see `Simulation.loadStep`).
#[derive(Clone, Copy, Serialize)]
struct LoadProgress {
    /// Whether the replay reached the session's end (`finishLoad` next).
    done: bool,
    /// From 0 to 1, by virtual time.
    progress: f64,
}

/// A random seed for a run nobody chose a seed for: small enough to read out in class.
fn random_seed() -> u64 {
    let mut bytes = [0u8; 4];
    match getrandom::fill(&mut bytes) {
        Ok(()) => u64::from(u32::from_le_bytes(bytes) % 1_000_000),
        Err(_) => js_sys::Date::now() as u64 % 1_000_000,
    }
}

/// A simulated cluster, driven from JavaScript.
///
/// Node ids are whole numbers from 1, as the page shows them. Times are milliseconds of
/// virtual time. Every method that can be given bad input throws an `Error` that says what
/// was wrong, and then nothing has changed.
#[wasm_bindgen(js_name = "Simulation")]
pub struct Sim {
    inner: Timeline,
    flights: Vec<f32>,
    /// Set on a twin made by `twinOf`: how it follows its leader.
    follower: Option<Follower>,
    /// A session being replayed a slice at a time (`beginLoad`), not yet this run.
    loading: Option<Replay>,
}

#[wasm_bindgen(js_class = "Simulation")]
impl Sim {
    /// A new run with the tutorial's settings changed by `settings` (optional); without a
    /// `seed`, one is picked at random.
    #[wasm_bindgen(constructor)]
    pub fn new(settings: JsValue) -> Result<Sim, JsError> {
        let mut patch = patch_from_js(settings)?;
        patch.seed = patch.seed.or_else(|| Some(random_seed()));
        let settings = Settings::default().patched(&patch).map_err(js_error)?;
        let inner = Timeline::new(settings).map_err(js_error)?;
        Ok(Sim {
            inner,
            flights: Vec::new(),
            follower: None,
            loading: None,
        })
    }

    /// Side by side: a second run of `leader`'s scenario with its settings changed by `change`
    /// (e.g. `{writeQuorum: 'all'}`), at the leader's moment. Keep it in step with
    /// `twin.follow(leader)`: it is given every command the leader was given, at the same
    /// virtual time, and shows the same moment. A bad change throws, and nothing is made.
    #[wasm_bindgen(js_name = "twinOf")]
    pub fn twin_of(leader: &Sim, change: JsValue) -> Result<Sim, JsError> {
        let change = patch_from_js(change)?;
        let (follower, mut inner) = Follower::start(&leader.inner, change).map_err(js_error)?;
        inner
            .sim_mut()
            .set_recording(leader.inner.sim().trace().enabled());
        Ok(Sim {
            inner,
            flights: Vec::new(),
            follower: Some(follower),
            loading: None,
        })
    }

    /// A twin catches up with its leader: new commands, a new future or a new run, and the
    /// moment shown. Throws on a simulation that is not a twin, or if the leader's new settings
    /// do not take the change.
    pub fn follow(&mut self, leader: &Sim) -> Result<(), JsError> {
        let follower = self
            .follower
            .as_mut()
            .ok_or_else(|| js_error("this simulation is not a twin: make one with twinOf"))?;
        follower
            .follow(&mut self.inner, &leader.inner)
            .map_err(js_error)
    }

    /// A twin's change of settings (null for a simulation that is not a twin).
    #[wasm_bindgen(js_name = "twinChange")]
    pub fn twin_change(&self) -> Result<JsValue, JsError> {
        match &self.follower {
            Some(f) => to_js(f.change()),
            None => Ok(JsValue::NULL),
        }
    }

    /// The commands a twin could not take, each with the moment and the reason.
    #[wasm_bindgen(js_name = "twinSkipped")]
    pub fn twin_skipped(&self) -> Result<JsValue, JsError> {
        let none: &[String] = &[];
        to_js(self.follower.as_ref().map_or(none, |f| f.skipped()))
    }

    /// Replaces the run with `timeline`, recording as this one did.
    fn adopt(&mut self, mut timeline: Timeline) {
        timeline
            .sim_mut()
            .set_recording(self.inner.sim().trace().enabled());
        self.inner = timeline;
    }

    /// Gives `command` through the timeline (logged, so time travel and sessions replay it).
    fn act(&mut self, command: Command) -> Result<JsValue, JsError> {
        match self.inner.execute(command).map_err(js_error)? {
            Done::Write(outcome) => to_js(&outcome),
            Done::Read(view) => to_js(&view),
            Done::Nothing => Ok(JsValue::UNDEFINED),
        }
    }

    fn node(&self, value: &JsValue) -> Result<NodeId, JsError> {
        node_id(value, self.inner.sim().node_count())
    }

    /// What every client request names: its node, its key, its value if it has one, and its
    /// options (`O`: a write's or a read's), each checked in that order.
    fn request_args<O: serde::de::DeserializeOwned + Default + Into<ClientOptions>>(
        &self,
        node: &JsValue,
        key: &JsValue,
        value: Option<&JsValue>,
        options: JsValue,
    ) -> Result<RequestArgs, JsError> {
        let node = self.node(node)?;
        let key = text("key", key)?;
        let value = value
            .map(|v| text("value", v))
            .transpose()?
            .unwrap_or_default();
        Ok((node, key, value, options_from_js::<O>(options)?.into()))
    }

    // ----- Ask -----

    /// Virtual time now, in milliseconds.
    pub fn now(&self) -> f64 {
        self.inner.sim().now() as f64
    }

    /// Every setting, under the names the README documents.
    pub fn settings(&self) -> Result<JsValue, JsError> {
        to_js(self.inner.sim().settings())
    }

    /// Whether every live replica holds the same version of every key.
    pub fn converged(&self) -> bool {
        self.inner.sim().converged()
    }

    /// The keys whose live replicas differ.
    #[wasm_bindgen(js_name = "divergentKeys")]
    pub fn divergent_keys(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().divergent_keys())
    }

    /// Every key with what each node holds; values longer than `previewChars` are shortened.
    pub fn keys(&self, preview_chars: JsValue) -> Result<JsValue, JsError> {
        let limit = if preview_chars.is_undefined() || preview_chars.is_null() {
            None
        } else {
            Some(whole_number("previewChars", &preview_chars)?.clamp(1.0, 1e6) as usize)
        };
        to_js(&self.inner.sim().keys(limit))
    }

    /// Every node: `{id, up, isolated, clockSkewMs, keys}`.
    pub fn nodes(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().nodes())
    }

    /// Every write (or the `last` few) with its propagation: `{id, node, key, value, stampMs,
    /// clock, issuedAt, status, ackedAfterMs, reached, arrivals, allLiveAfterMs, allAfterMs,
    /// lost}`, oldest first.
    pub fn writes(&self, last: JsValue) -> Result<JsValue, JsError> {
        let count = if last.is_undefined() || last.is_null() {
            usize::MAX
        } else {
            whole_number("last", &last)?.max(0.0) as usize
        };
        to_js(&self.inner.sim().recent_writes(count))
    }

    /// A client request and its outcome: `{id, kind, node, key, session, startedAt, status,
    /// finishedAt, latencyMs, got, needed, write, versions, context, stale, behind, violations,
    /// latest}`; undefined if there is no such request.
    pub fn request(&self, id: JsValue) -> Result<JsValue, JsError> {
        let id = whole_number("a request id", &id)?;
        let view = (id >= 1.0 && id <= f64::from(u32::MAX))
            .then(|| self.inner.sim().request(RequestId(id as u32)))
            .flatten();
        match view {
            Some(view) => to_js(&view),
            None => Ok(JsValue::UNDEFINED),
        }
    }

    /// Every client request (or the `last` few), oldest first.
    pub fn requests(&self, last: JsValue) -> Result<JsValue, JsError> {
        let count = if last.is_undefined() || last.is_null() {
            usize::MAX
        } else {
            whole_number("last", &last)?.max(0.0) as usize
        };
        to_js(&self.inner.sim().requests(count))
    }

    /// Every token on the ring, clockwise: `[{position (0 to 1), node}]`.
    pub fn ring(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().ring())
    }

    /// Where `key` lives: `{nodes: its preference list, position: its place on the ring (0 to 1)}`.
    #[wasm_bindgen(js_name = "preferenceList")]
    pub fn preference_list(&self, key: JsValue) -> Result<JsValue, JsError> {
        let key = text("key", &key)?;
        let (nodes, position) = self.inner.sim().preference_list(&key).map_err(js_error)?;
        #[derive(Serialize)]
        struct Place {
            nodes: Vec<NodeId>,
            position: f64,
        }
        to_js(&Place { nodes, position })
    }

    /// The latest Merkle comparisons that found differing ranges: `[{time, node, peer, leaves}]`.
    #[wasm_bindgen(js_name = "recentRanges")]
    pub fn recent_ranges(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().recent_ranges())
    }

    /// Deleted values that came back: `[{time, node, key, write}]`.
    pub fn resurrections(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().resurrections())
    }

    /// Running totals: messages sent, delivered, dropped (and why), duplicated, in flight,
    /// bytes, unavailable and timed-out requests, stale reads, lost writes...
    pub fn stats(&self) -> Result<JsValue, JsError> {
        to_js(&self.inner.sim().stats())
    }

    /// How many message copies are on their way (cheap, unlike `stats`).
    #[wasm_bindgen(js_name = "inFlight")]
    pub fn in_flight(&self) -> f64 {
        self.inner.sim().in_flight_count() as f64
    }

    /// Every cut directed link as `[from, to]`.
    #[wasm_bindgen(js_name = "cutLinks")]
    pub fn cut_links(&self) -> Result<JsValue, JsError> {
        let links: Vec<[u32; 2]> = self
            .inner
            .sim()
            .cut_links()
            .into_iter()
            .map(|(a, b)| [a.0, b.0])
            .collect();
        to_js(&links)
    }

    /// The model of the link from → to: `{latency, loss, duplication}`.
    pub fn link(&self, from: JsValue, to: JsValue) -> Result<JsValue, JsError> {
        let (from, to) = (self.node(&from)?, self.node(&to)?);
        to_js(&self.inner.sim().link(from, to).map_err(js_error)?)
    }

    /// Recorded events numbered `since` and later (all that are still kept if omitted),
    /// as `{index, event, time, ...}` objects.
    pub fn events(&self, since: JsValue) -> Result<JsValue, JsError> {
        let trace = self.inner.sim().trace();
        let first = trace.count() - trace.recent().len() as u64;
        let since = if since.is_undefined() || since.is_null() {
            first
        } else {
            whole_number("since", &since)?.max(0.0) as u64
        };
        let skip = since.saturating_sub(first).min(trace.recent().len() as u64) as usize;
        let events: Vec<Numbered> = numbered(trace).skip(skip).collect();
        to_js(&events)
    }

    /// The messages in flight as pairs `id, arriveAt` (ms; when a lost one would have
    /// arrived), for the space-time diagram's growing lines.
    #[wasm_bindgen(js_name = "flightArrivals")]
    pub fn flight_arrivals(&self) -> js_sys::Float64Array {
        let pairs: Vec<f64> = self
            .inner
            .sim()
            .in_flight()
            .flat_map(|f| [f64::from(f.id), f.arrive_at as f64])
            .collect();
        js_sys::Float64Array::from(pairs.as_slice())
    }

    /// What the plots draw, as numbers: `interval, count, fields, buckets, notYetEverywhere`,
    /// then `count` samples of `fields` numbers each (sample `i` is the cluster at
    /// `i × interval` ms: running totals of messages sent by kind — writes to replicas,
    /// coordinator requests and replies, read repairs, hints, anti-entropy — dropped copies,
    /// client writes, reads, stale reads, failed requests; then stale replicas and divergent
    /// keys at that moment), then one more sample for the cluster now, then `buckets` counts
    /// of writes by the time they took to reach every replica (bounds in `plotBuckets`).
    pub fn plots(&self) -> js_sys::Float64Array {
        let sim = self.inner.sim();
        let metrics = sim.samples();
        let buckets = sim.convergence_times().counts();
        let mut out = Vec::with_capacity(5 + (metrics.len() + 1) * Sample::FIELDS + buckets.len());
        out.extend([
            metrics.interval() as f64,
            metrics.len() as f64,
            Sample::FIELDS as f64,
            buckets.len() as f64,
            sim.writes_not_yet_everywhere() as f64,
        ]);
        for sample in metrics.samples() {
            out.extend(sample.values());
        }
        out.extend(sim.sample().values());
        out.extend(buckets.iter().map(|&c| f64::from(c)));
        js_sys::Float64Array::from(out.as_slice())
    }

    /// How `flights`, `drainDrops` and `diagram` lay out their numbers: strides, and every
    /// code by name (`{flightStride, dropStride, diagramStride, dropReasonFactor, flightFlags,
    /// messageKinds, dropReasons, statuses, diagramCodes}`). The page reads them from here.
    pub fn layout() -> Result<JsValue, JsError> {
        to_js(&encode::Layout::new())
    }

    /// The upper bounds (exclusive, ms) of the buckets of time to reach every replica that
    /// `plots` counts; its last bucket holds everything slower.
    #[wasm_bindgen(js_name = "plotBuckets")]
    pub fn plot_buckets() -> Vec<f64> {
        crate::CONVERGENCE_BUCKETS_MS
            .iter()
            .map(|&b| b as f64)
            .collect()
    }

    /// The events of the space-time diagram from time `from` (ms) on, at most the last 4,000,
    /// `layout().diagramStride` numbers each (see [`crate::encode::diagram`]):
    /// `code, time, node, peer, id, extra, progress, position, index`, with the codes of
    /// `layout().diagramCodes`.
    pub fn diagram(&self, from: JsValue) -> Result<js_sys::Float64Array, JsError> {
        let from = milliseconds(&from)?;
        let out = encode::diagram(self.inner.sim().trace(), from);
        Ok(js_sys::Float64Array::from(out.as_slice()))
    }

    /// The event log: the last `limit` (default 200) kept events that pass `filter`
    /// (`{node, key, kinds}`, each optional), oldest first, and how many pass in all:
    /// `{matching, kept, events: [{index, position, event, time, ...}]}`.
    #[wasm_bindgen(js_name = "eventLog")]
    pub fn event_log(&self, filter: JsValue, limit: JsValue) -> Result<JsValue, JsError> {
        let filter = event_filter(filter, self.inner.sim().node_count())?;
        let limit = if limit.is_undefined() || limit.is_null() {
            200
        } else {
            match whole_number("limit", &limit)? {
                n if (0.0..=100_000.0).contains(&n) => n as usize,
                n => {
                    return Err(js_error(format!(
                        "limit must be a whole number from 0 to 100000, not {}",
                        number(n)
                    )));
                }
            }
        };
        let trace = self.inner.sim().trace();
        let matching: Vec<Numbered> = numbered(trace)
            .filter(|n| n.event.passes(&filter))
            .collect();
        #[derive(Serialize)]
        struct Log<'a> {
            matching: usize,
            kept: usize,
            events: &'a [Numbered<'a>],
        }
        to_js(&Log {
            matching: matching.len(),
            kept: trace.recent().len(),
            events: &matching[matching.len().saturating_sub(limit)..],
        })
    }

    /// Every kept event that passes `filter`, as JSON text for a file:
    /// `{format: "converge-events", version: 1, settings, events: [...]}`.
    #[wasm_bindgen(js_name = "eventsJson")]
    pub fn events_json(&self, filter: JsValue) -> Result<String, JsError> {
        let filter = event_filter(filter, self.inner.sim().node_count())?;
        let trace = self.inner.sim().trace();
        #[derive(Serialize)]
        struct File<'a> {
            format: &'static str,
            version: u32,
            settings: &'a Settings,
            filter: EventFilterView<'a>,
            events: Vec<Numbered<'a>>,
        }
        #[derive(Serialize)]
        struct EventFilterView<'a> {
            node: Option<NodeId>,
            key: Option<&'a str>,
            kinds: Option<&'a [String]>,
        }
        let file = File {
            format: "converge-events",
            version: 1,
            settings: self.inner.sim().settings(),
            filter: EventFilterView {
                node: filter.node,
                key: filter.key.as_deref(),
                kinds: filter.kinds.as_deref(),
            },
            events: numbered(trace)
                .filter(|n| n.event.passes(&filter))
                .collect(),
        };
        serde_json::to_string(&file).map_err(js_error)
    }

    /// How many events have been recorded in all.
    #[wasm_bindgen(js_name = "eventCount")]
    pub fn event_count(&self) -> f64 {
        self.inner.sim().trace().count() as f64
    }

    /// A hash of every event so far, as 16 hex digits: equal runs have equal hashes.
    #[wasm_bindgen(js_name = "traceHash")]
    pub fn trace_hash(&self) -> String {
        format!("{:016x}", self.inner.sim().trace().hash())
    }

    /// A number that moves whenever something a view shows may have changed.
    pub fn changes(&self) -> f64 {
        self.inner.sim().changes() as f64
    }

    /// The time of the next event, or undefined if none waits.
    #[wasm_bindgen(js_name = "nextEventTime")]
    pub fn next_event_time(&self) -> Option<f64> {
        self.inner.sim().next_event_time().map(|t| t as f64)
    }

    // ----- Per frame -----

    /// The messages in flight at (fractional) time `t`, `layout().flightStride` numbers each:
    /// `fromIndex, toIndex, kind, progress, flags` (indexes from 0; kinds as in
    /// `layout().messageKinds`; progress 0 to 1 along the link; flags as in
    /// `layout().flightFlags`: will be lost, a duplicate). At most 20,000: past that, one in
    /// every few. A view into wasm memory: read it before the next call into the simulation.
    pub fn flights(&mut self, t: f64) -> js_sys::Float32Array {
        self.flights.clear();
        // Past MAX_DRAWN_FLIGHTS, one in every few is drawn: a million dots a frame would stop
        // the page, and show nothing more than twenty thousand do.
        let sim = self.inner.sim();
        let every = sim.in_flight_count().div_ceil(MAX_DRAWN_FLIGHTS).max(1);
        encode::flights(sim.in_flight(), t, every, &mut self.flights);
        // SAFETY: the view is read by JS before any other call into wasm, and so before wasm
        // memory can grow or `self.flights` change; the doc comment says so.
        unsafe { js_sys::Float32Array::view(&self.flights) }
    }

    /// Messages dropped since the last call, `layout().dropStride` numbers each:
    /// `fromIndex, toIndex, kind, reason, at` (reasons as in `layout().dropReasons`; `at`: how
    /// far along the link, 0 to 1).
    #[wasm_bindgen(js_name = "drainDrops")]
    pub fn drain_drops(&mut self) -> js_sys::Float32Array {
        let drops = encode::drops(&self.inner.sim_mut().drain_drops());
        js_sys::Float32Array::from(drops.as_slice())
    }

    // ----- Command -----

    /// A client writes `key = value` through `node`; options `{session, context, w}`.
    pub fn write(
        &mut self,
        node: JsValue,
        key: JsValue,
        value: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsError> {
        let (node, key, value, options) =
            self.request_args::<WriteOptions>(&node, &key, Some(&value), options)?;
        self.act(Command::Write {
            node,
            key,
            value,
            options,
        })
    }

    /// A client deletes `key` through `node` (a tombstone); options `{session, context, w}`.
    pub fn delete(
        &mut self,
        node: JsValue,
        key: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsError> {
        let (node, key, _, options) =
            self.request_args::<WriteOptions>(&node, &key, None, options)?;
        self.act(Command::Delete { node, key, options })
    }

    /// A client reads `key` through `node`; options `{session, r}`. With coordination the
    /// outcome is pending until R replicas reply: read it later with `request(id)`.
    pub fn read(
        &mut self,
        node: JsValue,
        key: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsError> {
        let (node, key, _, options) =
            self.request_args::<ReadOptions>(&node, &key, None, options)?;
        self.act(Command::Read { node, key, options })
    }

    /// Resolves the siblings `node` holds for `key` by writing `value` with their context;
    /// options `{session, w}`.
    pub fn resolve(
        &mut self,
        node: JsValue,
        key: JsValue,
        value: JsValue,
        options: JsValue,
    ) -> Result<JsValue, JsError> {
        let (node, key, value, options) =
            self.request_args::<WriteOptions>(&node, &key, Some(&value), options)?;
        self.act(Command::Resolve {
            node,
            key,
            value,
            options,
        })
    }

    /// Cuts the links between `a` and `b`; with `{oneWay: true}` only a → b.
    pub fn cut(&mut self, a: JsValue, b: JsValue, options: JsValue) -> Result<(), JsError> {
        let (a, b) = (self.node(&a)?, self.node(&b)?);
        let one_way = one_way(&options)?;
        self.act(Command::Cut { a, b, one_way }).map(drop)
    }

    /// Heals the links between `a` and `b`; with `{oneWay: true}` only a → b.
    pub fn heal(&mut self, a: JsValue, b: JsValue, options: JsValue) -> Result<(), JsError> {
        let (a, b) = (self.node(&a)?, self.node(&b)?);
        let one_way = one_way(&options)?;
        self.act(Command::Heal { a, b, one_way }).map(drop)
    }

    /// Splits the cluster: `groups` is an array of arrays of node ids, every node once.
    pub fn partition(&mut self, groups: JsValue) -> Result<(), JsError> {
        let shape = || {
            js_error(format!(
                "partition takes an array of groups of node ids, e.g. [[1, 2], [3]], not {}",
                describe(&groups)
            ))
        };
        if !js_sys::Array::is_array(&groups) {
            return Err(shape());
        }
        let mut parsed = Vec::new();
        for group in js_sys::Array::from(&groups).iter() {
            if !js_sys::Array::is_array(&group) {
                return Err(shape());
            }
            let ids = js_sys::Array::from(&group)
                .iter()
                .map(|id| self.node(&id))
                .collect::<Result<Vec<_>, _>>()?;
            parsed.push(ids);
        }
        self.act(Command::Partition { groups: parsed }).map(drop)
    }

    /// Heals every link.
    #[wasm_bindgen(js_name = "healAll")]
    pub fn heal_all(&mut self) -> Result<(), JsError> {
        self.act(Command::HealAll).map(drop)
    }

    /// Cuts every link to and from `node`.
    pub fn isolate(&mut self, node: JsValue) -> Result<(), JsError> {
        let node = self.node(&node)?;
        self.act(Command::Isolate { node }).map(drop)
    }

    /// Heals every link to and from `node`.
    pub fn reconnect(&mut self, node: JsValue) -> Result<(), JsError> {
        let node = self.node(&node)?;
        self.act(Command::Reconnect { node }).map(drop)
    }

    /// Gives the link from → to its own `{latency, loss, duplication}` (any of them; the rest
    /// follow the common settings), or with `null` returns it to the common settings.
    #[wasm_bindgen(js_name = "setLink")]
    pub fn set_link(&mut self, from: JsValue, to: JsValue, own: JsValue) -> Result<(), JsError> {
        let (from, to) = (self.node(&from)?, self.node(&to)?);
        let own: Option<LinkOverride> = if own.is_null() || own.is_undefined() {
            None
        } else {
            Some(from_js("link", own)?)
        };
        self.act(Command::SetLink {
            from,
            to,
            link: own,
        })
        .map(drop)
    }

    /// Crashes `node`.
    pub fn crash(&mut self, node: JsValue) -> Result<(), JsError> {
        let node = self.node(&node)?;
        self.act(Command::Crash { node }).map(drop)
    }

    /// Recovers `node`; with `{wipe: true}` it comes back with an empty store.
    pub fn recover(&mut self, node: JsValue, options: JsValue) -> Result<(), JsError> {
        let node = self.node(&node)?;
        let wipe = flag(&options, "wipe")?;
        self.act(Command::Recover { node, wipe }).map(drop)
    }

    /// Changes settings. A new `nodes` or `seed` starts a new run; returns whether it did.
    pub fn configure(&mut self, settings: JsValue) -> Result<bool, JsError> {
        let patch = patch_from_js(settings)?;
        self.inner.configure(&patch).map_err(js_error)
    }

    /// Starts afresh, with the current settings changed by `settings` (optional).
    pub fn reset(&mut self, settings: JsValue) -> Result<(), JsError> {
        let patch = patch_from_js(settings)?;
        self.inner.reset(&patch).map_err(js_error)
    }

    /// Turns event recording on or off.
    #[wasm_bindgen(js_name = "setRecording")]
    pub fn set_recording(&mut self, on: bool) {
        self.inner.sim_mut().set_recording(on);
    }

    // ----- Move time -----

    /// Runs `ms` milliseconds of virtual time; returns how many events happened.
    #[wasm_bindgen(js_name = "runFor")]
    pub fn run_for(&mut self, ms: JsValue) -> Result<f64, JsError> {
        let ms = milliseconds(&ms)?;
        Ok(self.inner.run_for(ms) as f64)
    }

    /// The moment `ms` milliseconds (at most one day) after now: where `runFor(ms)` goes.
    #[wasm_bindgen(js_name = "timeAfter")]
    pub fn time_after(&self, ms: JsValue) -> Result<f64, JsError> {
        let ms = milliseconds(&ms)?;
        Ok(self.inner.sim().now().saturating_add(ms) as f64)
    }

    /// Runs toward virtual time `t` (no further than one day ahead), handling at most `events`
    /// events; returns whether it got there. The page runs a long jump in slices this way.
    #[wasm_bindgen(js_name = "runSlice")]
    pub fn run_slice(&mut self, t: JsValue, events: f64) -> Result<bool, JsError> {
        let target = self.target(&t)?;
        if !(events.is_finite() && events >= 1.0) {
            return Err(js_error("a slice handles at least one event"));
        }
        Ok(self.inner.run_until_within(target, events as u64))
    }

    /// Runs until virtual time `t` (no further than one day ahead); returns how many events happened.
    #[wasm_bindgen(js_name = "runUntil")]
    pub fn run_until(&mut self, t: JsValue) -> Result<f64, JsError> {
        let target = self.target(&t)?;
        Ok(self.inner.run_until(target) as f64)
    }

    /// A moment to run to: a time in milliseconds, no further than one day ahead of now.
    fn target(&self, t: &JsValue) -> Result<Time, JsError> {
        let target = match t.as_f64() {
            Some(x) if x.is_finite() && x >= 0.0 => x.floor(),
            _ => {
                return Err(js_error(format!(
                    "give a time in milliseconds, not {}",
                    describe(t)
                )));
            }
        };
        let now = self.inner.sim().now() as f64;
        if target - now > MAX_RUN_MS {
            return Err(js_error(format!(
                "runUntil({}) is more than one day ({MAX_RUN_MS} ms) ahead of now ({now})",
                number(target)
            )));
        }
        Ok(target as Time)
    }

    /// Handles the next event; returns its time, or undefined if nothing waits.
    pub fn step(&mut self) -> Option<f64> {
        self.inner.step().map(|t| t as f64)
    }

    // ----- Time travel -----

    /// How many events have been handled: the position of the moment shown.
    #[wasm_bindgen(js_name = "eventsHandled")]
    pub fn events_handled(&self) -> f64 {
        self.inner.sim().events() as f64
    }

    /// The furthest moment the run has reached (after going back, the end of the timeline).
    pub fn end(&self) -> f64 {
        self.inner.end() as f64
    }

    /// Shows the moment `t` (ms): back from the nearest snapshot, or forward by running on.
    /// Running on from the past replays the remembered future; a command there starts a new one.
    pub fn seek(&mut self, t: JsValue) -> Result<(), JsError> {
        // Any moment the run has reached, even past a day ("Latest" goes to the end).
        let t = milliseconds_to(&t, MAX_RUN_MS.max(self.inner.end() as f64))?;
        self.inner.seek(t).map_err(js_error)
    }

    /// Shows the moment just after event number `events`.
    #[wasm_bindgen(js_name = "seekEvent")]
    pub fn seek_event(&mut self, events: JsValue) -> Result<(), JsError> {
        let events = whole_number("events", &events)?.max(0.0) as u64;
        self.inner.seek_event(events).map_err(js_error)
    }

    /// Goes back one event; returns false at the start.
    #[wasm_bindgen(js_name = "stepBack")]
    pub fn step_back(&mut self) -> Result<bool, JsError> {
        self.inner.step_back().map_err(js_error)
    }

    /// The commands given so far, `{at, events, command}` each; `applied` of them are in the
    /// moment shown (the rest are the remembered future).
    pub fn commands(&self) -> Result<JsValue, JsError> {
        #[derive(Serialize)]
        struct Commands<'a> {
            applied: usize,
            commands: &'a [crate::timeline::Logged],
        }
        to_js(&Commands {
            applied: self.inner.applied(),
            commands: self.inner.log(),
        })
    }

    /// The virtual time of every command given, in order (for marking them on a timeline).
    #[wasm_bindgen(js_name = "commandTimes")]
    pub fn command_times(&self) -> js_sys::Float64Array {
        let times: Vec<f64> = self.inner.log().iter().map(|l| l.at as f64).collect();
        js_sys::Float64Array::from(times.as_slice())
    }

    /// How many commands have been given (the remembered future included).
    #[wasm_bindgen(js_name = "commandCount")]
    pub fn command_count(&self) -> f64 {
        self.inner.log().len() as f64
    }

    /// The most commands a session (Save, Link) may hold; past it a run forgets its earliest.
    #[wasm_bindgen(js_name = "commandLimit")]
    pub fn command_limit(&self) -> f64 {
        crate::timeline::MAX_COMMANDS as f64
    }

    /// The furthest a session (Save, Link) may reach in virtual time (ms): one day.
    #[wasm_bindgen(js_name = "timeLimit")]
    pub fn time_limit(&self) -> f64 {
        crate::timeline::MAX_SESSION_MS as f64
    }

    /// How many of the run's earliest commands were forgotten to keep memory flat (the run
    /// can then no longer be saved, and going back stops at `historyStart()`).
    #[wasm_bindgen(js_name = "commandsForgotten")]
    pub fn commands_forgotten(&self) -> f64 {
        self.inner.forgotten() as f64
    }

    /// The earliest moment going back can reach (ms): 0 unless early history was forgotten.
    #[wasm_bindgen(js_name = "historyStart")]
    pub fn history_start(&self) -> f64 {
        self.inner.history_start() as f64
    }

    /// How many of the commands given are in the moment shown (the rest are its future).
    #[wasm_bindgen(js_name = "commandsApplied")]
    pub fn commands_applied(&self) -> f64 {
        self.inner.applied() as f64
    }

    /// The whole session as JSON text: settings, commands, the moment shown, and `lesson`
    /// (`{id, step}`, optional) for the page.
    pub fn session(&self, lesson: JsValue) -> Result<String, JsError> {
        let lesson: Option<LessonPlace> = if lesson.is_undefined() || lesson.is_null() {
            None
        } else {
            Some(from_js("lesson", lesson)?)
        };
        self.inner.saved(lesson).map_err(js_error)
    }

    /// Replaces this run with the session in `text` (JSON), replayed to its moment. Returns
    /// its lesson place, if any. If the text is not a session that replays, this throws and
    /// nothing changes.
    #[wasm_bindgen(js_name = "loadSession")]
    pub fn load_session(&mut self, text: &str) -> Result<JsValue, JsError> {
        self.begin_load(text)?;
        while !self.step_load(u64::MAX)?.done {}
        self.finish_load()
    }

    /// Starts replaying the session in `text` beside this run, which stays as it is until
    /// `finishLoad`: `loadStep` replays a slice at a time, so that the page can show progress
    /// between frames (and `cancelLoad` stop). A session that cannot be used throws here.
    #[wasm_bindgen(js_name = "beginLoad")]
    pub fn begin_load(&mut self, text: &str) -> Result<(), JsError> {
        let session = Session::from_json(text).map_err(js_error)?;
        within_page(&session.settings).map_err(|e| js_error(Error::InvalidSession(e)))?;
        self.loading = Some(Replay::new(session).map_err(js_error)?);
        Ok(())
    }

    /// Replays about `work` more (events handled and versions carried; a few hundred thousand
    /// take some tens of milliseconds) of the session begun: `{done, progress}` (0 to 1). A
    /// replay that fails, or would take too long, throws and is dropped.
    #[wasm_bindgen(js_name = "loadStep")]
    pub fn load_step(&mut self, work: f64) -> Result<JsValue, JsError> {
        let work = if work.is_finite() && work > 0.0 {
            work as u64
        } else {
            u64::MAX
        };
        to_js(&self.step_load(work)?)
    }

    fn step_load(&mut self, work: u64) -> Result<LoadProgress, JsError> {
        let replay = self
            .loading
            .as_mut()
            .ok_or_else(|| js_error("no session is being loaded: call beginLoad first"))?;
        match replay.step(work) {
            Ok(done) => Ok(LoadProgress {
                done,
                progress: replay.progress(),
            }),
            Err(e) => {
                self.loading = None;
                Err(js_error(e))
            }
        }
    }

    /// Replaces this run with the session replayed, shown at its moment; returns its lesson
    /// place, if any.
    #[wasm_bindgen(js_name = "finishLoad")]
    pub fn finish_load(&mut self) -> Result<JsValue, JsError> {
        let replay = self
            .loading
            .take()
            .ok_or_else(|| js_error("no session is being loaded: call beginLoad first"))?;
        let lesson = replay.lesson().cloned();
        self.adopt(replay.finish().map_err(js_error)?);
        to_js(&lesson)
    }

    /// Drops the session being loaded; this run stays as it was.
    #[wasm_bindgen(js_name = "cancelLoad")]
    pub fn cancel_load(&mut self) {
        self.loading = None;
    }

    /// Replaces this run with the lesson in `text` (a lesson file's JSON; `id` is its file
    /// name without `.json`): its settings, with its whole script as the remembered future,
    /// shown at its start. Returns the lesson as the page shows it: `{id, title, summary,
    /// steps: [{title, text, start, end, predict: {question, choices, answer, explain},
    /// after}]}`. A lesson that cannot be used throws, and nothing changes.
    #[wasm_bindgen(js_name = "loadLesson")]
    pub fn load_lesson(&mut self, id: &str, text: &str) -> Result<JsValue, JsError> {
        let lesson = Lesson::from_json(text).map_err(js_error)?;
        within_page(&lesson.settings).map_err(|e| js_error(Error::InvalidLesson(e)))?;
        self.adopt(lesson.timeline().map_err(js_error)?);
        to_js(&lesson.view(id))
    }

    /// The lesson in `text` as the page shows it (see `loadLesson`), without running it: for
    /// a session that was saved in the middle of a lesson.
    #[wasm_bindgen(js_name = "readLesson")]
    pub fn read_lesson(id: &str, text: &str) -> Result<JsValue, JsError> {
        let lesson = Lesson::from_json(text).map_err(js_error)?;
        to_js(&lesson.view(id))
    }
}

fn flag(options: &JsValue, name: &str) -> Result<bool, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(false);
    }
    if !options.is_object() {
        return Err(js_error(format!(
            "options must be an object such as {{ {name}: true }}, not {}",
            describe(options)
        )));
    }
    // A misspelt option must not be taken for "no": `{oneway: true}` would cut both ways.
    for key in js_sys::Object::keys(options.unchecked_ref::<js_sys::Object>()).iter() {
        let key = key.as_string().unwrap_or_default();
        if key != name {
            let shown: String = key.chars().take(40).collect();
            return Err(js_error(format!(
                "unknown option \"{shown}\": the only option here is {name}"
            )));
        }
    }
    let value = js_sys::Reflect::get(options, &JsValue::from_str(name))
        .map_err(|_| js_error(format!("could not read option {name}")))?;
    if value.is_undefined() {
        return Ok(false);
    }
    value.as_bool().ok_or_else(|| {
        js_error(format!(
            "option {name} must be true or false, not {}",
            describe(&value)
        ))
    })
}

fn one_way(options: &JsValue) -> Result<bool, JsError> {
    flag(options, "oneWay")
}

/// A kept event with its number in the run's trace and its position (events handled by then).
#[derive(Serialize)]
struct Numbered<'a> {
    index: u64,
    position: u64,
    #[serde(flatten)]
    event: &'a crate::TraceEvent,
}

fn numbered(trace: &crate::trace::Trace) -> impl Iterator<Item = Numbered<'_>> {
    let first = trace.count() - trace.recent().len() as u64;
    trace
        .recent()
        .iter()
        .zip(trace.positions())
        .enumerate()
        .map(move |(i, (event, position))| Numbered {
            index: first + i as u64,
            position: *position,
            event,
        })
}

fn event_filter(value: JsValue, nodes: u32) -> Result<EventFilter, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(EventFilter::default());
    }
    let filter: EventFilter = from_js("filter", value)?;
    filter.check(nodes).map_err(js_error)?;
    Ok(filter)
}
