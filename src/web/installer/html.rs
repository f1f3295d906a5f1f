//! The installer page's HTML (maud, escaped): buses and sockets, the reload status, and the
//! socket and uplink forms with each refused field's message next to it. Renders
//! `InstallerView`; never reads state itself.

use maud::{Markup, html};

use super::Sent;
use super::view::InstallerView;
use crate::config::edit::{SocketForm, UplinkForm};
use crate::store::roles::Action;
use crate::web::form::Refusals;
use crate::web::page::Ctx;
use crate::web::page::layout;
use crate::web::reload::ReloadOutcome;

/// A labelled input, with its problems next to it (`FIELD-error`, referenced by the input).
fn field(
    label: &str,
    name: &str,
    value: &str,
    kind: &str,
    refusal: &Refusals,
    extra: &str,
) -> Markup {
    let id = format!("{extra}{name}");
    let errors = refusal.all(name);
    html! {
        label for=(id) { (label) }
        @if !errors.is_empty() {
            input id=(id) name=(name) type=(kind) value=(value)
                aria-invalid="true" aria-describedby={(id) "-error"};
            p class="field-error error" id={(id) "-error"} { (errors.join("; ")) }
        } @else {
            input id=(id) name=(name) type=(kind) value=(value);
        }
    }
}

fn select(
    label: &str,
    name: &str,
    options: &[String],
    chosen: &str,
    refusal: &Refusals,
    extra: &str,
) -> Markup {
    let id = format!("{extra}{name}");
    let errors = refusal.all(name);
    let described = (!errors.is_empty()).then(|| format!("{id}-error"));
    html! {
        label for=(id) { (label) }
        select id=(id) name=(name) aria-describedby=[described] {
            @for o in options {
                option value=(o) selected[o == chosen] { (o) }
            }
        }
        @if !errors.is_empty() {
            p class="field-error error" id={(id) "-error"} { (errors.join("; ")) }
        }
    }
}

/// Problems not tied to one field.
fn general(refusal: &Refusals) -> Markup {
    let errors = refusal.all("");
    html! {
        @if !errors.is_empty() {
            div class="error" role="alert" {
                @for e in errors { p { (e) } }
            }
        }
    }
}

/// The socket form (add or edit): `action` is where it posts.
fn socket_form(
    ctx: &Ctx,
    view: &InstallerView,
    action: &str,
    form: &SocketForm,
    refusal: &Refusals,
    submit: &str,
) -> Markup {
    let lang = ctx.lang;
    let buses: Vec<String> = view.buses.iter().map(|b| b.name.clone()).collect();
    html! {
        form method="post" action=(action) class="installer-socket" {
            (ctx.csrf_field())
            (general(refusal))
            (field(lang.pick("Socket id", "Identifiant de la prise"), "id", &form.id, "text", refusal, ""))
            (field(lang.pick("Name", "Nom"), "name", &form.name, "text", refusal, ""))
            (field(lang.pick("Serial number", "Numéro de série"), "serial_number", &form.serial_number, "text", refusal, ""))
            (field("UID", "uid", &form.uid, "text", refusal, ""))
            (select(lang.pick("Profile", "Profil"), "profile", &view.profiles, &form.profile, refusal, ""))
            (select("Bus", "bus", &buses, &form.bus, refusal, ""))
            (field(lang.pick("Unit id (1–247)", "Numéro d'esclave (1–247)"), "unit_id", &form.unit_id, "text", refusal, ""))
            button type="submit" { (submit) }
        }
    }
}

fn uplink_form(ctx: &Ctx, form: &UplinkForm, refusal: &Refusals) -> Markup {
    let lang = ctx.lang;
    html! {
        form method="post" action="/installer/uplink" class="installer-uplink" {
            (ctx.csrf_field())
            (general(refusal))
            (field(lang.pick("Central's host", "Hôte du central"), "host", &form.host, "text", refusal, "uplink-"))
            (field("Port", "port", &form.port, "text", refusal, "uplink-"))
            (field(lang.pick("Username", "Nom d'utilisateur"), "username", &form.username, "text", refusal, "uplink-"))
            (field(lang.pick("Password (empty: unchanged)", "Mot de passe (vide : inchangé)"), "password", "", "password", refusal, "uplink-"))
            (field(lang.pick("CA file", "Fichier de l'AC"), "ca_file", &form.ca_file, "text", refusal, "uplink-"))
            (field(lang.pick("Client certificate file", "Fichier du certificat client"), "client_cert_file", &form.client_cert_file, "text", refusal, "uplink-"))
            (field(lang.pick("Client key file", "Fichier de la clé client"), "client_key_file", &form.client_key_file, "text", refusal, "uplink-"))
            button type="submit" { (lang.pick("Save the uplink settings", "Enregistrer la liaison")) }
        }
    }
}

/// Applying (the generation has not moved past `applied` yet: the page refreshes itself), or
/// the last reload's outcome.
fn status(ctx: &Ctx, view: &InstallerView, applied: Option<u64>) -> Markup {
    let lang = ctx.lang;
    let applying = applied.is_some_and(|before| view.generation <= before);
    html! {
        section id="reload-status" aria-live="polite" {
            p {
                (lang.pick("Configuration generation", "Génération de la configuration")) " "
                strong id="generation" { (view.generation) }
                @if let Some(file) = &view.config_file { " · " code { (file) } }
            }
            @if applying {
                meta http-equiv="refresh" content="1";
                p class="applying" { (lang.pick("Saved. Applying the change…", "Enregistré. Application en cours…")) }
            } @else {
                @match &view.last_reload {
                    Some(ReloadOutcome::Applied { changes }) => p class="ok" id="last-reload" {
                        (lang.pick("Last change applied: ", "Dernière modification appliquée : ")) (changes.to_string())
                    },
                    Some(ReloadOutcome::Refused { problems }) => div class="error" id="last-reload" {
                        p { (lang.pick("The last reload was refused; the running configuration stays:", "Le dernier rechargement a été refusé ; la configuration en cours reste :")) }
                        ul { @for p in problems { li { (p) } } }
                    },
                    None => {},
                }
            }
        }
    }
}

