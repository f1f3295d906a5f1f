//! One table row per rule and per reason: what a badge at a socket gets, and why.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::*;

/// Central's answers for tokens off the list, as the store would find them (the store keeps
/// them and evicts with OCPP's rule: `store::access`'s tests).
#[derive(Default)]
struct Cache(HashMap<IdToken, Cached>);

impl Cache {
    fn get(&self, token: &IdToken) -> Option<&Cached> {
        self.0.get(token)
    }

    fn record(&mut self, token: IdToken, entry: TokenEntry, now_ms: i64) {
        self.0.insert(
            token,
            Cached {
                entry,
                updated_ms: now_ms,
            },
        );
    }
}

/// The whole list as central sends it; the store keeps users and tokens, the core the rest.
#[derive(Clone)]
struct AccessList {
    tokens: HashMap<IdToken, TokenEntry>,
    users: HashMap<UserId, User>,
    communities: HashMap<CommunityId, Community>,
    site: SiteAccess,
    sockets: HashMap<String, SocketAccess>,
}

impl AccessList {
    fn rules(&self) -> SiteRules {
        SiteRules {
            version: 3,
            communities: self.communities.clone(),
            site: self.site.clone(),
            sockets: self.sockets.clone(),
        }
    }

    /// What the store would find for `token`.
    fn lookup(&self, cache: &Cache, token: &IdToken) -> Lookup {
        let listed = self.tokens.get(token).cloned();
        let cached = if listed.is_none() {
            cache.get(token).cloned()
        } else {
            None
        };
        let user_id = listed
            .as_ref()
            .or(cached.as_ref().map(|c| &c.entry))
            .and_then(|e| e.user.clone());
        Lookup {
            user: user_id.and_then(|id| self.users.get(&id).cloned()),
            listed,
            cached,
        }
    }
}

fn authorize(
    list: &AccessList,
    cache: &Cache,
    policy: &OfflinePolicy,
    req: &Request<'_>,
) -> Decision {
    super::authorize(&list.rules(), &list.lookup(cache, req.token), policy, req)
}

const NOW: i64 = 1_795_348_800_000;

fn tok(s: &str) -> IdToken {
    IdToken::new(s).unwrap()
}

fn accepted(user: &str) -> TokenEntry {
    TokenEntry {
        user: Some(user.into()),
        status: TokenStatus::Accepted,
        expiry_ms: None,
        parent: None,
        sockets: vec![],
    }
}

fn user(id: &str, communities: &[&str]) -> User {
    User {
        communities: communities.iter().map(|c| c.to_string()).collect(),
        ..User::new(id, &id.to_uppercase())
    }
}

fn community(id: &str, kind: CommunityKind) -> Community {
    Community {
        id: id.into(),
        kind,
        card_payment: false,
        tariff: Some(format!("t-{id}")),
        hours: None,
    }
}

/// A shared site with a private residents' community (default) and a public one.
fn list() -> AccessList {
    let mut l = AccessList {
        tokens: HashMap::new(),
        users: HashMap::new(),
        communities: HashMap::new(),
        site: SiteAccess {
            kind: SiteKind::Shared,
            communities: vec![],
            default_community: None,
            tariff: None,
        },
        sockets: HashMap::new(),
    };
    l.site = SiteAccess {
        kind: SiteKind::Shared,
        communities: vec!["residents".into(), "visitors".into()],
        default_community: Some("residents".into()),
        tariff: Some("t-site".into()),
    };
    for c in [
        community("residents", CommunityKind::Private),
        community("visitors", CommunityKind::Public),
        community("staff", CommunityKind::Private),
    ] {
        l.communities.insert(c.id.clone(), c);
    }
    l.users
        .insert("alice".into(), user("alice", &["residents"]));
    l.users.insert("bob".into(), user("bob", &["staff"]));
    l.users.insert("carol".into(), user("carol", &[]));
    l.tokens.insert(tok("04A1B2C3"), accepted("alice"));
    l.tokens.insert(tok("05B0B0B0"), accepted("bob"));
    l.tokens.insert(tok("06CA401C"), accepted("carol"));
    l
}

fn req<'a>(token: &'a IdToken) -> Request<'a> {
    Request {
        token,
        socket: "p1",
        socket_in_service: true,
        now_ms: NOW,
        local_weekday: 2,
        local_minute: 12 * 60,
        online: false,
        user_sessions: 0,
        user_spent: Decimal::ZERO,
    }
}

fn decide(list: &AccessList, r: Request<'_>) -> Decision {
    authorize(list, &Cache::default(), &OfflinePolicy::default(), &r)
}

