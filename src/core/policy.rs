//! C2SP tlog-policy: which logs are trusted and which witness cosignatures
//! make a checkpoint believable (the quorum).
//!
//! (C2SP `tlog-policy.md`, the Sigsum policy grammar with vkeys instead of raw
//! keys.) One statement per line; `#` starts a comment; blank lines are
//! ignored; tokens are separated by spaces or tabs:
//!
//! ```text
//! log <vkey> [<url>]
//! witness <name> <vkey> [<url>]
//! group <name> all|any|<k> <name>...
//! quorum <name>|none
//! ```
//!
//! Parsing is strict and bounded (`docs/FORMAT.md` §11.6): unknown keywords,
//! duplicate names or keys, names used before they are defined, `k` outside
//! 1..=members, a missing or repeated `quorum` line and oversized input are
//! errors. Because a group may only name witnesses and groups defined on
//! earlier lines, the group graph cannot have a cycle, and it is evaluated in
//! definition order without recursion.
//!
//! ```
//! use custody::core::keys::SignerKey;
//! use custody::core::policy::Policy;
//!
//! let a = SignerKey::generate("a.example/witness").unwrap().cosigner_verifier();
//! let b = SignerKey::generate("b.example/witness").unwrap().cosigner_verifier();
//! let text = format!("witness A {a}\nwitness B {b}\ngroup both all A B\nquorum both\n");
//! let p = Policy::parse(&text).unwrap();
//! assert_eq!(p.witness_keys().len(), 2);
//! assert!(!p.evaluate(&[]).satisfied);
//! ```

use std::collections::HashMap;

use crate::core::checkpoint::WitnessCosignature;
use crate::core::keys::{SigAlg, VerifierKey};
use crate::core::redact::quote;

/// Largest policy text accepted.
pub const MAX_POLICY_BYTES: usize = 64 * 1024;
/// Largest number of `log`, `witness` and `group` statements together.
pub const MAX_ENTRIES: usize = 256;
/// Largest number of members of one group.
pub const MAX_GROUP_MEMBERS: usize = 64;

/// Why a policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    #[error("policy is larger than {MAX_POLICY_BYTES} bytes")]
    TooLarge,
    #[error("policy has more than {MAX_ENTRIES} entries")]
    TooManyEntries,
    /// `keyword` is already quoted for messages ([`crate::core::redact::quote`]).
    #[error("policy line {line}: unknown keyword {keyword}")]
    UnknownKeyword { line: usize, keyword: String },
    #[error("policy line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("policy line {line}: bad vkey: {reason}")]
    BadKey { line: usize, reason: String },
    #[error("policy line {line}: {} is already defined", quote(.name))]
    DuplicateName { line: usize, name: String },
    #[error("policy line {line}: the key of {} is listed twice", quote(.name))]
    DuplicateKey { line: usize, name: String },
    #[error("policy line {line}: {} is not defined on an earlier line", quote(.name))]
    UndefinedName { line: usize, name: String },
    #[error("policy line {line}: threshold {k} is not between 1 and {members}")]
    ThresholdOutOfRange {
        line: usize,
        k: usize,
        members: usize,
    },
    #[error("policy has no `quorum` line")]
    MissingQuorum,
    #[error("policy line {line}: a second `quorum` line")]
    DuplicateQuorum { line: usize },
    #[error("quorum {k} is larger than the {n} witnesses given")]
    QuorumTooLarge { k: usize, n: usize },
}

/// A witness of the policy: its policy-local name and its `cosignature/v1` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyWitness {
    pub name: String,
    pub key: VerifierKey,
    pub url: Option<String>,
}

/// A member of a group: index into the witnesses or into the groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Member {
    Witness(usize),
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Group {
    name: String,
    /// How many members must be satisfied (1..=members.len()).
    k: usize,
    members: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quorum {
    None,
    Member(Member),
}

/// A parsed, validated tlog-policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    logs: Vec<VerifierKey>,
    log_urls: Vec<Option<String>>,
    witnesses: Vec<PolicyWitness>,
    groups: Vec<Group>,
    quorum: Quorum,
}

