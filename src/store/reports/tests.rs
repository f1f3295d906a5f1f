use super::*;
use crate::store::{DB_FILE, open_reader, open_writer};

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn november() -> Filter {
    Filter::period(date("2026-11-01"), date("2026-11-30"))
}

/// The shared fixture, read through a read-only connection as the export command does while
/// the daemon runs.
fn fixture() -> (tempfile::TempDir, Connection) {
    let (dir, writer) = writable_fixture();
    drop(writer);
    let reader = open_reader(&dir.path().join(DB_FILE)).unwrap();
    (dir, reader)
}

fn writable_fixture() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let (writer, _) = open_writer(&dir.path().join(DB_FILE)).unwrap();
    writer
        .execute_batch(include_str!("../../../tests/fixtures/export_sessions.sql"))
        .unwrap();
    (dir, writer)
}

fn ids(rows: &[SessionRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

#[test]
fn sessions_are_the_completed_ones_started_in_the_period_in_order_of_start() {
    let (_dir, conn) = fixture();
    let rows = sessions(&conn, &november()).unwrap();
    assert_eq!(
        ids(&rows),
        [
            "sess-01", "sess-02", "sess-03", "sess-04", "sess-06", "sess-05"
        ]
    );
    let anonymous = &rows[1];
    assert_eq!(anonymous.identity, None);
    assert_eq!(anonymous.total_cost, Some(dec("2.5")));
    assert_eq!(rows[2].total_cost, None);
    assert!(rows[2].offline);
}

#[test]
fn a_period_includes_its_first_and_last_day_whole() {
    let (_dir, conn) = fixture();
    let oct31 = sessions(
        &conn,
        &Filter::period(date("2026-10-31"), date("2026-10-31")),
    )
    .unwrap();
    assert_eq!(ids(&oct31), ["sess-07"]);
    let dec1 = sessions(
        &conn,
        &Filter::period(date("2026-12-01"), date("2026-12-01")),
    )
    .unwrap();
    assert_eq!(ids(&dec1), ["sess-08"]);
}

#[test]
fn sessions_can_be_narrowed_to_one_identity_and_one_socket() {
    let (_dir, conn) = fixture();
    let filter = Filter {
        identity: Some("alice".into()),
        ..november()
    };
    assert_eq!(
        ids(&sessions(&conn, &filter).unwrap()),
        ["sess-01", "sess-04"]
    );
    let filter = Filter {
        socket: Some("sock-2".into()),
        ..filter
    };
    assert_eq!(ids(&sessions(&conn, &filter).unwrap()), ["sess-04"]);
}

#[test]
fn clocks_say_how_far_each_time_can_be_believed() {
    let (_dir, conn) = fixture();
    let rows = sessions(&conn, &november()).unwrap();
    let by_id = |id: &str| rows.iter().find(|r| r.id == id).unwrap();
    let trusted = by_id("sess-01");
    assert_eq!(trusted.clock(), Clock::Trusted);
    assert_eq!(trusted.duration_ms(), Some(9_030_000));
    let estimated = by_id("sess-04");
    assert_eq!(estimated.clock(), Clock::Estimated);
    assert_eq!(
        estimated.started.local_time(),
        Some(date("2026-11-12").and_hms_opt(7, 0, 5).unwrap())
    );
    // One daemon run: the monotonic clock gives the exact duration.
    assert_eq!(estimated.duration_ms(), Some(7_195_000));
    let power_cut = by_id("sess-05");
    assert_eq!(power_cut.started.clock(), Clock::Trusted);
    assert_eq!(power_cut.stopped.clock(), Clock::Unknown);
    assert_eq!(power_cut.stopped.local_time(), None);
    assert_eq!(power_cut.clock(), Clock::Unknown);
    assert_eq!(power_cut.duration_ms(), None);
}

#[test]
fn a_plausible_text_with_a_1970_instant_is_still_unknown() {
    let stamp = Stamp {
        ms: 42_000,
        trusted: false,
        run: "r".into(),
        mono_ms: 42_000,
        local: "2026-11-01 00:00:00".into(),
    };
    assert_eq!(stamp.clock(), Clock::Unknown);
}

#[test]
fn site_consumption_has_a_group_per_socket_and_exact_cost_totals() {
    let (_dir, conn) = fixture();
    let site = site_consumption(&conn, &november()).unwrap();
    let keys: Vec<&str> = site.groups.iter().map(|g| g.key.as_str()).collect();
    assert_eq!(keys, ["sock-1", "sock-2"]);
    assert_eq!(site.total.sessions, 6);
    assert!((site.total.energy_wh - 46_845.85).abs() < 1e-9);
    assert_eq!(site.total.costs.by_currency["EUR"], dec("14.57"));
    assert_eq!(site.total.costs.unpriced, 1);
    let sock1 = &site.groups[0].totals;
    assert_eq!(sock1.sessions, 3);
    assert_eq!(sock1.charging_ms, 7_800_000 + 3_300_000);
    assert_eq!(sock1.idle_ms, 1_230_000 + 300_000 + 300_000);
    assert_eq!(sock1.costs.by_currency["EUR"], dec("4.32"));
    assert_eq!(sock1.costs.unpriced, 1);
}

#[test]
fn user_consumption_groups_anonymous_sessions_last() {
    let (_dir, conn) = fixture();
    let users = user_consumption(&conn, &november()).unwrap();
    let keys: Vec<Option<&str>> = users.groups.iter().map(|g| g.key.as_deref()).collect();
    assert_eq!(keys, [Some("alice"), Some("bob"), Some("carol"), None]);
    assert_eq!(
        users.groups[0].totals.costs.by_currency["EUR"],
        dec("10.32")
    );
    assert_eq!(users.groups[1].totals.costs.unpriced, 1);
    assert_eq!(users.groups[3].totals.sessions, 1);
}

#[test]
fn month_to_date_counts_open_sessions_up_to_the_end_of_today() {
    let (_dir, conn) = fixture();
    let mtd = month_to_date(&conn, date("2026-11-25")).unwrap();
    assert_eq!(mtd.sessions, 7);
    assert!((mtd.energy_wh - 48_845.85).abs() < 1e-9);
    assert_eq!(
        mtd.charging_ms,
        7_800_000 + 4_500_000 + 3_300_000 + 6_600_000 + 3_600_000 + 1_800_000
    );
    assert_eq!(mtd.total_cost, Some(dec("14.57")));
    assert_eq!(mtd.currency.as_deref(), Some("EUR"));
    assert_eq!(mtd.unpriced, 2);
    // Late on the 20th is still the 20th.
    let on_20th = month_to_date(&conn, date("2026-11-20")).unwrap();
    assert_eq!(on_20th.sessions, 6);
    let empty = month_to_date(&conn, date("2027-02-10")).unwrap();
    assert_eq!(
        (empty.sessions, empty.total_cost, empty.currency),
        (0, None, None)
    );
}

#[test]
fn month_to_date_searches_the_started_local_index() {
    let (_dir, conn) = fixture();
    for sql in [MONTH_TO_DATE_SQL, MONTH_TO_DATE_COSTS_SQL] {
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let plan: Vec<String> = stmt
            .query_map(["2026-11-01", "2026-11-26"], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step
                .contains("SEARCH sessions USING INDEX sessions_by_start (started_local>? AND started_local<?)")),
            "{sql}: {plan:?}"
        );
    }
}

#[test]
fn month_to_date_refuses_to_add_up_two_currencies() {
    let (_dir, conn) = writable_fixture();
    conn.execute(
        "UPDATE sessions SET currency = 'NOK' WHERE id = 'sess-02'",
        [],
    )
    .unwrap();
    assert!(matches!(
        month_to_date(&conn, date("2026-11-25")),
        Err(ReportError::MixedCurrencies(c)) if c == "EUR, NOK"
    ));
}

#[test]
fn a_cost_that_is_not_a_decimal_names_its_session() {
    let (_dir, conn) = writable_fixture();
    conn.execute(
        "UPDATE sessions SET total_cost = '4,32' WHERE id = 'sess-01'",
        [],
    )
    .unwrap();
    let err = sessions(&conn, &november()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "session sess-01: total_cost `4,32` is not a decimal number"
    );
}

#[test]
fn sessions_without_a_date_are_counted() {
    let (_dir, conn) = fixture();
    assert_eq!(undated_sessions(&conn).unwrap(), 1);
}

#[test]
fn local_times_parse_like_chrono_and_nothing_else_parses() {
    for text in [
        "2026-11-03 08:15:00",
        "2028-02-29 23:59:59",
        "1970-01-01 01:00:42",
    ] {
        assert_eq!(
            parse_local(text),
            Some(NaiveDateTime::parse_from_str(text, LOCAL_FORMAT).unwrap()),
            "{text}"
        );
    }
    for bad in [
        "",
        "2026-11-03",
        "2026-11-03T08:15:00",
        "2026-13-03 08:15:00",
        "2027-02-29 08:15:00",
        "2026-11-03 24:00:00",
        "2026-11-03 08:15:0x",
        "2026-11-03 08:15:+1",
        "2026-11-03 08:15:00Z",
    ] {
        assert_eq!(parse_local(bad), None, "{bad}");
    }
}
