//! Spawns and joins tasks in a loop, one variant per run, so that a tool that counts work (for
//! example `valgrind --tool=callgrind`, which counts instructions) can compare a ractor-scope
//! scope with a bare ractor parent and a tokio `JoinSet` without timing noise.
//!
//! ```sh
//! cargo bench --bench spawn_cost --no-run
//! valgrind --tool=callgrind target/release/deps/spawn_cost-<hash> scope 100 200
//! valgrind --tool=callgrind target/release/deps/spawn_cost-<hash> bare 100 200
//! ```
//!
//! Arguments: variant (`scope`, `bare`, `joinset` or `none`), tasks per round, rounds. Under
//! `cargo bench` (no variant given) it runs each variant once and prints the wall time.

use std::time::Instant;

mod common;

use common::{bare_ractor, join_set, scope};
use ractor_scope::{Manager, ManagerConfig};

async fn run(manager: &Manager, variant: &str, count: usize, rounds: usize) {
    for _ in 0..rounds {
        match variant {
            "scope" => scope(manager, count).await,
            "bare" => bare_ractor(count).await,
            "joinset" => join_set(count).await,
            _ => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime builds");
    runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::new("cost"))
            .await
            .expect("manager starts");
        match args.first().map(String::as_str) {
            Some(variant @ ("scope" | "bare" | "joinset" | "none")) => {
                let count = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100);
                let rounds = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(200);
                run(&manager, variant, count, rounds).await;
            }
            _ => {
                for variant in ["scope", "bare", "joinset"] {
                    let start = Instant::now();
                    run(&manager, variant, 100, 200).await;
                    println!(
                        "{variant}: 200 rounds of 100 tasks in {:?}",
                        start.elapsed()
                    );
                }
            }
        }
        manager.shutdown().await.expect("manager shuts down");
    });
}
