//! The installer's accounts pages and their API twins: the list, creating an account, changing
//! one's role, active state and end date, and resetting its password. Changes go through the
//! store's writer (`Write::Account`), which audits each one and refuses what would leave no
//! active installer; the refusal comes back next to its field. After a change of role, active
//! state, end date or password, the account's open sessions end. Never hashes outside a
//! blocking task and never shows a password hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{NaiveDate, TimeZone};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use super::auth::password;
use super::auth::roles::{Action, Role};
use super::form::{Refusals, input, policy_message, select};
use super::i18n::{Lang, Text, t};
use super::page::Ctx;
use super::pages::layout;
use super::state::AppState;
use crate::store::accounts::{
    self, Account, AccountAction, AccountChange, Language, NewAccount, username_problem,
};
use crate::store::{StoreError, Write};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list_page).post(create_page))
        .route("/api/v1/accounts", get(list_json).post(create_json))
        .route(
            "/accounts/{username}",
            get(edit_page).post(edit_submit_page),
        )
        .route("/api/v1/accounts/{username}", get(one_json).post(edit_json))
        .route("/accounts/{username}/password", post(reset_page))
        .route("/api/v1/accounts/{username}/password", post(reset_json))
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

fn row(app: &AppState, a: &Account, now_ms: i64) -> AccountRow {
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
fn end_of_day_ms(tz: chrono_tz::Tz, day: NaiveDate) -> Option<i64> {
    let next = day.succ_opt()?.and_hms_opt(0, 0, 0)?;
    tz.from_local_datetime(&next)
        .earliest()
        .map(|t| t.timestamp_millis())
}

fn last_day(tz: chrono_tz::Tz, end_ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(end_ms - 1)
        .map(|t| t.with_timezone(&tz).date_naive().to_string())
        .unwrap_or_default()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

async fn all(app: &AppState) -> Result<Vec<AccountRow>, Response> {
    let accounts = app.read(accounts::list).await;
    match accounts {
        Ok(list) => {
            let now = now_ms();
            Ok(list.iter().map(|a| row(app, a, now)).collect())
        }
        Err(e) => Err(unavailable(e)),
    }
}

async fn one(app: &AppState, username: &str) -> Result<Option<Account>, Response> {
    let name = username.to_string();
    app.read(move |conn| accounts::by_username(conn, &name))
        .await
        .map_err(unavailable)
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    log::error!("web: accounts: {e}");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the database cannot be read",
    )
        .into_response()
}

fn not_found(ctx: &Ctx) -> Response {
    let message = ctx
        .lang
        .pick("There is no such account.", "Ce compte n'existe pas.");
    if ctx.wants_json {
        (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    } else {
        (StatusCode::NOT_FOUND, Html(format!("<p>{message}</p>"))).into_response()
    }
}

fn role_options(lang: Lang) -> [(&'static str, &'static str); 3] {
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
pub struct CreateForm {
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

async fn list_page(State(app): State<AppState>, ctx: Ctx) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match all(&app).await {
        Ok(rows) => Html(
            list_html(
                &ctx,
                &app.inner.site_name,
                &rows,
                &CreateForm::default(),
                &Refusals::default(),
            )
            .into_string(),
        )
        .into_response(),
        Err(r) => r,
    }
}

async fn list_json(State(app): State<AppState>, ctx: Ctx) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match all(&app).await {
        Ok(rows) => Json(serde_json::json!({ "accounts": rows })).into_response(),
        Err(r) => r,
    }
}

async fn create_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Form(form): Form<CreateForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match create(&app, &ctx, &form).await {
        Ok(()) => Redirect::to("/accounts").into_response(),
        Err(Ok(refusals)) => match all(&app).await {
            Ok(rows) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Html(list_html(&ctx, &app.inner.site_name, &rows, &form, &refusals).into_string()),
            )
                .into_response(),
            Err(r) => r,
        },
        Err(Err(r)) => r,
    }
}

async fn create_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Json(form): Json<CreateForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match create(&app, &ctx, &form).await {
        Ok(()) => (
            StatusCode::CREATED,
            Json(serde_json::json!({ "created": form.username.trim() })),
        )
            .into_response(),
        Err(Ok(refusals)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(refusals.json())).into_response()
        }
        Err(Err(r)) => r,
    }
}

