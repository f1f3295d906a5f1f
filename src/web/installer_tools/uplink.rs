//! The uplink connection test of the tools page: the configured broker (or the host and port
//! the form gives) tried once through `uplink::probe`, each step's result in words.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::Tools;
use super::html as render;
use super::scan::invalid_fields;
use super::view::overview;
use crate::store::roles::Action;
use crate::uplink::probe;
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::input::{Input, Posted, optional_json};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

/// Each step of the uplink test.
pub const UPLINK_STEP_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UplinkForm {
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UplinkTestResult {
    pub host: String,
    pub port: u16,
    pub tls: bool,
    #[serde(flatten)]
    pub report: probe::Report,
}

/// The target of the test: the configured uplink, or the host and port the form gives (with
/// the configured TLS settings and credentials).
fn uplink_target(
    tools: &Tools,
    form: &UplinkForm,
    lang: crate::web::i18n::Lang,
) -> Result<(probe::Target, Option<String>), Refusals> {
    let mut errors = Refusals::default();
    let host = match form.host.trim() {
        "" => tools.uplink.as_ref().map(|u| u.host.clone()),
        h => Some(h.to_string()),
    };
    if host.is_none() {
        errors.add(
            "host",
            lang.pick(
                "no uplink is configured: give a host",
                "aucune liaison configurée : indiquez un hôte",
            ),
        );
    }
    let port = match form.port.trim() {
        "" => Some(tools.uplink.as_ref().map_or(8883, |u| u.port)),
        p => p.parse::<u16>().ok().filter(|&p| p > 0),
    };
    if port.is_none() {
        errors.add(
            "port",
            lang.pick("a port from 1 to 65535", "un port de 1 à 65535"),
        );
    }
    let (Some(host), Some(port)) = (host, port) else {
        return Err(errors);
    };
    let mut tls_problem = None;
    let tls = match tools.uplink.as_ref().and_then(|u| u.tls.as_ref()) {
        Some(t) => match crate::uplink::tls::client_config(
            &t.ca_pem,
            t.client.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice())),
        ) {
            Ok(c) => Some(c),
            Err(e) => {
                tls_problem = Some(e.to_string());
                None
            }
        },
        None => None,
    };
    Ok((
        probe::Target {
            host,
            port,
            tls,
            credentials: tools.uplink.as_ref().and_then(|u| u.credentials.clone()),
            client_id: format!("{}-probe", tools.site_id),
        },
        tls_problem,
    ))
}

async fn uplink_test(
    app: &AppState,
    ctx: &Ctx,
    form: &UplinkForm,
) -> Result<UplinkTestResult, Refusals> {
    let (target, tls_problem) = uplink_target(&app.inner.installer_tools, form, ctx.lang)?;
    let report = match tls_problem {
        // The configured TLS files are unusable: say so rather than trying plain MQTT.
        Some(p) => probe::Report {
            ok: false,
            steps: vec![probe::Step {
                step: "tls",
                ok: false,
                detail: p,
            }],
        },
        None => probe::probe(&target, UPLINK_STEP_LIMIT).await,
    };
    log::info!(
        "uplink test of {}:{} by {}: {}",
        target.host,
        target.port,
        ctx.session.username,
        if report.ok { "ok" } else { "failed" }
    );
    Ok(UplinkTestResult {
        host: target.host,
        port: target.port,
        tls: target.tls.is_some(),
        report,
    })
}

/// The API's uplink test: both fields optional (the configured uplink), or no body at all.
#[derive(Debug, Default, Deserialize)]
struct UplinkJson {
    host: Option<String>,
    port: Option<u16>,
}

impl Posted for UplinkForm {
    async fn from_json(request: Request) -> Result<Self, Response> {
        let j: UplinkJson = optional_json(request).await?;
        Ok(UplinkForm {
            host: j.host.unwrap_or_default(),
            port: j.port.map(|p| p.to_string()).unwrap_or_default(),
        })
    }
}

pub(super) async fn test_uplink(
    State(app): State<AppState>,
    ctx: Ctx,
    Input(form): Input<UplinkForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::UplinkSettings)?;
    let tested = uplink_test(&app, &ctx, &form).await;
    if ctx.api {
        let result = tested.map_err(invalid_fields)?;
        return Ok(axum::Json(result).into_response());
    }
    // The tools page again, the form as sent with the steps tried or its refusals.
    let mut results = render::Results {
        uplink_form: form,
        ..Default::default()
    };
    let status = match tested {
        Ok(r) => {
            results.uplink = Some(r);
            StatusCode::OK
        }
        Err(errors) => {
            results.uplink_errors = errors;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    Ok(html_page(
        status,
        render::overview(&ctx, &app.inner.site_name, &overview(&app), &results),
    ))
}
