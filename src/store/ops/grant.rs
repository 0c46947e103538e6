//! `custody grant`: gives an active actor access to a document (FORMAT.md
//! §4.12) and, when the actor has a recipient of their own that the
//! document's file is not encrypted to, gives them its file key too: a new
//! header for the same payload, recorded by a `rewrap` record (§4.19) that
//! the grant's signer signs with the grant, in one append.
//!
//! Order: the new file is durable at its address, then the two records
//! (with a checkpoint), and only then is the old file removed. A run killed
//! before the records leaves a file no record names (`gc` removes it); one
//! killed after leaves the old file, which `gc` removes.

use std::io::{self, BufReader, Write};

use serde::Serialize;

use crate::core::actors::Actors;
use crate::core::agestream;
use crate::core::crypto::{self, Identities, RecipientKey};
use crate::core::hash::Digest;
use crate::core::keys::SignerKey;
use crate::core::record::{Grant, GrantTo, Payload, Record, Rekey, Rewrap};
use crate::store::archive::Archive;
use crate::store::files::blobs::{object_name, SealedBlob};
use crate::store::{io_err, StoreError};

/// What a grant did.
#[derive(Debug)]
pub struct Granted {
    /// The `grant` record.
    pub grant: Record,
    /// The `rewrap` record, when the grantee's recipient was added.
    pub rewrap: Option<Record>,
    /// What was done about the document's file, for people.
    pub file: FileAccess,
}

/// What a grant did about the document's file (FORMAT.md §4.19).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "file")]
pub enum FileAccess {
    /// The grantee's recipient (this fingerprint) was added to the file.
    RecipientAdded { recipient: Digest },
    /// The file is already encrypted to the grantee's recipient.
    AlreadyRecipient { recipient: Digest },
    /// The grantee has no recipient of their own on record.
    NoRecipient,
    /// No identity was given: the grant is recorded, the file unchanged.
    NotAsked,
}

/// A document's file as it is now: its address, size and recipients, those
/// of them grants gave to actors still active, and whether the others are
/// the configuration's.
struct FileNow {
    cur: Digest,
    cur_size: u64,
    cur_fps: Vec<Digest>,
    active: Vec<Digest>,
    in_config: bool,
}

/// The recipients grants added to a file and who they were granted to, as
/// the `rewrap` records of its chain say (FORMAT.md §4.19).
pub(crate) type GrantedRecipients = Vec<(Digest, u64)>;

