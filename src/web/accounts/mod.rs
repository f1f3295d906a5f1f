//! The installer's accounts page and its API twin: the list of local accounts and creating
//! one (one account's changes: `edit`), and the helpers both share. An account is
//! created through the store's writer (`Write::Account`), which audits it and refuses a taken
//! username; every field is checked first and refused next to itself. Never hashes outside a
//! blocking task and never shows a password hash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{NaiveDate, TimeZone};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::auth::password;
use super::error::WebError;
use super::form::{Refusals, input, policy_message, select};
use super::i18n::{Lang, Text, t};
use super::input::{Input, Posted};
use super::page::{Ctx, html_page};
use super::pages::layout;
use super::state::AppState;
use crate::store::accounts::{
    self, Account, AccountAction, AccountChange, Language, NewAccount, username_problem,
};
use crate::store::roles::{Action, Role};
use crate::store::{StoreError, Write};

mod edit;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/api/v1/accounts", get(list).post(create))
        .merge(edit::routes())
}

/// One account as the list shows it (never its password hash).
#[derive(Debug, Clone, Serialize)]
pub struct AccountRow {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub active: bool,
    /// The last day it works (site time), `YYYY-MM-DD`; `None`: no end.
    pub active_until: Option<String>,
    /// `en`, `fr`; `None`: the browser's.
    pub language: Option<&'static str>,
    /// Site time of the last change, `YYYY-MM-DD HH:MM`.
    pub last_change: String,
    /// Active and not past its end date now.
    pub may_sign_in: bool,
}

pub(super) fn row(app: &AppState, a: &Account, now_ms: i64) -> AccountRow {
    let tz = app.inner.time_zone;
    AccountRow {
        username: a.username.clone(),
        display_name: a.display_name.clone(),
        role: a.role.as_str(),
        active: a.active,
        active_until: a.active_until_ms.map(|ms| last_day(tz, ms)),
        language: a.language.map(Language::as_str),
        last_change: chrono::DateTime::from_timestamp_millis(a.updated_ms)
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        may_sign_in: a.may_log_in(now_ms),
    }
}

/// An account works through the whole of its last day: it ends at the next midnight.
pub(super) fn end_of_day_ms(tz: chrono_tz::Tz, day: NaiveDate) -> Option<i64> {
    let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&next)
        .earliest()
        .map(|t| t.timestamp_millis())
}

pub(super) fn last_day(tz: chrono_tz::Tz, end_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(end_ms - 1)
        .map(|t| t.with_timezone(&tz).date_naive().to_string())
        .unwrap_or_default()
}

pub(super) fn now_ms() -> i64 {
    crate::clock::wall_ms()
}

async fn all(app: &AppState) -> Result<Vec<AccountRow>, WebError> {
    let list = app.read(accounts::list).await?;
    let now = now_ms();
    Ok(list.iter().map(|a| row(app, a, now)).collect())
}

/// The account named `username`; 404 when there is none.
pub(super) async fn account_named(
    app: &AppState,
    ctx: &Ctx,
    username: &str,
) -> Result<Account, WebError> {
    let name = username.to_string();
    app.read(move |conn| accounts::by_username(conn, &name))
        .await?
        .ok_or_else(|| {
            ctx.not_found(
                ctx.lang
                    .pick("There is no such account.", "Ce compte n'existe pas."),
            )
        })
}

pub(super) fn role_options(lang: Lang) -> [(&'static str, &'static str); 3] {
    [
        (
            "viewer",
            lang.pick("Viewer (read only)", "Lecteur (lecture seule)"),
        ),
        ("manager", lang.pick("Manager", "Gestionnaire")),
        (
            "installer",
            lang.pick("Installer (everything)", "Installateur (tout)"),
        ),
    ]
}

fn language_options(lang: Lang) -> [(&'static str, &'static str); 3] {
    [
        ("", lang.pick("The browser's", "Celle du navigateur")),
        ("en", "English"),
        ("fr", "Français"),
    ]
}

// ---- the list and creating an account ----