fn sockets_table(ctx: &Ctx, view: &InstallerView) -> Markup {
    let lang = ctx.lang;
    html! {
        @for bus in &view.buses {
            section class="bus" {
                h3 { "Bus " (bus.name) " " small { (bus.link) } }
                div class="table-scroll" {
                    table {
                        thead { tr {
                            th scope="col" { (lang.pick("Id", "Id")) }
                            th scope="col" { (lang.pick("Name", "Nom")) }
                            th scope="col" { (lang.pick("SN", "N° série")) }
                            th scope="col" { "UID" }
                            th scope="col" { (lang.pick("Profile", "Profil")) }
                            th scope="col" { (lang.pick("Unit", "Esclave")) }
                            th scope="col" { (lang.pick("State", "État")) }
                            th scope="col" { (lang.pick("Failed polls", "Lectures échouées")) }
                            th scope="col" { (lang.pick("Exceptions", "Exceptions")) }
                            th scope="col" { (lang.pick("Actions", "Actions")) }
                        } }
                        tbody {
                            @for s in &bus.sockets {
                                tr id={"installer-socket-" (s.id)} {
                                    td { (s.id) }
                                    td { (s.name) }
                                    td { (s.serial_number.as_deref().unwrap_or("–")) }
                                    td { (s.uid.as_deref().unwrap_or("–")) }
                                    td { (s.profile) }
                                    td { (s.unit_id) }
                                    td class={"state " (s.class)} { (s.words) }
                                    td { (s.failed_polls) }
                                    td { (s.exception_answers) }
                                    td {
                                        @if view.editable {
                                            a href={"/installer/sockets/" (s.id)} aria-label={(lang.pick("Edit", "Modifier")) " " (s.id)} { (lang.pick("Edit", "Modifier")) }
                                            form method="post" action={"/installer/sockets/" (s.id) "/remove"} class="inline" {
                                                (ctx.csrf_field())
                                                button type="submit" class="link" aria-label={(lang.pick("Remove", "Retirer")) " " (s.id)} { (lang.pick("Remove", "Retirer")) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn page(
    ctx: &Ctx,
    site_name: &str,
    view: &InstallerView,
    applied: Option<u64>,
    refused: Option<(&Sent, &Refusals)>,
) -> Markup {
    let lang = ctx.lang;
    let none = Refusals::default();
    let (add, add_refusal) = match refused {
        Some((Sent::AddSocket(f), r)) => (f.clone(), r),
        _ => (
            SocketForm {
                // The next socket is most often like the last one added.
                profile: view
                    .buses
                    .iter()
                    .flat_map(|b| b.sockets.last())
                    .last()
                    .map(|s| s.profile.clone())
                    .or_else(|| view.profiles.first().cloned())
                    .unwrap_or_default(),
                bus: view
                    .buses
                    .first()
                    .map(|b| b.name.clone())
                    .unwrap_or_default(),
                ..Default::default()
            },
            &none,
        ),
    };
    let (uplink, uplink_refusal) = match refused {
        Some((Sent::Uplink(f), r)) => (f.clone(), r),
        _ => (view.uplink.clone().unwrap_or_default(), &none),
    };
    let title = lang.pick("Installer", "Installateur");
    let body = html! {
        h1 { (title) }
        p { a href="/installer/tools" { (lang.pick("Installer tools: live registers, relay test, bus scan", "Outils de l'installateur : registres en direct, test du relais, scan du bus")) } }
        (status(ctx, view, applied))
        @if let Some((Sent::Notice, r)) = refused { (general(r)) }
        h2 { (lang.pick("Buses and sockets", "Bus et prises")) }
        (sockets_table(ctx, view))
        @if view.editable {
            h2 { (lang.pick("Add a socket", "Ajouter une prise")) }
            (socket_form(ctx, view, "/installer/sockets", &add, add_refusal, lang.pick("Add the socket", "Ajouter la prise")))
            @if ctx.may(Action::UplinkSettings) {
                h2 { (lang.pick("Uplink to central", "Liaison avec le central")) }
                (uplink_form(ctx, &uplink, uplink_refusal))
            }
        } @else {
            p class="error" { (lang.pick(
                "Editing is unavailable: the daemon does not run from a configuration file.",
                "Modification impossible : le démon ne tourne pas depuis un fichier de configuration.")) }
        }
    };
    layout(lang, title, site_name, Some(ctx), body)
}

/// The edit form of one socket.
pub fn socket_page(
    ctx: &Ctx,
    site_name: &str,
    view: &InstallerView,
    id: &str,
    form: &SocketForm,
    refusal: &Refusals,
) -> Markup {
    let lang = ctx.lang;
    let title = format!("{} {id}", lang.pick("Socket", "Prise"));
    let body = html! {
        p { a href="/installer" { (lang.pick("← Installer", "← Installateur")) } }
        h1 { (title) }
        (socket_form(ctx, view, &format!("/installer/sockets/{id}"), form, refusal, lang.pick("Save", "Enregistrer")))
    };
    layout(lang, &title, site_name, Some(ctx), body)
}
