//! Restart policies: read from TOML, validated, and the restart window and backoff they drive.

use std::time::Duration;

use ractor_scope::{Backoff, BackoffState, RestartPolicy, RestartWindow, ShutdownPolicy, Strategy};
use tokio::time::Instant;

const POLICY: &str = r#"
strategy = "rest_for_one"
max_restarts = 3
period = "5s"
reset_after = "1m"

[backoff]
kind = "exponential"
initial = "100ms"
factor = 2.0
max = "1s"
jitter = 0.25
"#;

fn exponential(jitter: f64) -> Backoff {
    let text = format!(
        "kind = \"exponential\"\ninitial = \"100ms\"\nfactor = 2.0\nmax = \"1s\"\njitter = {jitter:?}\n"
    );
    toml::from_str(&text).unwrap()
}

#[test]
fn toml_policy_equals_code_policy() {
    let read: RestartPolicy = toml::from_str(POLICY).unwrap();
    let built = RestartPolicy::new(
        Strategy::RestForOne,
        3,
        Duration::from_secs(5),
        exponential(0.25),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(read, built);
    // It also writes back to the same policy.
    let written = toml::to_string(&built).unwrap();
    let again: RestartPolicy = toml::from_str(&written).unwrap();
    assert_eq!(again, built);
}

#[test]
fn defaults_fill_optional_fields() {
    let policy: RestartPolicy = toml::from_str("max_restarts = 1\nperiod = \"2s\"").unwrap();
    assert_eq!(policy.strategy(), Strategy::OneForOne);
    assert_eq!(policy.backoff(), Backoff::None);
    assert_eq!(policy.reset_after(), Duration::from_secs(30));
}

#[test]
fn invalid_policies_name_the_field() {
    let cases = [
        ("max_restarts = 3\nperiod = \"0s\"", "period"),
        ("max_restarts = 3\nperiod = \"-1s\"", "period"),
        ("period = \"5s\"", "max_restarts"),
        ("max_restarts = -1\nperiod = \"5s\"", "max_restarts"),
        ("max_restarts = 3", "period"),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"exponential\"\ninitial = \"1s\"\nfactor = 0.5\nmax = \"2s\"",
            "backoff.factor",
        ),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"exponential\"\ninitial = \"1s\"\nfactor = 2.0\nmax = \"2s\"\njitter = 1.5",
            "backoff.jitter",
        ),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"exponential\"\ninitial = \"5s\"\nfactor = 2.0\nmax = \"1s\"",
            "backoff.max",
        ),
        ("max_restarts = 3\nperiod = \"5s\"\nperoid = \"5s\"", "peroid"),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"exponential\"\ninitial = \"1s\"\nfactor = 2.0\nmax = \"2s\"\njiter = 0.5",
            "jiter",
        ),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"fixed\"\ndelay = \"1s\"\nmax = \"2s\"",
            "max",
        ),
        (
            "max_restarts = 3\nperiod = \"5s\"\n[backoff]\nkind = \"none\"\ndelay = \"1s\"",
            "delay",
        ),
    ];
    for (text, field) in cases {
        let error = toml::from_str::<RestartPolicy>(text)
            .unwrap_err()
            .to_string();
        assert!(error.contains(field), "{text:?}: {error}");
    }
    let error = RestartPolicy::new(
        Strategy::OneForOne,
        3,
        Duration::ZERO,
        Backoff::None,
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert_eq!(error.setting, "period");
}

#[test]
fn zero_graceful_shutdown_rejected() {
    let zero = ShutdownPolicy::Graceful {
        timeout: Duration::ZERO,
    };
    assert_eq!(zero.validate().unwrap_err().setting, "shutdown.timeout");
    assert!(ShutdownPolicy::Kill.validate().is_ok());
    let typo = toml::from_str::<ShutdownPolicy>("kind = \"graceful\"\ntimeuot = \"2s\"")
        .unwrap_err()
        .to_string();
    assert!(typo.contains("timeuot"), "{typo}");
    let extra = toml::from_str::<ShutdownPolicy>("kind = \"kill\"\ntimeout = \"2s\"")
        .unwrap_err()
        .to_string();
    assert!(extra.contains("timeout"), "{extra}");
    let kill: ShutdownPolicy = toml::from_str("kind = \"kill\"").unwrap();
    assert_eq!(kill, ShutdownPolicy::Kill);
    let none: Backoff = toml::from_str("kind = \"none\"").unwrap();
    assert_eq!(none, Backoff::None);
    for policy in [ShutdownPolicy::Kill, ShutdownPolicy::default()] {
        let written = toml::to_string(&policy).unwrap();
        assert_eq!(toml::from_str::<ShutdownPolicy>(&written).unwrap(), policy);
    }
    let read: ShutdownPolicy = toml::from_str("kind = \"graceful\"\ntimeout = \"2s\"").unwrap();
    assert_eq!(
        read,
        ShutdownPolicy::Graceful {
            timeout: Duration::from_secs(2)
        }
    );
}

