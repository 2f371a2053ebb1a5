//! Subsumption graph of one CodeSystem over concept indices; a DAG in theory, but cycles in
//! real data must not hang, so every walk keeps a visited mark.

/// Parent and child links between concept indices, both lists sorted (definition order).
#[derive(Debug, Default)]
pub(crate) struct Hierarchy {
    parents: Vec<Vec<u32>>,
    children: Vec<Vec<u32>>,
}

impl Hierarchy {
    /// Builds the graph from (parent, child) edges; self-links and duplicates are dropped.
    pub(crate) fn new(n: usize, mut edges: Vec<(u32, u32)>) -> Self {
        edges.retain(|(p, c)| p != c);
        edges.sort_unstable();
        edges.dedup();
        let mut parents = vec![Vec::new(); n];
        let mut children = vec![Vec::new(); n];
        // Edges are sorted by parent then child, so both adjacency lists come out sorted.
        for (p, c) in edges {
            children[p as usize].push(c);
            parents[c as usize].push(p);
        }
        Hierarchy { parents, children }
    }

    pub(crate) fn parents(&self, i: usize) -> &[u32] {
        &self.parents[i]
    }

    pub(crate) fn children(&self, i: usize) -> &[u32] {
        &self.children[i]
    }

    /// Marks every concept below `start` (and `start` itself when `include_self`).
    pub(crate) fn descendants(&self, start: usize, include_self: bool) -> Vec<bool> {
        reach(&self.children, start, include_self)
    }

    /// Marks every concept above `start` (and `start` itself when `include_self`).
    pub(crate) fn ancestors(&self, start: usize, include_self: bool) -> Vec<bool> {
        reach(&self.parents, start, include_self)
    }
}

fn reach(adjacent: &[Vec<u32>], start: usize, include_self: bool) -> Vec<bool> {
    let mut seen = vec![false; adjacent.len()];
    seen[start] = true;
    let mut stack = vec![start];
    while let Some(x) = stack.pop() {
        for &y in &adjacent[x] {
            let y = y as usize;
            if !seen[y] {
                seen[y] = true;
                stack.push(y);
            }
        }
    }
    // Even inside a cycle a concept is not its own strict descendant for `descendent-of`.
    seen[start] = include_self;
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(m: &[bool]) -> Vec<usize> {
        m.iter().enumerate().filter(|(_, b)| **b).map(|(i, _)| i).collect()
    }

    #[test]
    fn diamond_with_multiple_parents() {
        // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4
        let h = Hierarchy::new(5, vec![(0, 1), (0, 2), (1, 3), (2, 3), (3, 4), (1, 3)]);
        assert_eq!(h.parents(3), &[1, 2]);
        assert_eq!(h.children(0), &[1, 2]);
        assert_eq!(marked(&h.descendants(1, true)), vec![1, 3, 4]);
        assert_eq!(marked(&h.descendants(1, false)), vec![3, 4]);
        assert_eq!(marked(&h.ancestors(4, true)), vec![0, 1, 2, 3, 4]);
        assert_eq!(marked(&h.ancestors(0, true)), vec![0]);
    }

    #[test]
    fn cycles_terminate() {
        let h = Hierarchy::new(3, vec![(0, 1), (1, 2), (2, 0), (1, 1)]);
        assert_eq!(marked(&h.descendants(0, true)), vec![0, 1, 2]);
        assert_eq!(marked(&h.descendants(0, false)), vec![1, 2]);
        assert_eq!(marked(&h.ancestors(1, false)), vec![0, 2]);
        assert!(h.children(1).iter().all(|&c| c != 1), "self links are dropped");
    }
}
