//! The Access page over real HTTPS against the real daemon: the synced list shown page by page
//! and searched, hostile names shown as text, the explain tool answering as the core decides,
//! and the price calculator's breakdown equal to `sitegate tariff quote`'s.

use sitegate::core::access::*;
use sitegate::store::Write;

use crate::support::*;
use crate::support::{https, web};

pub const ALICE: &str = "04A1B2C3";
pub const MALLORY: &str = "0BADBADB";
pub const EVIL: &str = "0E0E0E0E";
pub const SCRIPT_NAME: &str = "<script>alert(1)</script>";
pub const IMG_COMMUNITY: &str = "\"><img src=x onerror=alert(1)>";
/// Night energy is cheaper; charging time costs too; 20 % VAT.
pub const DAY_NIGHT: &str = r#"{"id":"day-night","currency":"EUR",
    "energy":{"prices":[
        {"price_kwh":"0.15","conditions":{"start_time_of_day":"22:00","end_time_of_day":"06:00"}},
        {"price_kwh":"0.30"}]},
    "charging_time":{"prices":[{"price_minute":"0.01"}]},
    "taxes":[{"name":"VAT","percent":20}]}"#;

/// Alice may charge, Mallory's badge is blocked, a user and a community carry markup in their
/// names, 120 more users fill pages; one tariff.
pub fn write_access(config: &sitegate::config::Config) {
    with_store_handle(config, async |handle, _| {
        let tokens = token_entries(&[
            (ALICE, "alice", TokenStatus::Accepted),
            (MALLORY, "mallory", TokenStatus::Blocked),
            (EVIL, "evil", TokenStatus::Accepted),
        ]);
        let mut users = vec![
            User::new("alice", "Alice Martin"),
            User::new("mallory", "Mallory"),
            User {
                communities: vec![IMG_COMMUNITY.into()],
                ..User::new("evil", SCRIPT_NAME)
            },
        ];
        users.extend((0..120).map(|i| User::new(&format!("user-{i:03}"), &format!("Driver {i}"))));
        let mut rules = SiteRules::empty();
        for (id, kind) in [
            ("members", CommunityKind::Private),
            (IMG_COMMUNITY, CommunityKind::Public),
        ] {
            rules.communities.insert(
                id.into(),
                Community {
                    id: id.into(),
                    kind,
                    card_payment: false,
                    tariff: Some("day-night".into()),
                    hours: None,
                },
            );
            rules.site.communities.push(id.into());
        }
        rules.site.default_community = Some("members".into());
        handle
            .replace_access_list(1, rules, users, tokens)
            .await
            .unwrap();
        handle
            .apply(vec![Write::Tariffs {
                version: 1,
                tariffs: vec![("day-night".into(), DAY_NIGHT.into())],
            }])
            .await
            .unwrap();
    });
}

fn prepare(config: &sitegate::config::Config) {
    web::add_accounts(config, web::INSTALLER_AND_MANAGER);
    write_access(config);
}

pub async fn site_with_access(sim: &socket_sim::Sim) -> Site {
    let tables = web::one_socket(sim, "poll_interval = \"200ms\"")
        .await
        .replace("free = true\n", "");
    web::start_site_after(sim, &tables, prepare).await
}

