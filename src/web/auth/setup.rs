//! The first start's one-time setup code: when no account exists, the daemon makes one,
//! writes it to the journal (`announce`), and the web page's setup form asks for it before
//! creating the first installer. Valid until used or until the daemon stops. Owns the code
//! and its check (constant time; spaces, dashes and case ignored). Never creates the account
//! itself, and never reads the database: the caller checks that no account exists, and
//! rate-limits attempts with `ratelimit` like logins.

use std::sync::Mutex;

use subtle::ConstantTimeEq;

use super::sessions::RandomError;

/// Letters and digits nobody confuses (no 0/O, 1/I/L, 5/S, 2/Z, 8/B).
const ALPHABET: &[u8] = b"ACDEFGHJKMNPQRTUVWXY34679";
const GROUPS: usize = 3;
const GROUP_LEN: usize = 4;

pub struct SetupCode {
    /// The code without separators; `None` once used.
    code: Mutex<Option<String>>,
}

impl std::fmt::Debug for SetupCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SetupCode(..)")
    }
}

impl SetupCode {
    /// A new random code.
    pub fn generate() -> Result<SetupCode, RandomError> {
        let mut code = String::with_capacity(GROUPS * GROUP_LEN);
        // Rejection sampling: every letter equally likely.
        let limit = 256 - 256 % ALPHABET.len();
        while code.len() < GROUPS * GROUP_LEN {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
            for b in bytes {
                if (b as usize) < limit && code.len() < GROUPS * GROUP_LEN {
                    code.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                }
            }
        }
        Ok(SetupCode::from_code(&code))
    }

    fn from_code(code: &str) -> SetupCode {
        SetupCode {
            code: Mutex::new(Some(normalize(code))),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<String>> {
        self.code.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The code as shown to people (`ABCD-EFGH-JKMN`), while unused.
    pub fn display(&self) -> Option<String> {
        self.lock().as_ref().map(|c| {
            c.as_bytes()
                .chunks(GROUP_LEN)
                .map(|g| String::from_utf8_lossy(g).into_owned())
                .collect::<Vec<_>>()
                .join("-")
        })
    }

    /// Writes the code to the journal, once, at start.
    pub fn announce(&self) {
        if let Some(code) = self.display() {
            log::warn!(
                "no account exists yet: open the local web page and enter the one-time setup code {code} to create the first installer account (valid until used or until sitegate restarts; or use `sitegate account add`)"
            );
        }
    }

    /// Whether `submitted` is the code, still unused (spaces, dashes and case ignored).
    pub fn matches(&self, submitted: &str) -> bool {
        let submitted = normalize(submitted);
        self.lock()
            .as_ref()
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(submitted.as_bytes())))
    }

    /// Uses the code: true (and the code is spent) when `submitted` is it. Call once the first
    /// account is committed, or just before creating it.
    pub fn consume(&self, submitted: &str) -> bool {
        let submitted = normalize(submitted);
        let mut code = self.lock();
        let ok = code
            .as_ref()
            .is_some_and(|c| bool::from(c.as_bytes().ct_eq(submitted.as_bytes())));
        if ok {
            *code = None;
        }
        ok
    }

    /// Whether the code was used.
    pub fn is_used(&self) -> bool {
        self.lock().is_none()
    }
}

fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_three_groups_of_four_unambiguous_characters() {
        let a = SetupCode::generate().unwrap().display().unwrap();
        let b = SetupCode::generate().unwrap().display().unwrap();
        assert_ne!(a, b);
        let groups: Vec<&str> = a.split('-').collect();
        assert_eq!(groups.len(), 3, "{a}");
        assert!(groups.iter().all(|g| g.len() == 4));
        assert!(a.bytes().all(|c| c == b'-' || ALPHABET.contains(&c)), "{a}");
    }

    #[test]
    fn the_code_matches_whatever_the_case_and_separators_and_only_once() {
        let s = SetupCode::from_code("ACDE-FGHJ-KMNP");
        assert!(s.matches("acde fghj kmnp"));
        assert!(!s.matches("ACDE-FGHJ-KMNQ"));
        assert!(!s.matches(""));
        assert!(!s.consume("ACDEFGHJKMN"));
        assert!(!s.is_used());
        assert!(s.consume("ACDEFGHJKMNP"));
        assert!(s.is_used());
        assert!(!s.matches("ACDE-FGHJ-KMNP"));
        assert!(!s.consume("ACDE-FGHJ-KMNP"));
        assert_eq!(s.display(), None);
    }
}
