//! The checkout example, driven over real HTTP on 127.0.0.1 with a real SQLite file: orders,
//! a payment outage and recovery through the circuit breaker, deadlines, bad input, a
//! payment-client crash and concurrent checkouts of scarce stock.
//!
//! These tests run in real time (sockets and SQLite do not follow tokio's paused clock); each
//! is bounded, so a hang fails instead of blocking.

#[path = "../examples/checkout/app/mod.rs"]
#[allow(dead_code)]
mod app;

use std::future::Future;
use std::time::Duration;

use app::db::Audit;
use app::payment::{Ledger, Mode, ModeSwitch};
use app::settings::Settings;
use app::App;
use clap::Parser;
use serde_json::{json, Value};

/// Runs a test body with a bound, so that a hang fails.
async fn bounded<F: Future<Output = ()>>(body: F) {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .expect("the test finished within 60 s");
}

/// Starts the service with `flags`. The tests run in parallel on a loaded machine, so each
/// bound a test does not set itself is generous: load must not turn a 200 into a 502 or 504.
async fn start(flags: &[&str]) -> App {
    const GENEROUS: [(&str, &str); 4] = [
        ("--breaker-call-timeout", "5s"),
        ("--charge-timeout", "10s"),
        ("--deadline", "20s"),
        ("--acquire-timeout", "10s"),
    ];
    let mut arguments = vec!["checkout"];
    arguments.extend_from_slice(flags);
    for (flag, value) in GENEROUS {
        if !flags.contains(&flag) {
            arguments.extend([flag, value]);
        }
    }
    App::start(Settings::parse_from(arguments))
        .await
        .expect("the service starts")
}

fn cart(items: &[(i64, i64)]) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(product_id, quantity)| json!({ "product_id": product_id, "quantity": quantity }))
        .collect();
    json!({ "user_id": "ada", "items": items, "payment_token": "tok_visa" })
}

async fn post(app: &App, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/checkout", app.url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the request reaches the service");
    let status = response.status().as_u16();
    let body = response.json().await.expect("the answer is JSON");
    (status, body)
}

async fn order(app: &App, items: &[(i64, i64)]) -> (u16, Value) {
    post(app, cart(items).to_string()).await
}

async fn switch(app: &App, mode: Mode, times: Option<u32>) {
    reqwest::Client::new()
        .post(format!("{}/mode", app.backend_url()))
        .json(&ModeSwitch { mode, times })
        .send()
        .await
        .expect("the backend takes the switch")
        .error_for_status()
        .expect("the switch is valid");
}

async fn get_json(url: String) -> Value {
    reqwest::get(url)
        .await
        .expect("the request reaches the service")
        .json()
        .await
        .expect("the answer is JSON")
}

async fn stats(app: &App) -> Value {
    get_json(format!("{}/stats", app.url())).await
}

async fn ledger(app: &App) -> Ledger {
    serde_json::from_value(get_json(format!("{}/ledger", app.backend_url())).await)
        .expect("the ledger parses")
}

async fn audit(app: &App) -> Audit {
    app.audit().await.expect("the database can be read")
}

