//! Collecting every problem in an input before refusing it. Config files and device profiles are
//! validated in full, and each problem carries the key path of the value at fault
//! (`socket[3].unit_id`), so an installer fixes a file in one pass instead of one error per restart.
//! Owns the path bookkeeping and the "deserialize as much as possible" helper; never decides what
//! is valid (each validator does).

use std::fmt;

use serde::de::DeserializeOwned;

/// One thing wrong with an input, at a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `file: key.path[3].field`, or just the key path.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Problems found so far, in the order found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Problems(Vec<Problem>);

impl Problems {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// Prefixes every problem's path, for problems found inside an included file.
    pub fn prefixed(self, prefix: &str) -> Problems {
        Problems(
            self.0
                .into_iter()
                .map(|p| Problem {
                    path: if p.path.is_empty() {
                        prefix.to_string()
                    } else {
                        format!("{prefix}: {}", p.path)
                    },
                    message: p.message,
                })
                .collect(),
        )
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    /// `Ok(value)` when nothing was found, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Problems> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Joins a key path and a child key: `join("socket[2]", "relay")` is `socket[2].relay`.
pub fn join(parent: &str, child: &str) -> String {
    if parent.is_empty() {
        child.to_string()
    } else if child.is_empty() {
        parent.to_string()
    } else if child.starts_with('[') {
        format!("{parent}{child}")
    } else {
        format!("{parent}.{child}")
    }
}

/// Deserializes `value` into a raw struct (whose serde derive denies unknown fields), reporting
/// every unknown key rather than only the first: each unknown key is recorded, removed and the
/// attempt repeated. Any other error (wrong type, missing key) is recorded and ends the attempt.
pub fn deserialize_collecting<T: DeserializeOwned>(
    mut value: toml::Value,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    // Bounded: each round removes one key, so a table cannot loop for ever.
    for _ in 0..64 {
        let err = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let at = error_path(err.path());
        let message = err.inner().to_string();
        if let Some(field) = unknown_field_name(&message) {
            // The error's path ends with the unknown key itself.
            problems.push(join(path, &at), "unknown key");
            if remove_key(&mut value, err.path(), &field) {
                continue;
            }
            return None;
        }
        problems.push(join(path, &at), clean_message(&message));
        return None;
    }
    None
}

/// serde_path_to_error's path as our key-path syntax (`socket[2].relay`).
fn error_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => out = join(&out, key),
            Segment::Unknown => {}
        }
    }
    out
}

fn unknown_field_name(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// Removes `field` from the table found at `path` inside `value`.
fn remove_key(value: &mut toml::Value, path: &serde_path_to_error::Path, field: &str) -> bool {
    use serde_path_to_error::Segment;
    let segments: Vec<_> = path.iter().collect();
    let Some((_, parents)) = segments.split_last() else {
        return false;
    };
    let mut cur = value;
    for seg in parents {
        cur = match (*seg, cur) {
            (Segment::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
                Some(v) => v,
                None => return false,
            },
            (Segment::Map { key }, toml::Value::Table(t)) => match t.get_mut(key.as_str()) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match cur {
        toml::Value::Table(t) => t.remove(field).is_some(),
        _ => false,
    }
}

/// Serde's messages name Rust types; installers read TOML.
fn clean_message(message: &str) -> String {
    message
        .replace("invalid type: ", "")
        .replace("expected u8", "expected an integer 0..=255")
        .replace("expected u16", "expected an integer 0..=65535")
        .replace("expected u32", "expected a non-negative integer")
        .replace("expected f64", "expected a number")
        .replace("expected a string", "expected a text value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        a: u8,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        inner: Option<Inner>,
    }

    fn parse(text: &str) -> (Option<Outer>, Problems) {
        let mut problems = Problems::new();
        let value: toml::Value = toml::from_str(text).unwrap();
        (
            deserialize_collecting(value, "socket[1]", &mut problems),
            problems,
        )
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_path() {
        let (v, p) = parse("name = 'x'\nbogus = 1\nother = 2\n[inner]\na = 1\nzzz = 3\n");
        assert!(v.is_some(), "the rest still parses");
        let text = p.to_string();
        assert!(text.contains("socket[1].bogus: unknown key"), "{text}");
        assert!(text.contains("socket[1].other: unknown key"), "{text}");
        assert!(text.contains("socket[1].inner.zzz: unknown key"), "{text}");
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn a_wrong_type_names_the_key() {
        let (v, p) = parse("name = 'x'\n[inner]\na = 'seven'\n");
        assert!(v.is_none());
        assert_eq!(p.iter().next().unwrap().path, "socket[1].inner.a");
    }
}
