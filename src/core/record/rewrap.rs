//! The `rewrap` record: a grant gave a person outside a document's
//! recipients its file key, in a new header for the same payload (FORMAT.md
//! §4.19).

use super::{Ingest, Kind, KindDef, Reader, Rekey};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of a `rewrap` record (FORMAT.md §4.19).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rewrap {
    /// Index of the `grant` record (§4.12) this carries out, the record just
    /// before it: the document it gives, the actor it gives it to.
    pub grant: u64,
    /// Fingerprint (FORMAT.md §5.3) of the recipient added: the grantee's own.
    pub added: Digest,
    /// The blob replaced (the document's file or envelope, as it is now), the
    /// file with the new header that replaces it, and every recipient of that
    /// file, `added` among them: the layout of a `rekey` record (§4.17).
    #[serde(flatten)]
    pub blob: Rekey,
}

impl KindDef for Rewrap {
    const KIND: Kind = Kind::Rewrap;
    const NAME: &'static str = "rewrap";
    const SEALED_VERSION: bool = true;
    /// Whoever may grant (FORMAT.md §4.14), and only the grant's own signer (§4.19).
    const SIGNERS: &'static [Role] = &[Role::Editor, Role::Admin];
    const OWNER_MAY_SIGN: bool = false;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.19.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.grant.to_be_bytes());
        out.extend_from_slice(self.added.as_bytes());
        <Rekey as KindDef>::encode(&self.blob, out);
    }
    fn decode(r: &mut Reader<'_>, v2: bool, index: u64) -> Result<Self, RecordError> {
        // Only the version 2 layout exists: it names an actor (through its grant).
        if !v2 {
            return Err(RecordError::BadRewrap);
        }
        let grant = r.u64()?;
        let added = r.digest()?;
        let blob = <Rekey as KindDef>::decode(r, false, index)?;
        let w = Rewrap { grant, added, blob };
        w.validate(index)?;
        Ok(w)
    }
    fn validate(&self, index: u64) -> Result<(), RecordError> {
        self.blob.validate(index)?;
        // It follows its grant: one grant, one recipient added, once.
        if self.grant.checked_add(1) != Some(index) || !self.blob.recipients.contains(&self.added) {
            return Err(RecordError::BadRewrap);
        }
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "added recipient {} (grant {}) to blob {} as {}",
            &self.added.to_hex()[..8],
            self.grant,
            super::short(&self.blob.old),
            super::short(&self.blob.new),
        )
    }
    fn is_v2(&self) -> bool {
        true
    }
    fn sealed(&self) -> Option<&Sealed> {
        None
    }
    fn document(&self) -> Option<&Ingest> {
        None
    }
    fn about(&self) -> Option<u64> {
        None
    }
    fn commitment(&self) -> Option<&Digest> {
        None
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
