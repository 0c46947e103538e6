//! `custody keygen`: a C2SP signing key and an age identity, secret halves 0600.

use std::path::{Path, PathBuf};

use age::secrecy::{ExposeSecret, SecretString};
use clap::Args;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{Ctx, EXIT_OK};
use crate::core::crypto;
use crate::core::keys::SignerKey;
use crate::store::files::keystore::write_secret_file;
use crate::store::{io_err, StoreError};

#[derive(Debug, Args)]
#[command(after_help = "\
Writes into DIR (created if missing; existing files are never overwritten):
  signing.key    secret C2SP signed-note key (PRIVATE+KEY+…), mode 0600
  signing.vkey   public verifier key (name+keyid+base64), give it to partners
  identity.age   secret age identity, mode 0600: post-quantum (AGE-SECRET-KEY-PQ-1…,
                 read by age 1.3 and later, the age crate 0.13 and later), or with
                 --x25519 a classic one (AGE-SECRET-KEY-1…, read by every age)
  recipient.txt  public age recipient (age1pq1…, or age1… with --x25519): use it
                 with `custody init --recipient`
  witness.key    secret witness key (PRIVATE+KEY+…, a distinct Ed25519 key), mode 0600
  witness.vkey   public cosigner key (alg 0x04), give it to the logs you witness
  admin.key      secret personal key of the archive's first administrator
                 (PRIVATE+KEY+…, a distinct Ed25519 key), mode 0600: `init --admin-key`
  admin.vkey     its verifier key
The log key (signing.key) signs checkpoints only; records are signed by
people's personal keys. A journalist's own key: keygen --name
dropsite.example/alice, then give signing.vkey to an admin for `actor add`.