/// Validates every field (all refusals at once), then creates the account. `Err(Ok(_))`: the
/// form is refused; `Err(Err(_))`: the site cannot answer.
async fn create(
    app: &AppState,
    ctx: &Ctx,
    form: &CreateForm,
) -> Result<(), Result<Refusals, Response>> {
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
        return Err(Ok(refusals));
    };
    if !refusals.is_empty() {
        return Err(Ok(refusals));
    }
    let hash = hash(form.password.clone()).await.map_err(Err)?;
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
            let mut refusals = Refusals::default();
            refusals.add("username", taken_or(lang, &why));
            Err(Ok(refusals))
        }
        Err(e) => Err(Err(unavailable(e))),
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
fn parse_until(
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

async fn hash(password: String) -> Result<String, Response> {
    match tokio::task::spawn_blocking(move || password::hash(&password)).await {
        Ok(Ok(h)) => Ok(h),
        _ => Err(unavailable("cannot hash the password")),
    }
}

/// Applies the actions in one transaction (all or none), audited by the store.
async fn change(app: &AppState, ctx: &Ctx, actions: Vec<AccountAction>) -> Result<(), StoreError> {
    let at = super::form::now();
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

fn list_html(
    ctx: &Ctx,
    site: &str,
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
    layout(lang, t(lang, Text::Accounts), site, Some(ctx), body)
}

// ---- one account: role, active state, end date, password ----

/// What the edit form (and `POST /api/v1/accounts/{username}`) sends; a field left out stays.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EditForm {
    pub role: Option<String>,
    /// `true` or `false` (the form's select; the API may send a boolean as a string too).
    #[serde(default, deserialize_with = "bool_or_string")]
    pub active: Option<String>,
    /// `YYYY-MM-DD`, or empty for no end.
    pub active_until: Option<String>,
}

fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        B(bool),
        S(String),
    }
    Ok(Option::<Either>::deserialize(d)?.map(|e| match e {
        Either::B(b) => b.to_string(),
        Either::S(s) => s,
    }))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub password: String,
}

async fn edit_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match one(&app, &username).await {
        Ok(Some(a)) => {
            let r = row(&app, &a, now_ms());
            Html(
                edit_html(
                    &ctx,
                    &app.inner.site_name,
                    &r,
                    &EditForm::default(),
                    &Refusals::default(),
                    None,
                )
                .into_string(),
            )
            .into_response()
        }
        Ok(None) => not_found(&ctx),
        Err(r) => r,
    }
}

async fn one_json(State(app): State<AppState>, ctx: Ctx, Path(username): Path<String>) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match one(&app, &username).await {
        Ok(Some(a)) => Json(row(&app, &a, now_ms())).into_response(),
        Ok(None) => not_found(&ctx),
        Err(r) => r,
    }
}

async fn edit_submit_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Form(form): Form<EditForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match edit(&app, &ctx, &username, &form).await {
        Ok(name) => Redirect::to(&format!("/accounts/{name}")).into_response(),
        Err(Ok((r, refusals))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(edit_html(&ctx, &app.inner.site_name, &r, &form, &refusals, None).into_string()),
        )
            .into_response(),
        Err(Err(r)) => r,
    }
}

async fn edit_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Json(form): Json<EditForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match edit(&app, &ctx, &username, &form).await {
        Ok(name) => match one(&app, &name).await {
            Ok(Some(a)) => Json(row(&app, &a, now_ms())).into_response(),
            Ok(None) => not_found(&ctx),
            Err(r) => r,
        },
        Err(Ok((_, refusals))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(refusals.json())).into_response()
        }
        Err(Err(r)) => r,
    }
}

type Refused = Result<(AccountRow, Refusals), Response>;

/// Changes what differs from the account as stored, in one transaction; the account's
/// sessions end. `Ok`: the account's username.
async fn edit(
    app: &AppState,
    ctx: &Ctx,
    username: &str,
    form: &EditForm,
) -> Result<String, Refused> {
    let lang = ctx.lang;
    let account = match one(app, username).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Err(not_found(ctx))),
        Err(r) => return Err(Err(r)),
    };
    let current = row(app, &account, now_ms());
    let name = account.username.clone();
    let mut refusals = Refusals::default();
    let mut actions = Vec::new();
    let mut demoting = None;
    if let Some(text) = &form.role {
        match text.parse::<Role>() {
            Ok(role) if role != account.role => {
                demoting = Some("role");
                actions.push(AccountAction::SetRole {
                    username: name.clone(),
                    role,
                });
            }
            Ok(_) => {}
            Err(_) => refusals.add("role", lang.pick("Choose a role.", "Choisissez un rôle.")),
        }
    }
    if let Some(text) = &form.active {
        match text.as_str() {
            "true" | "false" => {
                let active = text == "true";
                if active != account.active {
                    if !active {
                        demoting = Some("active");
                    }
                    actions.push(AccountAction::SetActive {
                        username: name.clone(),
                        active,
                    });
                }
            }
            _ => refusals.add(
                "active",
                lang.pick("Choose active or not.", "Choisissez actif ou non."),
            ),
        }
    }
    if let Some(text) = &form.active_until
        && let Some(until) = parse_until(app, text, lang, &mut refusals)
        && until != account.active_until_ms
    {
        demoting = demoting.or(Some("active_until"));
        actions.push(AccountAction::SetActiveUntil {
            username: name.clone(),
            until_ms: until,
        });
    }
    if !refusals.is_empty() {
        return Err(Ok((current, refusals)));
    }
    if actions.is_empty() {
        return Ok(name);
    }
    match change(app, ctx, actions).await {
        Ok(()) => {
            let ended = app.inner.sessions.end_account(account.id);
            log::info!(
                "web: {} changed the account {name} ({ended} of its sessions ended)",
                ctx.session.username
            );
            Ok(name)
        }
        Err(StoreError::Rejected(why)) => {
            let message = if why.contains("last active installer") {
                lang.pick(
                    "This is the last active installer: it can be neither demoted, deactivated nor expired. Make another installer first.",
                    "C'est le dernier installateur actif : il ne peut être ni rétrogradé, ni désactivé, ni expiré. Créez d'abord un autre installateur.",
                )
                .to_string()
            } else {
                why
            };
            refusals.add(demoting.unwrap_or("role"), message);
            Err(Ok((current, refusals)))
        }
        Err(e) => Err(Err(unavailable(e))),
    }
}

