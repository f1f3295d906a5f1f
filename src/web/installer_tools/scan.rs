//! The bus scan of the tools page: which units answer on a bus and which profiles they look
//! like. Every read goes through the bus's owner (between its polls), never a link of its own.

use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::html as render;
use super::not_found;
use super::view::overview;
use crate::modbus::frame::{ModbusError, ReadData, ReadRequest};
use crate::modbus::tap::BusTap;
use crate::store::roles::Action;
use crate::web::error::{Shape, WebError};
use crate::web::form::Refusals;
use crate::web::input::{Input, Posted, optional_json};
use crate::web::page::{Ctx, html_page};
use crate::web::state::AppState;

/// A whole scan stops after this, with what it found so far.
pub const SCAN_LIMIT: Duration = Duration::from_secs(120);

/// The scan form, as text (kept to show it back when refused).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ScanForm {
    #[serde(default)]
    pub first: String,
    #[serde(default)]
    pub last: String,
    /// Milliseconds per request.
    #[serde(default)]
    pub timeout_ms: String,
}

/// A valid scan request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScanRequest {
    pub first: u8,
    pub last: u8,
    pub timeout: Duration,
}

fn parse_scan(form: &ScanForm, lang: crate::web::i18n::Lang) -> Result<ScanRequest, Refusals> {
    let mut errors = Refusals::default();
    let unit = |text: &str, default: u8| -> Option<u8> {
        let t = text.trim();
        if t.is_empty() {
            return Some(default);
        }
        t.parse::<u8>().ok().filter(|u| (1..=247).contains(u))
    };
    let bad_unit = lang.pick("a unit id from 1 to 247", "un numéro d'esclave de 1 à 247");
    let first = unit(&form.first, 1);
    let last = unit(&form.last, 247);
    if first.is_none() {
        errors.add("first", bad_unit);
    }
    if last.is_none() {
        errors.add("last", bad_unit);
    }
    if let (Some(f), Some(l)) = (first, last)
        && f > l
    {
        errors.add(
            "last",
            lang.pick(
                "the last unit id comes after the first",
                "le dernier numéro suit le premier",
            ),
        );
    }
    let t = form.timeout_ms.trim();
    let timeout_ms = if t.is_empty() {
        Some(200)
    } else {
        t.parse::<u64>().ok().filter(|ms| (10..=5000).contains(ms))
    };
    if timeout_ms.is_none() {
        errors.add(
            "timeout_ms",
            lang.pick("a timeout from 10 to 5000 ms", "un délai de 10 à 5000 ms"),
        );
    }
    match (first, last, timeout_ms, errors.is_empty()) {
        (Some(first), Some(last), Some(ms), true) => Ok(ScanRequest {
            first,
            last,
            timeout: Duration::from_millis(ms),
        }),
        _ => Err(errors),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ScanResult {
    pub bus: String,
    pub first: u8,
    pub last: u8,
    pub found: Vec<FoundUnit>,
    /// The time limit stopped the scan before `last`.
    pub incomplete: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FoundUnit {
    pub unit: u8,
    /// Profiles it looks like, most specific first.
    pub profiles: Vec<String>,
    /// What the best match read.
    pub detail: Option<String>,
}

/// Scan reads through the bus owner, each with the scan's timeout.
struct ThroughOwner<'a> {
    tap: &'a BusTap,
    timeout: Duration,
}

impl crate::tools::ProbeLink for ThroughOwner<'_> {
    async fn probe(&mut self, req: &ReadRequest) -> Result<ReadData, ModbusError> {
        match self.tap.read(*req, self.timeout).await {
            Ok(d) => Ok(d),
            Err(crate::modbus::tap::TapError::Modbus(e)) => Err(e),
            Err(e) => Err(ModbusError::Io(std::io::Error::other(e.to_string()))),
        }
    }
}

async fn scan(app: &AppState, bus: &BusTap, req: ScanRequest) -> ScanResult {
    let tools = &app.inner.installer_tools;
    let mut link = ThroughOwner {
        tap: bus,
        timeout: req.timeout,
    };
    let deadline = tokio::time::Instant::now() + SCAN_LIMIT;
    let mut found = Vec::new();
    let mut incomplete = false;
    log::info!(
        "scan of bus {} (units {}..={}) started",
        bus.bus.name,
        req.first,
        req.last
    );
    for unit in req.first..=req.last {
        if tokio::time::Instant::now() >= deadline {
            incomplete = true;
            break;
        }
        if let Some(f) = crate::tools::probe_unit(&mut link, &tools.profiles, unit).await {
            found.push(FoundUnit {
                unit: f.unit,
                profiles: f.looks_like.iter().map(|(p, _)| p.clone()).collect(),
                detail: f.looks_like.first().map(|(_, d)| d.clone()),
            });
        }
    }
    log::info!(
        "scan of bus {}: {} unit(s) answered",
        bus.bus.name,
        found.len()
    );
    ScanResult {
        bus: bus.bus.name.clone(),
        first: req.first,
        last: req.last,
        found,
        incomplete,
    }
}

fn bus_named<'a>(app: &'a AppState, name: &str) -> Option<&'a BusTap> {
    app.inner
        .installer_tools
        .buses
        .iter()
        .find(|b| b.bus.name == name)
}

