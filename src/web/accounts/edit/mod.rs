//! One account's page for the installer and its API twin: its role, active state and last
//! day, and a password reset. Changes go through the store's writer in one transaction
//! (`Write::Account`, audited by the store), which refuses what would leave no active
//! installer: the refusal comes back next to the field that caused it. The account's open
//! sessions end after a change. Never shows a password hash.

mod html;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::{change, hash, parse_until};
use crate::store::StoreError;
use crate::store::accounts::{Account, AccountAction};
use crate::store::roles::{Action, Role};
use crate::web::accounts::view::{account_named, now_ms, row};
use crate::web::auth::password;
use crate::web::error::WebError;
use crate::web::form::{Refusals, policy_message};
use crate::web::input::{Input, Posted};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use html::edit_html;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts/{username}", get(one).post(change_account))
        .route("/api/v1/accounts/{username}", get(one).post(change_account))
        .route("/accounts/{username}/password", post(reset_password))
        .route("/api/v1/accounts/{username}/password", post(reset_password))
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

impl Posted for EditForm {}

impl Posted for PasswordForm {}

/// The account's page, or the account as the API serves it.
async fn one(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
) -> Result<Response, WebError> {
    ctx.require(Action::ManageAccounts)?;
    let a = account_named(&app, &ctx, &username).await?;
    let r = row(&app, &a, now_ms());
    Ok(ctx.reply(
        || {
            let page = edit_html(
                &ctx,
                &app,
                &r,
                &EditForm::default(),
                &Refusals::default(),
                None,
            );
            html_page(StatusCode::OK, page)
        },
        || Json(&r),
    ))
}

async fn change_account(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Input(form): Input<EditForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::ManageAccounts)?;
    let account = account_named(&app, &ctx, &username).await?;
    let current = row(&app, &account, now_ms());
    match edit(&app, &ctx, &account, &form).await {
        Ok(name) if !ctx.api => Ok(Redirect::to(&format!("/accounts/{name}")).into_response()),
        // The account as changed.
        Ok(name) => {
            let a = account_named(&app, &ctx, &name).await?;
            Ok(Json(row(&app, &a, now_ms())).into_response())
        }
        Err(WebError::Refused { refusals, .. }) if !ctx.api => {
            let page = edit_html(&ctx, &app, &current, &form, &refusals, None);
            Ok(html_page(StatusCode::UNPROCESSABLE_ENTITY, page))
        }
        Err(e) => Err(e),
    }
}

/// Changes what differs from `account` as stored, in one transaction; the account's sessions
/// end. `Ok`: the account's username.
async fn edit(
    app: &AppState,
    ctx: &Ctx,
    account: &Account,
    form: &EditForm,
) -> Result<String, WebError> {
    let lang = ctx.lang;
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
        return Err(refusals.into());
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
            Err(refusals.into())
        }
        Err(e) => Err(WebError::unreadable(format!("accounts: {e}"))),
    }
}

async fn reset_password(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(username): Path<String>,
    Input(form): Input<PasswordForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::ManageAccounts)?;
    let account = account_named(&app, &ctx, &username).await?;
    let current = row(&app, &account, now_ms());
    let (status, refusals, done) = match reset(&app, &ctx, &account, &form).await {
        Ok(()) if ctx.api => return Ok(Json(current).into_response()),
        Ok(()) => (
            StatusCode::OK,
            Refusals::default(),
            Some(ctx.lang.pick(
                "The password is reset; the account's sessions ended.",
                "Le mot de passe est réinitialisé ; les sessions du compte sont fermées.",
            )),
        ),
        Err(WebError::Refused { refusals, .. }) if !ctx.api => {
            (StatusCode::UNPROCESSABLE_ENTITY, refusals, None)
        }
        Err(e) => return Err(e),
    };
    let page = edit_html(&ctx, &app, &current, &EditForm::default(), &refusals, done);
    Ok(html_page(status, page))
}

/// Sets a new password (the policy's); the account's sessions end.
async fn reset(
    app: &AppState,
    ctx: &Ctx,
    account: &Account,
    form: &PasswordForm,
) -> Result<(), WebError> {
    if let Err(e) = password::check(&form.password, &account.username) {
        return Err(Refusals::from([("password", policy_message(ctx.lang, &e))]).into());
    }
    let hash = hash(app, form.password.clone()).await?;
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
            Ok(())
        }
        Err(e) => Err(WebError::unreadable(format!("accounts: {e}"))),
    }
}
