//! Names of SecureDrop submissions (`custody ingest --securedrop`,
//! FORMAT.md §5.2): a file exported from the SecureDrop Workstation lies in,
//! or is, a component named `<n>-<designation>-<doc|msg|reply>` (for
//! example `2-abject_elephant-doc` or `1-abject-elephant-msg.txt`), where
//! `<n>` is the submission's number and `<designation>` the journalist
//! designation SecureDrop gave the source (not the source's own codename,
//! which journalists never see).

/// One submission, from its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    pub number: u64,
    /// The journalist designation, words separated by spaces: `abject elephant`.
    pub designation: String,
    /// `document`, `message` or `reply`.
    pub kind: &'static str,
}

/// The submission a file's relative path names: the last component that
/// is a submission name.
pub fn submission(rel: &str) -> Option<Submission> {
    rel.split('/').rev().find_map(component)
}

fn component(c: &str) -> Option<Submission> {
    let (num, rest) = c.split_once('-')?;
    if num.is_empty() || num.len() > 19 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let number = num.parse().ok()?;
    // `<designation>-<kind>`, the kind followed by nothing or an extension.
    for (tag, kind) in [
        ("-doc", "document"),
        ("-msg", "message"),
        ("-reply", "reply"),
    ] {
        let Some(at) = rest.rfind(tag) else { continue };
        let after = &rest[at + tag.len()..];
        if !(after.is_empty() || after.starts_with('.')) {
            continue;
        }
        let d = &rest[..at];
        let words: Vec<&str> = d.split(['_', '-']).collect();
        if words.len() >= 2
            && d.len() <= 128
            && words
                .iter()
                .all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
        {
            return Some(Submission {
                number,
                designation: words.join(" "),
                kind,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_names() {
        let s = |n: u64, d: &str, k| {
            Some(Submission {
                number: n,
                designation: d.into(),
                kind: k,
            })
        };
        assert_eq!(
            submission("1-abject_elephant-msg.txt"),
            s(1, "abject elephant", "message")
        );
        assert_eq!(
            submission("export_data/2-abject-elephant-doc/memo.pdf"),
            s(2, "abject elephant", "document")
        );
        assert_eq!(
            submission("12-ferocious_fly_trap-reply.gpg"),
            s(12, "ferocious fly trap", "reply")
        );
        for no in [
            "memo.pdf",
            "x-abject_elephant-doc",
            "1-abject-doc",
            "1-Abject_Elephant-doc",
            "1-abject_elephant-docs",
            "1--doc",
            "-abject_elephant-doc",
            "99999999999999999999-a_b-doc",
        ] {
            assert_eq!(submission(no), None, "{no}");
        }
    }
}
