//! Loading secret key files: permission checks, size limits, passphrases, zeroization.
//!
//! Like ssh, a secret key file that its group or others can read is refused
//! unless the caller explicitly allows it. A file that is an age scrypt
//! (passphrase) file is decrypted with a passphrase from the caller's callback.
//! Every buffer that holds secret bytes is a `Zeroizing` and wiped on drop.

use std::fs;
use std::path::{Path, PathBuf};

use age::secrecy::SecretString;
use zeroize::Zeroizing;

use crate::core::crypto::{self, Identities};
use crate::core::keys::SignerKey;
use crate::core::redact;
use crate::store::{io_err, StoreError};

/// Secret key files larger than this are refused (an identity file is tiny).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// Where a passphrase for a protected key file comes from.
pub type PassphraseFn<'a> = &'a dyn Fn(&Path) -> Result<SecretString, StoreError>;

/// How secret key files are loaded.
pub struct KeyLoader<'a> {
    /// Accept files readable by group or others (`--insecure-key-permissions`).
    pub insecure_permissions: bool,
    /// Asked for a passphrase when a key file is passphrase-protected.
    pub passphrase: Option<PassphraseFn<'a>>,
}

/// As ssh checks a key file: owned by the user (or root), in a directory
/// owned by the user (or root) that no one else may write, unless it is
/// sticky like /tmp (no one else may then replace the file). The file's own
/// mode is checked before (0600). On every Unix, macOS included.
#[cfg(unix)]
fn check_owner_and_dir(path: &Path, meta: &fs::Metadata) -> Result<(), StoreError> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let ours = |uid: u32| uid == me || uid == 0;
    if !ours(meta.uid()) {
        return Err(StoreError::Key(
            path.to_path_buf(),
            format!(
                "is owned by another user (uid {}): a secret key file must be yours or root's; copy it and `chmod 600` the copy",
                meta.uid()
            ),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let d = fs::metadata(&dir).map_err(|e| io_err(&dir, e))?;
    let writable_by_others = d.mode() & 0o022 != 0 && d.mode() & 0o1000 == 0;
    if writable_by_others || !ours(d.uid()) {
        return Err(StoreError::Key(
            path.to_path_buf(),
            format!(
                "is in a directory that another user can write or owns (mode {:04o}, uid {}): anyone who can write it can replace the key; move the key to a directory only you can write",
                d.mode() & 0o7777,
                d.uid()
            ),
        ));
    }
    Ok(())
}

impl KeyLoader<'_> {
    /// Reads a secret file, enforcing permissions and decrypting passphrase protection.
    pub fn read_secret(&self, path: &Path) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        // Opened once (never blocking, FORMAT.md §1.1); every check is of the
        // file actually read.
        let input = crate::store::files::input::Input::open(path).map_err(|e| io_err(path, e))?;
        let meta = input.meta().clone();
        if !meta.is_file() {
            return Err(StoreError::Key(
                path.to_path_buf(),
                "is not a regular file".into(),
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 && !self.insecure_permissions {
                return Err(StoreError::KeyPermissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        #[cfg(unix)]
        if !self.insecure_permissions {
            check_owner_and_dir(path, &meta)?;
        }
        if meta.len() > MAX_KEY_FILE {
            return Err(StoreError::Key(
                path.to_path_buf(),
                "is too large to be a key file".into(),
            ));
        }
        let buf = input.read_secret(MAX_KEY_FILE, "a key file")?;
        if crypto::looks_like_age(&buf) {
            // The work factor is capped before a passphrase is asked for or
            // any scrypt work is done (FORMAT.md §3.5).
            match crypto::scrypt_work_factor(&buf) {
                Some(Err(())) => {
                    return Err(StoreError::Key(
                        path.to_path_buf(),
                        "is passphrase-protected with a scrypt work factor that is not a decimal number up to 255 without sign or leading zeros (the age format): it is not a key file custody or age wrote; protect the key again with `age -p`".into(),
                    ))
                }
                Some(Ok(n)) if n > crypto::MAX_SCRYPT_WORK_FACTOR => {
                    return Err(StoreError::Key(
                        path.to_path_buf(),
                        format!(
                            "is passphrase-protected with a scrypt work factor of {n}, above the {} custody accepts (it would take 2^{n} KiB of memory): protect the key again with `age -p` (work factor 18)",
                            crypto::MAX_SCRYPT_WORK_FACTOR
                        ),
                    ))
                }
                _ => {}
            }
            let ask = self.passphrase.ok_or_else(|| {
                StoreError::Key(
                    path.to_path_buf(),
                    "is passphrase-protected; give --passphrase-file or run in a terminal".into(),
                )
            })?;
            let pass = ask(path)?;
            return crypto::passphrase_decrypt(&buf, pass).map_err(|e| match e {
                crypto::CryptoError::BadPassphrase => StoreError::Key(
                    path.to_path_buf(),
                    "could not be unlocked: wrong passphrase".into(),
                ),
                other => StoreError::Key(path.to_path_buf(), other.to_string()),
            });
        }
        Ok(buf)
    }

    /// Loads a C2SP signed-note secret key (`PRIVATE+KEY+…`).
    pub fn signer(&self, path: &Path) -> Result<SignerKey, StoreError> {
        let buf = self.read_secret(path)?;
        let text = std::str::from_utf8(&buf).map_err(|_| not_utf8(path))?;
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or("");
        SignerKey::parse(line).map_err(|e| {
            let why = match redact::secret_kind(line) {
                Some(redact::SecretKind::SignerKey) => e.to_string(),
                Some(k) => format!("holds a secret key of another kind ({k})"),
                None => e.to_string(),
            };
            StoreError::Key(
                path.to_path_buf(),
                format!("is not a valid signing key (PRIVATE+KEY+…): {why}"),
            )
        })
    }

    /// Loads age identities from one or more files.
    pub fn identities(&self, paths: &[PathBuf]) -> Result<Identities, StoreError> {
        let mut all: Option<Identities> = None;
        for p in paths {
            let buf = self.read_secret(p)?;
            if std::str::from_utf8(&buf).is_err() {
                return Err(not_utf8(p));
            }
            let ids = Identities::parse(&buf).map_err(|e| {
                // A plugin the file names is missing: the plugin's error, not the file's.
                if let crypto::CryptoError::Plugin(f) = e {
                    return StoreError::Crypto(crypto::CryptoError::Plugin(f));
                }
                let kind = redact::file_secret_kind(&p.to_string_lossy(), &buf);
                match kind {
                    Some(k @ redact::SecretKind::SignerKey) => StoreError::Key(
                        p.to_path_buf(),
                        format!("holds a secret key of another kind ({k}), not an age identity (AGE-SECRET-KEY-1… or an OpenSSH private key)"),
                    ),
                    _ => StoreError::Key(p.to_path_buf(), e.to_string()),
                }
            })?;
            match all.as_mut() {
                None => all = Some(ids),
                Some(a) => a.extend(ids),
            }
        }
        all.ok_or(StoreError::NoIdentity)
    }
}

/// A key file (or what a passphrase opened) that is not UTF-8 text: every
/// key file custody reads is text. Its content is never quoted.
fn not_utf8(path: &Path) -> StoreError {
    StoreError::Key(
        path.to_path_buf(),
        "is not a key file (not UTF-8 text)".into(),
    )
}

/// Writes a secret file with mode 0600, refusing to overwrite, fsynced.
pub fn write_secret_file(path: &Path, data: &[u8]) -> Result<(), StoreError> {
    let mut o = fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    let mut f = o.open(path).map_err(|e| io_err(path, e))?;
    crate::store::files::fault::write_all(&mut f, data, path)
        .and_then(|_| crate::store::files::fault::sync_all(&f, path))
        .map_err(|e| io_err(path, e))
}