/// The API's scan request: numbers, each optional (1, 247, 200 ms), or no body at all.
#[derive(Debug, Default, Deserialize)]
struct ScanJson {
    first: Option<u64>,
    last: Option<u64>,
    timeout_ms: Option<u64>,
}

impl Posted for ScanForm {
    async fn from_json(request: Request) -> Result<Self, Response> {
        let j: ScanJson = optional_json(request).await?;
        let text = |v: Option<u64>| v.map(|n| n.to_string()).unwrap_or_default();
        Ok(ScanForm {
            first: text(j.first),
            last: text(j.last),
            timeout_ms: text(j.timeout_ms),
        })
    }
}

/// 422 as the tools' API writes it: `{"error": "invalid fields", "fields": {..}}`.
pub(super) fn invalid_fields(refusals: Refusals) -> WebError {
    WebError::Refused {
        refusals,
        shape: Shape::InvalidFields,
    }
}

pub(super) async fn scan_bus(
    State(app): State<AppState>,
    ctx: Ctx,
    Path(name): Path<String>,
    Input(form): Input<ScanForm>,
) -> Result<Response, WebError> {
    ctx.require(Action::InstallerConfig)?;
    let bus = bus_named(&app, &name).ok_or_else(|| not_found(&ctx))?;
    let scanned = match parse_scan(&form, ctx.lang) {
        Ok(req) => Ok(scan(&app, bus, req).await),
        Err(refusals) => Err(refusals),
    };
    if ctx.api {
        let result = scanned.map_err(invalid_fields)?;
        return Ok(axum::Json(result).into_response());
    }
    // The tools page again, this bus's form as sent with its result or its refusals.
    let mut results = render::Results {
        scan_bus: Some(name.clone()),
        scan_form: form,
        ..Default::default()
    };
    let status = match scanned {
        Ok(result) => {
            results.scan = Some(result);
            StatusCode::OK
        }
        Err(refusals) => {
            results.scan_errors = refusals;
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    Ok(html_page(
        status,
        render::overview(&ctx, &app.inner.site_name, &overview(&app), &results),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;
    use std::time::Duration;

    fn form(first: &str, last: &str, timeout: &str) -> ScanForm {
        ScanForm {
            first: first.into(),
            last: last.into(),
            timeout_ms: timeout.into(),
        }
    }

    #[test]
    fn an_empty_scan_form_scans_every_unit_and_bad_fields_are_named() {
        let req = parse_scan(&form("", "", ""), Lang::En).unwrap();
        assert_eq!((req.first, req.last), (1, 247));
        assert_eq!(req.timeout, Duration::from_millis(200));
        let errors = parse_scan(&form("0", "300", "5"), Lang::En).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|(f, _)| f).collect();
        assert_eq!(fields, vec!["first", "last", "timeout_ms"]);
        let errors = parse_scan(&form("9", "3", ""), Lang::Fr).unwrap_err();
        assert_eq!(
            errors,
            Refusals::from([("last", "le dernier numéro suit le premier")])
        );
    }
}
