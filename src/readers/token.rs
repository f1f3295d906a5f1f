//! The id token a badge reader produces is the core's `IdToken` (uppercase hex, byte 0 first,
//! never shown in clear): readers build it from the bytes or hex they decode.

pub use crate::core::access::IdToken as Token;

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
            assert!(!shown.to_lowercase().contains("04a1b2c3"), "{shown}");
            assert!(shown.contains("tok:"), "{shown}");
        }
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
