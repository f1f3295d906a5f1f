//! The installer's accounts page and its API twin: the list of local accounts and creating
//! one (`view` reads them, `html` renders them; one account's page and changes: `edit`), and
//! the helpers both share. An account is created through the store's writer
//! (`Write::Account`), which audits it and refuses a taken username; every field is checked
//! first and refused next to itself. Never hashes outside the hash gate and never shows a
//! password hash.

mod edit;
mod html;
mod view;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::Deserialize;

use crate::store::accounts::{
    self, AccountAction, AccountChange, Language, NewAccount, username_problem,
};
use crate::store::roles::{Action, Role};
use crate::store::{StoreError, Write};
use crate::web::auth::password;
use crate::web::error::WebError;
use crate::web::form::{Refusals, policy_message};
use crate::web::i18n::Lang;
use crate::web::input::{Input, Posted};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

use html::list_html;
use view::{all, end_of_day_ms};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/accounts", get(list).post(create))
        .route("/api/v1/accounts", get(list).post(create))
        .merge(edit::routes())
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
    let hash = hash(app, form.password.clone()).await?;
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

/// The new password's hash, in its turn in the hash gate (`WebError::Busy` when full).
pub(super) async fn hash(app: &AppState, password: String) -> Result<String, WebError> {
    app.inner
        .hashing
        .run(move || password::hash(&password))
        .await?
        .map_err(|_| WebError::unwritable("accounts: cannot hash the password"))
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
