//! Witness cosignatures on the archive's own checkpoints: verified on the way
//! in, kept in the append-only `ledger/cosignatures` (FORMAT.md §11.3),
//! indexed in the database, appended to checkpoints when they are shown.

use std::path::PathBuf;

use crate::core::checkpoint::SignedCheckpoint;
use crate::core::cosignature::verify_cosignature;
use crate::core::findings::{Check, Report, Subject};
use crate::core::keys::{KeyId, VerifierKey};
use crate::core::note::{NoteSignature, MAX_SIGNATURES};
use crate::core::policy::Policy;
use crate::store::archive::Archive;
use crate::store::files::blobs::sync_dir;
use crate::store::files::logfile::{Frame, LogFile};
use crate::store::StoreError;

const COSIGNATURES_FILE: &str = "cosignatures";

/// One cosignature line that `add_cosignatures` accepted.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CosignatureAdded {
    /// Tree size of the checkpoint it cosigns.
    pub size: u64,
    /// Witness key name and ID.
    pub witness: String,
    pub key_id: KeyId,
    /// Authenticated cosignature time (POSIX seconds).
    pub timestamp: u64,
    /// False when the archive already held a cosignature by this witness for
    /// this checkpoint (nothing stored).
    pub new: bool,
}

/// A frame body of `ledger/cosignatures`: u64 BE tree size || the line's UTF-8
/// bytes (`— name base64`, no newline). FORMAT.md §11.3.
fn encode_entry(size: u64, line: &str) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + line.len());
    b.extend_from_slice(&size.to_be_bytes());
    b.extend_from_slice(line.as_bytes());
    b
}

fn decode_entry(b: &[u8]) -> Option<(u64, NoteSignature)> {
    let (size, line) = b.split_first_chunk::<8>()?;
    let line = std::str::from_utf8(line).ok()?;
    let sig = NoteSignature::parse_line(line).ok()?;
    (sig.to_line().trim_end_matches('\n') == line).then_some((u64::from_be_bytes(*size), sig))
}

fn line_of(sig: &NoteSignature) -> String {
    sig.to_line().trim_end_matches('\n').to_string()
}

impl Archive {
    fn cosignatures_path(&self) -> PathBuf {
        self.root().join("ledger").join(COSIGNATURES_FILE)
    }

    /// Indexes frames of `ledger/cosignatures` beyond what the database
    /// covers (after a crash, or on `reindex`); cuts back a torn tail. The
    /// file is optional: archives made before cosignatures have none.
    pub(crate) fn catch_up_cosignatures(&mut self) -> Result<Result<(), String>, StoreError> {
        let indexed = self.db().cosignatures_len()?;
        let p = self.cosignatures_path();
        if !p.is_file() {
            return Ok(if indexed == 0 {
                Ok(())
            } else {
                Err("ledger/cosignatures is missing but the index covers it".into())
            });
        }
        let mut lf = LogFile::open(&p, false)?;
        let flen = lf.len()?;
        if flen < indexed {
            return Ok(Err(format!(
                "ledger/cosignatures is {flen} bytes but the index covers {indexed}"
            )));
        }
        if flen == indexed {
            return Ok(Ok(()));
        }
        let mut entries = Vec::new();
        let mut end = indexed;
        let mut torn = None;
        for f in lf.scan(indexed)? {
            match f? {
                Frame::Complete { offset, body } => match decode_entry(&body) {
                    Some((size, sig)) => {
                        end = offset + 4 + body.len() as u64;
                        entries.push((
                            size,
                            sig.key_id.to_be_bytes(),
                            sig.name.clone(),
                            line_of(&sig).into_bytes(),
                        ));
                    }
                    None if lf.zeros_from(offset)? => {
                        torn = Some(offset);
                        break;
                    }
                    None => {
                        return Ok(Err(format!(
                            "ledger/cosignatures entry at offset {offset} does not decode"
                        )))
                    }
                },
                Frame::Torn { offset } => torn = Some(offset),
                Frame::Oversized { offset, .. } if lf.zeros_from(offset)? => {
                    torn = Some(offset);
                    break;
                }
                Frame::Oversized { offset, len } => {
                    return Ok(Err(format!(
                        "ledger/cosignatures frame at offset {offset} claims {len} bytes"
                    )))
                }
            }
        }
        if let Some(off) = torn {
            lf.truncate(off)?;
        }
        self.db().put_cosignatures(&entries, end)?;
        Ok(Ok(()))
    }

