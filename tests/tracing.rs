//! Tracing: spans nest manager, scope and task (and manager, supervised scope and child), and
//! levels follow the contract.
//!
//! This file contains one test so that it can install a global subscriber. tracing caches which
//! callsites are enabled process-wide, and a thread-local subscriber in a shared test binary
//! does not reliably override that cache.

use std::sync::{Arc, Mutex};

use ractor_scope::{
    BoxError, ChildContext, ChildSpec, Context, Manager, ManagerConfig, SupervisorOptions, Task,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// Records events with the names and fields of the spans around them.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Captured>>>);

/// An event's level, its fields, and the spans around it from the root.
type Captured = (Level, String, Vec<String>);

struct SpanFields(String);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!("{}={:?} ", field.name(), value));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let mut fields = Fields(String::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(SpanFields(format!(
                "{}{{{}}}",
                attrs.metadata().name(),
                fields.0
            )));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields(String::new());
        event.record(&mut fields);
        let spans = ctx
            .event_scope(event)
            .map(|scope| {
                scope
                    .from_root()
                    .map(|span| {
                        span.extensions()
                            .get::<SpanFields>()
                            .map(|f| f.0.clone())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        self.0
            .lock()
            .unwrap()
            .push((*event.metadata().level(), fields.0, spans));
    }
}

#[tokio::test(start_paused = true)]
async fn first_error_logged_at_warn_inside_nested_spans() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let manager = Manager::start(ManagerConfig::new("traced")).await.unwrap();
    let scope = manager.scope("traced-scope").await.unwrap();
    scope
        .spawn(Task::new("traced-task", |_ctx: Context| async {
            Err::<(), BoxError>("boom".into())
        }))
        .unwrap();
    let _ = scope.wait().await;

    // A supervised scope under the manager: its decisions and its task children's events nest
    // under the manager's span too.
    let supervisor = manager
        .supervise(
            SupervisorOptions::new("traced-supervisor"),
            vec![ChildSpec::task(
                "traced-child",
                |ctx: ChildContext| async move {
                    tracing::info!("child body ran");
                    if ctx.restarts() == 0 {
                        return Err::<(), BoxError>("first run fails".into());
                    }
                    ctx.cancelled().await;
                    Ok(())
                },
            )],
        )
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    supervisor.shutdown().await.unwrap();
    manager.shutdown().await.unwrap();

    let events = capture.0.lock().unwrap().clone();
    let (_, fields, spans) = events
        .iter()
        .find(|(level, fields, _)| *level == Level::WARN && fields.contains("scope failed"))
        .unwrap_or_else(|| panic!("no warn event for the first error in {events:#?}"));
    assert!(fields.contains("task.name=traced-task"), "{fields}");
    assert_eq!(spans.len(), 3, "{spans:?}");
    assert!(spans[0].starts_with("manager{"), "{spans:?}");
    assert!(spans[0].contains("manager.name=traced"), "{spans:?}");
    assert!(spans[1].starts_with("scope{"), "{spans:?}");
    assert!(spans[1].contains("scope.name=traced-scope"), "{spans:?}");
    assert!(spans[2].starts_with("task{"), "{spans:?}");
    assert!(spans[2].contains("task.name=traced-task"), "{spans:?}");
    assert!(events.iter().all(|(level, _, _)| *level != Level::ERROR));

    let (_, _, spans) = events
        .iter()
        .find(|(_, fields, _)| fields.contains("supervisor decision"))
        .unwrap_or_else(|| panic!("no supervisor decision in {events:#?}"));
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans[0].starts_with("manager{"), "{spans:?}");
    assert!(spans[1].starts_with("supervisor{"), "{spans:?}");
    assert!(
        spans[1].contains("supervisor.name=traced-supervisor"),
        "{spans:?}"
    );
    let runs: Vec<&Vec<String>> = events
        .iter()
        .filter(|(_, fields, _)| fields.contains("child body ran"))
        .map(|(_, _, spans)| spans)
        .collect();
    assert_eq!(runs.len(), 2, "{events:#?}");
    for spans in runs {
        assert_eq!(spans.len(), 3, "{spans:?}");
        assert!(spans[0].starts_with("manager{"), "{spans:?}");
        assert!(spans[1].starts_with("supervisor{"), "{spans:?}");
        assert!(spans[2].starts_with("child{"), "{spans:?}");
        assert!(spans[2].contains("child.name=traced-child"), "{spans:?}");
    }
}
