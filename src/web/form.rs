//! What the pages' forms share: `Refusals`, the one type a form or a query is refused with
//! (by field, shown next to the inputs on a page, answered by field by the API), inputs with
//! their label and their message next to them, and the password policy's rules in the page's
//! language. Never decides what is valid (each page, the store and `auth::password` do).

use std::borrow::Cow;
use std::collections::BTreeMap;

use maud::{Markup, html};

use super::auth::password::{PolicyError, Rule};
use super::i18n::Lang;

/// The refusals of one submitted form or query, by field: each (field, message) in the order
/// the checks found them. A field may be refused for several reasons (the installer's edits
/// list every rule a value breaks); `""` is the form as a whole. The one type every page's
/// forms are refused with: next to their inputs on a page (422), by field in the API's JSON
/// (`WebError::Refused`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refusals(Vec<(Cow<'static, str>, String)>);

impl Refusals {
    pub fn add(&mut self, field: impl Into<Cow<'static, str>>, message: impl Into<String>) {
        self.0.push((field.into(), message.into()));
    }

    /// A refusal shown before the others (it is checked last but reads first).
    pub fn add_first(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.insert(0, (field.into(), message.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first message of `field`.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.iter().find(|(f, _)| *f == field).map(|(_, m)| m)
    }

    /// Every message of `field`, in order.
    pub fn all(&self, field: &str) -> Vec<&str> {
        self.iter()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m)
            .collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(f, m)| (f.as_ref(), m.as_str()))
    }

    /// Each field's first message, by field name.
    pub fn by_field(&self) -> BTreeMap<&str, &str> {
        let mut map = BTreeMap::new();
        for (f, m) in self.iter() {
            map.entry(f).or_insert(m);
        }
        map
    }

    /// Each field's messages, by field name.
    pub fn lists(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (f, m) in self.iter() {
            map.entry(f).or_default().push(m);
        }
        map
    }

    /// The API's answer body: `{"errors": {field: message}}`.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({ "errors": self.by_field() })
    }
}

impl<F: Into<Cow<'static, str>>, M: Into<String>, const N: usize> From<[(F, M); N]> for Refusals {
    fn from(refusals: [(F, M); N]) -> Refusals {
        let mut r = Refusals::default();
        for (f, m) in refusals {
            r.add(f, m);
        }
        r
    }
}

/// A configuration edit's problems (`config::edit`): by field, `""` for the file as a whole.
impl From<BTreeMap<String, Vec<String>>> for Refusals {
    fn from(by_field: BTreeMap<String, Vec<String>>) -> Refusals {
        let mut r = Refusals::default();
        for (field, messages) in by_field {
            for m in messages {
                r.add(field.clone(), m);
            }
        }
        r
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
    let error = refusals.get(id);
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

/// A labelled input in its `div class="field"` (the filter and tool forms); refused, the
/// message below it and `aria-describedby` pointing at it.
pub(super) fn field(
    name: &'static str,
    label: &str,
    kind: &str,
    value: &str,
    refusals: &Refusals,
) -> Markup {
    let error = refusals.get(name);
    html! {
        div class="field" {
            label for=(name) { (label) }
            input type=(kind) id=(name) name=(name) value=(value)
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[error.map(|_| format!("{name}-error"))];
            @if let Some(message) = error {
                p class="field-error" id={(name) "-error"} { (message) }
            }
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
    let error = refusals.get(id);
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
        assert_eq!(r.get("password"), Some("too short"));
        assert_eq!(
            r.json(),
            serde_json::json!({"errors": {"password": "too short"}})
        );
    }
}
