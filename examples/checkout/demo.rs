//! The demo driver: real HTTP requests against the running service, a payment outage and a
//! payment-client crash in the middle, then a summary and a consistency check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use ractor_scope::BoxError;
use serde_json::{json, Value};

use crate::app::payment::{Ledger, Mode, ModeSwitch};
use crate::app::App;

/// Settings of the demo run.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoSettings {
    /// Checkout requests the demo sends.
    #[arg(long, default_value_t = 2000)]
    pub requests: usize,

    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,

    /// How long the payment backend fails, starting when 30% of the requests are done.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub outage: Duration,
}

impl DemoSettings {
    /// Checks the demo settings.
    pub fn check(&self) -> Result<(), String> {
        if self.requests == 0 {
            return Err("--requests 0 is invalid; use 1 or more".to_string());
        }
        if self.concurrency == 0 {
            return Err("--concurrency 0 is invalid; use 1 or more".to_string());
        }
        Ok(())
    }
}

/// Outcomes the workers recorded.
#[derive(Default)]
struct Record {
    latencies: Vec<Duration>,
    by_status: BTreeMap<u16, u64>,
}

/// The body of request `index`: mostly valid carts, a few declined cards, and a few bad
/// carts of four kinds. Product 12 has little stock, so some carts run out of it.
fn cart_for(index: usize) -> String {
    if index % 50 == 49 {
        return match (index / 50) % 4 {
            0 => r#"{"user_id": "u1", "items": [{"product_id": 1, "quantity": 1}"#.to_string(),
            1 => json!({ "user_id": "u1", "items": [{ "product_id": 999, "quantity": 1 }], "payment_token": "tok" }).to_string(),
            2 => json!({ "user_id": "u1", "items": [{ "product_id": 1, "quantity": 0 }], "payment_token": "tok" }).to_string(),
            _ => json!({ "user_id": "u1", "items": [{ "product_id": 1, "quantity": 1 }] }).to_string(),
        };
    }
    // A small xorshift keeps the run reproducible without a dependency.
    let mut seed = (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = move |bound: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % bound
    };
    let lines = 1 + next(3);
    let mut products = BTreeSet::new();
    while (products.len() as u64) < lines {
        products.insert(1 + next(12) as i64);
    }
    let items: Vec<Value> = products
        .into_iter()
        .map(|product_id| json!({ "product_id": product_id, "quantity": 1 + next(3) }))
        .collect();
    let token = if index % 100 == 7 {
        "tok_declined"
    } else {
        "tok_visa"
    };
    json!({ "user_id": format!("user-{}", index % 97), "items": items, "payment_token": token })
        .to_string()
}

async fn switch_backend(
    client: &reqwest::Client,
    backend_url: &str,
    mode: Mode,
    times: Option<u32>,
) -> Result<(), BoxError> {
    client
        .post(format!("{backend_url}/mode"))
        .json(&ModeSwitch { mode, times })
        .send()
        .await?
        .error_for_status()?;
    Ok(())
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((sorted.len() as f64 * share).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn label(status: u16) -> &'static str {
    match status {
        200 => "order placed",
        400 => "malformed JSON",
        402 => "payment declined",
        409 => "out of stock",
        413 => "body too large",
        422 => "invalid cart",
        502 => "payment failed",
        503 => "unavailable (breaker open, client restarting)",
        504 => "deadline passed",
        _ => "other",
    }
}

/// Runs the demo against `app` and prints its summary. Returns whether the consistency
/// check passed.
///
/// # Errors
///
/// A request to the service or the backend failed at the HTTP level.
pub async fn run(app: &App, settings: &DemoSettings) -> Result<bool, BoxError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.concurrency)
        .build()?;
    let before = app.audit().await?;
    println!(
        "checkout service on {}, payment backend on {}",
        app.url(),
        app.backend_url()
    );

    let total = settings.requests;
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} {msg}")
            .expect("the progress template is valid"),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let record = Arc::new(Mutex::new(Record::default()));
    let started = Instant::now();

    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..settings.concurrency.min(total) {
        let client = client.clone();
        let url = format!("{}/checkout", app.url());
        let (next, done, record, bar) = (next.clone(), done.clone(), record.clone(), bar.clone());
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok::<(), BoxError>(());
                }
                let sent = Instant::now();
                let response = client.post(&url).body(cart_for(index)).send().await?;
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                let latency = sent.elapsed();
                {
                    let mut record = record.lock().expect("demo record lock poisoned");
                    record.latencies.push(latency);
                    *record.by_status.entry(status).or_default() += 1;
                }
                done.fetch_add(1, Ordering::Relaxed);
                bar.inc(1);
                if status == 503 {
                    // A well-behaved client waits as long as the service requests.
                    let wait = body["retry_after_ms"].as_u64().unwrap_or(100).min(1000);
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                }
            }
        });
    }

    // The faults: an outage from 30% of the run, one client crash at 75%.
    let faults = {
        let client = client.clone();
        let done = done.clone();
        let bar = bar.clone();
        let backend_url = app.backend_url();
        let outage = settings.outage;
        async move {
            while done.load(Ordering::Relaxed) < total * 3 / 10 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            bar.set_message("payment backend failing");
            switch_backend(&client, &backend_url, Mode::Fail, None).await?;
            tokio::time::sleep(outage).await;
            switch_backend(&client, &backend_url, Mode::Ok, None).await?;
            bar.set_message("payment backend recovered");
            while done.load(Ordering::Relaxed) < total * 3 / 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            switch_backend(&client, &backend_url, Mode::Crash, Some(1)).await?;
            bar.set_message("payment client crash injected");
            Ok::<(), BoxError>(())
        }
    };
    let faults = tokio::spawn(faults);

    while let Some(finished) = workers.join_next().await {
        finished??;
    }
    let elapsed = started.elapsed();
    bar.finish_with_message("done");
    // An outage longer than the run would otherwise hold the summary back.
    if !faults.is_finished() {
        faults.abort();
    }
    match faults.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => eprintln!("fault injection failed: {error}"),
        Err(error) if error.is_cancelled() => {
            eprintln!("the run ended before every fault was injected")
        }
        Err(error) => eprintln!("fault injection task failed: {error}"),
    }
    // Leave the backend healthy, whatever the fault task reached.
    switch_backend(&client, &app.backend_url(), Mode::Ok, None).await?;

    let stats: Value = client
        .get(format!("{}/stats", app.url()))
        .send()
        .await?
        .json()
        .await?;
    let ledger: Ledger = client
        .get(format!("{}/ledger", app.backend_url()))
        .send()
        .await?
        .json()
        .await?;
    let after = app.audit().await?;

    let record = std::mem::take(&mut *record.lock().expect("demo record lock poisoned"));
    print_summary(&record, elapsed, &stats);
    Ok(check(&record, &before, &after, &ledger, &stats))
}