Example:
  custody keygen --name dropsite.example/leaks -o ~/.custody/keys
  custody keygen --name guardian.example/alice -o keys --passphrase
  custody keygen --name guardian.example/bob -o keys --passphrase-file pass.txt
    (--passphrase-file, or CUSTODY_PASSPHRASE_FILE, implies --passphrase: the
    keys are protected with the file's first line, never written unprotected)")]
pub struct KeygenArgs {
    /// Key name, a schema-less URL such as dropsite.example/leaks (no spaces or '+').
    #[arg(long)]
    name: String,
    /// Name of the witness key (default: the host part of --name + "/witness").
    #[arg(long)]
    witness_name: Option<String>,
    /// Name of the administrator's personal key (default: the host part of --name + "/admin").
    #[arg(long)]
    admin_name: Option<String>,
    /// Directory to write the key files into.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Protect the secret files with an age passphrase (asked twice). Implied by
    /// --passphrase-file FILE (or CUSTODY_PASSPHRASE_FILE): a passphrase given is
    /// never ignored, so keys are not written unprotected by mistake.
    #[arg(long)]
    passphrase: bool,
    /// Make a classic X25519 age identity (AGE-SECRET-KEY-1…, recipient age1…)
    /// instead of a post-quantum one: only for an archive or partner whose
    /// other keys are classic, or whose age is older than 1.3 (age 1.1 and 1.2
    /// cannot decrypt post-quantum files). One file is never encrypted to both kinds.
    #[arg(long)]
    x25519: bool,
    /// scrypt work factor (log2 N) for --passphrase; default 18, as `age -p`; at most 20.
    #[arg(long, hide = true, value_parser = clap::value_parser!(u8).range(1..=20))]
    scrypt_work_factor: Option<u8>,
}

#[derive(Serialize)]
struct KeygenOut {
    name: String,
    vkey: String,
    recipient: String,
    signing_key: PathBuf,
    identity: PathBuf,
    witness_vkey: String,
    witness_key: PathBuf,
    admin_vkey: String,
    admin_key: PathBuf,
    passphrase_protected: bool,
}

/// `theguardian.example/custody` -> `theguardian.example/witness`.
fn default_witness_name(name: &str) -> String {
    let host = name.split('/').next().unwrap_or(name);
    format!("{host}/witness")
}

/// The four keys keygen makes, and the age recipient of the identity.
struct NewKeys {
    signer: SignerKey,
    witness: SignerKey,
    admin: SignerKey,
    /// The identity's text (AGE-SECRET-KEY-PQ-1… or AGE-SECRET-KEY-1…).
    identity: SecretString,
    recipient: String,
}

pub fn run(ctx: &Ctx, a: KeygenArgs) -> Result<i32, StoreError> {
    check_public_names(&a)?;
    let keys = generate_keys(&a)?;
    let paths = key_paths(&a.output)?;
    // --passphrase-file implies --passphrase: whoever gives a passphrase
    // wants it used, and the unsafe guess (unprotected keys) is the one not
    // to make silently; the passphrase is in the file given, so nothing is lost.
    let pass = if a.passphrase || ctx.passphrase_file.is_some() {
        Some(read_new_passphrase(ctx)?)
    } else {
        None
    };
    let o = write_keys(&a, keys, &paths, pass.as_ref())?;
    print_keygen(ctx, &o);
    Ok(EXIT_OK)
}

/// Checks that no key name given looks like a secret key.
fn check_public_names(a: &KeygenArgs) -> Result<(), StoreError> {
    // A key name is public: it is written into the .vkey files partners get.
    for (flag, name) in [
        ("--name", Some(&a.name)),
        ("--witness-name", a.witness_name.as_ref()),
        ("--admin-name", a.admin_name.as_ref()),
    ] {
        if name.is_some_and(|n| crate::core::redact::secret_kind(n).is_some()) {
            return Err(StoreError::Input(format!(
                "{flag} looks like a secret key; a key name is public (it is written into the .vkey files partners get): give a name such as outlet.example/leaks"
            )));
        }
    }
    Ok(())
}

/// Generates the log, witness and admin keys and the age identity.
fn generate_keys(a: &KeygenArgs) -> Result<NewKeys, StoreError> {
    let signer = SignerKey::generate(&a.name).map_err(|e| {
        StoreError::Input(format!(
            "invalid key name {}: {e}",
            crate::core::redact::quote(&a.name)
        ))
    })?;
    let wname = a
        .witness_name
        .clone()
        .unwrap_or_else(|| default_witness_name(&a.name));
    // A distinct key: C2SP tlog-cosignature requires cosigners that make
    // different statements (a log's and a witness's) to use distinct keys.
    let witness = SignerKey::generate(&wname).map_err(|e| {
        StoreError::Input(format!(
            "invalid witness key name {}: {e}",
            crate::core::redact::quote(&wname)
        ))
    })?;
    let aname = a.admin_name.clone().unwrap_or_else(|| {
        let host = a.name.split('/').next().unwrap_or(&a.name);
        format!("{host}/admin")
    });
    // The first administrator's personal key: separation of duties (FORMAT.md
    // §4.14) needs a key other than the log key to sign records.
    let admin = SignerKey::generate(&aname).map_err(|e| {
        StoreError::Input(format!(
            "invalid admin key name {}: {e}",
            crate::core::redact::quote(&aname)
        ))
    })?;
    let (identity, recipient) = new_identity(a.x25519);
    Ok(NewKeys {
        signer,
        witness,
        admin,
        identity,
        recipient,
    })
}

/// A new age identity and its recipient: hybrid post-quantum
/// (mlkem768x25519, `age1pq1…`) unless `x25519` asks for a classic one.
pub(crate) fn new_identity(x25519: bool) -> (SecretString, String) {
    if x25519 {
        #[allow(deprecated)]
        let id = age::x25519::Identity::generate();
        (id.to_string(), id.to_public().to_string())
    } else {
        let id = age::pq::Identity::generate();
        (id.to_string(), id.to_public().to_string())
    }
}

/// The eight key files in `dir`, none of which may exist yet.
fn key_paths(dir: &Path) -> Result<[PathBuf; 8], StoreError> {
    let paths = [
        dir.join("signing.key"),
        dir.join("signing.vkey"),
        dir.join("identity.age"),
        dir.join("recipient.txt"),
        dir.join("witness.key"),
        dir.join("witness.vkey"),
        dir.join("admin.key"),
        dir.join("admin.vkey"),
    ];
    for p in &paths {
        if p.exists() {
            return Err(StoreError::Input(format!(
                "{} already exists; keygen never overwrites keys, choose another -o directory",
                crate::core::redact::path(p)
            )));
        }
    }
    Ok(paths)
}

/// Writes the key files (secret halves protected by `pass` if given, 0600).
fn write_keys(
    a: &KeygenArgs,
    keys: NewKeys,
    paths: &[PathBuf; 8],
    pass: Option<&SecretString>,
) -> Result<KeygenOut, StoreError> {
    let dir = &a.output;
    // Only now, with every input read: nothing is written when one fails.
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let protect = |secret: &[u8]| -> Result<Zeroizing<Vec<u8>>, StoreError> {
        match pass {
            None => Ok(Zeroizing::new(secret.to_vec())),
            Some(p) => crypto::passphrase_encrypt(secret, p.clone(), a.scrypt_work_factor)
                .map(Zeroizing::new)
                .map_err(StoreError::Crypto),
        }
    };
    let NewKeys {
        signer,
        witness,
        admin,
        identity,
        recipient,
    } = keys;
    let skey = signer.encode();
    let skey_line = Zeroizing::new(format!("{}\n", skey.as_str()));
    let skey_file = protect(skey_line.as_bytes())?;
    let id_text = Zeroizing::new(format!(
        "# created: {}\n# public key: {}\n{}\n",
        crate::core::time::rfc3339(crate::core::time::now_ms()),
        recipient,
        identity.expose_secret()
    ));
    let id_file = protect(id_text.as_bytes())?;
    let vkey = signer.verifier().encode();
    let wkey = witness.encode();
    let wkey_line = Zeroizing::new(format!("{}\n", wkey.as_str()));
    let wkey_file = protect(wkey_line.as_bytes())?;
    let wvkey = witness.cosigner_verifier().encode();
    let akey = admin.encode();
    let akey_line = Zeroizing::new(format!("{}\n", akey.as_str()));
    let akey_file = protect(akey_line.as_bytes())?;
    let avkey = admin.verifier().encode();
    write_secret_file(&paths[0], &skey_file)?;
    std::fs::write(&paths[1], format!("{vkey}\n")).map_err(|e| io_err(&paths[1], e))?;
    write_secret_file(&paths[2], &id_file)?;
    std::fs::write(&paths[3], format!("{recipient}\n")).map_err(|e| io_err(&paths[3], e))?;
    write_secret_file(&paths[4], &wkey_file)?;
    std::fs::write(&paths[5], format!("{wvkey}\n")).map_err(|e| io_err(&paths[5], e))?;
    write_secret_file(&paths[6], &akey_file)?;
    std::fs::write(&paths[7], format!("{avkey}\n")).map_err(|e| io_err(&paths[7], e))?;
    Ok(KeygenOut {
        name: a.name.clone(),
        vkey,
        recipient,
        signing_key: paths[0].clone(),
        identity: paths[2].clone(),
        witness_vkey: wvkey,
        witness_key: paths[4].clone(),
        admin_vkey: avkey,
        admin_key: paths[6].clone(),
        passphrase_protected: pass.is_some(),
    })
}

/// Prints what keygen wrote, as text or JSON.
fn print_keygen(ctx: &Ctx, o: &KeygenOut) {
    if ctx.out.json {
        ctx.out.json(o);
    } else {
        // The vkeys hold the names given, which may hold direction
        // controls (FORMAT.md §3.2): shown escaped (§1.2), exact in --json.
        ctx.out.data_line(&format!("verifier key: {}", o.vkey));
        ctx.out.data_line(&format!("recipient:    {}", o.recipient));
        ctx.out
            .data_line(&format!("witness key:  {}", o.witness_vkey));
        ctx.out
            .data_line(&format!("admin key:    {}", o.admin_vkey));
        ctx.out.info(&format!(
            "secret keys written to {}, {}, {} and {} (mode 0600{}); keep them off shared disks",
            o.signing_key.display(),
            o.identity.display(),
            o.witness_key.display(),
            o.admin_key.display(),
            if o.passphrase_protected {
                ", passphrase-protected"
            } else {
                ""
            }
        ));
    }
}

/// Reads a new passphrase: from --passphrase-file, or asked twice.
fn read_new_passphrase(ctx: &Ctx) -> Result<SecretString, StoreError> {
    if let Some(f) = &ctx.passphrase_file {
        let p = super::read_passphrase_file(f)?;
        if p.is_empty() {
            return Err(StoreError::Input(format!(
                "{} holds an empty passphrase",
                crate::core::redact::path(f)
            )));
        }
        return Ok(SecretString::from(p));
    }
    let first = super::output::prompt_passphrase("New passphrase: ").ok_or_else(|| {
        StoreError::Input("--passphrase needs a terminal or --passphrase-file FILE".into())
    })?;
    let first = Zeroizing::new(first);
    let second =
        Zeroizing::new(super::output::prompt_passphrase("Repeat passphrase: ").unwrap_or_default());
    if first.is_empty() || *first != *second {
        return Err(StoreError::Input(
            "passphrases are empty or do not match".into(),
        ));
    }
    Ok(SecretString::from(first.to_string()))
}