impl Archive {
    /// Records a grant of document `index` to the active actor `actor` (a
    /// label `#N` or a version 1 name), signed by the current actor. With
    /// `ids` (opening the document's file and the people's sealed details),
    /// the actor's own recipient is added to the file when it is not among
    /// its recipients. A document in a compartment needs `ids`: a grant that
    /// gives no key to someone outside it would be a right on paper only.
    pub fn grant_access(
        &mut self,
        index: u64,
        actor: &str,
        ids: Option<&Identities>,
        log: &SignerKey,
    ) -> Result<Granted, StoreError> {
        self.check_signer(log)?;
        let about = self.doc_ref(index)?;
        let actors = self.actors_at(self.db.size()?)?;
        let Some(who) = actors.get(actor).filter(|a| a.revoked.is_none()) else {
            return Err(StoreError::NotFound(format!(
                "active actor {} (see `custody actor list`)",
                crate::core::redact::quote(actor)
            )));
        };
        let (label, added_at) = (who.name.clone(), who.added);
        let FileNow {
            cur,
            cur_size,
            cur_fps,
            active,
            in_config,
        } = self.file_now(about.document, &actors)?;
        let grant_body = self.new_record(Payload::Grant(Grant {
            about,
            actor: GrantTo::Added(added_at),
        }));
        // An archive made before separation of duties has no recipients in
        // force to check a rewrap against (FORMAT.md §4.19): a grant only.
        let ids = ids.filter(|_| actors.config().is_some());
        let Some(ids) = ids else {
            if !in_config && actors.config().is_some() {
                return Err(StoreError::Input(format!(
                    "document {} is in a compartment: give -i IDENTITY (one that opens its file and the people's details, such as the escrow's) so that the grant adds {label}'s own recipient to its file; nothing was written",
                    about.document
                )));
            }
            return self.commit_grant(grant_body, None, FileAccess::NotAsked, log);
        };
        let people = self.actor_recipients(ids)?;
        if people.unopened.contains(&label) {
            return Err(StoreError::Input(format!(
                "the identity given does not open {label}'s details, where their own recipient is sealed: give one the configuration encrypts to (the escrow's); nothing was written"
            )));
        }
        let Some(text) = people.recipients.get(&label).and_then(|v| v.last()) else {
            if !in_config {
                return Err(StoreError::Input(format!(
                    "{label} has no recipient of their own, so a grant cannot give them document {}'s key: record one first (custody actor rotate {label} --recipient age1…); nothing was written",
                    about.document
                )));
            }
            return self.commit_grant(grant_body, None, FileAccess::NoRecipient, log);
        };
        let rk = RecipientKey::parse(text).map_err(StoreError::Crypto)?;
        let fp = rk.fingerprint();
        if cur_fps.contains(&fp) {
            // Theirs through a set in force, or an active actor's grant;
            // through a revoked actor's grant only, the next rekey drops it.
            let in_force = actors
                .recipient_sets()
                .iter()
                .any(|(_, set)| set.contains(&fp) && set.iter().all(|f| cur_fps.contains(f)));
            if !(in_force || active.contains(&fp)) {
                return Err(StoreError::Input(format!(
                    "document {}'s file opens to this recipient only through a grant to a revoked actor, which the next rekey removes: run `custody rekey` first, then grant; nothing was written",
                    about.document
                )));
            }
            let file = FileAccess::AlreadyRecipient { recipient: fp };
            return self.commit_grant(grant_body, None, file, log);
        }
        // The file's recipients must still be a set in force (and grants):
        // after a compartment lost a member, its files are rekeyed first,
        // or the new header would keep the removed member's stanza.
        if actors.allows_recipients_with(&cur_fps, &active) != Some(true) {
            return Err(StoreError::Input(format!(
                "document {}'s file is encrypted to recipients no longer in force: run `custody rekey` first, then grant; nothing was written",
                about.document
            )));
        }
        let (sealed, blob) = self.rewrap_file((cur, cur_size), &cur_fps, ids, &rk)?;
        let rewrap = Rewrap {
            grant: self.db.size()?,
            added: fp,
            blob,
        };
        let body = self.new_record(Payload::Rewrap(rewrap));
        let file = FileAccess::RecipientAdded { recipient: fp };
        let out = self.commit_grant(grant_body, Some((body, sealed)), file, log)?;
        self.remove_replaced(&[(cur, true)], &|_| false)?;
        Ok(out)
    }

    /// Document `document`'s file as it is now (FORMAT.md §4.19).
    fn file_now(&self, document: u64, actors: &Actors) -> Result<FileNow, StoreError> {
        let rec = self.record(document)?;
        let doc = rec.document().ok_or_else(|| {
            StoreError::Input(format!("record {document} is not about a document"))
        })?;
        let chain = self.rekey_chain(doc.blob)?;
        let (cur, cur_size, cur_fps) = match chain.last() {
            Some((_, k)) => (k.new, k.new_size, k.recipients.clone()),
            None => (doc.blob, doc.blob_size, doc.recipients.clone()),
        };
        let active: Vec<Digest> = self
            .granted_recipients(&chain)?
            .into_iter()
            .filter(|(_, a)| actors.added_by(*a).is_some_and(|i| i.revoked.is_none()))
            .map(|(f, _)| f)
            .collect();
        // The configuration's recipients, and beyond them only grants'.
        let in_config = actors.config().is_some_and(|(_, c)| {
            c.recipients.iter().all(|f| cur_fps.contains(f))
                && cur_fps
                    .iter()
                    .all(|f| c.recipients.contains(f) || active.contains(f))
        });
        Ok(FileNow {
            cur,
            cur_size,
            cur_fps,
            active,
            in_config,
        })
    }

