//! age encryption for the archive: recipients, identities, streaming encrypt/decrypt.
//!
//! Every blob the archive stores is a plain age v1 file (binary, not armored), so
//! the standard `age` tool decrypts it with the same identity (FORMAT.md §6).
//! custody writes those files itself ([`crate::core::agestream`], driven by
//! [`crate::core::encrypt_pipeline`]: the input is read once, straight into the buffers
//! that are sealed in place and written, on both cores for large inputs);
//! decryption and passphrase-protected key files use the `age` crate.

use std::io::{self, BufRead, Read, Write};

use age::secrecy::SecretString;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::core::agestream::{self, AgeWriteError};
use crate::core::domain_tags;
use crate::core::encrypt_pipeline;
use crate::core::hash::Digest;
use crate::core::plugin::{self, PluginFailure, PluginIdentity, PluginRecipient};

/// An age recipient the archive encrypts to: the hybrid post-quantum
/// `mlkem768x25519` (`age1pq1…`), classic X25519 (`age1…`) or an SSH public key.
/// The classic kinds stay for the archives and partners that use them (the age
/// crate marks them deprecated for new keys); one file never mixes the two
/// families ([`check_recipient_set`]). A plugin recipient (`age1NAME1…`,
/// such as `age1yubikey1…`) is wrapped by its `age-plugin-NAME` binary
/// ([`crate::core::plugin`]).
#[derive(Clone)]
#[allow(deprecated)]
pub enum RecipientKey {
    /// ML-KEM-768 + X25519 (C2SP age, "mlkem768x25519"), wrapped by the age crate.
    Pq(age::pq::Recipient),
    /// Wraps file keys with a precomputed table for this key (src/core/x25519.rs).
    X25519(crate::core::x25519::FastRecipient),
    Ssh(age::ssh::Recipient),
    /// `age1NAME1…`, wrapped by `age-plugin-NAME` under a deadline.
    Plugin(PluginRecipient),
}

/// Why a key or an age file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    #[error("not an age recipient (age1…, age1NAME1… of a plugin) or SSH public key (ssh-ed25519 …): {0}")]
    BadRecipient(String),
    #[error("no identity found: expected AGE-SECRET-KEY-PQ-1…, AGE-SECRET-KEY-1… or AGE-PLUGIN-… lines, or an OpenSSH private key")]
    NoIdentity,
    #[error("encrypted or unsupported SSH private key; use an unencrypted ssh-ed25519 key or an age identity")]
    UnsupportedSshKey,
    #[error("none of the given identities can decrypt this file (wrong key?)")]
    NoMatchingKeys,
    #[error("wrong passphrase, or the passphrase-protected file is damaged")]
    BadPassphrase,
    #[error("age file is damaged or not an age file: {0}")]
    Corrupt(String),
    #[error("no recipients given")]
    NoRecipients,
    #[error("the recipients mix post-quantum keys (age1pq1…) with classic ones (age1…, ssh-…): age refuses to combine them in one file, since a classic key would undo the post-quantum protection; give only one kind")]
    MixedRecipients,
    #[error("these recipients cannot share one file: a plugin recipient (age1NAME1…) asks for other protection than the rest (age labels differ, such as \"postquantum\"); give recipients of one kind")]
    MixedPluginRecipients,
    /// An age plugin failed, timed out, or is not installed.
    #[error("{0}")]
    Plugin(PluginFailure),
    #[error("cannot write the age file: {0}")]
    Encrypt(AgeWriteError),
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl From<AgeWriteError> for CryptoError {
    fn from(e: AgeWriteError) -> Self {
        match e {
            AgeWriteError::NoRecipients => CryptoError::NoRecipients,
            AgeWriteError::IncompatibleRecipients => CryptoError::MixedRecipients,
            AgeWriteError::Plugin(f) => CryptoError::Plugin(f),
            other => CryptoError::Encrypt(other),
        }
    }
}

impl From<encrypt_pipeline::PipelineError> for CryptoError {
    fn from(e: encrypt_pipeline::PipelineError) -> Self {
        match e {
            encrypt_pipeline::PipelineError::Io(e) => CryptoError::Io(e),
            encrypt_pipeline::PipelineError::Seal(e) => e.into(),
        }
    }
}

