//! Layout of the lineage DAG for the HTML report: documents in layers by
//! depth (the longest path from a root), one row per layer, fixed box sizes.
//!
//! An edge that skips layers (a redaction of the original and of its
//! translation) gets a reserved slot in every layer it crosses, as the
//! "dummy nodes" of a Sugiyama layout, so no edge is drawn through a box it
//! does not connect. Pure arithmetic on indices, so it is tested on its own:
//! no two boxes overlap, no edge crosses a box, everything lies inside the
//! drawing, and the same input gives the same output.

use std::collections::BTreeMap;

/// Width of a document box, in SVG user units (pixels).
pub const BOX_W: u32 = 200;
/// Height of a document box.
pub const BOX_H: u32 = 52;
/// Width of the slot an edge reserves in a layer it passes through.
pub const LANE_W: u32 = 24;
/// Horizontal gap between boxes (and lanes) of one layer.
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

/// A placed parent → child edge: a polyline from the bottom centre of the
/// parent's box, through the lanes it reserved (top and bottom of each
/// crossed layer), to the top centre of the child's box.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacedEdge {
    pub parent: u64,
    pub child: u64,
    /// At least two points, `y` strictly increasing between consecutive
    /// layers; the last is where the arrowhead goes.
    pub points: Vec<(u32, u32)>,
}

/// The whole drawing; `width` × `height` is the SVG viewBox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagLayout {
    pub width: u32,
    pub height: u32,
    /// By layer, then by index within the layer.
    pub boxes: Vec<PlacedBox>,
    /// In input order, the edges whose ends are both documents of the input
    /// and whose parent lies in a higher layer than the child.
    pub edges: Vec<PlacedEdge>,
}

impl DagLayout {
    /// The box of a document, if it was placed.
    pub fn get(&self, index: u64) -> Option<&PlacedBox> {
        self.boxes.iter().find(|b| b.index == index)
    }

    /// The placed edge from `parent` to `child`, if any.
    pub fn edge(&self, parent: u64, child: u64) -> Option<&PlacedEdge> {
        self.edges
            .iter()
            .find(|e| e.parent == parent && e.child == child)
    }
}

/// What occupies a slot of a layer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Slot {
    /// A document, by index (sorts before every lane).
    Doc(u64),
    /// The lane of edge number `n` of the accepted edges (by child, parent).
    Lane(u64, u64, usize),
}

/// Lays out `docs` (arrival index, parent indices) in layers.
///
/// Depth is the longest path from a root. A parent counts only if it is one of
/// `docs` and has a smaller index (a parent's record always precedes its
/// child's in the log), which also makes a malformed, cyclic input terminate.
/// `edges` are (parent, child) pairs; those naming an unknown document, or
/// not pointing down, are left out. Duplicate document indices and duplicate
/// edges keep their first occurrence. Within a layer: documents by index,
/// then lanes by (child, parent).
pub fn layout_dag(docs: &[(u64, Vec<u64>)], edges: &[(u64, u64)]) -> DagLayout {
    let depth = depths(docs);
    let accepted = accepted_edges(&depth, edges);
    let layers = layers(&depth, &accepted);
    let inner_w = layers
        .values()
        .map(|r| row_w(r))
        .max()
        .unwrap_or(0)
        .max(BOX_W);
    // Layers are consecutive from 0: every depth d > 0 has a parent at d - 1.
    let n_layers = layers.len() as u32;
    let width = 2 * MARGIN + inner_w;
    let height = 2 * MARGIN + n_layers.max(1) * BOX_H + n_layers.saturating_sub(1) * GAP_Y;
    let (boxes, lanes) = place(&layers, inner_w);
    let edges = route(&accepted, &boxes, &lanes);
    DagLayout {
        width,
        height,
        boxes,
        edges,
    }
}

/// The depth of each document, the first occurrence of each index only.
fn depths(docs: &[(u64, Vec<u64>)]) -> BTreeMap<u64, u32> {
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
    depth
}

/// The edges between placed documents that point down, each once, in input order.
fn accepted_edges(depth: &BTreeMap<u64, u32>, edges: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut accepted: Vec<(u64, u64)> = Vec::new();
    for &(p, c) in edges {
        let ok = matches!((depth.get(&p), depth.get(&c)), (Some(dp), Some(dc)) if dp < dc);
        if ok && !accepted.contains(&(p, c)) {
            accepted.push((p, c));
        }
    }
    accepted
}

/// The slots of each layer, sorted: its documents, and a lane for each
/// accepted edge that crosses it.
fn layers(depth: &BTreeMap<u64, u32>, accepted: &[(u64, u64)]) -> BTreeMap<u32, Vec<Slot>> {
    let mut layers: BTreeMap<u32, Vec<Slot>> = BTreeMap::new();
    for (&i, &d) in depth {
        layers.entry(d).or_default().push(Slot::Doc(i));
    }
    for (n, &(p, c)) in accepted.iter().enumerate() {
        for d in depth[&p] + 1..depth[&c] {
            layers.entry(d).or_default().push(Slot::Lane(c, p, n));
        }
    }
    for row in layers.values_mut() {
        row.sort();
    }
    layers
}

