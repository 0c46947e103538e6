//! `init`, `ingest`, `status`, `verify`, `reindex`.

use std::path::PathBuf;

use clap::Args;
use indicatif::ProgressBar;
use serde::Serialize;

use super::output::Paint;
use super::{Ctx, EXIT_FINDING, EXIT_OK};
use crate::core::crypto::RecipientKey;
use crate::core::findings::Report;
use crate::core::redact;
use crate::store::archive::InitAdmin;
use crate::store::files::input::read_input;
use crate::store::files::walk::{self, InputFile};
use crate::store::ops::ingest::{AlreadyRecorded, IngestObserver, IngestOptions, Ingested};
use crate::store::ops::verify::{VerifyObserver, VerifyOptions};
use crate::store::{io_err, Archive, StoreError};

#[derive(Debug, Args)]
#[command(after_help = "\
The log key signs checkpoints only. Records are signed by people (actors), each
with a personal key: --admin-key is the first administrator's, who signs the
archive's configuration (recipients, approvals) as record 1 after the log key
adds them as record 0. `custody keygen` writes both keys.

Example:
  custody init leaks --origin dropsite.example/leaks \\
      --signing-key keys-example/dropsite/signing.key \\
      --admin-key keys-example/dropsite/admin.key \\
      --identity keys-example/dropsite/identity.age \\
      --recipient keys-example/dropsite/recipient.txt --recipient 'ssh-ed25519 AAAA…'")]
pub struct InitArgs {
    /// Directory to create the archive in (created if missing; must not hold one).
    dir: PathBuf,
    /// Log origin, the first line of every checkpoint (default: the signing key's name).
    #[arg(long)]
    origin: Option<String>,
    /// The log's secret signing key (C2SP PRIVATE+KEY+… file, see `custody keygen`).
    #[arg(long, value_name = "FILE")]
    signing_key: PathBuf,
    /// age recipient (age1…, ssh-ed25519 …) or a file of them, one per line; repeatable.
    #[arg(
        short,
        long = "recipient",
        value_name = "RECIPIENT|FILE",
        required = true
    )]
    recipients: Vec<String>,
    /// The first administrator's personal signing key (admin.key from `custody keygen`).
    #[arg(long, value_name = "FILE")]
    admin_key: PathBuf,
    /// The first administrator's actor name.
    #[arg(long, value_name = "NAME", default_value = "admin")]
    admin_name: String,
    /// An age identity of the archive (for one of the recipients), remembered
    /// in custody.toml: writing commands open the deduplication secret with
    /// it (FORMAT.md §7.3). Without one, they store a content again rather
    /// than find it (`-i`/CUSTODY_IDENTITY on each command also work).
    #[arg(short, long = "identity", value_name = "FILE")]
    identity: Option<PathBuf>,
    /// Do not remember the signing keys' paths in custody.toml.
    #[arg(long)]
    no_remember_key: bool,
}

/// Parses `--recipient`/`--to` values (`flag` names the option in errors):
/// each is a recipient or a file of them. A secret key, given inline or in
/// a file, is refused with only its kind and the file named.
pub(crate) fn parse_recipients(
    flag: &str,
    args: &[String],
) -> Result<Vec<RecipientKey>, StoreError> {
    parse_recipients_named(flag, args).map(|(keys, _)| keys)
}

/// A partner's name written in a recipients file (FORMAT.md §5.3): the
/// comment line `# partner: NAME` (checked where it is used).
#[derive(Clone, Debug)]
pub(crate) struct NameLine {
    /// The file, as given.
    pub file: String,
    /// Its line number, from 1.
    pub line: usize,
    /// NAME as written (trimmed).
    pub name: String,
}

/// The partner's name a comment line of a recipients file gives
/// (FORMAT.md §5.3): `#`, optional blanks, `partner:`, NAME.
fn partner_comment(line: &str) -> Option<&str> {
    line.strip_prefix('#')?
        .trim_start()
        .strip_prefix("partner:")
        .map(str::trim)
}

