//! The command line: clap definitions, shared context, dispatch, exit codes.
//!
//! Exit codes (README.md): 0 success or verified; 1 a verification finding;
//! 2 the command could not complete (usage, I/O, locked archive, wrong key …).

mod archive;
mod audit;
mod blobs;
mod compartment;
mod config;
mod events;
mod explain;
mod export;
mod find;
mod gen_archive;
mod keygen;
mod output;
mod plugin_host;
pub(crate) mod policy_args;
mod proofs;
mod records;
mod shares;
mod sharing;
mod tiles;
mod trust;
mod witness;
mod witness_serve;

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::core::crypto::Identities;
use crate::core::keys::SignerKey;
use crate::store::files::keystore::KeyLoader;
use crate::store::{Archive, StoreError};
pub use output::Out;

/// Exit code: success, or everything verified.
pub const EXIT_OK: i32 = 0;
/// Exit code: a verification found something.
pub const EXIT_FINDING: i32 = 1;
/// Exit code: the command could not complete.
pub const EXIT_ERROR: i32 = 2;

const AFTER_HELP: &str = "\
Archive discovery: -A/--archive DIR, else $CUSTODY_ARCHIVE, else the nearest
parent directory holding custody.toml (like git).

Exit codes: 0 success/verified, 1 verification finding, 2 could not complete.

Quick start (test-only keys from keys-example/):
  custody keygen --name dropsite.example/leaks -o keys/
  custody init leaks-archive --signing-key keys/signing.key --admin-key keys/admin.key \\
      --identity keys/identity.age --recipient keys/recipient.txt
  cd leaks-archive && custody ingest ~/incoming --source 'source A' --case C-1
  custody verify && custody checkpoint";

/// custody: a provenance-tracked, encrypted, transparency-logged archive of leaked documents.
///
/// Every ingested file is hashed, encrypted with age to your outlet's
/// recipients, stored by content address and recorded as a signed entry of an
/// append-only Merkle log whose checkpoints partners can verify.
#[derive(Debug, Parser)]
#[command(name = "custody", version, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Archive directory (default: $CUSTODY_ARCHIVE, else search upward from here).
    #[arg(short = 'A', long, global = true, value_name = "DIR")]
    archive: Option<PathBuf>,

    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    json: bool,

    /// Accept secret key files readable by group or others (not recommended).
    #[arg(long, global = true)]
    insecure_key_permissions: bool,

    /// Read the passphrase of protected key files from FILE (first line).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "CUSTODY_PASSPHRASE_FILE"
    )]
    passphrase_file: Option<PathBuf>,

    /// Do not show progress bars.
    #[arg(short, long, global = true)]
    quiet: bool,

    /// Your own signing key, as an actor of the archive: records you make are
    /// signed by it (default: custody.toml's `key`; the log key signs only checkpoints).
    #[arg(long, global = true, value_name = "FILE", env = "CUSTODY_KEY")]
    key: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a signing key (C2SP signed-note Ed25519) and an age identity.
    Keygen(keygen::KeygenArgs),
    /// Create a new archive.
    Init(archive::InitArgs),
    /// Ingest files or directory trees: hash, encrypt, store, sign, checkpoint.
    Ingest(archive::IngestArgs),
    /// Print the latest signed checkpoint (C2SP tlog-checkpoint), or sign one.
    Checkpoint(proofs::CheckpointArgs),
    /// Print an inclusion proof (C2SP tlog-proof) or a consistency proof.
    Prove(proofs::ProveArgs),
    /// List records (decrypting names with -i).
    Log(records::LogArgs),
    /// Show one record.
    Show(records::ShowArgs),
    /// Find documents by name, path, source, case, note, time, kind, lineage (reads only).
    Find(find::FindArgs),
    /// Summarise the archive.
    #[command(after_help = "\
