//! Custody events about documents already in the archive (FORMAT.md §4.8,
//! §4.10–§4.12): decrypting (`access`), notes (`annotate`), approvals
//! (`approve`) and giving an actor access (`grant`). Each is one signed
//! record, made durable with a checkpoint before the command reports it.

use zeroize::Zeroizing;

use crate::core::crypto;
use crate::core::keys::SignerKey;
use crate::core::record::{Access, Annotate, Approve, DocRef, Payload, Purpose, Record};
use crate::core::sealed::{Details, SEALED_VERSION};
use crate::store::archive::Archive;
use crate::store::StoreError;

impl Archive {
    /// The document of record `index` as a reference: its arrival index and commitment.
    pub fn doc_ref(&self, index: u64) -> Result<DocRef, StoreError> {
        let intro = self.document_of(self.record(index)?)?;
        let commitment = *intro
            .commitment()
            .ok_or_else(|| StoreError::Input(format!("record {index} is not about a document")))?;
        if intro.document().is_none() {
            return Err(StoreError::Input(format!(
                "record {index} is not about a document"
            )));
        }
        Ok(DocRef {
            document: intro.body.index,
            commitment,
        })
    }

    /// Appends one record about a document and signs a checkpoint covering it.
    fn event(
        &mut self,
        payload: Payload,
        blobs: Vec<crate::store::files::blobs::SealedBlob>,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        self.check_signer(log)?;
        let r = self
            .commit_records(vec![self.new_record(payload)], blobs, Vec::new(), log)?
            .remove(0);
        self.sign_checkpoint(log)?;
        Ok(r)
    }

    /// Records that the document of record `index` is about to be decrypted,
    /// by whom (the signer) and why.
    pub fn record_access(
        &mut self,
        index: u64,
        reason: &str,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        let about = self.doc_ref(index)?;
        let (sealed, blob) = self.seal(&Details::Access {
            v: SEALED_VERSION,
            reason: reason.to_string(),
        })?;
        self.event(
            Payload::Access(Access {
                about,
                reason: String::new(),
                sealed: Some(sealed),
            }),
            vec![blob],
            log,
        )
    }

    /// A note about a document, stored encrypted to the archive's recipients.
    pub fn annotate(
        &mut self,
        index: u64,
        text: &str,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        let about = self.doc_ref(index)?;
        // `{"v":1,"text":…}` (FORMAT.md §4.10).
        let json = crate::core::meta::NoteEnvelope::new(text).to_json();
        let enc = crypto::encrypt_bytes(&self.recipients, &Zeroizing::new(json))?;
        let blob = self.blobs.put_bytes(&enc)?;
        let (note, note_size) = (blob.digest, blob.len);
        self.event(
            Payload::Annotate(Annotate {
                about,
                note,
                note_size,
            }),
            vec![blob],
            log,
        )
    }

    /// The notes about the document that record `intro` stores (FORMAT.md
    /// §4.10), in log order: each `annotate` record's index, time and text
    /// (or why it did not open with `ids`).
    pub fn notes_about(
        &self,
        intro: &Record,
        ids: &crypto::Identities,
    ) -> Result<Vec<NoteAbout>, StoreError> {
        let mut out = Vec::new();
        let Some(c) = intro.commitment() else {
            return Ok(out);
        };
        let kind = crate::store::files::db::DigestKind::Commitment;
        for i in self.db.records_with(c, kind)? {
            let r = self.record(i)?;
            if r.about() != Some(intro.body.index) {
                continue;
            }
            if let Payload::Annotate(a) = &r.body.payload {
                let text = self.note_text(a, ids).map_err(|e| e.to_string());
                out.push((i, r.body.time_ms, text));
            }
        }
        Ok(out)
    }

    /// Decrypts the note of an `annotate` record.
    pub fn note_text(&self, a: &Annotate, ids: &crypto::Identities) -> Result<String, StoreError> {
        // As a rekey left it (FORMAT.md §4.17).
        let (note, _) = self.current_blob(a.note, a.note_size)?;
        let p = self.blobs.path(&note);
        let data = std::fs::read(&p).map_err(|e| crate::store::io_err(&p, e))?;
        if crate::core::hash::Digest::of(&data) != note {
            return Err(StoreError::Corrupt(format!(
                "note blob {} does not match its digest",
                a.note
            )));
        }
        let plain =
            crypto::decrypt_bytes(ids, &data, crate::core::meta::MAX_NOTE_LEN).map_err(|e| {
                StoreError::Decrypt {
                    what: format!("the note {}", a.note),
                    source: e,
                }
            })?;
        let n = crate::core::meta::NoteEnvelope::from_json(&plain)
            .map_err(|e| StoreError::Corrupt(format!("note {}: {e}", a.note)))?;
        Ok(n.text)
    }

    /// An approval of a document, e.g. for publication.
    pub fn approve(
        &mut self,
        index: u64,
        purpose: Purpose,
        log: &SignerKey,
    ) -> Result<Record, StoreError> {
        let about = self.doc_ref(index)?;
        self.event(
            Payload::Approve(Approve { about, purpose }),
            Vec::new(),
            log,
        )
    }
}

/// A note about a document: its `annotate` record's index and time, and its
/// text, or why it did not open.
pub type NoteAbout = (u64, u64, Result<String, String>);
