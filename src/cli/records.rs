//! `log`, `show` and `extract`: reading records and documents back.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::archive::human_bytes;
use super::{Ctx, EXIT_OK};
use crate::core::audit::ReadersView;
use crate::core::crypto::Identities;
use crate::core::hash::Digest;
use crate::core::meta::Metadata;
use crate::core::record::{Ingest, Payload, PolicySource, Receive, Record};
use crate::core::sealed::Details;
use crate::core::time;
use crate::store::{Archive, StoreError};

/// A record as shown to people and scripts.
#[derive(Serialize)]
struct RecordView {
    index: u64,
    /// For text output; in JSON the flattened payload already carries `kind`
    /// (serialising both wrote the key twice).
    #[serde(skip)]
    kind: &'static str,
    time: String,
    origin: String,
    signer: String,
    leaf_hash: Digest,
    #[serde(flatten)]
    payload: Payload,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata: Option<Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_error: Option<String>,
    /// The sealed details (FORMAT.md §5.4), opened with -i.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<Details>,
    #[serde(skip_serializing_if = "Option::is_none")]
    details_error: Option<String>,
    /// For a stored document: whom its file was encrypted to, from its
    /// record on and after each rekey (FORMAT.md §4.17).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    readers: Vec<ReadersView>,
    /// Why the readers could not be listed (a damaged rekey chain).
    #[serde(skip_serializing_if = "Option::is_none")]
    readers_error: Option<String>,
    /// An `annotate` record's note, opened with -i (FORMAT.md §4.10).
    #[serde(skip_serializing_if = "Option::is_none")]
    note_text: Option<String>,
    /// For a stored document (`show` with -i): the notes about it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<NoteView>,
}