Examples:
  custody status
  custody -A ~/leaks status --json")]
    Status,
    /// Decrypt a document, check it against its commitment, write it atomically.
    Extract(records::ExtractArgs),
    /// Write an evidence package anyone checks without custody (FORMAT.md §15).
    Export(export::ExportArgs),
    /// Re-check every signature, root, checkpoint and blob (no secret key needed).
    Verify(archive::VerifyArgs),
    /// Check a tlog-proof from `custody prove` offline, against a trusted log key.
    VerifyProof(proofs::VerifyProofArgs),
    /// Share a document with a partner outlet as a self-contained bundle.
    Share(sharing::ShareArgs),
    /// List what went to each partner: every share, its document, the partner's name, the note.
    Shares(shares::SharesArgs),
    /// Re-prove a bundle made here against the latest (cosigned) checkpoint.
    RefreshBundle(sharing::RefreshArgs),
    /// Verify a bundle offline: records, proofs, checkpoint, witnesses, document.
    VerifyBundle(sharing::VerifyBundleArgs),
    /// Verify a bundle and store its document here, linked to the sender's ledger.
    Receive(sharing::ReceiveArgs),
    /// Show a document's chain of custody across outlets, every hop re-verified.
    Trace(sharing::TraceArgs),
    /// Manage the archive's people: add, revoke, rotate, list actors and roles.
    Actor(events::ActorArgs),
    /// Ingest a document derived from others (translation, redaction, excerpt…).
    Derive(events::DeriveArgs),
    /// Attach a note (stored encrypted) to a document.
    Annotate(events::AnnotateArgs),
    /// Approve a document for publication (editor or legal).
    Approve(events::ApproveArgs),
    /// Give an actor access to a document.
    Grant(events::GrantArgs),
    /// Audit a document before publication: its whole custody and lineage, re-verified.
    Audit(audit::AuditArgs),
    /// Rebuild the database from the append-only ledger files.
    #[command(after_help = "\
Any command rebuilds a damaged index by itself (with a warning line); reindex
does it by hand. The ledger files are never changed (docs/FORMAT.md §7.2.5).

Examples:
  cp -a ~/leaks ~/leaks.before-reindex && custody -A ~/leaks reindex
  custody reindex --json")]
    Reindex,
    /// Show or change the archive's configuration (recipients, approvals, policies), a signed record.
    Config(config::ConfigArgs),
    /// Move an archive made before separation of duties (the log key signs records) forward, once.
    Upgrade(config::UpgradeArgs),
    /// Remove blobs and objects no record names (incl. interrupted uploads).
    Gc(blobs::GcArgs),
    /// Copy the document blobs to an object store (s3://…), verified, then switch to it.
    Migrate(blobs::MigrateArgs),
    /// Re-encrypt every blob to the recipients in force (after a revocation, a lost key, a move to post-quantum).
    Rekey(blobs::RekeyArgs),
    /// Compartments: named sets of people who alone (with the escrow) decrypt their documents.
    Compartment(compartment::CompartmentArgs),
    /// Witness partners' logs: add-log, cosign (offline), serve (C2SP tlog-witness over HTTP).
    Witness(witness::WitnessArgs),
    /// Check split-view evidence from `witness cosign` offline (exit 0 = split view shown).
    VerifyEvidence(witness::VerifyEvidenceArgs),
    /// Manage the per-user trust store of named log and witness keys.
    Trust(trust::TrustArgs),
    /// Publish the log as static C2SP tlog-tiles (records and hashes only) to a directory or s3://.
    Publish(tiles::PublishArgs),
    /// Fetch a partner's published log, verify it all, keep a verified copy under mirrors/.
    Mirror(tiles::MirrorArgs),
    /// Build a benchmark archive of N really-signed synthetic records (BENCHMARKS.md).
    #[command(hide = true)]
    GenArchive(gen_archive::GenArchiveArgs),
    /// Print shell completions (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "\
Examples:
  custody completions bash > ~/.local/share/bash-completion/completions/custody
  custody completions zsh > \"${fpath[1]}/_custody\"
  custody completions fish > ~/.config/fish/completions/custody.fish")]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// The identity of a command that uses one only to read a document's name
