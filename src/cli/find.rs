//! `find`: the documents whose names, paths, sources, cases, notes, times,
//! kinds, lineage or media types match, read with an identity. Writes nothing.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::archive::human_bytes;
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::find::{Filter, Glob, GlobError, GlobMode, Needle};
use crate::core::hash::Digest;
use crate::core::meta::Metadata;
use crate::core::record::Kind;
use crate::core::time::{self, DayEnd};
use crate::store::ops::find::{FindOutcome, Found};
use crate::store::StoreError;

#[derive(Debug, Args)]
#[command(after_help = "\
Prints one line per document (index, time, kind, short commitment, size,
path), oldest first; --json one JSON object per line with every field of its
record and its metadata (as `log --json`). Every filter given must hold.
Names, paths, sources, cases and notes are stored encrypted: they are read
with the identity (-i, CUSTODY_IDENTITY, else custody.toml's `identity`).
Documents it cannot open are counted on stderr, never silently left out.
find writes nothing to the archive (no record, no file).

Globs match the whole text: `*` any characters, `?` one, `[a-z]` `[!0-9]`
one of (or none of) a set, `\\*` a star itself; in --path, `*` stops at `/`
and `**/` spans directories. --source, --case and --media-type are globs
too (without a wildcard: the exact text); --note is a piece of text found in
the document's metadata note or in a note about it (`custody annotate`).
DATE is RFC 3339: 2026-03-14 (--since: from its start; --until: to its end,
UTC) or 2026-03-14T09:30:00Z; it is compared with the record's time.

Exit codes: 0 documents found, 1 none found (as grep), 2 could not search.

Examples:
  custody find --name '*.pdf' -i keys-example/dropsite/identity.age
  custody find --path 'leak/emails/**' --since 2026-03-01 --until 2026-03-31
  custody find --case C-17 --source 'source A' --kind ingest
  custody find --note 'second source' -I
  custody find --derived-from memo.pdf --json | jq .index
  custody find --media-type 'image/*' --name 'scan-??.png'")]
pub struct FindArgs {
    /// Glob on the file name (the last part of the path).
    #[arg(long, value_name = "GLOB")]
    name: Option<String>,
    /// Glob on the stored path (relative to the ingested directory's parent).
    #[arg(long, value_name = "GLOB")]
    path: Option<String>,
    /// Glob on the --source label the document was ingested with.
    #[arg(long, value_name = "GLOB")]
    source: Option<String>,
    /// Glob on the --case identifier the document was ingested with.
    #[arg(long = "case", value_name = "GLOB")]
    case: Option<String>,
    /// Text in the document's note or in a note about it.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    /// Only records made at or after DATE.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only records made at or before DATE.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only documents that arrived so (repeatable).
    #[arg(long, value_name = "KIND", value_parser = ["ingest", "receive", "derive"])]
    kind: Vec<String>,
    /// Only documents derived, directly or through others, from REF's document.
    #[arg(long, value_name = "REF")]
    derived_from: Option<String>,
    /// Glob on the media type (guessed from the name when ingested).
    #[arg(long, value_name = "GLOB")]
    media_type: Option<String>,
    /// Letters match whatever their case (globs and --note).
    #[arg(short = 'I', long)]
    ignore_case: bool,
    /// age identity file(s) that open the names (default: custody.toml's `identity`).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
}

/// A document found, as `--json` prints it.
#[derive(Serialize)]
struct FoundView<'a> {
    index: u64,
    time: String,
    kind: &'static str,
    blob: Digest,
    blob_size: u64,
    commitment: Digest,
    meta: Digest,
    meta_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    relation: Option<&'static str>,
    #[serde(skip_serializing_if = "<[u64]>::is_empty")]
    parents: &'a [u64],
    /// The `annotate` records about it.
    #[serde(skip_serializing_if = "<[u64]>::is_empty")]
    notes: &'a [u64],
    metadata: &'a Metadata,
}