/// [`parse_recipients`], with the partners' names the files give.
pub(crate) fn parse_recipients_named(
    flag: &str,
    args: &[String],
) -> Result<(Vec<RecipientKey>, Vec<NameLine>), StoreError> {
    const WANT: &str = "give the recipient (age1pq1…, age1…, ssh-ed25519 …) or recipient.txt";
    let mut out = Vec::new();
    let mut names = Vec::new();
    for a in args {
        if let Some(k) = redact::secret_kind(a) {
            return Err(StoreError::Input(format!(
                "{flag}: the value is a secret key ({k}), not a recipient; {WANT}"
            )));
        }
        if let Ok(r) = RecipientKey::parse(a) {
            out.push(r);
            continue;
        }
        let p = PathBuf::from(a);
        // A file, or a pipe such as `<(…)` (read within a time limit).
        if !std::fs::metadata(&p).is_ok_and(|m| !m.is_dir()) {
            return Err(StoreError::Input(format!(
                "{flag}: {} is neither an age recipient (age1…), an SSH public key, nor a readable file; {WANT}",
                redact::quote(a)
            )));
        }
        let data = read_input(&p, MAX_RECIPIENT_FILE, "a recipients file")?;
        if let Some(k) = redact::file_secret_kind(a, &data) {
            return Err(StoreError::Input(format!(
                "{flag}: {} holds a secret key ({k}), not a recipient; {WANT}",
                redact::path(&p)
            )));
        }
        let text = String::from_utf8_lossy(&data);
        let before = out.len();
        for (i, line) in text.lines().map(str::trim).enumerate() {
            if let Some(name) = partner_comment(line) {
                names.push(NameLine {
                    file: a.clone(),
                    line: i + 1,
                    name: name.to_string(),
                });
            }
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            out.push(RecipientKey::parse(line).map_err(|e| {
                StoreError::Input(format!(
                    "{flag}: {} line {}: {e}; {WANT}",
                    redact::path(&p),
                    i + 1
                ))
            })?);
        }
        if out.len() == before {
            return Err(StoreError::Input(format!(
                "{flag}: {} lists no recipients; {WANT}",
                redact::path(&p)
            )));
        }
    }
    crate::core::crypto::check_recipient_set(&out)
        .map_err(|e| StoreError::Input(format!("{flag}: {e}")))?;
    Ok((out, names))
}

/// Largest recipients file read (a recipient line is under 100 bytes;
/// an SSH RSA key about 750; FORMAT.md §5.3).
const MAX_RECIPIENT_FILE: u64 = 1 << 20;

#[derive(Serialize)]
struct InitOut<'a> {
    archive: PathBuf,
    origin: &'a str,
    log_key: &'a str,
    recipients: &'a [String],
    checkpoint: String,
}

