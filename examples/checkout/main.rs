//! A checkout service on real HTTP and SQLite, built on ractor-scope.
//!
//! Each `POST /checkout` runs in a scope with a deadline: validate the cart against SQLite,
//! then charge the payment (through a circuit breaker, to a payment backend that this example
//! also starts) while reserving the stock, then confirm the order. A failed or late charge
//! gives the stock back through a resource registered with the scope. SQLite connections come
//! from a resource pool; the payment client is an actor under a supervised scope.
//!
//! Run the demo, which starts everything, sends 2,000 requests with a payment outage and a
//! payment-client crash in the middle, and checks that stock and payments agree:
//!
//! ```sh
//! cargo run --release --example checkout
//! ```
//!
//! Or run the service alone and call it with curl (see the README):
//!
//! ```sh
//! cargo run --release --example checkout -- --serve --port 8080
//! ```

// The integration tests share this module and use parts of it that the binary does not.
#[allow(dead_code)]
mod app;
mod demo;

use std::process::ExitCode;

use clap::Parser;

use app::settings::Settings;
use app::App;

/// Command line: the service's settings, `--serve`, and the demo's settings.
#[derive(Debug, Parser)]
#[command(
    name = "checkout",
    about = "A checkout service on ractor-scope, with a demo driver"
)]
struct Cli {
    #[command(flatten)]
    settings: Settings,

    /// Run the service until Ctrl-C instead of the demo.
    #[arg(long)]
    serve: bool,

    #[command(flatten)]
    demo: demo::DemoSettings,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();

    let cli = Cli::parse();
    if let Err(problem) = cli.demo.check() {
        eprintln!("{problem}");
        return ExitCode::from(2);
    }
    // Warnings only make sense for valid settings; invalid ones are reported by `App::start`.
    if cli.settings.check().is_ok() {
        for warning in cli.settings.warnings() {
            eprintln!("warning: {warning}");
        }
    }
    let app = match App::start(cli.settings).await {
        Ok(app) => app,
        Err(error) => {
            eprintln!("checkout service failed to start: {error}");
            return ExitCode::from(2);
        }
    };

    let passed = if cli.serve {
        serve(&app).await
    } else {
        tokio::select! {
            outcome = demo::run(&app, &cli.demo) => match outcome {
                Ok(passed) => passed,
                Err(error) => {
                    eprintln!("demo failed: {error}");
                    false
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("demo interrupted");
                false
            }
        }
    };

    // A second Ctrl-C stops at once: the manager's cleanup is skipped, the temporary database
    // folder is still removed.
    if cli.serve {
        eprintln!("stopping; press Ctrl-C again to stop at once");
    }
    tokio::select! {
        result = app.shutdown() => {
            if let Err(error) = result {
                eprintln!("shutdown failed: {error}");
                return ExitCode::FAILURE;
            }
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("stopped at once");
            return ExitCode::from(130);
        }
    }
    if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

async fn serve(app: &App) -> bool {
    println!("checkout service on {}", app.url());
    println!("payment backend on {}", app.backend_url());
    println!("database {}", app.db_path().display());
    println!("press Ctrl-C to stop");
    match tokio::signal::ctrl_c().await {
        Ok(()) => true,
        Err(error) => {
            eprintln!("could not wait for Ctrl-C: {error}");
            false
        }
    }
}
