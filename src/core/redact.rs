//! Does this text look like a secret key? Every error and note that quotes
//! user input (an argument, a line of a file, a path) asks here first, and
//! names only the kind of secret and the file when it is one.
//!
//! Recognised, in any letter case: age identities (`AGE-SECRET-KEY-1…`), age
//! plugin identities (`AGE-PLUGIN-…`), C2SP signer keys (`PRIVATE+KEY+…`),
//! OpenSSH and PEM private keys (`-----BEGIN … PRIVATE KEY-----`, or a body
//! line of an OpenSSH key), age-encrypted (passphrase-protected) key files,
//! and, in a file whose name says it is a key, a bare base64 or hex blob
//! that could be a seed.

use std::borrow::Cow;
use std::fmt;

/// What kind of secret a piece of text looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKind {
    /// `AGE-SECRET-KEY-1…`.
    AgeIdentity,
    /// `AGE-PLUGIN-…-1…`.
    AgePlugin,
    /// C2SP `PRIVATE+KEY+<name>+<id>+<seed>`.
    SignerKey,
    /// `-----BEGIN OPENSSH PRIVATE KEY-----` and other PEM private keys.
    PrivateKeyBlock,
    /// An age file (`age-encryption.org/v1`), as `keygen --passphrase` writes keys.
    AgeEncrypted,
    /// A bare base64 or hex blob (or raw bytes) in a file named as a key.
    KeySeed,
}

impl fmt::Display for SecretKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKind::AgeIdentity => "age identity AGE-SECRET-KEY-1…",
            SecretKind::AgePlugin => "age plugin identity AGE-PLUGIN-…",
            SecretKind::SignerKey => "C2SP PRIVATE+KEY",
            SecretKind::PrivateKeyBlock => "OpenSSH/PEM private key",
            SecretKind::AgeEncrypted => "age-encrypted, passphrase-protected key",
            SecretKind::KeySeed => "bare key seed",
        })
    }
}

/// `openssh-key-v1\0` in base64: the start of every OpenSSH private key body.
const OPENSSH_BODY: &str = "b3BlbnNzaC1rZXktdjE";

/// Shortest run of base64 or hex characters taken for a possible key seed
/// (a 16-byte key in hex; a 32-byte seed is 43 to 64 characters).
const MIN_BLOB: usize = 32;

/// Whether `text` (an argument, or one line of a file) looks like a secret
/// key, and which kind. Markers are found anywhere in the text, in any case.
pub fn secret_kind(text: &str) -> Option<SecretKind> {
    let up = text.to_ascii_uppercase();
    if up.contains("AGE-SECRET-KEY-") {
        return Some(SecretKind::AgeIdentity);
    }
    if up.contains("AGE-PLUGIN-") {
        return Some(SecretKind::AgePlugin);
    }
    if up.contains("PRIVATE+KEY+") {
        return Some(SecretKind::SignerKey);
    }
    if up.contains("PRIVATE KEY-----")
        || (up.contains("-----BEGIN") && up.contains("PRIVATE KEY"))
        || text.contains(OPENSSH_BODY)
    {
        return Some(SecretKind::PrivateKeyBlock);
    }
    let t = text.trim_start();
    if t.starts_with("age-encryption.org/") || up.contains("-----BEGIN AGE ENCRYPTED FILE-----") {
        return Some(SecretKind::AgeEncrypted);
    }
    None
}

/// Whether a file's name says it holds a secret key: `*.key`, `*.pem`,
/// `*.age`, `*.sk`, `*.seed`, `id_*` (not `*.pub`), or a name with
/// `secret`, `private`, `identity` or `seed` in it. Public names (`*.pub`,
/// `*.vkey`, `recipient*`) never do.
pub fn is_key_file_name(name: &str) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let n = base.to_ascii_lowercase();
    if n.ends_with(".pub") || n.ends_with(".vkey") || n.starts_with("recipient") {
        return false;
    }
    [".key", ".pem", ".age", ".sk", ".seed"]
        .iter()
        .any(|e| n.ends_with(e))
        || n.starts_with("id_")
        || ["secret", "private", "identity", "seed"]
            .iter()
            .any(|w| n.contains(w))
}

/// Whether `s` is one run of at least [`MIN_BLOB`] base64, base64url or hex
/// characters (with optional `=` padding): what a bare key seed looks like.
pub fn is_blob(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    body.len() >= MIN_BLOB
        && body
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_'))
}