pub fn init(ctx: &Ctx, a: InitArgs) -> Result<i32, StoreError> {
    let signer = ctx.load_signer(&a.signing_key)?;
    let recipients = parse_recipients("--recipient", &a.recipients)?;
    let origin = a.origin.unwrap_or_else(|| signer.name().to_string());
    // The origin opens every checkpoint and is printed: never a secret key.
    if let Some(k) = redact::secret_kind(&origin) {
        return Err(StoreError::Input(format!(
            "--origin: the value is a secret key ({k}); give the log's name, e.g. dropsite.example/leaks"
        )));
    }
    if redact::is_blob(&origin) || !redact::seed_spans(&origin).is_empty() {
        return Err(StoreError::Input(format!(
            "--origin: the value is a {}-character encoded value that could be a key seed; give the log's name, e.g. dropsite.example/leaks",
            origin.chars().count()
        )));
    }
    let admin = InitAdmin {
        key: ctx.load_signer(&a.admin_key)?,
        name: a.admin_name.clone(),
        path: if a.no_remember_key {
            None
        } else {
            Some(std::fs::canonicalize(&a.admin_key).map_err(|e| io_err(&a.admin_key, e))?)
        },
        identity: match &a.identity {
            Some(p) => {
                ctx.load_identities(std::slice::from_ref(p))?;
                Some(std::fs::canonicalize(p).map_err(|e| io_err(p, e))?)
            }
            None => None,
        },
    };
    if !crate::core::record::valid_actor_name(&admin.name) {
        return Err(StoreError::Input(format!(
            "--admin-name {}: an actor name is 1 to 64 of a-z 0-9 . _ -, starting with a letter or digit",
            crate::core::redact::quote(&admin.name)
        )));
    }
    let key_path = if a.no_remember_key {
        None
    } else {
        Some(std::fs::canonicalize(&a.signing_key).map_err(|e| io_err(&a.signing_key, e))?)
    };
    let (arch, cp) = Archive::init(&a.dir, &origin, &signer, &recipients, key_path, admin)?;
    let c = arch.config();
    let o = InitOut {
        archive: a.dir.clone(),
        origin: &c.origin,
        log_key: &c.log_key,
        recipients: &c.recipients,
        checkpoint: String::from_utf8_lossy(&cp.note).into_owned(),
    };
    if ctx.out.json {
        ctx.out.json(&o);
    } else {
        ctx.out
            .data_line(&format!("created archive {}", a.dir.display()));
        ctx.out.data_line(&format!("origin:     {}", o.origin));
        ctx.out.data_line(&format!("log key:    {}", o.log_key));
        for r in o.recipients {
            ctx.out.line(&format!("recipient:  {r}"));
        }
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Each file is read once: hashed (SHA-256) while it is encrypted with age into the
blob store. Records are signed and appended only after the blobs are durable;
a line is printed for a file only once its record is on disk. The command ends
with a signed checkpoint. Names, paths, notes and digests are stored only
encrypted (see docs/FORMAT.md).

Examples:
  custody ingest ~/incoming/batch-3 --source 'source A' --case C-17 --note 'USB stick, 2026-11-02'
  custody ingest /media/export/sd-export-20261201/export_data --securedrop --case C-17")]
pub struct IngestArgs {
    /// Files or directories (recursed, in sorted order).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Who or where the material came from (stored encrypted).
    #[arg(long, conflicts_with = "securedrop")]
    source: Option<String>,
    /// The files are a SecureDrop Workstation export: each lies in or is a
    /// submission named N-DESIGNATION-doc|msg|reply; its source is the
    /// journalist designation, and its note says which submission and its
    /// file time (all stored encrypted, FORMAT.md §5.2). A file not so
    /// named refuses the ingest (exit 2).
    #[arg(long)]
    securedrop: bool,
    /// Case or investigation identifier (stored encrypted).
    #[arg(long)]
    case: Option<String>,
    /// Free-text note (stored encrypted).
    #[arg(long)]
    note: Option<String>,
    /// Put the documents in a compartment (its name with -i, or #N): only
    /// its recipients (its members' and the escrow's) decrypt them
    /// (FORMAT.md §4.18).
    #[arg(long, value_name = "NAME")]
    compartment: Option<String>,
    /// Follow symbolic links (a link loop is an error).
    #[arg(long)]
    follow_symlinks: bool,
    /// Store every readable file and list those that cannot be read, with
    /// why, also recorded, encrypted, as a note about the first document
    /// stored (without it, one unreadable path refuses the whole ingest,
    /// naming every unreadable path).
    #[arg(long)]
    skip_unreadable: bool,
    /// Record files again whose path and content are already recorded
    /// (without it, such a file is reported and nothing is recorded for it;
    /// needs the identity that opens the deduplication secret).
    #[arg(long)]
    again: bool,
    /// The log's signing key (default: $CUSTODY_SIGNING_KEY, else custody.toml).
    #[arg(long, value_name = "FILE")]
    signing_key: Option<PathBuf>,
    /// age identity file(s) that open the archive's deduplication secret
    /// (default: custody.toml's `identity`); without one, a content already
    /// stored is stored again (FORMAT.md §7.3).
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
}

struct IngestUi<'a> {
    ctx: &'a Ctx,
    pb: ProgressBar,
    files_done: u64,
    files_total: u64,
}

impl IngestObserver for IngestUi<'_> {
    fn bytes(&mut self, n: u64) {
        self.pb.inc(n);
    }
    fn file_started(&mut self, f: &InputFile) {
        self.pb
            .set_message(shorten(&crate::core::redact::shown(&f.rel), 30));
    }
    fn committed(&mut self, done: &[Ingested]) {
        self.files_done += done.len() as u64;
        self.pb
            .set_prefix(format!("{}/{} files", self.files_done, self.files_total));
        self.pb.suspend(|| {
            for d in done {
                if self.ctx.out.json {
                    self.ctx.out.json(d);
                } else {
                    self.ctx.out.data_line(&format!(
                        "{:>6}  {}  {:>10}  sha256:{}…{}",
                        d.index,
                        d.path,
                        human_bytes(d.size),
                        &d.sha256.to_hex()[..16],
                        if d.deduplicated {
                            "  (content already stored)"
                        } else {
                            ""
                        }
                    ));
                }
            }
        });
    }
    fn already_recorded(&mut self, a: &AlreadyRecorded) {
        self.files_done += 1;
        self.pb.suspend(|| {
            if self.ctx.out.json {
                self.ctx.out.json(&serde_json::json!({ "already_recorded": a }));
            } else {
                self.ctx.out.data_line(&format!(
                    "     -  {}  {:>10}  sha256:{}…  already recorded with this path and content{}; not recorded again (--again records it)",
                    crate::core::redact::shown(&a.path),
                    human_bytes(a.size),
                    &a.sha256.to_hex()[..16],
                    a.record.map_or(String::new(), |r| format!(" (record {r})"))
                ));
            }
        });
    }
}