fn print_summary(record: &Record, elapsed: Duration, stats: &Value) {
    let mut latencies = record.latencies.clone();
    latencies.sort();
    let count = latencies.len();
    println!();
    println!(
        "{count} requests in {:.2?} ({:.0} per second)",
        elapsed,
        count as f64 / elapsed.as_secs_f64()
    );
    for (status, n) in &record.by_status {
        println!("  {status} {:<46} {n:>6}", label(*status));
    }
    println!(
        "latency: p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );

    println!("breaker transitions:");
    for transition in stats["breaker"]["transitions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!(
            "  {:>6} ms  {} -> {} ({})",
            transition["at_ms"],
            transition["from"].as_str().unwrap_or_default(),
            transition["to"].as_str().unwrap_or_default(),
            transition["reason"].as_str().unwrap_or_default()
        );
    }
    let breaker = &stats["breaker"]["stats"];
    println!(
        "breaker: {} calls, {} successes, {} failures, {} timeouts, {} rejections",
        breaker["calls"],
        breaker["successes"],
        breaker["failures"],
        breaker["timeouts"],
        breaker["rejections"]
    );
    let pool = &stats["pool"];
    println!(
        "pool: {} acquired ({} waited), {} connections made, peak {} of {}, now {} in use, {} waiting",
        pool["stats"]["acquired"],
        pool["stats"]["waited"],
        pool["stats"]["created"],
        pool["stats"]["peak_size"],
        pool["status"]["max_size"],
        pool["status"]["in_use"],
        pool["status"]["waiters"]
    );
    let manager = &stats["manager"];
    println!(
        "scopes: {} created, {} completed, {} failed; tasks: {} completed, {} failed, {} cancelled, {} skipped",
        manager["scopes_created"],
        manager["scopes_completed"],
        manager["scopes_failed"],
        manager["tasks_completed"],
        manager["tasks_failed"],
        manager["tasks_cancelled"],
        manager["tasks_skipped"]
    );
    println!("payment client restarts: {}", manager["restarts"]);
    for event in stats["payment_client"]["supervisor_events"]
        .as_array()
        .into_iter()
        .flatten()
    {
        println!("  {}", event.as_str().unwrap_or_default());
    }
}

/// Checks that stock, orders and payments agree, and prints each check.
fn check(
    record: &Record,
    before: &crate::app::db::Audit,
    after: &crate::app::db::Audit,
    ledger: &Ledger,
    stats: &Value,
) -> bool {
    let new_orders: BTreeMap<&String, &i64> = after
        .orders
        .iter()
        .filter(|(id, _)| !before.orders.contains_key(*id))
        .collect();
    let charged: BTreeMap<&String, &i64> = ledger.charged.iter().collect();
    let placed = record.by_status.get(&200).copied().unwrap_or(0);
    let checks = [
        (
            "every unit of stock taken is in a paid order",
            after
                .taken
                .iter()
                .all(|(id, taken)| *taken == after.sold.get(id).copied().unwrap_or(0)),
        ),
        ("no reservation is left held", after.held == 0),
        (
            "paid orders equal the payments taken, order by order",
            new_orders == charged,
        ),
        (
            "orders placed equal 200 responses",
            new_orders.len() as u64 == placed,
        ),
        (
            "the pool is idle: nothing in use, nobody waiting",
            stats["pool"]["status"]["in_use"] == 0 && stats["pool"]["status"]["waiters"] == 0,
        ),
        (
            "no checkout scope is still open",
            stats["manager"]["scopes_active"] == 0,
        ),
    ];
    println!("consistency check:");
    let mut passed = true;
    for (name, ok) in checks {
        println!("  [{}] {name}", if ok { " ok " } else { "FAIL" });
        passed &= ok;
    }
    if stats["manager"]["restarts"] == 0 {
        println!("  note: the injected crash did not happen (no charge reached the backend in crash mode)");
    }
    println!(
        "{}",
        if passed {
            "consistency check passed"
        } else {
            "consistency check FAILED"
        }
    );
    passed
}
