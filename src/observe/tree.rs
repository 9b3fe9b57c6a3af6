use std::collections::HashMap;
use std::fmt;

use super::registry::{ActorKind, LiveActor};

/// A snapshot of a live supervision tree, from [`Manager::tree`](crate::Manager::tree).
///
/// Its `Display` renders an indented text tree, one actor per line with its kind, name, id,
/// state and age. Finished actors are not in it; [`Stats`](crate::Stats) keeps their counts.
#[derive(Debug, Clone)]
pub struct Tree {
    actors: Vec<LiveActor>,
    root: u64,
}

impl Tree {
    pub(crate) fn new(root: u64, mut actors: Vec<LiveActor>) -> Self {
        // Oldest first, so siblings print in the order they started.
        actors.sort_by(|a, b| b.age.cmp(&a.age).then(a.id.cmp(&b.id)));
        Tree { actors, root }
    }

    /// The actors in the tree, oldest first.
    pub fn actors(&self) -> &[LiveActor] {
        &self.actors
    }

    /// Number of live actors of `kind` in the tree.
    pub fn count(&self, kind: ActorKind) -> usize {
        self.actors.iter().filter(|a| a.kind == kind).count()
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut children: HashMap<Option<u64>, Vec<&LiveActor>> = HashMap::new();
        for actor in &self.actors {
            children.entry(actor.parent).or_default().push(actor);
        }
        let roots: Vec<&LiveActor> = self
            .actors
            .iter()
            .filter(|a| a.id == self.root || a.parent.is_none_or(|p| !self.contains(p)))
            .collect();
        if roots.is_empty() {
            return writeln!(f, "(no live actors)");
        }
        for root in roots {
            write_node(f, root, &children, "", None)?;
        }
        Ok(())
    }
}

impl Tree {
    fn contains(&self, id: u64) -> bool {
        self.actors.iter().any(|a| a.id == id)
    }
}

fn write_node(
    f: &mut fmt::Formatter<'_>,
    actor: &LiveActor,
    children: &HashMap<Option<u64>, Vec<&LiveActor>>,
    prefix: &str,
    last: Option<bool>,
) -> fmt::Result {
    let (branch, next_prefix) = match last {
        None => (String::new(), String::new()),
        Some(true) => (format!("{prefix}└─ "), format!("{prefix}   ")),
        Some(false) => (format!("{prefix}├─ "), format!("{prefix}│  ")),
    };
    let id = match actor.kind {
        ActorKind::Manager => format!("m{}", actor.id),
        ActorKind::Scope => format!("s{}", actor.id),
        ActorKind::Task => format!("t{}", actor.id),
        _ => format!("#{}", actor.id),
    };
    write!(f, "{branch}{} '", actor.kind)?;
    // Names are labels of any text. Control characters (a newline) are escaped, so that each
    // actor keeps one line; quotes and other text are printed as they are.
    for c in actor.name.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    write!(f, "' {id}")?;
    if let Some(state) = actor.task_state {
        write!(f, " {state}")?;
    }
    writeln!(f, " age {:.3?}", actor.age)?;
    if let Some(kids) = children.get(&Some(actor.id)) {
        for (index, child) in kids.iter().enumerate() {
            write_node(
                f,
                child,
                children,
                &next_prefix,
                Some(index + 1 == kids.len()),
            )?;
        }
    }
    Ok(())
}
