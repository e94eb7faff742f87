//! The HTTP side: the tutorial's routes, kept and mended, the routes between nodes, and the
//! admin routes a teacher uses to break things.
//!
//! | route | what it does |
//! |---|---|
//! | `POST /write` `{"key", "value", "context"?, "w"?, "session"?}` | writes through this node |
//! | `POST /delete` `{"key", "context"?, "w"?, "session"?}` | deletes through this node |
//! | `GET /read/{key}` (`?r=`, `?session=`) | reads through this node |
//! | `GET /store` (`?detail=true`) | everything this node holds |
//! | `GET /status` | the node, its settings and its links |
//! | `GET /events` | what the node does, as Server-Sent Events |
//! | `POST /replicate` | messages from a peer (405 on GET, with a word on how to read) |
//! | `POST /admin/partition`, `/admin/heal`, `/admin/crash`, `/admin/recover`, `/admin/link` | faults |
//!
//! Every refusal is a 4xx or 5xx with `{"status", "error"}`, and changes nothing.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use converge::settings::Consistency;
use converge_replica::clock::CausalContext;
use converge_replica::ids::{MAX_KEY_CHARS, MAX_VALUE_CHARS, NodeId};
use converge_replica::replica::WireMessage;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, oneshot};

use crate::Shared;
use crate::config::Limits;
use crate::core::{Answer, Command, Refusal};
use crate::sessions::Session;
use converge::trace::TraceEvent;

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    inbox: SyncSender<Command>,
    /// Client requests in progress, at most.
    clients: Arc<Semaphore>,
}

/// Requests from peers read at once, at most (a cluster of N nodes sends at most N - 1 batches
/// and N - 1 probes to a node at a time).
const PEER_REQUESTS: usize = 64;

/// The node's routes.
pub fn router(shared: Arc<Shared>, inbox: SyncSender<Command>, limits: &Limits) -> Router {
    let app = App {
        shared,
        inbox,
        clients: Arc::new(Semaphore::new(limits.concurrency.max(1))),
    };
    let client_routes = Router::new()
        .route("/write", post(write).fallback(not_post))
        .route("/delete", post(delete).fallback(not_post))
        .route("/read/{key}", get(read))
        .route("/read/", get(read_without_key))
        .route("/read", get(read_without_key))
        .route("/store", get(store))
        .route("/status", get(status))
        .route("/events", get(events))
        .route("/admin/partition", post(partition))
        .route("/admin/heal", post(heal))
        .route("/admin/crash", post(crash))
        .route("/admin/recover", post(recover))
        .route("/admin/link", post(link))
        .layer(DefaultBodyLimit::max(limits.client_body));
    // Peers send one batch at a time each; a body is read only once one of these few slots is
    // free, so large bodies cannot pile up in memory.
    let peer_routes = Router::new()
        .route("/replicate", post(replicate).get(replicate_get))
        .layer(DefaultBodyLimit::max(limits.peer_body))
        .layer(tower::limit::ConcurrencyLimitLayer::new(PEER_REQUESTS));
    client_routes
        .merge(peer_routes)
        .route("/", get(index))
        .fallback(not_found)
        .with_state(app)
}