/// The width a slot takes in its layer.
fn slot_w(s: &Slot) -> u32 {
    match s {
        Slot::Doc(_) => BOX_W,
        Slot::Lane(..) => LANE_W,
    }
}

/// The width of a layer: its slots and the gaps between them.
fn row_w(row: &[Slot]) -> u32 {
    row.iter().map(slot_w).sum::<u32>() + (row.len() as u32).saturating_sub(1) * GAP_X
}

/// The top of the boxes of layer `d`.
fn layer_y(d: u32) -> u32 {
    MARGIN + d * (BOX_H + GAP_Y)
}

/// Places the slots of each layer left to right, shorter layers centred:
/// the document boxes, and the centre x of each lane by (edge, layer).
fn place(
    layers: &BTreeMap<u32, Vec<Slot>>,
    inner_w: u32,
) -> (Vec<PlacedBox>, BTreeMap<(usize, u32), u32>) {
    let mut boxes = Vec::new();
    let mut lanes: BTreeMap<(usize, u32), u32> = BTreeMap::new(); // (edge, layer) → centre x
    for (&d, row) in layers {
        let mut x = MARGIN + (inner_w - row_w(row)) / 2; // centre shorter layers
        for slot in row {
            match *slot {
                Slot::Doc(index) => boxes.push(PlacedBox {
                    index,
                    depth: d,
                    x,
                    y: layer_y(d),
                }),
                Slot::Lane(_, _, n) => {
                    lanes.insert((n, d), x + LANE_W / 2);
                }
            }
            x += slot_w(slot) + GAP_X;
        }
    }
    (boxes, lanes)
}

/// The polyline of each accepted edge: from the parent's box, through its
/// lanes, to the child's box.
fn route(
    accepted: &[(u64, u64)],
    boxes: &[PlacedBox],
    lanes: &BTreeMap<(usize, u32), u32>,
) -> Vec<PlacedEdge> {
    let pos: BTreeMap<u64, (u32, u32, u32)> = boxes
        .iter()
        .map(|b| (b.index, (b.x, b.y, b.depth)))
        .collect();
    accepted
        .iter()
        .enumerate()
        .map(|(n, &(parent, child))| {
            let (px, py, pd) = pos[&parent];
            let (cx, cy, cd) = pos[&child];
            let mut points = vec![(px + BOX_W / 2, py + BOX_H)];
            for d in pd + 1..cd {
                let x = lanes[&(n, d)];
                points.push((x, layer_y(d)));
                points.push((x, layer_y(d) + BOX_H));
            }
            points.push((cx + BOX_W / 2, cy));
            PlacedEdge {
                parent,
                child,
                points,
            }
        })
        .collect()
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
            assert!(e.points.len() >= 2);
            for w in e.points.windows(2) {
                let ((x1, y1), (x2, y2)) = (w[0], w[1]);
                assert!(x1 <= l.width && x2 <= l.width && y2 <= l.height);
                assert!(y1 < y2, "edge {}→{} does not go down", e.parent, e.child);
                // No segment passes through the inside of a box (sampled).
                for k in 0..=64 {
                    let x = x1 as f64 + (x2 as f64 - x1 as f64) * k as f64 / 64.0;
                    let y = y1 as f64 + (y2 as f64 - y1 as f64) * k as f64 / 64.0;
                    for b in &l.boxes {
                        let inside = x > b.x as f64
                            && x < (b.x + BOX_W) as f64
                            && y > b.y as f64
                            && y < (b.y + BOX_H) as f64;
                        assert!(
                            !inside,
                            "edge {}→{} crosses box {}",
                            e.parent, e.child, b.index
                        );
                    }
                }
            }
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
    fn an_edge_that_skips_layers_gets_a_lane_in_each() {
        // 5 is a redaction of the original 0 and of its translation 2; 3 and
        // 4 sit in layer 1 too, where a straight 0 → 5 line would cross them.
        let docs = [
            (0, vec![]),
            (2, vec![0]),
            (3, vec![0]),
            (4, vec![0]),
            (5, vec![0, 2]),
            (6, vec![5]),
        ];
        let edges = [(0, 2), (0, 3), (0, 4), (2, 5), (0, 5), (5, 6), (0, 6)];
        let l = layout_dag(&docs, &edges);
        assert_eq!(l.get(5).unwrap().depth, 2);
        assert_eq!(
            l.edge(0, 5).unwrap().points.len(),
            4,
            "one lane, in layer 1"
        );
        assert_eq!(
            l.edge(0, 6).unwrap().points.len(),
            6,
            "lanes in layers 1 and 2"
        );
        assert_eq!(l.edge(2, 5).unwrap().points.len(), 2);
        // Layer 1: three boxes and two lanes.
        assert_eq!(l.width, 2 * MARGIN + 3 * BOX_W + 2 * LANE_W + 4 * GAP_X);
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
