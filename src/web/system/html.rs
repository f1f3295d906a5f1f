//! The system page's HTML (maud, escaped: log lines are shown as text): the figures, the
//! backup link for those who may, and the recent log lines.

use maud::{Markup, html};

use super::view::System;
use crate::store::roles::Action;
use crate::web::i18n::{Lang, Text, t};
use crate::web::page::{Ctx, layout};

/// `12.3 MB`: sizes for people (decimal units, as disks are sold).
fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_duration(lang: Lang, s: u64) -> String {
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, lang) {
        (0, _) => format!("{h} h {m:02} min"),
        (_, Lang::En) => format!("{d} d {h} h {m:02} min"),
        (_, Lang::Fr) => format!("{d} j {h} h {m:02} min"),
    }
}

pub fn page(ctx: &Ctx, site_name: &str, s: &System) -> Markup {
    let lang = ctx.lang;
    let title = t(lang, Text::System);
    let body = html! {
        h1 { (title) }
        dl class="facts" {
            dt { (lang.pick("Version", "Version")) }
            dd id="version" { (s.version) }
            dt { (lang.pick("Running for", "En marche depuis")) }
            dd { (human_duration(lang, s.uptime_s)) }
            dt { (lang.pick("Disk (state directory)", "Disque (répertoire d’état)")) }
            dd id="disk" {
                @match s.disk {
                    Some(d) => {
                        (human_bytes(d.free_bytes)) " " (lang.pick("free of", "libres sur")) " " (human_bytes(d.total_bytes))
                    }
                    None => "–",
                }
            }
            dt { (lang.pick("Database", "Base de données")) }
            dd id="database" {
                (human_bytes(s.database_bytes.max(0) as u64))
                " (" (lang.pick("write-ahead log", "journal d’écriture")) " " (human_bytes(s.wal_bytes)) ")"
            }
            dt { (lang.pick("Clock", "Horloge")) }
            dd id="time-sync" class=(if s.time_sync.synchronized { "ok" } else { "bad" }) { (s.time_sync.words) }
            dt { (t(lang, Text::Uplink)) }
            dd id="uplink" { (s.uplink.as_deref().unwrap_or(t(lang, Text::NoUplink))) }
        }
        @if ctx.may(Action::Backup) {
            h2 { (lang.pick("Backup", "Sauvegarde")) }
            p {
                (lang.pick(
                    "A consistent copy of the database (sessions, events not yet acknowledged by central, accounts, access lists), taken while the site runs.",
                    "Une copie cohérente de la base (sessions, événements pas encore acquittés par le central, comptes, listes d’accès), prise pendant que le site fonctionne.",
                ))
            }
            p { a class="button" href="/system/backup" download { (lang.pick("Download a database backup", "Télécharger une sauvegarde de la base")) } }
        }
        h2 id="log-title" { (lang.pick("Recent log lines", "Dernières lignes du journal")) }
        @if s.log.is_empty() {
            p { (lang.pick("No line yet.", "Aucune ligne pour l’instant.")) }
        } @else {
            div class="table-scroll" {
                table class="log" aria-labelledby="log-title" {
                    thead { tr {
                        th scope="col" { (lang.pick("Time (UTC)", "Heure (UTC)")) }
                        th scope="col" { (lang.pick("Level", "Niveau")) }
                        th scope="col" { (lang.pick("Message", "Message")) }
                    } }
                    tbody {
                        @for line in &s.log {
                            tr class={"level-" (line.level.to_ascii_lowercase())} {
                                td { time datetime=(line.time) { (line.time.get(11..19).unwrap_or(&line.time)) } }
                                td { (line.level) }
                                td {
                                    (line.message)
                                    @for (k, v) in &line.fields {
                                        " " span class="field" { (k.to_ascii_uppercase()) "=" (v) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(lang, title, site_name, Some(ctx), body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_people_write_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_345_678), "12.3 MB");
        assert_eq!(human_duration(Lang::En, 90_061), "1 d 1 h 01 min");
        assert_eq!(human_duration(Lang::Fr, 3_660), "1 h 01 min");
    }
}
