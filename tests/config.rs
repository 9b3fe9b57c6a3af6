//! Bad input: typed errors naming the value and the fix, never a panic.

use std::time::Duration;

use ractor_scope::{
    BoxError, Context, Manager, ManagerConfig, ManagerError, Scope, ScopeError, ScopeOptions, Task,
};

#[tokio::test]
async fn zero_shutdown_timeout_is_rejected() {
    let error = Manager::start(ManagerConfig::default().shutdown_timeout(Duration::ZERO))
        .await
        .unwrap_err();
    match &error {
        ManagerError::Config(config) => {
            assert_eq!(config.setting, "shutdown_timeout");
            assert_eq!(config.value, "0ns");
        }
        other => panic!("unexpected {other}"),
    }
    let message = error.to_string();
    assert!(message.contains("shutdown_timeout"), "{message}");
    assert!(message.contains("greater than zero"), "{message}");
}

#[tokio::test]
async fn zero_release_timeout_is_rejected() {
    let error = Manager::start(ManagerConfig::default().release_timeout(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(error, ManagerError::Config(ref c) if c.setting == "release_timeout"));
}

#[tokio::test]
async fn zero_error_buffer_is_rejected() {
    let error = Manager::start(ManagerConfig::default().error_buffer(0))
        .await
        .unwrap_err();
    assert!(matches!(error, ManagerError::Config(ref c) if c.setting == "error_buffer"));
    assert!(error.to_string().contains("error_buffer 0"), "{error}");
}

#[tokio::test]
async fn zero_scope_deadline_is_rejected() {
    let manager = Manager::start(ManagerConfig::default()).await.unwrap();
    let error = manager
        .scope_with(ScopeOptions::new("instant").deadline(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(error, ScopeError::Config(ref c) if c.setting == "deadline"));
    let error = Scope::start(ScopeOptions::new("x").release_timeout(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(matches!(error, ScopeError::Config(ref c) if c.setting == "release_timeout"));
    manager.shutdown().await.unwrap();
}

#[tokio::test]
async fn zero_task_timeout_is_rejected() {
    let manager = Manager::start(ManagerConfig::default()).await.unwrap();
    let scope = manager.scope("tasks").await.unwrap();
    let error = scope
        .spawn(
            Task::new("instant", |_ctx: Context| async { Ok::<(), BoxError>(()) })
                .timeout(Duration::ZERO),
        )
        .unwrap_err();
    assert!(matches!(error, ScopeError::Config(ref c) if c.setting == "timeout"));
    // The rejected task was never counted.
    assert_eq!(manager.stats().tasks_added, 0);
    scope.wait().await.unwrap();
    manager.shutdown().await.unwrap();
}

#[test]
fn manager_outside_runtime_is_an_error() {
    let error = futures::executor::block_on(Manager::start(ManagerConfig::default())).unwrap_err();
    assert!(matches!(error, ManagerError::NoRuntime));
    assert!(error.to_string().contains("tokio runtime"));
}

#[test]
fn scope_outside_runtime_is_an_error() {
    let error = futures::executor::block_on(Scope::start(ScopeOptions::new("x"))).unwrap_err();
    assert!(matches!(error, ScopeError::NoRuntime));
}

#[test]
fn spawn_from_plain_thread_works() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (manager, scope) = runtime.block_on(async {
        let manager = Manager::start(ManagerConfig::default()).await.unwrap();
        let scope = manager.scope("from-thread").await.unwrap();
        (manager, scope)
    });
    // A thread outside the runtime may still spawn into a scope.
    let handle = std::thread::spawn({
        let scope = scope.handle();
        move || {
            scope
                .spawn(Task::new("remote", |_ctx: Context| async {
                    Ok::<u8, BoxError>(7)
                }))
                .unwrap()
        }
    })
    .join()
    .unwrap();
    runtime.block_on(async {
        scope.wait().await.unwrap();
        assert_eq!(*handle.result().unwrap(), 7);
        manager.shutdown().await.unwrap();
    });
}

#[tokio::test(start_paused = true)]
async fn huge_durations_mean_no_limit() {
    let manager = Manager::start(ManagerConfig::default().shutdown_timeout(Duration::MAX))
        .await
        .unwrap();
    let scope = manager
        .scope_with(ScopeOptions::new("forever").deadline(Duration::MAX))
        .await
        .unwrap();
    let task = scope
        .spawn(
            Task::new("t", |_ctx: Context| async { Ok::<u8, BoxError>(1) }).timeout(Duration::MAX),
        )
        .unwrap();
    scope.wait().await.unwrap();
    assert_eq!(*task.result().unwrap(), 1);
    let standalone = Scope::start(ScopeOptions::new("x").deadline(Duration::MAX))
        .await
        .unwrap();
    standalone.wait().await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), manager.shutdown())
        .await
        .expect("shutdown finished")
        .unwrap();
}
