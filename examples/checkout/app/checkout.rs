//! One checkout: a scope with a deadline that runs four tasks.
//!
//! ```text
//! validate ──> reserve ──┐
//!     └──────> charge ───┴──> confirm
//! ```
//!
//! `reserve` and `charge` run at the same time. Before any task starts, the scope registers a
//! compensation resource. It is released when the scope ends, on every path, and undoes
//! whatever the checkout did unless the order was confirmed: it gives a held reservation's
//! stock back and refunds the order. An order is confirmed, a reservation taken and a charge
//! started only while the compensation has not run (each checks under the same lock), so
//! stock and payments agree whichever step fails, times out or is cancelled.

use std::sync::Arc;
use std::time::Duration;

use ractor_scope::{BreakerError, Context, Resource, ScopeError, Task, TaskError};

use super::cart::Cart;
use super::db::{self, Order, PricedCart};
use super::error::CheckoutError;
use super::payment::{ChargeRequest, PaymentError};
use super::Shared;

/// The steps a checkout has taken so far, shared by its tasks and its compensation.
#[derive(Debug, Default)]
struct Progress {
    /// A reservation is held in the database.
    reserved: bool,
    /// A charge request may have reached the backend.
    charge_started: bool,
    /// The order is committed; nothing is undone.
    confirmed: Option<Order>,
    /// The compensation ran: no step may take stock, charge or confirm any more.
    closed: bool,
}

/// The progress of one checkout behind an async lock. `reserve` and `confirm` move their guard
/// into the blocking SQLite work, so it is held for the whole transaction even when the task is
/// cancelled meanwhile, and waiting for it never blocks a runtime thread.
#[derive(Debug, Default)]
struct OrderState {
    progress: Arc<tokio::sync::Mutex<Progress>>,
}

impl OrderState {
    async fn lock(&self) -> tokio::sync::MutexGuard<'_, Progress> {
        self.progress.lock().await
    }

    async fn lock_owned(&self) -> tokio::sync::OwnedMutexGuard<Progress> {
        Arc::clone(&self.progress).lock_owned().await
    }
}

/// Undoes a checkout that did not confirm its order.
struct Compensation {
    order_id: String,
    state: Arc<OrderState>,
    shared: Arc<Shared>,
}

impl Resource for Compensation {
    type Error = CheckoutError;

    async fn release(self) -> Result<(), CheckoutError> {
        let (reserved, charge_started) = {
            let mut progress = self.state.lock().await;
            progress.closed = true;
            if progress.confirmed.is_some() {
                return Ok(());
            }
            (progress.reserved, progress.charge_started)
        };
        // The two steps are independent, so a database that stays locked does not keep the
        // customer's money, and a payment backend that is down does not keep the stock.
        let restock = async {
            if reserved {
                self.restock().await
            } else {
                Ok(())
            }
        };
        let refund = async {
            if charge_started {
                self.shared
                    .payments
                    .refund(&self.order_id)
                    .await
                    .map_err(|error| {
                        CheckoutError::PaymentFailed(format!("refund failed: {error}"))
                    })
            } else {
                Ok(())
            }
        };
        let (restocked, refunded) = tokio::join!(restock, refund);
        for error in [&restocked, &refunded]
            .into_iter()
            .filter_map(|outcome| outcome.as_ref().err())
        {
            tracing::error!(order.id = %self.order_id, %error, "checkout compensation failed");
        }
        restocked.and(refunded)
    }

    fn name(&self) -> &str {
        "checkout compensation"
    }
}

