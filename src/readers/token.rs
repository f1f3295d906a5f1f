//! The id token read from a badge. Owns its normalised form (uppercase hex, byte 0 first, as
//! OCPP id tokens of RFID cards are) and its masking: `Display` and `Debug` show a pseudonym
//! (`tok:1a2b3c`), so a token logged by mistake does not leak the UID. Never decides anything
//! about the token.

use std::fmt;

/// A badge's UID, normalised. Compare tokens with `==`; read the value only through
/// [`Token::expose`], where it must leave the process (authorization lists, the uplink).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// The token of a UID given as bytes, byte 0 first. `None` when empty.
    pub fn from_bytes(uid: &[u8]) -> Option<Token> {
        if uid.is_empty() {
            return None;
        }
        Some(Token(uid.iter().map(|b| format!("{b:02X}")).collect()))
    }

    /// The token of a UID written in hex (case, spaces and colons ignored). `None` unless an
    /// even, non-zero number of hex digits remains.
    pub fn from_hex(text: &str) -> Option<Token> {
        let digits: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | ':' | '-'))
            .collect();
        let valid = !digits.is_empty()
            && digits.len().is_multiple_of(2)
            && digits.chars().all(|c| c.is_ascii_hexdigit());
        valid.then(|| Token(digits.to_ascii_uppercase()))
    }

    /// The UID in clear: uppercase hex, byte 0 first. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A stable pseudonym, so that log lines about one badge can be matched. Six hex digits of
    /// FNV-1a: a mask against reading a UID off a log, not a protection against someone who
    /// tries every UID.
    fn pseudonym(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.0.bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        format!("tok:{:06x}", hash >> 40)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pseudonym())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.pseudonym())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised_to_uppercase_hex_byte_0_first() {
        let t = Token::from_bytes(&[0x04, 0xa1, 0xb2, 0xc3]).unwrap();
        assert_eq!(t.expose(), "04A1B2C3");
        assert_eq!(Token::from_hex("04:a1:B2 c3"), Some(t));
        assert_eq!(Token::from_hex("04A1B2C"), None);
        assert_eq!(Token::from_hex("04A1B2CG"), None);
        assert_eq!(Token::from_hex(" : "), None);
        assert_eq!(Token::from_bytes(&[]), None);
    }

    #[test]
    fn display_and_debug_never_show_the_uid() {
        let t = Token::from_hex("04A1B2C3").unwrap();
        for shown in [t.to_string(), format!("{t:?}"), format!("{:?}", Some(&t))] {
            assert!(!shown.contains("04A1B2C3"), "{shown}");
            assert!(!shown.to_lowercase().contains("04a1b2c3"), "{shown}");
            assert!(shown.contains("tok:"), "{shown}");
        }
        assert_eq!(t.to_string().len(), "tok:".len() + 6);
        // Stable: the same badge has the same pseudonym in every log line.
        assert_eq!(
            t.to_string(),
            Token::from_hex("04a1b2c3").unwrap().to_string()
        );
        assert_ne!(
            t.to_string(),
            Token::from_hex("04A1B2C4").unwrap().to_string()
        );
    }
}
