//! Explained errors: what went wrong, in one line, and what to do next.

use crate::store::StoreError;

/// One line: the error and the next step.
pub fn explain(e: &StoreError) -> String {
    if let Some(line) = secret_key_given(e) {
        return line;
    }
    let hint = hint(e);
    // One line whatever the error's own text holds (an age or parser
    // message may span several).
    let what = e.to_string();
    let what: Vec<&str> = what
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    format!("{}; {hint}", what.join(" "))
}

/// The line for a secret key given where a file name was expected: names
/// only its kind, never the "path".
fn secret_key_given(e: &StoreError) -> Option<String> {
    if let StoreError::Io(p, _) | StoreError::Key(p, _) = e {
        if let Some(k) = crate::core::redact::secret_kind(&p.to_string_lossy()) {
            return Some(format!(
                "a secret key ({k}) was given where a file name was expected; give the path of the key file instead, and clear the key from your shell history"
            ));
        }
    }
    None
}

/// The next step for an error: what to do about it.
fn hint(e: &StoreError) -> String {
    match e {
        StoreError::NotAnArchive(_) => {
            "run inside an archive, pass -A DIR, set CUSTODY_ARCHIVE, or create one with `custody init`"
                .to_string()
        }
        StoreError::AlreadyExists(_) => "choose another directory; nothing was changed".into(),
        StoreError::UnknownFormat { .. } => {
            "upgrade custody to a version that reads this archive; nothing was changed".into()
        }
        StoreError::Locked { .. } => "try again when it finishes".into(),
        StoreError::Config(..) => "fix or restore custody.toml from a backup".into(),
        StoreError::TrustStore(..) => {
            "fix it (docs/FORMAT.md §11.5) or restore it from a backup; moved aside, it is an empty trust store that `custody trust add` fills again (CUSTODY_TRUST_STORE names another file)".into()
        }
        StoreError::Database(_) => "check disk space and permissions, then retry".into(),
        StoreError::DatabaseCorrupt(_) => {
            "the ledger files are intact evidence: run `custody reindex` to rebuild the database from them"
                .into()
        }
        StoreError::OldDatabaseLayout { .. } => {
            "run `custody reindex` once to rebuild it from the ledger files (they are not changed)"
                .into()
        }
        StoreError::IndexDamaged(_) => {
            "they are derived from the ledger files: `custody reindex` rebuilds them (`custody verify` lists what differs)"
                .into()
        }
        StoreError::NotVerified { config: true, .. } => {
            "restore custody.toml (`custody config show` says what the ledger holds) or change the configuration with `custody config set`; nothing was written".into()
        }
        StoreError::NotVerified { config: false, .. } => {
            "run `custody verify` for the report, then `custody reindex` (index damage) or restore the archive from a copy; nothing was written".into()
        }
        StoreError::Corrupt(_) => {
            "run `custody verify` for a full report; restore the archive from a backup if evidence is damaged"
                .into()
        }
        StoreError::RolledBack { .. } => {
            "the archive was rolled back or copied incomplete: restore the whole archive from a backup (`custody verify --since-checkpoint FILE` with a checkpoint kept elsewhere shows what is missing); nothing was changed".into()
        }
        StoreError::OtherHistory { .. } => {
            "restore the archive's own ledger files from a backup (`custody verify --since-checkpoint FILE` with a checkpoint kept elsewhere tells which history is the log's); nothing was changed".into()
        }
        StoreError::RunAgain(_) => "run the same command again".into(),
        StoreError::NotFound(_) => "list records with `custody log`".into(),
        StoreError::NotADocument { .. } => {
            "give a document's record (its ingest, receive or derive record, or any record about it; see `custody log`); nothing was changed".into()
        }
        StoreError::Ambiguous { .. } => {
            "give more hex digits or the record index (see `custody log`)".into()
        }
        StoreError::NeedsIdentity(_)
        | StoreError::AmbiguousName { .. }
        | StoreError::NoSuchName { .. } => name_hint(e),
        StoreError::NoCheckpoint(_) => {
            "list checkpointed sizes with `custody checkpoint --all`".into()
        }
        StoreError::Io(p, err) => io_hint(p, err),
        StoreError::Key(..) => {
            "give the right key file (see `custody keygen`, keys-example/README.md)".into()
        }
        StoreError::KeyPermissions { path, .. } => format!(
            "run `chmod 600 {}` (or pass --insecure-key-permissions)",
            crate::core::redact::path(path)
        ),
        StoreError::NoIdentity => "give an age identity with -i FILE".into(),
        StoreError::WrongSigningKey { .. } => {
            "use the log key this archive was created with (custody.toml: log_key)".into()
        }
        StoreError::Decrypt { source, what } => decrypt_hint(source, what),
        StoreError::Crypto(crate::core::crypto::CryptoError::Plugin(f)) => f.next_step(),
        StoreError::Crypto(_) => "check the key or recipient given".into(),
        StoreError::SymlinkLoop { .. } => {
            "remove the loop, or ingest without --follow-symlinks".into()
        }
        StoreError::Input(_) => "see `custody help` for usage".into(),
        StoreError::InputFile { hint, .. } => hint.clone(),
        StoreError::ContentMismatch(_) => {
            "the archive may have been tampered with: run `custody verify --deep`".into()
        }
        StoreError::OutputExists(_) => "choose another output path or pass --force".into(),
        StoreError::Bundle(_) => {
            "ask the sender for the bundle again (custody share); nothing was changed".into()
        }
        StoreError::Refused(_) => "nothing was changed".into(),
        StoreError::NotAuthorized(_) => {
            "sign with the key of an actor whose role may do this (`custody actor list`; --key FILE or CUSTODY_KEY); nothing was written".into()
        }
        StoreError::Policy(_) => {
            "fix the policy (C2SP tlog-policy: log, witness, group, quorum lines) or the --witness/--quorum values".into()
        }
        StoreError::Remote(r) => remote_hint(r),
        _ => "please report this as a bug".into(),
    }
}

