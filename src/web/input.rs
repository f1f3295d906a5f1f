//! `Input<T>`: what a page's form posts and what its `/api/v1` twin sends as JSON, read as the
//! route says (a form on a page, JSON under `/api/`: a body of the other kind is refused as
//! before, by axum's `Form` or `Json` rejection), so one handler serves both routes. The CSRF
//! token of either was checked by the guard (`guard`) before any handler runs. Never
//! validates what it reads: each page does.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::de::DeserializeOwned;

use super::error::{Said, WebError};

/// The body of a page's form post, or of its API twin.
pub struct Input<T>(pub T);

/// A body posted as a form by a page and as JSON to the API. Most API bodies are the form's
/// fields (`Json<Self>`); a few are read otherwise (numbers where the form has text, a body
/// that may be left out) and say how.
pub trait Posted: DeserializeOwned + Send + 'static {
    /// Reads the API's JSON body (as `axum::Json` does, unless the type says otherwise).
    fn from_json(request: Request) -> impl Future<Output = Result<Self, Response>> + Send {
        async move {
            Json::<Self>::from_request(request, &())
                .await
                .map(|Json(body)| body)
                .map_err(IntoResponse::into_response)
        }
    }
}

/// A JSON body that may be empty (whitespace): then `T::default()`. Its content type is not
/// checked, and malformed JSON answers 400 `{"error": ..}`.
pub async fn lenient_json<T: DeserializeOwned + Default>(request: Request) -> Result<T, Response> {
    let body = Bytes::from_request(request, &())
        .await
        .map_err(IntoResponse::into_response)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&body)
        .map_err(|e| WebError::BadRequest(Said::Json(e.to_string().into())).into_response())
}

/// A JSON body that may be left out (no content type): then `T::default()`; with a content
/// type, read as `axum::Json` reads it.
pub async fn optional_json<T: DeserializeOwned + Default>(request: Request) -> Result<T, Response> {
    let body: Option<Json<T>> = <Option<Json<T>> as FromRequest<()>>::from_request(request, &())
        .await
        .map_err(IntoResponse::into_response)?;
    Ok(body.map(|Json(b)| b).unwrap_or_default())
}

impl<S: Send + Sync, T: Posted> FromRequest<S> for Input<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        if request.uri().path().starts_with("/api/") {
            T::from_json(request).await.map(Input)
        } else {
            Form::<T>::from_request(request, state)
                .await
                .map(|Form(body)| Input(body))
                .map_err(IntoResponse::into_response)
        }
    }
}
