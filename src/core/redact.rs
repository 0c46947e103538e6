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
//!
//! Text given where a path or a name was expected is also searched for a
//! run that could be a bare key seed (base64, base64url or hex, at least
//! `MIN_BLOB` characters, that does not read as words: see
//! [`seed_spans`]), alone or inside a path (`dir/SEED`) or a C2SP-like
//! `name+id+SEED`: such a run is shown only as its length, never as a
//! prefix (even 8 characters are 48 bits of the seed, and the message names
//! the argument anyway). Text of several lines is judged line by line, and
//! shown not at all when any line is a secret or holds such a run.
//! [`redact_message`], applied to every message, cannot do this: custody
//! prints digests, Merkle roots and public keys that look just like seeds,
//! so the places that quote what the user gave ([`path`], [`quote`],
//! [`redact_typed`]) do it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

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
/// key, and which kind. Markers are found anywhere in the text, in any case;
/// text of several lines is a secret when any of its lines is one.
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
    if text
        .lines()
        .any(|l| l.trim_start().starts_with("age-encryption.org/"))
        || up.contains("-----BEGIN AGE ENCRYPTED FILE-----")
    {
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

/// Whether `s` is one run of at least `MIN_BLOB` base64, base64url or hex
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
/// a blob or a run that could be a key seed ([`seed_spans`]), otherwise at
/// most its first 24 characters, quoted.
pub fn quote(text: &str) -> String {
    if let Some(k) = secret_kind(text) {
        return format!("a secret key ({k})");
    }
    if text.split_whitespace().any(is_blob) || !seed_spans(text).is_empty() {
        return format!("a {}-character encoded value", text.trim().chars().count());
    }
    const MAX: usize = 24;
    let mut shown: String = text.chars().take(MAX).collect();
    if text.chars().count() > MAX {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// A path (or location) the user gave, for a message: the path; only the
/// kind when the "path" is the text of a secret key given where a file was
/// expected; each run in it that could be a key seed ([`seed_spans`]: a
/// bare seed, `dir/SEED`, `name+id+SEED`) replaced by its length only,
/// `[a 44-character encoded value]`; and nothing of a text of several lines
/// that holds such a run.
pub fn path(p: &std::path::Path) -> String {
    let s = p.to_string_lossy();
    if let Some(k) = secret_kind(&s) {
        return format!("(a secret key ({k}) given as a file name)");
    }
    match hide_seeds(&s) {
        Cow::Borrowed(_) => s.into_owned(),
        Cow::Owned(_) if s.lines().nth(1).is_some() => format!(
            "(a text of {} lines holding an encoded value given as a file name)",
            s.lines().count()
        ),
        Cow::Owned(hidden) => hidden,
    }
}

/// `text` with each run [`seed_spans`] finds replaced by its length.
fn hide_seeds(text: &str) -> Cow<'_, str> {
    let spans = seed_spans(text);
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for r in spans {
        out.push_str(&text[at..r.start]);
        out.push_str(&format!("[a {}-character encoded value]", r.len()));
        at = r.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// The byte ranges of `text` that could be a bare key seed: in each run of
/// base64, base64url or hex characters (`A-Z a-z 0-9 + / - _ =`), what is
/// left once the leading `/`-separated folders that are words (small
/// letters, the first one perhaps a capital, `reads_as_words`) or at most
/// 3 small letters are set aside — `/home/alice/` — when it has at least
/// `MIN_BLOB` characters and is hex or does not read as words; else the
/// whole run, when it is such. Folders are set aside only in an absolute
/// path or after a `.`, `:` or the like (`/tmp/`, `outlet.example/`), not
/// in a relative one (`keys/SEED` is hidden whole), and the rest of the run
/// goes with what is hidden (`SEED/archive`, `leaks+e28d9b2b+SEED`): the
/// pieces a seed's own `/` or `+` cut could read as words. The 64-digit
/// hex name of a blob under a folder named by its first two digits
/// (`blobs/5a/5adc…`, as the archive keeps them) is kept.
///
/// Measured on a million random 32-byte seeds in base64 and base64url: 4
/// to 6 are not found (they read as words); after a folder (`/tmp/SEED`)
/// about 1 in 70 shows its own first piece when that is small letters
/// before a `/`, nearly always under 9 characters (9 or more: about 1 in
/// 20 000); a bare seed, `dir/SEED` and `name+id+SEED` show nothing more.
/// A legitimate name of 32 or more such characters that are not words (a
/// hex digest, a random token) is hidden too, which costs only a less
/// precise message.
pub fn seed_spans(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let blob_byte = |c: u8| c.is_ascii_alphanumeric() || b"+/-_=".contains(&c);
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !blob_byte(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && blob_byte(b[i]) {
            i += 1;
        }
        // A relative path's first folder may be a seed's own first piece.
        let aside = start > 0 || b[0] == b'/';
        if let Some(r) = seed_in_run(&text[start..i], aside) {
            out.push(start + r.start..start + r.end);
        }
    }
    out
}

/// The names of an archive's folders and files (FORMAT.md §7) and of a
/// published log's (C2SP tlog-tiles): a path with one of them after its
/// first piece names a file custody reads or writes, not a seed cut by its
/// `/`s (in a random base64 seed such a piece, at least 4 characters between `/`s,
/// comes with odds below one in ten million).
const ARCHIVE_DIRS: &[&str] = &[
    "blobs",
    "checkpoint",
    "checkpoints",
    "cosignatures",
    "dedup",
    "evidence",
    "incoming",
    "ledger",
    "mirrors",
    "pending",
    "records",
    "staging",
    "tile",
    "witness",
];

/// A UUID in its 8-4-4-4-12 hex form (a mount point, a volume, a folder a
/// tool named): a name, never a key encoding.
fn is_uuid(p: &str) -> bool {
    let parts: Vec<&str> = p.split('-').collect();
    parts.len() == 5
        && parts.iter().map(|x| x.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|x| x.bytes().all(|c| c.is_ascii_hexdigit()))
}

/// The part of one run of base64/hex characters that could be a seed.
fn seed_in_run(run: &str, set_aside: bool) -> Option<Range<usize>> {
    let mut dirs = Vec::new();
    let mut start = 0;
    for (i, c) in run.bytes().enumerate() {
        if c == b'/' {
            dirs.push(start..i);
            start = i + 1;
        }
    }
    dirs.push(start..run.len());
    let text = |i: usize| dirs.get(i).map_or("", |r| &run[r.clone()]);
    // A folder of an archive after the first piece: a path custody made
    // (`…/pending/share-….payload`), not a seed cut by its `/`s.
    if (1..dirs.len()).any(|i| ARCHIVE_DIRS.contains(&text(i))) {
        return None;
    }
    let blob = |shard: &str, name: &str| {
        name.len() == 64
            && name.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
            && name.starts_with(shard)
            && shard.len() == 2
    };
    let aside = |i: usize| {
        let p = text(i);
        let small = p.bytes().all(|c| c.is_ascii_lowercase());
        let word = p.len() > 3
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            && !p.bytes().skip(1).any(|c| c.is_ascii_uppercase())
            && !(p.len() >= MIN_BLOB && p.bytes().all(|c| c.is_ascii_hexdigit()))
            && reads_as_words(p);
        (small && p.len() <= 3)
            || word
            || is_uuid(p)
            || blob(p, text(i + 1))
            || (i > 0 && blob(text(i - 1), p))
    };
    let seed = |r: &Range<usize>| {
        let core = &run[r.clone()];
        let body = core.trim_end_matches('=');
        let hex = body.bytes().all(|c| c.is_ascii_hexdigit());
        body.len() >= MIN_BLOB && (hex || !reads_as_words(core))
    };
    let lo = if set_aside {
        (0..dirs.len()).find(|&i| !aside(i))?
    } else {
        0
    };
    // When what is left is too short, the folders set aside may be the
    // seed's own pieces (`/tmp/Facfu2moypkb/VSh8…`): the whole run, then.
    [dirs[lo].start..run.len(), 0..run.len()]
        .into_iter()
        .find(seed)
}

/// Whether the letters and digits of `s` read as words rather than as
/// random base64: cut into pieces (a run of digits, of capitals not followed
/// by a small letter, or a capital or none followed by small letters:
/// `Leak`, `Archive`, `HDD`, `2026`), they average at least 4 characters,
/// and fewer than 45% of neighbouring letters and digits change between
/// capital, small letter and digit. Random base64 averages under 2.
fn reads_as_words(s: &str) -> bool {
    let b = s.as_bytes();
    let (mut chars, mut pieces) = (0usize, 0usize);
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let mut j = i + 1;
        if c.is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        } else if c.is_ascii_uppercase() {
            while j < b.len() && b[j].is_ascii_uppercase() {
                j += 1;
            }
            if j < b.len() && b[j].is_ascii_lowercase() {
                if j - i > 1 {
                    j -= 1;
                } else {
                    while j < b.len() && b[j].is_ascii_lowercase() {
                        j += 1;
                    }
                }
            }
        } else if c.is_ascii_lowercase() {
            while j < b.len() && b[j].is_ascii_lowercase() {
                j += 1;
            }
        } else {
            i = j;
            continue;
        }
        chars += j - i;
        pieces += 1;
        i = j;
    }
    let class = |c: u8| match c {
        b'0'..=b'9' => Some(0),
        b'A'..=b'Z' => Some(1),
        b'a'..=b'z' => Some(2),
        _ => None,
    };
    let (mut pairs, mut changes) = (0usize, 0usize);
    for w in b.windows(2) {
        if let (Some(x), Some(y)) = (class(w[0]), class(w[1])) {
            pairs += 1;
            changes += usize::from(x != y);
        }
    }
    pieces > 0 && chars >= 4 * pieces && changes * 20 < pairs * 9
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
/// word, as is the body of an OpenSSH key without its armour lines (the
/// word that starts it, and the base64 lines after it, however they were
/// joined). Mentions such as `PRIVATE+KEY+…` (the marker alone) are kept.
///
/// A bare seed, or a `name+id+SEED` without its `PRIVATE+KEY+`, is not
/// looked for here: it is written as the digests, Merkle roots and public
/// keys (`name+id+KEY`) that messages name on purpose. The places that quote
/// what the user gave hide it ([`path`], [`quote`], [`redact_typed`]).
pub fn redact_message(msg: &str) -> Cow<'_, str> {
    if secret_kind(msg).is_none() {
        return Cow::Borrowed(msg);
    }
    let msg = strip_blocks(msg);
    let is_sep = |c: char| c.is_whitespace() || "\"'`,;()<>[]{}…".contains(c);
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg.as_str();
    // After the first word of an OpenSSH key body: its following lines.
    let mut in_body = false;
    while !rest.is_empty() {
        let start = rest.find(|c: char| !is_sep(c)).unwrap_or(rest.len());
        let sep = &rest[..start];
        rest = &rest[start..];
        let end = rest.find(is_sep).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        if in_body && is_body_line(sep, word) {
            continue;
        }
        out.push_str(sep);
        in_body = false;
        match word_kind(word, &word.to_ascii_uppercase()) {
            Some(k) => {
                in_body = word.contains(OPENSSH_BODY);
                out.push_str("[secret key: ");
                out.push_str(&k.to_string());
                out.push(']');
            }
            None => out.push_str(word),
        }
    }
    Cow::Owned(out)
}

/// Whether `word`, after `sep`, is a further line of an OpenSSH key body:
/// base64 only, and on a line of its own, or ending in padding, or at least
/// 8 characters long (a word such as `has` or `found` ends the body).
fn is_body_line(sep: &str, word: &str) -> bool {
    !word.is_empty()
        && word
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'='))
        && (sep.contains('\n') || word.ends_with('=') || word.len() >= 8)
}