/// A note about a document, as `show -i` lists it.
#[derive(Serialize)]
struct NoteView {
    record: u64,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Who could decrypt the document `rec` stores (FORMAT.md §4.17), people
/// named with `ids`.
fn readers(
    arch: &Archive,
    rec: &Record,
    ids: Option<&Identities>,
) -> Result<Vec<ReadersView>, StoreError> {
    let people = match ids {
        Some(ids) => arch.people_by_recipient(ids)?,
        None => Default::default(),
    };
    arch.readers(rec, &people)
}

fn view(arch: &Archive, rec: Record, ids: Option<&Identities>) -> RecordView {
    view_with(arch, rec, ids, Ok(Vec::new()))
}

fn view_with(
    arch: &Archive,
    rec: Record,
    ids: Option<&Identities>,
    readers: Result<Vec<ReadersView>, StoreError>,
) -> RecordView {
    let (readers, readers_error) = match readers {
        Ok(r) => (r, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let (metadata, metadata_error) = match ids.filter(|_| rec.document().is_some()) {
        None => (None, None),
        Some(ids) => match arch.metadata(&rec, ids) {
            Ok(m) => (Some(m), None),
            Err(e) => (None, Some(e.to_string())),
        },
    };
    let (details, details_error) = match (ids, rec.sealed()) {
        // A configuration's deduplication secret is never printed (§7.3).
        (Some(_), Some(_)) if matches!(rec.body.payload, Payload::Config(_)) => (None, None),
        (Some(ids), Some(s)) => match arch.open_sealed(s, ids) {
            // Actor details must agree with their record (FORMAT.md §5.4),
            // as `verify --deep` checks, before they are shown as its.
            Ok(d) => {
                let disagrees = match &rec.body.payload {
                    Payload::Actor(c) => d.check_actor(c).err(),
                    Payload::Compartment(c) => d.check_compartment(c).err(),
                    // Other kinds' details have no record fields to agree with.
                    Payload::Ingest(_)
                    | Payload::Share(_)
                    | Payload::Receive(_)
                    | Payload::Access(_)
                    | Payload::Derive(_)
                    | Payload::Annotate(_)
                    | Payload::Approve(_)
                    | Payload::Grant(_)
                    | Payload::Audit(_)
                    | Payload::Config(_)
                    | Payload::Rekey(_)
                    | Payload::Rewrap(_) => None,
                };
                match disagrees {
                    Some(e) => (None, Some(e.to_string())),
                    None => (Some(d), None),
                }
            }
            Err(e) => (None, Some(e.to_string())),
        },
        (None, _) | (_, None) => (None, None),
    };
    let note_text = match (&rec.body.payload, ids) {
        (Payload::Annotate(a), Some(ids)) => arch.note_text(a, ids).ok(),
        _ => None,
    };
    RecordView {
        note_text,
        notes: Vec::new(),
        readers,
        readers_error,
        details,
        details_error,
        index: rec.body.index,
        kind: rec.body.payload.kind().as_str(),
        time: time::rfc3339(rec.body.time_ms),
        origin: rec.body.origin.clone(),
        signer: rec.body.signer.to_string(),
        leaf_hash: rec.leaf_hash(),
        payload: rec.body.payload.clone(),
        metadata,
        metadata_error,
    }
}

/// The sealed details of a record, as `show` prints them.
fn show_details(o: &super::output::Out, v: &RecordView) {
    if let Some(s) = v.payload.sealed() {
        o.data_line(&format!(
            "sealed      {} ({} bytes, encrypted)",
            s.digest, s.size
        ));
    }
    match (&v.details, &v.details_error) {
        (Some(d), _) => o.data_line(&format!("details     {}", d.summary())),
        (None, Some(e)) => o.data_line(&format!("details     unreadable: {e}")),
        (None, None) => {}
    }
    // A share's sealed partner (FORMAT.md §5.4): its name, recipients, note.
    if let Some((recipients, partner, note)) = v.details.as_ref().and_then(Details::share) {
        if let Some(p) = partner {
            o.data_line(&format!("partner     {p}"));
        }
        for r in recipients {
            let fp = crate::core::crypto::RecipientKey::parse(r)
                .map(|k| k.fingerprint().to_string())
                .unwrap_or_default();
            o.data_line(&format!("shared to   {fp} ({r})"));
        }
        if let Some(n) = note {
            o.data_line(&format!("note        {n}"));
        }
    }
    if let Some(t) = &v.note_text {
        o.data_line(&format!("note        {t}"));
    }
}

fn line(ctx: &Ctx, v: &RecordView) {
    let what = match (&v.metadata, &v.metadata_error) {
        (Some(m), _) => format!("{}  {}", m.path, human_bytes(m.size)),
        (None, Some(e)) => format!("(metadata unreadable: {e})"),
        (None, None) => match (&v.details, &v.details_error) {
            _ if v.note_text.is_some() => format!(
                "{}: {}",
                v.payload.summary(),
                v.note_text.as_deref().unwrap_or_default()
            ),
            (Some(d), _) => format!("{} — {}", v.payload.summary(), d.summary()),
            (None, Some(e)) => format!("{} (details unreadable: {e})", v.payload.summary()),
            (None, None) => v.payload.summary(),
        },
    };
    ctx.out
        .data_line(&format!("{:>6}  {}  {:<7} {what}", v.index, v.time, v.kind));
}

#[derive(Debug, Args)]
#[command(after_help = "\
Without -i only digests are shown: names, paths and notes are stored encrypted.

Examples:
  custody log
  custody log -i keys-example/dropsite/identity.age --from 100 --limit 20
  custody log --json | jq .blob")]
pub struct LogArgs {
    /// age identity file(s) to decrypt names and notes.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
    /// First record index to list.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// List at most this many records.
    #[arg(long)]
    limit: Option<u64>,
}

pub fn log(ctx: &Ctx, a: LogArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let ids = ctx.optional_identities(&a.identity)?;
    let size = arch.size()?;
    let end = a
        .limit
        .map(|l| a.from.saturating_add(l).min(size))
        .unwrap_or(size);
    for i in a.from..end {
        let v = view(&arch, arch.record(i)?, ids.as_ref());
        if ctx.out.json {
            ctx.out.json(&v);
        } else {
            line(ctx, &v);
        }
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
REF is a record index or at least 4 hex digits of the record's leaf hash, blob
address or metadata envelope address; with an identity, also a document's
file name or stored path if only one document has it (name:NAME, path:PATH
when it is all digits or hex digits; `custody find` lists them).

Examples:
  custody show 12 -i keys-example/dropsite/identity.age
  custody show memo.pdf
  custody show path:leak/2024/memo.pdf --json")]
pub struct ShowArgs {
    /// The record: index, hex digest prefix, or a document's name or path.
    reference: String,
    /// age identity file(s) to decrypt names and notes.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
}

pub fn show(ctx: &Ctx, a: ShowArgs) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    // -i, else the identity custody.toml names (one record: cheap to open).
    let ids = ctx.archive_identities(&arch, &a.identity)?;
    let i = ctx.resolve(&arch, &a.reference, ids.as_ref(), &a.identity)?;
    let rec = arch.record(i)?;
    let who = readers(&arch, &rec, ids.as_ref());
    let notes = match (&ids, rec.document()) {
        (Some(ids), Some(_)) => arch.notes_about(&rec, ids)?,
        _ => Vec::new(),
    };
    let mut v = view_with(&arch, rec, ids.as_ref(), who);
    v.notes = notes
        .into_iter()
        .map(|(record, ms, text)| {
            let (text, error) = match text {
                Ok(t) => (Some(t), None),
                Err(e) => (None, Some(e)),
            };
            NoteView {
                record,
                time: time::rfc3339(ms),
                text,
                error,
            }
        })
        .collect();
    if ctx.out.json {
        ctx.out.json(&v);
        return Ok(EXIT_OK);
    }
    let o = &ctx.out;
    show_header(o, &v);
    match show_kind(o, &v) {
        Some(p) => show_stored(o, p, &v),
        None => show_details(o, &v),
    }
    Ok(EXIT_OK)
}

/// `show`'s first lines, the same for every kind of record.
fn show_header(o: &super::output::Out, v: &RecordView) {
    o.data_line(&format!("record      {}", v.index));
    o.data_line(&format!("kind        {}", v.kind));
    o.data_line(&format!("time        {}", v.time));
    o.data_line(&format!("origin      {}", v.origin));
    o.data_line(&format!("signer      key ID {}", v.signer));
    o.data_line(&format!("leaf hash   {}", v.leaf_hash));
}

/// `show`'s lines for the record's kind; the stored document for a record
/// that stores one (its lines follow), else None (its details follow).
fn show_kind<'a>(o: &super::output::Out, v: &'a RecordView) -> Option<&'a Ingest> {
    match &v.payload {
        Payload::Ingest(p) => Some(p),
        Payload::Receive(r) => {
            show_receive(o, r);
            Some(&r.stored)
        }
        Payload::Derive(d) => {
            o.data_line(&format!("derived     {}", v.payload.summary()));
            for p in &d.parents {
                o.data_line(&format!(
                    "parent      record {} (commitment {})",
                    p.document, p.commitment
                ));
            }
            Some(&d.stored)
        }
        Payload::Share(s) => {
            o.data_line(&format!("document    record {}", s.document));
            o.data_line(&format!("commitment  {}", s.commitment));
            o.data_line(&format!(
                "payload     {} ({} bytes)",
                s.payload, s.payload_size
            ));
            o.data_line(&format!("envelope    {}", s.envelope));
            for r in &s.recipients {
                o.data_line(&format!("shared to   {r}"));
            }
            None
        }
        other @ (Payload::Actor(_)
        | Payload::Access(_)
        | Payload::Annotate(_)
        | Payload::Approve(_)
        | Payload::Grant(_)
        | Payload::Audit(_)
        | Payload::Config(_)
        | Payload::Rekey(_)
        | Payload::Rewrap(_)
        | Payload::Compartment(_)) => {
            o.data_line(&format!("says        {}", other.summary()));
            None
        }
    }
}

/// `show`'s lines for a receive record: where it came from and how proven.
fn show_receive(o: &super::output::Out, r: &Receive) {
    let l = &r.from;
    o.data_line(&format!(
        "from        {} (key ID {}) record {}, leaf hash {}",
        l.origin, l.key_id, l.index, l.leaf_hash
    ));
    o.data_line(&format!(
        "proven at   checkpoint of size {}, root {}",
        l.checkpoint_size, l.checkpoint_root
    ));
    o.data_line(&format!(
        "evidence    {} ({} bytes)",
        r.evidence, r.evidence_size
    ));
    if let Some(p) = &r.policy {
        o.data_line(&format!(
            "policy      {}",
            match p.source {
                PolicySource::None => "none (no witness quorum)".to_string(),
                PolicySource::Config => format!("the archive's partners' policy {}", p.digest),
                PolicySource::Command => format!("from the command line {}", p.digest),
            }
        ));
    }
}

/// `show`'s lines for a stored document: blob, recipients and metadata.
fn show_stored(o: &super::output::Out, p: &Ingest, v: &RecordView) {
    o.data_line(&format!("blob        {} ({} bytes)", p.blob, p.blob_size));
    o.data_line(&format!("commitment  {}", p.commitment));
    o.data_line(&format!(
        "metadata    {} ({} bytes, encrypted)",
        p.meta, p.meta_size
    ));
    // Who could decrypt it: its record's recipients, then each rekey's.
    for r in &v.readers {
        if r.record != v.index {
            let what = if r.kind == "rewrap" {
                "granted    "
            } else {
                "rekeyed    "
            };
            o.data_line(&format!("{what} at record {} to blob {}", r.record, r.blob));
        }
        for x in &r.recipients {
            if x.people.is_empty() {
                o.data_line(&format!("recipient   {}", x.fingerprint));
            } else {
                o.data_line(&format!(
                    "recipient   {} ({})",
                    x.fingerprint,
                    x.people.join(", ")
                ));
            }
        }
    }
    if let Some(e) = &v.readers_error {
        o.data_line(&format!("readers     unreadable: {e}"));
    }
    match (&v.metadata, &v.metadata_error) {
        (Some(m), _) => {
            o.data_line(&format!("path        {}", m.path));
            o.data_line(&format!("size        {} ({})", m.size, human_bytes(m.size)));
            o.data_line(&format!("sha256      {}", m.sha256));
            o.data_line(&format!("media type  {}", m.media_type));
            for (k, val) in [("source", &m.source), ("case", &m.case), ("note", &m.note)] {
                if let Some(val) = val {
                    o.data_line(&format!("{k:<11} {val}"));
                }
            }
        }
        (None, Some(e)) => o.data_line(&format!("metadata    unreadable: {e}")),
        (None, None) => o.info("(give -i IDENTITY to decrypt the name, path and notes)"),
    }
    for n in &v.notes {
        match (&n.text, &n.error) {
            (Some(t), _) => o.data_line(&format!("note        #{} {}: {t}", n.record, n.time)),
            (None, Some(e)) => o.data_line(&format!(
                "note        #{} {}: unreadable: {e}",
                n.record, n.time
            )),
            (None, None) => {}
        }
    }
}

#[derive(Debug, Args)]
#[command(after_help = "\
Decrypting is a custody event: before the document is decrypted, a signed
`access` record (who: the log key, or your --key as an actor; which document;
why: --reason) is appended to the ledger. The document is then decrypted to an
unnamed file in OUT's directory, named OUT only after its ciphertext matched
the blob address and its plaintext matched the record's commitment (where the
file system cannot make unnamed files, and to replace OUT with --force, a
temporary name is used, which the next command removes if this one did not).
OUT may not be inside the archive.

Example:
  custody extract 12 -i keys-example/dropsite/identity.age -o /tmp/memo.pdf --reason 'fact-check'")]
pub struct ExtractArgs {
    /// The record: index, hex digest prefix, or a document's name or path.
    reference: String,
    /// age identity file(s).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY",
        required = true
    )]
    identity: Vec<PathBuf>,
    /// Where to write the plaintext.
    #[arg(short, long, value_name = "OUT")]
    output: PathBuf,
    /// Overwrite OUT if it exists.
    #[arg(long)]
    force: bool,
    /// Why you decrypt it (recorded in the ledger, in clear).
    #[arg(long, default_value = "")]
    reason: String,
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
}

pub fn extract(ctx: &Ctx, a: ExtractArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let ids = ctx.load_identities(&a.identity)?;
    let log = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
    let i = ctx.resolve(&arch, &a.reference, Some(&ids), &a.identity)?;
    // Refuse what would fail anyway before recording an access.
    arch.check_extract_target(&a.output, a.force)?;
    let doc = arch.document_of(arch.record(i)?)?;
    arch.metadata(&doc, &ids)?;
    let access = arch.record_access(i, &a.reason, &log)?;
    let pb = ctx.out.progress(0, true, "extract");
    let r = arch.extract(i, &ids, &a.output, a.force, &mut |n| pb.inc(n));
    pb.finish_and_clear();
    let x = r?;
    if ctx.out.json {
        let mut v = serde_json::to_value(&x).unwrap_or_default();
        v["access_record"] = access.body.index.into();
        ctx.out.json(&v);
    } else {
        ctx.out
            .data_line(&format!("access recorded as record {}", access.body.index));
        ctx.out.data_line(&format!(
            "extracted record {} ({}) to {}: {} bytes, sha256 {} matches the commitment",
            x.index,
            x.original_path,
            x.path.display(),
            x.size,
            x.sha256
        ));
    }
    Ok(EXIT_OK)
}
