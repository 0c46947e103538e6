//! The `rekey` record: a blob of the archive was encrypted again, to the
//! recipients of the configuration in force, and the new file replaces it
//! (FORMAT.md §4.17).

use super::{check_recipients, encode_recipients, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of a `rekey` record (FORMAT.md §4.17).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Rekey {
    /// Address of the blob replaced: one an earlier record names, or an
    /// earlier `rekey`'s `new`, not replaced before.
    pub old: Digest,
    /// Address (SHA-256) of the age file that replaces it.
    pub new: Digest,
    /// Length of that file in bytes.
    pub new_size: u64,
    /// Fingerprints (FORMAT.md §5.3) of the recipients the new file is
    /// encrypted to, strictly ascending: the configuration's in force.
    pub recipients: Vec<Digest>,
}

impl KindDef for Rekey {
    const KIND: Kind = Kind::Rekey;
    const NAME: &'static str = "rekey";
    const SEALED_VERSION: bool = false;
    /// Moving the archive to new keys is an administrator's act, like
    /// changing the recipients (FORMAT.md §4.14).
    const SIGNERS: &'static [Role] = &[Role::Admin];
    const OWNER_MAY_SIGN: bool = false;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.17.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.old.as_bytes());
        out.extend_from_slice(self.new.as_bytes());
        out.extend_from_slice(&self.new_size.to_be_bytes());
        encode_recipients(out, &self.recipients);
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        let old = r.digest()?;
        let new = r.digest()?;
        let new_size = r.u64()?;
        let recipients = r.recipients()?;
        let k = Rekey {
            old,
            new,
            new_size,
            recipients,
        };
        k.validate(0)?;
        Ok(k)
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        check_recipients(&self.recipients)?;
        // A file never replaces itself.
        if self.old == self.new {
            return Err(RecordError::BadRekey);
        }
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "re-encrypted blob {} as {} to {} recipient(s)",
            super::short(&self.old),
            super::short(&self.new),
            self.recipients.len()
        )
    }
    fn is_v2(&self) -> bool {
        false
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