fn reply(answer: Answer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Json(answer.body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE || status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

fn refuse(status: u16, word: &str, message: impl Into<String>) -> Response {
    reply(Answer::error(status, word, message))
}

/// Reads a JSON body into `T`, with a message that says what is wrong.
fn parse<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, Response> {
    if body.is_empty() {
        return Err(refuse(
            400,
            "refused",
            format!("the body is empty: send {what} as JSON"),
        ));
    }
    serde_json::from_slice(body).map_err(|e| refuse(400, "refused", format!("{what}: {e}")))
}

fn check_key(key: &str) -> Result<(), Response> {
    let chars = key.chars().count();
    if chars == 0 {
        return Err(refuse(400, "refused", "the key is empty"));
    }
    if chars > MAX_KEY_CHARS {
        return Err(refuse(
            400,
            "refused",
            format!("the key has {chars} characters (at most {MAX_KEY_CHARS})"),
        ));
    }
    Ok(())
}

impl App {
    /// Hands a client's command to the core and waits for its answer.
    async fn ask(&self, make: impl FnOnce(oneshot::Sender<Answer>) -> Command) -> Response {
        let Ok(_slot) = self.clients.clone().try_acquire_owned() else {
            return refuse(
                429,
                "busy",
                "too many requests in progress at this node: try again shortly",
            );
        };
        let (tx, rx) = oneshot::channel();
        match self.inbox.try_send(make(tx)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return refuse(503, "busy", "the node's inbox is full: try again shortly");
            }
            Err(TrySendError::Disconnected(_)) => {
                return refuse(503, "stopping", "the node is stopping");
            }
        }
        match rx.await {
            Ok(answer) => reply(answer),
            Err(_) => refuse(503, "stopping", "the node is stopping"),
        }
    }

    fn crashed(&self) -> Option<Response> {
        self.shared.crashed.load(Ordering::SeqCst).then(|| {
            refuse(
                503,
                "crashed",
                format!(
                    "node {} is crashed: POST /admin/recover brings it back",
                    self.shared.id.0
                ),
            )
        })
    }

    /// W or R for a request: a number or a level, checked against N.
    fn quorum(&self, level: Option<Consistency>, what: &str) -> Result<Option<u32>, Response> {
        let Some(level) = level else {
            return Ok(None);
        };
        let n = self.shared.replicas;
        let count = level.of(n);
        if !(1..=n).contains(&count) {
            return Err(refuse(
                400,
                "refused",
                format!("{what} = {count}: give 1 to N = {n}, or one, quorum, all"),
            ));
        }
        Ok(Some(count))
    }
}

// ----- Clients -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteBody {
    key: String,
    value: String,
    #[serde(default)]
    context: Option<CausalContext>,
    #[serde(default)]
    w: Option<Consistency>,
    #[serde(default)]
    session: Option<Session>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    key: String,
    #[serde(default)]
    context: Option<CausalContext>,
    #[serde(default)]
    w: Option<Consistency>,
    #[serde(default)]
    session: Option<Session>,
}

fn check_context(context: &Option<CausalContext>, nodes: u32) -> Result<(), Response> {
    let Some(context) = context else {
        return Ok(());
    };
    let bad = context
        .vector()
        .entries()
        .iter()
        .map(|(n, _)| *n)
        .chain(context.cloud().iter().map(|d| d.node))
        .find(|n| !(1..=nodes).contains(&n.0));
    match bad {
        Some(n) => Err(refuse(
            400,
            "refused",
            format!("the context names node {}, not one of 1 to {nodes}", n.0),
        )),
        None => Ok(()),
    }
}

async fn write(State(app): State<App>, body: Bytes) -> Response {
    match parse::<WriteBody>(&body, r#"{"key": "name", "value": "Alice"}"#) {
        Ok(b) => client_write(app, b.key, Some(b.value), b.context, b.w, b.session).await,
        Err(r) => r,
    }
}

async fn delete(State(app): State<App>, body: Bytes) -> Response {
    match parse::<DeleteBody>(&body, r#"{"key": "name"}"#) {
        Ok(b) => client_write(app, b.key, None, b.context, b.w, b.session).await,
        Err(r) => r,
    }
}

