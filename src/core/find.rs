//! Finding documents by what their metadata envelopes say (FORMAT.md §5.2):
//! the glob matcher, the filters of `custody find`, the lineage of derived
//! documents (FORMAT.md §4.9), and how a REF names a document by its name
//! or path. Pure: the archive's scan is `src/store/ops/find.rs`.

use std::collections::BTreeSet;

use crate::core::meta::Metadata;
use crate::core::record::Kind;

/// How a glob reads its text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GlobMode {
    /// A `/`-separated path: `*`, `?` and `[…]` never match `/`, and `**`
    /// as a whole component matches any number of components. Otherwise
    /// (names, sources, media types) every wildcard matches `/` too.
    pub path: bool,
    /// Letters match whatever their case (Unicode lowercase of both sides).
    pub ignore_case: bool,
}

/// One element of a compiled glob.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: one character.
    One,
    /// `*`: any run of characters (no `/` in path mode).
    Star,
    /// `**` as a whole last component, or anywhere outside path mode: any run.
    Any,
    /// `**/` as a whole component: nothing, or any run that ends in `/`.
    Dirs,
    /// `[…]`: one character in (or, negated, not in) the ranges.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// A glob pattern: `*`, `?`, `[abc]`, `[a-z]`, `[!abc]` (or `[^abc]`),
/// `\` before a character to take it literally, and in path mode `**`.
/// It matches the whole text. Matching takes time proportional to the
/// pattern's length times the text's, whatever either holds.
#[derive(Clone, Debug)]
pub struct Glob {
    toks: Vec<Tok>,
    mode: GlobMode,
}

/// Why a glob pattern was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum GlobError {
    #[error("the glob {0:?} has a `[` without its `]`")]
    Unclosed(String),
    #[error("the glob {0:?} ends in a lone `\\`")]
    TrailingEscape(String),
    #[error("the glob {0:?} has a range whose end comes before its start")]
    BadRange(String),
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str, mode: GlobMode) -> Result<Glob, GlobError> {
        let folded;
        let text = if mode.ignore_case {
            folded = pattern.to_lowercase();
            folded.as_str()
        } else {
            pattern
        };
        let chars: Vec<char> = text.chars().collect();
        let mut toks = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            match c {
                '\\' => {
                    let Some(&next) = chars.get(i) else {
                        return Err(GlobError::TrailingEscape(pattern.into()));
                    };
                    toks.push(Tok::Lit(next));
                    i += 1;
                }
                '?' => toks.push(Tok::One),
                '[' => {
                    let (tok, end) = class(&chars, i).map_err(|reversed| {
                        if reversed {
                            GlobError::BadRange(pattern.into())
                        } else {
                            GlobError::Unclosed(pattern.into())
                        }
                    })?;
                    toks.push(tok);
                    i = end;
                }
                '*' => {
                    let mut stars = 1;
                    while chars.get(i) == Some(&'*') {
                        stars += 1;
                        i += 1;
                    }
                    toks.push(star(&chars, i, stars, mode.path));
                    if toks.last() == Some(&Tok::Dirs) {
                        i += 1; // the `/` is part of `**/`
                    }
                }
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Glob { toks, mode })
    }

    /// Does the whole of `text` match?
    pub fn matches(&self, text: &str) -> bool {
        let folded;
        let text: Vec<char> = if self.mode.ignore_case {
            folded = text.to_lowercase();
            folded.chars().collect()
        } else {
            text.chars().collect()
        };
        let path = self.mode.path;
        // cur[j]: the tokens so far match text[..j].
        let mut cur = vec![false; text.len() + 1];
        cur[0] = true;
        let mut next = vec![false; text.len() + 1];
        for t in &self.toks {
            let mut seen = false; // some cur[k] with k < j
            for j in 0..=text.len() {
                let prev = j.checked_sub(1).map(|p| (cur[p], text[p]));
                next[j] = match t {
                    Tok::Lit(c) => prev.is_some_and(|(m, x)| m && x == *c),
                    Tok::One => prev.is_some_and(|(m, x)| m && !(path && x == '/')),
                    Tok::Class { negated, ranges } => prev.is_some_and(|(m, x)| {
                        m && !(path && x == '/')
                            && ranges.iter().any(|(a, b)| (*a..=*b).contains(&x)) != *negated
                    }),
                    Tok::Star => cur[j] || (j > 0 && next[j - 1] && !(path && text[j - 1] == '/')),
                    Tok::Any => cur[j] || (j > 0 && next[j - 1]),
                    Tok::Dirs => cur[j] || (j > 0 && text[j - 1] == '/' && seen),
                };
                seen |= cur[j];
            }
            std::mem::swap(&mut cur, &mut next);
        }
        cur[text.len()]
    }
}

