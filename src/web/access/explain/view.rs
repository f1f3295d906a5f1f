//! The explain tool: would this token be accepted on this socket now, and if not, why. Asks
//! the core's own question (`core::site::BadgeQuestion`, as `Site::badge` asks it) over the
//! stored rules, the token's `store::access::lookup`, the offline policy in force, the
//! uplink's state and the live sockets; decides nothing itself.

use serde::{Deserialize, Serialize};

use crate::core::access::{Decision, IdToken, Rejection, Source};
use crate::core::site::BadgeQuestion;
use crate::web::error::WebError;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::state::AppState;

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ExplainQuery {
    pub(super) token: Option<String>,
    pub(super) socket: Option<String>,
}

/// The answer, as the page shows it and the API serves it.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub socket: String,
    /// accepted, rejected, ask_central (online, and the local answer is not enough) or
    /// stops_session (the token's own session runs on the socket: a badge stops it).
    pub outcome: &'static str,
    /// OCPP 2.0.1's reason of a rejection.
    pub reason: Option<&'static str>,
    /// The outcome in words, in the request's language.
    pub why: &'static str,
    pub online: bool,
    pub on_the_list: bool,
    pub in_the_cache: bool,
    pub user: Option<String>,
    pub user_name: Option<String>,
    pub community: Option<String>,
    pub tariff: Option<String>,
    pub credit_left: Option<String>,
    /// local_list, cache or unknown_offline.
    pub source: Option<&'static str>,
}

pub(super) struct Asked {
    token: IdToken,
    socket: String,
}

pub(super) fn validate(
    q: &ExplainQuery,
    sockets: &[String],
    lang: Lang,
) -> Result<Asked, Refusals> {
    let mut errors = Refusals::default();
    let token = match q.token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => {
            errors.add("token", lang.pick("a token is needed", "il faut un badge"));
            None
        }
        Some(t) => IdToken::new(t).or_else(|| {
            errors.add(
                "token",
                lang.pick(
                    "1 to 36 printable characters, no spaces",
                    "1 à 36 caractères imprimables, sans espace",
                ),
            );
            None
        }),
    };
    let socket = match q.socket.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => {
            errors.add(
                "socket",
                lang.pick("choose a socket", "choisissez une prise"),
            );
            None
        }
        Some(s) if sockets.iter().any(|x| x == s) => Some(s.to_owned()),
        Some(_) => {
            errors.add(
                "socket",
                lang.pick(
                    "no such socket at this site",
                    "pas de telle prise sur ce site",
                ),
            );
            None
        }
    };
    match (token, socket) {
        (Some(token), Some(socket)) if errors.is_empty() => Ok(Asked { token, socket }),
        _ => Err(errors),
    }
}

fn reason_words(lang: Lang, r: Rejection) -> &'static str {
    match r {
        Rejection::Unknown => lang.pick(
            "the token is not known here (not on the list, not in the cache, or refused offline by the policy)",
            "le badge est inconnu ici (ni sur la liste, ni dans le cache, ou refusé hors ligne par la politique)",
        ),
        Rejection::Blocked => lang.pick("the token or its user is blocked", "le badge ou son utilisateur est bloqué"),
        Rejection::Expired => lang.pick("the token or its user has expired", "le badge ou son utilisateur a expiré"),
        Rejection::NoAccess => lang.pick(
            "the user has no access to the sockets of this site",
            "l'utilisateur n'a pas accès aux prises de ce site",
        ),
        Rejection::NotAtThisLocation => lang.pick(
            "not allowed on this socket",
            "pas autorisé sur cette prise",
        ),
        Rejection::NotAtThisTime => lang.pick(
            "not allowed at this hour (community hours)",
            "pas autorisé à cette heure (heures de la communauté)",
        ),
        Rejection::ConcurrentTx => lang.pick(
            "the user already charges elsewhere",
            "l'utilisateur charge déjà ailleurs",
        ),
        Rejection::NoCredit => lang.pick("the user has no credit left", "l'utilisateur n'a plus de crédit"),
        Rejection::SocketUnavailable => lang.pick(
            "the socket is out of service, busy or unreachable",
            "la prise est hors service, occupée ou injoignable",
        ),
    }
}

/// Decides as the core would now.
pub(super) async fn decide(
    app: &AppState,
    asked: Asked,
    lang: Lang,
) -> Result<Explanation, WebError> {
    let base = app.inner.config.access;
    let token = asked.token.clone();
    let (rules, found, policy) = app
        .read(move |conn| {
            let rules = crate::store::access::load_rules(conn)?;
            let found = crate::store::access::lookup(conn, &token)?;
            let policy = crate::store::access::policy_in_force(conn, base);
            Ok((rules, found, policy))
        })
        .await?;
    let online = app
        .inner
        .uplink
        .as_ref()
        .is_some_and(|u| u.borrow().connected);
    let now_ms = app.inner.clock.now().wall_ms;
    let user_id = found.user.as_ref().map(|u| u.id.clone());
    let (decision, stops) = {
        let sockets = app.inner.sockets.borrow();
        let here = sockets
            .iter()
            .find(|s| s.id == asked.socket)
            .map(|s| &s.view);
        // The core's first question: a badge on its own session stops it.
        let stops = here.is_some_and(|v| v.stopped_by(&asked.token, &found));
        let question = BadgeQuestion::new(
            &asked.token,
            &found,
            sockets.iter().map(|s| &s.view),
            app.inner.time_zone,
            now_ms,
            online,
        );
        let decision = question.decide(&rules, &policy, &asked.socket, here);
        (decision, stops)
    };
    let mut out = Explanation {
        socket: asked.socket,
        outcome: "rejected",
        reason: None,
        why: "",
        online,
        on_the_list: found.listed.is_some(),
        in_the_cache: found.cached.is_some(),
        user: user_id,
        user_name: found.user.as_ref().map(|u| u.name.clone()),
        community: None,
        tariff: None,
        credit_left: None,
        source: None,
    };
    match decision {
        _ if stops => {
            out.outcome = "stops_session";
            out.why = lang.pick(
                "it would stop the session it (or its group) started here",
                "il arrêterait la session que lui (ou son groupe) a démarrée ici",
            );
        }
        Decision::Accepted(grant) => {
            out.outcome = "accepted";
            out.why = lang.pick("it would be accepted", "il serait accepté");
            out.user = grant.user.or(out.user);
            out.community = grant.community;
            out.tariff = grant.tariff;
            out.credit_left = grant.credit_left.map(|c| c.to_string());
            out.source = Some(match grant.source {
                Source::LocalList => "local_list",
                Source::Cache => "cache",
                Source::UnknownOffline => "unknown_offline",
            });
        }
        Decision::Rejected(r) => {
            out.reason = Some(r.name());
            out.why = reason_words(lang, r);
        }
        Decision::AskCentral => {
            out.outcome = "ask_central";
            out.why = lang.pick(
                "central would be asked: the site is online and the local answer is not enough",
                "le central serait interrogé : le site est en ligne et la réponse locale ne suffit pas",
            );
        }
    }
    Ok(out)
}

pub(super) fn socket_ids(app: &AppState) -> Vec<(String, String)> {
    app.inner
        .sockets
        .borrow()
        .iter()
        .map(|s| (s.id.clone(), s.name.clone()))
        .collect()
}
