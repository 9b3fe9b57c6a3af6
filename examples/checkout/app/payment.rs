//! The payment side: a small payment backend (an HTTP service of its own, with switchable
//! faults) and the payment client, a ractor actor run under a supervised scope.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ractor::rpc::CallResult;
use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort};
use ractor_scope::{BoxError, ChildSpec};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::task::{JoinHandle, JoinSet};

/// The payment backend's behaviour for charges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Charges succeed (the token `tok_declined` is declined).
    Ok,
    /// Charges fail with 503.
    Fail,
    /// Charges never get a response.
    Hang,
    /// Charges succeed after the configured latency.
    Slow,
    /// Charges get a malformed response, which makes the payment client crash.
    Crash,
}

/// A charge as the backend receives it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChargeRequest {
    /// The order being paid; charges are idempotent per order.
    pub order_id: String,
    /// The amount, in cents.
    pub amount_cents: i64,
    /// The customer's payment token.
    pub payment_token: String,
}

/// The backend's record of money taken: charges not refunded, by order id.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Amount in cents of every charge that was not refunded, by order id.
    pub charged: BTreeMap<String, i64>,
    /// Charges refunded, plus refunds that arrived before (or instead of) their charge.
    pub refunded: u64,
    /// Charge requests received, in every mode.
    pub charge_requests: u64,
}

/// A mode switch, as `POST /mode` takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModeSwitch {
    /// The new mode.
    pub mode: Mode,
    /// Number of charge requests the mode lasts for before the backend goes back to `ok`.
    /// Default: until the next switch.
    #[serde(default)]
    pub times: Option<u32>,
}

#[derive(Debug)]
struct BackendBook {
    mode: Mode,
    remaining: Option<u32>,
    charged: BTreeMap<String, i64>,
    /// Orders refunded. A charge for one of them is rejected, so a charge that reaches the
    /// backend after the shop gave up on it (and refunded) never takes money.
    refunded: BTreeSet<String>,
    charge_requests: u64,
}

struct BackendState {
    book: Mutex<BackendBook>,
    latency: Duration,
}

impl BackendState {
    fn book(&self) -> std::sync::MutexGuard<'_, BackendBook> {
        self.book.lock().expect("backend book lock poisoned")
    }
}

/// The payment backend: an HTTP service on 127.0.0.1.
pub struct Backend {
    addr: SocketAddr,
    server: JoinHandle<()>,
}

impl Backend {
    /// Starts the backend on `127.0.0.1:port` (0 lets the OS choose) in `mode`.
    pub async fn start(port: u16, mode: Mode, latency: Duration) -> std::io::Result<Backend> {
        let state = Arc::new(BackendState {
            book: Mutex::new(BackendBook {
                mode,
                remaining: None,
                charged: BTreeMap::new(),
                refunded: BTreeSet::new(),
                charge_requests: 0,
            }),
            latency,
        });
        let router = Router::new()
            .route("/charge", post(charge))
            .route("/refund", post(refund))
            .route("/ledger", get(ledger))
            .route("/mode", get(current_mode).post(switch_mode))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::error!(%error, "payment backend stopped");
            }
        });
        Ok(Backend { addr, server })
    }

    /// Returns the base URL of the backend.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the backend; requests still open (a hanging charge) are dropped.
    pub fn stop(&self) {
        self.server.abort();
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, Json(json!({ "error": text }))).into_response()
}

async fn charge(
    State(state): State<Arc<BackendState>>,
    Json(request): Json<ChargeRequest>,
) -> Response {
    if request.order_id.is_empty() || request.amount_cents <= 0 {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a charge needs an order_id and a positive amount_cents",
        );
    }
    let mode = {
        let mut book = state.book();
        book.charge_requests += 1;
        let mode = book.mode;
        if let Some(remaining) = book.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
            if *remaining == 0 {
                book.mode = Mode::Ok;
                book.remaining = None;
            }
        }
        mode
    };
    match mode {
        Mode::Fail => {
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                "payment backend is failing (injected fault)",
            )
        }
        Mode::Hang => std::future::pending::<()>().await,
        Mode::Crash => return Json(json!({ "status": "corrupted" })).into_response(),
        Mode::Slow => tokio::time::sleep(state.latency).await,
        Mode::Ok => {}
    }
    if request.payment_token == "tok_declined" {
        return message(StatusCode::PAYMENT_REQUIRED, "card declined");
    }
    let mut book = state.book();
    if book.refunded.contains(&request.order_id) {
        return message(StatusCode::CONFLICT, "order was cancelled and refunded");
    }
    book.charged
        .insert(request.order_id.clone(), request.amount_cents);
    Json(json!({ "charge_id": format!("ch_{}", request.order_id) })).into_response()
}