/// The result of checking verified cosignatures against a policy.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuorumOutcome {
    /// True when the quorum rule holds.
    pub satisfied: bool,
    /// Policy names of the witnesses whose cosignature was among those given.
    pub cosigned_by: Vec<String>,
    /// What the rule requires, for people (e.g. "2 of 3 witnesses").
    pub required: String,
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// The state of [`Policy::parse`]: the policy so far and the names defined.
struct Parser {
    p: Policy,
    names: HashMap<String, Member>,
    quorum_seen: bool,
}

fn syntax(line: usize, reason: &str) -> PolicyError {
    PolicyError::Syntax {
        line,
        reason: reason.to_string(),
    }
}

impl Parser {
    /// One non-empty line: keyword `kw` and its arguments.
    fn line(&mut self, line: usize, kw: &str, args: &[&str]) -> Result<(), PolicyError> {
        let p = &self.p;
        if kw != "quorum" && p.logs.len() + p.witnesses.len() + p.groups.len() >= MAX_ENTRIES {
            return Err(PolicyError::TooManyEntries);
        }
        match kw {
            "log" => self.log(line, args),
            "witness" => self.witness(line, args),
            "group" => self.group(line, args),
            "quorum" => self.quorum(line, args),
            other => Err(PolicyError::UnknownKeyword {
                line,
                keyword: quote(other),
            }),
        }
    }

    /// `log <vkey> [<url>]`.
    fn log(&mut self, line: usize, args: &[&str]) -> Result<(), PolicyError> {
        let (vkey, url) = match args {
            [v] => (*v, None),
            [v, u] => (*v, Some(u.to_string())),
            _ => return Err(syntax(line, "expected `log <vkey> [<url>]`")),
        };
        let key = parse_key(line, vkey, SigAlg::Ed25519)?;
        if self
            .p
            .logs
            .iter()
            .any(|k| k.public_bytes() == key.public_bytes())
        {
            return Err(PolicyError::DuplicateKey {
                line,
                name: key.name().to_string(),
            });
        }
        self.p.logs.push(key);
        self.p.log_urls.push(url);
        Ok(())
    }

    /// `witness <name> <vkey> [<url>]`.
    fn witness(&mut self, line: usize, args: &[&str]) -> Result<(), PolicyError> {
        let (name, vkey, url) = match args {
            [n, v] => (*n, *v, None),
            [n, v, u] => (*n, *v, Some(u.to_string())),
            _ => return Err(syntax(line, "expected `witness <name> <vkey> [<url>]`")),
        };
        check_new_name(line, name, &self.names)?;
        let key = parse_key(line, vkey, SigAlg::CosignatureV1)?;
        if self
            .p
            .witnesses
            .iter()
            .any(|w| w.key.public_bytes() == key.public_bytes())
        {
            return Err(PolicyError::DuplicateKey {
                line,
                name: name.to_string(),
            });
        }
        self.names
            .insert(name.to_string(), Member::Witness(self.p.witnesses.len()));
        self.p.witnesses.push(PolicyWitness {
            name: name.to_string(),
            key,
            url,
        });
        Ok(())
    }

    /// `group <name> all|any|<k> <name>...`.
    fn group(&mut self, line: usize, args: &[&str]) -> Result<(), PolicyError> {
        let [name, threshold, members @ ..] = args else {
            return Err(syntax(
                line,
                "expected `group <name> all|any|<k> <name>...`",
            ));
        };
        check_new_name(line, name, &self.names)?;
        if members.is_empty() {
            return Err(syntax(line, "a group needs at least one member"));
        }
        if members.len() > MAX_GROUP_MEMBERS {
            return Err(syntax(line, "too many group members"));
        }
        let mut ms = Vec::with_capacity(members.len());
        for m in members.iter() {
            let found = *self
                .names
                .get(*m)
                .ok_or_else(|| PolicyError::UndefinedName {
                    line,
                    name: m.to_string(),
                })?;
            if ms.contains(&found) {
                return Err(syntax(
                    line,
                    &format!("member {} is listed twice", quote(m)),
                ));
            }
            ms.push(found);
        }
        let k = threshold_of(line, threshold, ms.len())?;
        self.names
            .insert(name.to_string(), Member::Group(self.p.groups.len()));
        self.p.groups.push(Group {
            name: name.to_string(),
            k,
            members: ms,
        });
        Ok(())
    }

