//! A faithful stand-in for the ElevenLabs Conversational AI service, for tests, benchmarks and
//! the official SDK's conformance run (`parlor dev fake-elevenlabs`).
//!
//! It is a real HTTP/WebSocket server (axum) that speaks the protocol of
//! `shared/ELEVENLABS.md`: `GET /v1/convai/conversation?agent_id=…` upgrades to the
//! conversation socket, `GET /v1/convai/conversation/get-signed-url` checks `xi-api-key` and
//! hands out a single-use signed URL pointing back at itself. What happens inside a
//! conversation (metadata first, pings, turn detection, bursty replies, barge-in with stale
//! chunks and id reuse, tool calls, failure modes, streaming echo) lives in [`conversation`].
//! Everything the double saw is kept in [`Observed`] for tests to inspect. It never calls out.

pub mod cli;
mod conversation;
mod turns;

use axum::Router;
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use parlor::voice::agents::AgentError;
use parlor::voice::agents::elevenlabs::protocol::{ClientMessage, InitiationData};
use parlor::voice::core::vad::VadConfig;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A failure to act out, for tests of the client's error handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Failure {
    #[default]
    None,
    /// Answer the WebSocket upgrade with HTTP 503.
    RefuseConnection,
    /// Send an `error` message (unless the code is 1000), then close with `code`.
    CloseAfter { code: u16, after: Duration },
    /// Stop sending anything (pings included) but keep the socket open and reading.
    StallAfter(Duration),
    /// Drop the TCP connection without a close frame.
    DropAfter(Duration),
}

/// How the fake agent behaves.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    /// Only this agent id is accepted (404 otherwise); `None` accepts any.
    pub agent_id: Option<String>,
    /// A private agent: the conversation needs a signed URL, which needs this `xi-api-key`.
    pub api_key: Option<String>,
    /// Accept `conversation_config_override` (otherwise close 1008 `override_error`).
    pub allow_overrides: bool,
    /// Formats announced in the metadata.
    pub input_format: String,
    pub output_format: String,
    /// Interval between `ping`s.
    pub ping_interval: Duration,
    /// Pause between the end of the user's turn and the reply.
    pub think_time: Duration,
    /// Length of each synthetic reply (a tone).
    pub reply_ms: u32,
    /// How much faster than real time reply audio is sent.
    pub send_speedup: f64,
    /// Audio chunks of the interrupted reply sent after an `interruption`.
    pub stale_chunks: usize,
    /// The reply after an interruption carries the interruption's own id (as the real
    /// service does; the case that tripped the Python SDK's `<=` rule). Off: it gets the
    /// next id.
    pub reuse_interruption_id: bool,
    /// Speech over a reply that is still playing interrupts it. Off: the double never sends
    /// `interruption` (a service that has streamed its whole reply and is slow to notice);
    /// only the client can stop what it plays.
    pub interrupts: bool,
    /// Send one `client_tool_call` (tool name) this long after the metadata.
    pub tool_call: Option<(String, Duration)>,
    pub failure: Failure,
    /// Benchmarks: every received chunk goes straight back as an `audio` event; no turns.
    pub streaming_echo: bool,
    pub vad: VadConfig,
}

impl Default for FakeConfig {
    fn default() -> Self {
        Self {
            agent_id: None,
            api_key: None,
            allow_overrides: false,
            input_format: "pcm_16000".into(),
            output_format: "pcm_16000".into(),
            ping_interval: Duration::from_secs(2),
            think_time: Duration::from_millis(300),
            reply_ms: 1200,
            send_speedup: 4.0,
            stale_chunks: 3,
            reuse_interruption_id: true,
            interrupts: true,
            tool_call: None,
            failure: Failure::None,
            streaming_echo: false,
            vad: VadConfig::default(),
        }
    }
}

/// A client frame as the double received it.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// A `user_audio_chunk` of this many bytes.
    Audio {
        bytes: usize,
    },
    Message(ClientMessage),
    /// A valid message of a type the double does not know.
    Unknown(String),
    /// Text that is not a valid client message.
    Invalid(String),
}

/// What happened on one conversation socket (each list keeps at most 200,000 entries).
#[derive(Debug, Clone, Default)]
pub struct ConversationLog {
    pub conversation_id: String,
    /// The query string of the upgrade request.
    pub query: String,
    /// Whether the upgrade request carried an `xi-api-key` header (it must not).
    pub api_key_header: bool,
    /// The initiation message, when it was valid.
    pub init: Option<InitiationData>,
    /// Every frame after the initiation message, in order.
    pub received: Vec<Received>,
    /// (ping id, round-trip time) of every answered ping.
    pub pongs: Vec<(u64, Duration)>,
    /// What the double sent: (type, event id), in order (audio included).
    pub sent: Vec<(String, Option<u64>)>,
    /// Close code and reason the double sent, or received from the client.
    pub closed_by_double: Option<(u16, String)>,
    pub closed_by_client: Option<u16>,
    /// Set when the handler returned.
    pub finished: bool,
}

