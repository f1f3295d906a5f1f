//! The tools page's HTML (maud: every value escaped). Renders the same values the API
//! serialises; decides nothing.

use maud::{Markup, html};

use super::scan::{ScanForm, ScanResult};
use super::uplink::{UplinkForm, UplinkTestResult};
use super::view::{Overview, RelayTestOutcome, SocketRegisters};
use crate::core::site::RelayTestRefusal;
use crate::store::roles::Action;
use crate::web::form::Refusals;
use crate::web::i18n::Lang;
use crate::web::page::Ctx;
use crate::web::page::layout;

/// What a form post left to show: the values sent, the refused fields, the result.
#[derive(Debug, Default)]
pub struct Results {
    pub scan_bus: Option<String>,
    pub scan_form: ScanForm,
    pub scan_errors: Refusals,
    pub scan: Option<ScanResult>,
    pub uplink_form: UplinkForm,
    pub uplink_errors: Refusals,
    pub uplink: Option<UplinkTestResult>,
}

pub fn refusal_words(lang: Lang, r: RelayTestRefusal) -> &'static str {
    match r {
        RelayTestRefusal::Session => {
            lang.pick("the socket has a session", "la prise a une session")
        }
        RelayTestRefusal::Charging => lang.pick("a vehicle is charging", "un véhicule charge"),
        RelayTestRefusal::OutOfService => {
            lang.pick("the socket is out of service", "la prise est hors service")
        }
        RelayTestRefusal::Unreachable => {
            lang.pick("the socket does not answer", "la prise ne répond pas")
        }
        RelayTestRefusal::Pending => lang.pick(
            "an authorization is waiting for a plug-in",
            "une autorisation attend un branchement",
        ),
        RelayTestRefusal::Running => lang.pick(
            "a relay test is already running",
            "un test du relais est déjà en cours",
        ),
        RelayTestRefusal::NoSocket => lang.pick("no such socket", "prise inconnue"),
    }
}

/// A labelled text input, with its error next to it when refused.
fn field(
    id: &str,
    name: &str,
    label: &str,
    value: &str,
    numeric: bool,
    errors: &Refusals,
) -> Markup {
    let error = errors.get(name);
    let error_id = format!("{id}-error");
    html! {
        label for=(id) { (label) }
        @if let Some(message) = error {
            input id=(id) name=(name) value=(value) inputmode=[numeric.then_some("numeric")]
                aria-invalid="true" aria-describedby=(error_id);
            p class="field-error" id=(error_id) { (message) }
        } @else {
            input id=(id) name=(name) value=(value) inputmode=[numeric.then_some("numeric")];
        }
    }
}

fn count_cell(n: u64) -> Markup {
    html! { td class=[(n > 0).then_some("bad")] { (n) } }
}

pub fn overview(ctx: &Ctx, site_name: &str, o: &Overview, r: &Results) -> Markup {
    let lang = ctx.lang;
    let title = lang.pick("Installer tools", "Outils de l'installateur");
    // A bus polled over parallel TCP connections has several owners: one scan form for it.
    let scan_here: Vec<bool> = o
        .buses
        .iter()
        .enumerate()
        .map(|(i, b)| !o.buses[..i].iter().any(|x| x.name == b.name))
        .collect();
    let body = html! {
        h1 { (title) }
        @if o.buses.is_empty() {
            p { (lang.pick("No bus is configured.", "Aucun bus n'est configuré.")) }
        }
        @for (bus, scan_here) in o.buses.iter().zip(scan_here) {
            section class="bus" id={ "bus-" (bus.label) } {
                h2 { (lang.pick("Bus", "Bus")) " " (bus.label) }
                dl class="uplink" {
                    dt { (lang.pick("Link", "Liaison")) } dd { (bus.link) }
                    dt { (lang.pick("Polls", "Interrogations")) } dd { (bus.polls) }
                    dt { (lang.pick("Requests", "Requêtes")) } dd { (bus.requests) }
                    dt { (lang.pick("Poll lateness (99 %)", "Retard des interrogations (99 %)")) }
                    dd { @match bus.lateness_p99_ms { Some(ms) => { "< " (ms) " ms" }, None => "–" } }
                    dt { (lang.pick("Timeouts", "Délais dépassés")) } dd { (bus.timeouts) }
                    dt { (lang.pick("Garbled answers", "Réponses illisibles")) } dd { (bus.framing_errors) }
                    dt { (lang.pick("Exception answers", "Réponses d'exception")) } dd { (bus.exceptions) }
                    dt { (lang.pick("Link errors", "Erreurs de liaison")) } dd { (bus.io_errors) }
                    dt { (lang.pick("Reconnections", "Reconnexions")) } dd { (bus.reconnects) }
                    dt { (lang.pick("Failed writes", "Écritures échouées")) } dd { (bus.write_failures) }
                }
                div class="table-wrap" {
                    table class="devices" {
                        caption { (lang.pick("Devices", "Appareils")) }
                        thead { tr {
                            th scope="col" { (lang.pick("Socket", "Prise")) }
                            th scope="col" { (lang.pick("Unit", "Esclave")) }
                            th scope="col" { (lang.pick("Profile", "Profil")) }
                            th scope="col" { (lang.pick("Polls", "Interrogations")) }
                            th scope="col" { (lang.pick("Failed polls", "Échecs")) }
                            th scope="col" { (lang.pick("Exceptions", "Exceptions")) }
                        } }
                        tbody {
                            @for d in &bus.devices {
                                tr data-socket=(d.socket) {
                                    td { a href={ "/installer/tools/sockets/" (d.socket) } { (d.name) } }
                                    td { (d.unit_id) }
                                    td { (d.profile) }
                                    td { (d.polls) }
                                    (count_cell(d.failed_polls))
                                    (count_cell(d.exceptions))
                                }
                            }
                        }
                    }
                }
                @if scan_here { (scan_form(ctx, &bus.name, r)) }
            }
        }
        @if ctx.may(Action::UplinkSettings) {
            (uplink_section(ctx, o, r))
        }
    };
    layout(lang, title, site_name, Some(ctx), body)
}

