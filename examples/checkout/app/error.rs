//! Every way a checkout can fail, with its HTTP status.

use std::time::Duration;

use axum::http::StatusCode;

/// The reasons a checkout did not place an order. The message is what the client reads.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckoutError {
    /// The body is not JSON.
    #[error("request body is not valid JSON: {0}")]
    MalformedJson(String),
    /// The body is JSON but not a valid cart.
    #[error("invalid cart: {0}")]
    InvalidCart(String),
    /// The body is larger than the limit.
    #[error("request body is larger than {limit} bytes; send a smaller cart")]
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// A product in the cart does not exist.
    #[error("invalid cart: product {0} does not exist")]
    UnknownProduct(i64),
    /// Not enough stock.
    #[error("product {product} has {available} in stock, {requested} requested")]
    OutOfStock {
        /// Product id.
        product: i64,
        /// Quantity requested.
        requested: i64,
        /// Quantity in stock when the checkout looked.
        available: i64,
    },
    /// The payment backend declined the card.
    #[error("payment declined: {0}")]
    Declined(String),
    /// The payment circuit breaker is open, or the payment client is restarting.
    #[error("payment service unavailable: {reason}; retry in {retry_after:?}")]
    PaymentUnavailable {
        /// Why.
        reason: String,
        /// When a retry may succeed.
        retry_after: Duration,
    },
    /// The payment failed or did not respond in time.
    #[error("payment failed: {0}")]
    PaymentFailed(String),
    /// The checkout scope's deadline passed.
    #[error("checkout did not finish within {0:?}; the order was not placed")]
    DeadlinePassed(Duration),
    /// The charge step's own timeout passed.
    #[error("payment step did not finish within {0:?}; the order was not placed")]
    ChargeTimedOut(Duration),
    /// No database connection was free in time.
    #[error("database busy: {0}; retry later")]
    DatabaseBusy(String),
    /// A database error.
    #[error("database error: {0}")]
    Database(String),
    /// The step was cancelled because another step failed first; never the reported error.
    #[error("checkout step cancelled")]
    Cancelled,
    /// A bug: a panic, a task error the service did not expect.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CheckoutError {
    /// Returns the HTTP status of the response to this error.
    pub fn status(&self) -> StatusCode {
        match self {
            CheckoutError::MalformedJson(_) => StatusCode::BAD_REQUEST,
            CheckoutError::InvalidCart(_) | CheckoutError::UnknownProduct(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            CheckoutError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            CheckoutError::OutOfStock { .. } => StatusCode::CONFLICT,
            CheckoutError::Declined(_) => StatusCode::PAYMENT_REQUIRED,
            CheckoutError::PaymentUnavailable { .. } | CheckoutError::DatabaseBusy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            CheckoutError::PaymentFailed(_) => StatusCode::BAD_GATEWAY,
            CheckoutError::DeadlinePassed(_) | CheckoutError::ChargeTimedOut(_) => {
                StatusCode::GATEWAY_TIMEOUT
            }
            CheckoutError::Database(_) | CheckoutError::Cancelled | CheckoutError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }

    /// Returns a stable code for the error, for clients that branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            CheckoutError::MalformedJson(_) => "malformed_json",
            CheckoutError::InvalidCart(_) => "invalid_cart",
            CheckoutError::BodyTooLarge { .. } => "body_too_large",
            CheckoutError::UnknownProduct(_) => "unknown_product",
            CheckoutError::OutOfStock { .. } => "out_of_stock",
            CheckoutError::Declined(_) => "payment_declined",
            CheckoutError::PaymentUnavailable { .. } => "payment_unavailable",
            CheckoutError::PaymentFailed(_) => "payment_failed",
            CheckoutError::DeadlinePassed(_) => "deadline_passed",
            CheckoutError::ChargeTimedOut(_) => "charge_timed_out",
            CheckoutError::DatabaseBusy(_) => "database_busy",
            CheckoutError::Database(_) => "database_error",
            CheckoutError::Cancelled => "cancelled",
            CheckoutError::Internal(_) => "internal_error",
        }
    }

    /// When a retry may succeed, for the `Retry-After` header.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CheckoutError::PaymentUnavailable { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for CheckoutError {
    fn from(error: rusqlite::Error) -> Self {
        // A database locked by another writer past the busy timeout is worth a retry.
        match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                CheckoutError::DatabaseBusy(error.to_string())
            }
            _ => CheckoutError::Database(error.to_string()),
        }
    }
}

impl From<ractor_scope::TaskError> for CheckoutError {
    fn from(error: ractor_scope::TaskError) -> Self {
        CheckoutError::Internal(error.to_string())
    }
}
