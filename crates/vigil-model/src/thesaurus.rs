//! Controlled vocabularies for violation types and act types (HURIDOCS
//! micro-thesauri), with labels in several languages.
//!
//! Vigil ships a default thesaurus (`thesaurus/default.json`, compiled in);
//! an organisation may add its own terms with [`Thesaurus::extend`]. Incidents
//! store only the stable [`TermCode`], never a label, so relabelling or
//! translating a term never changes recorded data.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// The stable code of a thesaurus term, e.g. `arbitrary_detention`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(transparent)]
pub struct TermCode(pub String);

impl TermCode {
    /// Wraps a code.
    pub fn new(code: impl Into<String>) -> Self {
        Self(code.into())
    }

    /// The code as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TermCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for TermCode {
    fn from(code: &str) -> Self {
        Self(code.to_owned())
    }
}

/// Which vocabulary a term belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(rename_all = "snake_case")]
pub enum TermKind {
    /// A type of human-rights violation, classifying a whole incident.
    Violation,
    /// A type of act committed by a perpetrator against a victim.
    Act,
}

impl TermKind {
    /// The English name of the kind, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            TermKind::Violation => "violation",
            TermKind::Act => "act",
        }
    }
}

/// One term of the thesaurus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Term {
    /// Stable code stored in incidents.
    pub code: TermCode,
    /// Violation type or act type.
    pub kind: TermKind,
    /// Labels by language code (`en`, `ru`, `ky`, ...). `en` is required.
    pub labels: BTreeMap<String, String>,
    /// A broader term of the same kind, if any.
    #[serde(default)]
    pub parent: Option<TermCode>,
}

/// Why custom terms could not be added. Nothing is added when any term is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThesaurusError {
    /// A term's code is already used by a term of the other kind.
    #[error(
        "term code {code:?} is already used for an {existing} type; choose a different code for the new {new} type"
    )]
    KindConflict {
        /// The clashing code.
        code: TermCode,
        /// Kind of the term already in the thesaurus.
        existing: &'static str,
        /// Kind of the term being added.
        new: &'static str,
    },
    /// A term's code is empty or contains whitespace.
    #[error("term code {code:?} is not valid: use letters, digits, '_' or '.' with no spaces")]
    InvalidCode {
        /// The rejected code.
        code: TermCode,
    },
    /// A term has no English label, which every language falls back to.
    #[error("term {code:?} has no English (\"en\") label; add one")]
    MissingEnglishLabel {
        /// The term's code.
        code: TermCode,
    },
    /// A term's parent is not in the thesaurus, or is of the other kind.
    #[error("term {code:?} names parent {parent:?}, which is not a term of the same kind")]
    BadParent {
        /// The term's code.
        code: TermCode,
        /// The parent it names.
        parent: TermCode,
    },
}

/// A set of violation and act terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thesaurus {
    terms: BTreeMap<TermCode, Term>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThesaurusFile {
    terms: Vec<Term>,
}

const DEFAULT_JSON: &str = include_str!("../thesaurus/default.json");

fn shipped() -> &'static Thesaurus {
    static SHIPPED: OnceLock<Thesaurus> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        // The file is compiled in and checked by this module's tests, so a
        // failure here is a build defect, not something a user can cause.
        let file: ThesaurusFile = serde_json::from_str(DEFAULT_JSON)
            .expect("thesaurus/default.json is valid (checked by tests)");
        Thesaurus {
            terms: file
                .terms
                .into_iter()
                .map(|t| (t.code.clone(), t))
                .collect(),
        }
    })
}

impl Default for Thesaurus {
    fn default() -> Self {
        Self::default_terms()
    }
}

impl Thesaurus {
    /// The thesaurus shipped with Vigil.
    pub fn default_terms() -> Self {
        shipped().clone()
    }

    /// A thesaurus with no terms.
    pub fn empty() -> Self {
        Self {
            terms: BTreeMap::new(),
        }
    }

    /// Adds custom terms. A code that already exists with the same kind is
    /// replaced (labels may be corrected or translated); a code that exists
    /// with the other kind is an error. All-or-nothing.
    pub fn extend(&mut self, terms: impl IntoIterator<Item = Term>) -> Result<(), ThesaurusError> {
        let mut merged = self.terms.clone();
        let mut added = Vec::new();
        for term in terms {
            let code = &term.code;
            if code.0.is_empty() || code.0.chars().any(char::is_whitespace) {
                return Err(ThesaurusError::InvalidCode { code: code.clone() });
            }
            if term.labels.get("en").is_none_or(|l| l.trim().is_empty()) {
                return Err(ThesaurusError::MissingEnglishLabel { code: code.clone() });
            }
            if let Some(existing) = merged.get(code)
                && existing.kind != term.kind
            {
                return Err(ThesaurusError::KindConflict {
                    code: code.clone(),
                    existing: existing.kind.as_str(),
                    new: term.kind.as_str(),
                });
            }
            added.push(code.clone());
            merged.insert(code.clone(), term);
        }
        for code in &added {
            let term = &merged[code];
            if let Some(parent) = &term.parent
                && merged.get(parent).is_none_or(|p| p.kind != term.kind)
            {
                return Err(ThesaurusError::BadParent {
                    code: code.clone(),
                    parent: parent.clone(),
                });
            }
        }
        self.terms = merged;
        Ok(())
    }

