//! What the account and settings forms share: the refusals of a form by field, an input with
//! its label and its message next to it, and the password policy's rules in the page's
//! language. Never decides what is valid (the store and `auth::password` do).

use maud::{Markup, html};

use super::auth::password::{PolicyError, Rule};
use super::i18n::Lang;

/// The refusals of one submitted form: (field, message), in the form's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Refusals(pub Vec<(&'static str, String)>);

impl Refusals {
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.push((field, message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }

    /// The API's answer body: `{"errors": {field: message}}`.
    pub fn json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .0
            .iter()
            .map(|(f, m)| ((*f).to_string(), m.clone().into()))
            .collect();
        serde_json::json!({ "errors": map })
    }
}

/// An input with its label; refused, it carries `aria-invalid`, `aria-describedby` and the
/// message right under it (`<p class="field-error" id="{id}-error">`).
pub fn input(
    id: &str,
    label: &str,
    kind: &str,
    value: &str,
    autocomplete: &str,
    refusals: &Refusals,
) -> Markup {
    let error = refusals.of(id);
    let error_id = format!("{id}-error");
    html! {
        label for=(id) { (label) }
        @if let Some(message) = error {
            input id=(id) name=(id) type=(kind) value=(value) autocomplete=(autocomplete)
                aria-invalid="true" aria-describedby=(error_id);
            p class="field-error" id=(error_id) { (message) }
        } @else {
            input id=(id) name=(id) type=(kind) value=(value) autocomplete=(autocomplete);
        }
    }
}

/// A select with its label and message; `options` are (value, text).
pub fn select(
    id: &str,
    label: &str,
    options: &[(&str, &str)],
    chosen: &str,
    refusals: &Refusals,
) -> Markup {
    let error = refusals.of(id);
    let error_id = format!("{id}-error");
    let options = html! {
        @for (value, text) in options {
            option value=(value) selected[*value == chosen] { (text) }
        }
    };
    html! {
        label for=(id) { (label) }
        @if let Some(message) = error {
            select id=(id) name=(id) aria-invalid="true" aria-describedby=(error_id) { (options) }
            p class="field-error" id=(error_id) { (message) }
        } @else {
            select id=(id) name=(id) { (options) }
        }
    }
}

/// Why a password is refused, every broken rule, in the page's language.
pub fn policy_message(lang: Lang, e: &PolicyError) -> String {
    let rules: Vec<&str> = e
        .broken
        .iter()
        .map(|rule| match rule {
            Rule::TooShort => lang.pick(
                "it must have at least 12 characters",
                "il doit avoir au moins 12 caractères",
            ),
            Rule::TooLong => lang.pick(
                "it must have at most 256 characters",
                "il doit avoir au plus 256 caractères",
            ),
            Rule::Common => lang.pick(
                "it is one of the most common passwords",
                "c'est l'un des mots de passe les plus courants",
            ),
            Rule::ContainsUsername => lang.pick(
                "it must not contain the username",
                "il ne doit pas contenir l'identifiant",
            ),
            Rule::OneCharacter => lang.pick(
                "it must not be one character repeated",
                "il ne doit pas répéter un seul caractère",
            ),
            Rule::RepeatedPattern => lang.pick(
                "it must not be a short pattern repeated",
                "il ne doit pas répéter un motif court",
            ),
            Rule::Sequence => lang.pick(
                "it must not be a sequence or a keyboard row",
                "il ne doit pas être une suite ou une rangée du clavier",
            ),
        })
        .collect();
    format!(
        "{}{}.",
        lang.pick("The password is refused: ", "Mot de passe refusé : "),
        rules.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_password_lists_every_broken_rule_in_the_pages_language() {
        let e = crate::web::auth::password::check("aaaa", "bob").unwrap_err();
        let fr = policy_message(Lang::Fr, &e);
        assert!(fr.starts_with("Mot de passe refusé : "), "{fr}");
        assert!(fr.contains("au moins 12 caractères") && fr.contains("un seul caractère"));
        assert!(policy_message(Lang::En, &e).contains("at least 12 characters"));
    }

    #[test]
    fn refusals_answer_the_api_by_field() {
        let mut r = Refusals::default();
        r.add("password", "too short");
        assert_eq!(r.of("password"), Some("too short"));
        assert_eq!(
            r.json(),
            serde_json::json!({"errors": {"password": "too short"}})
        );
    }
}