impl<'a> FoundView<'a> {
    fn of(f: &'a Found) -> FoundView<'a> {
        FoundView {
            index: f.index,
            time: time::rfc3339(f.time_ms),
            kind: f.kind.as_str(),
            blob: f.stored.blob,
            blob_size: f.stored.blob_size,
            commitment: f.stored.commitment,
            meta: f.stored.meta,
            meta_size: f.stored.meta_size,
            relation: f.relation.map(|r| r.as_str()),
            parents: &f.parents,
            notes: &f.notes,
            metadata: &f.metadata,
        }
    }
}

pub fn find(ctx: &Ctx, a: FindArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let filter = filter(&a)?;
    let ids = ctx
        .archive_identities(&arch, &a.identity)?
        .ok_or_else(|| StoreError::NeedsIdentity("custody find".into()))?;
    let derived_from = match &a.derived_from {
        Some(r) => {
            let i = ctx.resolve(&arch, r, Some(&ids), &a.identity)?;
            Some(arch.document_of(arch.record(i)?)?.body.index)
        }
        None => None,
    };
    let pb = ctx.out.progress(0, false, "envelopes");
    let r = arch.find(&filter, derived_from, &ids, &mut |done, total| {
        pb.set_length(total);
        pb.set_position(done);
    });
    pb.finish_and_clear();
    let out = r?;
    for f in &out.found {
        if ctx.out.json {
            ctx.out.json(&FoundView::of(f));
        } else {
            ctx.out.data_line(&format!(
                "{:>6}  {}  {:<7} {}  {:>9}  {}",
                f.index,
                time::rfc3339(f.time_ms),
                f.kind.as_str(),
                &f.stored.commitment.to_hex()[..12],
                human_bytes(f.metadata.size),
                f.metadata.path
            ));
        }
    }
    report_unread(ctx, &out);
    Ok(if out.found.is_empty() {
        EXIT_FINDING
    } else {
        EXIT_OK
    })
}

/// Says once on stderr what could not be searched.
fn report_unread(ctx: &Ctx, out: &FindOutcome) {
    let docs = |n: u64| if n == 1 { "document" } else { "documents" };
    if out.unreadable > 0 {
        ctx.out.warn(&format!(
            "{} {} not readable with this identity (not searched: another identity, or a compartment's, opens them)",
            out.unreadable,
            docs(out.unreadable)
        ));
    }
    if out.damaged > 0 {
        ctx.out.warn(&format!(
            "{} {} whose metadata could not be read (missing or damaged: `custody verify --deep -i IDENTITY` names them)",
            out.damaged,
            docs(out.damaged)
        ));
    }
    if out.notes_unreadable > 0 {
        ctx.out.warn(&format!(
            "{} {} not readable with this identity (not searched for --note)",
            out.notes_unreadable,
            if out.notes_unreadable == 1 {
                "note"
            } else {
                "notes"
            }
        ));
    }
}

/// The filters the options give.
fn filter(a: &FindArgs) -> Result<Filter, StoreError> {
    let glob = |p: &Option<String>, path: bool| -> Result<Option<Glob>, StoreError> {
        p.as_deref()
            .map(|p| {
                let mode = GlobMode {
                    path,
                    ignore_case: a.ignore_case,
                };
                Glob::new(p, mode).map_err(|e| {
                    let next = match e {
                        GlobError::Unclosed(_) => {
                            "close it with `]`, or write `\\[` for a bracket itself"
                        }
                        GlobError::BadRange(_) => "write a range from low to high, as `[a-z]`",
                        GlobError::TrailingEscape(_) => "write `\\\\` for a backslash itself",
                    };
                    StoreError::Input(format!("{e}: {next}"))
                })
            })
            .transpose()
    };
    let date = |d: &Option<String>, end: DayEnd| -> Result<Option<u64>, StoreError> {
        d.as_deref()
            .map(|d| time::parse_rfc3339(d, end).map_err(StoreError::Input))
            .transpose()
    };
    let kinds = a
        .kind
        .iter()
        .map(|k| match k.as_str() {
            "ingest" => Ok(Kind::Ingest),
            "receive" => Ok(Kind::Receive),
            "derive" => Ok(Kind::Derive),
            other => Err(StoreError::Input(format!(
                "--kind {other}: give ingest, receive or derive"
            ))),
        })
        .collect::<Result<_, _>>()?;
    Ok(Filter {
        name: glob(&a.name, false)?,
        path: glob(&a.path, true)?,
        source: glob(&a.source, false)?,
        case: glob(&a.case, false)?,
        media_type: glob(&a.media_type, false)?,
        note: a.note.as_deref().map(|n| Needle::new(n, a.ignore_case)),
        since_ms: date(&a.since, DayEnd::Start)?,
        until_ms: date(&a.until, DayEnd::End)?,
        kinds,
    })
}