impl From<age::DecryptError> for CryptoError {
    fn from(e: age::DecryptError) -> Self {
        if let Some(f) = plugin::in_decrypt(&e) {
            return CryptoError::Plugin(f);
        }
        match e {
            age::DecryptError::NoMatchingKeys => CryptoError::NoMatchingKeys,
            age::DecryptError::KeyDecryptionFailed => CryptoError::BadPassphrase,
            age::DecryptError::Io(io) => CryptoError::Io(io),
            other => CryptoError::Corrupt(other.to_string()),
        }
    }
}

impl RecipientKey {
    /// Parses `age1pq1…`, `age1…`, an OpenSSH public key line (`ssh-ed25519 AAAA… [comment]`)
    /// or a plugin recipient `age1NAME1…` (tried last: native prefixes are plugin-shaped).
    #[allow(deprecated)]
    pub fn parse(s: &str) -> Result<Self, CryptoError> {
        let s = s.trim();
        if let Ok(r) = s.parse::<age::pq::Recipient>() {
            return Ok(RecipientKey::Pq(r));
        }
        if let Ok(r) = s.parse::<age::x25519::Recipient>() {
            // The canonical text of a parsed recipient is valid Bech32 of 32 bytes.
            let public = bech32::decode(&r.to_string())
                .ok()
                .and_then(|(_, b)| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| CryptoError::BadRecipient(crate::core::redact::quote(s)))?;
            return Ok(RecipientKey::X25519(
                crate::core::x25519::FastRecipient::new(r, public),
            ));
        }
        if let Ok(r) = s.parse::<age::ssh::Recipient>() {
            return Ok(RecipientKey::Ssh(r));
        }
        if let Some(r) = PluginRecipient::parse(s) {
            return Ok(RecipientKey::Plugin(r));
        }
        // Quoted for messages: never more than a short prefix, never a secret.
        Err(CryptoError::BadRecipient(crate::core::redact::quote(s)))
    }

    /// Canonical text (FORMAT.md §5.3): `age1pq1…`, `age1…`, `ssh-ed25519 <base64>` without
    /// the comment, or a plugin's `age1NAME1…` in lowercase.
    pub fn canonical(&self) -> String {
        match self {
            RecipientKey::Pq(r) => r.to_string(),
            RecipientKey::X25519(r) => r.age().to_string(),
            RecipientKey::Ssh(r) => r.to_string(),
            RecipientKey::Plugin(r) => r.canonical().to_string(),
        }
    }

    /// `SHA-256("custody/v1/recipient\n" || canonical text)` (FORMAT.md §5.3).
    pub fn fingerprint(&self) -> Digest {
        Digest::of_parts(&[
            domain_tags::RECIPIENT_FINGERPRINT,
            self.canonical().as_bytes(),
        ])
    }

    /// Is this the hybrid post-quantum recipient (`age1pq1…`)? (A plugin
    /// recipient says what it is only when it wraps a file key: its labels.)
    pub fn is_post_quantum(&self) -> bool {
        match self {
            RecipientKey::Pq(_) => true,
            RecipientKey::X25519(_) | RecipientKey::Ssh(_) | RecipientKey::Plugin(_) => false,
        }
    }

    /// Is this a plugin recipient (`age1NAME1…`)?
    pub fn is_plugin(&self) -> bool {
        match self {
            RecipientKey::Plugin(_) => true,
            RecipientKey::Pq(_) | RecipientKey::X25519(_) | RecipientKey::Ssh(_) => false,
        }
    }

    fn as_dyn(&self) -> &dyn age::Recipient {
        match self {
            RecipientKey::Pq(r) => r,
            RecipientKey::X25519(r) => r,
            RecipientKey::Ssh(r) => r,
            RecipientKey::Plugin(r) => r,
        }
    }
}

impl std::fmt::Debug for RecipientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.canonical())
    }
}

/// Refuses a set that mixes post-quantum and classic recipients, as age does
/// (FORMAT.md §6.1 step 2): every file custody writes is all one or the other.
/// Plugin recipients are left out here: their labels are known only when
/// they wrap a file key, and a set whose labels differ is refused then
/// ([`CryptoError::MixedPluginRecipients`]).
pub fn check_recipient_set(recipients: &[RecipientKey]) -> Result<(), CryptoError> {
    let native: Vec<&RecipientKey> = recipients.iter().filter(|r| !r.is_plugin()).collect();
    let pq = native.iter().filter(|r| r.is_post_quantum()).count();
    if pq != 0 && pq != native.len() {
        return Err(CryptoError::MixedRecipients);
    }
    Ok(())
}

