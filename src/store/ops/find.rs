//! Finding documents (`custody find`) and naming them by file name or
//! stored path in a REF: one pass over the ledger's records, then each
//! distinct metadata envelope (FORMAT.md §5.2) decrypted once and parsed
//! once, its entries picked by the commitment each record holds. Blobs of
//! documents are never read; notes (FORMAT.md §4.10) only for `--note`.
//! Nothing is written.

use std::collections::HashMap;

use crate::core::crypto::{CryptoError, Identities};
use crate::core::find::{descendants, Filter, RefForm};
use crate::core::hash::Digest;
use crate::core::meta::{self, Metadata};
use crate::core::record::{Annotate, Ingest, Kind, Payload, Record, Relation};
use crate::store::archive::Archive;
use crate::store::files::logfile::Frame;
use crate::store::files::parallel;
use crate::store::StoreError;

/// A document found: its arrival record and the entry of its envelope.
#[derive(Clone, Debug)]
pub struct Found {
    pub index: u64,
    pub time_ms: u64,
    /// ingest, receive or derive.
    pub kind: Kind,
    /// The document as its record stores it (blob, commitment, envelope).
    pub stored: Ingest,
    /// For a derived document: its parents' indexes and its relation to them.
    pub parents: Vec<u64>,
    pub relation: Option<Relation>,
    /// The `annotate` records about it, in log order.
    pub notes: Vec<u64>,
    pub metadata: Metadata,
}

/// What a search found, and what it could not read.
#[derive(Debug, Default)]
pub struct FindOutcome {
    /// By record index.
    pub found: Vec<Found>,
    /// Documents in the log.
    pub documents: u64,
    /// Documents the record filters kept whose envelope the identities do
    /// not open (another outlet's recipients, a compartment).
    pub unreadable: u64,
    /// Documents whose envelope is missing, damaged or does not open their
    /// commitment (`custody verify --deep` names them).
    pub damaged: u64,
    /// Notes about the documents searched that the identities do not open.
    pub notes_unreadable: u64,
}

/// A REF resolved to a record ([`Archive::resolve_with`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    pub index: u64,
    /// For a name or path: documents not readable with the identity, which
    /// could not be told apart from the one found.
    pub unreadable: u64,
}

/// A document record as the pass over the ledger keeps it.
struct Doc {
    index: u64,
    time_ms: u64,
    kind: Kind,
    stored: Ingest,
    parents: Vec<u64>,
    relation: Option<Relation>,
}

/// The documents of the log and the notes about each.
#[derive(Default)]
struct Ledger {
    docs: Vec<Doc>,
    notes: HashMap<u64, Vec<(u64, Annotate)>>,
}

/// The documents of one envelope that the record filters kept: positions
/// in [`Ledger::docs`].
type Group = Vec<usize>;

/// Why one document (or note) could not be read, when that does not stop
/// the search.
enum Miss {
    /// The identities do not open it.
    Unreadable,
    /// Missing, damaged, or not opening its commitment.
    Damaged,
}

/// What to keep, beyond the record filters.
struct Want<'a> {
    record: &'a (dyn Fn(&Doc) -> bool + Sync),
    metadata: &'a (dyn Fn(&Metadata) -> bool + Sync),
    filter: Option<&'a Filter>,
}

