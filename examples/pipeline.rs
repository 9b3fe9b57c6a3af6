//! Hashes and indexes the files of a folder as a dependency graph with priorities, under a
//! concurrency limit, drawing the scope's progress with a progress bar.
//!
//! For each file, `read` loads it (larger files first, by priority); `hash` and `index` both
//! depend on `read`; one `summary` task depends on every `hash` and `index`. A file that cannot
//! be read fails its branch only: the scope uses the cancel-dependents failure policy, so the
//! other files are still hashed and indexed.
//!
//! Run with `cargo run --example pipeline -- [FOLDER] [--limit N]`; FOLDER defaults to this
//! project's `src/`.

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use ractor_scope::{
    BoxError, Context, FailurePolicy, Manager, ManagerConfig, ScopeOptions, Task, TaskGraph,
    TaskHandle,
};

/// What `index` learns about one file.
#[derive(Debug, Default)]
struct FileIndex {
    lines: usize,
    words: HashMap<String, usize>,
}

struct FileHandles {
    path: PathBuf,
    size: u64,
    hash: TaskHandle<u64>,
    index: TaskHandle<FileIndex>,
}

fn usage() -> String {
    "usage: pipeline [FOLDER] [--limit N]  (FOLDER defaults to this project's src/, N to 4)"
        .to_string()
}

fn parse_args() -> Result<(PathBuf, usize), String> {
    let mut folder = None;
    let mut limit = 4;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--limit" => {
                let value = args.next().ok_or_else(usage)?;
                limit = value.parse().map_err(|_| {
                    format!("invalid --limit {value:?}: expected a whole number of at least 1")
                })?;
            }
            "--help" | "-h" => return Err(usage()),
            _ if folder.is_none() => folder = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}\n{}", usage())),
        }
    }
    let folder = folder.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    Ok((folder, limit))
}

/// Lists the regular files below `folder`, with their sizes.
fn list_files(folder: &Path) -> std::io::Result<Vec<(PathBuf, u64)>> {
    let mut files = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    while let Some(current) = folders.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                files.push((entry.path(), entry.metadata()?.len()));
            }
        }
    }
    files.sort();
    Ok(files)
}

fn index_text(text: &str) -> FileIndex {
    let mut index = FileIndex {
        lines: text.lines().count(),
        ..FileIndex::default()
    };
    for word in text.split(|c: char| !c.is_alphanumeric() && c != '_') {
        if word.len() > 2 && !word.chars().all(|c| c.is_ascii_digit()) {
            *index.words.entry(word.to_string()).or_default() += 1;
        }
    }
    index
}

#[tokio::main]
async fn main() {
    let (folder, limit) = match parse_args() {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    if let Err(error) = run(folder, limit).await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run(folder: PathBuf, limit: usize) -> Result<(), Box<dyn std::error::Error>> {
    let files = list_files(&folder)
        .map_err(|error| format!("cannot list {}: {error}", folder.display()))?;
    println!(
        "{} files in {}, at most {limit} tasks at once",
        files.len(),
        folder.display()
    );

    let manager = Manager::start(ManagerConfig::new("pipeline")).await?;
    let scope = manager
        .scope_with(
            ScopeOptions::new("hash_and_index")
                .limit(limit)
                .failure_policy(FailurePolicy::CancelDependents),
        )
        .await?;

    // Draw progress from the scope's watch value, without polling.
    let bar = ProgressBar::new(0);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} tasks  {msg}",
    )?);
    let mut progress = scope.progress();
    let drawer = {
        let bar = bar.clone();
        tokio::spawn(async move {
            while progress.changed().await.is_ok() {
                let now = progress.borrow_and_update().clone();
                bar.set_length(now.added);
                bar.set_position(now.done());
                bar.set_message(format!(
                    "{} running, {} failed, {} skipped",
                    now.running, now.failed, now.skipped
                ));
            }
        })
    };

    // The graph: read, then hash and index, then one summary over everything.
    let mut graph = TaskGraph::new();
    let mut handles = Vec::new();
    let mut summary_inputs = Vec::new();
    for (number, (path, size)) in files.iter().enumerate() {
        let read_key = format!("read-{number}");
        let path_for_read = path.clone();
        // Larger files first: they take longest, so starting them early shortens the run.
        let priority = i32::try_from(size / 1024).unwrap_or(i32::MAX);
        let read = graph.add(
            read_key.clone(),
            Task::new(
                format!("read {}", path.display()),
                move |_ctx: Context| async move {
                    let bytes = tokio::fs::read(&path_for_read).await?;
                    Ok::<_, BoxError>(bytes)
                },
            )
            .timeout(Duration::from_secs(10))
            .priority(priority),
            [] as [String; 0],
        );

        let bytes = read.clone();
        let hash = graph.add(
            format!("hash-{number}"),
            Task::new(
                format!("hash {}", path.display()),
                move |ctx: Context| async move {
                    let bytes = ctx.dependency(&bytes)?;
                    let mut hasher = std::collections::hash_map::DefaultHasher::new();
                    bytes.hash(&mut hasher);
                    Ok::<_, BoxError>(hasher.finish())
                },
            ),
            [read_key.clone()],
        );

        let bytes = read.clone();
        let index = graph.add(
            format!("index-{number}"),
            Task::new(
                format!("index {}", path.display()),
                move |ctx: Context| async move {
                    let bytes = ctx.dependency(&bytes)?;
                    Ok::<_, BoxError>(index_text(&String::from_utf8_lossy(&bytes)))
                },
            ),
            [read_key],
        );
        summary_inputs.push(format!("hash-{number}"));
        summary_inputs.push(format!("index-{number}"));
        handles.push(FileHandles {
            path: path.clone(),
            size: *size,
            hash,
            index,
        });
    }
    let indexes: Vec<TaskHandle<FileIndex>> = handles.iter().map(|h| h.index.clone()).collect();
    let summary = graph.add(
        "summary",
        Task::new("summary", move |ctx: Context| async move {
            let mut words: BTreeMap<String, usize> = BTreeMap::new();
            let mut lines = 0;
            for index in &indexes {
                let index = ctx.dependency(index)?;
                lines += index.lines;
                for (word, count) in &index.words {
                    *words.entry(word.clone()).or_default() += count;
                }
            }
            let mut top: Vec<(String, usize)> = words.into_iter().collect();
            top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            top.truncate(8);
            Ok::<_, BoxError>((lines, top))
        })
        .priority(-1),
        summary_inputs,
    );

    scope.spawn_graph(graph)?;
    let result = scope.wait().await;
    let _ = drawer.await;
    bar.finish();

    for file in &handles {
        match (file.hash.result(), file.index.result()) {
            (Ok(hash), Ok(index)) => println!(
                "{:016x}  {:>7} bytes  {:>5} lines  {}",
                *hash,
                file.size,
                index.lines,
                file.path.display()
            ),
            (Err(error), _) | (_, Err(error)) => {
                println!("{:>16}  {}  ({error})", "-", file.path.display())
            }
        }
    }
    match summary.result() {
        Ok(summary) => {
            let (lines, top) = &*summary;
            println!("{lines} lines in all; most common words:");
            for (word, count) in top {
                println!("  {count:>6}  {word}");
            }
        }
        Err(error) => println!("no summary: {error}"),
    }
    if let Err(error) = result {
        println!("scope error: {error}");
    }
    let stats = manager.stats();
    println!(
        "tasks: {} completed, {} failed, {} skipped; total task time {:?}",
        stats.tasks_completed, stats.tasks_failed, stats.tasks_skipped, stats.task_execution_time
    );
    manager.shutdown().await?;
    Ok(())
}
