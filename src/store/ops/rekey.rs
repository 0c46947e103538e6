//! `custody rekey`: every blob of the archive that is not encrypted to the
//! recipients of the configuration in force is decrypted and encrypted again
//! to them (a new file key, a new file), and a `rekey` record signed by an
//! administrator puts the new file in the old one's place (FORMAT.md §4.17).
//! After a revocation, a lost laptop or a move to post-quantum recipients, a
//! removed identity then opens nothing the archive holds.
//!
//! Order, per batch: the new files are durable at their addresses, then the
//! records naming them are (with a checkpoint), and only then are the old
//! files removed. A run killed anywhere leaves every record's content
//! readable; the next run removes old files whose rekey was recorded and
//! rekeys the rest; at the end, files no record names (an unrecorded new
//! file, an interrupted ingest's) are removed as `gc` removes them.
//!
//! A blob that cannot be read or opened (missing, damaged, not to the
//! identity given) is left as it was and reported, and the others are
//! rekeyed: one damaged file must not keep the whole archive open to a lost
//! laptop's key. Only when every blob fails (a wrong identity) does the run
//! stop with the error, having written nothing.

use std::collections::HashMap;
use std::io::{self, BufReader, Read};

use serde::Serialize;
use zeroize::Zeroizing;

use crate::core::agestream;
use crate::core::crypto::{self, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{Payload, Record, Rekey};
use crate::store::archive::Archive;
use crate::store::files::blobs::{object_name, SealedBlob};
use crate::store::files::logfile::Frame;
use crate::store::ops::gc::blob_refs;
use crate::store::{io_err, StoreError};

/// Blobs re-encrypted per batch of records (and checkpoint).
const BATCH_BLOBS: usize = 256;
/// ... or fewer, once this many plaintext bytes were re-encrypted.
const BATCH_BYTES: u64 = 256 << 20;

/// A blob the log names now, as the replay of its records leaves it.
#[derive(Clone, Debug)]
struct Live {
    size: u64,
    /// A document's ciphertext (in the document store), not a small blob.
    doc: bool,
    /// Fingerprints of the recipients it was written to, when known.
    recipients: Option<Vec<Digest>>,
    /// The compartment it belongs to (FORMAT.md §4.18): a document's and
    /// its envelope's, its notes', a compartment record's sealed details.
    compartment: Option<u16>,
    /// Recipients grants added to it (FORMAT.md §4.19), with the actor each
    /// was granted to, while a later rekey kept them.
    granted: Vec<(Digest, u64)>,
}

/// What a rekey did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RekeyReport {
    pub dry_run: bool,
    /// Recipients (fingerprints) of the configuration in force.
    pub recipients: Vec<Digest>,
    /// Blobs already encrypted to exactly those recipients.
    pub current: u64,
    /// Document blobs re-encrypted (or to re-encrypt).
    pub documents: u64,
    /// Envelopes, sealed details and notes re-encrypted (or to re-encrypt).
    pub small: u64,
    /// Ciphertext bytes of the blobs replaced.
    pub bytes: u64,
    /// `rekey` records appended.
    pub records: u64,
    /// Old files removed, those of this run and those an interrupted run left.
    pub removed: u64,
    /// Files no record names, removed as `gc` does (an interrupted ingest's).
    pub unreferenced: u64,
    /// Blobs that could not be read or opened (missing, damaged, or not to
    /// the identity given), left as they were: still open to the old
    /// recipients until restored and rekeyed.
    pub skipped: Vec<Skipped>,
    /// Recipients grants added to documents' files (FORMAT.md §4.19) that
    /// the new files keep: their actor is active and it is still their own.
    pub grants_kept: u64,
    /// Those the new files drop: the actor was revoked, replaced their
    /// recipient, or their details do not open with the identity given.
    pub grants_dropped: u64,
}

/// A blob rekey left as it was, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    /// The blob's address (SHA-256 of its file).
    pub blob: Digest,
    /// Why it was not re-encrypted.
    pub reason: String,
}

