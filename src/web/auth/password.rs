//! The password policy and argon2id hashing. Owns the rules a new password must pass (every
//! violated rule is reported, for the form's messages) and the PHC strings stored in
//! `accounts.password`. Never stores, logs or prints a password.
//!
//! The rules: at least 12 characters (at most 256, so hashing stays cheap); not one of the
//! common passwords of `common-passwords.txt`, nor one of them followed only by digits and
//! punctuation; not containing the username; not one character repeated, nor a short pattern
//! repeated; not a sequence (`abcdefghijkl`, `123456789012`, `987654321098`) or a keyboard row
//! (`qwertyuiopas`).

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Fewest characters a password may have.
pub const MIN_CHARS: usize = 12;
/// Most characters a password may have.
pub const MAX_CHARS: usize = 256;

static COMMON: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// Keyboard rows, typed forwards (a password inside one, or inside it reversed, is refused).
const KEYBOARD_WALKS: &[&str] = &[
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "qwertzuiopasdfghjklyxcvbnm",
    "1234567890qwertyuiopasdfghjklzxcvbnm",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
    "`1234567890-=",
    "~!@#$%^&*()_+",
];

/// One rule a password breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    TooShort,
    TooLong,
    Common,
    ContainsUsername,
    OneCharacter,
    RepeatedPattern,
    Sequence,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::TooShort => "it must have at least 12 characters",
            Rule::TooLong => "it must have at most 256 characters",
            Rule::Common => "it is one of the most common passwords",
            Rule::ContainsUsername => "it must not contain the username",
            Rule::OneCharacter => "it must not be one character repeated",
            Rule::RepeatedPattern => "it must not be a short pattern repeated",
            Rule::Sequence => "it must not be a sequence or a keyboard row",
        })
    }
}

/// Every rule a refused password breaks, in the order of `Rule`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub broken: Vec<Rule>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the password is refused: ")?;
        for (i, rule) in self.broken.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{rule}")?;
        }
        Ok(())
    }
}

/// Checks a new password for the account `username`; `Err` lists every rule it breaks.
pub fn check(password: &str, username: &str) -> Result<(), PolicyError> {
    let lower = password.to_lowercase();
    let chars: Vec<char> = lower.chars().collect();
    let mut broken = Vec::new();
    if chars.len() < MIN_CHARS {
        broken.push(Rule::TooShort);
    }
    if chars.len() > MAX_CHARS {
        broken.push(Rule::TooLong);
    }
    if is_common(&lower) {
        broken.push(Rule::Common);
    }
    let user = username.trim().to_lowercase();
    if user.chars().count() >= 3 && lower.contains(&user) {
        broken.push(Rule::ContainsUsername);
    }
    let one_char = !chars.is_empty() && chars.iter().all(|&c| c == chars[0]);
    if one_char {
        broken.push(Rule::OneCharacter);
    } else if is_repeated_pattern(&chars) {
        broken.push(Rule::RepeatedPattern);
    }
    if !one_char && chars.len() >= 3 && is_sequence(&chars) {
        broken.push(Rule::Sequence);
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(PolicyError { broken })
    }
}

/// In the list, or a listed word followed only by digits and punctuation.
fn is_common(lower: &str) -> bool {
    if COMMON.contains(lower) {
        return true;
    }
    let base = lower.trim_end_matches(|c: char| !c.is_alphabetic());
    !base.is_empty() && base != lower && COMMON.contains(base)
}

/// A pattern of 2 to 4 characters repeated over the whole password.
fn is_repeated_pattern(chars: &[char]) -> bool {
    (2..=4).any(|n| {
        chars.len() >= 2 * n
            && chars.len().is_multiple_of(n)
            && chars.chunks(n).all(|c| c == &chars[..n])
    })
}