fn shorten(s: &str, n: usize) -> String {
    let c: Vec<char> = s.chars().collect();
    if c.len() <= n {
        s.to_string()
    } else {
        format!("…{}", c[c.len() - n + 1..].iter().collect::<String>())
    }
}

pub(crate) fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

/// `--securedrop`: each file's submission, from its path (FORMAT.md §5.2);
/// every file not named as one is listed in one error.
fn securedrop_provenance(files: &mut [walk::InputFile]) -> Result<(), StoreError> {
    let mut unnamed = Vec::new();
    for f in files.iter_mut() {
        let Some(s) = crate::core::securedrop::submission(&f.rel) else {
            unnamed.push(crate::core::redact::shown(&f.rel));
            continue;
        };
        let time = std::fs::metadata(&f.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or("unknown".to_string(), |d| {
                crate::core::time::rfc3339(d.as_millis() as u64)
            });
        f.provenance = Some(walk::Provenance {
            source: format!("SecureDrop: {}", s.designation),
            note: format!(
                "SecureDrop submission {} ({}) of the source designated {}; file time {time}",
                s.number, s.kind, s.designation
            ),
        });
    }
    if unnamed.is_empty() {
        return Ok(());
    }
    Err(StoreError::Input(format!(
        "{} file(s) are not named as SecureDrop submissions (N-designation-doc, -msg or -reply): {}; ingest them without --securedrop",
        unnamed.len(),
        unnamed.join(", ")
    )))
}

/// Warns of every path the walk skipped, and why.
fn warn_skipped(ctx: &Ctx, w: &walk::Walk) {
    for (p, why) in &w.unreadable {
        ctx.out.warn(&format!(
            "skipped unreadable {}: {why}",
            crate::core::redact::path(p)
        ));
    }
    for s in &w.skipped_archive {
        ctx.out.warn(&format!(
            "skipped {}: it is the archive itself",
            s.display()
        ));
    }
    for s in &w.skipped_symlinks {
        ctx.out.warn(&format!(
            "skipped symbolic link {} (use --follow-symlinks)",
            s.display()
        ));
    }
    for s in &w.skipped_special {
        ctx.out
            .warn(&format!("skipped special file {}", s.display()));
    }
}

/// What `--skip-unreadable` skipped, and why, recorded encrypted: a note
/// about the first document the ingest recorded (FORMAT.md §4.10). Its index.
fn record_skipped(
    arch: &mut crate::store::Archive,
    unreadable: &[(PathBuf, String)],
    summary: &crate::store::ops::ingest::IngestSummary,
    signer: &crate::core::keys::SignerKey,
) -> Result<Option<u64>, StoreError> {
    let (false, Some(first)) = (unreadable.is_empty(), summary.first_index) else {
        return Ok(None);
    };
    let mut text = format!(
        "custody ingest --skip-unreadable skipped {} unreadable path(s):",
        unreadable.len()
    );
    for (p, why) in unreadable {
        text.push_str(&format!("\n{}: {why}", p.display()));
    }
    Ok(Some(arch.annotate(first, &text, signer)?.body.index))
}

pub fn ingest(ctx: &Ctx, a: IngestArgs) -> Result<i32, StoreError> {
    let mut arch = ctx.open_as_actor()?;
    let signer = ctx.archive_signer(&mut arch, a.signing_key.as_deref())?;
    ctx.dedup_identities(&mut arch, &a.identity)?;
    if let Some(sel) = &a.compartment {
        let ids = ctx.archive_identities(&arch, &a.identity)?;
        let id = arch.resolve_compartment(sel, ids.as_ref())?;
        arch.use_compartment(id)?;
    }
    let mut w = walk::collect(&a.paths, a.follow_symlinks, Some(arch.root()))?;
    if !a.skip_unreadable {
        w.refuse_unreadable()?;
    }
    if a.securedrop {
        securedrop_provenance(&mut w.files)?;
    }
    warn_skipped(ctx, &w);
    let total: u64 = w.files.iter().map(|f| f.size).sum();
    let mut ui = IngestUi {
        ctx,
        pb: ctx.out.progress(total, true, "ingest"),
        files_done: 0,
        files_total: w.files.len() as u64,
    };
    let opts = IngestOptions {
        source: a.source,
        case: a.case,
        note: a.note,
        again: a.again,
        envelope_per_document: false,
    };
    let started = std::time::Instant::now();
    let r = arch.ingest(&w.files, &signer, &opts, &mut ui);
    ui.pb.finish_and_clear();
    let (mut summary, mut cp) = r?;
    ctx.dedup_note(&arch);
    let skipped_note = record_skipped(&mut arch, &w.unreadable, &summary, &signer)?;
    if let (Some(_), Some((size, note))) = (skipped_note, arch.latest_checkpoint()?) {
        cp.note = note;
        summary.tree_size = size;
    }
    let secs = started.elapsed().as_secs_f64();
    if ctx.out.json {
        let skipped: Vec<serde_json::Value> = w
            .unreadable
            .iter()
            .map(|(p, why)| serde_json::json!({ "path": p, "reason": why }))
            .collect();
        ctx.out.json(&serde_json::json!({
            "summary": summary,
            "seconds": secs,
            "checkpoint": String::from_utf8_lossy(&cp.note),
            "skipped_unreadable": skipped,
            "skipped_recorded_in": skipped_note,
        }));
    } else {
        ctx.out.line(&format!(
            "ingested {} files ({}, {} with content already stored) in {:.2}s; log size {}",
            summary.files,
            human_bytes(summary.bytes),
            summary.deduplicated,
            secs,
            summary.tree_size
        ));
        if summary.already_recorded > 0 {
            ctx.out.line(&format!(
                "{} file(s) not recorded again: their path and content already are (--again records them)",
                summary.already_recorded
            ));
        }
        if let Some(i) = skipped_note {
            ctx.out.line(&format!(
                "the {} unreadable path(s) skipped are recorded, encrypted, in note record {i}",
                w.unreadable.len()
            ));
        }
        ctx.out.line("");
        // The signed checkpoint, line by line, escaped: its origin is the
        // log key's name, which may hold direction controls or C1 controls
        // (FORMAT.md §3.2 forbids only white space, `+` and ASCII controls).
        for l in String::from_utf8_lossy(&cp.note).lines() {
            ctx.out.data_line(l);
        }
    }
    Ok(EXIT_OK)
}

pub fn status(ctx: &Ctx) -> Result<i32, StoreError> {
    let arch = ctx.open()?;
    let s = arch.status()?;
    if ctx.out.json {
        ctx.out.json(&s);
        return Ok(EXIT_OK);
    }
    ctx.out
        .data_line(&format!("archive:     {}", s.path.display()));
    ctx.out.line(&format!("format:      {}", s.format));
    ctx.out.data_line(&format!("origin:      {}", s.origin));
    ctx.out.data_line(&format!("log key:     {}", s.log_key));
    for r in &s.recipients {
        ctx.out.line(&format!("recipient:   {r}"));
    }
    ctx.out.line(&format!("created:     {}", s.created));
    ctx.out.line(&format!("records:     {}", s.records));
    ctx.out.line(&format!(
        "blobs:       {} ({})",
        s.blobs,
        human_bytes(s.blob_bytes)
    ));
    if let Some(d) = &s.document_store {
        ctx.out.data_line(&format!(
            "documents:   {d} (blobs/ holds envelopes and notes)"
        ));
    }
    ctx.out.line(&format!("checkpoints: {}", s.checkpoints));
    if let Some(c) = &s.latest_checkpoint {
        ctx.out.line("latest checkpoint:");
        for l in c.lines() {
            ctx.out.data_line(&format!("  {l}"));
        }
    }
    Ok(EXIT_OK)
}

#[derive(Debug, Args)]
#[command(after_help = "\
Checks, without any secret key: every record decodes canonically and its
signature verifies; every checkpoint's signature and root match the records;
consecutive checkpoints are consistent; the database agrees with the ledger
files; every referenced blob exists and hashes to its name; no stray blobs
(on an object store, `[blobs]` in custody.toml: every object is listed and
every document blob downloaded and hashed as it streams; --sample N checks the
contents of N random ones only).
With --deep -i IDENTITY it also decrypts every envelope and document and checks
every commitment. With --since-checkpoint FILE (a checkpoint a partner or a
witness kept) it also checks that the archive was not rolled back or forked
since: the log holds that tree and the latest checkpoint extends it.

Example:
  custody checkpoint > kept.checkpoint        # later, or at a partner:
  custody verify --since-checkpoint kept.checkpoint

Exit codes: 0 all checks hold, 1 findings (listed), 2 the check could not run.")]
pub struct VerifyArgs {
    /// Also decrypt everything and check every commitment (needs -i).
    #[arg(long, requires = "identity")]
    deep: bool,
    /// age identity file(s) for --deep.
    #[arg(
        short,
        long = "identity",
        value_name = "FILE",
        env = "CUSTODY_IDENTITY"
    )]
    identity: Vec<PathBuf>,
    /// Witness quorum the latest checkpoint's stored cosignatures must meet.
    #[command(flatten)]
    policy: super::policy_args::PolicyArgs,
    /// A checkpoint of this log saved earlier (`custody checkpoint` output, by
    /// a partner or a witness): the archive must hold its tree and extend
    /// it, else a `rollback` finding (repeatable).
    #[arg(long = "since-checkpoint", value_name = "FILE")]
    since_checkpoint: Vec<PathBuf>,
    /// Download and hash only N document blobs chosen at random (each run
    /// another choice); every blob's existence and size is still checked.
    /// --json lists the blobs checked (`report.sampled`).
    #[arg(long, value_name = "N")]
    sample: Option<u64>,
}