/// Whether `e`, met reading blob `d` before anything was written for it, is
/// about that blob alone (missing, damaged, not openable with the identity),
/// so that rekey goes on with the others; any other error stops it.
fn about_the_blob(e: &StoreError) -> bool {
    match e {
        StoreError::Io(_, io) => io.kind() == io::ErrorKind::NotFound,
        StoreError::Corrupt(_) | StoreError::ContentMismatch(_) | StoreError::Decrypt { .. } => {
            true
        }
        _ => false,
    }
}

/// The blobs of the log after replaying every record: what each holds now,
/// and the blobs `rekey` records replaced.
struct Replayed {
    live: HashMap<Digest, Live>,
    replaced: Vec<(Digest, bool)>,
    /// Each compartment's members at the log's end.
    compartments: HashMap<u16, Vec<Digest>>,
}

impl Archive {
    /// Replays `ledger/records`: each named blob with the recipients it was
    /// written to (a document record's own; other blobs the configuration's in
    /// force at their record, a `config` record's sealed details its own
    /// recipients; unknown before the first `config`), rekeys applied.
    fn replay_blobs(&self) -> Result<Replayed, StoreError> {
        self.ensure_writable()?;
        let mut live: HashMap<Digest, Live> = HashMap::new();
        let mut replaced = Vec::new();
        let mut in_force: Option<Vec<Digest>> = None;
        let mut comps: std::collections::BTreeMap<u16, Vec<Digest>> = Default::default();
        // The compartment of each document, by arrival index.
        let mut doc_comp: HashMap<u64, u16> = HashMap::new();
        // The actor of each version 2 grant, by index (FORMAT.md §4.19).
        let mut grantees: HashMap<u64, u64> = HashMap::new();
        for f in self.record_file().scan(0)? {
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
            if let Payload::Config(c) = &rec.body.payload {
                in_force = Some(c.recipients.clone());
            }
            if let Payload::Compartment(c) = &rec.body.payload {
                comps.insert(c.id, c.members.clone());
            }
            if let Payload::Grant(g) = &rec.body.payload {
                if let crate::core::record::GrantTo::Added(a) = g.actor {
                    grantees.insert(rec.body.index, a);
                }
            }
            let set_of = |id: u16| comps.get(&id).cloned();
            // Whose blobs these are: a document's own recipients name its
            // compartment; a note follows its document; a compartment
            // record's details are its compartment's.
            let own = rec.document().map(|d| d.recipients.clone());
            let comp = match (&rec.body.payload, &own) {
                (Payload::Compartment(c), _) => Some(c.id),
                // The configuration's set wins a tie (FORMAT.md §4.18).
                (_, Some(own)) if in_force.as_ref() == Some(own) => None,
                (_, Some(own)) => comps
                    .keys()
                    .copied()
                    .find(|id| set_of(*id).as_ref() == Some(own)),
                (_, None) => rec.about().and_then(|a| doc_comp.get(&a).copied()),
            };
            if let (Some(id), Some(_)) = (comp, &own) {
                doc_comp.insert(rec.body.index, id);
            }
            let notes = rec.note_blob().map(|(d, _)| d);
            let share = matches!(rec.body.payload, Payload::Share(_));
            for (d, size, doc) in blob_refs(&rec) {
                // Only a document's blobs, its notes, the sealed details of
                // a share of it and a compartment's details are its
                // compartment's; sealed details of other records are the
                // configuration's.
                let mine = own.is_some()
                    || Some(d) == notes
                    || share
                    || matches!(rec.body.payload, Payload::Compartment(_));
                let compartment = comp.filter(|_| mine);
                let recipients = match compartment {
                    // A share's details about a compartment's document were
                    // sealed to the configuration's recipients before they
                    // could hold a note, to the compartment's since (FORMAT.md
                    // §4.17): unknown, so the next rekey writes them again.
                    Some(_) if share => None,
                    Some(id) if own.is_none() => set_of(id),
                    Some(_) | None => own.clone().or_else(|| in_force.clone()),
                };
                live.entry(d).or_insert(Live {
                    size,
                    doc,
                    recipients,
                    compartment,
                    granted: Vec::new(),
                });
            }
            if let Some(k) = rec.rekey() {
                if let Some(old) = live.remove(&k.old) {
                    replaced.push((k.old, old.doc));
                    // A grant's recipient stays while the new file keeps it.
                    let mut granted = old.granted;
                    granted.retain(|(f, _)| k.recipients.contains(f));
                    if let Payload::Rewrap(w) = &rec.body.payload {
                        if let Some(&a) = grantees.get(&w.grant) {
                            granted.push((w.added, a));
                        }
                    }
                    live.insert(
                        k.new,
                        Live {
                            size: k.new_size,
                            doc: old.doc,
                            recipients: Some(k.recipients.clone()),
                            compartment: old.compartment,
                            granted,
                        },
                    );
                }
            }
        }
        Ok(Replayed {
            live,
            replaced,
            compartments: comps.into_iter().collect(),
        })
    }

