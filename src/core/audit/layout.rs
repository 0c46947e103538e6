//! Layout of the lineage DAG for the HTML report: documents in layers by
//! depth (the longest path from a root), one row per layer, fixed box sizes.
//!
//! Pure arithmetic on indices, so it is tested on its own: no two boxes
//! overlap, every box and edge lies inside the drawing, and the same input
//! gives the same output.

use std::collections::BTreeMap;

/// Width of a document box, in SVG user units (pixels).
pub const BOX_W: u32 = 200;
/// Height of a document box.
pub const BOX_H: u32 = 52;
/// Horizontal gap between boxes of one layer.
pub const GAP_X: u32 = 28;
/// Vertical gap between layers: room for the arrow and its relation label.
pub const GAP_Y: u32 = 64;
/// Margin around the drawing.
pub const MARGIN: u32 = 16;

/// A placed document box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedBox {
    /// Arrival index of the document.
    pub index: u64,
    /// Layer: 0 for a root, else 1 + the largest depth of its parents.
    pub depth: u32,
    /// Top-left corner.
    pub x: u32,
    pub y: u32,
}

/// A placed parent → child edge: from the bottom centre of the parent's box
/// to the top centre of the child's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedEdge {
    pub parent: u64,
    pub child: u64,
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

/// The whole drawing; `width` × `height` is the SVG viewBox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagLayout {
    pub width: u32,
    pub height: u32,
    /// By layer, then by index within the layer.
    pub boxes: Vec<PlacedBox>,
    /// In input order, edges whose ends are both documents of the input.
    pub edges: Vec<PlacedEdge>,
}

impl DagLayout {
    /// The box of a document, if it was placed.
    pub fn get(&self, index: u64) -> Option<&PlacedBox> {
        self.boxes.iter().find(|b| b.index == index)
    }
}

