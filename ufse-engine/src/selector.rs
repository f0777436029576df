//! Matching "ignore selectors" against a click's `sel` path.
//!
//! An ignore selector is a simple selector — `tag`, `#id`, `.cls` or a
//! compound of them such as `button.close` — and matches when any level of
//! the click's path (`tag#id.cls1.cls2 > ...`) has that tag, that id and all
//! those classes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One parsed compound selector.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Compound {
    tag: Option<String>,
    id: Option<String>,
    classes: Vec<String>,
}

impl Compound {
    fn parse(s: &str) -> Compound {
        let mut c = Compound::default();
        let mut rest = s.trim();
        let take = |r: &str| -> usize { r.find(['#', '.']).unwrap_or(r.len()) };
        let n = take(rest);
        if n > 0 {
            c.tag = Some(rest[..n].to_ascii_lowercase());
        }
        rest = &rest[n..];
        while let Some(mark) = rest.chars().next() {
            let body = &rest[1..];
            let n = take(body);
            let name = body[..n].to_owned();
            if mark == '#' {
                c.id = Some(name);
            } else {
                c.classes.push(name);
            }
            rest = &body[n..];
        }
        c
    }

    /// `self` (the pattern) matches `level` (one level of a path).
    fn matches(&self, level: &Compound) -> bool {
        self.tag.as_ref().is_none_or(|t| level.tag.as_ref() == Some(t))
            && self.id.as_ref().is_none_or(|i| level.id.as_ref() == Some(i))
            && self.classes.iter().all(|c| level.classes.contains(c))
    }
}

/// A list of ignore selectors; serialized as a list of strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectorList {
    source: Vec<String>,
    parsed: Vec<Compound>,
}

impl SelectorList {
    /// Parses a list of simple selectors.
    pub fn new<S: AsRef<str>>(selectors: &[S]) -> Self {
        let source: Vec<String> = selectors.iter().map(|s| s.as_ref().trim().to_owned()).collect();
        let parsed = source.iter().filter(|s| !s.is_empty()).map(|s| Compound::parse(s)).collect();
        SelectorList { source, parsed }
    }

    /// True when any selector matches any level of `path`.
    pub fn matches(&self, path: &str) -> bool {
        !self.parsed.is_empty()
            && path.split('>').map(Compound::parse).any(|level| self.parsed.iter().any(|p| p.matches(&level)))
    }
}

impl Serialize for SelectorList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.source.serialize(s)
    }
}

impl<'de> Deserialize<'de> for SelectorList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(SelectorList::new(&Vec::<String>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_any_level_by_tag_id_and_classes() {
        let path = "div.cart.wide > button#checkout.btn.primary";
        assert!(SelectorList::new(&["button"]).matches(path));
        assert!(SelectorList::new(&["#checkout"]).matches(path));
        assert!(SelectorList::new(&[".cart"]).matches(path));
        assert!(SelectorList::new(&["button.btn.primary"]).matches(path));
        assert!(SelectorList::new(&["span", "div.wide"]).matches(path));
        assert!(!SelectorList::new(&["button.cart"]).matches(path));
        assert!(!SelectorList::new(&["a"]).matches(path));
        assert!(!SelectorList::new::<&str>(&[]).matches(path));
        // A class that is a prefix of another does not match it.
        assert!(!SelectorList::new(&[".car"]).matches(path));
    }
}