/// or path given as its REF.
#[derive(Debug, Args)]
pub(crate) struct RefIdentityArg {
    /// age identity file(s) that open a document's name or path given as
    /// REF (default: custody.toml's `identity`; an index needs none).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    pub(crate) identity: Vec<PathBuf>,
}

/// Shared state of one invocation.
pub(crate) struct Ctx {
    cli_archive: Option<PathBuf>,
    insecure_key_permissions: bool,
    passphrase_file: Option<PathBuf>,
    actor_key: Option<PathBuf>,
    pub(crate) out: Out,
}

impl Ctx {
    /// The archive directory (discovery like git).
    pub(crate) fn archive_dir(&self) -> Result<PathBuf, StoreError> {
        let env = std::env::var_os("CUSTODY_ARCHIVE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let cwd = std::env::current_dir().map_err(|e| StoreError::Io(".".into(), e))?;
        crate::store::archive::discover(self.cli_archive.as_deref(), env.as_deref(), &cwd)
    }

    pub(crate) fn open(&self) -> Result<Archive, StoreError> {
        let mut a = Archive::open(&self.archive_dir()?)?;
        self.note_rebuilt(&mut a);
        Ok(a)
    }

    /// Says, once, that the archive's index was rebuilt from the ledger
    /// files by this command (FORMAT.md §7.2.5).
    pub(crate) fn note_rebuilt(&self, a: &mut Archive) {
        if let Some(why) = a.take_rebuilt() {
            self.out.warn(&format!(
                "the archive's index was rebuilt from the ledger files, as `custody reindex` does ({why}); the ledger files were not changed"
            ));
        }
    }

    /// [`Archive::check_before_write`], saying so if it rebuilt the index.
    pub(crate) fn check_before_write(&self, a: &mut Archive) -> Result<(), StoreError> {
        let r = a.check_before_write();
        self.note_rebuilt(a);
        r
    }

    /// Opens the archive for a command that appends records, signed by the
    /// actor whose key is `--key`, `CUSTODY_KEY` or custody.toml's `key`
    /// (FORMAT.md §4.14: the log key signs checkpoints only). An archive of
    /// made before separation of duties (no `config` record) is read-only
    /// until `custody upgrade`.
    pub(crate) fn open_as_actor(&self) -> Result<Archive, StoreError> {
        let mut a = self.open()?;
        // The ledger verifies before anything else is read from it (FORMAT.md §4.14).
        self.check_before_write(&mut a)?;
        let Some(since) = a.configured_at()? else {
            return Err(StoreError::Input(format!(
                "{} was made before separation of duties (it has no configuration record; the log key signed its records): it stays readable and verifiable, and writing is refused until it is moved forward once with `custody upgrade --admin-key FILE` (docs/SECURITY.md, \"Separation of duties\")",
                crate::core::redact::path(a.root())
            )));
        };
        let path = match &self.actor_key {
            Some(p) => p.clone(),
            None => match &a.config().key {
                Some(p) if p.is_absolute() => p.clone(),
                Some(p) => a.root().join(p),
                None => {
                    return Err(StoreError::Input(format!(
                        "records of this archive are signed by people since record {since}: give your personal key with --key FILE (or CUSTODY_KEY)"
                    )))
                }
            },
        };
        let k = self.load_signer(&path)?;
        a.set_actor(k)?;
        Ok(a)
    }

    /// Gives the archive the identities that open its deduplication secret
    /// (FORMAT.md §7.3): `paths` (`-i`, `CUSTODY_IDENTITY`), else
    /// custody.toml's `identity`, else none.
    pub(crate) fn dedup_identities(
        &self,
        arch: &mut Archive,
        paths: &[PathBuf],
    ) -> Result<(), StoreError> {
        if let Some(ids) = self.archive_identities(arch, paths)? {
            arch.set_dedup_identities(ids);
        }
        Ok(())
    }

    /// The identities `paths` name (`-i`, `CUSTODY_IDENTITY`), else
    /// custody.toml's `identity`, else none.
    pub(crate) fn archive_identities(
        &self,
        arch: &Archive,
        paths: &[PathBuf],
    ) -> Result<Option<Identities>, StoreError> {
        let paths = if paths.is_empty() {
            match &arch.config().identity {
                Some(p) if p.is_absolute() => vec![p.clone()],
                Some(p) => vec![arch.root().join(p)],
                None => return Ok(None),
            }
        } else {
            paths.to_vec()
        };
        self.load_identities(&paths).map(Some)
    }

    /// After a write: says so when no identity opened the deduplication
    /// secret (contents were not matched against those stored before).
    pub(crate) fn dedup_note(&self, arch: &Archive) {
        // A compartment's documents are never matched (FORMAT.md §4.18).
        if arch.deduplicates() == Some(false) && arch.writing_to_compartment().is_none() {
            self.out.info(
                "note: no identity opened the archive's deduplication secret, so contents were not matched against earlier ones (give -i IDENTITY, or `identity` in custody.toml; FORMAT.md §7.3)",
            );
        }
    }

    fn ask_passphrase(&self, path: &Path) -> Result<age::secrecy::SecretString, StoreError> {
        if let Some(f) = &self.passphrase_file {
            let pass = read_passphrase_file(f)?;
            return Ok(age::secrecy::SecretString::from(pass));
        }
        output::prompt_passphrase(&format!("Passphrase for {}: ", path.display()))
            .map(age::secrecy::SecretString::from)
            .ok_or_else(|| {
                StoreError::Key(
                    path.to_path_buf(),
                    "is passphrase-protected and no terminal is available; give --passphrase-file"
                        .into(),
                )
            })
    }

    pub(crate) fn with_loader<T>(
        &self,
        f: impl FnOnce(&KeyLoader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let ask = |p: &Path| self.ask_passphrase(p);
        let loader = KeyLoader {
            insecure_permissions: self.insecure_key_permissions,
            passphrase: Some(&ask),
        };
        f(&loader)
    }

    pub(crate) fn load_signer(&self, path: &Path) -> Result<SignerKey, StoreError> {
        self.with_loader(|l| l.signer(path))
    }

    pub(crate) fn load_identities(&self, paths: &[PathBuf]) -> Result<Identities, StoreError> {
        self.with_loader(|l| l.identities(paths))
    }

    /// Identities if any `-i` was given (commands that only decrypt names).
    pub(crate) fn optional_identities(
        &self,
        paths: &[PathBuf],
    ) -> Result<Option<Identities>, StoreError> {
        if paths.is_empty() {
            return Ok(None);
        }
        self.load_identities(paths).map(Some)
    }

    /// Resolves a REF ([`Archive::resolve_with`]): a record index, a hex
    /// digest prefix, or a document's name or path, read with `ids`, else
    /// (for a name or path only, so that nothing else asks for a
    /// passphrase) with those `paths` name or custody.toml's `identity`.
    /// Says when documents the identity does not open were not searched.
    pub(crate) fn resolve(
        &self,
        arch: &Archive,
        r: &str,
        ids: Option<&Identities>,
        paths: &[PathBuf],
    ) -> Result<u64, StoreError> {
        use crate::core::find::RefForm;
        let loaded;
        let ids = match (ids, RefForm::of(r)) {
            (Some(ids), _) => Some(ids),
            (None, RefForm::Index | RefForm::Digest) => None,
            (None, RefForm::Name(_) | RefForm::Path(_)) => {
                loaded = self.archive_identities(arch, paths)?;
                loaded.as_ref()
            }
        };
        let found = arch.resolve_with(r, ids)?;
        if found.unreadable > 0 {
            let n = found.unreadable;
            self.out.warn(&format!(
                "{n} {} not readable with this identity {} not searched for {}: give the record index if you meant one of them",
                if n == 1 { "document" } else { "documents" },
                if n == 1 { "was" } else { "were" },
                crate::core::redact::quote(r)
            ));
        }
        Ok(found.index)
    }

    /// The signing key for an archive: the flag, $CUSTODY_SIGNING_KEY, or the config.
    /// The log's signing key for a command that writes. Records an interrupted
    /// command appended but left without a checkpoint (a kill between its last
    /// record and its checkpoint) are covered first, so that re-running a
    /// command finishes what the interrupted one started even when the
    /// re-run itself is refused as already done.
    pub(crate) fn archive_signer(
        &self,
        a: &mut Archive,
        flag: Option<&Path>,
    ) -> Result<SignerKey, StoreError> {
        let path =
            match flag {
                Some(p) => p.to_path_buf(),
                None => match std::env::var_os("CUSTODY_SIGNING_KEY").filter(|v| !v.is_empty()) {
                    Some(p) => PathBuf::from(p),
                    None => match &a.config().signing_key {
                        Some(p) if p.is_absolute() => p.clone(),
                        Some(p) => a.root().join(p),
                        None => return Err(StoreError::Input(
                            "no signing key: give --signing-key FILE or set CUSTODY_SIGNING_KEY"
                                .into(),
                        )),
                    },
                },
            };
        let k = self.load_signer(&path)?;
        a.check_signer(&k)?;
        // Never sign what was not checked (FORMAT.md §4.14): the ledger must
        // verify, records an interrupted command left uncovered included.
        self.check_before_write(a)?;
        if let Some(cp) = a.cover_interrupted(&k)? {
            self.out.info(&format!(
                "signed a checkpoint at size {} covering records an interrupted command left uncovered",
                cp.size
            ));
        }
        Ok(k)
    }
}

/// Largest `--passphrase-file` read (FORMAT.md §6: one line is used).
const MAX_PASSPHRASE_FILE: u64 = 64 * 1024;

/// The first line of a `--passphrase-file` (a file or a pipe such as
/// `<(pass show …)`), read with a cap into a buffer wiped on drop.
pub(crate) fn read_passphrase_file(f: &Path) -> Result<String, StoreError> {
    let bytes =
        crate::store::files::input::read_secret_input(f, MAX_PASSPHRASE_FILE, "a passphrase file")?;
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        StoreError::Input(format!(
            "{} is not UTF-8 text; give a file whose first line is the passphrase",
            crate::core::redact::path(f)
        ))
    })?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_ERROR } else { EXIT_OK };
            // clap quotes arguments it did not expect: never a secret key,
            // nor in an error (which quotes only what was typed) a seed.
            let text = e.render().to_string();
            let clean = if e.use_stderr() {
                crate::core::redact::redact_typed(&text)
            } else {
                crate::core::redact::redact_message(&text)
            };
            match clean {
                std::borrow::Cow::Borrowed(_) => {
                    let _ = e.print();
                }
                // Help and version go to stdout, as clap prints them.
                std::borrow::Cow::Owned(clean) if e.use_stderr() => eprint!("{clean}"),
                std::borrow::Cow::Owned(clean) => print!("{clean}"),
            }
            return code;
        }
    };
    let out = Out::new(cli.json, cli.quiet);
    // age plugins (hardware identities) answer through this terminal, under
    // the deadline CUSTODY_PLUGIN_TIMEOUT sets.
    if let Err(e) = plugin_host::install() {
        out.error(&explain::explain(&e));
        return EXIT_ERROR;
    }
    let ctx = Ctx {
        cli_archive: cli.archive,
        insecure_key_permissions: cli.insecure_key_permissions,
        passphrase_file: cli.passphrase_file,
        actor_key: cli.key,
        out,
    };
    // Commands that only read the archive: one whose index turns out to be
    // wrong while it reads (a damaged `ledger/index` entry) rebuilds it from
    // the ledger files, and runs again if it printed nothing yet; else the
    // error stands and the next run finds the index rebuilt (FORMAT.md §7.2.5).
    let reads_only = matches!(
        cli.command,
        Command::Log(_)
            | Command::Show(_)
            | Command::Find(_)
            | Command::Status
            | Command::Trace(_)
            | Command::Shares(_)
    );
    let mut r = dispatch(&ctx, cli.command);
    if let Err(e) = &r {
        if reads_only && e.is_index_damage() {
            let why = e.to_string();
            let why_again = why.clone();
            r = ctx
                .open()
                .and_then(|mut a| {
                    a.rebuild_index(why)?;
                    ctx.note_rebuilt(&mut a);
                    Ok(())
                })
                .and_then(|()| match Cli::try_parse() {
                    Ok(again) if !ctx.out.printed() => dispatch(&ctx, again.command),
                    Ok(_) => Err(StoreError::RunAgain(why_again)),
                    Err(e) => Err(StoreError::Internal(e.to_string())),
                });
        }
    }
    match r {
        Ok(code) => code,
        Err(e) => {
            ctx.out.error(&explain::explain(&e));
            match e {
                StoreError::Refused(_)
                | StoreError::RolledBack { .. }
                | StoreError::OtherHistory { .. } => EXIT_FINDING,
                _ => EXIT_ERROR,
            }
        }
    }
}