#[test]
fn backoff_grows_to_the_cap() {
    let backoff = exponential(0.0);
    let delays: Vec<u64> = (0..6)
        .map(|n| backoff.delay(n, 0.5).as_millis() as u64)
        .collect();
    assert_eq!(delays, vec![100, 200, 400, 800, 1_000, 1_000]);
    assert_eq!(
        Backoff::Fixed {
            delay: Duration::from_millis(250)
        }
        .delay(7, 0.9),
        Duration::from_millis(250)
    );
    assert_eq!(Backoff::None.delay(3, 0.1), Duration::ZERO);
}

#[test]
fn jitter_stays_in_bounds_and_under_cap() {
    let backoff = exponential(0.5);
    let policy = RestartPolicy::new(
        Strategy::OneForOne,
        1_000,
        Duration::from_secs(1),
        backoff,
        Duration::from_secs(3_600),
    )
    .unwrap();
    let mut state = BackoffState::new(42);
    let start = Instant::now();
    let mut shortened = 0;
    for n in 0..200u32 {
        let delay = state.next_delay(&policy, start, start);
        let base = Duration::from_millis((100u64 << n.min(10)).min(1_000));
        assert!(delay <= base, "restart {n}: {delay:?} above {base:?}");
        assert!(
            delay >= base / 2,
            "restart {n}: {delay:?} below half of {base:?}"
        );
        assert!(delay <= Duration::from_secs(1));
        if delay < base {
            shortened += 1;
        }
    }
    // The jitter does shorten the delays.
    assert!(shortened > 150, "{shortened} of 200 shortened");
}

#[test]
fn backoff_resets_after_stable_running() {
    let policy = RestartPolicy::new(
        Strategy::OneForOne,
        100,
        Duration::from_secs(1),
        exponential(0.0),
        Duration::from_secs(30),
    )
    .unwrap();
    let mut state = BackoffState::new(1);
    let start = Instant::now();
    // Short runs: the wait grows.
    let quick = start + Duration::from_secs(1);
    assert_eq!(
        state.next_delay(&policy, start, quick),
        Duration::from_millis(100)
    );
    assert_eq!(
        state.next_delay(&policy, start, quick),
        Duration::from_millis(200)
    );
    assert_eq!(
        state.next_delay(&policy, start, quick),
        Duration::from_millis(400)
    );
    // A run of 30 s or more starts the count again.
    let stable = start + Duration::from_secs(30);
    assert_eq!(
        state.next_delay(&policy, start, stable),
        Duration::from_millis(100)
    );
    assert_eq!(state.in_a_row(), 1);
}

#[test]
fn window_allows_three_in_five_seconds() {
    let policy: RestartPolicy = toml::from_str("max_restarts = 3\nperiod = \"5s\"").unwrap();
    let mut window = RestartWindow::new(&policy);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    assert!(window.allow(at(0)));
    assert!(window.allow(at(1_000)));
    assert!(window.allow(at(2_000)));
    // A fourth failure within 5 s of the first gives up.
    assert!(!window.allow(at(3_000)));

    // Failures spread wider than the window keep being allowed.
    let mut spread = RestartWindow::new(&policy);
    for n in 0..100 {
        assert!(spread.allow(at(n * 2_000)), "failure {n}");
        assert!(spread.len() <= 3);
    }
}

#[test]
fn uncapped_backoff_saturates_at_max() {
    // `Duration::MAX` as the cap means no cap. Past about 64 doublings the wait no longer fits
    // in a `Duration` as `f64` seconds and must come out as the cap, not panic.
    let backoff = Backoff::Exponential {
        initial: Duration::from_secs(1),
        factor: 2.0,
        max: Duration::MAX,
        jitter: 0.0,
    };
    RestartPolicy::new(
        Strategy::OneForOne,
        1_000,
        Duration::from_secs(60),
        backoff,
        Duration::from_secs(30),
    )
    .unwrap();
    assert_eq!(backoff.delay(3, 0.0), Duration::from_secs(8));
    assert_eq!(backoff.delay(63, 0.0), Duration::from_secs(1 << 63));
    for n in [64, 70, 1_000, u32::MAX] {
        assert_eq!(backoff.delay(n, 0.0), Duration::MAX, "restart {n} in a row");
    }
    let jittered = Backoff::Exponential {
        initial: Duration::from_secs(1),
        factor: 2.0,
        max: Duration::MAX,
        jitter: 0.5,
    };
    assert!(jittered.delay(70, 0.99) < Duration::MAX);
}