/// Lays out `docs` (arrival index, parent indices) in layers.
///
/// Depth is the longest path from a root. A parent counts only if it is one of
/// `docs` and has a smaller index (a parent's record always precedes its
/// child's in the log), which also makes a malformed, cyclic input terminate.
/// `edges` are (parent, child) pairs; those naming an unknown document are
/// left out. Duplicate document indices keep their first occurrence.
pub fn layout_dag(docs: &[(u64, Vec<u64>)], edges: &[(u64, u64)]) -> DagLayout {
    let mut by_index: BTreeMap<u64, &[u64]> = BTreeMap::new();
    for (i, parents) in docs {
        by_index.entry(*i).or_insert(parents.as_slice());
    }
    // Ascending index order is a topological order, given the rule above.
    let mut depth: BTreeMap<u64, u32> = BTreeMap::new();
    for (&i, parents) in &by_index {
        let d = parents
            .iter()
            .filter(|&&p| p < i)
            .filter_map(|p| depth.get(p))
            .map(|d| d + 1)
            .max()
            .unwrap_or(0);
        depth.insert(i, d);
    }
    let mut layers: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (&i, &d) in &depth {
        layers.entry(d).or_default().push(i); // BTreeMap iteration: by index
    }
    let widest = layers.values().map(Vec::len).max().unwrap_or(0) as u32;
    let row_w = |n: u32| n * BOX_W + n.saturating_sub(1) * GAP_X;
    let inner_w = row_w(widest.max(1));
    let n_layers = layers.len() as u32;
    let width = 2 * MARGIN + inner_w;
    let height = 2 * MARGIN + n_layers.max(1) * BOX_H + n_layers.saturating_sub(1) * GAP_Y;

    let mut boxes = Vec::with_capacity(depth.len());
    for (&d, row) in &layers {
        let n = row.len() as u32;
        let offset = (inner_w - row_w(n)) / 2; // centre shorter layers
        for (k, &index) in row.iter().enumerate() {
            boxes.push(PlacedBox {
                index,
                depth: d,
                x: MARGIN + offset + k as u32 * (BOX_W + GAP_X),
                y: MARGIN + d * (BOX_H + GAP_Y),
            });
        }
    }
    let pos: BTreeMap<u64, (u32, u32)> = boxes.iter().map(|b| (b.index, (b.x, b.y))).collect();
    let edges = edges
        .iter()
        .filter_map(|&(parent, child)| {
            let (px, py) = *pos.get(&parent)?;
            let (cx, cy) = *pos.get(&child)?;
            Some(PlacedEdge {
                parent,
                child,
                x1: px + BOX_W / 2,
                y1: py + BOX_H,
                x2: cx + BOX_W / 2,
                y2: cy,
            })
        })
        .collect();
    DagLayout {
        width,
        height,
        boxes,
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overlap(a: &PlacedBox, b: &PlacedBox) -> bool {
        a.x < b.x + BOX_W && b.x < a.x + BOX_W && a.y < b.y + BOX_H && b.y < a.y + BOX_H
    }

    /// No two boxes overlap, and every box and edge end is inside the viewBox.
    fn assert_sound(l: &DagLayout) {
        for (i, a) in l.boxes.iter().enumerate() {
            assert!(a.x + BOX_W + MARGIN <= l.width, "box {} too wide", a.index);
            assert!(a.y + BOX_H + MARGIN <= l.height, "box {} too low", a.index);
            for b in &l.boxes[i + 1..] {
                assert!(!overlap(a, b), "boxes {} and {} overlap", a.index, b.index);
            }
        }
        for e in &l.edges {
            assert!(e.x1 <= l.width && e.x2 <= l.width);
            assert!(e.y1 <= l.height && e.y2 <= l.height);
            assert!(e.y1 < e.y2, "edge {}→{} points up", e.parent, e.child);
        }
    }

    #[test]
    fn single_document() {
        let l = layout_dag(&[(7, vec![])], &[]);
        assert_eq!(l.boxes.len(), 1);
        assert_eq!((l.boxes[0].x, l.boxes[0].y), (MARGIN, MARGIN));
        assert_eq!(
            (l.width, l.height),
            (BOX_W + 2 * MARGIN, BOX_H + 2 * MARGIN)
        );
        assert_sound(&l);
    }

    #[test]
    fn empty_input_still_has_a_viewbox() {
        let l = layout_dag(&[], &[]);
        assert!(l.boxes.is_empty() && l.width > 0 && l.height > 0);
    }

    #[test]
    fn diamond_depth_is_longest_path() {
        // 0 → 2 (translation), 0 → 3 (excerpt), 2 → 5 (translation of it),
        // {3, 5} → 9 (redaction with two parents): 9 sits below 5, not below 3.
        let docs = [
            (0, vec![]),
            (2, vec![0]),
            (3, vec![0]),
            (5, vec![2]),
            (9, vec![3, 5]),
        ];
        let edges = [(0, 2), (0, 3), (2, 5), (3, 9), (5, 9)];
        let l = layout_dag(&docs, &edges);
        let depth = |i| l.get(i).unwrap().depth;
        assert_eq!(
            [depth(0), depth(2), depth(3), depth(5), depth(9)],
            [0, 1, 1, 2, 3]
        );
        // Within a layer, by index: 2 left of 3.
        assert!(l.get(2).unwrap().x < l.get(3).unwrap().x);
        assert_eq!(l.edges.len(), 5);
        assert_sound(&l);
    }

    #[test]
    fn wide_dag_grows_the_layer_not_the_overlap() {
        // One original, 24 derived documents from it, and one that merges
        // the first and the last of them.
        let mut docs = vec![(0u64, vec![])];
        let mut edges = vec![];
        for i in 1..=24u64 {
            docs.push((i, vec![0]));
            edges.push((0, i));
        }
        docs.push((30, vec![1, 24]));
        edges.extend([(1, 30), (24, 30)]);
        let l = layout_dag(&docs, &edges);
        assert_eq!(l.boxes.len(), 26);
        assert_eq!(l.width, 2 * MARGIN + 24 * BOX_W + 23 * GAP_X);
        assert_eq!(l.boxes.iter().filter(|b| b.depth == 1).count(), 24);
        assert_sound(&l);
    }

    #[test]
    fn long_chain_and_unknown_or_later_parents() {
        // A chain of 25 plus a document naming a parent that is not in the
        // DAG and one naming a later index (malformed): both become roots.
        let mut docs: Vec<(u64, Vec<u64>)> = (0..25u64)
            .map(|i| (i, if i == 0 { vec![] } else { vec![i - 1] }))
            .collect();
        docs.push((40, vec![99]));
        docs.push((41, vec![45]));
        docs.push((45, vec![41])); // cycle through a later index
        let edges: Vec<(u64, u64)> = (1..25u64).map(|i| (i - 1, i)).chain([(99, 40)]).collect();
        let l = layout_dag(&docs, &edges);
        assert_eq!(l.get(24).unwrap().depth, 24);
        assert_eq!(l.get(40).unwrap().depth, 0);
        assert_eq!(l.get(41).unwrap().depth, 0);
        assert_eq!(l.get(45).unwrap().depth, 1);
        assert_eq!(
            l.edges.len(),
            24,
            "the edge from the unknown 99 is left out"
        );
        assert_sound(&l);
    }

    #[test]
    fn deterministic_whatever_the_input_order() {
        let a = [(0, vec![]), (2, vec![0]), (3, vec![0]), (9, vec![2, 3])];
        let mut b = a.clone();
        b.reverse();
        let e = [(0, 2), (0, 3), (2, 9), (3, 9)];
        assert_eq!(layout_dag(&a, &e), layout_dag(&b, &e));
    }
}