#[derive(Deserialize)]
struct RefundRequest {
    order_id: String,
}

async fn refund(
    State(state): State<Arc<BackendState>>,
    Json(request): Json<RefundRequest>,
) -> Response {
    let mut book = state.book();
    let was_charged = book.charged.remove(&request.order_id).is_some();
    book.refunded.insert(request.order_id);
    Json(json!({ "refunded": was_charged })).into_response()
}

async fn ledger(State(state): State<Arc<BackendState>>) -> Json<Ledger> {
    let book = state.book();
    Json(Ledger {
        charged: book.charged.clone(),
        refunded: book.refunded.len() as u64,
        charge_requests: book.charge_requests,
    })
}

async fn current_mode(State(state): State<Arc<BackendState>>) -> Json<ModeSwitch> {
    let book = state.book();
    Json(ModeSwitch {
        mode: book.mode,
        times: book.remaining,
    })
}

async fn switch_mode(
    State(state): State<Arc<BackendState>>,
    Json(switch): Json<ModeSwitch>,
) -> Response {
    if switch.times == Some(0) {
        return message(
            StatusCode::UNPROCESSABLE_ENTITY,
            "times 0 is invalid; use 1 or more, or leave it out for no limit",
        );
    }
    let mut book = state.book();
    book.mode = switch.mode;
    book.remaining = switch.times;
    tracing::info!(payment.mode = ?switch.mode, payment.times = ?switch.times, "payment backend mode switched");
    Json(switch).into_response()
}

/// The reasons a payment call fails.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PaymentError {
    /// The backend declined the card; a business outcome, not a fault of the backend.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The backend rejected the charge because the order was already refunded.
    #[error("charge rejected: {0}")]
    Rejected(String),
    /// The backend responded with an error status.
    #[error("payment backend responded with status {status}: {message}")]
    Backend {
        /// HTTP status.
        status: u16,
        /// The backend's message.
        message: String,
    },
    /// The request did not reach the backend or its response did not come back.
    #[error("payment backend unreachable: {0}")]
    Transport(String),
    /// The backend's response broke the protocol, and the client crashes on it.
    #[error("payment backend broke the protocol: {0}")]
    Protocol(String),
    /// No payment client is running (it is being restarted).
    #[error("payment client is not running: {0}")]
    ClientDown(String),
}

impl PaymentError {
    /// Returns whether the error reflects the backend's health, and so counts
    /// against the circuit breaker. A declined card does not, and neither does a payment
    /// client that is being restarted: the breaker protects the backend, not the client.
    pub fn is_fault(&self) -> bool {
        !matches!(
            self,
            PaymentError::Declined(_) | PaymentError::Rejected(_) | PaymentError::ClientDown(_)
        )
    }
}

/// Messages of the payment client actor.
pub enum ClientMessage {
    /// Charge and reply with the charge id.
    Charge(ChargeRequest, RpcReplyPort<Result<String, PaymentError>>),
    /// A charge saw a protocol violation: the actor fails, and its supervisor restarts it.
    Crash(String),
}

#[cfg(feature = "cluster")]
impl ractor::Message for ClientMessage {}

struct ClientActor;

struct ClientState {
    http: reqwest::Client,
    base: String,
    /// Charges in flight. Dropping the state (on any exit of the actor) aborts them, and their
    /// callers see the reply port closed.
    in_flight: JoinSet<()>,
}

impl Actor for ClientActor {
    type Msg = ClientMessage;
    type State = ClientState;
    type Arguments = (reqwest::Client, String);

    async fn pre_start(
        &self,
        _myself: ActorRef<ClientMessage>,
        (http, base): (reqwest::Client, String),
    ) -> Result<ClientState, ActorProcessingErr> {
        Ok(ClientState {
            http,
            base,
            in_flight: JoinSet::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<ClientMessage>,
        message: ClientMessage,
        state: &mut ClientState,
    ) -> Result<(), ActorProcessingErr> {
        while state.in_flight.try_join_next().is_some() {}
        match message {
            ClientMessage::Charge(request, reply) => {
                // Each charge runs in its own tokio task, so a slow backend does not hold up
                // the mailbox.
                let http = state.http.clone();
                let url = format!("{}/charge", state.base);
                state.in_flight.spawn(async move {
                    let outcome = post_charge(&http, &url, &request).await;
                    if let Err(PaymentError::Protocol(reason)) = &outcome {
                        let _ = myself.cast(ClientMessage::Crash(reason.clone()));
                    }
                    let _ = reply.send(outcome);
                });
                Ok(())
            }
            ClientMessage::Crash(reason) => Err(format!("payment client crashed: {reason}").into()),
        }
    }
}

async fn post_charge(
    http: &reqwest::Client,
    url: &str,
    request: &ChargeRequest,
) -> Result<String, PaymentError> {
    let response = http
        .post(url)
        .json(request)
        .send()
        .await
        .map_err(|error| PaymentError::Transport(error.to_string()))?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|error| PaymentError::Protocol(format!("unreadable response: {error}")))?;
    let text = || {
        body.get("error")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no message")
            .to_string()
    };
    match status.as_u16() {
        200 => body
            .get("charge_id")
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| PaymentError::Protocol(format!("response without a charge_id: {body}"))),
        402 => Err(PaymentError::Declined(text())),
        409 => Err(PaymentError::Rejected(text())),
        status => Err(PaymentError::Backend {
            status,
            message: text(),
        }),
    }
}