    /// The term with this code, if any.
    pub fn get(&self, code: &TermCode) -> Option<&Term> {
        self.terms.get(code)
    }

    /// The label of `code` in `lang`, falling back to English, then to the
    /// code itself for a term this thesaurus does not know.
    pub fn label<'a>(&'a self, code: &'a TermCode, lang: &str) -> &'a str {
        match self.terms.get(code) {
            Some(term) => term
                .labels
                .get(lang)
                .or_else(|| term.labels.get("en"))
                .map_or(code.as_str(), String::as_str),
            None => code.as_str(),
        }
    }

    /// All terms of one kind, in code order.
    pub fn terms(&self, kind: TermKind) -> impl Iterator<Item = &Term> {
        self.terms.values().filter(move |t| t.kind == kind)
    }

    /// Number of terms of both kinds.
    pub fn len(&self) -> usize {
        self.terms.len()
    }

    /// Whether there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn term(code: &str, kind: TermKind) -> Term {
        Term {
            code: code.into(),
            kind,
            labels: BTreeMap::from([("en".into(), format!("Label {code}"))]),
            parent: None,
        }
    }

    #[test]
    fn every_shipped_term_has_english_and_russian_labels() {
        let file: ThesaurusFile = serde_json::from_str(DEFAULT_JSON).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for t in &file.terms {
            assert!(seen.insert(t.code.clone()), "duplicate code {}", t.code);
            for lang in ["en", "ru"] {
                let label = t.labels.get(lang);
                assert!(
                    label.is_some_and(|l| !l.trim().is_empty()),
                    "{} lacks a {lang} label",
                    t.code
                );
            }
            assert!(
                t.code.0.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                t.code
            );
        }
        let thesaurus = Thesaurus::default_terms();
        for t in &file.terms {
            if let Some(parent) = &t.parent {
                assert_eq!(thesaurus.get(parent).unwrap().kind, t.kind, "{}", t.code);
            }
        }
        assert!(thesaurus.terms(TermKind::Violation).count() >= 25);
        assert!(thesaurus.terms(TermKind::Act).count() >= 20);
    }

    #[test]
    fn labels_fall_back_to_english_then_code() {
        let t = Thesaurus::default_terms();
        let code = TermCode::new("arbitrary_detention");
        assert_eq!(t.label(&code, "en"), "Arbitrary detention");
        assert_eq!(t.label(&code, "ru"), "Произвольное задержание");
        assert_eq!(t.label(&code, "fr"), "Arbitrary detention");
        let unknown = TermCode::new("no_such_term");
        assert_eq!(t.label(&unknown, "ru"), "no_such_term");
    }

    #[test]
    fn extend_adds_and_rejects_kind_conflicts_atomically() {
        let mut t = Thesaurus::default_terms();
        let before = t.len();
        t.extend([term("land_grabbing", TermKind::Violation)])
            .unwrap();
        assert_eq!(t.len(), before + 1);

        let err = t
            .extend([
                term("custom_ok", TermKind::Act),
                term("arbitrary_detention", TermKind::Act),
            ])
            .unwrap_err();
        assert!(matches!(err, ThesaurusError::KindConflict { .. }));
        assert!(
            t.get(&"custom_ok".into()).is_none(),
            "nothing added on error"
        );

        let mut relabel = term("beating", TermKind::Act);
        relabel
            .labels
            .insert("en".into(), "Beating (custom)".into());
        t.extend([relabel]).unwrap();
        assert_eq!(t.label(&"beating".into(), "en"), "Beating (custom)");
    }

    #[test]
    fn extend_checks_labels_codes_and_parents() {
        let mut t = Thesaurus::empty();
        let mut no_en = term("x", TermKind::Act);
        no_en.labels.clear();
        assert!(matches!(
            t.extend([no_en]),
            Err(ThesaurusError::MissingEnglishLabel { .. })
        ));
        assert!(matches!(
            t.extend([term("a b", TermKind::Act)]),
            Err(ThesaurusError::InvalidCode { .. })
        ));
        let mut child = term("child", TermKind::Act);
        child.parent = Some("parent".into());
        assert!(matches!(
            t.extend([child.clone()]),
            Err(ThesaurusError::BadParent { .. })
        ));
        t.extend([child, term("parent", TermKind::Act)]).unwrap();
    }
}