/// What the create form (and `POST /api/v1/accounts`) sends.
#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct CreateForm {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub password: String,
    /// `YYYY-MM-DD`, the last day it works; empty: no end.
    #[serde(default)]
    pub active_until: String,
    /// `en`, `fr`, or empty (the browser's).
    #[serde(default)]
    pub language: String,
}

impl Posted for CreateForm {}

async fn list(State(app): State<AppState>, ctx: Ctx) -> Result<Response, WebError> {
    ctx.require(Action::ManageAccounts)?;
    let rows = all(&app).await?;
    Ok(ctx.reply(
        || {
            let empty = CreateForm::default();
            let page = list_html(&ctx, &app, &rows, &empty, &Refusals::default());
            html_page(StatusCode::OK, page)
        },
        || Json(serde_json::json!({ "accounts": rows })),
    ))
}

async fn create(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<CreateForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::ManageAccounts)?;
    match create_account(&app, &ctx, &form).await {
        Ok(()) => Ok(ctx.reply(
            || Redirect::to("/accounts"),
            || {
                let created = serde_json::json!({ "created": form.username.trim() });
                (StatusCode::CREATED, Json(created))
            },
        )),
        // The list again, the form as sent with its refusals.
        Err(WebError::Refused { refusals, .. }) if !ctx.api => {
            let rows = all(&app).await?;
            let page = list_html(&ctx, &app, &rows, &form, &refusals);
            Ok(html_page(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e),
    }
}

/// Validates every field (all refusals at once), then creates the account.
async fn create_account(app: &AppState, ctx: &Ctx, form: &CreateForm) -> Result<(), WebError> {
    let lang = ctx.lang;
    let mut refusals = Refusals::default();
    let username = form.username.trim().to_string();
    if username_problem(&username).is_some() {
        refusals.add(
            "username",
            lang.pick(
                "1 to 64 letters, digits, '.', '_', '-' or '@'.",
                "1 à 64 lettres, chiffres, « . », « _ », « - » ou « @ ».",
            ),
        );
    }
    if form.display_name.chars().count() > accounts::MAX_DISPLAY_NAME
        || form.display_name.chars().any(char::is_control)
    {
        refusals.add(
            "display_name",
            lang.pick(
                "At most 100 characters, without control characters.",
                "100 caractères au plus, sans caractères de contrôle.",
            ),
        );
    }
    let role = form.role.parse::<Role>().ok();
    if role.is_none() {
        refusals.add("role", lang.pick("Choose a role.", "Choisissez un rôle."));
    }
    if let Err(e) = password::check(&form.password, &username) {
        refusals.add("password", policy_message(lang, &e));
    }
    let until = parse_until(app, &form.active_until, lang, &mut refusals);
    let language = Language::parse(form.language.trim());
    if !form.language.trim().is_empty() && language.is_none() {
        refusals.add(
            "language",
            lang.pick("Choose a language.", "Choisissez une langue."),
        );
    }
    let (Some(role), Some(until)) = (role, until) else {
        return Err(refusals.into());
    };
    if !refusals.is_empty() {
        return Err(refusals.into());
    }
    let hash = hash(form.password.clone()).await?;
    let action = AccountAction::Create(NewAccount {
        username: username.clone(),
        display_name: form.display_name.trim().to_string(),
        role,
        password_hash: hash,
        active_until_ms: until,
        language,
    });
    match change(app, ctx, vec![action]).await {
        Ok(()) => {
            log::info!(
                "web: {} created the account {username} ({role})",
                ctx.session.username
            );
            Ok(())
        }
        Err(StoreError::Rejected(why)) => {
            Err(Refusals::from([("username", taken_or(lang, &why))]).into())
        }
        Err(e) => Err(WebError::unreadable(format!("accounts: {e}"))),
    }
}

fn taken_or(lang: Lang, why: &str) -> String {
    if why.contains("is taken") {
        lang.pick("This username is taken.", "Cet identifiant est déjà pris.")
            .into()
    } else {
        why.to_string()
    }
}

/// `Some(None)`: no end date; `None`: refused (added to `refusals`).
pub(super) fn parse_until(
    app: &AppState,
    text: &str,
    lang: Lang,
    refusals: &mut Refusals,
) -> Option<Option<i64>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(None);
    }
    let end = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| end_of_day_ms(app.inner.time_zone, d));
    if end.is_none() {
        refusals.add(
            "active_until",
            lang.pick(
                "A date as YYYY-MM-DD, or nothing.",
                "Une date AAAA-MM-JJ, ou rien.",
            ),
        );
    }
    end.map(Some)
}