/// The payment client. Charges go through its actor, which a supervised scope restarts when it
/// crashes. Refunds go straight to the backend, so compensation never waits for a restart.
#[derive(Clone)]
pub struct PaymentClient {
    /// The running actor, replaced at every restart.
    actor: Arc<RwLock<Option<ActorRef<ClientMessage>>>>,
    http: reqwest::Client,
    base: String,
}

impl PaymentClient {
    /// Creates a client of the backend at `base`, whose HTTP requests time out after `timeout`.
    pub fn new(base: String, timeout: Duration) -> Result<PaymentClient, BoxError> {
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(PaymentClient {
            actor: Arc::new(RwLock::new(None)),
            http,
            base,
        })
    }

    /// Returns the child specification that starts (and restarts) the client's actor under
    /// a supervised scope.
    pub fn child_spec(&self) -> ChildSpec {
        let client = self.clone();
        ChildSpec::actor("payment-client", move |supervisor: ActorCell| {
            let client = client.clone();
            async move {
                let arguments = (client.http.clone(), client.base.clone());
                let (actor, _) =
                    Actor::spawn_linked(None, ClientActor, arguments, supervisor).await?;
                let cell = actor.get_cell();
                *client.actor.write().expect("payment client lock poisoned") = Some(actor);
                Ok::<_, BoxError>(cell)
            }
        })
    }

    /// Charges through the running actor.
    ///
    /// # Errors
    ///
    /// [`PaymentError`]; [`PaymentError::ClientDown`] when the actor is not running or stops
    /// while the charge runs.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future abandons the charge; the backend may still take it, so the caller
    /// must refund the order when it gives up.
    pub async fn charge(&self, request: ChargeRequest) -> Result<String, PaymentError> {
        let actor = self
            .actor
            .read()
            .expect("payment client lock poisoned")
            .clone()
            .ok_or_else(|| PaymentError::ClientDown("not started yet".to_string()))?;
        match actor
            .call(|reply| ClientMessage::Charge(request, reply), None)
            .await
        {
            Ok(CallResult::Success(outcome)) => outcome,
            Ok(_) => Err(PaymentError::ClientDown(
                "it stopped while the charge ran".to_string(),
            )),
            Err(_) => Err(PaymentError::ClientDown("it is restarting".to_string())),
        }
    }

    /// Refunds `order_id`, retrying a few times. A refund before the charge (or instead of
    /// it) makes the backend reject that charge later.
    ///
    /// # Errors
    ///
    /// The last [`PaymentError`] when every attempt failed.
    pub async fn refund(&self, order_id: &str) -> Result<(), PaymentError> {
        let url = format!("{}/refund", self.base);
        let mut last = None;
        for attempt in 0..4u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
            let sent = self
                .http
                .post(&url)
                .json(&json!({ "order_id": order_id }))
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    last = Some(PaymentError::Backend {
                        status: response.status().as_u16(),
                        message: "refund failed".to_string(),
                    })
                }
                Err(error) => last = Some(PaymentError::Transport(error.to_string())),
            }
        }
        Err(last.expect("at least one attempt ran"))
    }

    /// Returns whether the client's actor takes charges now.
    ///
    /// A freshly spawned actor counts: ractor reports it as `Starting` until its message loop
    /// first runs, which may be after `spawn` returns, and it queues the charges sent meanwhile.
    pub fn is_running(&self) -> bool {
        self.actor
            .read()
            .expect("payment client lock poisoned")
            .as_ref()
            .is_some_and(|actor| {
                matches!(
                    actor.get_status(),
                    ractor::ActorStatus::Starting | ractor::ActorStatus::Running
                )
            })
    }
}
