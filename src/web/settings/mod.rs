//! "My settings": the signed-in account's own language (English, French or the browser's),
//! saved on the account and applied to its open sessions at once, and its own password
//! (the current one required; afterwards its sessions end and it signs in again). Never
//! changes another account (`accounts` does, for installers).

mod html;
mod view;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::store::Write;
use crate::store::accounts::{self, AccountAction, AccountChange, Language};
use crate::web::auth::password as policy;
use crate::web::error::WebError;
use crate::web::form::{Refusals, policy_message};
use crate::web::input::{Input, Posted};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use html::render;
use view::settings;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/settings", get(show).post(language))
        .route("/api/v1/settings", get(show).post(language))
        .route("/settings/password", post(password))
        .route("/api/v1/settings/password", post(password))
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct LanguageForm {
    /// `en`, `fr`, or empty for the browser's.
    #[serde(default)]
    pub language: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    pub current_password: String,
    #[serde(default)]
    pub new_password: String,
}

impl Posted for LanguageForm {}

impl Posted for PasswordForm {}

async fn show(State(app): State<AppState>, ctx: Ctx) -> Response {
    ctx.reply(
        || {
            let page = render(&ctx, &app.inner.site_name, &Refusals::default());
            html_page(StatusCode::OK, page)
        },
        || Json(settings(&ctx)),
    )
}

async fn language(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<LanguageForm>,
) -> Result<Response, WebError> {
    match set_language(&app, &ctx, &form).await {
        Ok(_) if !ctx.api => Ok(Redirect::to("/settings").into_response()),
        Ok(language) => {
            let mut s = settings(&ctx);
            s.language = language.map(Language::as_str);
            Ok(Json(s).into_response())
        }
        Err(WebError::Refused { refusals, .. }) if !ctx.api => Ok(html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&ctx, &app.inner.site_name, &refusals),
        )),
        Err(e) => Err(e),
    }
}

async fn set_language(
    app: &AppState,
    ctx: &Ctx,
    form: &LanguageForm,
) -> Result<Option<Language>, WebError> {
    let text = form.language.trim();
    let language = Language::parse(text);
    if !text.is_empty() && language.is_none() {
        let message = ctx
            .lang
            .pick("Choose a language.", "Choisissez une langue.");
        return Err(Refusals::from([("language", message)]).into());
    }
    let change = AccountChange {
        actor: ctx.session.username.clone(),
        at: app.inner.clock.now(),
        action: AccountAction::SetLanguage {
            username: ctx.session.username.clone(),
            language,
        },
    };
    app.inner
        .store
        .apply(vec![Write::Account(Box::new(change))])
        .await
        .map_err(|e| WebError::unwritable(format!("settings: {e}")))?;
    app.inner
        .sessions
        .set_language(ctx.session.account_id, language);
    Ok(language)
}

async fn password(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<PasswordForm>,
) -> Result<Response, WebError> {
    match change_password(&app, &ctx, &form).await {
        Ok(()) => Ok(ctx.reply(
            || Redirect::to("/login"),
            || Json(serde_json::json!({ "changed": true, "signed_out": true })),
        )),
        Err(WebError::Refused { refusals, .. }) if !ctx.api => Ok(html_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&ctx, &app.inner.site_name, &refusals),
        )),
        Err(e) => Err(e),
    }
}

/// Checks the current password (argon2, in its turn in the hash gate) and the new one's policy, then
/// saves it; the account's sessions end.
async fn change_password(app: &AppState, ctx: &Ctx, form: &PasswordForm) -> Result<(), WebError> {
    let lang = ctx.lang;
    let username = ctx.session.username.clone();
    let name = username.clone();
    let account = app
        .read(move |conn| accounts::by_username(conn, &name))
        .await
        .map_err(|e| WebError::unwritable(format!("settings: {e}")))?
        .ok_or_else(|| WebError::unwritable("settings: the account vanished"))?;
    let (current, new) = (form.current_password.clone(), form.new_password.clone());
    let checked = app.inner.hashing.run(move || {
        let right = policy::verify(&current, &account.password_hash);
        let hash = policy::hash(&new).ok();
        (right, hash)
    });
    let mut refusals = Refusals::default();
    if let Err(e) = policy::check(&form.new_password, &username) {
        refusals.add("new_password", policy_message(lang, &e));
    }
    // Busy: nothing was checked, so the form's own refusals wait for the next try.
    let (right, hash) = checked.await?;
    if !right {
        refusals.add_first(
            "current_password",
            lang.pick(
                "This is not your current password.",
                "Ce n'est pas votre mot de passe actuel.",
            ),
        );
    }
    if !refusals.is_empty() {
        return Err(refusals.into());
    }
    let Some(hash) = hash else {
        return Err(WebError::unwritable("settings: cannot hash the password"));
    };
    let change = AccountChange {
        actor: username.clone(),
        at: app.inner.clock.now(),
        action: AccountAction::SetPassword {
            username: username.clone(),
            password_hash: hash,
        },
    };
    app.inner
        .store
        .apply(vec![Write::Account(Box::new(change))])
        .await
        .map_err(|e| WebError::unwritable(format!("settings: {e}")))?;
    app.inner.sessions.end_account(ctx.session.account_id);
    log::info!("web: {username} changed their password");
    Ok(())
}
