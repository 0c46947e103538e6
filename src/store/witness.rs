//! The archive owner as a witness of partners' logs: which logs it witnesses
//! (`witness/config.toml`) and every checkpoint it cosigned
//! (`witness/history`, append-only). Formats: `docs/FORMAT.md` §11.2.
//!
//! The archive lock serialises witnesses, so checking a checkpoint against
//! the history and appending it is atomic with respect to other `custody`
//! processes; the append is fsynced before the caller emits a cosignature.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::core::checkpoint::{Checkpoint, SignedCheckpoint};
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::report::{Check, Report, Subject};
use crate::store::archive::Archive;
use crate::store::blobs::sync_dir;
use crate::store::logfile::{Frame, LogFile};
use crate::store::{io_err, StoreError};

/// The witness directory inside an archive.
pub const WITNESS_DIR: &str = "witness";
const CONFIG_FILE: &str = "config.toml";
const HISTORY_FILE: &str = "history";

/// `witness/config.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessConfig {
    /// Default witness secret key file for `witness cosign`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness_key: Option<PathBuf>,
    /// The logs this archive witnesses.
    #[serde(default, rename = "log")]
    pub logs: Vec<WitnessedLog>,
}

/// One witnessed log: its origin and its log key (name = origin, alg 0x01).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WitnessedLog {
    pub origin: String,
    pub vkey: VerifierKey,
}

/// Largest `witness/config.toml` accepted.
const MAX_CONFIG: u64 = 1 << 20;

impl WitnessConfig {
    /// Parses the text of `witness/config.toml` (FORMAT.md §11.2): every log's
    /// vkey must be alg `0x01` and named as its origin. `path` only names the
    /// file in errors.
    pub fn parse(path: &Path, text: &str) -> Result<WitnessConfig, StoreError> {
        if text.len() as u64 > MAX_CONFIG {
            return Err(StoreError::Config(
                path.to_path_buf(),
                format!("is larger than {MAX_CONFIG} bytes"),
            ));
        }
        let c: WitnessConfig = toml::from_str(text).map_err(|e| {
            StoreError::Config(path.to_path_buf(), crate::store::toml_error(text, &e))
        })?;
        for l in &c.logs {
            if l.vkey.name() != l.origin || l.vkey.alg() != SigAlg::Ed25519 {
                return Err(StoreError::Config(
                    path.to_path_buf(),
                    format!(
                        "log {:?}: the vkey must be alg 0x01 named as the origin",
                        l.origin
                    ),
                ));
            }
        }
        Ok(c)
    }

    /// The configured log with this origin.
    pub fn log(&self, origin: &str) -> Option<&WitnessedLog> {
        self.logs.iter().find(|l| l.origin == origin)
    }
}

/// One checkpoint of a log that this witness cosigned, as it was received.
#[derive(Clone, Debug)]
pub struct CosignedEntry {
    pub checkpoint: Checkpoint,
    pub note: Vec<u8>,
}

/// Writes `data` to `path` atomically: a temp file in the same directory,
/// fsync, rename, fsync of the directory. Creates missing parent directories.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    crate::store::bundle_file::write_durable(path, data)
}

impl Archive {
    fn witness_dir(&self) -> PathBuf {
        self.root().join(WITNESS_DIR)
    }