/// The next step for a document named by its name or path.
fn name_hint(e: &StoreError) -> String {
    match e {
        StoreError::NeedsIdentity(_) => {
            "give an age identity with -i FILE (or CUSTODY_IDENTITY, or `identity` in custody.toml); a record's index or hex digest prefix needs none (`custody log`)".into()
        }
        StoreError::AmbiguousName { by_path: false, .. } => {
            "give the index or the path (path:PATH; `custody find --name NAME` lists them)".into()
        }
        StoreError::AmbiguousName { by_path: true, .. } => {
            "give the record index (`custody find --path PATH` lists them)".into()
        }
        _ => "`custody find --name GLOB -I` lists documents by name (`--path GLOB` by path), or give the record index or a hex digest prefix (`custody log -i IDENTITY`); a name made of hex digits is name:NAME".into(),
    }
}

/// The next step for an I/O error on path `p`.
fn io_hint(p: &std::path::Path, err: &std::io::Error) -> String {
    match err.kind() {
        // ENOSPC, EDQUOT: nothing is recorded for what failed, and what
        // was reported before is durable.
        _ if matches!(err.raw_os_error(), Some(28 | 122)) => format!(
            "the disk holding {} is full: free space there, then run the same command again (what was already reported done is stored; the rest is not)",
            crate::core::redact::path(p)
        ),
        // EIO: the disk (or its file system) failed under this file.
        _ if err.raw_os_error() == Some(5) => format!(
            "a disk error at {}: check that disk (`dmesg`), then run the same command again (what was already reported done is stored; the rest is not)",
            crate::core::redact::path(p)
        ),
        std::io::ErrorKind::NotFound => format!("check that {} exists", crate::core::redact::path(p)),
        std::io::ErrorKind::PermissionDenied => {
            format!("check the permissions of {}", crate::core::redact::path(p))
        }
        _ => "check the path and free disk space, then retry".into(),
    }
}

/// The next step for a failed decryption of `what`.
fn decrypt_hint(source: &crate::core::crypto::CryptoError, what: &str) -> String {
    match source {
        crate::core::crypto::CryptoError::Plugin(f) => f.next_step(),
        crate::core::crypto::CryptoError::NoMatchingKeys if what.contains("bundle") => {
            "this bundle was encrypted to someone else: give the identity whose recipient you sent the sender (-i, or CUSTODY_IDENTITY), or ask for a bundle made `--to` your recipient (`verify-bundle` without an identity checks all but the document); nothing was stored".into()
        }
        crate::core::crypto::CryptoError::NoMatchingKeys => {
            "use an identity of one of the archive's recipients (custody status lists them)".into()
        }
        _ => "run `custody verify --deep` to check the archive".into(),
    }
}

/// The next step for a failed request to a remote store.
fn remote_hint(r: &crate::store::files::remote::RemoteError) -> String {
    use crate::store::files::remote::RemoteFailure as F;
    match r.failure {
        F::Unauthenticated => "check the credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) must name a key the store accepts; nothing was changed".into(),
        F::Denied => "the store refused this key: allow it on the bucket (Garage: `garage bucket allow --read --write`); nothing was changed".into(),
        F::NotFound => "check the bucket and prefix (and AWS_ENDPOINT_URL or the archive's [blobs] endpoint)".into(),
        F::TooLarge => "this is not what it claims to be; nothing was stored".into(),
        F::Unsupported => "rebuild custody with the `object-store` feature (on by default: `cargo install --locked --path .` without --no-default-features), or use a directory; nothing was changed".into(),
        _ => "check the network and the endpoint (AWS_ENDPOINT_URL or the archive's [blobs] endpoint), then run the same command again".into(),
    }
}
