//! `age-plugin-custodytest`: a TEST DOUBLE of an age plugin, for
//! tests/plugin.rs. It speaks the age plugin protocol
//! (<https://c2sp.org/age-plugin>: the `recipient-v1` and `identity-v1`
//! state machines, with age-core's own framing) the way a hardware plugin
//! such as age-plugin-yubikey does, so custody's plugin support is tested
//! without hardware. `cargo test` builds it (target/debug/examples/).
//!
//! It protects nothing: the recipient `age1custodytest1…` carries the very
//! 32-byte key the identity `AGE-PLUGIN-CUSTODYTEST-1…` does, and a file key
//! is wrapped as `-> custodytest NONCE`, body = file key XOR
//! SHA-256("mask" ‖ key ‖ nonce)[..16] then SHA-256("tag" ‖ key ‖ nonce ‖
//! masked)[..16] (so an identity tells its own stanzas from others').
//!
//! `age-plugin-custodytest --generate` prints a new identity and, in a
//! comment, its recipient. `CUSTODYTEST_MODE` switches its behaviour:
//! `fail` (an error for the recipient or identity), `hang` (never answers;
//! writes its pid to `CUSTODYTEST_PIDFILE` if set), `crash` (exits
//! mid-protocol), `msg` (shows a message first), `pin` (asks for a secret
//! and wants `1234`), `pq` (labels its stanzas "postquantum").

use std::io;

use age_core::format::Stanza;
use age_core::plugin::Connection;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

const RECIPIENT_HRP: &str = "age1custodytest";
const IDENTITY_HRP: &str = "age-plugin-custodytest-";
const TAG: &str = "custodytest";

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    let r = match arg.as_str() {
        "--age-plugin=recipient-v1" => recipient_v1(),
        "--age-plugin=identity-v1" => identity_v1(),
        "--generate" => {
            generate();
            Ok(())
        }
        _ => {
            eprintln!(
                "age-plugin-custodytest: a test double; see examples/age-plugin-custodytest.rs"
            );
            std::process::exit(1);
        }
    };
    if let Err(e) = r {
        eprintln!("age-plugin-custodytest: {e}");
        std::process::exit(1);
    }
}

fn mode() -> String {
    std::env::var("CUSTODYTEST_MODE").unwrap_or_default()
}

/// Prints a new identity, its recipient in a comment as age-plugin-yubikey does.
fn generate() {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("random key");
    let r =
        bech32::encode::<bech32::Bech32>(bech32::Hrp::parse(RECIPIENT_HRP).unwrap(), &key).unwrap();
    let i = bech32::encode::<bech32::Bech32>(bech32::Hrp::parse(IDENTITY_HRP).unwrap(), &key)
        .unwrap()
        .to_ascii_uppercase();
    println!("#    Recipient: {r}");
    println!("{i}");
}

/// The 32-byte key in a recipient or an identity of this plugin.
fn key_of(s: &str, hrp: &str) -> Option<[u8; 32]> {
    let (h, data) = bech32::decode(s).ok()?;
    if !h.as_str().eq_ignore_ascii_case(hrp) {
        return None;
    }
    data.try_into().ok()
}

fn mask(key: &[u8; 32], nonce: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"mask")
        .chain_update(key)
        .chain_update(nonce)
        .finalize()[..16]
        .to_vec()
}

fn tag(key: &[u8; 32], nonce: &[u8], masked: &[u8]) -> Vec<u8> {
    Sha256::new()
        .chain_update(b"tag")
        .chain_update(key)
        .chain_update(nonce)
        .chain_update(masked)
        .finalize()[..16]
        .to_vec()
}

fn wrap(key: &[u8; 32], file_key: &[u8]) -> (String, Vec<u8>) {
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).expect("random nonce");
    let masked: Vec<u8> = file_key
        .iter()
        .zip(mask(key, &nonce))
        .map(|(a, b)| a ^ b)
        .collect();
    let mut body = masked.clone();
    body.extend(tag(key, &nonce, &masked));
    (STANDARD_NO_PAD.encode(nonce), body)
}

fn unwrap(key: &[u8; 32], s: &Stanza) -> Option<Vec<u8>> {
    if s.tag != TAG || s.args.len() != 1 || s.body.len() != 32 {
        return None;
    }
    let nonce = STANDARD_NO_PAD.decode(&s.args[0]).ok()?;
    let (masked, t) = s.body.split_at(16);
    if tag(key, &nonce, masked) != t {
        return None;
    }
    Some(
        masked
            .iter()
            .zip(mask(key, &nonce))
            .map(|(a, b)| a ^ b)
            .collect(),
    )
}