fn scan_form(ctx: &Ctx, bus: &str, r: &Results) -> Markup {
    let lang = ctx.lang;
    let mine = r.scan_bus.as_deref() == Some(bus);
    let empty = ScanForm::default();
    let values = if mine { &r.scan_form } else { &empty };
    let no_errors = Refusals::default();
    let errors = if mine { &r.scan_errors } else { &no_errors };
    let id = |f: &str| format!("scan-{bus}-{f}");
    html! {
        h3 { (lang.pick("Scan the bus", "Scanner le bus")) }
        form method="post" action={ "/installer/tools/buses/" (bus) "/scan" } class="scan" {
            (ctx.csrf_field())
            (field(&id("first"), "first", lang.pick("First unit id (1 if empty)", "Premier esclave (1 si vide)"), &values.first, true, errors))
            (field(&id("last"), "last", lang.pick("Last unit id (247 if empty)", "Dernier esclave (247 si vide)"), &values.last, true, errors))
            (field(&id("timeout"), "timeout_ms", lang.pick("Timeout per request, ms (200 if empty)", "Délai par requête, ms (200 si vide)"), &values.timeout_ms, true, errors))
            button type="submit" { (lang.pick("Scan", "Scanner")) }
        }
        @if let Some(s) = r.scan.as_ref().filter(|_| mine) {
            div class="scan-result" role="status" {
                p {
                    (lang.pick("Units", "Esclaves")) " " (s.first) "–" (s.last) ": "
                    (s.found.len()) " " (lang.pick("answered", "ont répondu"))
                    @if s.incomplete { " " (lang.pick("(stopped at the time limit)", "(arrêté à la limite de temps)")) }
                }
                ul class="found" {
                    @for f in &s.found {
                        li data-unit=(f.unit) {
                            (lang.pick("unit", "esclave")) " " (f.unit) ": "
                            @match f.profiles.first() {
                                Some(p) => { (lang.pick("looks like", "ressemble à")) " " (p) @if let Some(d) = &f.detail { " (" (d) ")" } },
                                None => (lang.pick("answers; no profile recognises it", "répond ; aucun profil ne le reconnaît")),
                            }
                        }
                    }
                }
            }
        }
    }
}