async fn reset_page(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Form(form): Form<PasswordForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match reset(&app, &ctx, &username, &form).await {
        Ok(r) => Html(
            edit_html(
                &ctx,
                &app.inner.site_name,
                &r,
                &EditForm::default(),
                &Refusals::default(),
                Some(ctx.lang.pick(
                    "The password is reset; the account's sessions ended.",
                    "Le mot de passe est réinitialisé ; les sessions du compte sont fermées.",
                )),
            )
            .into_string(),
        )
        .into_response(),
        Err(Ok((r, refusals))) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Html(
                edit_html(
                    &ctx,
                    &app.inner.site_name,
                    &r,
                    &EditForm::default(),
                    &refusals,
                    None,
                )
                .into_string(),
            ),
        )
            .into_response(),
        Err(Err(r)) => r,
    }
}

async fn reset_json(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Json(form): Json<PasswordForm>,
) -> Response {
    if let Err(f) = ctx.require(Action::ManageAccounts) {
        return f.into_response();
    }
    match reset(&app, &ctx, &username, &form).await {
        Ok(r) => Json(r).into_response(),
        Err(Ok((_, refusals))) => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(refusals.json())).into_response()
        }
        Err(Err(r)) => r,
    }
}

async fn reset(
    app: &AppState,
    ctx: &Ctx,
    username: &str,
    form: &PasswordForm,
) -> Result<AccountRow, Refused> {
    let account = match one(app, username).await {
        Ok(Some(a)) => a,
        Ok(None) => return Err(Err(not_found(ctx))),
        Err(r) => return Err(Err(r)),
    };
    let current = row(app, &account, now_ms());
    if let Err(e) = password::check(&form.password, &account.username) {
        let mut refusals = Refusals::default();
        refusals.add("password", policy_message(ctx.lang, &e));
        return Err(Ok((current, refusals)));
    }
    let hash = hash(form.password.clone()).await.map_err(Err)?;
    let action = AccountAction::SetPassword {
        username: account.username.clone(),
        password_hash: hash,
    };
    match change(app, ctx, vec![action]).await {
        Ok(()) => {
            app.inner.sessions.end_account(account.id);
            log::info!(
                "web: {} reset the password of {}",
                ctx.session.username,
                account.username
            );
            Ok(current)
        }
        Err(e) => Err(Err(unavailable(e))),
    }
}

fn edit_html(
    ctx: &Ctx,
    site: &str,
    a: &AccountRow,
    form: &EditForm,
    refusals: &Refusals,
    done: Option<&str>,
) -> Markup {
    let lang = ctx.lang;
    let role = form.role.as_deref().unwrap_or(a.role);
    let active = form.active.clone().unwrap_or_else(|| a.active.to_string());
    let until = form
        .active_until
        .clone()
        .unwrap_or_else(|| a.active_until.clone().unwrap_or_default());
    let body = html! {
        p { a href="/accounts" { "← " (t(lang, Text::Accounts)) } }
        h1 { (a.display_name) " (" (a.username) ")" }
        @if let Some(done) = done { p class="ok" role="status" { (done) } }
        form method="post" action={"/accounts/" (a.username)} id="edit-account" {
            (ctx.csrf_field())
            (select("role", lang.pick("Role", "Rôle"), &role_options(lang), role, refusals))
            (select("active", lang.pick("Active", "Actif"), &[("true", lang.pick("Active", "Actif")), ("false", lang.pick("Deactivated", "Désactivé"))], &active, refusals))
            (input("active_until", lang.pick("Active until (last day, optional)", "Actif jusqu'au (dernier jour, facultatif)"), "date", &until, "off", refusals))
            button type="submit" { (lang.pick("Save", "Enregistrer")) }
        }
        h2 { (lang.pick("Reset the password", "Réinitialiser le mot de passe")) }
        form method="post" action={"/accounts/" (a.username) "/password"} id="reset-password" {
            (ctx.csrf_field())
            (input("password", lang.pick("New password (12 characters or more)", "Nouveau mot de passe (12 caractères ou plus)"), "password", "", "new-password", refusals))
            button type="submit" { (lang.pick("Reset the password", "Réinitialiser le mot de passe")) }
        }
    };
    layout(lang, &a.username, site, Some(ctx), body)
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