/// Fingerprints of a recipient set, sorted ascending and de-duplicated (as records carry them).
pub fn fingerprints(recipients: &[RecipientKey]) -> Vec<Digest> {
    let mut v: Vec<Digest> = recipients.iter().map(RecipientKey::fingerprint).collect();
    v.sort();
    v.dedup();
    v
}

/// Decryption identities (age post-quantum or X25519, unencrypted OpenSSH
/// ed25519/RSA keys), then those served by plugins, one entry per plugin
/// (tried after the others, so a device is asked only when no key here fits).
/// The underlying age types zeroize their key material on drop.
pub struct Identities(
    Vec<Box<dyn age::Identity + Send + Sync>>,
    Vec<PluginIdentity>,
);

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Identities({} keys, {} plugins)",
            self.0.len(),
            self.1.len()
        )
    }
}

impl Identities {
    /// Parses an identity file's contents: `AGE-SECRET-KEY-PQ-1…`, `AGE-SECRET-KEY-1…`
    /// and plugin `AGE-PLUGIN-NAME-1…` lines (as written by `age-keygen` or
    /// `age-plugin-yubikey --identity`, `#` comments allowed) or one OpenSSH
    /// private key. A plugin named must be on PATH ([`CryptoError::Plugin`]).
    pub fn parse(data: &[u8]) -> Result<Self, CryptoError> {
        let text = std::str::from_utf8(data).map_err(|_| CryptoError::NoIdentity)?;
        if text.contains("-----BEGIN OPENSSH PRIVATE KEY-----")
            || text.contains("-----BEGIN RSA PRIVATE KEY-----")
        {
            let id = age::ssh::Identity::from_buffer(io::BufReader::new(data), None)
                .map_err(|_| CryptoError::NoIdentity)?;
            return match id {
                age::ssh::Identity::Unencrypted(_) => {
                    Ok(Identities(vec![Box::new(id)], Vec::new()))
                }
                _ => Err(CryptoError::UnsupportedSshKey),
            };
        }
        // Plugin lines are custody's to run (under a deadline); the rest is
        // the age crate's identity file.
        let mut rest = Zeroizing::new(String::with_capacity(text.len()));
        let mut plugin_lines = Vec::new();
        for line in text.lines() {
            match PluginIdentity::parse_line(line) {
                Some(id) => plugin_lines.push(id),
                None => {
                    rest.push_str(line);
                    rest.push('\n');
                }
            }
        }
        let mut plugins = Vec::new();
        PluginIdentity::add(&mut plugins, plugin_lines).map_err(CryptoError::Plugin)?;
        let file =
            age::IdentityFile::from_buffer(rest.as_bytes()).map_err(|_| CryptoError::NoIdentity)?;
        let ids = file
            .into_identities()
            .map_err(|_| CryptoError::NoIdentity)?;
        if ids.is_empty() && plugins.is_empty() {
            return Err(CryptoError::NoIdentity);
        }
        Ok(Identities(ids, plugins))
    }

    /// Merges several identity files' identities.
    pub fn extend(&mut self, other: Identities) {
        self.0.extend(other.0);
        PluginIdentity::merge(&mut self.1, other.1);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty() && self.1.is_empty()
    }

    /// Are some of them served by plugins (a device that is asked one
    /// thing at a time)?
    pub fn has_plugins(&self) -> bool {
        !self.1.is_empty()
    }

    /// Keys first, then plugins.
    fn iter(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.0
            .iter()
            .map(|b| b.as_ref() as &dyn age::Identity)
            .chain(self.1.iter().map(|p| p as &dyn age::Identity))
    }
}

/// Starts an age stream to `recipients` with the `age` crate's own writer,
/// writing the header to `out`; the caller must call `finish()`. The archive
/// writes with [`encrypt_all`] and [`encrypt_bytes`]; this stays as the
/// reference the benchmarks and tests compare against.
pub fn encrypt_to<W: Write>(
    recipients: &[RecipientKey],
    out: W,
) -> Result<age::stream::StreamWriter<W>, CryptoError> {
    if recipients.is_empty() {
        return Err(CryptoError::NoRecipients);
    }
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r.as_dyn()))
        .map_err(|e| CryptoError::BadRecipient(e.to_string()))?;
    Ok(enc.wrap_output(out)?)
}

