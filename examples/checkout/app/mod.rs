//! The checkout service: everything but the command line and the demo driver, so that the
//! integration tests start the same service.

pub mod cart;
pub mod checkout;
pub mod db;
pub mod error;
pub mod http;
pub mod payment;
pub mod settings;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ractor_scope::{
    BoxError, BreakerState, CircuitBreaker, Manager, ManagerConfig, ResourcePool, RestartPolicy,
    Supervisor, SupervisorEvent, SupervisorOptions,
};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::payment::{Backend, PaymentClient, PaymentError};
use self::settings::Settings;

/// Restart policy of the payment client: at most 5 restarts in 10 s, waiting 20 ms, then
/// 40 ms, and so on up to 500 ms between restarts in a row.
const PAYMENT_POLICY: &str = r#"
strategy = "one_for_one"
max_restarts = 5
period = "10s"
reset_after = "5s"

[backoff]
kind = "exponential"
initial = "20ms"
factor = 2.0
max = "500ms"
jitter = 0.1
"#;

/// A breaker transition, as `/stats` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct TransitionRecord {
    /// Milliseconds since the service started.
    pub at_ms: u64,
    /// State before.
    pub from: BreakerState,
    /// State after.
    pub to: BreakerState,
    /// Why.
    pub reason: String,
}

/// State every request handler and checkout shares.
pub struct Shared {
    /// The settings the service runs with.
    pub settings: Settings,
    /// The manager every checkout scope is opened on.
    pub manager: Manager,
    /// SQLite connections.
    pub pool: ResourcePool<rusqlite::Connection>,
    /// The circuit breaker in front of the payment backend.
    pub breaker: CircuitBreaker,
    /// The payment client.
    pub payments: PaymentClient,
    /// Responses by HTTP status.
    pub responses: Mutex<BTreeMap<u16, u64>>,
    /// Breaker transitions, oldest first.
    pub transitions: Mutex<Vec<TransitionRecord>>,
    /// Supervisor decisions about the payment client, oldest first.
    pub supervisor_events: Mutex<Vec<String>>,
    started: Instant,
    run_id: u64,
    next_order: AtomicU64,
}

impl Shared {
    /// Returns a new order id, unique across runs on the same database.
    pub fn next_order_id(&self) -> String {
        let sequence = self.next_order.fetch_add(1, Ordering::Relaxed);
        format!("ord-{:x}-{sequence}", self.run_id)
    }

    /// Returns how long until the breaker lets a trial call through, at least 50 ms.
    pub fn retry_after(&self) -> Duration {
        self.breaker
            .retry_after()
            .unwrap_or_default()
            .max(Duration::from_millis(50))
    }

    /// Appends a decision of the payment client's supervised scope to the log `/stats` shows.
    pub fn record_supervisor_event(&self, line: String) {
        self.supervisor_events
            .lock()
            .expect("supervisor log lock poisoned")
            .push(line);
    }

    /// Counts a response.
    pub fn count_response(&self, status: u16) {
        *self
            .responses
            .lock()
            .expect("response counter lock poisoned")
            .entry(status)
            .or_default() += 1;
    }
}

/// The running service: the HTTP server, the payment backend, and the manager with its pool,
/// breaker and supervised payment client.
pub struct App {
    shared: Arc<Shared>,
    addr: SocketAddr,
    backend: Backend,
    server: JoinHandle<()>,
    stop_server: Option<oneshot::Sender<()>>,
    watchers: Vec<JoinHandle<()>>,
    db_path: PathBuf,
    _db_folder: Option<tempfile::TempDir>,
}

