//! One user's statement for a period, as data: the export's statement layout
//! (`export::layout::statement`, the same table `sitegate export statement` writes) with the
//! totals a manager checks (sessions, energy, cost per currency). The page and the API render
//! it. Never writes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::export::table::{kwh, money};
use crate::store::reports::Totals;
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::sessions::view::{FilterQuery, given, parse_filter, today};
use crate::web::state::AppState;

/// A statement as the page shows it and the API serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    pub title: String,
    pub user: String,
    pub from: String,
    pub to: String,
    pub notes: Vec<String>,
    /// Column keys (as the CSV names them) and labels.
    pub columns: Vec<(String, String)>,
    pub lines: Vec<StatementLine>,
    pub totals: StatementTotals,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementLine {
    /// session or total.
    pub kind: &'static str,
    /// Each cell as the CSV writes it.
    pub cells: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct StatementTotals {
    pub sessions: u64,
    pub energy_kwh: String,
    /// Cost per currency of the priced sessions.
    pub costs: BTreeMap<String, String>,
    pub unpriced: u64,
}

/// The user's completed sessions in the filter's period, through the export's layout.
pub(super) async fn build(
    app: &AppState,
    q: &FilterQuery,
    lang: Lang,
) -> Result<Statement, WebError> {
    let (mut filter, _) = parse_filter(q, today(app), lang)?;
    let Some(user) = given(&q.user).map(str::to_owned) else {
        return Err(Refusals::from([(
            "user",
            lang.pick(
                "whose statement? a user",
                "le relevé de qui ? un utilisateur",
            ),
        )])
        .into());
    };
    filter.identity = Some(user.clone());
    let site = crate::export::SiteInfo {
        name: app.inner.site_name.clone(),
        time_zone: app.inner.time_zone,
    };
    let statement = app
        .read(move |conn| {
            let failed =
                |e: &dyn std::fmt::Display| crate::store::StoreError::Failed(e.to_string());
            let period =
                crate::export::Period::new(filter.from, filter.to).map_err(|e| failed(&e))?;
            let sessions =
                crate::store::reports::sessions(conn, &filter).map_err(|e| failed(&e))?;
            let mut totals = Totals::default();
            sessions.iter().for_each(|s| totals.add(s));
            let table = crate::export::layout::statement(&site, &user, period, &sessions);
            let columns = table
                .columns
                .iter()
                .map(|c| (c.key.clone(), c.label.clone()))
                .collect();
            let lines = table
                .lines
                .map(|line| StatementLine {
                    kind: line.kind.as_str(),
                    cells: line
                        .cells
                        .iter()
                        .map(|cell| {
                            let mut text = String::new();
                            let _ = crate::export::csv::write_cell(&mut text, cell);
                            text
                        })
                        .collect(),
                })
                .collect();
            Ok(Statement {
                title: table.title,
                notes: table.notes,
                user,
                from: period.from().to_string(),
                to: period.to().to_string(),
                columns,
                lines,
                totals: StatementTotals {
                    sessions: totals.sessions,
                    energy_kwh: format!("{:.3}", kwh(totals.energy_wh)),
                    costs: totals
                        .costs
                        .by_currency
                        .iter()
                        .map(|(c, v)| (c.clone(), money(*v).to_string()))
                        .collect(),
                    unpriced: totals.costs.unpriced,
                },
            })
        })
        .await?;
    Ok(statement)
}

pub(super) fn asked(q: &FilterQuery) -> bool {
    q.user.is_some() || q.from.is_some() || q.to.is_some()
}