    /// `quorum <name>|none`.
    fn quorum(&mut self, line: usize, args: &[&str]) -> Result<(), PolicyError> {
        if self.quorum_seen {
            return Err(PolicyError::DuplicateQuorum { line });
        }
        self.quorum_seen = true;
        let [name] = args else {
            return Err(syntax(line, "expected `quorum <name>|none`"));
        };
        self.p.quorum =
            if *name == "none" {
                Quorum::None
            } else {
                Quorum::Member(*self.names.get(*name).ok_or_else(|| {
                    PolicyError::UndefinedName {
                        line,
                        name: name.to_string(),
                    }
                })?)
            };
        Ok(())
    }
}

/// A group's threshold: `all`, `any` or a canonical number from 1 to `members`.
fn threshold_of(line: usize, threshold: &str, members: usize) -> Result<usize, PolicyError> {
    match threshold {
        "all" => Ok(members),
        "any" => Ok(1),
        t => {
            let k = crate::core::checkpoint::parse_canonical_u64(t)
                .and_then(|k| usize::try_from(k).ok())
                .ok_or_else(|| syntax(line, "threshold must be all, any or a number"))?;
            if k == 0 || k > members {
                return Err(PolicyError::ThresholdOutOfRange { line, k, members });
            }
            Ok(k)
        }
    }
}