/// Every step the same +1 or -1 (digits wrap: `…7890123`), or inside a keyboard walk.
fn is_sequence(chars: &[char]) -> bool {
    let step = |a: char, b: char| -> Option<i32> {
        if a.is_ascii_digit() && b.is_ascii_digit() {
            let d = (b as i32 - a as i32).rem_euclid(10);
            return match d {
                1 => Some(1),
                9 => Some(-1),
                _ => None,
            };
        }
        Some(b as i32 - a as i32)
    };
    let steps: Vec<Option<i32>> = chars.windows(2).map(|w| step(w[0], w[1])).collect();
    if steps.iter().all(|&s| s == Some(1)) || steps.iter().all(|&s| s == Some(-1)) {
        return true;
    }
    let text: String = chars.iter().collect();
    let reversed: String = chars.iter().rev().collect();
    KEYBOARD_WALKS.iter().any(|walk| {
        let twice = walk.repeat(1 + chars.len() / walk.len() + 1);
        twice.contains(&text) || twice.contains(&reversed)
    })
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// The argon2id PHC string of `password` (default parameters, random salt).
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed one).
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A valid hash of a password nobody knows: verifying a login for an unknown username against
/// it takes as long as for a real account, so timing does not tell which usernames exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: LazyLock<String> = LazyLock::new(|| {
        let mut secret = [0u8; 32];
        let _ = getrandom::fill(&mut secret);
        hash(&hex(&secret)).unwrap_or_default()
    });
    &DUMMY
}

pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(pw: &str, user: &str) -> Vec<Rule> {
        check(pw, user).err().map(|e| e.broken).unwrap_or_default()
    }

    #[test]
    fn a_long_unusual_password_passes() {
        assert_eq!(check("Tilleuls-borne-7-Marsan", "marie"), Ok(()));
        assert_eq!(check("grapefruit kettle harbour", "marie"), Ok(()));
    }

    #[test]
    fn short_and_overlong_passwords_are_refused() {
        assert_eq!(broken("Xk9#mQ2!vL", "marie"), [Rule::TooShort]);
        assert_eq!(broken("Xk9#mQ2!vL7z", "marie"), []);
        assert_eq!(broken(&"Xk9#mQ2!vL7z".repeat(30), "marie"), [Rule::TooLong]);
        assert_eq!(broken("éèàçùâêîôûëï", "marie"), [], "characters, not bytes");
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case_and_suffix() {
        assert!(COMMON.len() >= 300, "{}", COMMON.len());
        for pw in [
            "password1234",
            "PASSWORD1234",
            "Sunshine2024!",
            "correcthorsebatterystaple",
            "iloveyouiloveyou",
            "qwertyuiop123",
        ] {
            assert!(broken(pw, "marie").contains(&Rule::Common), "{pw}");
        }
        assert!(!broken("sunshinebakery12", "marie").contains(&Rule::Common));
    }

    #[test]
    fn a_password_containing_the_username_is_refused() {
        assert_eq!(
            broken("xx-Marie.Dupont-xx", "marie.dupont"),
            [Rule::ContainsUsername]
        );
        assert_eq!(broken("a-quiet-harbour-9", "a"), [], "too short a username");
    }

    #[test]
    fn one_character_or_a_short_pattern_repeated_is_refused() {
        assert_eq!(broken("zzzzzzzzzzzz", "marie"), [Rule::OneCharacter]);
        assert_eq!(broken("abababababab", "marie"), [Rule::RepeatedPattern]);
        assert_eq!(broken("x7!qx7!qx7!qx7!q", "marie"), [Rule::RepeatedPattern]);
    }

    #[test]
    fn sequences_and_keyboard_rows_are_refused() {
        for pw in [
            "123456789012",
            "987654321098",
            "abcdefghijklm",
            "ZYXWVUTSRQPO",
            "qwertyuiopas",
            "lkjhgfdsapoiu",
            "1qaz2wsx3edc4rfv",
        ] {
            assert!(broken(pw, "marie").contains(&Rule::Sequence), "{pw}");
        }
    }

    #[test]
    fn every_broken_rule_is_listed() {
        let e = check("marie", "marie").unwrap_err();
        assert_eq!(e.broken, [Rule::TooShort, Rule::ContainsUsername]);
        assert_eq!(
            e.to_string(),
            "the password is refused: it must have at least 12 characters; it must not contain the username"
        );
    }

    #[test]
    fn a_hash_is_argon2id_and_verifies_only_its_password() {
        let phc = hash("grapefruit kettle harbour").unwrap();
        assert!(phc.starts_with("$argon2id$"), "{phc}");
        assert!(verify("grapefruit kettle harbour", &phc));
        assert!(!verify("grapefruit kettle harbor", &phc));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(phc, hash("grapefruit kettle harbour").unwrap(), "salted");
    }
}