impl Compensation {
    /// Gives the held stock back, retrying while the database is busy. The manager's release
    /// timeout (`--release-timeout`) bounds the retries.
    async fn restock(&self) -> Result<(), CheckoutError> {
        loop {
            let attempt = async {
                let mut connection = self
                    .shared
                    .pool
                    .acquire(self.shared.settings.acquire_timeout)
                    .await
                    .map_err(|error| CheckoutError::DatabaseBusy(error.to_string()))?;
                let order_id = self.order_id.clone();
                tokio::task::spawn_blocking(move || db::release(&mut connection, &order_id))
                    .await
                    .map_err(|error| CheckoutError::Internal(error.to_string()))?
                    .map_err(CheckoutError::from)
            };
            match attempt.await {
                Ok(_) => return Ok(()),
                Err(error @ CheckoutError::DatabaseBusy(_)) => {
                    tracing::warn!(order.id = %self.order_id, %error, "restock retried");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// Takes a pooled connection for a task.
async fn connection_for(
    shared: &Shared,
    ctx: &Context,
) -> Result<ractor_scope::Pooled<rusqlite::Connection>, CheckoutError> {
    shared.pool.acquire(ctx).await.map_err(|error| match error {
        ractor_scope::PoolError::Cancelled { .. } => CheckoutError::Cancelled,
        error => CheckoutError::DatabaseBusy(error.to_string()),
    })
}

/// Runs blocking database work on a pooled connection, for a task.
async fn with_connection<R, F>(shared: &Shared, ctx: &Context, work: F) -> Result<R, CheckoutError>
where
    R: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection) -> Result<R, CheckoutError> + Send + 'static,
{
    let mut connection = connection_for(shared, ctx).await?;
    tokio::task::spawn_blocking(move || work(&mut connection))
        .await
        .map_err(|error| CheckoutError::Internal(error.to_string()))?
}

/// Runs blocking database work that changes the checkout's progress, holding its lock until
/// the work is done (also when the task is cancelled while it runs).
async fn with_connection_and_progress<R, F>(
    shared: &Shared,
    ctx: &Context,
    state: &OrderState,
    work: F,
) -> Result<R, CheckoutError>
where
    R: Send + 'static,
    F: FnOnce(&mut rusqlite::Connection, &mut Progress) -> Result<R, CheckoutError>
        + Send
        + 'static,
{
    let mut connection = connection_for(shared, ctx).await?;
    let mut progress = state.lock_owned().await;
    tokio::task::spawn_blocking(move || work(&mut connection, &mut progress))
        .await
        .map_err(|error| CheckoutError::Internal(error.to_string()))?
}

/// Places an order for `cart`.
///
/// # Errors
///
/// [`CheckoutError`] saying which step failed first.
pub async fn run(shared: Arc<Shared>, cart: Cart) -> Result<Order, CheckoutError> {
    let order_id = shared.next_order_id();
    let state = Arc::new(OrderState::default());
    let deadline = shared.settings.deadline;
    let outcome = shared
        .manager
        .with_timeout("checkout", deadline, |scope| {
            let shared = Arc::clone(&shared);
            let state = Arc::clone(&state);
            let order_id = order_id.clone();
            async move {
                scope.register(Compensation {
                    order_id: order_id.clone(),
                    state: Arc::clone(&state),
                    shared: Arc::clone(&shared),
                })?;
                let cart = Arc::new(cart);

                let validate = scope.spawn(validate(&shared, &cart))?;
                let reserve =
                    scope.spawn(reserve(&shared, &state, &order_id, &validate).after(&validate))?;
                let charge = scope.spawn(
                    charge(&shared, &state, &order_id, &cart, &validate)
                        .after(&validate)
                        .timeout(shared.settings.charge_timeout),
                )?;
                let confirm = scope.spawn(
                    confirm(&shared, &state, &order_id, &cart, &validate, &charge)
                        .after(&reserve)
                        .after(&charge),
                )?;
                scope.wait().await?;
                Ok(confirm)
            }
        })
        .await;

    // The compensation has run by now (the scope has finished), so the state is final. An
    // order confirmed just as the deadline passed is kept.
    let confirmed = state.lock().await.confirmed.clone();
    if let Some(order) = confirmed {
        return Ok(order);
    }
    match outcome {
        Ok(confirm) => confirm.into_inner().map_err(CheckoutError::from),
        Err(error) => Err(classify(&error, shared.settings.charge_timeout)),
    }
}

/// Maps the scope's error (the first failure) to the checkout error the client receives.
fn classify(error: &ScopeError, charge_timeout: Duration) -> CheckoutError {
    if let Some(error) = error.downcast_ref::<CheckoutError>() {
        return error.clone();
    }
    match error {
        ScopeError::TimedOut { timeout, .. } => CheckoutError::DeadlinePassed(*timeout),
        ScopeError::TaskFailed {
            source: TaskError::TimedOut { .. },
            ..
        } => CheckoutError::ChargeTimedOut(charge_timeout),
        other => CheckoutError::Internal(other.to_string()),
    }
}

fn validate(shared: &Arc<Shared>, cart: &Arc<Cart>) -> Task<PricedCart> {
    let shared = Arc::clone(shared);
    let cart = Arc::clone(cart);
    Task::new("validate", move |ctx: Context| async move {
        with_connection(&shared, &ctx, move |connection| {
            db::price(connection, &cart.lines)
        })
        .await
    })
}

fn reserve(
    shared: &Arc<Shared>,
    state: &Arc<OrderState>,
    order_id: &str,
    validate: &ractor_scope::TaskHandle<PricedCart>,
) -> Task<()> {
    let shared = Arc::clone(shared);
    let state = Arc::clone(state);
    let order_id = order_id.to_string();
    let validate = validate.clone();
    Task::new("reserve", move |ctx: Context| async move {
        let priced = ctx.dependency(&validate)?;
        with_connection_and_progress(&shared, &ctx, &state, move |connection, progress| {
            // The lock is held over the transaction, so the compensation either finds the
            // reservation or prevents it from being taken.
            if progress.closed {
                return Err(CheckoutError::Cancelled);
            }
            db::reserve(connection, &order_id, &priced.lines)?;
            progress.reserved = true;
            Ok(())
        })
        .await
    })
}

fn charge(
    shared: &Arc<Shared>,
    state: &Arc<OrderState>,
    order_id: &str,
    cart: &Arc<Cart>,
    validate: &ractor_scope::TaskHandle<PricedCart>,
) -> Task<String> {
    let shared = Arc::clone(shared);
    let state = Arc::clone(state);
    let order_id = order_id.to_string();
    let cart = Arc::clone(cart);
    let validate = validate.clone();
    Task::new("charge", move |ctx: Context| async move {
        let priced = ctx.dependency(&validate)?;
        {
            let mut progress = state.lock().await;
            if progress.closed {
                return Err(CheckoutError::Cancelled);
            }
            progress.charge_started = true;
        }
        let request = ChargeRequest {
            order_id,
            amount_cents: priced.total_cents,
            payment_token: cart.payment_token.clone(),
        };
        let payments = shared.payments.clone();
        let charged = shared
            .breaker
            .call_with(&ctx, move || async move { payments.charge(request).await })
            .await;
        charged.map_err(|error| payment_error(&shared, error))
    })
}

fn payment_error(shared: &Shared, error: BreakerError<PaymentError>) -> CheckoutError {
    match error {
        BreakerError::Open { state, .. } => CheckoutError::PaymentUnavailable {
            reason: format!("circuit breaker is {state}"),
            retry_after: shared.retry_after(),
        },
        BreakerError::Failed(PaymentError::Declined(reason)) => CheckoutError::Declined(reason),
        BreakerError::Failed(PaymentError::ClientDown(reason)) => {
            CheckoutError::PaymentUnavailable {
                reason: format!("payment client is not running: {reason}"),
                retry_after: Duration::from_millis(500),
            }
        }
        BreakerError::Failed(error) => CheckoutError::PaymentFailed(error.to_string()),
        BreakerError::TimedOut { timeout, .. } => CheckoutError::PaymentFailed(format!(
            "payment backend did not answer within {timeout:?}"
        )),
        BreakerError::Cancelled { .. } => CheckoutError::Cancelled,
        other => CheckoutError::PaymentFailed(other.to_string()),
    }
}

fn confirm(
    shared: &Arc<Shared>,
    state: &Arc<OrderState>,
    order_id: &str,
    cart: &Arc<Cart>,
    validate: &ractor_scope::TaskHandle<PricedCart>,
    charge: &ractor_scope::TaskHandle<String>,
) -> Task<Order> {
    let shared = Arc::clone(shared);
    let state = Arc::clone(state);
    let order_id = order_id.to_string();
    let cart = Arc::clone(cart);
    let validate = validate.clone();
    let charge = charge.clone();
    Task::new("confirm", move |ctx: Context| async move {
        let priced = ctx.dependency(&validate)?;
        let charge_id = ctx.dependency(&charge)?;
        let order = Order {
            order_id,
            user_id: cart.user_id.clone(),
            total_cents: priced.total_cents,
            charge_id: charge_id.as_ref().clone(),
        };
        with_connection_and_progress(&shared, &ctx, &state, move |connection, progress| {
            if progress.closed {
                return Err(CheckoutError::Cancelled);
            }
            db::confirm(connection, &order)?;
            progress.confirmed = Some(order.clone());
            Ok(order)
        })
        .await
    })
}