/// Encrypts a small in-memory value (a metadata envelope) to `recipients`.
pub fn encrypt_bytes(recipients: &[RecipientKey], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let dyns: Vec<&dyn age::Recipient> = recipients.iter().map(RecipientKey::as_dyn).collect();
    agestream::encrypt_slice(&dyns, data).map_err(|e| write_error(e, recipients))
}

/// Why an age file to `recipients` could not be started: a mix refused by
/// labels that involves a plugin recipient is said as such.
fn write_error(e: AgeWriteError, recipients: &[RecipientKey]) -> CryptoError {
    match e {
        AgeWriteError::IncompatibleRecipients if recipients.iter().any(RecipientKey::is_plugin) => {
            CryptoError::MixedPluginRecipients
        }
        other => other.into(),
    }
}

/// The longest age header custody reads: the `age` crate parses a header in
/// time quadratic in its length (FORMAT.md §6.2), so a longer one, which a
/// partner could put in a bundle, is refused before it is parsed. custody's
/// own headers are a few KiB (a post-quantum stanza is 1.6 KiB, padding at
/// most 4 KiB); 256 KiB holds about 150 post-quantum recipients.
pub const MAX_HEADER: usize = 256 << 10;

/// Reads an age header through its MAC line (`---`, a space, the MAC),
/// refusing one longer than [`MAX_HEADER`] or one that does not end.
pub fn read_header<R: BufRead>(input: &mut R) -> Result<Vec<u8>, CryptoError> {
    let mut header = Vec::new();
    loop {
        let at = header.len();
        let room = (MAX_HEADER - at) as u64;
        let got = input.by_ref().take(room).read_until(b'\n', &mut header)?;
        if got == 0 || !header.ends_with(b"\n") {
            return Err(CryptoError::Corrupt(if header.len() >= MAX_HEADER {
                format!("its age header is longer than {} KiB", MAX_HEADER >> 10)
            } else {
                "not an age file: its header does not end".into()
            }));
        }
        if agestream::is_mac_line(&header[at..]) {
            return Ok(header);
        }
    }
}

/// A header that also gives the file key of the age file whose header is
/// `header` (read by [`read_header`]) to `added`, for a plaintext of
/// `plaintext_len` bytes (FORMAT.md §4.19): `ids` opens the file key, which
/// must carry the header's MAC; the old stanzas are kept, the new ones
/// added, the padding made again (§6.2). The payload is not touched: put
/// this header before the old file's payload nonce and chunks. The file key
/// lives only in this call (the age type zeroizes it).
pub fn add_recipients(
    ids: &Identities,
    header: &[u8],
    added: &[RecipientKey],
    plaintext_len: u64,
) -> Result<Vec<u8>, CryptoError> {
    let stanzas = agestream::parse_stanzas(header)
        .ok_or_else(|| CryptoError::Corrupt("its age header does not parse".into()))?;
    let mut found = None;
    for id in ids.iter() {
        if let Some(k) = id.unwrap_stanzas(&stanzas) {
            found = Some(k.map_err(CryptoError::from)?);
            break;
        }
    }
    use age_core::secrecy::ExposeSecret as _;
    let key = found.ok_or(CryptoError::NoMatchingKeys)?;
    if !agestream::mac_matches(header, key.expose_secret()) {
        return Err(CryptoError::Corrupt(
            "its header MAC does not match the file key".into(),
        ));
    }
    let dyns: Vec<&dyn age::Recipient> = added.iter().map(RecipientKey::as_dyn).collect();
    agestream::rewrap(stanzas, &dyns, &key, plaintext_len).map_err(|e| write_error(e, added))
}

/// An age file being decrypted: its header (read by [`read_header`]), then
/// the rest of `R`.
pub type AgeReader<R> = age::stream::StreamReader<io::Chain<io::Cursor<Vec<u8>>, R>>;