/// Never answers, as a plugin waiting on a device that never responds.
fn hang() -> ! {
    if let Ok(p) = std::env::var("CUSTODYTEST_PIDFILE") {
        let _ = std::fs::write(p, std::process::id().to_string());
    }
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

type Phase1 = (
    Result<Vec<Stanza>, Vec<()>>,
    Result<Vec<Stanza>, Vec<()>>,
    Option<Result<Vec<Stanza>, Vec<()>>>,
    Option<Result<Vec<Stanza>, Vec<()>>>,
);

fn ok(s: Stanza) -> Result<Stanza, ()> {
    Ok(s)
}

/// Phase 1 of recipient-v1 (recipients, identities, file keys, labels
/// asked), then phase 2: one stanza per file key, or an error.
fn recipient_v1() -> io::Result<()> {
    let mut conn = Connection::accept();
    let (recipients, _, keys, _): Phase1 = conn.unidir_receive(
        ("add-recipient", ok),
        ("add-identity", ok),
        (Some("wrap-file-key"), ok),
        (Some("extension-labels"), ok),
    )?;
    let recipients = recipients.unwrap_or_default();
    let keys = keys.and_then(Result::ok).unwrap_or_default();
    let mode = start();
    conn.bidir_send(|mut phase| {
        if !proceed(&mut phase, &mode, "recipient")? {
            return Ok(());
        }
        if mode == "pq" {
            let _ = phase.send("labels", &["postquantum"], &[])?;
        }
        for (file, fk) in keys.iter().enumerate() {
            for (i, r) in recipients.iter().enumerate() {
                let Some(key) = r.args.first().and_then(|a| key_of(a, RECIPIENT_HRP)) else {
                    let _ = phase.send(
                        "error",
                        &["recipient", &i.to_string()],
                        b"not a custodytest recipient",
                    )?;
                    continue;
                };
                let (nonce, body) = wrap(&key, &fk.body);
                let _ = phase.send("recipient-stanza", &[&file.to_string(), TAG, &nonce], &body)?;
            }
        }
        Ok(())
    })
}

/// Asks for the test PIN; `1234` is right.
/// The mode of this run (CUSTODYTEST_MODE), after the modes that never
/// answer: `hang` hangs, `crash` exits.
fn start() -> String {
    let mode = mode();
    if mode == "hang" {
        hang();
    }
    if mode == "crash" {
        std::process::exit(3);
    }
    mode
}

/// The first messages of a wrap or unwrap phase in `mode`: a message to
/// show, a PIN to ask, or a failure of the `which` (recipient or identity)
/// stanza 0. Whether the phase goes on.
fn proceed<R: io::Read, W: io::Write>(
    phase: &mut age_core::plugin::BidirSend<R, W>,
    mode: &str,
    which: &str,
) -> io::Result<bool> {
    if mode == "msg" {
        let _ = phase.send("msg", &[], b"touch the custodytest key")?;
    }
    if mode == "pin" && !pin_ok(phase)? {
        let _ = phase.send("error", &[which, "0"], b"wrong or no PIN")?;
        return Ok(false);
    }
    if mode == "fail" {
        let _ = phase.send(
            "error",
            &[which, "0"],
            b"simulated failure (CUSTODYTEST_MODE=fail)",
        )?;
        return Ok(false);
    }
    Ok(true)
}

fn pin_ok<R: io::Read, W: io::Write>(
    phase: &mut age_core::plugin::BidirSend<R, W>,
) -> io::Result<bool> {
    Ok(
        match phase.send("request-secret", &[], b"PIN for the custodytest key")? {
            Ok(s) => s.body == b"1234",
            Err(_) => false,
        },
    )
}

/// Phase 1 of identity-v1 (identities, stanzas of each file), then phase 2:
/// the file key of file 0 if one of its stanzas is ours, or an error.
fn identity_v1() -> io::Result<()> {
    let mut conn = Connection::accept();
    let (identities, stanzas, _, _): Phase1 = conn.unidir_receive(
        ("add-identity", ok),
        ("recipient-stanza", ok),
        (None, ok),
        (None, ok),
    )?;
    let keys: Vec<[u8; 32]> = identities
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s.args.first().and_then(|a| key_of(a, IDENTITY_HRP)))
        .collect();
    // `recipient-stanza FILE TAG ARGS…`: the stanza as it is in the header.
    let stanzas: Vec<Stanza> = stanzas
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.args.first().map(String::as_str) == Some("0") && s.args.len() >= 2)
        .map(|s| Stanza {
            tag: s.args[1].clone(),
            args: s.args[2..].to_vec(),
            body: s.body,
        })
        .collect();
    let mode = start();
    conn.bidir_send(|mut phase| {
        if !proceed(&mut phase, &mode, "identity")? {
            return Ok(());
        }
        let found = stanzas
            .iter()
            .find_map(|s| keys.iter().find_map(|k| unwrap(k, s)));
        if let Some(fk) = found {
            let _ = phase.send("file-key", &["0"], &fk)?;
        }
        Ok(())
    })
}