fn json(reply: &https::Reply) -> serde_json::Value {
    assert_eq!(reply.status, 200, "{}\n{}", reply.head, reply.body);
    serde_json::from_str(&reply.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_list_is_paged_searched_and_hostile_names_stay_text() {
    let sim = sim(false);
    let site = site_with_access(&sim).await;
    let manager = web::signed(&site, "manager").await;

    let users = json(&manager.get("/api/v1/access/users").await);
    assert_eq!(users["total"], 123);
    assert_eq!(users["pages"], 3);
    assert_eq!(users["users"].as_array().unwrap().len(), 50);
    assert_eq!(users["users"][0]["id"], "alice", "ordered by id");
    let last = json(&manager.get("/api/v1/access/users?page=3").await);
    assert_eq!(last["users"].as_array().unwrap().len(), 23);
    // A token (any case) finds its user; a piece of a name or a community finds theirs.
    let by_token = json(&manager.get("/api/v1/access/users?q=04a1b2c3").await);
    assert_eq!(by_token["total"], 1);
    assert_eq!(by_token["users"][0]["id"], "alice");
    let by_name = json(&manager.get("/api/v1/access/users?q=driver%2011").await);
    assert_eq!(by_name["total"], 11, "Driver 11 and 110…119: {by_name}");
    let by_community = json(&manager.get("/api/v1/access/users?q=onerror").await);
    assert_eq!(by_community["total"], 1);
    assert_eq!(by_community["users"][0]["name"], SCRIPT_NAME);
    let percent = json(&manager.get("/api/v1/access/users?q=%25").await);
    assert_eq!(percent["total"], 0, "a % is searched literally");
    let communities = json(&manager.get("/api/v1/access/communities").await);
    assert_eq!(communities.as_array().unwrap().len(), 2);
    let tariffs = json(&manager.get("/api/v1/access/tariffs").await);
    assert_eq!(tariffs[0]["id"], "day-night");
    assert_eq!(
        json(&manager.get("/api/v1/access/promotions").await),
        serde_json::json!([])
    );

    for path in ["/access", "/access?q=onerror", "/access?q=%3Cscript%3E"] {
        let page = manager.get(path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("<img src=x"), "{path}: {}", page.body);
    }
    let page = manager.get("/access?q=onerror").await;
    assert!(
        page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;")
    );
    let page = manager.get("/access").await;
    assert!(page.body.contains("Alice Martin") && page.body.contains("user-046"));
    assert!(
        page.body.contains("href=\"/access?q=&amp;page=2\""),
        "next page link"
    );
    let too_long = manager.get(&format!("/access?q={}", "x".repeat(101))).await;
    assert_eq!(too_long.status, 422);
    assert!(too_long.body.contains("id=\"q-error\""));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_answers_as_the_core_decides() {
    let sim = sim(false);
    let site = site_with_access(&sim).await;
    site.wait_state("s", "Available").await;
    let manager = web::signed(&site, "manager").await;

    let ask = |token: &str| format!("/api/v1/access/explain?token={token}&socket=s");
    let alice = json(&manager.get(&ask(ALICE)).await);
    let e = &alice["explanation"];
    assert_eq!(e["outcome"], "accepted", "{alice}");
    assert_eq!(e["user"], "alice");
    assert_eq!(e["community"], "members");
    assert_eq!(e["tariff"], "day-night");
    assert_eq!(e["source"], "local_list");
    assert_eq!(e["online"], false, "no uplink: offline");

    let mallory = json(&manager.get(&ask(MALLORY)).await);
    assert_eq!(mallory["explanation"]["outcome"], "rejected");
    assert_eq!(mallory["explanation"]["reason"], "Blocked");
    let stranger = json(&manager.get(&ask("DEADBEEF")).await);
    assert_eq!(stranger["explanation"]["reason"], "Unknown");
    assert_eq!(stranger["explanation"]["on_the_list"], false);

    // The page says it in words, and French on request.
    let page = manager
        .get(&format!("/access/explain?token={MALLORY}&socket=s"))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Refused (Blocked)"), "{}", page.body);
    assert!(page.body.contains("the token or its user is blocked"));
    let page = manager
        .get(&format!("/access/explain?token={ALICE}&socket=s"))
        .await;
    assert!(page.body.contains("Accepted"));

    // Wrong fields: 422, the message next to the field, the value kept.
    let refused = manager.get("/access/explain?token=&socket=nowhere").await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains("id=\"token-error\"") && refused.body.contains("id=\"socket-error\"")
    );
    let refused = manager
        .get("/api/v1/access/explain?token=has%20space&socket=s")
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains("\"token\""));

    // The same badge at the reader would be decided the same way: the socket taken, refused.
    plug_in(&sim, "gw", 1);
    site.wait_state("s", "Occupied").await;
    let busy = json(&manager.get(&ask(ALICE)).await);
    assert_eq!(
        busy["explanation"]["outcome"], "accepted",
        "plugged, no session yet: {busy}"
    );
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_price_calculator_gives_the_quote_tools_breakdown() {
    use sitegate::cli::tariff::{QuoteArgs, quote};
    let sim = sim(false);
    let site = site_with_access(&sim).await;
    let manager = web::signed(&site, "manager").await;

    // 14 kWh from 21:00 over two hours (site time: UTC), across the 22:00 night boundary.
    let asked = "tariff=day-night&energy_kwh=14&start=2026-06-10T21%3A00&duration=120";
    let answer = json(&manager.get(&format!("/api/v1/access/price?{asked}")).await);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let expected = quote(&QuoteArgs {
        tariff: file("t.json", DAY_NIGHT),
        promotion: None,
        used_by_user: 0,
        used_total: 0,
        session: file(
            "s.json",
            r#"{"started_at":"2026-06-10T21:00:00Z","stopped_at":"2026-06-10T23:00:00Z",
                "samples":[{"at":"2026-06-10T23:00:00Z","energy_wh":14000,"phase":"charging"}]}"#,
        ),
        timezone: "UTC".into(),
        json: true,
    })
    .unwrap();
    let expected: serde_json::Value = serde_json::from_str(&expected).unwrap();
    assert_eq!(answer["quote"]["breakdown"], expected);
    // 7 kWh at 0.30 and 7 at 0.15, 120 min at 0.01: 3.15 + 1.20 = 4.35, VAT 0.87.
    assert_eq!(expected["total_incl_tax"], "5.22");

    let page = manager.get(&format!("/access/price?{asked}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("5.22 EUR"), "{}", page.body);

    let refused = manager
        .get("/access/price?tariff=nope&energy_kwh=lots&start=tomorrow&duration=0")
        .await;
    assert_eq!(refused.status, 422);
    for field in ["tariff", "energy_kwh", "start", "duration"] {
        assert!(
            refused.body.contains(&format!("id=\"{field}-error\"")),
            "{field}"
        );
    }
    assert!(refused.body.contains("value=\"lots\""), "the value is kept");
    let first_visit = manager.get("/access/price").await;
    assert_eq!(first_visit.status, 200);
    site.stop().await;
}