/// A write (or, without a value, a delete), checked, handed to the core.
async fn client_write(
    app: App,
    key: String,
    value: Option<String>,
    context: Option<CausalContext>,
    w: Option<Consistency>,
    session: Option<Session>,
) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    let chars = value.as_deref().map_or(0, |v| v.chars().count());
    if chars > MAX_VALUE_CHARS {
        return refuse(
            400,
            "refused",
            format!("the value has {chars} characters (at most {MAX_VALUE_CHARS})"),
        );
    }
    if let Err(r) = check_context(&context, app.shared.nodes) {
        return r;
    }
    if let Err(r) = check_session(&session, app.shared.nodes) {
        return r;
    }
    let w = match app.quorum(w, "w") {
        Ok(w) => w,
        Err(r) => return r,
    };
    if let Some(r) = app.crashed() {
        return r;
    }
    app.ask(|reply| Command::Write {
        key,
        value,
        context,
        w,
        session,
        reply,
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadQuery {
    #[serde(default)]
    r: Option<String>,
    /// The session, as JSON (URL-encoded).
    #[serde(default)]
    session: Option<String>,
}

fn check_session(session: &Option<Session>, nodes: u32) -> Result<(), Response> {
    match session {
        Some(s) => s
            .check(nodes)
            .map_err(|e| refuse(400, "refused", format!("session: {e}"))),
        None => Ok(()),
    }
}

async fn read(
    State(app): State<App>,
    Path(key): Path<String>,
    Query(query): Query<ReadQuery>,
) -> Response {
    if let Err(r) = check_key(&key) {
        return r;
    }
    let session = match query
        .session
        .as_deref()
        .map(serde_json::from_str::<Session>)
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => return refuse(400, "refused", format!("session: {e}")),
    };
    if let Err(r) = check_session(&session, app.shared.nodes) {
        return r;
    }
    let level = match query.r.as_deref().map(|r| {
        serde_json::from_str::<Consistency>(r)
            .or_else(|_| serde_json::from_value::<Consistency>(Value::String(r.to_string())))
    }) {
        None => None,
        Some(Ok(level)) => Some(level),
        Some(Err(e)) => return refuse(400, "refused", format!("r: {e}")),
    };
    let r = match app.quorum(level, "r") {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    if let Some(resp) = app.crashed() {
        return resp;
    }
    app.ask(|reply| Command::Read {
        key,
        r,
        session,
        reply,
    })
    .await
}

async fn read_without_key() -> Response {
    refuse(
        404,
        "refused",
        "name the key in the path: GET /read/name (or /read/name?r=2)",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreQuery {
    #[serde(default)]
    detail: bool,
}

async fn store(State(app): State<App>, Query(query): Query<StoreQuery>) -> Response {
    if let Some(r) = app.crashed() {
        return r;
    }
    app.ask(|reply| Command::Store {
        detail: query.detail,
        reply,
    })
    .await
}

async fn status(State(app): State<App>) -> Response {
    app.ask(|reply| Command::Status { reply }).await
}

async fn events(State(app): State<App>) -> Response {
    let receiver = app.shared.events.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        use tokio::sync::broadcast::error::RecvError;
        let event = match receiver.recv().await {
            Ok(json) => Event::default().data(&*json),
            Err(RecvError::Lagged(missed)) => Event::default()
                .event("lagged")
                .data(format!("{{\"missed\":{missed}}}")),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<Event, Infallible>(event), receiver))
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn index(State(app): State<App>) -> Response {
    Json(json!({
        "node": app.shared.id.0,
        "routes": {
            "POST /write": r#"{"key": "name", "value": "Alice"} (and "context", "w", "session")"#,
            "POST /delete": r#"{"key": "name"} (and "context", "w", "session")"#,
            "GET /read/{key}": "a key's value, siblings and context (?r=2, ?session= a session as JSON)",
            "GET /store": "everything this node holds (?detail=true for every version)",
            "GET /status": "this node, its settings and its links",
            "GET /events": "what this node does, as Server-Sent Events",
            "POST /replicate": "for nodes only",
            "POST /admin/partition": r#"{"peers": [2, 3]} (and "direction": "both", "out" or "in")"#,
            "POST /admin/heal": r#"{} or {"peers": [2]}"#,
            "POST /admin/crash": r#"{} or {"wipe": true}"#,
            "POST /admin/recover": "{}",
            "POST /admin/link": r#"{"peer": 2, "delayMs": 200, "loss": 0.1}"#,
        }
    }))
    .into_response()
}

async fn not_found() -> Response {
    refuse(404, "refused", "no such route: GET / lists them")
}

async fn not_post() -> Response {
    let mut r = refuse(
        405,
        "refused",
        "use POST with a JSON body, e.g. curl -X POST -H 'Content-Type: application/json' -d '{\"key\": \"name\", \"value\": \"Alice\"}' http://localhost:5000/write",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

// ----- Between nodes -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    cluster: String,
    from: u32,
    messages: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    id: u32,
    message: WireMessage,
}

async fn replicate(State(app): State<App>, body: Bytes) -> Response {
    let envelope: Envelope = match parse(&body, "messages from a node of this cluster") {
        Ok(e) => e,
        Err(r) => return r,
    };
    let shared = &app.shared;
    if envelope.cluster != *shared.cluster {
        return refuse(
            400,
            "refused",
            "not a node of this cluster (its settings differ: every node must be started with the same)",
        );
    }
    let from = NodeId(envelope.from);
    let Some(link) = shared.link(from) else {
        return refuse(
            400,
            "refused",
            format!(
                "node {} is not a peer of node {} (peers are 1 to {}, not itself)",
                envelope.from, shared.id.0, shared.nodes
            ),
        );
    };
    if shared.crashed.load(Ordering::SeqCst) {
        return Json(json!({"status": "crashed", "reason": "nodeDown"}))
            .into_response()
            .with_status(StatusCode::SERVICE_UNAVAILABLE);
    }
    if link.cut_in.load(Ordering::Relaxed) {
        return Json(json!({"status": "refused", "reason": "linkCut",
            "error": format!("the link from node {} is cut", from.0)}))
        .into_response()
        .with_status(StatusCode::SERVICE_UNAVAILABLE);
    }
    if envelope.messages.is_empty() {
        // A probe: the peer asks whether it can reach this node.
        return Json(json!({"status": "ok", "accepted": 0})).into_response();
    }
    let (tx, rx) = oneshot::channel();
    let messages = envelope
        .messages
        .into_iter()
        .map(|i| (i.id, i.message))
        .collect();
    match app.inbox.try_send(Command::Deliver {
        from,
        messages,
        reply: tx,
    }) {
        Ok(()) => {}
        Err(_) => {
            return Json(json!({"status": "busy", "reason": "nodeDown"}))
                .into_response()
                .with_status(StatusCode::SERVICE_UNAVAILABLE);
        }
    }
    match rx.await {
        Ok(Ok(accepted)) => Json(json!({"status": "ok", "accepted": accepted})).into_response(),
        Ok(Err(Refusal::Malformed(why))) => refuse(400, "refused", why),
        Ok(Err(Refusal::Crashed)) | Err(_) => {
            Json(json!({"status": "crashed", "reason": "nodeDown"}))
                .into_response()
                .with_status(StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

async fn replicate_get(State(app): State<App>) -> Response {
    let mut r = refuse(
        405,
        "refused",
        format!(
            "/replicate is for nodes: they POST their messages to it. To see what node {} holds, GET /store; to read a key, GET /read/<key> (e.g. curl http://localhost:5000/read/name).",
            app.shared.id.0
        ),
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

trait WithStatus {
    fn with_status(self, status: StatusCode) -> Response;
}

impl WithStatus for Response {
    fn with_status(mut self, status: StatusCode) -> Response {
        *self.status_mut() = status;
        self
    }
}

// ----- Faults -----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionBody {
    peers: Vec<u32>,
    #[serde(default)]
    direction: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct HealBody {
    #[serde(default)]
    peers: Option<Vec<u32>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CrashBody {
    #[serde(default)]
    wipe: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LinkBody {
    peer: u32,
    #[serde(default)]
    delay_ms: Option<u32>,
    #[serde(default)]
    loss: Option<f64>,
}

/// The peers named, checked: each a peer of this node.
fn peers_named(shared: &Shared, ids: &[u32]) -> Result<Vec<NodeId>, Response> {
    if ids.is_empty() {
        return Err(refuse(
            400,
            "refused",
            "name at least one peer: {\"peers\": [2]}",
        ));
    }
    ids.iter()
        .map(|&id| match shared.link(NodeId(id)) {
            Some(_) => Ok(NodeId(id)),
            None => Err(refuse(
                400,
                "refused",
                format!(
                    "{id} is not a peer of node {} (its peers are the nodes 1 to {} but itself)",
                    shared.id.0, shared.nodes
                ),
            )),
        })
        .collect()
}

/// An optional JSON body: empty means the defaults.
fn optional<T: DeserializeOwned + Default>(body: &Bytes, what: &str) -> Result<T, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        Ok(T::default())
    } else {
        parse(body, what)
    }
}

fn link_event(shared: &Shared, from: NodeId, to: NodeId, cut: bool) {
    shared.events.emit(|| TraceEvent::Link {
        time: crate::events::now_ms(),
        from,
        to,
        cut,
    });
}

async fn partition(State(app): State<App>, body: Bytes) -> Response {
    let body: PartitionBody = match parse(&body, r#"{"peers": [2, 3]}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (out, inward) = match body.direction.as_deref() {
        None | Some("both") => (true, true),
        Some("out") => (true, false),
        Some("in") => (false, true),
        Some(other) => {
            return refuse(
                400,
                "refused",
                format!(
                    "direction \"{other}\": give \"both\", \"out\" (to them) or \"in\" (from them)"
                ),
            );
        }
    };
    let peers = match peers_named(&app.shared, &body.peers) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let me = app.shared.id;
    for peer in &peers {
        let link = app.shared.link(*peer).expect("checked");
        if out {
            link.cut_out.store(true, Ordering::Relaxed);
            link.set_up(false);
            link_event(&app.shared, me, *peer, true);
        }
        if inward {
            link.cut_in.store(true, Ordering::Relaxed);
            link_event(&app.shared, *peer, me, true);
        }
    }
    Json(json!({
        "status": "ok",
        "node": me.0,
        "cut": peers.iter().map(|p| p.0).collect::<Vec<_>>(),
        "direction": if out && inward { "both" } else if out { "out" } else { "in" },
    }))
    .into_response()
}

async fn heal(State(app): State<App>, body: Bytes) -> Response {
    let body: HealBody = match optional(&body, r#"{} or {"peers": [2]}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let peers = match &body.peers {
        Some(ids) => match peers_named(&app.shared, ids) {
            Ok(p) => p,
            Err(r) => return r,
        },
        None => app.shared.links.iter().flatten().map(|l| l.peer).collect(),
    };
    let me = app.shared.id;
    for peer in &peers {
        let link = app.shared.link(*peer).expect("checked");
        if link.cut_out.swap(false, Ordering::Relaxed) {
            link_event(&app.shared, me, *peer, false);
        }
        if link.cut_in.swap(false, Ordering::Relaxed) {
            link_event(&app.shared, *peer, me, false);
        }
        link.delay_ms.store(0, Ordering::Relaxed);
        link.loss_ppm.store(0, Ordering::Relaxed);
    }
    Json(json!({
        "status": "ok",
        "node": me.0,
        "healed": peers.iter().map(|p| p.0).collect::<Vec<_>>(),
    }))
    .into_response()
}

async fn crash(State(app): State<App>, body: Bytes) -> Response {
    let body: CrashBody = match optional(&body, r#"{} or {"wipe": true}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    app.ask(|reply| Command::Crash {
        wipe: body.wipe,
        reply,
    })
    .await
}

async fn recover(State(app): State<App>) -> Response {
    app.ask(|reply| Command::Recover { reply }).await
}

async fn link(State(app): State<App>, body: Bytes) -> Response {
    let body: LinkBody = match parse(&body, r#"{"peer": 2, "delayMs": 200, "loss": 0.1}"#) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let peers = match peers_named(&app.shared, &[body.peer]) {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Some(delay) = body.delay_ms
        && delay > 60_000
    {
        return refuse(400, "refused", format!("delayMs {delay}: at most 60000"));
    }
    if let Some(loss) = body.loss
        && !(0.0..=1.0).contains(&loss)
    {
        return refuse(400, "refused", format!("loss {loss}: give 0 to 1"));
    }
    let link = app.shared.link(peers[0]).expect("checked");
    if let Some(delay) = body.delay_ms {
        link.delay_ms.store(delay, Ordering::Relaxed);
    }
    if let Some(loss) = body.loss {
        link.loss_ppm
            .store((loss * 1e6).round() as u32, Ordering::Relaxed);
    }
    Json(json!({
        "status": "ok",
        "node": app.shared.id.0,
        "peer": body.peer,
        "delayMs": link.delay_ms.load(Ordering::Relaxed),
        "loss": f64::from(link.loss_ppm.load(Ordering::Relaxed)) / 1e6,
    }))
    .into_response()
}
