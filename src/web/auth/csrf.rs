//! CSRF protection: every state-changing request (POST, PUT, DELETE) carries its session's
//! token, in the form field `csrf` or the `X-CSRF-Token` header, and the server compares it
//! with `verify` before doing anything. Owns the comparison (constant time, so the response
//! time tells nothing about how much of a guess was right); never issues tokens (`sessions`
//! does, one per session).

use subtle::ConstantTimeEq;

/// The form field that carries the token.
pub const FORM_FIELD: &str = "csrf";
/// The header that carries the token (scripts).
pub const HEADER: &str = "X-CSRF-Token";

/// Whether `submitted` is the session's token `expected`. An empty or missing token never is.
pub fn verify(expected: &str, submitted: Option<&str>) -> bool {
    match submitted {
        Some(s) if !s.is_empty() && !expected.is_empty() => {
            bool::from(expected.as_bytes().ct_eq(s.as_bytes()))
        }
        _ => false,
    }
}

/// Whether a request with this method must carry the token.
pub fn required_for(method: &str) -> bool {
    !matches!(
        method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_passes() {
        let t = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(verify(t, Some(t)));
        assert!(!verify(t, Some(&t[..63])));
        assert!(!verify(t, Some(&t.to_uppercase())));
        assert!(!verify(t, Some("")));
        assert!(!verify(t, None));
        assert!(!verify("", Some("")));
    }

    #[test]
    fn state_changing_methods_need_the_token() {
        assert!(required_for("POST") && required_for("delete") && required_for("PUT"));
        assert!(!required_for("GET") && !required_for("head"));
    }
}