fn uplink_section(ctx: &Ctx, o: &Overview, r: &Results) -> Markup {
    let lang = ctx.lang;
    html! {
        section id="uplink-test" {
            h2 { (lang.pick("Uplink connection test", "Test de la liaison montante")) }
            p {
                @match &o.uplink {
                    Some(u) => { (lang.pick("Configured:", "Configurée :")) " " (u.host) ":" (u.port) @if u.tls { " (TLS)" } },
                    None => (lang.pick("No uplink is configured.", "Aucune liaison montante n'est configurée.")),
                }
            }
            form method="post" action="/installer/tools/uplink-test" {
                (ctx.csrf_field())
                (field("uplink-host", "host", lang.pick("Host (the configured one if empty)", "Hôte (celui configuré si vide)"), &r.uplink_form.host, false, &r.uplink_errors))
                (field("uplink-port", "port", lang.pick("Port (the configured one if empty)", "Port (celui configuré si vide)"), &r.uplink_form.port, true, &r.uplink_errors))
                button type="submit" { (lang.pick("Test the connection", "Tester la connexion")) }
            }
            @if let Some(u) = &r.uplink {
                div class="uplink-result" role="status" {
                    p class=(if u.report.ok { "ok" } else { "bad" }) {
                        (u.host) ":" (u.port) " — "
                        (if u.report.ok { lang.pick("connection OK", "connexion réussie") } else { lang.pick("connection failed", "échec de la connexion") })
                    }
                    ul class="steps" {
                        @for s in &u.report.steps {
                            li class=(if s.ok { "ok" } else { "bad" }) data-step=(s.step) {
                                strong { (s.step.to_uppercase()) ": " }
                                (if s.ok { lang.pick("OK", "OK") } else { lang.pick("failed", "échec") })
                                " — " (s.detail)
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn socket(
    ctx: &Ctx,
    site_name: &str,
    r: &SocketRegisters,
    outcome: Option<&RelayTestOutcome>,
) -> Markup {
    let lang = ctx.lang;
    let title = lang.pick("Live registers", "Registres en direct");
    let body = html! {
        p { a href="/installer/tools" { (lang.pick("← Installer tools", "← Outils de l'installateur")) } }
        h1 { (title) ": " (r.name) }
        dl class="uplink" {
            dt { (lang.pick("Socket", "Prise")) } dd { (r.socket) }
            dt { (lang.pick("Bus and unit", "Bus et esclave")) } dd { (r.bus) " / " (r.unit_id) }
            dt { (lang.pick("Profile", "Profil")) } dd { (r.profile) }
            dt { (lang.pick("State", "État")) } dd id="register-state" { (r.state) }
            dt { (lang.pick("Last poll", "Dernière interrogation")) }
            dd id="polled-at" { (r.polled_at.as_deref().unwrap_or("–")) }
        }
        div class="table-wrap" {
            table id="registers" data-socket=(r.socket) {
                caption { (lang.pick("Decoded registers (refreshed every second)", "Registres décodés (actualisés chaque seconde)")) }
                thead { tr {
                    th scope="col" { (lang.pick("Register", "Registre")) }
                    th scope="col" { (lang.pick("Value", "Valeur")) }
                    th scope="col" { (lang.pick("Raw", "Brut")) }
                    th scope="col" { (lang.pick("Unit id", "Esclave")) }
                    th scope="col" { (lang.pick("Table", "Table")) }
                    th scope="col" { (lang.pick("Address", "Adresse")) }
                } }
                tbody {
                    @for g in &r.registers {
                        tr data-register=(g.name) {
                            td { (g.name) }
                            td class="value" { (g.value) @if let Some(u) = &g.measure { " " (u) } }
                            td class="raw" { (raw_words(&g.raw)) }
                            td { (g.unit) }
                            td { (g.table) }
                            td { (g.address) }
                        }
                    }
                }
            }
        }
        h2 { (lang.pick("Relay test", "Test du relais")) }
        p { (lang.pick(
            "Switches the socket on for a few seconds, then off. Refused while the socket has a session or a vehicle charges.",
            "Met la prise sous tension quelques secondes, puis la coupe. Refusé si la prise a une session ou si un véhicule charge.")) }
        @if let Some(o) = outcome {
            @match &o.refused {
                Some(why) => p class="error" role="alert" id="relay-test-result" { (lang.pick("Refused:", "Refusé :")) " " (why) },
                None => p class="ok" role="status" id="relay-test-result" {
                    (lang.pick("Relay on for", "Relais fermé pendant")) " " (o.seconds) " s"
                },
            }
        }
        form method="post" action={ "/installer/tools/sockets/" (r.socket) "/relay-test" } {
            (ctx.csrf_field())
            button type="submit" { (lang.pick("Test the relay", "Tester le relais")) }
        }
        script src="/installer/tools/registers.js" defer {}
    };
    layout(lang, title, site_name, Some(ctx), body)
}

/// Raw words in hexadecimal, as a Modbus tool shows them.
pub fn raw_words(raw: &[u16]) -> String {
    raw.iter()
        .map(|w| format!("0x{w:04X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