impl App {
    /// Starts the payment backend, the database, the manager, the pool, the breaker, the
    /// supervised payment client and the HTTP server, in that order.
    ///
    /// # Errors
    ///
    /// A message naming the setting or the part that failed to start.
    pub async fn start(settings: Settings) -> Result<App, BoxError> {
        settings.check()?;
        let backend = Backend::start(
            settings.payment_port,
            settings.payment_mode,
            settings.payment_latency,
        )
        .await
        .map_err(|error| format!("payment backend failed to start: {error}"))?;

        let (db_path, db_folder) = match &settings.db {
            Some(path) => (path.clone(), None),
            None => {
                let folder = tempfile::tempdir()?;
                (folder.path().join("shop.sqlite"), Some(folder))
            }
        };
        let path = db_path.clone();
        let busy_timeout = settings.db_busy_timeout;
        let left_held = tokio::task::spawn_blocking(move || db::init(&path, busy_timeout))
            .await?
            .map_err(|error| format!("database {} failed to open: {error}", db_path.display()))?;
        if left_held > 0 {
            tracing::warn!(
                db.path = %db_path.display(),
                db.released = left_held,
                "gave back the stock of reservations a previous run left held"
            );
        }

        let manager = Manager::start(
            ManagerConfig::new("checkout-service").release_timeout(settings.release_timeout),
        )
        .await?;
        let path = db_path.clone();
        let pool = ResourcePool::builder(settings.pool_size, move || {
            let path = path.clone();
            async move {
                tokio::task::spawn_blocking(move || db::open(&path, busy_timeout))
                    .await
                    .map_err(BoxError::from)?
                    .map_err(BoxError::from)
            }
        })
        .name("sqlite")
        .acquire_timeout(settings.acquire_timeout)
        .start()
        .await?;
        // The manager closes the pool at shutdown, after every scope has finished.
        manager.register(pool.clone())?;

        let breaker = CircuitBreaker::builder()
            .name("payments")
            .failure_threshold(settings.breaker_failures)
            .reset_timeout(settings.breaker_reset)
            .reset_backoff(2.0, settings.breaker_reset * 8)
            .call_timeout(settings.breaker_call_timeout)
            .failure_predicate(|error| {
                error
                    .downcast_ref::<PaymentError>()
                    .is_none_or(PaymentError::is_fault)
            })
            .start()
            .await?;

        // The HTTP timeout only bounds charges that the checkout abandoned. At the charge
        // timeout itself it would fire in the same timer tick as the charge step's timeout
        // and could win, turning a 504 into a 502, so it is twice as long.
        let payments =
            PaymentClient::new(backend.url(), settings.charge_timeout.saturating_mul(2))?;
        let policy: RestartPolicy = toml::from_str(PAYMENT_POLICY)?;
        let supervisor = manager
            .supervise(
                SupervisorOptions::new("payments").policy(policy.clone()),
                vec![payments.child_spec()],
            )
            .await?;

        let shared = Arc::new(Shared {
            settings: settings.clone(),
            manager,
            pool,
            breaker,
            payments,
            responses: Mutex::default(),
            transitions: Mutex::default(),
            supervisor_events: Mutex::default(),
            started: Instant::now(),
            run_id: run_id(),
            next_order: AtomicU64::new(1),
        });
        let watchers = vec![
            watch_breaker(Arc::clone(&shared)),
            watch_payments(Arc::clone(&shared), supervisor, policy),
        ];

        let listener = tokio::net::TcpListener::bind(("127.0.0.1", settings.port))
            .await
            .map_err(|error| format!("port {} is not free: {error}", settings.port))?;
        let addr = listener.local_addr()?;
        let (stop_server, stopped) = oneshot::channel::<()>();
        let router = http::router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "checkout service stopped");
            }
        });

        Ok(App {
            shared,
            addr,
            backend,
            server,
            stop_server: Some(stop_server),
            watchers,
            db_path,
            _db_folder: db_folder,
        })
    }

    /// Returns the address of the checkout service.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the base URL of the checkout service.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Returns the base URL of the payment backend.
    pub fn backend_url(&self) -> String {
        self.backend.url()
    }

    /// Returns the path of the database file.
    pub fn db_path(&self) -> &std::path::Path {
        &self.db_path
    }

    /// Returns the state the handlers share.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Reads the database audit on a connection of its own.
    pub async fn audit(&self) -> Result<db::Audit, BoxError> {
        let path = self.db_path.clone();
        let busy_timeout = self.shared.settings.db_busy_timeout;
        let audit =
            tokio::task::spawn_blocking(move || db::audit(&mut db::open(&path, busy_timeout)?))
                .await??;
        Ok(audit)
    }

    /// Stops taking requests, waits for the ones in flight, shuts the manager down (the
    /// payment client first, then the checkout scopes, then the pool) and stops the backend.
    ///
    /// # Errors
    ///
    /// The manager's shutdown error.
    pub async fn shutdown(mut self) -> Result<(), BoxError> {
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        // Requests in flight get as long as one request may take; connections still open
        // after that (a client that stalls mid-body) are cut.
        let grace = self.shared.settings.request_timeout();
        if tokio::time::timeout(grace, &mut self.server).await.is_err() {
            tracing::warn!(
                ?grace,
                "requests still open after the grace period were cut"
            );
            self.server.abort();
        }
        let result = self.shared.manager.shutdown().await;
        for watcher in &self.watchers {
            watcher.abort();
        }
        self.backend.stop();
        result.map_err(BoxError::from)
    }
}