    /// Verifies cosignature lines and stores the new ones durably.
    ///
    /// Each line must be by one of `witnesses` (matched by name and key ID)
    /// and must verify over one of the archive's stored checkpoints (the
    /// newest that matches). If any line fails, nothing is stored. A line of
    /// a witness that already cosigned that checkpoint is skipped.
    pub fn add_cosignatures(
        &self,
        lines: &[NoteSignature],
        witnesses: &[VerifierKey],
    ) -> Result<Vec<CosignatureAdded>, StoreError> {
        self.ensure_writable()?;
        let mut cps: Vec<(u64, String)> = Vec::new();
        for (size, note) in self.checkpoints()?.into_iter().rev() {
            let sc = SignedCheckpoint::parse(&note)
                .map_err(|e| StoreError::Corrupt(format!("checkpoint at size {size}: {e}")))?;
            cps.push((size, sc.note().text().to_string()));
        }
        let mut out: Vec<CosignatureAdded> = Vec::new();
        let mut new_entries: Vec<(u64, NoteSignature)> = Vec::new();
        for sig in lines {
            let key = witnesses
                .iter()
                .find(|w| w.matches(&sig.name, sig.key_id))
                .ok_or_else(|| {
                    StoreError::Input(format!(
                        "cosignature by unknown witness key {} ({}): add its vkey with `custody trust add` or give --witness VKEY; nothing was stored",
                        sig.name, sig.key_id
                    ))
                })?;
            let hit = cps.iter().find_map(|(size, body)| {
                verify_cosignature(body, key, sig)
                    .ok()
                    .map(|ts| (*size, ts))
            });
            let (size, timestamp) = hit.ok_or_else(|| {
                StoreError::Input(format!(
                    "the cosignature by {} does not verify over any checkpoint of this archive; nothing was stored",
                    sig.name
                ))
            })?;
            let dup_db = self
                .db()
                .has_cosignature(size, sig.key_id.to_be_bytes(), &sig.name)?;
            let dup_batch = new_entries
                .iter()
                .any(|(s, n)| *s == size && n.key_id == sig.key_id && n.name == sig.name);
            let new = !dup_db && !dup_batch;
            if new {
                new_entries.push((size, sig.clone()));
            }
            out.push(CosignatureAdded {
                size,
                witness: sig.name.clone(),
                key_id: sig.key_id,
                timestamp,
                new,
            });
        }
        if new_entries.is_empty() {
            return Ok(out);
        }
        for (size, _) in &new_entries {
            if self.db().cosignatures(*size)?.len() + 1 >= MAX_SIGNATURES {
                return Err(StoreError::Input(format!(
                    "the checkpoint at size {size} already has the most cosignatures a note may carry"
                )));
            }
        }
        let p = self.cosignatures_path();
        let created = !p.exists();
        let mut lf = LogFile::open(&p, true)?;
        if created {
            sync_dir(&self.root().join("ledger"))?;
        }
        let bodies: Vec<Vec<u8>> = new_entries
            .iter()
            .map(|(s, sig)| encode_entry(*s, &line_of(sig)))
            .collect();
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        lf.append(&refs)?;
        let flen = lf.len()?;
        let idx: Vec<_> = new_entries
            .iter()
            .map(|(s, sig)| {
                (
                    *s,
                    sig.key_id.to_be_bytes(),
                    sig.name.clone(),
                    line_of(sig).into_bytes(),
                )
            })
            .collect();
        self.db().put_cosignatures(&idx, flen)?;
        self.write_checkpoint_file()?;
        Ok(out)
    }

    /// The stored checkpoint note at `size` with every stored cosignature line
    /// appended (a valid C2SP signed note).
    pub fn cosigned_checkpoint(&self, size: u64) -> Result<Vec<u8>, StoreError> {
        let note = self
            .db()
            .checkpoint(size)?
            .ok_or(StoreError::NoCheckpoint(size))?;
        self.append_cosignatures(size, note)
    }

    /// The latest checkpoint with its cosignatures, if any checkpoint exists.
    pub fn latest_cosigned_checkpoint(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        match self.latest_checkpoint()? {
            None => Ok(None),
            Some((size, note)) => Ok(Some((size, self.append_cosignatures(size, note)?))),
        }
    }

    fn append_cosignatures(&self, size: u64, note: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let lines = self.db().cosignatures(size)?;
        if lines.is_empty() {
            return Ok(note);
        }
        let mut sc = SignedCheckpoint::parse(&note)
            .map_err(|e| StoreError::Corrupt(format!("checkpoint at size {size}: {e}")))?;
        for l in lines {
            let sig = parse_stored(&l)?;
            sc.add_signature(sig)
                .map_err(|e| StoreError::Corrupt(format!("checkpoint at size {size}: {e}")))?;
        }
        Ok(sc.encode().into_bytes())
    }

    /// Every stored cosignature with the size of the checkpoint it cosigns.
    pub fn stored_cosignatures(&self) -> Result<Vec<(u64, NoteSignature)>, StoreError> {
        let mut out = Vec::new();
        for (size, l) in self.db().all_cosignatures()? {
            let sig = parse_stored(&l)?;
            out.push((size, sig));
        }
        Ok(out)
    }

