//! The `compartment` record: the recipients (its members' own and the
//! outlet's escrow) that alone can decrypt the documents put in it
//! (FORMAT.md §4.18).

use super::{check_recipients, encode_recipients, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of a `compartment` record (FORMAT.md §4.18).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Compartment {
    /// The compartment's number in this log, at least 1; a later record with
    /// the same number changes its members.
    pub id: u16,
    /// Fingerprints (FORMAT.md §5.3) of the recipients a document of the
    /// compartment is encrypted to, strictly ascending: its members' own
    /// recipients and the escrow's.
    pub members: Vec<Digest>,
    /// Its name and the members' recipients, sealed (FORMAT.md §5.4).
    pub sealed: Sealed,
}

impl KindDef for Compartment {
    const KIND: Kind = Kind::Compartment;
    const NAME: &'static str = "compartment";
    const SEALED_VERSION: bool = true;
    /// Who may decrypt is the administrators' to say, as the configuration.
    const SIGNERS: &'static [Role] = &[Role::Admin];
    const OWNER_MAY_SIGN: bool = false;
    const CHANGES_STATE: bool = true;

    /// FORMAT.md §4.18.
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.to_be_bytes());
        encode_recipients(out, &self.members);
        self.sealed.write(out);
    }
    fn decode(r: &mut Reader<'_>, v2: bool, _index: u64) -> Result<Self, RecordError> {
        // Only the version 2 layout exists: the name is always sealed.
        if !v2 {
            return Err(RecordError::BadCompartment);
        }
        let mut id = [0u8; 2];
        id.copy_from_slice(r.take(2)?);
        let c = Compartment {
            id: u16::from_be_bytes(id),
            members: r.recipients()?,
            sealed: r.sealed()?,
        };
        c.validate(0)?;
        Ok(c)
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        if self.id == 0 {
            return Err(RecordError::BadCompartment);
        }
        check_recipients(&self.members)
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "compartment #{}: {} recipient(s) [{}]",
            self.id,
            self.members.len(),
            self.members
                .iter()
                .map(|r| r.to_hex()[..8].to_string())
                .collect::<Vec<_>>()
                .join(" ")
        )
    }
    fn is_v2(&self) -> bool {
        true
    }
    fn sealed(&self) -> Option<&Sealed> {
        Some(&self.sealed)
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
