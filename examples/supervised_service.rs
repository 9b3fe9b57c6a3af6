//! A service with a few workers under a supervised scope. One worker crashes now and then and
//! is restarted by policy, with backoff, until it crashes faster than the restart intensity
//! allows; then the scope gives up and stops every worker.
//!
//! Run with `cargo run --example supervised_service`.

use std::time::Duration;

use ractor_scope::{
    BoxError, ChildContext, ChildSpec, Manager, ManagerConfig, RestartPolicy, SupervisorEvent,
    SupervisorOptions,
};

/// The policy, as a service would keep it in its configuration file.
const POLICY: &str = r#"
strategy = "one_for_one"
max_restarts = 3
period = "2s"
reset_after = "10s"

[backoff]
kind = "exponential"
initial = "50ms"
factor = 2.0
max = "400ms"
jitter = 0.2
"#;

fn worker(name: &'static str, tick: Duration) -> ChildSpec {
    ChildSpec::task(name, move |ctx: ChildContext| async move {
        let mut ticks = 0u64;
        loop {
            tokio::time::sleep(tick).await;
            ticks += 1;
            if ticks % 10 == 0 {
                println!("{name}: {ticks} ticks (restarted {} times)", ctx.restarts());
            }
        }
        #[allow(unreachable_code)]
        Ok::<(), BoxError>(())
    })
}

/// Crashes after a few ticks, sooner with every restart.
fn flaky_worker() -> ChildSpec {
    ChildSpec::task("payments", |ctx: ChildContext| async move {
        let lives = 6u64.saturating_sub(ctx.restarts() * 2).max(1);
        for _ in 0..lives {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err::<(), BoxError>(format!("payments lost its connection after {lives} ticks").into())
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let policy: RestartPolicy = toml::from_str(POLICY)?;
    let manager = Manager::start(ManagerConfig::new("service")).await?;
    let supervisor = manager
        .supervise(
            SupervisorOptions::new("workers").policy(policy),
            vec![
                worker("orders", Duration::from_millis(50)),
                flaky_worker(),
                worker("emails", Duration::from_millis(80)),
            ],
        )
        .await?;

    let mut events = supervisor.events();
    let printer = tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            match event {
                SupervisorEvent::Restarting {
                    child, exit, delay, ..
                } => println!("restarting {child} in {delay:?} after {exit:?}"),
                SupervisorEvent::GaveUp { child, .. } => println!("gave up on {child}"),
                other => println!("{other:?}"),
            }
        }
    });

    match supervisor.wait().await {
        Ok(()) => println!("workers stopped"),
        Err(error) => println!("supervised scope ended: {error}"),
    }
    println!(
        "restarts counted by the manager: {}",
        manager.stats().restarts
    );
    manager.shutdown().await?;
    let _ = printer.await;
    Ok(())
}