/// Runs one command.
fn dispatch(ctx: &Ctx, command: Command) -> Result<i32, StoreError> {
    match command {
        Command::Keygen(a) => keygen::run(ctx, a),
        Command::Init(a) => archive::init(ctx, a),
        Command::Ingest(a) => archive::ingest(ctx, a),
        Command::Checkpoint(a) => proofs::checkpoint(ctx, a),
        Command::Prove(a) => proofs::prove(ctx, a),
        Command::Log(a) => records::log(ctx, a),
        Command::Show(a) => records::show(ctx, a),
        Command::Find(a) => find::find(ctx, a),
        Command::Status => archive::status(ctx),
        Command::Extract(a) => records::extract(ctx, a),
        Command::Export(a) => export::export(ctx, a),
        Command::Verify(a) => archive::verify(ctx, a),
        Command::VerifyProof(a) => proofs::verify_proof(ctx, a),
        Command::Share(a) => sharing::share(ctx, a),
        Command::Shares(a) => shares::shares(ctx, a),
        Command::RefreshBundle(a) => sharing::refresh(ctx, a),
        Command::VerifyBundle(a) => sharing::verify_bundle(ctx, a),
        Command::Receive(a) => sharing::receive(ctx, a),
        Command::Trace(a) => sharing::trace(ctx, a),
        Command::Actor(a) => events::actor(ctx, a),
        Command::Derive(a) => events::derive(ctx, a),
        Command::Annotate(a) => events::annotate(ctx, a),
        Command::Approve(a) => events::approve(ctx, a),
        Command::Grant(a) => events::grant(ctx, a),
        Command::Audit(a) => audit::audit(ctx, a),
        Command::Reindex => archive::reindex(ctx),
        Command::Config(a) => config::config(ctx, a),
        Command::Upgrade(a) => config::upgrade(ctx, a),
        Command::Gc(a) => blobs::gc(ctx, a),
        Command::Rekey(a) => blobs::rekey(ctx, a),
        Command::Compartment(a) => compartment::compartment(ctx, a),
        Command::Migrate(a) => blobs::migrate(ctx, a),
        Command::Witness(a) => witness::run(ctx, a),
        Command::VerifyEvidence(a) => witness::verify_evidence(ctx, a),
        Command::Trust(a) => trust::run(ctx, a),
        Command::Publish(a) => tiles::publish(ctx, a),
        Command::Mirror(a) => tiles::mirror(ctx, a),
        Command::GenArchive(a) => gen_archive::run(ctx, a),
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "custody", &mut buf);
            ctx.out.raw(&buf);
            Ok(EXIT_OK)
        }
    }
}
