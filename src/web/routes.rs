//! The page's routes, assembled: each page's router (a page and its `/api/v1` twins, see
//! `openapi`), the assets, the body limit, and the guard every route passes.

use axum::Router;

use crate::web::state::AppState;

/// Every route of the page, behind the guard.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(super::assets::routes())
        .merge(super::login::routes())
        .merge(super::openapi::routes())
        .merge(super::dashboard::routes())
        .merge(super::socket::routes())
        .merge(super::sessions::routes())
        .merge(super::access::routes())
        .merge(super::accounts::routes())
        .merge(super::settings::routes())
        .merge(super::installer::routes())
        .merge(super::installer_tools::routes())
        .merge(super::system::routes())
        .merge(super::metrics::routes())
        // JSON bodies too: nothing the API takes comes near it.
        .layer(axum::extract::DefaultBodyLimit::max(
            super::guard::FORM_LIMIT,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::guard::guard,
        ))
        .with_state(state)
}