struct VerifyUi<'a> {
    out: &'a super::Out,
    pb: Option<ProgressBar>,
}

impl VerifyObserver for VerifyUi<'_> {
    fn phase(&mut self, name: &str, total: u64) {
        if let Some(pb) = self.pb.take() {
            pb.finish_and_clear();
        }
        self.pb = Some(self.out.progress(total, name == "blobs", name));
    }
    fn advance(&mut self, n: u64) {
        if let Some(pb) = &self.pb {
            pb.inc(n);
        }
    }
}

pub fn verify(ctx: &Ctx, a: VerifyArgs) -> Result<i32, StoreError> {
    let mut arch = Archive::open_for_scan(&ctx.archive_dir()?)?;
    ctx.note_rebuilt(&mut arch);
    // This log's own cosigning requirement (FORMAT.md §4.15), unless overridden.
    let own = arch
        .archived_policies()
        .ok()
        .flatten()
        .map(|(i, _, o)| (i, o));
    let policy = ctx.policy_or_archived(&a.policy, own, "own")?;
    let ids = if a.deep {
        Some(ctx.load_identities(&a.identity)?)
    } else {
        None
    };
    let mut ui = VerifyUi {
        out: &ctx.out,
        pb: None,
    };
    let mut since = Vec::new();
    for p in &a.since_checkpoint {
        // At most a checkpoint file's size (FORMAT.md §7.6), a pipe too.
        let max = crate::store::files::latest_checkpoint::MAX_CHECKPOINT_FILE;
        let bytes = read_input(p, max, "a checkpoint note")?;
        since.push(arch.open_since_checkpoint(&bytes, &redact::path(p))?);
    }
    let opts = VerifyOptions {
        deep: ids.as_ref(),
        since: &since,
        sample: a.sample,
        ledger_only: false,
        trust_signatures_below: 0,
    };
    let mut rep = arch.verify(&opts, &mut ui)?;
    // Witness cosignatures: every stored one whose key we know must verify,
    // and with a policy the latest checkpoint must meet its quorum.
    let mut witnesses = ctx.trust_store()?.witness_keys();
    if let Some(p) = &policy {
        witnesses.extend(p.witness_keys());
    }
    arch.check_cosignatures(&witnesses, policy.as_ref(), &mut rep)?;
    if let Some(pb) = ui.pb.take() {
        pb.finish_and_clear();
    }
    print_report(ctx, &rep);
    Ok(if rep.ok() { EXIT_OK } else { EXIT_FINDING })
}