    /// Appends the grant (and its rewrap, with the new file) and a checkpoint.
    fn commit_grant(
        &mut self,
        grant: crate::core::record::RecordBody,
        rewrap: Option<(crate::core::record::RecordBody, SealedBlob)>,
        file: FileAccess,
        log: &SignerKey,
    ) -> Result<Granted, StoreError> {
        let (bodies, sealed) = match rewrap {
            Some((b, s)) => (vec![grant, b], vec![s]),
            None => (vec![grant], Vec::new()),
        };
        let mut recs = self.commit_records(bodies, sealed, Vec::new(), log)?;
        self.sign_checkpoint(log)?;
        let rewrap = (recs.len() == 2).then(|| recs.remove(1));
        Ok(Granted {
            grant: recs.remove(0),
            rewrap,
            file,
        })
    }

    /// The recipients the `rewrap` records of `chain` (a file's rekey chain)
    /// added, with the actor each grant gave the file to.
    pub(crate) fn granted_recipients(
        &self,
        chain: &[(u64, Rekey)],
    ) -> Result<GrantedRecipients, StoreError> {
        let mut out = Vec::new();
        for (i, _) in chain {
            if let Payload::Rewrap(w) = &self.record(*i)?.body.payload {
                if let Payload::Grant(g) = &self.record(w.grant)?.body.payload {
                    if let GrantTo::Added(a) = g.actor {
                        out.push((w.added, a));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Writes document file `old` (of `size` bytes, to `fps`) again with a
    /// header that also wraps its file key to `to`, the payload copied as it
    /// is, into a new sealed file of the document store; and the blob fields
    /// of the record that names it.
    fn rewrap_file(
        &self,
        (old, size): (Digest, u64),
        fps: &[Digest],
        ids: &Identities,
        to: &RecipientKey,
    ) -> Result<(SealedBlob, Rekey), StoreError> {
        let store = &self.docs;
        let label = std::path::PathBuf::from(store.label()).join(object_name(&old));
        let mut input = BufReader::with_capacity(1 << 20, store.open(&old)?);
        let header = crypto::read_header(&mut input).map_err(|e| match e {
            crypto::CryptoError::Io(io) => io_err(&label, io),
            other => StoreError::ContentMismatch(format!("blob {old}: {other}")),
        })?;
        let payload = size
            .checked_sub(header.len() as u64)
            .filter(|p| *p >= agestream::PAYLOAD_NONCE_SIZE as u64)
            .ok_or_else(|| StoreError::Corrupt(format!("blob {old} is shorter than its header")))?;
        let n = agestream::plaintext_len(payload - agestream::PAYLOAD_NONCE_SIZE as u64)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "blob {old} is {size} bytes, which no age file with its header has"
                ))
            })?;
        let new_header = crypto::add_recipients(ids, &header, std::slice::from_ref(to), n)
            .map_err(|e| match e {
                crypto::CryptoError::NoMatchingKeys => StoreError::Input(format!(
                    "the identity given does not open document file {old}: give one of its recipients (a member of its compartment, or the escrow); nothing was written"
                )),
                other => StoreError::Crypto(other),
            })?;
        let mut w = store.begin()?;
        w.write_all(&new_header).map_err(|e| io_err(&label, e))?;
        let copied = io::copy(&mut input, &mut w).map_err(|e| io_err(&label, e))?;
        if copied != payload {
            return Err(StoreError::ContentMismatch(format!(
                "blob {old} changed while it was read ({copied} bytes after its header, {payload} expected)"
            )));
        }
        let sealed = store.seal(w, true)?;
        let mut recipients = fps.to_vec();
        recipients.push(to.fingerprint());
        recipients.sort();
        recipients.dedup();
        let blob = Rekey {
            old,
            new: sealed.digest,
            new_size: sealed.len,
            recipients,
        };
        Ok((sealed, blob))
    }
}