impl Policy {
    /// Parses a tlog-policy text (see the module docs for the grammar).
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyError::TooLarge);
        }
        let mut parser = Parser {
            p: Policy {
                logs: Vec::new(),
                log_urls: Vec::new(),
                witnesses: Vec::new(),
                groups: Vec::new(),
                quorum: Quorum::None,
            },
            names: HashMap::new(),
            quorum_seen: false,
        };
        for (i, raw) in text.lines().enumerate() {
            let content = raw.split('#').next().unwrap_or("");
            let toks: Vec<&str> = content.split_whitespace().collect();
            if let Some((&kw, args)) = toks.split_first() {
                parser.line(i + 1, kw, args)?;
            }
        }
        if !parser.quorum_seen {
            return Err(PolicyError::MissingQuorum);
        }
        Ok(parser.p)
    }

    /// The policy as tlog-policy text: the `log` lines, the `witness` lines,
    /// the `group` lines in their order (thresholds as numbers), then the
    /// `quorum` line. For a policy [`Policy::parse`] returned, parsing this
    /// text gives an equal policy; comments, spacing and `all`/`any` of the
    /// original are not kept. (A [`Policy::from_witnesses`] policy names its
    /// witnesses by key names, which need not be policy names.)
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let url = |u: &Option<String>| u.as_ref().map(|u| format!(" {u}")).unwrap_or_default();
        for (k, u) in self.logs.iter().zip(&self.log_urls) {
            out.push_str(&format!("log {k}{}\n", url(u)));
        }
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {}{}\n", w.name, w.key, url(&w.url)));
        }
        let name = |m: &Member| match m {
            Member::Witness(i) => self.witnesses[*i].name.as_str(),
            Member::Group(i) => self.groups[*i].name.as_str(),
        };
        for g in &self.groups {
            out.push_str(&format!("group {} {}", g.name, g.k));
            for m in &g.members {
                out.push(' ');
                out.push_str(name(m));
            }
            out.push('\n');
        }
        match &self.quorum {
            Quorum::None => out.push_str("quorum none\n"),
            Quorum::Member(m) => out.push_str(&format!("quorum {}\n", name(m))),
        }
        out
    }

    /// `--witness VKEY… --quorum K`: K of the given witnesses (K=0 means none
    /// required). Each witness is named by its key name.
    pub fn from_witnesses(
        witnesses: Vec<VerifierKey>,
        quorum: usize,
    ) -> Result<Policy, PolicyError> {
        if quorum > witnesses.len() {
            return Err(PolicyError::QuorumTooLarge {
                k: quorum,
                n: witnesses.len(),
            });
        }
        if witnesses.len() > MAX_GROUP_MEMBERS {
            return Err(PolicyError::TooManyEntries);
        }
        let mut ws: Vec<PolicyWitness> = Vec::with_capacity(witnesses.len());
        for (i, key) in witnesses.into_iter().enumerate() {
            let line = i + 1;
            if key.alg() != SigAlg::CosignatureV1 {
                return Err(PolicyError::BadKey {
                    line,
                    reason: format!("{} is not a cosignature/v1 (alg 0x04) witness key", key),
                });
            }
            if ws
                .iter()
                .any(|w| w.key.public_bytes() == key.public_bytes())
            {
                return Err(PolicyError::DuplicateKey {
                    line,
                    name: key.name().to_string(),
                });
            }
            if ws.iter().any(|w| w.name == key.name()) {
                return Err(PolicyError::DuplicateName {
                    line,
                    name: key.name().to_string(),
                });
            }
            ws.push(PolicyWitness {
                name: key.name().to_string(),
                key,
                url: None,
            });
        }
        let (groups, quorum) = if quorum == 0 {
            (Vec::new(), Quorum::None)
        } else {
            (
                vec![Group {
                    name: "witnesses".into(),
                    k: quorum,
                    members: (0..ws.len()).map(Member::Witness).collect(),
                }],
                Quorum::Member(Member::Group(0)),
            )
        };
        Ok(Policy {
            logs: Vec::new(),
            log_urls: Vec::new(),
            witnesses: ws,
            groups,
            quorum,
        })
    }

    /// The trusted log keys (alg `0x01`); may be empty when the policy only
    /// states a witness quorum.
    pub fn log_keys(&self) -> &[VerifierKey] {
        &self.logs
    }

    /// The witnesses' `cosignature/v1` keys, to pass to `SignedCheckpoint::open`.
    pub fn witness_keys(&self) -> Vec<VerifierKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// The witnesses with their policy names.
    pub fn witnesses(&self) -> &[PolicyWitness] {
        &self.witnesses
    }

    /// Does the policy require any cosignature at all?
    pub fn requires_cosignatures(&self) -> bool {
        self.quorum != Quorum::None
    }

    /// The log key of the policy for `origin` (C2SP tlog-policy: the log key
    /// name must equal the checkpoint origin).
    pub fn log_key_for(&self, origin: &str) -> Option<&VerifierKey> {
        self.logs.iter().find(|k| k.name() == origin)
    }

    /// Checks cosignatures that already verified (from `SignedCheckpoint::open`
    /// with [`Policy::witness_keys`]) against the quorum rule.
    pub fn evaluate(&self, verified: &[WitnessCosignature]) -> QuorumOutcome {
        let wsat: Vec<bool> = self
            .witnesses
            .iter()
            .map(|w| verified.iter().any(|v| w.key.matches(&v.name, v.key_id)))
            .collect();
        // Groups only name earlier entries, so one pass in order suffices.
        let mut gsat: Vec<bool> = Vec::with_capacity(self.groups.len());
        for g in &self.groups {
            let n = g
                .members
                .iter()
                .filter(|m| match m {
                    Member::Witness(i) => wsat[*i],
                    Member::Group(i) => gsat[*i],
                })
                .count();
            gsat.push(n >= g.k);
        }
        let satisfied = match self.quorum {
            Quorum::None => true,
            Quorum::Member(Member::Witness(i)) => wsat[i],
            Quorum::Member(Member::Group(i)) => gsat[i],
        };
        QuorumOutcome {
            satisfied,
            cosigned_by: self
                .witnesses
                .iter()
                .zip(&wsat)
                .filter(|(_, s)| **s)
                .map(|(w, _)| w.name.clone())
                .collect(),
            required: self.describe(),
        }
    }

    /// A one-line description of the quorum rule.
    pub fn describe(&self) -> String {
        match self.quorum {
            Quorum::None => "no witness cosignature".into(),
            Quorum::Member(Member::Witness(i)) => {
                format!("a cosignature by witness {}", self.witnesses[i].name)
            }
            Quorum::Member(Member::Group(i)) => {
                let g = &self.groups[i];
                let all_witnesses = g.members.iter().all(|m| matches!(m, Member::Witness(_)));
                if all_witnesses {
                    format!("{} of {} witnesses", g.k, g.members.len())
                } else {
                    let names: Vec<&str> = g
                        .members
                        .iter()
                        .map(|m| match m {
                            Member::Witness(i) => self.witnesses[*i].name.as_str(),
                            Member::Group(i) => self.groups[*i].name.as_str(),
                        })
                        .collect();
                    format!(
                        "{} of {} in group {} ({})",
                        g.k,
                        g.members.len(),
                        g.name,
                        names.join(", ")
                    )
                }
            }
        }
    }
}

