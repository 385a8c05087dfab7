//! Cycles and path lengths of the route graph, in time linear in vaults plus routes: one
//! depth-first pass with an explicit stack (no recursion to overflow, no path enumeration, which
//! is exponential in a ladder of diamonds).

use std::collections::BTreeSet;

use super::{Errors, MAX_HOPS};

/// Cycles reported by name; a policy with more gets a count of the rest (each cycle can be as long
/// as the policy, so listing them all could print megabytes).
const MAX_CYCLES_LISTED: usize = 20;

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    New,
    /// On the depth-first stack: an edge back to it closes a cycle.
    Open,
    /// Finished: its longest path is known.
    Done,
}

struct Walk<'a> {
    next: Vec<Vec<usize>>,
    mark: Vec<Mark>,
    /// Longest path (in routes) from each vault, once Done.
    longest: Vec<usize>,
    /// Where each Open vault sits on `stack`.
    stack_pos: Vec<usize>,
    /// (vault, index of its next route to follow).
    stack: Vec<(usize, usize)>,
    names: &'a [&'a str],
    cycles: BTreeSet<Vec<&'a str>>,
    more_cycles: usize,
}

impl<'a> Walk<'a> {
    fn new(names: &'a [&'a str], edges: &[(usize, usize)]) -> Self {
        let n = names.len();
        let mut next = vec![Vec::new(); n];
        for &(from, to) in edges {
            next[from].push(to);
        }
        Self {
            next,
            mark: vec![Mark::New; n],
            longest: vec![0; n],
            stack_pos: vec![0; n],
            stack: Vec::new(),
            names,
            cycles: BTreeSet::new(),
            more_cycles: 0,
        }
    }

    fn open(&mut self, node: usize) {
        self.mark[node] = Mark::Open;
        self.stack_pos[node] = self.stack.len();
        self.stack.push((node, 0));
    }

    /// Depth-first from `start`, each vault and route visited once over all starts.
    fn from(&mut self, start: usize) {
        if self.mark[start] != Mark::New {
            return;
        }
        self.open(start);
        while let Some(&(node, i)) = self.stack.last() {
            let Some(&to) = self.next[node].get(i) else {
                self.stack.pop();
                self.mark[node] = Mark::Done;
                if let Some(&(parent, _)) = self.stack.last() {
                    self.longest[parent] = self.longest[parent].max(self.longest[node] + 1);
                }
                continue;
            };
            if let Some(top) = self.stack.last_mut() {
                top.1 += 1;
            }
            match self.mark[to] {
                Mark::New => self.open(to),
                Mark::Open => self.cycle_back_to(to),
                Mark::Done => self.longest[node] = self.longest[node].max(self.longest[to] + 1),
            }
        }
    }

    fn cycle_back_to(&mut self, to: usize) {
        if self.cycles.len() >= MAX_CYCLES_LISTED {
            self.more_cycles += 1;
            return;
        }
        let mut cycle: Vec<&str> = self.stack[self.stack_pos[to]..]
            .iter()
            .map(|&(n, _)| self.names[n])
            .collect();
        // Start at the smallest alias, so a cycle reads the same whichever vault it was entered by.
        let min = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(min);
        self.cycles.insert(cycle);
    }
}

/// `a -> b -> c -> a`; a cycle longer than MAX_HOPS shows its first vaults and a count.
fn cycle_text(cycle: &[&str]) -> String {
    let shown = cycle.len().min(MAX_HOPS);
    let mut parts: Vec<String> = cycle[..shown].iter().map(|s| s.to_string()).collect();
    if cycle.len() > shown {
        parts.push(format!("({} more vaults)", cycle.len() - shown));
    }
    parts.push(cycle.first().map(|s| s.to_string()).unwrap_or_default());
    parts.join(" -> ")
}

/// Cycles, and paths longer than MAX_HOPS, over routes already known to name real vaults:
/// `edges` are (from, to) indices into `names`.
pub(super) fn check_graph(names: &[&str], edges: &[(usize, usize)], errors: &mut Errors) {
    let mut walk = Walk::new(names, edges);
    for start in 0..names.len() {
        walk.from(start);
    }
    let mut has_incoming = vec![false; names.len()];
    for &(_, to) in edges {
        has_incoming[to] = true;
    }
    // A cycle makes every path through it infinite: report the cycle, not the length.
    if walk.cycles.is_empty() {
        for (v, name) in names.iter().enumerate() {
            let depth = walk.longest[v];
            if depth > MAX_HOPS && !has_incoming[v] {
                errors.add(
                    &format!("vault '{name}'"),
                    "routes",
                    format!("a path of {depth} hops starts here; at most {MAX_HOPS} are allowed"),
                );
            }
        }
    }
    for cycle in &walk.cycles {
        errors.add("routes", "(graph)", format!("cycle: {}", cycle_text(cycle)));
    }
    if walk.more_cycles > 0 {
        errors.add(
            "routes",
            "(graph)",
            format!("{} more cycles not listed", walk.more_cycles),
        );
    }
}