/// One line per finding: `FAIL <subject>: <check>: <reason>` (subject and
/// reason may quote names: escaped).
pub(crate) fn print_findings(ctx: &Ctx, findings: &[crate::core::findings::Finding]) {
    use crate::core::redact::shown;
    for f in findings {
        ctx.out.line(&format!(
            "{} {}: {}: {}",
            ctx.out.paint("FAIL", Paint::Bad),
            shown(&f.subject.to_string()),
            f.check.as_str(),
            shown(&f.reason)
        ));
    }
}

fn print_report(ctx: &Ctx, rep: &Report) {
    if ctx.out.json {
        ctx.out
            .json(&serde_json::json!({ "ok": rep.ok(), "report": rep }));
        return;
    }
    print_findings(ctx, &rep.findings);
    let c = &rep.coverage;
    let what = format!(
        "{} records, {} checkpoints, {} blobs ({}){}",
        c.records,
        c.checkpoints,
        c.blobs,
        human_bytes(c.blob_bytes),
        if rep.deep {
            format!(", {} documents decrypted", c.decrypted)
        } else {
            String::new()
        }
    ) + &rep
        .sampled
        .as_ref()
        .map(|s| format!(", contents of {} sampled document blob(s) checked", s.len()))
        .unwrap_or_default();
    if rep.ok() {
        ctx.out
            .line(&format!("{} {what}", ctx.out.paint("verified:", Paint::Ok)));
    } else {
        ctx.out.line(&format!(
            "{} {} finding(s) in {what}",
            ctx.out.paint("NOT VERIFIED:", Paint::Bad),
            rep.findings.len()
        ));
    }
}

pub fn reindex(ctx: &Ctx) -> Result<i32, StoreError> {
    let dir = ctx.archive_dir()?;
    let r = Archive::reindex(&dir)?;
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        ctx.out.line(&format!(
            "rebuilt the index from the ledger files: {} records, {} checkpoints, root {}",
            r.records, r.checkpoints, r.root
        ));
        if r.dedup_kept {
            ctx.out
                .info("the deduplication index was rebuilt from ledger/dedup (or kept from the previous database)");
        } else {
            ctx.out.info(
                "the deduplication index starts empty: content ingested again will be stored again",
            );
        }
    }
    Ok(EXIT_OK)
}