/// The token for a run of `stars` stars followed by `chars[at..]`: in path
/// mode, `**` that is a whole component (after the start or a `/`, before
/// the end or a `/`) spans components; any other run is one `*`.
fn star(chars: &[char], at: usize, stars: usize, path: bool) -> Tok {
    if !path {
        return Tok::Any;
    }
    let starts = at == stars || chars.get(at - stars - 1) == Some(&'/');
    match (stars >= 2 && starts, chars.get(at)) {
        (true, None) => Tok::Any,
        (true, Some('/')) => Tok::Dirs,
        _ => Tok::Star,
    }
}

/// A `[…]` class whose body starts at `chars[at]`: the token and the index
/// after its `]`. `]` right after `[` (or `[!`) is a member; `-` first or
/// last is a member. `Err(false)`: no closing `]`; `Err(true)`: a range
/// whose end comes before its start.
fn class(chars: &[char], mut at: usize) -> Result<(Tok, usize), bool> {
    let negated = matches!(chars.get(at), Some('!' | '^'));
    if negated {
        at += 1;
    }
    let get = |k: usize| chars.get(k).copied().ok_or(false);
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let mut c = get(at)?;
        if c == ']' && !first {
            return Ok((Tok::Class { negated, ranges }, at + 1));
        }
        if c == '\\' {
            at += 1;
            c = get(at)?;
        }
        first = false;
        at += 1;
        let hi = match (chars.get(at), chars.get(at + 1)) {
            (Some('-'), Some(&h)) if h != ']' => {
                at += 2;
                if h == '\\' {
                    at += 1;
                    get(at - 1)?
                } else {
                    h
                }
            }
            _ => c,
        };
        if hi < c {
            return Err(true);
        }
        ranges.push((c, hi));
    }
}

/// Text searched for inside a longer one (`--note`).
#[derive(Clone, Debug)]
pub struct Needle {
    text: String,
    ignore_case: bool,
}

impl Needle {
    pub fn new(text: &str, ignore_case: bool) -> Needle {
        Needle {
            text: if ignore_case {
                text.to_lowercase()
            } else {
                text.to_string()
            },
            ignore_case,
        }
    }

    /// Is the needle somewhere in `hay`?
    pub fn in_text(&self, hay: &str) -> bool {
        if self.ignore_case {
            hay.to_lowercase().contains(&self.text)
        } else {
            hay.contains(&self.text)
        }
    }
}

/// What `custody find` keeps: every filter given must hold (AND). Those on
/// the record (kind, time) are checked before the envelope is opened.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// On the metadata's `name` (the file name).
    pub name: Option<Glob>,
    /// On the metadata's `path` (path mode).
    pub path: Option<Glob>,
    /// On the whole of `source`; a document without one never matches.
    pub source: Option<Glob>,
    /// On the whole of `case`; a document without one never matches.
    pub case: Option<Glob>,
    /// On the whole of `media_type`.
    pub media_type: Option<Glob>,
    /// Inside the envelope's `note` or the text of a note about the document.
    pub note: Option<Needle>,
    /// The record's time is at or after this (milliseconds since the epoch).
    pub since_ms: Option<u64>,
    /// The record's time is at or before this.
    pub until_ms: Option<u64>,
    /// The record's kind is one of these (ingest, receive, derive); empty: any.
    pub kinds: Vec<Kind>,
}

impl Filter {
    /// The filters on the record itself.
    pub fn record_matches(&self, kind: Kind, time_ms: u64) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.since_ms.is_none_or(|s| time_ms >= s)
            && self.until_ms.is_none_or(|u| time_ms <= u)
    }

    /// The filters on the envelope's entry, `--note` aside.
    pub fn metadata_matches(&self, m: &Metadata) -> bool {
        let opt = |g: &Option<Glob>, v: Option<&String>| {
            g.as_ref().is_none_or(|g| v.is_some_and(|v| g.matches(v)))
        };
        opt(&self.name, Some(&m.name))
            && opt(&self.path, Some(&m.path))
            && opt(&self.media_type, Some(&m.media_type))
            && opt(&self.source, m.source.as_ref())
            && opt(&self.case, m.case.as_ref())
    }

    /// `--note` against the envelope's own note: true when it holds there
    /// (or no `--note` was given); false when the notes about the document
    /// must be read to decide.
    pub fn note_in_metadata(&self, m: &Metadata) -> bool {
        match &self.note {
            None => true,
            Some(n) => m.note.as_deref().is_some_and(|t| n.in_text(t)),
        }
    }
}

/// The documents whose lineage reaches document `target` through derive
/// records' parents (FORMAT.md §4.9), transitively; `target` itself is not
/// one. `derived` lists each derive record's index and its parents'
/// indexes, in log order (a parent always comes before its child).
pub fn descendants<'a>(
    target: u64,
    derived: impl IntoIterator<Item = (u64, &'a [u64])>,
) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for (i, parents) in derived {
        if parents.iter().any(|p| *p == target || out.contains(p)) {
            out.insert(i);
        }
    }
    out
}