/// [`redact_message`] for a message that quotes only what the user typed
/// and nothing custody computed, as the command-line parser's usage errors
/// (`unexpected argument '…'`, `invalid value '…'`): every run that could
/// be a key seed is hidden too, as [`path`] hides it.
pub fn redact_typed(msg: &str) -> Cow<'_, str> {
    match redact_message(msg) {
        Cow::Borrowed(m) => hide_seeds(m),
        Cow::Owned(m) => Cow::Owned(hide_seeds(&m).into_owned()),
    }
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
/// marker (at least 4 characters), or is an OpenSSH key body. A plugin
/// identity's key material follows its name and `-1` (`AGE-PLUGIN-NAME-1…`):
/// a plugin's binary name (`age-plugin-yubikey`), which messages name, is kept.
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
            let rest = &up[i + marker.len()..];
            let named_only = kind == SecretKind::AgePlugin && !rest.contains("-1");
            if rest.len() >= 4 && !named_only {
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
            "[a 44-character encoded value]"
        );
        // A seed after a name and key ID, C2SP-like, is no longer shown
        // by its first 24 characters.
        assert_eq!(
            quote("o+1a2b3c4d+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"),
            "a 55-character encoded value"
        );
    }

    /// An OpenSSH key body without its armour lines, as `ssh-keygen` writes
    /// it between them.
    fn ssh_body() -> Vec<&'static str> {
        SSH.lines().filter(|l| !l.starts_with("-----")).collect()
    }

    /// Every 9 characters of `secret` that `shown` holds.
    fn pieces_of(secret: &str, shown: &str) -> Vec<String> {
        let c: Vec<char> = secret.chars().collect();
        c.windows(9)
            .map(|w| w.iter().collect::<String>())
            .filter(|w| shown.contains(w.as_str()))
            .collect()
    }

    #[test]
    fn paths_hide_seeds_and_key_bodies_in_any_form() {
        use std::path::Path;
        let b64 = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let slash = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let url = "WpW9gsS3wT8MIYuV4R4jZZw9-uiKgGj8aJhuYhlXMHQ";
        let hex = "b7ca91833cba0f481ddabe700962c35340c588c5b76b4e474b1ce4a1c5a1bef7";
        for seed in [b64, slash, url, hex, &format!("{b64}=")] {
            for given in [
                seed.to_string(),
                format!("/tmp/x/{seed}"),
                format!("./{seed}/archive"),
                format!("outlet.example+1a2b3c4d+{seed}"),
                format!("o+1a2b3c4d+{seed}"),
                format!("dropsite.example/leaks+e28d9b2b+{seed}"),
                format!("{seed}\n"),
                format!("keys\n{seed}\nmore"),
                format!("file://{seed}"),
                format!("s3://bucket/{seed}"),
            ] {
                let shown = path(Path::new(&given));
                assert!(pieces_of(seed, &shown).is_empty(), "{given:?} → {shown}");
                assert!(pieces_of(seed, &quote(&given)).is_empty(), "{given:?}");
                assert!(
                    pieces_of(seed, &redact_typed(&given)).is_empty(),
                    "{given:?}"
                );
            }
        }
        assert_eq!(
            path(Path::new(&format!("/tmp/x/{b64}"))),
            "/tmp/x/[a 44-character encoded value]"
        );
        assert_eq!(
            path(Path::new(&format!("outlet.example+1a2b3c4d+{b64}"))),
            "outlet.[a 61-character encoded value]"
        );
        // The body of an OpenSSH key without its armour: joined by line
        // feeds, by spaces, or from its second line on (no marker left).
        let body = ssh_body();
        for given in [
            body.join("\n"),
            body.join(" "),
            body.join("\r\n"),
            body[1..].join("\n"),
        ] {
            let shown = path(Path::new(&given));
            for line in &body {
                assert!(pieces_of(line, &shown).is_empty(), "{given:?} → {shown}");
                assert!(pieces_of(line, &quote(&given)).is_empty(), "{given:?}");
            }
            assert!(
                shown.starts_with("(a ") || shown.starts_with("[a "),
                "{shown}"
            );
        }
    }

    #[test]
    fn paths_that_are_words_digests_of_blobs_and_locations_are_kept() {
        for p in [
            "/home/alice/Documents/Archives2026/dropsite",
            "/srv/custody/archives/dropsite-leaks-2026-investigations-team",
            "/Users/Alice/Documents/LeakArchive2026/InvestigationFilesFromWhistleblowerX",
            "MyArchive2026Backup/LeaksFromSourceX2026/ProjectPhoenix2025Q3Documents",
            "/mnt/backup/HDD2TB/CustodyArchiveOfLeaks",
            "/tmp/.tmpAbC123/archive/custody.toml",
            "/tmp/.tmpXq3ZbK/a/pending/share-0123456789abcdef.payload",
            "/tmp/.tmpXq3ZbK/archive/pending/out-0123456789abcdef",
            "/tmp/.tmpXq3ZbKw9Lr2/src-fifo/checkpoint",
            "/srv/550e8400-e29b-41d4-a716-446655440000/archive",
            "/run/media/alice/3F2504E0-4F89-11D3-9A0C-0305E82C3301/leaks",
            "keys/signing.key",
            "s3://leak-2026/dropsite/blobs",
            "http://127.0.0.1:8080/log/",
            "/a/blobs/5a/5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb",
            "",
            "-",
        ] {
            assert_eq!(path(std::path::Path::new(p)), p);
            assert!(seed_spans(p).is_empty(), "{p}");
        }
    }

    #[test]
    fn random_seeds_are_never_taken_for_words() {
        use base64::Engine as _;
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let mut b = [0u8; 33];
            for c in b.chunks_mut(8) {
                let r = next().to_le_bytes();
                c.copy_from_slice(&r[..c.len()]);
            }
            let n = 32 + i % 2;
            let seed = match i % 4 {
                3 => hex::encode(&b[..32]),
                k => engines[k].encode(&b[..n]),
            };
            for given in [
                seed.clone(),
                format!("x/{seed}"),
                format!("outlet.example+1a2b3c4d+{seed}"),
            ] {
                let shown = path(std::path::Path::new(&given));
                assert!(pieces_of(&seed, &shown).is_empty(), "{given:?} → {shown}");
            }
        }
    }

    #[test]
    fn usage_errors_hide_seeds_and_messages_keep_digests_roots_and_keys() {
        let seed = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let m = format!(
            "error: unexpected argument '{seed}' found\n\n  tip: to pass '{seed}' as a value, use '-- {seed}'\n\nUsage: custody mirror [OPTIONS] <SRC>\n"
        );
        assert_eq!(
            redact_typed(&m),
            "error: unexpected argument '[a 44-character encoded value]' found\n\n  \
             tip: to pass '[a 44-character encoded value]' as a value, use '-- [a 44-character encoded value]'\n\n\
             Usage: custody mirror [OPTIONS] <SRC>\n"
        );
        assert!(matches!(
            redact_typed("error: unexpected argument '/tmp/x' found"),
            Cow::Borrowed(_)
        ));
        // What messages name on purpose stays, even beside a secret.
        let kept = "sha256 5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb5adca6eb, \
                    root AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFzAAA=, \
                    vkey dropsite.example/leaks+e28d9b2b+AcmjfDwmxI2Z6Hm5CdnCnP/2xXp6EJlZ3t/V4hdeNEsi, \
                    recipient age1q57velm07v8t9rdss8hs6e8hdzay4j8fsuukgw0yhmm4upsqnszss6tnaq";
        assert_eq!(redact_message(kept), kept);
        let m = format!("{kept}; and {SKEY}");
        assert!(redact_message(&m).starts_with(kept));
    }

    #[test]
    fn messages_lose_an_openssh_body_without_armour() {
        let body = ssh_body();
        for joined in [body.join("\n"), body.join(" ")] {
            let m = format!(
                "no custody archive found (--archive {joined} has no custody.toml); run inside an archive"
            );
            let r = redact_message(&m);
            for line in &body {
                assert!(pieces_of(line, &r).is_empty(), "{r}");
            }
            assert_eq!(
                r,
                "no custody archive found (--archive [secret key: OpenSSH/PEM private key] \
                 has no custody.toml); run inside an archive"
            );
        }
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
        // Mentions of the formats stay, and a plugin's binary name.
        for plain in [
            "age-plugin-yubikey not found on PATH",
            "AGE-PLUGIN-… lines",
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
