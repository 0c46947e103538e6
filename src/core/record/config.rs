//! The `config` record: the archive's configuration, as the administrators
//! signed it (FORMAT.md §4.15; version 2 with the sealed deduplication
//! secret, §4.16).

use super::{check_recipients, encode_recipients, encode_str16, Ingest, Kind, KindDef, Reader};
use super::{RecordError, Role, Sealed};
use crate::core::hash::Digest;

/// Longest policy text in a `config` record (FORMAT.md §4.15).
pub const MAX_POLICY_LEN: usize = 16_384;

/// Fields of a `config` record (FORMAT.md §4.15): what the archive encrypts
/// to and requires, as the administrators signed it. `custody.toml` is a
/// cache of the latest one.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ArchiveConfig {
    /// Fingerprints (FORMAT.md §5.3) of the recipients every new blob is
    /// encrypted to, strictly ascending.
    pub recipients: Vec<Digest>,
    /// Roles whose approval a document needs before publication, strictly ascending.
    pub approvals: Vec<Role>,
    /// C2SP tlog-policy text that partners' bundles must meet (empty: none).
    pub partner_policy: String,
    /// C2SP tlog-policy text that this log's own checkpoints must meet (empty: none).
    pub own_policy: String,
    /// Version 2: the archive's deduplication secret, sealed to the
    /// recipients above (FORMAT.md §4.16, §7.3).
    pub sealed: Option<Sealed>,
}

fn check_roles(r: &[Role]) -> Result<(), RecordError> {
    if r.windows(2).any(|w| w[0] >= w[1]) {
        return Err(RecordError::BadRoles);
    }
    Ok(())
}

/// A policy text: at most [`MAX_POLICY_LEN`] bytes of UTF-8 with no control
/// characters but line feeds (FORMAT.md §4.15).
fn check_policy(t: &str) -> Result<(), RecordError> {
    if t.len() > MAX_POLICY_LEN || t.chars().any(|c| c.is_control() && c != '\n') {
        return Err(RecordError::BadText);
    }
    Ok(())
}

fn policy_summary(t: &str) -> String {
    if t.is_empty() {
        "none".into()
    } else {
        format!("{}…", &Digest::of(t.as_bytes()).to_hex()[..8])
    }
}

fn read_policy(r: &mut Reader<'_>) -> Result<String, RecordError> {
    let mut a = [0u8; 2];
    a.copy_from_slice(r.take(2)?);
    let len = u16::from_be_bytes(a) as usize;
    let t = String::from_utf8(r.take(len)?.to_vec()).map_err(|_| RecordError::BadText)?;
    check_policy(&t)?;
    Ok(t)
}

impl KindDef for ArchiveConfig {
    const KIND: Kind = Kind::Config;
    const NAME: &'static str = "config";
    const SEALED_VERSION: bool = true;
    const SIGNERS: &'static [Role] = &[Role::Admin];
    /// Never the log key: the configuration is the administrators'.
    const OWNER_MAY_SIGN: bool = false;
    const CHANGES_STATE: bool = true;

    /// FORMAT.md §4.15; version 2 adds the sealed secret (§4.16).
    fn encode(&self, out: &mut Vec<u8>) {
        encode_recipients(out, &self.recipients);
        out.push(self.approvals.len() as u8);
        out.extend(self.approvals.iter().map(|r| *r as u8));
        encode_str16(out, &self.partner_policy);
        encode_str16(out, &self.own_policy);
        if let Some(x) = &self.sealed {
            x.write(out);
        }
    }
    fn decode(r: &mut Reader<'_>, v2: bool, _index: u64) -> Result<Self, RecordError> {
        let recipients = r.recipients()?;
        let m = r.u8()? as usize;
        let mut approvals = Vec::with_capacity(m);
        for _ in 0..m {
            let b = r.u8()?;
            approvals.push(Role::from_byte(b).ok_or(RecordError::BadEnum(b))?);
        }
        check_roles(&approvals)?;
        Ok(ArchiveConfig {
            recipients,
            approvals,
            partner_policy: read_policy(r)?,
            own_policy: read_policy(r)?,
            sealed: if v2 { Some(r.sealed()?) } else { None },
        })
    }
    fn validate(&self, _index: u64) -> Result<(), RecordError> {
        check_recipients(&self.recipients)?;
        check_roles(&self.approvals)?;
        check_policy(&self.partner_policy)?;
        check_policy(&self.own_policy)
    }
    fn place(&mut self, _index: u64) {}
    fn summary(&self) -> String {
        let c = self;
        format!(
            "configuration: {} recipient(s) [{}], approvals by {}, partner policy {}, own policy {}",
            c.recipients.len(),
            c.recipients
                .iter()
                .map(|r| r.to_hex()[..8].to_string())
                .collect::<Vec<_>>()
                .join(" "),
            if c.approvals.is_empty() {
                "nobody".to_string()
            } else {
                c.approvals.iter().map(|r| r.as_str()).collect::<Vec<_>>().join("+")
            },
            policy_summary(&c.partner_policy),
            policy_summary(&c.own_policy),
        )
    }
    fn is_v2(&self) -> bool {
        self.sealed.is_some()
    }
    fn sealed(&self) -> Option<&Sealed> {
        self.sealed.as_ref()
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
