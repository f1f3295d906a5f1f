//! Badges end to end: a simulated reader on a real PTY, the daemon's decision against the access
//! list in its database, and the simulated socket's relay.

use rusqlite::Connection;
use sitegate::core::access::*;
use sitegate::store::{self, Write};
use socket_sim::{Model, ReaderCommand, ReaderProtocol, UnitSpec};

use crate::support::*;

const ALICE: &str = "04A1B2C3";
const MALLORY: &str = "0BADBADB";

/// Alice may charge; Mallory's badge is blocked.
fn write_access_list(config: &sitegate::config::Config) {
    with_store_handle(config, async |handle, _| {
        let user = |id: &str| User::new(id, id);
        let tokens = token_entries(&[
            (ALICE, "alice", TokenStatus::Accepted),
            (MALLORY, "mallory", TokenStatus::Blocked),
        ]);
        let mut rules = SiteRules::empty();
        rules.site.tariff = Some("standard".into());
        handle
            .replace_access_list(1, rules, vec![user("alice"), user("mallory")], tokens)
            .await
            .unwrap();
    });
}

fn audits(site: &Site) -> Vec<String> {
    let conn: Connection = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    conn.prepare("SELECT json_extract(payload, '$.outcome') || ':' || coalesce(json_extract(payload, '$.reason'), '') FROM outbox WHERE kind = 'authorization' ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Socket `s` (not free) behind reader `entrance` on a PTY, `head` before their tables, `prepare`
/// run before the daemon starts; returned once a vehicle is plugged in and the socket occupied.
async fn plugged_behind_reader(
    sim: &socket_sim::Sim,
    head: &str,
    prepare: impl FnOnce(&sitegate::config::Config) + Send + 'static,
) -> Site {
    let addr = tcp(sim, "gw", vec![UnitSpec::new(1, Model::GenericSocket)]).await;
    let reader = sim
        .serve_reader_pty("entrance", ReaderProtocol::Ascii)
        .unwrap();
    let tables = head.to_string()
        + &tcp_bus("gw", addr, "")
        + &socket("s", "gw", 1, "generic-socket", "poll_interval = \"200ms\"")
            .replace("free = true\n", "")
        + &format!(
            "[[reader]]\nname = \"entrance\"\ndevice = \"{}\"\nprotocol = \"ascii-hex\"\nsockets = [\"s\"]\n",
            reader.display()
        );
    // The access list must be in the database before the daemon (blocking: outside the runtime).
    let sim_for_site = sim.clone();
    let site =
        tokio::task::spawn_blocking(move || Site::start_after(sim_for_site, &tables, prepare))
            .await
            .unwrap();
    site.wait_state("s", "Available").await;
    plug_in(sim, "gw", 1);
    site.wait_state("s", "Occupied").await;
    site
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_badge_starts_the_socket_and_a_blocked_one_leaves_the_relay_off() {
    let sim = sim(false);
    let site = plugged_behind_reader(&sim, "", write_access_list).await;

    sim.control_reader(
        "entrance",
        ReaderCommand::Badge {
            uid: MALLORY.into(),
            hold_ms: 0,
        },
    )
    .unwrap();
    site.wait_until("the refusal audited", |_| {
        audits(&site).iter().any(|a| a == "rejected:Blocked")
    })
    .await;
    assert!(
        !sim.truth("gw", 1).unwrap().enabled,
        "the relay stays off for a blocked badge"
    );

    sim.control_reader(
        "entrance",
        ReaderCommand::Badge {
            uid: ALICE.to_lowercase(),
            hold_ms: 0,
        },
    )
    .unwrap();
    let charging = site.wait_state("s", "Charging").await;
    let session = charging.view.session.expect("a session");
    assert_eq!(
        (session.identity.as_deref(), session.tariff_id.as_deref()),
        (Some("alice"), Some("standard"))
    );
    assert!(sim.truth("gw", 1).unwrap().enabled);
    assert_eq!(audits(&site), ["rejected:Blocked", "accepted:"]);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_credit_stops_the_relay() {
    let sim = sim(false);
    let tables_head = "[sessions]\nsample_interval = \"10s\"\n";
    let site = plugged_behind_reader(&sim, tables_head, |config| {
        write_access_list(config);
        // Alice has 0.50 EUR left, at 10 EUR per kWh: 50 Wh, a few seconds at 11 kW.
        with_store_handle(config, async |handle, _| {
            let alice = User {
                credit: Some(Credit::Prepaid(rust_decimal::Decimal::new(50, 2))),
                ..User::new("alice", "Alice")
            };
            let entry = TokenEntry {
                user: Some("alice".into()),
                status: TokenStatus::Accepted,
                expiry_ms: None,
                parent: None,
                sockets: vec![],
            };
            let mut rules = SiteRules::empty();
            rules.site.tariff = Some("standard".into());
            let diff = Write::AccessListDiff {
                version: 2,
                rules: Some(Box::new(rules)),
                users: vec![("alice".into(), Some(alice))],
                tokens: vec![(IdToken::new(ALICE).unwrap(), Some(entry))],
            };
            handle.apply(vec![diff]).await.unwrap();
            let tariff =
                r#"{"id":"standard","currency":"EUR","energy":{"prices":[{"price_kwh":"10.00"}]}}"#;
            handle
                .apply(vec![Write::Tariffs {
                    version: 1,
                    tariffs: vec![("standard".into(), tariff.into())],
                }])
                .await
                .unwrap();
        });
    })
    .await;
    sim.control_reader(
        "entrance",
        ReaderCommand::Badge {
            uid: ALICE.into(),
            hold_ms: 0,
        },
    )
    .unwrap();
    site.wait_state("s", "Charging").await;
    // The credit runs out: the session ends and the relay opens, with the vehicle still plugged.
    site.wait_agree("s", "gw", 1, |s, t| {
        if s.view.session.is_none() && !t.enabled {
            Ok(())
        } else {
            Err(format!("relay {}", t.enabled))
        }
    })
    .await;
    let conn = store::open_reader(&site.config.state_dir.join(store::DB_FILE)).unwrap();
    let (reason, cost): (String, String) = conn
        .query_row(
            "SELECT stop_reason, total_cost FROM sessions WHERE stopped_ms IS NOT NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(reason, "credit_exhausted");
    let cost: rust_decimal::Decimal = cost.parse().unwrap();
    assert!(
        cost <= rust_decimal::Decimal::new(60, 2),
        "stopped near the 0.50 credit, not far past it: {cost}"
    );
    site.stop().await;
}