fn rejected(d: Decision) -> Rejection {
    match d {
        Decision::Rejected(r) => r,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn grant(d: Decision) -> Grant {
    match d {
        Decision::Accepted(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    }
}

#[test]
fn a_resident_charges_under_the_residents_tariff() {
    let t = tok("04a1b2c3");
    let g = grant(decide(&list(), req(&t)));
    assert_eq!(
        (
            g.user.as_deref(),
            g.community.as_deref(),
            g.tariff.as_deref()
        ),
        (Some("alice"), Some("residents"), Some("t-residents"))
    );
    assert_eq!(g.source, Source::LocalList);
}

#[test]
fn each_reason_with_the_case_that_gives_it() {
    let t = tok("04A1B2C3");
    let mut cases: Vec<(&str, AccessList, Request<'_>, Rejection)> = Vec::new();

    let r = Request {
        socket_in_service: false,
        ..req(&t)
    };
    cases.push((
        "socket out of service",
        list(),
        r,
        Rejection::SocketUnavailable,
    ));

    let mut l = list();
    l.tokens.get_mut(&t).unwrap().status = TokenStatus::Blocked;
    cases.push(("token blocked by central", l, req(&t), Rejection::Blocked));

    let mut l = list();
    l.users.get_mut("alice").unwrap().blocked = true;
    cases.push(("user blocked", l, req(&t), Rejection::Blocked));

    let mut l = list();
    l.tokens.get_mut(&t).unwrap().expiry_ms = Some(NOW - 1);
    cases.push(("token expired, offline", l, req(&t), Rejection::Expired));

    let mut l = list();
    l.users.get_mut("alice").unwrap().active_until_ms = Some(NOW - 1);
    cases.push(("account no longer active", l, req(&t), Rejection::Expired));

    let mut l = list();
    l.users.get_mut("alice").unwrap().socket_access = false;
    cases.push((
        "access to sockets not granted",
        l,
        req(&t),
        Rejection::NoAccess,
    ));

    let mut l = list();
    l.tokens.get_mut(&t).unwrap().sockets = vec!["p9".into()];
    cases.push((
        "token restricted to another socket",
        l,
        req(&t),
        Rejection::NotAtThisLocation,
    ));

    let mut l = list();
    l.sockets.insert(
        "p1".into(),
        SocketAccess {
            communities: Some(vec!["staff".into()]),
            tariff: None,
        },
    );
    cases.push((
        "socket reserved to staff",
        l,
        req(&t),
        Rejection::NotAtThisLocation,
    ));

    let mut l = list();
    l.communities.get_mut("residents").unwrap().hours = Some(Hours {
        days: [true; 7],
        start_min: 22 * 60,
        end_min: 6 * 60,
    });
    l.communities.get_mut("visitors").unwrap().hours = Some(Hours {
        days: [true; 7],
        start_min: 8 * 60,
        end_min: 11 * 60,
    });
    cases.push((
        "only at night, and visitors only in the morning",
        l,
        req(&t),
        Rejection::NotAtThisTime,
    ));

    let r = Request {
        user_sessions: 1,
        ..req(&t)
    };
    cases.push((
        "already charging elsewhere",
        list(),
        r,
        Rejection::ConcurrentTx,
    ));

    let mut l = list();
    l.users.get_mut("alice").unwrap().credit = Some(Credit::Prepaid(Decimal::new(500, 2)));
    let r = Request {
        user_spent: Decimal::new(500, 2),
        ..req(&t)
    };
    cases.push(("prepaid balance used up", l, r, Rejection::NoCredit));

    let stranger = tok("DEADBEEF");
    cases.push((
        "unknown, offline, not allowed",
        list(),
        req(&stranger),
        Rejection::Unknown,
    ));

    for (what, l, r, expected) in cases {
        assert_eq!(rejected(decide(&l, r)), expected, "{what}");
    }
}

#[test]
fn a_member_of_a_community_absent_here_may_still_use_a_public_one() {
    let bob = tok("05B0B0B0");
    let g = grant(decide(&list(), req(&bob)));
    assert_eq!(
        g.community.as_deref(),
        Some("visitors"),
        "staff is not a community of this site"
    );
    let mut l = list();
    l.communities.get_mut("visitors").unwrap().kind = CommunityKind::Private;
    assert_eq!(
        rejected(decide(&l, req(&bob))),
        Rejection::NoAccess,
        "private everywhere: no access"
    );
}

#[test]
fn a_user_removed_from_every_community_falls_back_to_the_default_one() {
    let carol = tok("06CA401C");
    assert_eq!(
        grant(decide(&list(), req(&carol))).community.as_deref(),
        Some("residents")
    );
}

#[test]
fn hours_that_wrap_past_midnight_belong_to_the_day_they_start() {
    let night = Hours {
        days: [false, false, false, false, true, false, false],
        start_min: 22 * 60,
        end_min: 6 * 60,
    };
    assert!(night.contains(4, 23 * 60), "Friday 23:00");
    assert!(
        night.contains(5, 5 * 60),
        "Saturday 05:00 is still Friday night"
    );
    assert!(
        !night.contains(4, 5 * 60),
        "Friday 05:00 belongs to Thursday night"
    );
    assert!(!night.contains(5, 23 * 60));
}

#[test]
fn tariff_precedence_is_socket_then_community_then_site() {
    let t = tok("04A1B2C3");
    let mut l = list();
    l.sockets.insert(
        "p1".into(),
        SocketAccess {
            communities: None,
            tariff: Some("t-fast".into()),
        },
    );
    assert_eq!(grant(decide(&l, req(&t))).tariff.as_deref(), Some("t-fast"));
    let mut l = list();
    l.communities.get_mut("residents").unwrap().tariff = None;
    assert_eq!(grant(decide(&l, req(&t))).tariff.as_deref(), Some("t-site"));
}

#[test]
fn credit_left_is_the_limit_minus_the_running_sessions() {
    let t = tok("04A1B2C3");
    let mut l = list();
    l.users.get_mut("alice").unwrap().credit = Some(Credit::Limit(Decimal::new(2000, 2)));
    let policy = OfflinePolicy {
        allow_concurrent_tx: true,
        ..OfflinePolicy::default()
    };
    let r = Request {
        user_sessions: 1,
        user_spent: Decimal::new(750, 2),
        ..req(&t)
    };
    let g = grant(authorize(&l, &Cache::default(), &policy, &r));
    assert_eq!(g.credit_left, Some(Decimal::new(1250, 2)));
}

#[test]
fn offline_rules_of_ocpp() {
    let stranger = tok("DEADBEEF");
    let l = list();
    let cache = Cache::default();
    let allow = OfflinePolicy {
        allow_offline_tx_for_unknown_id: true,
        ..OfflinePolicy::default()
    };
    let g = grant(authorize(&l, &cache, &allow, &req(&stranger)));
    assert_eq!(
        (g.source, g.community.as_deref()),
        (Source::UnknownOffline, Some("residents"))
    );

    let online = Request {
        online: true,
        ..req(&stranger)
    };
    assert_eq!(
        authorize(&l, &cache, &allow, &online),
        Decision::AskCentral,
        "online, unknown ids go to central"
    );

    let t = tok("04A1B2C3");
    let no_pre = OfflinePolicy {
        local_pre_authorize: false,
        ..OfflinePolicy::default()
    };
    assert_eq!(
        authorize(
            &l,
            &cache,
            &no_pre,
            &Request {
                online: true,
                ..req(&t)
            }
        ),
        Decision::AskCentral
    );
    assert!(
        matches!(
            authorize(
                &l,
                &cache,
                &OfflinePolicy::default(),
                &Request {
                    online: true,
                    ..req(&t)
                }
            ),
            Decision::Accepted(_)
        ),
        "pre-authorized from the list"
    );

    let no_offline = OfflinePolicy {
        local_authorize_offline: false,
        ..OfflinePolicy::default()
    };
    assert_eq!(
        rejected(authorize(&l, &cache, &no_offline, &req(&t))),
        Rejection::Unknown
    );

    // A listed token that is not accepted is refused offline even when unknown ids are allowed.
    let mut blocked = list();
    blocked.tokens.get_mut(&t).unwrap().status = TokenStatus::Blocked;
    assert_eq!(
        rejected(authorize(&blocked, &cache, &allow, &req(&t))),
        Rejection::Blocked
    );
}

#[test]
fn the_list_has_priority_over_the_cache_and_cached_refusals_are_asked_again_online() {
    let t = tok("04A1B2C3");
    let mut l = list();
    l.tokens.get_mut(&t).unwrap().status = TokenStatus::Blocked;
    let mut cache = Cache::default();
    cache.record(t.clone(), accepted("alice"), NOW - 1000);
    assert_eq!(
        rejected(authorize(&l, &cache, &OfflinePolicy::default(), &req(&t))),
        Rejection::Blocked
    );

    let visitor = tok("0A0B0C0D");
    let mut cache = Cache::default();
    cache.record(
        visitor.clone(),
        TokenEntry {
            status: TokenStatus::Blocked,
            ..accepted("dave")
        },
        NOW - 1000,
    );
    let online = Request {
        online: true,
        ..req(&visitor)
    };
    assert_eq!(
        authorize(&list(), &cache, &OfflinePolicy::default(), &online),
        Decision::AskCentral
    );
    assert_eq!(
        rejected(authorize(
            &list(),
            &cache,
            &OfflinePolicy::default(),
            &req(&visitor)
        )),
        Rejection::Blocked,
        "offline the refusal stands"
    );
    cache.record(visitor.clone(), accepted("dave"), NOW);
    let g = grant(authorize(
        &list(),
        &cache,
        &OfflinePolicy::default(),
        &req(&visitor),
    ));
    assert_eq!(
        (g.source, g.user.as_deref()),
        (Source::Cache, Some("dave")),
        "central vouched for a user the list does not carry"
    );
}

#[test]
fn tokens_compare_case_insensitively_and_never_show_in_clear() {
    assert_eq!(tok("04a1b2c3"), tok(" 04A1B2C3 "));
    let shown = format!("{:?} {}", tok("04A1B2C3"), tok("04A1B2C3"));
    assert!(!shown.contains("04A1B2C3"), "{shown}");
    assert!(shown.starts_with("tok:"));
    assert!(IdToken::new("").is_none() && IdToken::new(&"A".repeat(37)).is_none());
}