    /// `witness/config.toml`, or the default (nothing witnessed) if missing.
    pub fn witness_config(&self) -> Result<WitnessConfig, StoreError> {
        let p = self.witness_dir().join(CONFIG_FILE);
        let text = match crate::store::read_toml_text(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(WitnessConfig::default())
            }
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                return Err(StoreError::Config(p, "is not UTF-8 text".into()))
            }
            Err(e) => return Err(io_err(&p, e)),
            Ok(t) => t,
        };
        WitnessConfig::parse(&p, &text)
    }

    fn save_witness_config(&self, c: &WitnessConfig) -> Result<(), StoreError> {
        let text = toml::to_string_pretty(c).map_err(|e| StoreError::Internal(e.to_string()))?;
        let text = format!("# logs this archive witnesses (docs/FORMAT.md §11.2)\n{text}");
        write_atomic(&self.witness_dir().join(CONFIG_FILE), text.as_bytes())
    }

    /// Records that this archive witnesses the log `vkey` (its name must be
    /// the origin, alg `0x01`); optionally remembers the witness key path.
    /// Returns false when the log was already configured with this key.
    pub fn witness_add_log(
        &self,
        vkey: VerifierKey,
        witness_key: Option<PathBuf>,
    ) -> Result<bool, StoreError> {
        if vkey.alg() != SigAlg::Ed25519 {
            return Err(StoreError::Input(format!(
                "{vkey} is not a log key (alg 0x01); witness keys cannot sign checkpoints"
            )));
        }
        let mut c = self.witness_config()?;
        let origin = vkey.name().to_string();
        let added = match c.log(&origin) {
            Some(l) if l.vkey == vkey => false,
            Some(l) => {
                return Err(StoreError::Input(format!(
                    "the log {origin:?} is already witnessed with another key ({}); a log key never changes silently",
                    l.vkey
                )))
            }
            None => {
                c.logs.push(WitnessedLog { origin, vkey });
                true
            }
        };
        if witness_key.is_some() {
            c.witness_key = witness_key;
        }
        self.save_witness_config(&c)?;
        Ok(added)
    }

    /// Opens `witness/history`, cutting back a torn final frame, and returns
    /// every entry in order.
    fn witness_history_file(&self) -> Result<(LogFile, Vec<CosignedEntry>), StoreError> {
        let dir = self.witness_dir();
        let p = dir.join(HISTORY_FILE);
        let created = !p.exists();
        if created {
            fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        }
        let mut lf = LogFile::open(&p, true)?;
        if created {
            sync_dir(&dir)?;
        }
        let mut out = Vec::new();
        let mut torn = None;
        for f in lf.scan(0)? {
            match f? {
                Frame::Complete { offset, body } => match SignedCheckpoint::parse(&body) {
                    Ok(sc) => out.push(CosignedEntry {
                        checkpoint: sc.checkpoint().clone(),
                        note: body,
                    }),
                    Err(_) if lf.zeros_from(offset)? => {
                        torn = Some(offset);
                        break;
                    }
                    Err(e) => {
                        return Err(StoreError::Corrupt(format!(
                            "{} at offset {offset}: {e}",
                            p.display()
                        )))
                    }
                },
                Frame::Torn { offset } => torn = Some(offset),
                Frame::Oversized { offset, .. } if lf.zeros_from(offset)? => {
                    torn = Some(offset);
                    break;
                }
                Frame::Oversized { offset, len } => {
                    return Err(StoreError::Corrupt(format!(
                        "{} frame at offset {offset} claims {len} bytes",
                        p.display()
                    )))
                }
            }
        }
        if let Some(off) = torn {
            lf.truncate(off)?;
        }
        Ok((lf, out))
    }

    /// Every checkpoint of `origin` this witness cosigned, oldest first.
    pub fn witness_history(&self, origin: &str) -> Result<Vec<CosignedEntry>, StoreError> {
        let (_, all) = self.witness_history_file()?;
        Ok(all
            .into_iter()
            .filter(|e| e.checkpoint.origin == origin)
            .collect())
    }

    /// For `verify`: findings about this archive's witness state, read
    /// without changing it. `witness/config.toml` must parse; every complete
    /// frame of `witness/history` must be a checkpoint of a configured log
    /// that opens with that log's key, and per log the sizes must grow (a
    /// checkpoint is appended only when it is larger than the latest,
    /// FORMAT.md §11.2). A torn or zero-filled final frame is what a crash
    /// mid-append leaves, and is not reported.
    pub(crate) fn check_witness_state(&self, rep: &mut Report) -> Result<(), StoreError> {
        let dir = self.witness_dir();
        if !dir.is_dir() {
            return Ok(());
        }
        let config = match self.witness_config() {
            Ok(c) => Some(c),
            Err(StoreError::Config(p, why)) => {
                rep.add(
                    Subject::Archive,
                    Check::WitnessState,
                    format!("{}: {why}", p.display()),
                );
                None
            }
            Err(e) => return Err(e),
        };
        let p = dir.join(HISTORY_FILE);
        if !p.is_file() {
            return Ok(());
        }
        let lf = LogFile::open_read(&p)?;
        let frames = lf.scan(0)?.collect::<Result<Vec<Frame>, StoreError>>()?;
        let mut latest: Vec<Checkpoint> = Vec::new();
        for f in frames {
            let (offset, body) = match f {
                Frame::Complete { offset, body } => (offset, body),
                Frame::Torn { .. } => break,
                Frame::Oversized { offset, .. } if lf.zeros_from(offset)? => break,
                Frame::Oversized { offset, len } => {
                    rep.add(
                        Subject::Archive,
                        Check::WitnessState,
                        format!("witness/history frame at offset {offset} claims {len} bytes"),
                    );
                    break;
                }
            };
            let c = match SignedCheckpoint::parse(&body) {
                Ok(sc) => sc.checkpoint().clone(),
                Err(_) if lf.zeros_from(offset)? => break,
                Err(e) => {
                    rep.add(
                        Subject::Archive,
                        Check::WitnessState,
                        format!("witness/history entry at offset {offset} does not parse: {e}"),
                    );
                    continue;
                }
            };
            let subject = Subject::Log(c.origin.clone());
            match config.as_ref().map(|cfg| cfg.log(&c.origin)) {
                None => {}
                Some(None) => rep.add(
                    subject.clone(),
                    Check::WitnessState,
                    format!(
                        "witness/history entry at offset {offset} is a checkpoint of a log witness/config.toml does not list"
                    ),
                ),
                Some(Some(l)) => {
                    if let Err(e) = SignedCheckpoint::open(&body, &l.vkey, &[]) {
                        rep.add(
                            subject.clone(),
                            Check::WitnessState,
                            format!(
                                "witness/history entry at offset {offset} (size {}) does not open with the log's key: {e}",
                                c.size
                            ),
                        );
                    }
                }
            }
            match latest.iter_mut().find(|l| l.origin == c.origin) {
                None => latest.push(c),
                Some(prev) => {
                    let why = if c.size < prev.size {
                        Some(format!(
                            "the size goes back from {} to {}",
                            prev.size, c.size
                        ))
                    } else if c.size == prev.size && c.root == prev.root {
                        Some(format!("the checkpoint of size {} is there twice", c.size))
                    } else if c.size == prev.size {
                        Some(format!("two roots at size {}", c.size))
                    } else {
                        None
                    };
                    if let Some(why) = why {
                        rep.add(
                            subject,
                            Check::WitnessState,
                            format!("witness/history entry at offset {offset}: {why}"),
                        );
                    }
                    if c.size >= prev.size {
                        *prev = c;
                    }
                }
            }
        }
        Ok(())
    }

    /// Appends a checkpoint this witness is about to cosign; durable (fsync)
    /// when it returns, before the cosignature is emitted.
    pub fn witness_record(&self, note: &[u8]) -> Result<(), StoreError> {
        let (mut lf, _) = self.witness_history_file()?;
        lf.append(&[note])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;
    use crate::core::testing::{deep_toml, fast};

    #[test]
    fn config_round_trips_and_checks_each_log() {
        let p = Path::new("config.toml");
        let log = SignerKey::from_seed("a.example/log", &[5; 32]).unwrap();
        let c = WitnessConfig {
            witness_key: Some(PathBuf::from("/keys/witness.key")),
            logs: vec![WitnessedLog {
                origin: "a.example/log".into(),
                vkey: log.verifier(),
            }],
        };
        let text = toml::to_string_pretty(&c).unwrap();
        assert_eq!(WitnessConfig::parse(p, &text).unwrap(), c);
        for bad in [
            text.replace("origin = \"a.example/log\"", "origin = \"b.example/log\""),
            text.replace(&log.verifier().encode(), &log.cosigner_verifier().encode()),
            format!("{text}unknown = 1\n"),
        ] {
            assert!(matches!(
                WitnessConfig::parse(p, &bad),
                Err(StoreError::Config(..))
            ));
        }
    }

    /// Issue 6: TOML nested 100,000 levels deep is refused fast.
    #[test]
    fn nesting_is_bounded() {
        for bad in deep_toml() {
            let r = fast("WitnessConfig::parse", || {
                WitnessConfig::parse(Path::new("config.toml"), &bad)
            });
            assert!(matches!(r, Err(StoreError::Config(..))), "{r:?}");
        }
    }
}