/// Everything the double saw.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Path and query of every HTTP request (upgrades included), to prove no key is in a URL.
    pub request_targets: Vec<String>,
    /// `(key presented, key accepted)` for each signed-URL request.
    pub signed_url_requests: Vec<(bool, bool)>,
    pub conversations: Vec<ConversationLog>,
}

struct Shared {
    config: FakeConfig,
    addr: SocketAddr,
    observed: Mutex<Observed>,
    signatures: Mutex<HashSet<String>>,
}

impl Shared {
    fn observe<R>(&self, f: impl FnOnce(&mut Observed) -> R) -> R {
        f(&mut self.observed.lock().expect("observed lock"))
    }
}

/// A running double. Dropping it stops the server.
pub struct FakeElevenLabs {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeElevenLabs {
    /// Binds `listen` (use `127.0.0.1:0` in tests) and serves until dropped.
    pub async fn start(config: FakeConfig, listen: SocketAddr) -> Result<Self, AgentError> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            config,
            addr,
            observed: Mutex::default(),
            signatures: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/convai/conversation", get(upgrade))
            .route("/v1/convai/conversation/get-signed-url", get(signed_url))
            .with_state(shared.clone());
        // Audio chunks are small writes: like the real service, never hold them for an ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { addr, shared, task })
    }

    /// Binds `127.0.0.1:0` (a free port chosen by the OS): what tests want.
    pub async fn start_local(config: FakeConfig) -> Result<Self, AgentError> {
        Self::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to configure a client with (`ws://127.0.0.1:PORT`).
    pub fn base_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A copy of everything observed so far.
    pub fn observed(&self) -> Observed {
        self.shared.observe(|o| o.clone())
    }

    /// Polls until `pick` holds (every 5 ms), or gives up after `limit`.
    pub async fn wait_for(&self, limit: Duration, pick: impl Fn(&Observed) -> bool) -> Observed {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let o = self.observed();
            if pick(&o) || tokio::time::Instant::now() >= deadline {
                return o;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for FakeElevenLabs {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn target(uri: &Uri) -> String {
    uri.path_and_query()
        .map_or_else(|| uri.path().to_string(), |p| p.to_string())
}

fn wrong_agent(shared: &Shared, q: &HashMap<String, String>) -> bool {
    match &shared.config.agent_id {
        Some(id) => q.get("agent_id") != Some(id),
        None => q.get("agent_id").is_none_or(String::is_empty),
    }
}

async fn signed_url(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let presented = headers.get("xi-api-key").and_then(|v| v.to_str().ok());
    let accepted = match (&shared.config.api_key, presented) {
        (Some(k), Some(p)) => k == p,
        (None, Some(p)) => !p.is_empty(),
        (_, None) => false,
    };
    shared.observe(|o| {
        o.request_targets.push(target(&uri));
        o.signed_url_requests.push((presented.is_some(), accepted));
    });
    if !accepted {
        return (StatusCode::UNAUTHORIZED, "invalid api key").into_response();
    }
    if wrong_agent(&shared, &q) {
        return (StatusCode::NOT_FOUND, "agent not found").into_response();
    }
    let signature = format!("sig_{}", parlor::ids::random_base32::<16>());
    shared
        .signatures
        .lock()
        .expect("signature lock")
        .insert(signature.clone());
    let mut url = url::Url::parse(&format!("ws://{}/v1/convai/conversation", shared.addr))
        .expect("a socket address makes a URL");
    url.query_pairs_mut()
        .append_pair("agent_id", &q["agent_id"])
        .append_pair("conversation_signature", &signature);
    axum::Json(serde_json::json!({ "signed_url": url.as_str() })).into_response()
}

async fn upgrade(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    ws: WebSocketUpgrade,
) -> Response {
    shared.observe(|o| o.request_targets.push(target(&uri)));
    if shared.config.failure == Failure::RefuseConnection {
        return (StatusCode::SERVICE_UNAVAILABLE, "refused (test double)").into_response();
    }
    if wrong_agent(&shared, &q) {
        return (StatusCode::NOT_FOUND, "agent not found").into_response();
    }
    if shared.config.api_key.is_some() {
        let sig = q.get("conversation_signature");
        let valid = sig.is_some_and(|s| shared.signatures.lock().expect("lock").remove(s));
        if !valid {
            return (StatusCode::FORBIDDEN, "signed URL required").into_response();
        }
    }
    let index = shared.observe(|o| {
        let n = o.conversations.len();
        o.conversations.push(ConversationLog {
            conversation_id: format!("conv_fake_{}", n + 1),
            query: uri.query().unwrap_or_default().to_string(),
            api_key_header: headers.contains_key("xi-api-key"),
            ..Default::default()
        });
        n
    });
    ws.max_message_size(16 << 20)
        .read_buffer_size(parlor::voice::agents::elevenlabs::connect::READ_BUFFER)
        .on_upgrade(move |socket| conversation::run(socket, shared, index))
}