fn run_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or_default()
}

fn watch_breaker(shared: Arc<Shared>) -> JoinHandle<()> {
    let mut events = shared.breaker.events();
    tokio::spawn(async move {
        while let Some(transition) = events.recv().await {
            let now = Instant::now();
            tracing::info!(
                breaker.from = %transition.from,
                breaker.to = %transition.to,
                breaker.reason = %transition.reason,
                "payment breaker changed state"
            );
            shared
                .transitions
                .lock()
                .expect("transition log lock poisoned")
                .push(TransitionRecord {
                    at_ms: now.duration_since(shared.started).as_millis() as u64,
                    from: transition.from,
                    to: transition.to,
                    reason: transition.reason.to_string(),
                });
        }
    })
}

/// How long the service waits before it starts the payment client's supervised scope again
/// after the scope gave up.
const PAYMENT_COOL_DOWN: Duration = Duration::from_secs(2);

/// Records the decisions of the payment client's supervised scope. When the scope gives up
/// (the client crashed faster than its policy allows), the service logs it and starts a new
/// scope after a cool-down, as a parent supervisor would; meanwhile checkouts get 503
/// before any database work. `App::shutdown` stops it after the manager's shutdown.
fn watch_payments(
    shared: Arc<Shared>,
    supervisor: Supervisor,
    policy: RestartPolicy,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut supervisor = supervisor;
        loop {
            let mut events = supervisor.events();
            while let Some(event) = events.recv().await {
                let line = match &event {
                    SupervisorEvent::Restarting {
                        child, exit, delay, ..
                    } => format!("restarting {child} in {delay:?} after {exit:?}"),
                    other => format!("{other:?}"),
                };
                tracing::info!(supervisor.event = %line, "payment supervisor decision");
                shared.record_supervisor_event(line);
                // The handle keeps the event channel open, so a scope that gave up is noticed
                // by its event, not by the end of the channel.
                if matches!(event, SupervisorEvent::GaveUp { .. }) {
                    break;
                }
            }
            match supervisor.wait().await {
                // Stopped by the manager's shutdown.
                Ok(()) => return,
                Err(error) => {
                    tracing::error!(%error, "payment client's supervised scope gave up; starting it again after a cool-down");
                    shared.record_supervisor_event(format!(
                        "gave up ({error}); starting again in {PAYMENT_COOL_DOWN:?}"
                    ));
                }
            }
            tokio::time::sleep(PAYMENT_COOL_DOWN).await;
            let options = SupervisorOptions::new("payments").policy(policy.clone());
            supervisor = match shared
                .manager
                .supervise(options, vec![shared.payments.child_spec()])
                .await
            {
                Ok(supervisor) => supervisor,
                Err(error) => {
                    // The manager is shutting down, or the client cannot start at all.
                    tracing::error!(%error, "payment client's supervised scope did not start again");
                    shared.record_supervisor_event(format!("did not start again: {error}"));
                    return;
                }
            };
        }
    })
}