    /// Removes the old files of rekeys already recorded (what a run killed
    /// after its records left), never a blob the log names now (`live`);
    /// a document's copy left in `blobs/` by `migrate` goes too. Returns how
    /// many files it removed.
    pub(crate) fn remove_replaced(
        &self,
        replaced: &[(Digest, bool)],
        live: &dyn Fn(&Digest) -> bool,
    ) -> Result<u64, StoreError> {
        let local = crate::store::files::blobs::Blobs::Local(self.blob_store().clone());
        let mut removed = 0;
        for (d, doc) in replaced {
            if live(d) {
                continue;
            }
            let mut stores = vec![if *doc { &self.docs } else { &local }];
            if *doc && !self.docs.is_local() {
                stores.push(&local);
            }
            for store in stores {
                if store.exists(d)? {
                    store.remove(&object_name(d))?;
                    removed += 1;
                }
            }
        }
        Ok(removed)
    }

    /// Re-encrypts every blob not encrypted to the configuration's
    /// recipients, in batches (module docs). `ids` opens the blobs; one it
    /// does not open is skipped and reported. `log` signs the checkpoints,
    /// the archive's actor key the records.
    pub fn rekey(
        &mut self,
        ids: &Identities,
        dry_run: bool,
        log: &SignerKey,
        progress: &mut dyn FnMut(u64),
    ) -> Result<RekeyReport, StoreError> {
        let want = crypto::fingerprints(&self.recipients);
        let Replayed {
            live,
            replaced,
            compartments,
        } = self.replay_blobs()?;
        let names: HashMap<Digest, Live> = live.clone();
        let mut rep = RekeyReport {
            dry_run,
            recipients: want.clone(),
            ..RekeyReport::default()
        };
        let targets = Targets {
            extra: self.kept_grants(&live, ids, &mut rep)?,
            config: want,
            compartments,
        };
        let mut keys: HashMap<Option<u16>, Result<Vec<RecipientKey>, String>> = HashMap::new();
        keys.insert(None, Ok(self.recipients.clone()));
        let mut todo: Vec<(Digest, Live)> = Vec::new();
        for (d, l) in live {
            if l.recipients.as_deref() == Some(targets.fps(&d, &l).as_slice()) {
                rep.current += 1;
            } else {
                todo.push((d, l));
            }
        }
        // Small blobs first, then documents, each by address: a stable order.
        todo.sort_by_key(|(d, l)| (l.doc, *d));
        if dry_run {
            for (_, l) in &todo {
                count(&mut rep, l);
            }
            return Ok(rep);
        }
        self.check_signer(log)?;
        self.refuse_pending_shares()?;
        rep.removed += self.remove_replaced(&replaced, &|d| names.contains_key(d))?;
        for batch in batches(&todo) {
            let mut bodies = Vec::new();
            let mut sealed = Vec::new();
            let mut olds = Vec::new();
            for (d, l) in batch {
                let to = keys
                    .entry(l.compartment)
                    .or_insert_with(|| {
                        let id = l.compartment.expect("None is inserted above");
                        self.compartment_keys(id).map_err(|e| e.to_string())
                    })
                    .clone();
                let mut to = match to {
                    Ok(to) => to,
                    Err(reason) => {
                        rep.skipped.push(Skipped { blob: *d, reason });
                        continue;
                    }
                };
                to.extend(targets.extra(d).iter().cloned());
                let fps = targets.fps(d, l);
                let (blob, k) = match self.reencrypt(d, l, ids, (&fps, &to), progress) {
                    Ok(done) => done,
                    Err(e) if about_the_blob(&e) => {
                        // A wrong identity fails on every blob: with nothing
                        // re-encrypted yet, that is the command's error.
                        if rep.records == 0
                            && bodies.is_empty()
                            && rep.skipped.len() + 1 == todo.len()
                        {
                            return Err(e);
                        }
                        let reason = e.to_string();
                        rep.skipped.push(Skipped { blob: *d, reason });
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                bodies.push(self.new_record(Payload::Rekey(k)));
                sealed.push(blob);
                olds.push((*d, l.doc));
                count(&mut rep, l);
            }
            if bodies.is_empty() {
                continue;
            }
            rep.records += self.commit_records(bodies, sealed, Vec::new(), log)?.len() as u64;
            self.sign_checkpoint(log)?;
            rep.removed += self.remove_replaced(&olds, &|_| false)?;
        }
        // What no record names (an interrupted ingest's blobs, written to
        // the old recipients) goes as `gc` removes it.
        rep.unreferenced = self.gc(false)?.removed.len() as u64;
        Ok(rep)
    }

    /// For each blob grants added recipients to (FORMAT.md §4.19), the
    /// recipients its new file keeps: those of actors still active whose
    /// own recipient (read with `ids`) it still is, of the family of the
    /// blob's other recipients; the others are dropped. Counts both in `rep`.
    fn kept_grants(
        &self,
        live: &HashMap<Digest, Live>,
        ids: &Identities,
        rep: &mut RekeyReport,
    ) -> Result<HashMap<Digest, Vec<RecipientKey>>, StoreError> {
        let mut out = HashMap::new();
        if live.values().all(|l| l.granted.is_empty()) {
            return Ok(out);
        }
        let actors = self.actors_at(self.size()?)?;
        let people = self.actor_recipients(ids)?;
        // Whether the recipients a blob moves to are post-quantum: a grant's
        // of the other family is dropped (one file never mixes them).
        let mut family: HashMap<Option<u16>, Option<bool>> = HashMap::new();
        for (d, l) in live {
            let pq = *family.entry(l.compartment).or_insert_with(|| {
                let set = match l.compartment {
                    Some(id) => self.compartment_keys(id).ok(),
                    None => Some(self.recipients.clone()),
                };
                set.map(|s| s.iter().any(RecipientKey::is_post_quantum))
            });
            let mut kept: Vec<RecipientKey> = Vec::new();
            for (f, a) in &l.granted {
                let key = actors
                    .added_by(*a)
                    .filter(|i| i.revoked.is_none())
                    .and_then(|i| people.recipients.get(&i.name)?.last())
                    .and_then(|t| RecipientKey::parse(t).ok())
                    .filter(|k| {
                        k.fingerprint() == *f && pq.is_none_or(|p| k.is_post_quantum() == p)
                    });
                match key {
                    Some(k) if !kept.iter().any(|x| x.fingerprint() == *f) => kept.push(k),
                    Some(_) => {}
                    None => rep.grants_dropped += 1,
                }
            }
            rep.grants_kept += kept.len() as u64;
            if !kept.is_empty() {
                out.insert(*d, kept);
            }
        }
        Ok(out)
    }

    /// A share interrupted after its record keeps a marker sealed to the
    /// recipients of its time (FORMAT.md §7.8): rekey refuses to run until
    /// it is finished, so that no file of the archive stays open to them.
    fn refuse_pending_shares(&self) -> Result<(), StoreError> {
        let dir = self.root().join(crate::store::files::layout::PENDING_DIR);
        let pending = match std::fs::read_dir(&dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with("share-"))
                .count(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(io_err(&dir, e)),
        };
        if pending > 0 {
            return Err(StoreError::Input(format!(
                "{pending} interrupted share(s) are pending in pending/; run each again (custody share … -o the same bundle) to finish it, then rekey"
            )));
        }
        Ok(())
    }

    /// Decrypts blob `d` and encrypts its plaintext again to the archive's
    /// recipients (padded, FORMAT.md §6.2) into a new sealed blob, and the
    /// record that will name it. Plaintext is only ever in memory.
    fn reencrypt(
        &self,
        d: &Digest,
        l: &Live,
        ids: &Identities,
        (want, to): (&[Digest], &[RecipientKey]),
        progress: &mut dyn FnMut(u64),
    ) -> Result<(SealedBlob, Rekey), StoreError> {
        let local;
        let store = if l.doc {
            &self.docs
        } else {
            local = crate::store::files::blobs::Blobs::Local(self.blob_store().clone());
            &local
        };
        let label = std::path::PathBuf::from(store.label()).join(object_name(d));
        let mut input = BufReader::with_capacity(1 << 20, store.open(d)?);
        // The header first: the plaintext's length (from the file's) is
        // needed before the new header, which is padded for it.
        let header = crypto::read_header(&mut input).map_err(|e| match e {
            crypto::CryptoError::Io(io) => io_err(&label, io),
            other => StoreError::ContentMismatch(format!("blob {d}: {other}")),
        })?;
        let n = (l.size)
            .checked_sub(header.len() as u64 + agestream::PAYLOAD_NONCE_SIZE as u64)
            .and_then(agestream::plaintext_len)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "blob {d} is {} bytes, which no age file with its header has",
                    l.size
                ))
            })?;
        let whole = io::Cursor::new(Zeroizing::new(header)).chain(input);
        let decrypting =
            crypto::decrypt_from(ids, BufReader::new(whole)).map_err(|e| StoreError::Decrypt {
                what: format!(
                    "blob {d} (is this identity a recipient of the blobs written before?)"
                ),
                source: e,
            })?;
        let w = store.begin()?;
        let enc = crypto::encrypt_all(decrypting, to, w, n, progress).map_err(|e| match e {
            crypto::CryptoError::Io(io) if io.kind() == io::ErrorKind::InvalidData => {
                StoreError::ContentMismatch(format!("blob {d} does not decrypt: {io}"))
            }
            crypto::CryptoError::Io(io) => io_err(&label, io),
            other => StoreError::Crypto(other),
        })?;
        if enc.len != n {
            return Err(StoreError::ContentMismatch(format!(
                "blob {d} decrypts to {} bytes where its length says {n}",
                enc.len
            )));
        }
        let sealed = store.seal(enc.out, l.doc)?;
        let k = Rekey {
            old: *d,
            new: sealed.digest,
            new_size: sealed.len,
            recipients: want.to_vec(),
        };
        Ok((sealed, k))
    }
}

