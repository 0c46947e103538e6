//! The HTML rendering of an audit report (FORMAT.md §12.2): one
//! self-contained HTML5 file with inline CSS, inline SVG drawings and a small
//! inline script, under a Content-Security-Policy that forbids every network
//! load. Deterministic: ids come from log indices, never from randomness.
//!
//! Every string of the report may come from outside (file names, notes,
//! reasons), so each one goes through [`esc`] (after [`clean`], which makes
//! control and bidi characters visible). The script reads only `data-`
//! attributes: no report data is ever placed inside `<script>`.

use std::fmt::Write;

use super::layout::{layout_dag, BOX_H, BOX_W};
use super::text::{clean, doc_label, doc_what, path_line, verdict};
use super::{AuditReport, DocumentView, EventView, HopView, UpstreamView};

/// The policy of the page: nothing may be fetched; inline style and script
/// only; images only as `data:` URLs.
pub const HTML_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:";

/// Escapes text for HTML content and for quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// A string from the report, made visible and escaped.
fn t(s: &str) -> String {
    esc(&clean(s))
}

/// At most `n` characters, with an ellipsis when cut (for SVG text, which
/// does not wrap; the full text is in the element's `<title>`).
fn trunc(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

const STYLE: &str = r##"
:root { --ok: #1a7f37; --bad: #b42318; --okbg: #e6f4ea; --badbg: #fde8e8; --line: #d0d4da; --dim: #59636e; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328; margin: 0 auto; padding: 16px 24px; max-width: 1200px; }
h1 { font-size: 22px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 24px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; break-after: avoid; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; word-break: break-all; }
.verdict { font-size: 20px; font-weight: 700; padding: 10px 14px; border-radius: 6px; margin: 8px 0 12px; border: 2px solid; }
.verdict.ok { color: var(--ok); background: var(--okbg); border-color: var(--ok); }
.verdict.bad { color: var(--bad); background: var(--badbg); border-color: var(--bad); }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
dl.summary dt { color: var(--dim); }
dl.summary dd { margin: 0; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th { font-weight: 600; background: #f6f8fa; }
tr.finding td { background: var(--badbg); }
tr.finding td:first-child { box-shadow: inset 4px 0 0 var(--bad); }
tr.missing td { background: var(--badbg); color: var(--bad); font-weight: 600; }
tr.present td.st { color: var(--ok); }
.ok-text { color: var(--ok); font-weight: 600; }
.bad-text { color: var(--bad); font-weight: 600; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; padding: 4px; }
svg text { font: 12px system-ui, sans-serif; fill: #1f2328; }
svg .doc rect, svg .hop rect { fill: #fff; stroke: #8c959f; stroke-width: 1.5; }
svg .doc { cursor: pointer; }
svg .doc.target rect { fill: #fff8c5; stroke: #9a6700; stroke-width: 3; }
svg .doc.has-finding rect, svg .hop.untrusted rect { stroke: var(--bad); stroke-width: 3; }
svg .hop.untrusted rect { stroke-dasharray: 6 3; }
svg .hop.here rect { fill: #ddf4ff; stroke: #0969da; }
svg .doc.selected rect { fill: #ddf4ff; }
svg .doc:focus { outline: none; }
svg .doc:focus rect { stroke: #0969da; }
svg .strong { font-weight: 700; }
svg .small { font-size: 11px; fill: var(--dim); }
svg .edge { stroke: #57606a; stroke-width: 1.5; fill: none; }
svg .label { font-size: 11px; fill: #57606a; paint-order: stroke; stroke: #fff; stroke-width: 4px; }
.controls { margin: 4px 0 8px; }
.hint { color: var(--dim); margin: 4px 0; }
ol.findings li { margin: 4px 0; }
footer { margin-top: 24px; color: var(--dim); font-size: 12px; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  .controls, .hint { display: none; }
  .scroll { overflow: visible; border: none; }
  svg { max-width: 100%; height: auto; }
  tr.event[hidden] { display: table-row; }
  .verdict, tr.finding td, tr.missing td { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
  tr { break-inside: avoid; }
}
"##;

const SCRIPT: &str = r##"
(function () {
  "use strict";
  var rows = document.querySelectorAll("#timeline tr.event");
  var docs = document.querySelectorAll("#lineage .doc");
  var note = document.getElementById("filter-note");
  var current = null;
  function show(doc) {
    current = doc;
    var n = 0, i;
    for (i = 0; i < rows.length; i++) {
      var on = doc === null || rows[i].getAttribute("data-doc") === doc;
      rows[i].hidden = !on;
      if (on) { n++; }
    }
    for (i = 0; i < docs.length; i++) {
      docs[i].classList.toggle("selected", docs[i].getAttribute("data-doc") === doc);
    }
    if (note) {
      note.textContent = doc === null ? "" : "Showing the " + n + " events of document #" + doc + ".";
    }
  }
  function pick(el) {
    var d = el.getAttribute("data-doc");
    show(current === d ? null : d);
  }
  Array.prototype.forEach.call(docs, function (el) {
    el.addEventListener("click", function () { pick(el); });
    el.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); pick(el); }
    });
  });
  var all = document.getElementById("show-all");
  if (all) { all.addEventListener("click", function () { show(null); }); }
  document.body.setAttribute("data-ready", "1");
})();
"##;

fn marker(o: &mut String, id: &str) {
    let _ = write!(
        o,
        r##"<defs><marker id="{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#57606a"/></marker></defs>"##
    );
}

/// The lineage DAG as inline SVG (`id="lineage"`), one `g.doc` per document.
fn lineage_svg(o: &mut String, r: &AuditReport) {
    let docs: Vec<(u64, Vec<u64>)> = r
        .documents
        .iter()
        .map(|d| (d.index, d.parents.clone()))
        .collect();
    let edges: Vec<(u64, u64)> = r.lineage.iter().map(|e| (e.parent, e.child)).collect();
    let l = layout_dag(&docs, &edges);
    let _ = write!(
        o,
        r#"<svg id="lineage" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Lineage of the documents: originals at the top, the audited document highlighted">"#,
        w = l.width,
        h = l.height
    );
    marker(o, "lineage-arrow");
    o.push_str(r#"<g class="edges">"#);
    for le in &r.lineage {
        let Some(e) = l.edge(le.parent, le.child) else {
            continue;
        };
        let pts: Vec<String> = e.points.iter().map(|(x, y)| format!("{x},{y}")).collect();
        let _ = write!(
            o,
            r#"<polyline class="edge" data-parent="{}" data-child="{}" points="{}" marker-end="url(#lineage-arrow)"/>"#,
            le.parent,
            le.child,
            pts.join(" ")
        );
        // The label on the first segment, which leaves the parent.
        let ((x1, y1), (x2, y2)) = (e.points[0], e.points[1]);
        let (mx, my) = ((x1 + x2) / 2, (y1 + y2) / 2 + 4);
        let _ = write!(
            o,
            r#"<text class="label" x="{mx}" y="{my}" text-anchor="middle">{}</text>"#,
            t(&trunc(&le.relation, 24))
        );
    }
    o.push_str("</g>");
    for b in &l.boxes {
        let Some(d) = r.documents.iter().find(|d| d.index == b.index) else {
            continue;
        };
        let finding = r
            .events
            .iter()
            .any(|e| e.document == d.index && !e.findings.is_empty());
        let mut class = String::from("doc");
        if d.target {
            class.push_str(" target");
        }
        if finding {
            class.push_str(" has-finding");
        }
        // Tooltip lines, each cleaned; the newlines between them are kept.
        let mut title = vec![clean(&doc_label(d))];
        if let Some(from) = &d.received_from {
            title.push(format!("received from {}", clean(from)));
        }
        title.push(format!("commitment {}", d.commitment));
        if let Some(s) = d.size {
            title.push(format!("{s} bytes"));
        }
        if let Some(h) = &d.sha256 {
            title.push(format!("SHA-256 {h}"));
        }
        let head = format!(
            "#{} {}{}",
            d.index,
            doc_what(d),
            if d.target { " (target)" } else { "" }
        );
        let sub = match (&d.name, &d.received_from) {
            (Some(n), _) => n.clone(),
            (None, Some(f)) => format!("from {f}"),
            (None, None) => format!("commitment {}", &d.commitment.to_hex()[..12]),
        };
        let _ = write!(
            o,
            r#"<g class="{class}" data-doc="{i}" tabindex="0" role="button"><title>{title}</title><rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/><text class="strong" x="{tx}" y="{y1}">{head}</text><text x="{tx}" y="{y2}">{sub}</text></g>"#,
            i = d.index,
            title = esc(&title.join("\n")),
            x = b.x,
            y = b.y,
            tx = b.x + 10,
            y1 = b.y + 21,
            y2 = b.y + 40,
            head = t(&trunc(&head, 28)),
            sub = t(&trunc(&sub, 28)),
        );
    }
    o.push_str("</svg>");
}

const HOP_W: u32 = 230;
const HOP_H: u32 = 70;
const HOP_GAP: u32 = 90;
const HOP_M: u32 = 12;

/// The outlets as boxes in a row with arrows (`id="hops"`), ending with this archive.
fn hops_svg(o: &mut String, r: &AuditReport) {
    let n = r.hops.len() as u32 + 1;
    let w = 2 * HOP_M + n * HOP_W + (n - 1) * HOP_GAP;
    let h = 2 * HOP_M + HOP_H + 8;
    let _ = write!(
        o,
        r#"<svg id="hops" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="Outlets the document passed through, oldest first, ending with this archive">"#
    );
    marker(o, "hops-arrow");
    let x_of = |k: u32| HOP_M + k * (HOP_W + HOP_GAP);
    let y = HOP_M + 4;
    let hop_box = |o: &mut String, k: u32, class: &str, lines: [String; 3], title: &str| {
        let x = x_of(k);
        let _ = write!(
            o,
            r#"<g class="{class}"><title>{}</title><rect x="{x}" y="{y}" width="{HOP_W}" height="{HOP_H}" rx="6"/><text class="strong" x="{tx}" y="{a}">{}</text><text class="small" x="{tx}" y="{b}">{}</text><text class="small" x="{tx}" y="{c}">{}</text></g>"#,
            t(title),
            t(&trunc(&lines[0], 32)),
            t(&trunc(&lines[1], 36)),
            t(&trunc(&lines[2], 36)),
            tx = x + 10,
            a = y + 22,
            b = y + 42,
            c = y + 59,
        );
    };
    for (k, hop) in r.hops.iter().enumerate() {
        let k = k as u32;
        let key = hop
            .key_id
            .map_or("unknown key".to_string(), |id| format!("key {id}"));
        let trust = if hop.trusted { "trusted" } else { "UNTRUSTED" };
        let cp = hop
            .checkpoint_size
            .map_or("no checkpoint".to_string(), |s| format!("checkpoint {s}"));
        let lines = [
            hop.origin.clone(),
            format!("{key} · {trust}"),
            format!("{cp} · {} cosignatures", hop.cosigned_by.len()),
        ];
        let class = if hop.trusted { "hop" } else { "hop untrusted" };
        hop_box(o, k, class, lines, &hop.origin);
        // The arrow to the next outlet, labelled with the share that sent it.
        let (x1, x2) = (x_of(k) + HOP_W, x_of(k + 1));
        let ym = y + HOP_H / 2;
        let _ = write!(
            o,
            r#"<line class="edge" x1="{x1}" y1="{ym}" x2="{x2}" y2="{ym}" marker-end="url(#hops-arrow)"/>"#
        );
        if let Some(s) = hop.events.iter().rev().find(|e| e.kind == "share") {
            let _ = write!(
                o,
                r#"<text class="label" x="{}" y="{}" text-anchor="middle">share #{}</text>"#,
                (x1 + x2) / 2,
                ym - 8,
                s.index
            );
        }
    }
    let a = &r.archive;
    let arrival = r
        .derivation_path
        .first()
        .and_then(|&i| r.documents.iter().find(|d| d.index == i))
        .map_or(String::new(), |d| format!(" · {} #{}", d.kind, d.index));
    let lines = [
        a.origin.clone(),
        format!("this archive{arrival}"),
        format!(
            "checkpoint {} · {} cosignatures",
            a.checkpoint_size,
            a.cosigned_by.len()
        ),
    ];
    hop_box(o, n - 1, "hop here", lines, &a.origin);
    o.push_str("</svg>");
}

/// One event as a table row; in the timeline (`main`) the row has the class
/// `event` and the id `event-INDEX`, elsewhere neither (ids stay unique).
fn event_row(o: &mut String, e: &EventView, main: bool) {
    let bad = !e.findings.is_empty() || !e.verified;
    let status = if bad {
        let checks = if e.findings.is_empty() {
            String::new()
        } else {
            format!(": {}", t(&e.findings.join(", ")))
        };
        format!(r#"<span class="bad-text">FAIL</span>{checks}"#)
    } else {
        r#"<span class="ok-text">ok</span>"#.to_string()
    };
    let _ = write!(
        o,
        r#"<tr class="{}{}"{} data-doc="{doc}"><td class="mono">{time}</td><td>#{i}</td><td>{kind}</td><td>#{doc}</td><td>{actor} <span class="hint">({role})</span></td><td>{summary}</td><td>{status}</td></tr>"#,
        if main { "event" } else { "copy" },
        if bad { " finding" } else { "" },
        if main {
            format!(r#" id="event-{}""#, e.index)
        } else {
            String::new()
        },
        i = e.index,
        doc = e.document,
        time = t(&e.time),
        kind = t(&e.kind),
        actor = t(&e.actor),
        role = t(&e.role),
        summary = t(&e.summary),
    );
}

fn event_table(o: &mut String, id: &str, events: &[&EventView]) {
    if events.is_empty() {
        o.push_str("<p>None.</p>");
        return;
    }
    let _ = write!(
        o,
        r#"<table id="{id}"><thead><tr><th>Time (UTC)</th><th>Record</th><th>Kind</th><th>Document</th><th>Actor (role)</th><th>What happened</th><th>Status</th></tr></thead><tbody>"#
    );
    for e in events {
        event_row(o, e, id == "timeline");
    }
    o.push_str("</tbody></table>");
}

fn summary(o: &mut String, r: &AuditReport) {
    let a = &r.archive;
    let target: Option<&DocumentView> = r.documents.iter().find(|d| d.index == r.target);
    let cos = if a.cosigned_by.is_empty() {
        r#"<span class="bad-text">no witness</span>"#.to_string()
    } else {
        t(&a.cosigned_by.join(", "))
    };
    let _ = write!(
        o,
        r#"<dl class="summary"><dt>Archive</dt><dd>{origin} <span class="hint">(log key <code>{key}</code>)</span></dd><dt>Checkpoint</dt><dd>size {size}, root <code>{root}</code></dd><dt>Cosigned by</dt><dd>{cos}</dd>"#,
        origin = t(&a.origin),
        key = a.log_key_id,
        size = a.checkpoint_size,
        root = a.checkpoint_root,
    );
    match target {
        Some(d) => {
            let _ = write!(
                o,
                "<dt>Target</dt><dd><strong>{}</strong> <span class=\"hint\">(selected by {})</span></dd><dt>Commitment</dt><dd><code>{}</code></dd>",
                t(&doc_label(d)),
                r.selected_by,
                d.commitment
            );
            if let Some(h) = &d.sha256 {
                let _ = write!(o, "<dt>SHA-256</dt><dd><code>{h}</code></dd>");
            }
            if let Some(s) = d.size {
                let _ = write!(o, "<dt>Size</dt><dd>{s} bytes</dd>");
            }
        }
        None => {
            let _ = write!(o, "<dt>Target</dt><dd>#{}</dd>", r.target);
        }
    }
    let _ = write!(
        o,
        "<dt>Derivation</dt><dd>{}</dd><dt>Generated</dt><dd>{}</dd></dl>",
        t(&path_line(r)),
        t(&r.generated)
    );
}

/// Renders the report as one self-contained HTML5 page (FORMAT.md §12.2):
/// verdict banner, summary, lineage (`#lineage`, SVG), outlets (`#hops`,
/// SVG), timeline (`#timeline`, one `tr.event` per event, `.finding` when a
/// finding names it), copies, decryptions, approvals and findings (`#findings`).
pub fn render_html(r: &AuditReport) -> String {
    let mut o = String::with_capacity(16 * 1024 + 600 * r.events.len());
    let v = verdict(r);
    let title = match r.documents.iter().find(|d| d.index == r.target) {
        Some(d) => format!("Custody audit of {}: {v}", doc_label(d)),
        None => format!("Custody audit of #{}: {v}", r.target),
    };
    head(&mut o, r, &title);
    header(&mut o, r, &title, &v);
    lineage_section(&mut o, r);
    hops_section(&mut o, r);
    upstream_section(&mut o, r);
    timeline_section(&mut o, r);
    copies_sections(&mut o, r);
    configuration_section(&mut o, r);
    readers_section(&mut o, r);
    approvals_section(&mut o, r);
    findings_section(&mut o, r);
    footer(&mut o, r);
    o
}

/// The start of the page up to `<body>`: the policy, title and style (FORMAT.md §12.2).
fn head(o: &mut String, r: &AuditReport, title: &str) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{HTML_CSP}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"custody {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        r.schema,
        t(title)
    );
}

/// The page header: title, verdict banner (`#verdict`) and summary.
fn header(o: &mut String, r: &AuditReport, title: &str, verdict: &str) {
    let _ = write!(
        o,
        "<header><h1>{}</h1><div id=\"verdict\" class=\"verdict {}\" role=\"status\">{verdict}</div>",
        t(title),
        if r.findings.is_empty() { "ok" } else { "bad" }
    );
    summary(o, r);
    o.push_str("</header>\n");
}

/// The lineage section, around its drawing.
fn lineage_section(o: &mut String, r: &AuditReport) {
    o.push_str("<section><h2>Lineage</h2><p class=\"hint\">Originals at the top; arrows point from a document to the one derived from it. Click a document to show only its events in the timeline.</p><div class=\"scroll\">");
    lineage_svg(o, r);
    o.push_str("</div></section>\n");
}

/// The outlets section: their drawing, then their events as a table.
fn hops_section(o: &mut String, r: &AuditReport) {
    o.push_str("<section><h2>Outlets the document passed through</h2><div class=\"scroll\">");
    hops_svg(o, r);
    o.push_str("</div>");
    if r.hops.iter().any(|h| !h.events.is_empty()) {
        hop_events_table(o, r);
    } else if r.hops.is_empty() {
        o.push_str("<p>The original was ingested in this archive.</p>");
    }
    o.push_str("</section>\n");
}

/// The events of every hop, one row each (`table.hop-events`).
fn hop_events_table(o: &mut String, r: &AuditReport) {
    hop_events_rows(o, &r.hops.iter().collect::<Vec<_>>());
}

/// The custody of the parents of a document derived at another outlet
/// (`#upstream`): each parent's outlets as a row of boxes, a generation
/// further right, then their events.
fn upstream_section(o: &mut String, r: &AuditReport) {
    if r.upstream.is_empty() {
        return;
    }
    o.push_str("<section><h2>Derived at another outlet: the custody of its parents</h2><p class=\"hint\">Each row is a parent's chain of custody, oldest outlet first, ending where the document was derived; its own parents follow, indented.</p><div class=\"scroll\">");
    let mut rows = Vec::new();
    upstream_rows(&r.upstream, 0, &mut rows);
    upstream_svg(o, &rows);
    o.push_str("</div>");
    let hops: Vec<&HopView> = rows.iter().flat_map(|(_, u)| u.hops.iter()).collect();
    hop_events_rows(o, &hops);
    o.push_str("</section>\n");
}

/// The chains depth first, each with its generation.
fn upstream_rows<'a>(u: &'a [UpstreamView], gen: u32, out: &mut Vec<(u32, &'a UpstreamView)>) {
    for p in u {
        out.push((gen, p));
        upstream_rows(&p.parents, gen + 1, out);
    }
}

const UP_W: u32 = 200;
const UP_H: u32 = 46;
const UP_GAP: u32 = 44;
const UP_INDENT: u32 = 40;
const UP_ROW: u32 = UP_H + 40;

/// The rows of [`upstream_section`] as inline SVG (`id="upstream"`).
fn upstream_svg(o: &mut String, rows: &[(u32, &UpstreamView)]) {
    let width = rows
        .iter()
        .map(|(g, u)| g * UP_INDENT + (u.hops.len().max(1) as u32) * (UP_W + UP_GAP))
        .max()
        .unwrap_or(0)
        + 2 * HOP_M;
    let height = rows.len() as u32 * UP_ROW + 2 * HOP_M;
    let _ = write!(
        o,
        r#"<svg id="upstream" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="The custody of the parents, each row a chain of outlets, oldest first">"#
    );
    marker(o, "upstream-arrow");
    for (row, (gen, u)) in rows.iter().enumerate() {
        let x0 = HOP_M + gen * UP_INDENT;
        let y = HOP_M + row as u32 * UP_ROW;
        let label = format!("{} of {} #{}", u.relation, u.origin, u.document);
        let _ = write!(
            o,
            r#"<text class="label" x="{x0}" y="{}">{}</text>"#,
            y + 14,
            t(&trunc(&label, 80))
        );
        let yb = y + 24;
        for (k, hop) in u.hops.iter().enumerate() {
            let x = x0 + k as u32 * (UP_W + UP_GAP);
            let class = if hop.trusted { "hop" } else { "hop untrusted" };
            let first = hop
                .events
                .iter()
                .find(|e| e.kind != "actor" && e.kind != "config")
                .map_or(String::new(), |e| format!("{} #{}", e.kind, e.index));
            let _ = write!(
                o,
                r#"<g class="{class}"><title>{}</title><rect x="{x}" y="{yb}" width="{UP_W}" height="{UP_H}" rx="6"/><text class="strong" x="{tx}" y="{a}">{}</text><text class="small" x="{tx}" y="{b}">{}</text></g>"#,
                t(&hop.origin),
                t(&trunc(&hop.origin, 28)),
                t(&trunc(
                    &format!(
                        "{first} · {}",
                        if hop.trusted { "trusted" } else { "UNTRUSTED" }
                    ),
                    32
                )),
                tx = x + 8,
                a = yb + 19,
                b = yb + 37,
            );
            if k + 1 < u.hops.len() {
                let ym = yb + UP_H / 2;
                let _ = write!(
                    o,
                    r#"<line class="edge" x1="{}" y1="{ym}" x2="{}" y2="{ym}" marker-end="url(#upstream-arrow)"/>"#,
                    x + UP_W,
                    x + UP_W + UP_GAP
                );
            }
        }
    }
    o.push_str("</svg>");
}

/// One row per event of `hops` (`table.hop-events`).
fn hop_events_rows(o: &mut String, hops: &[&HopView]) {
    o.push_str("<table class=\"hop-events\"><thead><tr><th>Outlet</th><th>Record</th><th>Kind</th><th>Time (UTC)</th><th>Signer</th><th>Status</th></tr></thead><tbody>");
    for h in hops {
        for e in &h.events {
            let _ = write!(
                o,
                "<tr{}><td>{}</td><td>#{}</td><td>{}</td><td class=\"mono\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
                if e.verified { "" } else { " class=\"finding\"" },
                t(&h.origin),
                e.index,
                t(&e.kind),
                t(&e.time),
                e.signer,
                if e.verified {
                    "<span class=\"ok-text\">ok</span>"
                } else {
                    "<span class=\"bad-text\">FAIL</span>"
                }
            );
        }
    }
    o.push_str("</tbody></table>");
}

/// The timeline section: every event (`#timeline`), with the filter controls.
fn timeline_section(o: &mut String, r: &AuditReport) {
    let _ = write!(
        o,
        "<section><h2>Timeline ({} events)</h2><p class=\"controls\"><button id=\"show-all\" type=\"button\">Show all events</button> <span id=\"filter-note\" class=\"hint\"></span></p>",
        r.events.len()
    );
    let all: Vec<&EventView> = r.events.iter().collect();
    if all.is_empty() {
        // Keep the id for scripts and tests even when there is nothing to list.
        o.push_str("<table id=\"timeline\"><tbody></tbody></table><p>No events.</p>");
    } else {
        event_table(o, "timeline", &all);
    }
    o.push_str("</section>\n");
}

/// The copies that left this outlet (`#shares`), then the decryptions (`#accesses`).
fn copies_sections(o: &mut String, r: &AuditReport) {
    for (kind, id, title) in [
        ("share", "shares", "Copies that left this outlet"),
        ("access", "accesses", "Decryptions"),
    ] {
        let es: Vec<&EventView> = r.events.iter().filter(|e| e.kind == kind).collect();
        let _ = write!(o, "<section><h2>{title} ({})</h2>", es.len());
        event_table(o, id, &es);
        o.push_str("</section>\n");
    }
}

/// The configuration section (`#configuration`): one row per `config` record.
fn configuration_section(o: &mut String, r: &AuditReport) {
    let _ = write!(
        o,
        "<section><h2>Configuration ({})</h2>",
        r.configuration.len()
    );
    if r.configuration.is_empty() {
        o.push_str("<p>None (made before separation of duties).</p>");
    } else {
        o.push_str("<table id=\"configuration\"><thead><tr><th>Record</th><th>Time (UTC)</th><th>Admin</th><th>Recipients</th><th>Approvals</th></tr></thead><tbody>");
        for c in &r.configuration {
            let fps: Vec<String> = c
                .recipients
                .iter()
                .map(|d| d.to_hex()[..8].to_string())
                .collect();
            let _ = write!(
                o,
                "<tr><td>#{}</td><td class=\"mono\">{}</td><td>{}</td><td class=\"mono\">{}</td><td>{}</td></tr>",
                c.index,
                t(&c.time),
                t(&c.actor),
                t(&fps.join(" ")),
                if c.approvals.is_empty() { "none".to_string() } else { t(&c.approvals.join(", ")) }
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>\n");
}

/// The section of who could decrypt (`#readers`): one row per document and
/// point of the log (its record, then each rekey).
fn readers_section(o: &mut String, r: &AuditReport) {
    o.push_str("<section><h2>Who could decrypt</h2>");
    o.push_str("<table id=\"readers\"><thead><tr><th>Document</th><th>From record</th><th>Recipients</th></tr></thead><tbody>");
    for d in &r.documents {
        for (n, x) in d.readers.iter().enumerate() {
            let who: Vec<String> = x
                .recipients
                .iter()
                .map(|c| {
                    let fp = &c.fingerprint.to_hex()[..8];
                    if c.people.is_empty() {
                        fp.to_string()
                    } else {
                        format!("{fp} {}", c.people.join(", "))
                    }
                })
                .collect();
            let _ = write!(
                o,
                "<tr><td>{}</td><td>#{}{}</td><td class=\"mono\">{}</td></tr>",
                t(&doc_label(d)),
                x.record,
                if n == 0 {
                    String::new()
                } else {
                    format!(" ({})", x.kind)
                },
                t(&who.join("; "))
            );
        }
    }
    o.push_str("</tbody></table></section>\n");
}

/// The approvals section (`#approvals`): those required, present and missing.
fn approvals_section(o: &mut String, r: &AuditReport) {
    let ap = &r.approvals;
    let _ = write!(
        o,
        "<section><h2>Approvals</h2><p>Required: {}</p>",
        if ap.required.is_empty() {
            "none".to_string()
        } else {
            t(&ap.required.join(", "))
        }
    );
    if ap.present.is_empty() && ap.missing.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        o.push_str("<table id=\"approvals\"><thead><tr><th>Role</th><th>Status</th><th>Actor</th><th>Time (UTC)</th><th>Record</th><th>Purpose</th></tr></thead><tbody>");
        for p in &ap.present {
            let _ = write!(
                o,
                "<tr class=\"present\"><td>{}</td><td class=\"st\">present</td><td>{}</td><td class=\"mono\">{}</td><td>#{}</td><td>{}</td></tr>",
                t(&p.role),
                t(&p.actor),
                t(&p.time),
                p.index,
                t(&p.purpose)
            );
        }
        for m in &ap.missing {
            let _ = write!(
                o,
                "<tr class=\"missing\"><td>{}</td><td>MISSING</td><td></td><td></td><td></td><td></td></tr>",
                t(m)
            );
        }
        o.push_str("</tbody></table>");
    }
    o.push_str("</section>\n");
}

/// The findings section (`#findings`): one list item per finding.
fn findings_section(o: &mut String, r: &AuditReport) {
    let _ = write!(
        o,
        "<section id=\"findings\"><h2>Findings ({})</h2>",
        r.findings.len()
    );
    if r.findings.is_empty() {
        o.push_str("<p class=\"ok-text\">No findings.</p>");
    } else {
        o.push_str("<ol class=\"findings\">");
        for f in &r.findings {
            let _ = write!(
                o,
                "<li class=\"finding\">{}: <strong class=\"bad-text\">{}</strong>: {}</li>",
                t(&f.subject.to_string()),
                f.check.as_str(),
                t(&f.reason)
            );
        }
        o.push_str("</ol>");
    }
    o.push_str("</section>\n");
}

/// The footer, the script and the end of the page.
fn footer(o: &mut String, r: &AuditReport) {
    let _ = write!(
        o,
        "<footer>Generated by custody, schema <code>{}</code>. The machine-readable form of this report is <code>custody audit --format json</code> (FORMAT.md §12).</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        r.schema
    );
}
