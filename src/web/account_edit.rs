//! One account's page for the installer and its API twin: its role, active state and last
//! day, and a password reset. Changes go through the store's writer in one transaction
//! (`Write::Account`, audited by the store), which refuses what would leave no active
//! installer: the refusal comes back next to the field that caused it. The account's open
//! sessions end after a change. Never shows a password hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use maud::{Markup, html};
use serde::Deserialize;

use super::accounts_page::{
    AccountRow, change, hash, not_found, now_ms, one, parse_until, role_options, row, unavailable,
};
use super::auth::password;
use super::form::{Refusals, input, policy_message, select};
use super::i18n::{Text, t};
use super::page::Ctx;
use super::pages::layout;
use super::state::AppState;
use crate::store::StoreError;
use crate::store::accounts::AccountAction;
use crate::store::roles::{Action, Role};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/accounts/{username}",
            get(edit_page).post(edit_submit_page),
        )
        .route("/api/v1/accounts/{username}", get(one_json).post(edit_json))
        .route("/accounts/{username}/password", post(reset_page))
        .route("/api/v1/accounts/{username}/password", post(reset_json))
}

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