/// What a REF given on the command line is (`custody show REF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefForm<'a> {
    /// Decimal digits only: a record index (or a digest prefix of digits).
    Index,
    /// Hex digits only: a prefix of a leaf hash, blob or envelope address.
    Digest,
    /// A document's file name (`name:NAME`, or anything else without `/`).
    Name(&'a str),
    /// A document's stored path (`path:PATH`, or anything else with a `/`).
    Path(&'a str),
}

impl<'a> RefForm<'a> {
    /// Reads a REF: `name:` and `path:` say which; digits stay an index and
    /// hex digits a digest prefix, as before names were accepted; anything
    /// else is a path if it holds a `/`, else a name.
    pub fn of(r: &'a str) -> RefForm<'a> {
        if let Some(n) = r.strip_prefix("name:") {
            return RefForm::Name(n);
        }
        if let Some(p) = r.strip_prefix("path:") {
            return RefForm::Path(p);
        }
        if !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()) {
            return RefForm::Index;
        }
        if !r.is_empty() && r.bytes().all(|b| b.is_ascii_hexdigit()) {
            return RefForm::Digest;
        }
        if r.contains('/') {
            RefForm::Path(r)
        } else {
            RefForm::Name(r)
        }
    }

    /// Does the entry `m` carry this name or path? (Never, for an index or
    /// a digest.)
    pub fn names(&self, m: &Metadata) -> bool {
        match self {
            RefForm::Name(n) => m.name == *n,
            RefForm::Path(p) => m.path == *p,
            RefForm::Index | RefForm::Digest => false,
        }
    }
}

/// Record indexes for a message: `3, 9, 14`, the first ten then how many more.
pub fn index_list(records: &[u64]) -> String {
    const SHOWN: usize = 10;
    let mut s = records
        .iter()
        .take(SHOWN)
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if records.len() > SHOWN {
        s.push_str(&format!(" and {} more", records.len() - SHOWN));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(p: &str) -> Glob {
        Glob::new(p, GlobMode::default()).unwrap()
    }
    fn gp(p: &str) -> Glob {
        Glob::new(
            p,
            GlobMode {
                path: true,
                ignore_case: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn literal_star_and_question_mark() {
        assert!(g("memo.pdf").matches("memo.pdf"));
        assert!(!g("memo.pdf").matches("memo.pdf.exe"));
        assert!(!g("memo.pdf").matches("Memo.pdf"));
        assert!(g("*.pdf").matches("memo.pdf"));
        assert!(g("*.pdf").matches(".pdf"));
        assert!(!g("*.pdf").matches("memo.pdf.txt"));
        assert!(g("*").matches(""));
        assert!(g("").matches(""));
        assert!(!g("").matches("a"));
        assert!(g("m?mo.*").matches("memo.txt"));
        assert!(!g("m?mo").matches("mmo"));
        assert!(g("*memo*").matches("board-memo-2026.txt"));
        assert!(g("a*b*c").matches("aXbYbZc"));
        assert!(!g("a*b*c").matches("aXbYbZ"));
        // Outside path mode a star crosses `/` (a source or a media type).
        assert!(g("image/*").matches("image/png"));
        assert!(g("*").matches("a/b"));
    }

    #[test]
    fn classes_and_escapes() {
        assert!(g("[mn]emo").matches("nemo"));
        assert!(!g("[mn]emo").matches("lemo"));
        assert!(g("file-[0-9][0-9]").matches("file-42"));
        assert!(!g("file-[0-9]").matches("file-x"));
        assert!(g("[!a-c]x").matches("dx"));
        assert!(g("[^a-c]x").matches("dx"));
        assert!(!g("[!a-c]x").matches("bx"));
        assert!(g("[]]").matches("]"));
        assert!(g("[!]]").matches("a"));
        assert!(g("[a-]").matches("-"));
        assert!(g("[-a]").matches("-"));
        assert!(g(r"\*.pdf").matches("*.pdf"));
        assert!(!g(r"\*.pdf").matches("a.pdf"));
        assert!(g(r"\[draft\]*").matches("[draft] memo"));
        assert!(g(r"[\]]").matches("]"));
        assert!(g("[é-ü]").matches("ö"));
        assert_eq!(
            Glob::new("memo[", GlobMode::default()).unwrap_err(),
            GlobError::Unclosed("memo[".into())
        );
        assert_eq!(
            Glob::new("[z-a]", GlobMode::default()).unwrap_err(),
            GlobError::BadRange("[z-a]".into())
        );
        assert_eq!(
            Glob::new(r"[\]", GlobMode::default()).unwrap_err(),
            GlobError::Unclosed(r"[\]".into())
        );
        assert!(matches!(
            Glob::new("memo\\", GlobMode::default()),
            Err(GlobError::TrailingEscape(_))
        ));
    }

    #[test]
    fn paths_and_double_stars() {
        assert!(gp("docs/*.pdf").matches("docs/memo.pdf"));
        assert!(!gp("docs/*.pdf").matches("docs/2024/memo.pdf"));
        assert!(!gp("*").matches("a/b"));
        assert!(!gp("a?b").matches("a/b"));
        assert!(!gp("a[/]b").matches("a/b"));
        assert!(gp("docs/**/memo.pdf").matches("docs/memo.pdf"));
        assert!(gp("docs/**/memo.pdf").matches("docs/2024/03/memo.pdf"));
        assert!(!gp("docs/**/memo.pdf").matches("docs2024/memo.pdf"));
        assert!(!gp("docs/**/memo.pdf").matches("other/docs/memo.pdf"));
        assert!(gp("**/memo.pdf").matches("memo.pdf"));
        assert!(gp("**/memo.pdf").matches("a/b/memo.pdf"));
        assert!(!gp("**/memo.pdf").matches("a/b/xmemo.pdf"));
        assert!(gp("**/*.pdf").matches("a/b/x.pdf"));
        assert!(gp("docs/**").matches("docs/a/b.txt"));
        assert!(gp("docs/**").matches("docs/"));
        assert!(!gp("docs/**").matches("docs"));
        assert!(gp("**").matches("a/b/c"));
        // `**` inside a component is one star.
        assert!(gp("a**b").matches("axxb"));
        assert!(!gp("a**b").matches("a/b"));
        assert!(gp("a/**b").matches("a/xb"));
        assert!(!gp("a/**b").matches("a/x/b"));
        // Several `**/` in a row.
        assert!(gp("**/**/x").matches("x"));
        assert!(gp("**/**/x").matches("a/b/c/x"));
    }

    #[test]
    fn case_folding() {
        let m = GlobMode {
            path: false,
            ignore_case: true,
        };
        assert!(Glob::new("*.PDF", m).unwrap().matches("Memo.pdf"));
        assert!(Glob::new("ÉTÉ*", m).unwrap().matches("été-2026.doc"));
        assert!(Glob::new("[A-C]*", m).unwrap().matches("beta"));
        assert!(Needle::new("Sources", true).in_text("two SOURCES confirm"));
        assert!(!Needle::new("Sources", false).in_text("two SOURCES confirm"));
    }

    #[test]
    fn hostile_names_cost_linear_time_and_never_panic() {
        let name = "a".repeat(5000);
        let p = "*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!g(p).matches(&name));
        assert!(!gp(p).matches(&name));
        for text in ["", "\u{202e}fdp.exe", "a\u{0}b", "\u{1b}[2J", "日本/語"] {
            for p in ["*", "?", "[!x]*", "**/*", "\\*"] {
                let _ = g(p).matches(text);
                let _ = gp(p).matches(text);
            }
        }
        assert!(g("*fdp.exe").matches("invoice\u{202e}fdp.exe"));
    }

    #[test]
    fn lineage_is_transitive_and_excludes_the_target() {
        let d: Vec<(u64, Vec<u64>)> =
            vec![(5, vec![2]), (6, vec![5]), (7, vec![3]), (9, vec![3, 6])];
        let set = descendants(2, d.iter().map(|(i, p)| (*i, &p[..])));
        assert_eq!(set.into_iter().collect::<Vec<_>>(), vec![5, 6, 9]);
        let none = descendants(9, d.iter().map(|(i, p)| (*i, &p[..])));
        assert!(none.is_empty());
    }

    #[test]
    fn index_lists() {
        assert_eq!(index_list(&[3, 9]), "3, 9");
        let many: Vec<u64> = (0..12).collect();
        assert_eq!(index_list(&many), "0, 1, 2, 3, 4, 5, 6, 7, 8, 9 and 2 more");
    }

    #[test]
    fn refs() {
        assert_eq!(RefForm::of("12"), RefForm::Index);
        assert_eq!(RefForm::of("ab12"), RefForm::Digest);
        assert_eq!(RefForm::of("abc"), RefForm::Digest);
        assert_eq!(RefForm::of("memo.pdf"), RefForm::Name("memo.pdf"));
        assert_eq!(RefForm::of("docs/memo.pdf"), RefForm::Path("docs/memo.pdf"));
        assert_eq!(RefForm::of("name:cafe"), RefForm::Name("cafe"));
        assert_eq!(RefForm::of("name:a/b"), RefForm::Name("a/b"));
        assert_eq!(RefForm::of("path:2024"), RefForm::Path("2024"));
        assert_eq!(RefForm::of(""), RefForm::Name(""));
    }
}
