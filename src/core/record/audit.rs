//! The `audit` record: a document was audited (FORMAT.md §4.13).

use super::{short, DocRef, Ingest, Kind, KindDef, Reader, RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Fields of an `audit` record (FORMAT.md §4.13).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditDone {
    #[serde(flatten)]
    pub about: DocRef,
    /// SHA-256 of the audit report's JSON (FORMAT.md §12).
    pub report: Digest,
    /// Number of findings the audit reported (0 = clean).
    pub findings: u32,
}

impl KindDef for AuditDone {
    const KIND: Kind = Kind::Audit;
    const NAME: &'static str = "audit";
    const SEALED_VERSION: bool = false;
    const SIGNERS: &'static [Role] = &[Role::Editor, Role::Legal, Role::Admin];
    const OWNER_MAY_SIGN: bool = true;
    const CHANGES_STATE: bool = false;

    /// FORMAT.md §4.13.
    fn encode(&self, out: &mut Vec<u8>) {
        self.about.write(out);
        out.extend_from_slice(self.report.as_bytes());
        out.extend_from_slice(&self.findings.to_be_bytes());
    }
    fn decode(r: &mut Reader<'_>, _v2: bool, _index: u64) -> Result<Self, RecordError> {
        Ok(AuditDone {
            about: r.about()?,
            report: r.digest()?,
            findings: r.u32()?,
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        Ok(())
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        format!(
            "audited document {}: {} finding(s), report {}…",
            self.about.document,
            self.findings,
            short(&self.report)
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
        Some(self.about.document)
    }
    fn commitment(&self) -> Option<&Digest> {
        Some(&self.about.commitment)
    }
    fn note_blob(&self) -> Option<(Digest, u64)> {
        None
    }
}