/// Whether the contents of a file called `name` hold a secret key anywhere:
/// any line [`secret_kind`] recognises, an age header, and, when the name
/// says it is a key ([`is_key_file_name`]), a bare blob line or bytes that
/// are not text.
pub fn file_secret_kind(name: &str, data: &[u8]) -> Option<SecretKind> {
    let text = String::from_utf8_lossy(data);
    if let Some(k) = text.lines().find_map(secret_kind) {
        return Some(k);
    }
    if !is_key_file_name(name) {
        return None;
    }
    if matches!(text, Cow::Owned(_)) {
        return Some(SecretKind::KeySeed);
    }
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .any(is_blob)
        .then_some(SecretKind::KeySeed)
}

/// How a message may quote `text`, an argument or a token read from a file:
/// only its kind when it looks like a secret, only its length when it holds
/// a blob that could be one, otherwise at most its first 24 characters,
/// quoted.
pub fn quote(text: &str) -> String {
    if let Some(k) = secret_kind(text) {
        return format!("a secret key ({k})");
    }
    if text.split_whitespace().any(is_blob) {
        return format!("a {}-character encoded value", text.trim().chars().count());
    }
    const MAX: usize = 24;
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// A path for a message: the path; only the kind when the "path" is the
/// text of a secret key given where a file was expected; only its first 8
/// characters when it is one bare blob (it could be a key seed).
pub fn path(p: &std::path::Path) -> String {
    let s = p.to_string_lossy();
    if let Some(k) = secret_kind(&s) {
        return format!("(a secret key ({k}) given as a file name)");
    }
    if is_blob(&s) {
        return format!("{}…", s.chars().take(8).collect::<String>());
    }
    s.into_owned()
}

/// Text taken from input (a file name or path, a note, source or case, an
/// actor, key or outlet name, a reason, a finding that quotes one) as a
/// terminal is given it: names are data, never terminal commands. Every
/// control character (U+0000–U+001F, U+007F–U+009F: ESC, BEL, CR, LF,
/// tab…), every Unicode direction control (U+061C, U+200E, U+200F,
/// U+202A–U+202E, U+2066–U+2069) and the line and paragraph separators
/// U+2028, U+2029 are shown as `\u{hex}` (lowercase, no leading zeros:
/// ESC is `\u{1b}`, U+202E is `\u{202e}`); everything else is kept. Text
/// output and messages use it; JSON output keeps the exact text.
pub fn shown(text: &str) -> Cow<'_, str> {
    if !text.chars().any(escaped) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if escaped(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The characters [`shown`] escapes.
fn escaped(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// The last line of defence, for every message custody prints on stderr:
/// each word that carries a secret-key marker followed by key material is
/// replaced by `[secret key: KIND]`, and a private key block by one such
/// word. Mentions such as `PRIVATE+KEY+…` (the marker alone) are kept.
pub fn redact_message(msg: &str) -> Cow<'_, str> {
    if secret_kind(msg).is_none() {
        return Cow::Borrowed(msg);
    }
    let msg = strip_blocks(msg);
    let is_sep = |c: char| c.is_whitespace() || "\"'`,;()<>[]{}…".contains(c);
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg.as_str();
    while !rest.is_empty() {
        let start = rest.find(|c: char| !is_sep(c)).unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest.find(is_sep).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        match word_kind(word, &word.to_ascii_uppercase()) {
            Some(k) => {
                out.push_str("[secret key: ");
                out.push_str(&k.to_string());
                out.push(']');
            }
            None => out.push_str(word),
        }
    }
    Cow::Owned(out)
}

/// Replaces each `-----BEGIN …` block, through the end of its `-----END …-----`
/// line (or the end of the text when there is none), by one placeholder.
fn strip_blocks(msg: &str) -> String {
    // ASCII upper-casing keeps every byte offset.
    let up = msg.to_ascii_uppercase();
    let mut out = String::with_capacity(msg.len());
    let mut i = 0;
    while let Some(b) = up[i..].find("-----BEGIN").map(|b| b + i) {
        out.push_str(&msg[i..b]);
        out.push_str("[secret key: ");
        out.push_str(&SecretKind::PrivateKeyBlock.to_string());
        out.push(']');
        i = up[b..]
            .find("-----END")
            .map(|e| b + e + "-----END".len())
            .and_then(|e| up[e..].find("-----").map(|x| e + x + "-----".len()))
            .unwrap_or(msg.len());
    }
    out.push_str(&msg[i..]);
    out
}

/// The kind of one word of a message, when it carries key material after its
/// marker (at least 4 characters), or is an OpenSSH key body.
fn word_kind(word: &str, up: &str) -> Option<SecretKind> {
    if word.contains(OPENSSH_BODY) {
        return Some(SecretKind::PrivateKeyBlock);
    }
    for (marker, kind) in [
        ("AGE-SECRET-KEY-", SecretKind::AgeIdentity),
        ("AGE-PLUGIN-", SecretKind::AgePlugin),
        ("PRIVATE+KEY+", SecretKind::SignerKey),
    ] {
        if let Some(i) = up.find(marker) {
            if up.len() - i - marker.len() >= 4 {
                return Some(kind);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_escapes_controls_and_direction_marks_only() {
        assert!(matches!(shown("memo-été.pdf"), Cow::Borrowed(_)));
        assert_eq!(shown("a\x1b[31mb"), "a\\u{1b}[31mb");
        assert_eq!(shown("invoice\u{202e}fdp.exe"), "invoice\\u{202e}fdp.exe");
        assert_eq!(
            shown("x\ny\tz\u{7}\u{7f}\u{85}"),
            "x\\u{a}y\\u{9}z\\u{7}\\u{7f}\\u{85}"
        );
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{2028}',
            '\u{2029}',
        ] {
            assert_eq!(shown(&c.to_string()), format!("\\u{{{:x}}}", c as u32));
        }
        // Shown text holds nothing left to escape.
        assert!(matches!(shown(&shown("\u{1b}\u{202e}")), Cow::Borrowed(_)));
    }

    const SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const AGE: &str = "AGE-SECRET-KEY-1PQX7D272K8C38T4D68YGLNN5WUNR9MVZ9D2XS6L3JWR9J3CE3PGSAH360R";
    const PLUGIN: &str = "AGE-PLUGIN-YUBIKEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ";
    const SSH: &str = "-----BEGIN OPENSSH PRIVATE KEY-----\n\
        b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n\
        QyNTUxOQAAACBxXmYQ8ZC7IOfMNuqx6mOLC1SVYV3k8Hwi3pL2eEqw6wAAAJjJeN3cyXjd\n\
        -----END OPENSSH PRIVATE KEY-----\n";

    #[test]
    fn kinds_of_arguments_and_lines() {
        assert_eq!(secret_kind(SKEY), Some(SecretKind::SignerKey));
        assert_eq!(secret_kind(AGE), Some(SecretKind::AgeIdentity));
        assert_eq!(
            secret_kind(&AGE.to_ascii_lowercase()),
            Some(SecretKind::AgeIdentity)
        );
        assert_eq!(
            secret_kind(&format!("  {AGE}  ")),
            Some(SecretKind::AgeIdentity)
        );
        assert_eq!(secret_kind(PLUGIN), Some(SecretKind::AgePlugin));
        assert_eq!(secret_kind(SSH), Some(SecretKind::PrivateKeyBlock));
        for line in SSH.lines() {
            assert!(
                secret_kind(line).is_some() || line.starts_with("QyNT"),
                "{line}"
            );
        }
        assert_eq!(
            secret_kind("-----BEGIN EC PRIVATE KEY-----"),
            Some(SecretKind::PrivateKeyBlock)
        );
        assert_eq!(
            secret_kind("age-encryption.org/v1"),
            Some(SecretKind::AgeEncrypted)
        );
        for public in [
            "age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq",
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHFeZhDxkLsg58w26rHqY4sLVJVhXeTwfCLekvZ4SrDr",
            "keys/signing.key",
            "witness A example.com+12345678+AQ== https://a.example",
        ] {
            assert_eq!(secret_kind(public), None, "{public}");
        }
    }

    #[test]
    fn files() {
        let seed = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let hex = "5adca6eb".repeat(8);
        assert_eq!(
            file_secret_kind("x.txt", format!("# c\n{SKEY}\n").as_bytes()),
            Some(SecretKind::SignerKey)
        );
        assert_eq!(
            file_secret_kind("recipient.txt", format!("# c\n\n{AGE}\n").as_bytes()),
            Some(SecretKind::AgeIdentity)
        );
        assert_eq!(
            file_secret_kind("id_ed25519", SSH.as_bytes()),
            Some(SecretKind::PrivateKeyBlock)
        );
        assert_eq!(
            file_secret_kind("k", b"age-encryption.org/v1\n-> scrypt abc 18\n"),
            Some(SecretKind::AgeEncrypted)
        );
        for name in [
            "seed.key",
            "keys/id_ed25519",
            "my-secret",
            "w.seed",
            "identity.age",
        ] {
            assert_eq!(
                file_secret_kind(name, format!("{seed}\n").as_bytes()),
                Some(SecretKind::KeySeed),
                "{name}"
            );
            assert_eq!(
                file_secret_kind(name, format!("{hex}\n").as_bytes()),
                Some(SecretKind::KeySeed),
                "{name}"
            );
            assert_eq!(
                file_secret_kind(name, &[1, 0xff, 0xfe, 7]),
                Some(SecretKind::KeySeed)
            );
        }
        // A blob in a file not named as a key is not taken for a seed.
        assert_eq!(file_secret_kind("policy.txt", seed.as_bytes()), None);
        assert_eq!(file_secret_kind("id_ed25519.pub", seed.as_bytes()), None);
        assert_eq!(file_secret_kind("signing.vkey", seed.as_bytes()), None);
        let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW\n";
        assert_eq!(file_secret_kind("signing.vkey", vkey.as_bytes()), None);
        assert_eq!(file_secret_kind("w.key", b"# just a note\n"), None);
    }

    #[test]
    fn quoting_never_shows_key_material() {
        for secret in [SKEY, AGE, PLUGIN, SSH] {
            let q = quote(secret);
            assert!(q.starts_with("a secret key ("), "{q}");
            assert!(!q.contains("AYEKFALV") && !q.contains("PQX7D272"), "{q}");
        }
        assert_eq!(
            quote("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"),
            "a 44-character encoded value"
        );
        assert_eq!(quote("witnesses"), "\"witnesses\"");
        assert_eq!(
            quote("abcdefghijklmnopqrstuvwxyz.0123"),
            "\"abcdefghijklmnopqrstuvwx…\""
        );
        assert_eq!(
            path(std::path::Path::new(SKEY)),
            "(a secret key (C2SP PRIVATE+KEY) given as a file name)"
        );
        assert_eq!(
            path(std::path::Path::new("keys/signing.key")),
            "keys/signing.key"
        );
        assert_eq!(
            path(std::path::Path::new(
                "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
            )),
            "AYEKFALV…"
        );
    }

    #[test]
    fn messages_lose_key_material_and_keep_the_rest() {
        let m = format!("error: {SKEY:?} is neither an age recipient; see `custody help`");
        let r = redact_message(&m);
        assert_eq!(
            r,
            "error: \"[secret key: C2SP PRIVATE+KEY]\" is neither an age recipient; see `custody help`"
        );
        let m = format!(
            "{}: No such file; check that {} exists",
            AGE.to_lowercase(),
            AGE
        );
        let r = redact_message(&m);
        assert!(!r.to_uppercase().contains("PQX7D272"), "{r}");
        assert!(r.contains("No such file; check that"), "{r}");
        let m = format!("bad key {SSH} here");
        let r = redact_message(&m);
        assert!(!r.contains("b3Blbn") && !r.contains("QyNTUx"), "{r}");
        assert!(
            r.ends_with("\n here") && r.starts_with("bad key [secret key"),
            "{r}"
        );
        // As clap quotes an unexpected argument, twice; and a block cut short.
        let ssh = SSH.trim_end();
        let m = format!("unexpected argument '{ssh}' found\n  tip: use '-- {ssh}'\nUsage: x");
        assert_eq!(
            redact_message(&m),
            "unexpected argument '[secret key: OpenSSH/PEM private key]' found\n  \
             tip: use '-- [secret key: OpenSSH/PEM private key]'\nUsage: x"
        );
        let r = redact_message(&SSH[..120]);
        assert_eq!(r, "[secret key: OpenSSH/PEM private key]");
        // Mentions of the formats stay.
        for plain in [
            "is not a valid signing key (PRIVATE+KEY+…)",
            "expected AGE-SECRET-KEY-1… lines or an OpenSSH private key",
            "a vkey dropsite.example/leaks+e28d9b2b+AcmjfDwmxI2Z6Hm5CdnCnP/2xXp6EJlZ3t/V4hdeNEsi",
        ] {
            assert_eq!(redact_message(plain), plain);
        }
        // A truncated prefix is caught too.
        let r = redact_message("unknown keyword \"PRIVATE+KEY+dropsite.example/lea\"");
        assert!(!r.contains("dropsite"), "{r}");
    }
}