pub(super) async fn hash(password: String) -> Result<String, WebError> {
    match tokio::task::spawn_blocking(move || password::hash(&password)).await {
        Ok(Ok(h)) => Ok(h),
        _ => Err(WebError::unreadable("accounts: cannot hash the password")),
    }
}

/// Applies the actions in one transaction (all or none), audited by the store.
pub(super) async fn change(
    app: &AppState,
    ctx: &Ctx,
    actions: Vec<AccountAction>,
) -> Result<(), StoreError> {
    let at = app.inner.clock.now();
    let writes = actions
        .into_iter()
        .map(|action| {
            Write::Account(Box::new(AccountChange {
                actor: ctx.session.username.clone(),
                at,
                action,
            }))
        })
        .collect();
    app.inner.store.apply(writes).await
}

/// The list, and the create form as sent with its refusals.
fn list_html(
    ctx: &Ctx,
    app: &AppState,
    rows: &[AccountRow],
    form: &CreateForm,
    refusals: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let yes_no = |b: bool| {
        if b {
            lang.pick("yes", "oui")
        } else {
            lang.pick("no", "non")
        }
    };
    let body = html! {
        h1 { (t(lang, Text::Accounts)) }
        div class="table-wrap" {
            table id="accounts" {
                thead { tr {
                    th scope="col" { (t(lang, Text::Username)) }
                    th scope="col" { (lang.pick("Name", "Nom")) }
                    th scope="col" { (lang.pick("Role", "Rôle")) }
                    th scope="col" { (lang.pick("Active", "Actif")) }
                    th scope="col" { (lang.pick("Active until", "Actif jusqu'au")) }
                    th scope="col" { (lang.pick("Language", "Langue")) }
                    th scope="col" { (lang.pick("Last change", "Dernière modification")) }
                } }
                tbody {
                    @for a in rows {
                        tr {
                            td { a href={"/accounts/" (a.username)} { (a.username) } }
                            td { (a.display_name) }
                            td { (a.role) }
                            td { (yes_no(a.may_sign_in)) }
                            td { (a.active_until.as_deref().unwrap_or("–")) }
                            td { (a.language.unwrap_or("–")) }
                            td { (a.last_change) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("New account", "Nouveau compte")) }
        form method="post" action="/accounts" id="create-account" {
            (ctx.csrf_field())
            (input("username", t(lang, Text::Username), "text", &form.username, "off", refusals))
            (input("display_name", lang.pick("Name shown", "Nom affiché"), "text", &form.display_name, "off", refusals))
            (select("role", lang.pick("Role", "Rôle"), &role_options(lang), if form.role.is_empty() { "viewer" } else { &form.role }, refusals))
            (input("password", lang.pick("Password (12 characters or more)", "Mot de passe (12 caractères ou plus)"), "password", "", "new-password", refusals))
            (input("active_until", lang.pick("Active until (last day, optional)", "Actif jusqu'au (dernier jour, facultatif)"), "date", &form.active_until, "off", refusals))
            (select("language", lang.pick("Language", "Langue"), &language_options(lang), &form.language, refusals))
            button type="submit" { (lang.pick("Create the account", "Créer le compte")) }
        }
    };
    layout(
        lang,
        t(lang, Text::Accounts),
        &app.inner.site_name,
        Some(ctx),
        body,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_works_through_its_last_day_in_the_sites_time_zone() {
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 3, 28).unwrap();
        let end = end_of_day_ms(tz, day).unwrap();
        // Midnight in Paris (UTC+1 that night) is 23:00 UTC.
        assert_eq!(
            chrono::DateTime::from_timestamp_millis(end)
                .unwrap()
                .to_rfc3339(),
            "2026-03-28T23:00:00+00:00"
        );
        assert_eq!(last_day(tz, end), "2026-03-28");
    }
}