/// Opens an age stream for reading with `ids`.
pub fn decrypt_from<R: BufRead>(
    ids: &Identities,
    mut input: R,
) -> Result<AgeReader<R>, CryptoError> {
    // The header is bounded before the age crate parses it (MAX_HEADER).
    let header = read_header(&mut input)?;
    let dec = age::Decryptor::new_buffered(io::Cursor::new(header).chain(input))?;
    if dec.is_scrypt() {
        return Err(CryptoError::Corrupt(
            "passphrase-encrypted file where a recipient-encrypted one was expected".into(),
        ));
    }
    Ok(dec.decrypt(ids.iter())?)
}

/// Decrypts a small age file entirely in memory, refusing plaintexts over `limit` bytes.
pub fn decrypt_bytes(
    ids: &Identities,
    data: &[u8],
    limit: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let r = decrypt_from(ids, data)?;
    let mut out = Zeroizing::new(Vec::new());
    r.take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData {
                CryptoError::Corrupt(e.to_string())
            } else {
                CryptoError::Io(e)
            }
        })?;
    if out.len() > limit {
        return Err(CryptoError::Corrupt(format!(
            "plaintext larger than {limit} bytes"
        )));
    }
    Ok(out)
}

/// Is this an age file (binary or armored)? Used to recognise passphrase-protected key files.
pub fn looks_like_age(data: &[u8]) -> bool {
    data.starts_with(b"age-encryption.org/v1\n")
        || data.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// The scrypt work factor custody protects key files with: what `age -p` writes.
pub const SCRYPT_WORK_FACTOR: u8 = 18;

/// Protects a secret (a key file) with an age scrypt passphrase, ASCII-armored.
/// `work_factor` overrides [`SCRYPT_WORK_FACTOR`] (tests use a small one); it
/// may not exceed [`MAX_SCRYPT_WORK_FACTOR`], which custody would refuse to open.
pub fn passphrase_encrypt(
    secret: &[u8],
    passphrase: SecretString,
    work_factor: Option<u8>,
) -> Result<Vec<u8>, CryptoError> {
    let wf = work_factor.unwrap_or(SCRYPT_WORK_FACTOR);
    if wf > MAX_SCRYPT_WORK_FACTOR {
        return Err(CryptoError::Corrupt(format!(
            "scrypt work factor {wf} is above {MAX_SCRYPT_WORK_FACTOR}, which custody would refuse to open"
        )));
    }
    let mut r = age::scrypt::Recipient::new(passphrase);
    r.set_work_factor(wf);
    let enc = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient))
        .map_err(|e| CryptoError::Corrupt(e.to_string()))?;
    let armor = age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)?;
    let mut w = enc.wrap_output(armor)?;
    w.write_all(secret)?;
    Ok(w.finish()?.finish()?)
}

/// The largest scrypt work factor (log2 N) of a passphrase-protected key
/// file custody opens: 2^20 takes 1 GiB of memory and a few seconds. `age -p`
/// writes 18; a file asking for more is refused before any work (FORMAT.md §3.5).
pub const MAX_SCRYPT_WORK_FACTOR: u8 = 20;

/// The scrypt work factor a passphrase-protected age file asks for (its
/// `-> scrypt SALT LOG2N` stanza), read from the header alone; `None` if the
/// file has no such stanza; `Some(Err(()))` if the factor is not canonical
/// decimal of at most 255 (refused as if it asked for too much).
pub fn scrypt_work_factor(data: &[u8]) -> Option<Result<u8, ()>> {
    let mut head = Vec::new();
    age::armor::ArmoredReader::new(data)
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().find(|l| l.starts_with("-> scrypt "))?;
    let field = line.split(' ').nth(3)?;
    // Canonical decimal, as the age format requires; anything else is
    // refused as if it asked for too much.
    match field.parse::<u8>() {
        Ok(n) if n.to_string() == field => Some(Ok(n)),
        _ => Some(Err(())),
    }
}

/// Opens a passphrase-protected key file written by [`passphrase_encrypt`] (or `age -p -a`).
pub fn passphrase_decrypt(
    data: &[u8],
    passphrase: SecretString,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let armor = age::armor::ArmoredReader::new(data);
    let dec = age::Decryptor::new(armor)?;
    if !dec.is_scrypt() {
        return Err(CryptoError::Corrupt(
            "key file is age-encrypted to a recipient, not to a passphrase".into(),
        ));
    }
    let mut id = age::scrypt::Identity::new(passphrase);
    id.set_max_work_factor(MAX_SCRYPT_WORK_FACTOR);
    let mut r = dec
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .map_err(|e| match e {
            age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                CryptoError::BadPassphrase
            }
            other => CryptoError::from(other),
        })?;
    let mut out = Zeroizing::new(Vec::new());
    r.by_ref()
        .take(1 << 20)
        .read_to_end(&mut out)
        .map_err(|_| CryptoError::BadPassphrase)?;
    Ok(out)
}