fn check_new_name(
    line: usize,
    name: &str,
    names: &HashMap<String, Member>,
) -> Result<(), PolicyError> {
    if !is_name(name) || name == "none" || name == "all" || name == "any" {
        return Err(PolicyError::Syntax {
            line,
            reason: format!("{} is not a usable name", quote(name)),
        });
    }
    if names.contains_key(name) {
        return Err(PolicyError::DuplicateName {
            line,
            name: name.to_string(),
        });
    }
    Ok(())
}

fn parse_key(line: usize, vkey: &str, want: SigAlg) -> Result<VerifierKey, PolicyError> {
    let key = VerifierKey::parse(vkey).map_err(|e| PolicyError::BadKey {
        line,
        reason: e.to_string(),
    })?;
    if key.alg() != want {
        let what = match want {
            SigAlg::Ed25519 => "a log key must be an Ed25519 (alg 0x01) vkey",
            _ => "a witness key must be a cosignature/v1 (alg 0x04) vkey",
        };
        return Err(PolicyError::BadKey {
            line,
            reason: what.into(),
        });
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::keys::SignerKey;

    fn w(i: u8) -> SignerKey {
        SignerKey::from_seed(&format!("w{i}.example/witness"), &[i; 32]).unwrap()
    }
    fn cos(i: u8) -> WitnessCosignature {
        let v = w(i).cosigner_verifier();
        WitnessCosignature {
            name: v.name().to_string(),
            key_id: v.key_id(),
            timestamp: 1,
        }
    }
    fn log() -> VerifierKey {
        SignerKey::from_seed("log.example/log", &[99; 32])
            .unwrap()
            .verifier()
    }

    /// The sigsum-style layout of the reference (comments, URLs, aligned
    /// columns, `group partners 2 A B C`), written with C2SP vkeys.
    fn sigsum_style() -> String {
        format!(
            "# Policy for the partner outlets\n\
             log {log} https://log.example/\n\
             \n\
             # Witness operated by outlet A\n\
             witness A   {a} https://a.example/witness\n\
             witness B\t{b}\n\
             witness C   {c}   # trailing comment\n\
             witness D   {d}\n\
             group partners 2 A B C\n\
             group backup any D\n\
             group everyone all partners backup\n\
             quorum everyone\n",
            log = log(),
            a = w(1).cosigner_verifier(),
            b = w(2).cosigner_verifier(),
            c = w(3).cosigner_verifier(),
            d = w(4).cosigner_verifier(),
        )
    }

    #[test]
    fn parses_sigsum_style_policy_with_nested_groups() {
        let p = Policy::parse(&sigsum_style()).unwrap();
        assert_eq!(p.log_keys(), &[log()]);
        assert_eq!(p.witness_keys().len(), 4);
        assert_eq!(p.log_key_for("log.example/log"), Some(&log()));
        assert!(p.log_key_for("other").is_none());
        // Two partners but no backup: the nested `all` fails.
        let o = p.evaluate(&[cos(1), cos(2)]);
        assert!(!o.satisfied);
        assert_eq!(o.cosigned_by, vec!["A", "B"]);
        // One partner and the backup: `partners` needs 2.
        assert!(!p.evaluate(&[cos(1), cos(4)]).satisfied);
        let o = p.evaluate(&[cos(3), cos(1), cos(4)]);
        assert!(o.satisfied);
        assert_eq!(o.cosigned_by, vec!["A", "C", "D"]);
        assert!(o.required.contains("everyone"), "{}", o.required);
        // An unknown cosigner does not count.
        assert!(!p.evaluate(&[cos(7), cos(8), cos(4)]).satisfied);
    }

    #[test]
    fn quorum_none_and_single_witness() {
        let a = w(1).cosigner_verifier();
        let p = Policy::parse(&format!("witness A {a}\nquorum none\n")).unwrap();
        assert!(p.evaluate(&[]).satisfied);
        assert!(!p.requires_cosignatures());
        let p = Policy::parse(&format!("witness A {a}\nquorum A\n")).unwrap();
        assert!(!p.evaluate(&[]).satisfied);
        assert!(p.evaluate(&[cos(1)]).satisfied);
    }

    #[test]
    fn from_witnesses_k_of_n() {
        let keys: Vec<_> = (1..=3).map(|i| w(i).cosigner_verifier()).collect();
        let p = Policy::from_witnesses(keys.clone(), 2).unwrap();
        assert_eq!(p.describe(), "2 of 3 witnesses");
        assert!(!p.evaluate(&[cos(1)]).satisfied);
        assert!(p.evaluate(&[cos(1), cos(3)]).satisfied);
        let none = Policy::from_witnesses(keys.clone(), 0).unwrap();
        assert!(none.evaluate(&[]).satisfied);
        assert_eq!(
            Policy::from_witnesses(keys.clone(), 4),
            Err(PolicyError::QuorumTooLarge { k: 4, n: 3 })
        );
        assert!(matches!(
            Policy::from_witnesses(vec![keys[0].clone(), keys[0].clone()], 1),
            Err(PolicyError::DuplicateKey { .. })
        ));
        assert!(matches!(
            Policy::from_witnesses(vec![log()], 1),
            Err(PolicyError::BadKey { .. })
        ));
    }

    #[test]
    fn rejections() {
        let a = w(1).cosigner_verifier();
        let b = w(2).cosigner_verifier();
        type Want = fn(&PolicyError) -> bool;
        let cases: Vec<(String, Want)> = vec![
            (format!("witnes A {a}\nquorum A\n"), |e| {
                matches!(e, PolicyError::UnknownKeyword { line: 1, .. })
            }),
            (format!("witness A {a}\nwitness A {b}\nquorum A\n"), |e| {
                matches!(e, PolicyError::DuplicateName { line: 2, .. })
            }),
            (format!("witness A {a}\nwitness B {a}\nquorum A\n"), |e| {
                matches!(e, PolicyError::DuplicateKey { line: 2, .. })
            }),
            (format!("group g any A\nwitness A {a}\nquorum g\n"), |e| {
                matches!(e, PolicyError::UndefinedName { line: 1, .. })
            }),
            (format!("witness A {a}\ngroup g 2 A\nquorum g\n"), |e| {
                matches!(e, PolicyError::ThresholdOutOfRange { k: 2, .. })
            }),
            (format!("witness A {a}\ngroup g 0 A\nquorum g\n"), |e| {
                matches!(e, PolicyError::ThresholdOutOfRange { k: 0, .. })
            }),
            (format!("witness A {a}\ngroup g 01 A\nquorum g\n"), |e| {
                matches!(e, PolicyError::Syntax { .. })
            }),
            (format!("witness A {a}\ngroup g any A A\nquorum g\n"), |e| {
                matches!(e, PolicyError::Syntax { .. })
            }),
            (format!("witness A {a}\n"), |e| {
                matches!(e, PolicyError::MissingQuorum)
            }),
            (format!("witness A {a}\nquorum A\nquorum none\n"), |e| {
                matches!(e, PolicyError::DuplicateQuorum { line: 3 })
            }),
            (format!("witness A {}\nquorum A\n", log()), |e| {
                matches!(e, PolicyError::BadKey { .. })
            }),
            (format!("log {a}\nquorum none\n"), |e| {
                matches!(e, PolicyError::BadKey { .. })
            }),
            ("witness A notakey\nquorum A\n".into(), |e| {
                matches!(e, PolicyError::BadKey { .. })
            }),
            (format!("witness A {a} url extra\nquorum A\n"), |e| {
                matches!(e, PolicyError::Syntax { .. })
            }),
            // A group cannot name itself (no cycles: only earlier names).
            (format!("witness A {a}\ngroup g any A g\nquorum g\n"), |e| {
                matches!(e, PolicyError::UndefinedName { .. })
            }),
            ("quorum nobody\n".into(), |e| {
                matches!(e, PolicyError::UndefinedName { .. })
            }),
            (" ".repeat(MAX_POLICY_BYTES + 1), |e| {
                matches!(e, PolicyError::TooLarge)
            }),
        ];
        for (text, want) in cases {
            let e = Policy::parse(&text).unwrap_err();
            assert!(want(&e), "{text:?} gave {e:?}");
        }
        let many: String = (0..=MAX_ENTRIES)
            .map(|i| {
                let mut seed = [7u8; 32];
                seed[0] = i as u8;
                seed[1] = (i >> 8) as u8;
                let k = SignerKey::from_seed(&format!("w{i}"), &seed)
                    .unwrap()
                    .verifier();
                format!("log {k}\n")
            })
            .collect();
        assert!(matches!(
            Policy::parse(&(many + "quorum none\n")),
            Err(PolicyError::TooManyEntries)
        ));
    }
}
