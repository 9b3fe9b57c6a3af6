//! Fetches three things in one scope; one of them fails, which cancels the others.
//! Prints the scope error, the statistics and the live tree.
//!
//! Run with `cargo run --example fanout`.

use std::time::Duration;

use ractor_scope::{release_fn, Context, Manager, ManagerConfig, Task};

#[derive(Debug, thiserror::Error)]
#[error("inventory service returned 503 for product {product}")]
struct InventoryUnavailable {
    product: u32,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "ractor_scope=info".into()),
        )
        .init();

    let manager = Manager::start(ManagerConfig::new("fanout-example")).await?;
    let mut errors = manager.errors();
    let scope = manager.scope("assemble_webpage_data").await?;

    // A resource held for the whole scope, released when the scope ends.
    scope.register(release_fn("http-client", || async {
        println!("released: http-client");
        Ok::<(), std::io::Error>(())
    }))?;

    let profile = scope.spawn(
        Task::new("get_user_profile", |ctx: Context| async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<_, std::io::Error>(format!("profile of user 42 ({})", ctx.name()))
        })
        .timeout(Duration::from_secs(1)),
    )?;
    let orders = scope.spawn(Task::new("get_user_orders", |ctx: Context| async move {
        ctx.register(release_fn("orders-connection", || async {
            println!("released: orders-connection");
            Ok::<(), std::io::Error>(())
        }))?;
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(vec![1001, 1002])
    }))?;
    let stock = scope.spawn(Task::new("get_stock", |_ctx: Context| async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        Err::<u32, _>(InventoryUnavailable { product: 7 })
    }))?;

    // Print the tree while the tasks run.
    tokio::time::sleep(Duration::from_millis(10)).await;
    println!("live tree:\n{}", manager.tree());

    match scope.wait().await {
        Ok(()) => println!("scope succeeded"),
        Err(error) => {
            println!("scope error: {error}");
            if let Some(cause) = error.downcast_ref::<InventoryUnavailable>() {
                println!("  the failing product was {}", cause.product);
            }
        }
    }
    println!("get_user_profile: {:?}", profile.result());
    println!("get_user_orders:  {}", orders.result().unwrap_err());
    println!("get_stock:        {}", stock.result().unwrap_err());

    while let Some(report) = errors.try_recv() {
        println!("error report ({:?}): {}", report.kind, report.error);
    }
    manager.shutdown().await?;
    let stats = manager.stats();
    println!("stats: {stats:#?}");
    println!("tree after shutdown:\n{}", manager.tree());
    Ok(())
}