    /// For `verify`: the entries of `ledger/cosignatures`, read without
    /// changing it, with a `cosignature` finding for each frame that is
    /// damaged or does not decode and for each entry stored twice (custody
    /// skips a line it already holds, FORMAT.md §11.3), and an
    /// `index_mismatch` if the database holds other entries. Each entry once.
    fn scan_cosignature_file(
        &self,
        rep: &mut Report,
    ) -> Result<Vec<(u64, NoteSignature)>, StoreError> {
        let p = self.cosignatures_path();
        let mut out: Vec<(u64, NoteSignature)> = Vec::new();
        if p.is_file() {
            let lf = LogFile::open_read(&p)?;
            for f in lf.scan(0)? {
                let damage = match f? {
                    Frame::Complete { offset, body } => match decode_entry(&body) {
                        Some((size, sig)) => {
                            let twice = out.iter().any(|(s, o)| {
                                *s == size && o.key_id == sig.key_id && o.name == sig.name
                            });
                            if twice {
                                rep.add(
                                    Subject::Checkpoint(size),
                                    Check::Cosignature,
                                    format!(
                                        "the cosignature by {} at offset {offset} of ledger/cosignatures is stored twice",
                                        sig.name
                                    ),
                                );
                            } else {
                                out.push((size, sig));
                            }
                            continue;
                        }
                        None => format!("the entry at offset {offset} does not decode"),
                    },
                    Frame::Torn { offset } => {
                        format!("the file ends inside the frame at offset {offset}")
                    }
                    Frame::Oversized { offset, len } => {
                        format!("the frame at offset {offset} claims {len} bytes")
                    }
                };
                rep.add(
                    Subject::Archive,
                    Check::Cosignature,
                    format!("ledger/cosignatures is damaged: {damage}"),
                );
                if !damage.starts_with("the entry") {
                    break;
                }
            }
        }
        let mut in_file: Vec<(u64, Vec<u8>)> = out
            .iter()
            .map(|(s, sig)| (*s, line_of(sig).into_bytes()))
            .collect();
        let mut in_db = self.db().all_cosignatures()?;
        in_file.sort();
        in_db.sort();
        if in_file != in_db {
            rep.add(
                Subject::Archive,
                Check::IndexMismatch,
                format!(
                    "the database holds {} cosignatures that differ from the {} in ledger/cosignatures",
                    in_db.len(),
                    in_file.len()
                ),
            );
        }
        Ok(out)
    }

    /// Adds findings for the cosignatures in `ledger/cosignatures` that are
    /// damaged, stored twice, or do not verify (by a key in `witnesses`, or
    /// over a checkpoint that does not exist), for a database that holds
    /// others, and, with a policy, for a latest checkpoint whose
    /// cosignatures miss the quorum.
    pub fn check_cosignatures(
        &self,
        witnesses: &[VerifierKey],
        policy: Option<&Policy>,
        rep: &mut Report,
    ) -> Result<(), StoreError> {
        for (size, sig) in self.scan_cosignature_file(rep)? {
            let Some(note) = self.db().checkpoint(size)? else {
                rep.add(
                    Subject::Checkpoint(size),
                    Check::Cosignature,
                    format!(
                        "a cosignature by {} names a checkpoint that does not exist",
                        sig.name
                    ),
                );
                continue;
            };
            let Some(key) = witnesses.iter().find(|w| w.matches(&sig.name, sig.key_id)) else {
                continue;
            };
            let body = SignedCheckpoint::parse(&note)
                .map(|s| s.note().text().to_string())
                .unwrap_or_default();
            if let Err(e) = verify_cosignature(&body, key, &sig) {
                rep.add(
                    Subject::Checkpoint(size),
                    Check::Cosignature,
                    format!("cosignature by {} ({}): {e}", sig.name, sig.key_id),
                );
            }
        }
        let Some(policy) = policy else {
            return Ok(());
        };
        if !policy.log_keys().is_empty() && !policy.log_keys().contains(self.log_key()) {
            rep.add(
                Subject::Archive,
                Check::WitnessQuorum,
                format!("the policy does not list this log's key {}", self.log_key()),
            );
        }
        let Some((size, note)) = self.latest_cosigned_checkpoint()? else {
            return Ok(());
        };
        let outcome = match SignedCheckpoint::open(&note, self.log_key(), &policy.witness_keys()) {
            Ok(o) => policy.evaluate(&o.witness_cosignatures),
            Err(e) => {
                rep.add(
                    Subject::Checkpoint(size),
                    Check::WitnessQuorum,
                    format!("the cosigned checkpoint does not open: {e}"),
                );
                return Ok(());
            }
        };
        if !outcome.satisfied {
            let by = if outcome.cosigned_by.is_empty() {
                "no witness of the policy".to_string()
            } else {
                outcome.cosigned_by.join(", ")
            };
            rep.add(
                Subject::Checkpoint(size),
                Check::WitnessQuorum,
                format!("cosigned by {by}; the policy requires {}", outcome.required),
            );
        }
        Ok(())
    }
}

/// A cosignature line as the database stores it.
fn parse_stored(line: &[u8]) -> Result<NoteSignature, StoreError> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| NoteSignature::parse_line(l).ok())
        .ok_or_else(|| StoreError::DatabaseCorrupt("a stored cosignature does not parse".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let sig = NoteSignature::parse_line("\u{2014} w.example/witness AAAAAQE=").unwrap();
        let b = encode_entry(7, &line_of(&sig));
        assert_eq!(decode_entry(&b), Some((7, sig)));
        assert_eq!(decode_entry(&b[..7]), None);
        let mut bad = b.clone();
        bad.push(b' ');
        assert_eq!(decode_entry(&bad), None);
    }
}
