//! The HTTP routes of the checkout service.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::error::CheckoutError;
use super::{cart, checkout, db, Shared};

/// The routes: `POST /checkout`, `GET /products`, `GET /stats` and `GET /tree`.
pub fn router(shared: Arc<Shared>) -> Router {
    let limit = shared.settings.max_body;
    Router::new()
        .route("/checkout", post(place_order))
        .route("/products", get(products))
        .route("/stats", get(stats))
        .route("/tree", get(tree))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            bound_request,
        ))
        .with_state(shared)
}

/// Responds with 408 when a request, its body included, is not done within the request timeout, so
/// that a client that stalls mid-body cannot hold a connection (and shutdown) open.
async fn bound_request(
    State(shared): State<Arc<Shared>>,
    request: Request,
    next: Next,
) -> Response {
    let timeout = shared.settings.request_timeout();
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?timeout, "request timed out");
            let body = json!({
                "error": format!("request not completed within {timeout:?}; send the whole body at once"),
                "code": "request_timeout",
            });
            (StatusCode::REQUEST_TIMEOUT, Json(body)).into_response()
        }
    }
}

fn error_response(error: &CheckoutError) -> Response {
    let mut body = json!({ "error": error.to_string(), "code": error.code() });
    let mut response = (error.status(), ()).into_response();
    if let Some(retry_after) = error.retry_after() {
        body["retry_after_ms"] = json!(retry_after.as_millis() as u64);
        // The header counts whole seconds, rounded up.
        let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    let (parts, _) = response.into_parts();
    (parts, Json(body)).into_response()
}

async fn place_order(
    State(shared): State<Arc<Shared>>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let response = match order(&shared, body).await {
        Ok(order) => (StatusCode::OK, Json(order)).into_response(),
        Err(error) => {
            if error.status().is_server_error() {
                tracing::warn!(checkout.error = %error, "checkout failed");
            }
            error_response(&error)
        }
    };
    shared.count_response(response.status().as_u16());
    response
}

async fn order(
    shared: &Arc<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<db::Order, CheckoutError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            CheckoutError::BodyTooLarge {
                limit: shared.settings.max_body,
            }
        } else {
            CheckoutError::MalformedJson(rejection.body_text())
        }
    })?;
    let cart = cart::parse(&body, shared.settings.max_quantity)?;

    // While the breaker rejects calls, respond before any database work.
    if !shared.breaker.admits_calls() {
        return Err(CheckoutError::PaymentUnavailable {
            reason: format!("circuit breaker is {}", shared.breaker.state()),
            retry_after: shared.retry_after(),
        });
    }
    if !shared.payments.is_running() {
        return Err(CheckoutError::PaymentUnavailable {
            reason: "payment client is not running; it is being restarted".to_string(),
            retry_after: Duration::from_millis(500),
        });
    }
    checkout::run(Arc::clone(shared), cart).await
}

async fn products(State(shared): State<Arc<Shared>>) -> Response {
    let listed = async {
        let connection = shared
            .pool
            .acquire(())
            .await
            .map_err(|error| CheckoutError::DatabaseBusy(error.to_string()))?;
        tokio::task::spawn_blocking(move || db::products(&connection))
            .await
            .map_err(|error| CheckoutError::Internal(error.to_string()))?
            .map_err(CheckoutError::from)
    };
    match listed.await {
        Ok(products) => Json(products).into_response(),
        Err(error) => error_response(&error),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let responses = shared
        .responses
        .lock()
        .expect("response counter lock poisoned")
        .iter()
        .map(|(status, count)| (status.to_string(), *count))
        .collect::<std::collections::BTreeMap<_, _>>();
    let transitions = shared
        .transitions
        .lock()
        .expect("transition log lock poisoned")
        .clone();
    let supervisor = shared
        .supervisor_events
        .lock()
        .expect("supervisor log lock poisoned")
        .clone();
    Json(json!({
        "manager": shared.manager.stats(),
        "pool": { "status": shared.pool.status(), "stats": shared.pool.stats() },
        "breaker": { "stats": shared.breaker.stats(), "transitions": transitions },
        "payment_client": { "running": shared.payments.is_running(), "supervisor_events": supervisor },
        "responses": responses,
    }))
    .into_response()
}

async fn tree(State(shared): State<Arc<Shared>>) -> String {
    shared.manager.tree().to_string()
}