impl Archive {
    /// The documents that `filter` keeps and, with `derived_from`, whose
    /// lineage reaches that document (FORMAT.md §4.9), read with `ids`;
    /// `progress` gets the number of envelopes read as they are.
    pub fn find(
        &self,
        filter: &Filter,
        derived_from: Option<u64>,
        ids: &Identities,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FindOutcome, StoreError> {
        let ledger = self.ledger_documents()?;
        let lineage = derived_from.map(|t| {
            descendants(
                t,
                ledger
                    .docs
                    .iter()
                    .filter(|d| !d.parents.is_empty())
                    .map(|d| (d.index, &d.parents[..])),
            )
        });
        let record = |d: &Doc| {
            filter.record_matches(d.kind, d.time_ms)
                && lineage.as_ref().is_none_or(|l| l.contains(&d.index))
        };
        let metadata = |m: &Metadata| filter.metadata_matches(m);
        let want = Want {
            record: &record,
            metadata: &metadata,
            filter: Some(filter),
        };
        self.search(&ledger, &want, ids, progress)
    }

    /// Resolves a REF (`custody show REF`): a record index or a hex digest
    /// prefix as [`Archive::resolve`] does, or a document's file name or
    /// stored path (`name:NAME`, `path:PATH`, or anything that is neither
    /// digits nor hex: with a `/` a path, else a name), read with `ids`.
    /// A name or path must name exactly one document the identities open.
    pub fn resolve_with(&self, r: &str, ids: Option<&Identities>) -> Result<Resolved, StoreError> {
        let form = RefForm::of(r);
        let (what, by_path) = match form {
            RefForm::Index => {
                return self.resolve(r).map(|index| Resolved {
                    index,
                    unreadable: 0,
                })
            }
            // A name of hex digits only is read as a digest prefix: say
            // how to give it as a name.
            RefForm::Digest => {
                return match self.resolve(r) {
                    Ok(index) => Ok(Resolved {
                        index,
                        unreadable: 0,
                    }),
                    Err(StoreError::NotFound(m)) => Err(StoreError::NotFound(format!(
                        "{m} (read as a hex digest prefix; a document named so is name:{r})"
                    ))),
                    Err(e) => Err(e),
                }
            }
            RefForm::Name(n) => (format!("named {}", shown_ref(n)), false),
            RefForm::Path(p) => (format!("at path {}", shown_ref(p)), true),
        };
        let ids = ids.ok_or_else(|| {
            StoreError::NeedsIdentity(format!(
                "{} (a document's {})",
                shown_ref(r),
                if by_path { "path" } else { "name" }
            ))
        })?;
        let ledger = self.ledger_documents()?;
        let names = |m: &Metadata| form.names(m);
        let want = Want {
            record: &|_: &Doc| true,
            metadata: &names,
            filter: None,
        };
        let out = self.search(&ledger, &want, ids, &mut |_, _| {})?;
        match &out.found[..] {
            [one] => Ok(Resolved {
                index: one.index,
                unreadable: out.unreadable + out.damaged,
            }),
            [] => Err(StoreError::NoSuchName {
                what,
                unreadable: out.unreadable + out.damaged,
            }),
            many => Err(StoreError::AmbiguousName {
                what,
                records: many.iter().map(|f| f.index).collect(),
                by_path,
            }),
        }
    }

    /// One pass over the records the index counts: the documents, and the
    /// notes about each.
    fn ledger_documents(&self) -> Result<Ledger, StoreError> {
        let size = self.size()?;
        let mut out = Ledger::default();
        let mut n = 0u64;
        for f in self.records.scan(0)? {
            if n == size {
                break;
            }
            let rec = match f? {
                Frame::Complete { offset, body } => Record::decode(&body).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "the record at offset {offset} of ledger/records does not decode: {e}"
                    ))
                })?,
                Frame::Torn { offset } | Frame::Oversized { offset, .. } => {
                    return Err(StoreError::Corrupt(format!(
                        "ledger/records is damaged at offset {offset}"
                    )))
                }
            };
            if rec.body.index != n {
                return Err(StoreError::Corrupt(format!(
                    "record {n} of ledger/records says it is record {}",
                    rec.body.index
                )));
            }
            n += 1;
            keep(&mut out, rec);
        }
        if n < size {
            return Err(StoreError::Corrupt(format!(
                "ledger/records holds {n} records, the index {size}"
            )));
        }
        Ok(out)
    }

    /// The documents of `ledger` that `want` keeps, each envelope opened once.
    fn search(
        &self,
        ledger: &Ledger,
        want: &Want<'_>,
        ids: &Identities,
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<FindOutcome, StoreError> {
        let groups = group_by_envelope(ledger, want.record);
        let total = groups.len() as u64;
        let mut out = FindOutcome {
            documents: ledger.docs.len() as u64,
            ..FindOutcome::default()
        };
        // Decrypting is computation: as many threads as cores; one for
        // identities served by a plugin (a device asked one thing at a time).
        let workers = if ids.has_plugins() {
            1
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        };
        let workers = workers.min(groups.len());
        let mut done = 0;
        parallel::for_each_with(
            workers,
            groups.into_iter(),
            &mut |n| {
                done += n;
                progress(done, total);
            },
            |g| self.search_group(ledger, &g, want, ids),
            |part: FindOutcome| {
                out.found.extend(part.found);
                out.unreadable += part.unreadable;
                out.damaged += part.damaged;
                out.notes_unreadable += part.notes_unreadable;
                true
            },
        )?;
        out.found.sort_by_key(|f| f.index);
        Ok(out)
    }

    /// The documents of one envelope that `want` keeps.
    fn search_group(
        &self,
        ledger: &Ledger,
        g: &Group,
        want: &Want<'_>,
        ids: &Identities,
    ) -> Result<FindOutcome, StoreError> {
        let mut out = FindOutcome::default();
        let Some(&first) = g.first() else {
            return Ok(out);
        };
        let first = &ledger.docs[first];
        let entries = match self.envelope_entries(first, ids) {
            Ok(e) => e,
            Err(e) => {
                match miss(e)? {
                    Miss::Unreadable => out.unreadable += g.len() as u64,
                    Miss::Damaged => out.damaged += g.len() as u64,
                }
                return Ok(out);
            }
        };
        for &k in g {
            let d = &ledger.docs[k];
            let m = match entries.get(&d.stored.commitment) {
                Some(Some(m)) => m,
                // None, or two entries opening it (FORMAT.md §5.2).
                None | Some(None) => {
                    out.damaged += 1;
                    continue;
                }
            };
            if !(want.metadata)(m) {
                continue;
            }
            let notes = ledger.notes.get(&d.index).map_or(&[][..], |v| &v[..]);
            if let Some(f) = want.filter {
                if !f.note_in_metadata(m) && !self.note_matches(f, notes, ids, &mut out)? {
                    continue;
                }
            }
            out.found.push(Found {
                index: d.index,
                time_ms: d.time_ms,
                kind: d.kind,
                stored: d.stored.clone(),
                parents: d.parents.clone(),
                relation: d.relation,
                notes: notes.iter().map(|(i, _)| *i).collect(),
                metadata: m.clone(),
            });
        }
        Ok(out)
    }

    /// Does the text of one of `notes` hold `--note`? Notes the identities
    /// do not open are counted in `out`.
    fn note_matches(
        &self,
        f: &Filter,
        notes: &[(u64, Annotate)],
        ids: &Identities,
        out: &mut FindOutcome,
    ) -> Result<bool, StoreError> {
        let Some(needle) = &f.note else {
            return Ok(true);
        };
        for (_, a) in notes {
            match self.note_text(a, ids) {
                Ok(t) if needle.in_text(&t) => return Ok(true),
                Ok(_) => {}
                Err(e) => {
                    miss(e)?;
                    out.notes_unreadable += 1;
                }
            }
        }
        Ok(false)
    }

    /// The entries of the envelope `d` names, by the commitment each opens
    /// (`None`: two entries open it), decrypted with `ids`.
    fn envelope_entries(
        &self,
        d: &Doc,
        ids: &Identities,
    ) -> Result<HashMap<Digest, Option<Metadata>>, StoreError> {
        let plain = self.envelope_plaintext(&d.stored, d.index, ids)?;
        let entries = meta::envelope_entries(&plain)
            .map_err(|e| StoreError::Corrupt(format!("metadata of record {}: {e}", d.index)))?;
        let mut out: HashMap<Digest, Option<Metadata>> = HashMap::with_capacity(entries.len());
        for (c, m) in entries {
            out.entry(c)
                .and_modify(|seen| *seen = None)
                .or_insert(Some(m));
        }
        Ok(out)
    }
}