/// Result of streaming a plaintext through the encryptor.
pub struct Encrypted<W> {
    /// The output, after the final age chunk is written and `flush()` called.
    pub out: W,
    /// SHA-256 of the plaintext.
    pub sha256: Digest,
    /// Plaintext length.
    pub len: u64,
}

/// Inputs larger than this (by their size hint) use the two-thread pipeline;
/// smaller ones are hashed and encrypted on the calling thread, where ingest
/// already runs several files at once.
const PIPELINE_THRESHOLD: u64 = 4 << 20;

/// Reads `input` once, hashing the plaintext and writing it to `out` as a
/// complete age file to `recipients` (custody's own encryptor, FORMAT.md §6);
/// the final chunk is always written. `size` is the plaintext's length: the
/// header pads the file to its Padmé length for it (§6.2), and it picks the
/// two-thread pipeline for large inputs and sizes the buffer of small ones.
/// An input of another length still makes a valid age file, not padded to
/// its bucket: callers that must not write one compare [`Encrypted::len`].
/// `progress` is called with the number of plaintext bytes written.
/// A read error comes back as `CryptoError::Io` with its kind intact.
pub fn encrypt_all<R, W>(
    input: R,
    recipients: &[RecipientKey],
    out: W,
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Encrypted<W>, CryptoError>
where
    R: Read + Send,
    W: Write + Send,
{
    let dyns: Vec<&dyn age::Recipient> = recipients.iter().map(RecipientKey::as_dyn).collect();
    let file = agestream::start(&dyns, size).map_err(|e| write_error(e, recipients))?;
    // (available_parallelism reads cgroup files: asked only for large inputs.)
    let parallel = size > PIPELINE_THRESHOLD
        && std::thread::available_parallelism().is_ok_and(|n| n.get() > 1);
    let (out, sha256, len) = if parallel {
        encrypt_pipeline::encrypt_parallel(input, &file.sealer, &file.preamble, out, progress)?
    } else {
        encrypt_pipeline::encrypt_serial(input, &file.sealer, &file.preamble, out, size, progress)?
    };
    Ok(Encrypted { out, sha256, len })
}

/// Streams an age file's plaintext from `input` to `out`, returning its SHA-256 and length.
/// `out` receives plaintext before the final chunk is authenticated: write it to
/// a temporary file and keep it only if this returns `Ok` (FORMAT.md §6).
pub fn decrypt_all<R: BufRead, W: Write>(
    ids: &Identities,
    input: R,
    mut out: W,
    progress: &mut dyn FnMut(u64),
) -> Result<(W, Digest, u64), CryptoError> {
    let mut r = decrypt_from(ids, input)?;
    let mut h = Sha256::new();
    let mut len = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return Err(CryptoError::Corrupt(e.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        len += n as u64;
        progress(n as u64);
    }
    Ok((out, Digest(h.finalize().into()), len))
}

#[cfg(test)]
#[allow(deprecated)] // classic X25519 keys: the format custody still writes for them
mod tests {
    use super::*;

    fn keypair() -> (Identities, RecipientKey) {
        let id = age::x25519::Identity::generate();
        let r = RecipientKey::parse(&id.to_public().to_string()).unwrap();
        (Identities(vec![Box::new(id)], Vec::new()), r)
    }

    fn pq_keypair() -> (Identities, RecipientKey) {
        let id = age::pq::Identity::generate();
        let r = RecipientKey::parse(&id.to_public().to_string()).unwrap();
        (Identities(vec![Box::new(id)], Vec::new()), r)
    }

    /// FORMAT.md §4.19: the new header opens the same payload for the old
    /// recipients and the added one; the wrong identity, a damaged MAC and a
    /// recipient of the other family are refused.
    #[test]
    fn add_recipients_gives_the_same_payload_a_new_header() {
        for size in [0usize, 5, 65536, 200_000] {
            let (ids, r) = keypair();
            let data: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
            let file = encrypt_bytes(std::slice::from_ref(&r), &data).unwrap();
            let header = read_header(&mut &file[..]).unwrap();
            let (bo, bo_r) = keypair();
            let h2 = add_recipients(&ids, &header, &[bo_r], size as u64).unwrap();
            let mut file2 = h2.clone();
            file2.extend_from_slice(&file[header.len()..]);
            assert_eq!(*decrypt_bytes(&bo, &file2, 1 << 20).unwrap(), data);
            assert_eq!(*decrypt_bytes(&ids, &file2, 1 << 20).unwrap(), data);
            let len = file2.len() as u64;
            assert_eq!(crate::core::padding::bucket(len), len, "padded again");
            // Not the identity of the file: nothing to unwrap.
            let (other, _) = keypair();
            let (_, x) = keypair();
            assert!(matches!(
                add_recipients(&other, &header, std::slice::from_ref(&x), size as u64),
                Err(CryptoError::NoMatchingKeys)
            ));
            // A header whose MAC was changed: the file key does not match it.
            let mut bad = header.clone();
            let at = bad.len() - 3;
            bad[at] = if bad[at] == b'A' { b'B' } else { b'A' };
            assert!(add_recipients(&ids, &bad, std::slice::from_ref(&x), size as u64).is_err());
        }
        // One family per file.
        let (ids, r) = keypair();
        let file = encrypt_bytes(std::slice::from_ref(&r), b"x").unwrap();
        let header = read_header(&mut &file[..]).unwrap();
        let (_, pq) = pq_keypair();
        assert!(matches!(
            add_recipients(&ids, &header, &[pq], 1),
            Err(CryptoError::MixedRecipients)
        ));
        let (pq_ids, pq_r) = pq_keypair();
        let file = encrypt_bytes(std::slice::from_ref(&pq_r), b"x").unwrap();
        let header = read_header(&mut &file[..]).unwrap();
        let (_, classic) = keypair();
        assert!(matches!(
            add_recipients(&pq_ids, &header, &[classic], 1),
            Err(CryptoError::MixedRecipients)
        ));
        let (pq2, pq2_r) = pq_keypair();
        let h2 = add_recipients(&pq_ids, &header, &[pq2_r], 1).unwrap();
        let mut file2 = h2;
        file2.extend_from_slice(&file[read_header(&mut &file[..]).unwrap().len()..]);
        assert_eq!(*decrypt_bytes(&pq2, &file2, 10).unwrap(), b"x");
    }

    #[test]
    fn round_trip_small_and_pipelined() {
        let (ids, r) = keypair();
        for size in [0usize, 1, 65536, (5 << 20) + 17] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let enc = encrypt_all(
                &data[..],
                std::slice::from_ref(&r),
                Vec::new(),
                size as u64,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(enc.len, size as u64);
            assert_eq!(enc.sha256, Digest::of(&data));
            let (pt, d, n) = decrypt_all(&ids, &enc.out[..], Vec::new(), &mut |_| {}).unwrap();
            assert_eq!(pt, data);
            assert_eq!((d, n), (enc.sha256, size as u64));
        }
    }

    #[test]
    fn wrong_identity_is_no_matching_keys() {
        let (_, r) = keypair();
        let (other, _) = keypair();
        let c = encrypt_bytes(&[r], b"secret").unwrap();
        assert!(matches!(
            decrypt_bytes(&other, &c, 100),
            Err(CryptoError::NoMatchingKeys)
        ));
    }

    #[test]
    fn passphrase_round_trip() {
        let c = passphrase_encrypt(b"KEY", SecretString::from("pw".to_string()), Some(2)).unwrap();
        assert!(looks_like_age(&c));
        let p = passphrase_decrypt(&c, SecretString::from("pw".to_string())).unwrap();
        assert_eq!(&p[..], b"KEY");
        assert!(matches!(
            passphrase_decrypt(&c, SecretString::from("nope".to_string())),
            Err(CryptoError::BadPassphrase)
        ));
    }

    #[test]
    fn recipients_parse_and_fingerprint() {
        let (_, r) = keypair();
        let s = r.canonical();
        let p = RecipientKey::parse(&format!("  {s}\n")).unwrap();
        assert_eq!(p.fingerprint(), r.fingerprint());
        assert!(RecipientKey::parse("age1nope").is_err());
    }
}