fn message(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_decrement_stock() {
    bounded(async {
        let app = start(&[]).await;
        let before = audit(&app).await;

        let (status, body) = order(&app, &[(1, 2), (3, 1)]).await;
        assert_eq!(status, 200, "{body}");
        let order_id = body["order_id"].as_str().expect("an order id").to_string();
        assert_eq!(body["total_cents"], 2 * 2_400 + 8_900);

        let after = audit(&app).await;
        assert_eq!(after.stock[&1], before.stock[&1] - 2);
        assert_eq!(after.stock[&3], before.stock[&3] - 1);
        assert_eq!(after.stock[&2], before.stock[&2]);
        assert!(after.is_consistent(), "{after:?}");
        assert_eq!(after.orders.get(&order_id), Some(&(2 * 2_400 + 8_900)));
        assert_eq!(
            ledger(&app).await.charged.get(&order_id),
            Some(&(2 * 2_400 + 8_900))
        );

        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_opens_breaker_then_recovers() {
    bounded(async {
        let app = start(&["--breaker-failures", "3", "--breaker-reset", "1s"]).await;
        let (status, _) = order(&app, &[(1, 1)]).await;
        assert_eq!(status, 200);
        let before = audit(&app).await;

        switch(&app, Mode::Fail, None).await;
        for _ in 0..3 {
            let (status, body) = order(&app, &[(1, 1)]).await;
            assert_eq!(status, 502, "{body}");
            assert!(message(&body).contains("payment failed"), "{body}");
        }
        let opened = tokio::time::Instant::now();

        // Open: rejected before any database work, with the time to wait. Only requests sent in
        // the first 500 ms are checked, so each has 500 ms to reach the breaker before the
        // reset timeout lets a trial call in.
        let acquired = app.shared().pool.stats().acquired;
        let mut rejected = 0;
        while rejected < 5 && opened.elapsed() < Duration::from_millis(500) {
            let (status, body) = order(&app, &[(1, 1)]).await;
            assert_eq!(status, 503, "{body}");
            assert!(message(&body).contains("circuit breaker is open"), "{body}");
            assert!(body["retry_after_ms"].as_u64().unwrap() <= 1_000, "{body}");
            rejected += 1;
        }
        assert!(
            rejected > 0,
            "no request was sent while the breaker was open"
        );
        assert_eq!(app.shared().pool.stats().acquired, acquired);
        assert_eq!(audit(&app).await.stock, before.stock);

        switch(&app, Mode::Ok, None).await;
        tokio::time::sleep_until(opened + Duration::from_millis(1_050)).await;
        let (status, body) = order(&app, &[(1, 1)]).await;
        assert_eq!(status, 200, "{body}");
        let stats = stats(&app).await;
        assert_eq!(stats["breaker"]["stats"]["state"], "closed");
        let path: Vec<&str> = stats["breaker"]["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|transition| transition["to"].as_str().unwrap())
            .collect();
        assert_eq!(path, ["open", "half_open", "closed"]);

        let after = audit(&app).await;
        assert_eq!(after.stock[&1], before.stock[&1] - 1);
        assert!(after.is_consistent(), "{after:?}");
        assert_eq!(after.orders.len(), 2);
        assert_eq!(ledger(&app).await.charged.len(), 2);
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_backend_times_out_and_opens() {
    bounded(async {
        let app = start(&[
            "--breaker-failures",
            "2",
            "--breaker-call-timeout",
            "200ms",
            "--breaker-reset",
            "10s",
        ])
        .await;
        let before = audit(&app).await;
        switch(&app, Mode::Hang, None).await;

        for _ in 0..2 {
            let (status, body) = order(&app, &[(2, 3)]).await;
            assert_eq!(status, 502, "{body}");
            assert!(
                message(&body).contains("did not answer within 200ms"),
                "{body}"
            );
        }
        let (status, body) = order(&app, &[(2, 3)]).await;
        assert_eq!(status, 503, "{body}");

        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.held, 0);
        assert!(after.orders.is_empty());
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_below_latency_answers_504() {
    bounded(async {
        let app = start(&[
            "--deadline",
            "200ms",
            "--payment-mode",
            "slow",
            "--payment-latency",
            "600ms",
            "--breaker-call-timeout",
            "2s",
            "--charge-timeout",
            "3s",
        ])
        .await;
        let before = audit(&app).await;

        let (status, body) = order(&app, &[(4, 1), (5, 2)]).await;
        assert_eq!(status, 504, "{body}");
        assert!(
            message(&body).contains("did not finish within 200ms"),
            "{body}"
        );
        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.held, 0);
        assert!(after.orders.is_empty());

        // The backend finishes the abandoned charge later. The refund sent when the checkout
        // gave up makes it reject that charge, so no money is taken either.
        tokio::time::sleep(Duration::from_millis(700)).await;
        let ledger = ledger(&app).await;
        assert!(ledger.charged.is_empty(), "{ledger:?}");
        assert_eq!(ledger.charge_requests, 1);
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charge_timeout_answers_504_not_502() {
    // The charge step times out before the breaker's call timeout. Its 504 must not lose a
    // race against the payment client's own HTTP timeout, which would respond with 502.
    bounded(async {
        let app = start(&[
            "--payment-mode",
            "hang",
            "--breaker-call-timeout",
            "5s",
            "--charge-timeout",
            "500ms",
        ])
        .await;
        let before = audit(&app).await;
        for _ in 0..4 {
            let (status, body) = order(&app, &[(2, 1)]).await;
            assert_eq!(status, 504, "{body}");
            assert_eq!(body["code"], "charge_timed_out", "{body}");
        }
        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.held, 0);
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_4xx_and_writes_nothing() {
    bounded(async {
        let app = start(&["--max-body", "1024"]).await;
        let before = audit(&app).await;
        let huge_items: Vec<Value> = (1..=60)
            .map(|id| json!({ "product_id": id, "quantity": 1 }))
            .collect();
        let cases: Vec<(&str, String, u16, &str)> = vec![
            ("malformed", r#"{"user_id": "ada", "items": ["#.to_string(), 400, "not valid JSON"),
            ("empty body", String::new(), 400, "not valid JSON"),
            ("not an object", "[1, 2]".to_string(), 422, "invalid type"),
            (
                "cart as an array",
                r#"["ada", [[1, 2]], "tok_visa"]"#.to_string(),
                422,
                "expected a JSON object",
            ),
            (
                "line as an array",
                r#"{"user_id": "ada", "items": [[1, 2]], "payment_token": "t"}"#.to_string(),
                422,
                "items[0]: invalid type: an array",
            ),
            (
                "duplicate field",
                r#"{"user_id": "ada", "user_id": "bob", "items": [{"product_id": 1, "quantity": 1}], "payment_token": "t"}"#.to_string(),
                422,
                "duplicate field",
            ),
            ("unknown product", cart(&[(999, 1)]).to_string(), 422, "product 999 does not exist"),
            ("zero quantity", cart(&[(1, 0)]).to_string(), 422, "quantity 0 is out of range"),
            ("negative quantity", cart(&[(1, -3)]).to_string(), 422, "quantity -3 is out of range"),
            ("huge quantity", cart(&[(1, 1_000_000)]).to_string(), 422, "quantity 1000000 is out of range"),
            (
                "quantity beyond 64 bits",
                r#"{"user_id": "ada", "items": [{"product_id": 1, "quantity": 1e30}], "payment_token": "t"}"#.to_string(),
                422,
                "items[0].quantity: invalid type: floating point",
            ),
            (
                "quantity as text",
                r#"{"user_id": "ada", "items": [{"product_id": 1, "quantity": "two"}], "payment_token": "t"}"#.to_string(),
                422,
                "items[0].quantity: invalid type: string",
            ),
            (
                "missing field",
                json!({ "user_id": "ada", "items": [{ "product_id": 1, "quantity": 1 }] }).to_string(),
                422,
                "missing field `payment_token`",
            ),
            (
                "unknown field",
                json!({ "user_id": "ada", "items": [], "payment_token": "t", "coupon": "x" }).to_string(),
                422,
                "unknown field `coupon`",
            ),
            (
                "no items",
                json!({ "user_id": "ada", "items": [], "payment_token": "t" }).to_string(),
                422,
                "items is empty",
            ),
            (
                "empty user",
                json!({ "user_id": " ", "items": [{ "product_id": 1, "quantity": 1 }], "payment_token": "t" }).to_string(),
                422,
                "user_id is empty",
            ),
            (
                "product twice",
                cart(&[(1, 1), (1, 2)]).to_string(),
                422,
                "product 1 is listed twice",
            ),
            (
                "zero product id",
                cart(&[(0, 1)]).to_string(),
                422,
                "product_id 0 is invalid",
            ),
            (
                "oversized body",
                json!({ "user_id": "ada", "items": huge_items, "payment_token": "t" }).to_string(),
                413,
                "larger than 1024 bytes",
            ),
        ];
        for (name, body, expected, needle) in cases {
            let (status, answer) = post(&app, body).await;
            assert_eq!(status, expected, "{name}: {answer}");
            assert!(message(&answer).contains(needle), "{name}: {answer}");
            assert!(answer["code"].is_string(), "{name}: {answer}");
        }

        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.reservations, 0);
        assert!(after.orders.is_empty());
        assert!(ledger(&app).await.charged.is_empty());
        let stats = stats(&app).await;
        assert!(stats["responses"].get("500").is_none(), "{stats}");
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declined_cards_keep_breaker_closed() {
    bounded(async {
        let app = start(&["--breaker-failures", "2"]).await;
        let before = audit(&app).await;
        let declined = json!({
            "user_id": "ada",
            "items": [{ "product_id": 6, "quantity": 1 }],
            "payment_token": "tok_declined",
        });
        for _ in 0..4 {
            let (status, body) = post(&app, declined.to_string()).await;
            assert_eq!(status, 402, "{body}");
            assert!(message(&body).contains("card declined"), "{body}");
        }
        assert!(app.shared().breaker.admits_calls());
        assert_eq!(app.shared().breaker.stats().failures, 0);
        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.held, 0);
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_crash_is_restarted_by_policy() {
    bounded(async {
        let app = start(&[]).await;
        let tree = reqwest::get(format!("{}/tree", app.url()))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(tree.contains("payments"), "{tree}");
        assert!(tree.contains("payment-client"), "{tree}");

        switch(&app, Mode::Crash, Some(1)).await;
        let (status, body) = order(&app, &[(7, 1)]).await;
        assert_eq!(status, 502, "{body}");
        assert!(message(&body).contains("broke the protocol"), "{body}");

        // The supervisor restarts the client after its backoff (20 ms).
        let mut restarted = false;
        for _ in 0..200 {
            let stats = stats(&app).await;
            if stats["manager"]["restarts"] == 1 && stats["payment_client"]["running"] == true {
                restarted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(restarted, "{}", stats(&app).await);
        let (status, body) = order(&app, &[(7, 1)]).await;
        assert_eq!(status, 200, "{body}");
        let events = stats(&app).await["payment_client"]["supervisor_events"].clone();
        assert!(
            events[0]
                .as_str()
                .unwrap()
                .contains("restarting payment-client"),
            "{events}"
        );
        assert!(audit(&app).await.is_consistent());
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scarce_stock_is_never_oversold() {
    bounded(async {
        let app = start(&[]).await;
        // Product 12 starts with 40 units.
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..60 {
            let url = format!("{}/checkout", app.url());
            requests.spawn(async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .body(cart(&[(12, 1)]).to_string())
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.text().await.unwrap())
            });
        }
        let mut placed = 0;
        let mut sold_out = 0;
        while let Some(answer) = requests.join_next().await {
            match answer.unwrap() {
                (200, _) => placed += 1,
                (409, _) => sold_out += 1,
                (other, body) => panic!("unexpected status {other}: {body}"),
            }
        }
        assert_eq!(placed, 40);
        assert_eq!(sold_out, 20);
        let after = audit(&app).await;
        assert_eq!(after.stock[&12], 0);
        assert!(after.is_consistent(), "{after:?}");
        let stats = stats(&app).await;
        assert_eq!(stats["pool"]["status"]["in_use"], 0);
        assert_eq!(stats["manager"]["scopes_active"], 0);
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_settings_are_rejected() {
    let settings = Settings::parse_from(["checkout", "--pool-size", "0", "--deadline", "0s"]);
    let error = App::start(settings).await.err().expect("start fails");
    let text = error.to_string();
    assert!(text.contains("--pool-size 0 is invalid"), "{text}");
    assert!(text.contains("--deadline 0s is invalid"), "{text}");
    assert!(Settings::try_parse_from(["checkout", "--deadline", "soon"]).is_err());

    let busy = Settings::parse_from(["checkout", "--db-busy-timeout", "25days"]);
    let error = App::start(busy).await.err().expect("start fails");
    let text = error.to_string();
    assert!(
        text.contains("--db-busy-timeout 25days is too long"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_timeouts_do_not_overflow() {
    // Each flag alone fits in a `Duration`, their sum does not: the request timeout saturates
    // instead of panicking in every request.
    bounded(async {
        let app = start(&[
            "--deadline",
            "10000000000000000000s",
            "--release-timeout",
            "10000000000000000000s",
        ])
        .await;
        let (status, body) = order(&app, &[(1, 1)]).await;
        assert_eq!(status, 200, "{body}");
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_gives_back_left_held_stock() {
    bounded(async {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("shop.sqlite");
        let path_flag = path.to_str().unwrap();

        let app = start(&["--db", path_flag]).await;
        let (status, _) = order(&app, &[(9, 2)]).await;
        assert_eq!(status, 200);
        app.shutdown().await.expect("clean shutdown");

        // A process that stopped in the middle of a checkout leaves a reservation held.
        let lines = [app::cart::LineBody {
            product_id: 9,
            quantity: 5,
        }];
        let mut connection = app::db::open(&path, Duration::from_secs(5)).unwrap();
        app::db::reserve(&mut connection, "ord-interrupted", &lines).unwrap();
        let interrupted = app::db::audit(&mut connection).unwrap();
        assert_eq!(interrupted.held, 1);
        drop(connection);

        let app = start(&["--db", path_flag]).await;
        let after = audit(&app).await;
        assert_eq!(after.held, 0);
        assert_eq!(after.stock[&9], interrupted.stock[&9] + 5);
        assert_eq!(after.orders.len(), 1, "the first run's order is kept");
        assert!(after.is_consistent(), "{after:?}");
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[test]
fn defaults_keep_every_outcome_reachable() {
    let defaults = Settings::default();
    assert!(defaults.breaker_call_timeout < defaults.charge_timeout);
    assert!(defaults.charge_timeout < defaults.deadline);
    assert!(defaults.warnings().is_empty());

    let inverted = Settings::parse_from(["checkout", "--breaker-call-timeout", "2s"]);
    let warnings = inverted.warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("--breaker-call-timeout 2s"),
        "{warnings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locked_database_still_restocks_and_refunds() {
    bounded(async {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("shop.sqlite");
        let app = start(&[
            "--db",
            path.to_str().unwrap(),
            "--payment-mode",
            "slow",
            "--payment-latency",
            "600ms",
            "--db-busy-timeout",
            "200ms",
            "--deadline",
            "5s",
        ])
        .await;
        let before = audit(&app).await;

        let url = app.url();
        let checkout = tokio::spawn(async move {
            let response = reqwest::Client::new()
                .post(format!("{url}/checkout"))
                .body(cart(&[(8, 2)]).to_string())
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });

        // While the charge is slow, another writer takes the database for a second: the
        // confirmation fails, and the compensation retries until the lock is gone.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let locker = tokio::task::spawn_blocking(move || {
            let connection = rusqlite::Connection::open(&path).unwrap();
            connection.execute_batch("BEGIN IMMEDIATE").unwrap();
            std::thread::sleep(Duration::from_secs(1));
            connection.execute_batch("ROLLBACK").unwrap();
        });

        let (status, body) = checkout.await.unwrap();
        locker.await.unwrap();
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "database_busy", "{body}");
        let after = audit(&app).await;
        assert_eq!(after.stock, before.stock);
        assert_eq!(after.held, 0);
        assert!(after.orders.is_empty());
        assert!(ledger(&app).await.charged.is_empty());
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gave_up_payment_scope_starts_again() {
    bounded(async {
        let app = start(&["--breaker-failures", "100"]).await;
        switch(&app, Mode::Crash, None).await;

        // Six crashes within the policy's 10 s window: one more than it allows.
        for _ in 0..6 {
            wait_for_payment_client(&app).await;
            let (status, body) = order(&app, &[(10, 1)]).await;
            assert_eq!(status, 502, "{body}");
        }
        switch(&app, Mode::Ok, None).await;
        let (status, body) = order(&app, &[(10, 1)]).await;
        assert_eq!(status, 503, "{body}");
        assert!(
            message(&body).contains("payment client is not running"),
            "{body}"
        );

        // After the cool-down the service starts a new supervised scope.
        wait_for_payment_client(&app).await;
        let (status, body) = order(&app, &[(10, 1)]).await;
        assert_eq!(status, 200, "{body}");
        let events = stats(&app).await["payment_client"]["supervisor_events"].clone();
        assert!(events.to_string().contains("gave up"), "{events}");
        assert!(audit(&app).await.is_consistent());
        app.shutdown().await.expect("clean shutdown");
    })
    .await;
}

async fn wait_for_payment_client(app: &App) {
    for _ in 0..500 {
        if app.shared().payments.is_running() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the payment client did not start within 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_body_times_out_and_shutdown_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    bounded(async {
        let app = start(&[
            "--deadline",
            "200ms",
            "--db-busy-timeout",
            "100ms",
            "--release-timeout",
            "200ms",
        ])
        .await;
        let mut socket = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
        socket
            .write_all(b"POST /checkout HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{\"u")
            .await
            .unwrap();
        let mut answer = vec![0; 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
            .await
            .expect("the service answers a stalled body")
            .unwrap();
        let answer = String::from_utf8_lossy(&answer[..read]);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

        // A second stalled request stays open; shutdown cuts it after the grace period.
        let mut stalled = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
        stalled
            .write_all(b"POST /checkout HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{")
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), app.shutdown())
            .await
            .expect("shutdown ends within 5 s")
            .expect("clean shutdown");
    })
    .await;
}