/// What each blob must be encrypted to: its compartment's recipients, or
/// the configuration's, and the recipients grants added that it keeps
/// (FORMAT.md §4.17 to §4.19).
struct Targets {
    config: Vec<Digest>,
    compartments: HashMap<u16, Vec<Digest>>,
    /// By blob: the grantees' recipients its new file keeps.
    extra: HashMap<Digest, Vec<RecipientKey>>,
}

impl Targets {
    fn extra(&self, d: &Digest) -> &[RecipientKey] {
        self.extra.get(d).map_or(&[], Vec::as_slice)
    }

    /// The fingerprints blob `d` (`l`) must be encrypted to, ascending.
    fn fps(&self, d: &Digest, l: &Live) -> Vec<Digest> {
        let mut v = match l.compartment.and_then(|id| self.compartments.get(&id)) {
            Some(m) => m.clone(),
            None => self.config.clone(),
        };
        v.extend(self.extra(d).iter().map(RecipientKey::fingerprint));
        v.sort();
        v.dedup();
        v
    }
}

/// Counts blob `l` into the report.
fn count(rep: &mut RekeyReport, l: &Live) {
    if l.doc {
        rep.documents += 1;
    } else {
        rep.small += 1;
    }
    rep.bytes += l.size;
}

/// `todo` in batches of at most [`BATCH_BLOBS`] blobs and about [`BATCH_BYTES`].
fn batches(todo: &[(Digest, Live)]) -> Vec<&[(Digest, Live)]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0u64);
    for (i, (_, l)) in todo.iter().enumerate() {
        bytes += l.size;
        if i + 1 - start >= BATCH_BLOBS || bytes >= BATCH_BYTES {
            out.push(&todo[start..=i]);
            (start, bytes) = (i + 1, 0);
        }
    }
    if start < todo.len() {
        out.push(&todo[start..]);
    }
    out
}