/// Keeps what the search needs of one record: a document, or a note about one.
fn keep(out: &mut Ledger, rec: Record) {
    let index = rec.body.index;
    if let Payload::Annotate(a) = &rec.body.payload {
        out.notes
            .entry(a.about.document)
            .or_default()
            .push((index, a.clone()));
        return;
    }
    let Some(stored) = rec.document() else {
        return;
    };
    let (parents, relation) = if let Payload::Derive(d) = &rec.body.payload {
        let parents = d.parents.iter().map(|p| p.document).collect();
        (parents, Some(d.relation))
    } else {
        (Vec::new(), None)
    };
    out.docs.push(Doc {
        index,
        time_ms: rec.body.time_ms,
        kind: rec.body.payload.kind(),
        stored: stored.clone(),
        parents,
        relation,
    });
}

/// The documents `record` keeps, grouped by the envelope they name, in the
/// order the envelopes first appear.
fn group_by_envelope(ledger: &Ledger, record: &(dyn Fn(&Doc) -> bool + Sync)) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut at: HashMap<Digest, usize> = HashMap::new();
    for (k, d) in ledger.docs.iter().enumerate() {
        if !record(d) {
            continue;
        }
        let g = *at.entry(d.stored.meta).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(k);
    }
    groups
}

/// Whether an error reading one document's envelope or note stops the
/// search: the identities failing (a plugin), the index or the disk do;
/// a file these identities do not open, or a damaged one, is counted.
fn miss(e: StoreError) -> Result<Miss, StoreError> {
    match e {
        StoreError::Decrypt {
            source: CryptoError::NoMatchingKeys,
            ..
        } => Ok(Miss::Unreadable),
        StoreError::Decrypt {
            source: CryptoError::Plugin(_),
            ..
        } => Err(e),
        StoreError::Decrypt { .. } | StoreError::Corrupt(_) | StoreError::ContentMismatch(_) => {
            Ok(Miss::Damaged)
        }
        StoreError::Io(_, ref io) if io.kind() == std::io::ErrorKind::NotFound => Ok(Miss::Damaged),
        e => Err(e),
    }
}

/// A name or path the user gave, for a message.
fn shown_ref(r: &str) -> String {
    crate::core::redact::path(std::path::Path::new(r))
}
