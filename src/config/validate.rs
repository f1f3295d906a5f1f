//! Validation: every problem in a configuration, each with its key path and the value at fault.
//! Checks ranges, names, references (bus, profile), duplicates, and that no two devices answer
//! at one unit id of a bus. Reads the custom profile files and the uplink's PEM files the config
//! names (and reports them when unreadable); opens nothing else.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::raw::*;
use super::serial::{DataBits, Parity, SerialSettings, StopBits};
use super::*;
use crate::problems::{Problems, deserialize_collecting, join};
use crate::profile::{DeviceKind, ProfileSet};

/// Reads and validates the configuration file at `path`.
pub fn load(path: &Path) -> Result<Config, Problems> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text, path.parent().unwrap_or(Path::new("."))),
        Err(e) => {
            let mut p = Problems::new();
            p.push(path.display().to_string(), format!("cannot read: {e}"));
            Err(p)
        }
    }
}

/// Validates configuration text; relative profile paths are taken from `base_dir`.
pub fn parse(text: &str, base_dir: &Path) -> Result<Config, Problems> {
    let mut problems = Problems::new();
    let value: toml::Value = match toml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let at = e
                .span()
                .map(|s| format!("at byte {}: ", s.start))
                .unwrap_or_default();
            problems.push("", format!("not valid TOML: {at}{}", e.message().trim()));
            return Err(problems);
        }
    };
    let Some(raw) = deserialize_collecting::<RawConfig>(value, "", &mut problems) else {
        return Err(problems);
    };

    let site = deserialize_collecting::<RawSite>(raw.site, "site", &mut problems)
        .and_then(|s| site(s, &mut problems));
    let log_level = raw
        .log
        .and_then(|v| deserialize_collecting::<RawLog>(v, "log", &mut problems))
        .and_then(|l| l.level)
        .map_or(log::LevelFilter::Info, |l| match l.parse() {
            Ok(level) => level,
            Err(_) => {
                problems.push(
                    "log.level",
                    format!("`{l}` is not one of off, error, warn, info, debug, trace"),
                );
                log::LevelFilter::Info
            }
        });
    let state = raw
        .state
        .and_then(|v| deserialize_collecting::<RawState>(v, "state", &mut problems))
        .unwrap_or_default();
    let state_dir = state
        .directory
        .map_or_else(|| PathBuf::from("/var/lib/sitegate"), |d| base_dir.join(d));
    let disk_reserve_mb = int_in::<u64>(
        state.disk_reserve_mb.unwrap_or(64),
        1..=10_000,
        "state.disk_reserve_mb",
        &mut problems,
    )
    .unwrap_or(64);
    let max_database_bytes = state.max_database_mb.and_then(|mb| {
        let mb = int_in::<u64>(mb, 16..=1_000_000, "state.max_database_mb", &mut problems)?;
        if mb <= disk_reserve_mb {
            problems.push(
                "state.max_database_mb",
                format!("{mb} MB leaves nothing above the {disk_reserve_mb} MB reserve"),
            );
        }
        Some(mb * 1_000_000)
    });
    let sessions = raw
        .sessions
        .and_then(|v| deserialize_collecting::<RawSessions>(v, "sessions", &mut problems))
        .map(|s| session_rules(&s, &mut problems))
        .unwrap_or_default();

    let mut profiles = ProfileSet::builtin();
    let files = raw
        .profiles
        .and_then(|v| deserialize_collecting::<RawProfiles>(v, "profiles", &mut problems))
        .map(|p| p.files)
        .unwrap_or_default();
    for (i, file) in files.iter().enumerate() {
        let path = base_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Err(p) = profiles.add(&path, &text) {
                    problems.extend(p.prefixed(&format!("profiles.files[{i}]")));
                }
            }
            Err(e) => problems.push(
                format!("profiles.files[{i}]"),
                format!("cannot read {}: {e}", path.display()),
            ),
        }
    }

    let mut buses = Vec::new();
    // Names of invalid buses are kept (as None) so that their sockets are not also reported
    // as naming an unknown bus.
    let mut bus_index: HashMap<String, Option<usize>> = HashMap::new();
    for (i, v) in raw.bus.into_iter().enumerate() {
        let path = format!("bus[{i}]");
        let Some(b) = deserialize_collecting::<RawBus>(v, &path, &mut problems) else {
            continue;
        };
        let name = b.name.clone();
        let valid = bus(b, &path, &mut problems);
        let index = valid.is_some().then_some(buses.len());
        if bus_index.insert(name.clone(), index).is_some() {
            problems.push(
                join(&path, "name"),
                format!("`{name}` is already the name of another bus"),
            );
        }
        buses.extend(valid);
    }

    let mut sockets = Vec::new();
    for (i, v) in raw.socket.into_iter().enumerate() {
        let path = format!("socket[{i}]");
        let Some(s) = deserialize_collecting::<RawSocket>(v, &path, &mut problems) else {
            continue;
        };
        if let Some(s) = socket(s, &path, &bus_index, &profiles, &mut problems) {
            sockets.push((path, s));
        }
    }
    check_sockets(&sockets, &buses, &mut problems);
    let socket_ids: Vec<&str> = sockets.iter().map(|(_, s)| s.id.as_str()).collect();
    let mut readers = Vec::new();
    for (i, v) in raw.reader.into_iter().enumerate() {
        let path = format!("reader[{i}]");
        if let Some(r) = deserialize_collecting::<RawReader>(v, &path, &mut problems)
            && let Some(r) = reader(r, &path, &socket_ids, &mut problems)
        {
            if readers
                .iter()
                .any(|o: &crate::readers::ReaderConfig| o.name == r.name)
            {
                problems.push(
                    join(&path, "name"),
                    format!("`{}` is already the name of another reader", r.name),
                );
            }
            readers.push(r);
        }
    }
    let access = raw
        .access
        .and_then(|v| deserialize_collecting::<RawAccess>(v, "access", &mut problems))
        .map(|a| {
            let d = crate::core::access::OfflinePolicy::default();
            crate::core::access::OfflinePolicy {
                local_authorize_offline: a
                    .local_authorize_offline
                    .unwrap_or(d.local_authorize_offline),
                local_pre_authorize: a.local_pre_authorize.unwrap_or(d.local_pre_authorize),
                allow_offline_tx_for_unknown_id: a
                    .allow_offline_tx_for_unknown_id
                    .unwrap_or(d.allow_offline_tx_for_unknown_id),
                allow_concurrent_tx: a.allow_concurrent_tx.unwrap_or(d.allow_concurrent_tx),
                stop_transaction_on_invalid_id: a
                    .stop_transaction_on_invalid_id
                    .unwrap_or(d.stop_transaction_on_invalid_id),
                max_energy_on_invalid_id_wh: a
                    .max_energy_on_invalid_id
                    .and_then(|wh| {
                        int_in::<u32>(
                            wh,
                            0..=100_000,
                            "access.max_energy_on_invalid_id",
                            &mut problems,
                        )
                    })
                    .map_or(d.max_energy_on_invalid_id_wh, f64::from),
            }
        })
        .unwrap_or_default();
    let uplink = raw
        .uplink
        .and_then(|v| deserialize_collecting::<RawUplink>(v, "uplink", &mut problems))
        .and_then(|u| super::uplink::uplink(u, base_dir, &mut problems));
    let broker = raw
        .broker
        .and_then(|v| deserialize_collecting::<RawBroker>(v, "broker", &mut problems))
        .and_then(|b| super::uplink::broker(b, &mut problems));
    // The page is on unless the file says otherwise: a site is commissioned through it.
    let web = match raw.web {
        Some(v) => deserialize_collecting::<RawWeb>(v, "web", &mut problems),
        None => Some(RawWeb::default()),
    }
    .and_then(|w| super::web::web(w, base_dir, &mut problems));
    // A site being commissioned has no bus yet: it runs for its web page (and the package's
    // first start). Without the page, a site with no bus could do nothing.
    if buses.is_empty() && web.is_none() && problems.is_empty() {
        problems.push(
            "bus",
            "no bus is configured and the web page is off: add a [[bus]] or enable [web]",
        );
    }

    let Some(site) = site else {
        return Err(problems);
    };
    problems.into_result(Config {
        site,
        log_level,
        state_dir,
        disk_reserve_bytes: disk_reserve_mb * 1_000_000,
        max_database_bytes,
        sessions,
        buses,
        sockets: sockets.into_iter().map(|(_, s)| s).collect(),
        readers,
        access,
        profiles,
        uplink,
        broker,
        web,
    })
}

fn session_rules(s: &RawSessions, problems: &mut Problems) -> crate::core::site::SessionRules {
    let d = crate::core::site::SessionRules::default();
    let secs = Duration::from_secs;
    crate::core::site::SessionRules {
        connection_timeout: duration_in(
            s.connection_timeout.as_deref(),
            d.connection_timeout,
            secs(10)..=secs(600),
            "sessions.connection_timeout",
            problems,
        ),
        lost_grace: duration_in(
            s.lost_grace.as_deref(),
            d.lost_grace,
            secs(10)..=secs(3600),
            "sessions.lost_grace",
            problems,
        ),
        sample_interval: duration_in(
            s.sample_interval.as_deref(),
            d.sample_interval,
            secs(10)..=secs(900),
            "sessions.sample_interval",
            problems,
        ),
    }
}

/// Names that travel in topics, URLs and logs: letters, digits, `-`, `_`, `.`.
pub(super) fn check_id(value: &str, path: &str, problems: &mut Problems) {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        problems.push(
            path,
            format!("`{value}` must be 1 to 64 letters, digits, `-`, `_` or `.`"),
        );
    }
}

fn site(s: RawSite, problems: &mut Problems) -> Option<SiteConfig> {
    check_id(&s.id, "site.id", problems);
    if s.name.trim().is_empty() {
        problems.push("site.name", "must not be empty");
    }
    let time_zone = match s.time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            problems.push(
                "site.time_zone",
                format!(
                    "`{}` is not an IANA time zone (e.g. Europe/Paris)",
                    s.time_zone
                ),
            );
            None
        }
    };
    Some(SiteConfig {
        id: s.id,
        name: s.name,
        time_zone: time_zone?,
    })
}

pub(super) fn int_in<T: TryFrom<i64>>(
    v: i64,
    range: std::ops::RangeInclusive<i64>,
    path: &str,
    problems: &mut Problems,
) -> Option<T> {
    if !range.contains(&v) {
        problems.push(
            path,
            format!("{v} is outside {}..={}", range.start(), range.end()),
        );
        return None;
    }
    T::try_from(v).ok()
}

pub(super) fn duration_in(
    v: Option<&str>,
    default: Duration,
    range: std::ops::RangeInclusive<Duration>,
    path: &str,
    problems: &mut Problems,
) -> Duration {
    let Some(text) = v else { return default };
    match humantime::parse_duration(text) {
        Ok(d) if range.contains(&d) => d,
        Ok(_) => {
            problems.push(
                path,
                format!(
                    "`{text}` is outside {}..={}",
                    humantime::format_duration(*range.start()),
                    humantime::format_duration(*range.end())
                ),
            );
            default
        }
        Err(e) => {
            problems.push(
                path,
                format!("`{text}` is not a duration like \"500ms\" or \"2s\": {e}"),
            );
            default
        }
    }
}

fn bus(b: RawBus, path: &str, problems: &mut Problems) -> Option<BusConfig> {
    let before = problems.len();
    check_id(&b.name, &join(path, "name"), problems);
    let only_for = |set: bool, key: &str, kind: &str, problems: &mut Problems| {
        if set {
            problems.push(join(path, key), format!("only {kind} buses take this key"));
        }
    };
    let link = match b.kind.as_str() {
        "tcp" => {
            for (set, key) in [
                (b.device.is_some(), "device"),
                (b.baud.is_some(), "baud"),
                (b.data_bits.is_some(), "data_bits"),
                (b.parity.is_some(), "parity"),
                (b.stop_bits.is_some(), "stop_bits"),
            ] {
                only_for(set, key, "rtu", problems);
            }
            let host = b.host.unwrap_or_default();
            if host.trim().is_empty() {
                problems.push(join(path, "host"), "a tcp bus needs a host");
            }
            let port = int_in::<u16>(
                b.port.unwrap_or(502),
                1..=65535,
                &join(path, "port"),
                problems,
            );
            Some(LinkConfig::Tcp {
                host,
                port: port.unwrap_or(502),
                multiple_connections: b.multiple_connections.unwrap_or(false),
            })
        }
        "rtu" => {
            for (set, key) in [
                (b.host.is_some(), "host"),
                (b.port.is_some(), "port"),
                (b.multiple_connections.is_some(), "multiple_connections"),
            ] {
                only_for(set, key, "tcp", problems);
            }
            let device = b.device.unwrap_or_default();
            if device.trim().is_empty() {
                problems.push(
                    join(path, "device"),
                    "an rtu bus needs its serial device (e.g. /dev/ttyUSB0)",
                );
            }
            let baud = b.baud.unwrap_or(9600);
            const BAUDS: [i64; 10] = [
                1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800,
            ];
            if !BAUDS.contains(&baud) {
                problems.push(
                    join(path, "baud"),
                    format!("{baud} is not one of {BAUDS:?}"),
                );
            }
            let data_bits = int_in::<u8>(
                b.data_bits.unwrap_or(8),
                7..=8,
                &join(path, "data_bits"),
                problems,
            )
            .map_or(DataBits::Eight, |b| {
                if b == 7 {
                    DataBits::Seven
                } else {
                    DataBits::Eight
                }
            });
            let parity = match b.parity.as_deref().unwrap_or("none") {
                "none" => Parity::None,
                "even" => Parity::Even,
                "odd" => Parity::Odd,
                other => {
                    problems.push(
                        join(path, "parity"),
                        format!("`{other}` is not one of none, even, odd"),
                    );
                    Parity::None
                }
            };
            let stop_bits = int_in::<u8>(
                b.stop_bits.unwrap_or(1),
                1..=2,
                &join(path, "stop_bits"),
                problems,
            )
            .map_or(StopBits::One, |b| {
                if b == 2 { StopBits::Two } else { StopBits::One }
            });
            Some(LinkConfig::Rtu(SerialSettings {
                path: PathBuf::from(device),
                baud: baud as u32,
                data_bits,
                parity,
                stop_bits,
            }))
        }
        other => {
            problems.push(join(path, "kind"), format!("`{other}` is not tcp or rtu"));
            None
        }
    };
    let ms = Duration::from_millis;
    let request_timeout = duration_in(
        b.request_timeout.as_deref(),
        ms(500),
        ms(10)..=ms(60_000),
        &join(path, "request_timeout"),
        problems,
    );
    let inter_request_delay = duration_in(
        b.inter_request_delay.as_deref(),
        ms(0),
        ms(0)..=ms(10_000),
        &join(path, "inter_request_delay"),
        problems,
    );
    let retries = int_in::<u32>(
        b.retries.unwrap_or(1),
        0..=10,
        &join(path, "retries"),
        problems,
    )
    .unwrap_or(1);
    let dead_after = int_in::<u32>(
        b.dead_after.unwrap_or(3),
        1..=100,
        &join(path, "dead_after"),
        problems,
    )
    .unwrap_or(3);
    if problems.len() > before {
        return None;
    }
    Some(BusConfig {
        name: b.name,
        link: link?,
        request_timeout,
        retries,
        inter_request_delay,
        dead_after,
    })
}

fn socket(
    s: RawSocket,
    path: &str,
    buses: &HashMap<String, Option<usize>>,
    profiles: &ProfileSet,
    problems: &mut Problems,
) -> Option<SocketConfig> {
    let before = problems.len();
    check_id(&s.id, &join(path, "id"), problems);
    if s.name.trim().is_empty() {
        problems.push(join(path, "name"), "must not be empty");
    }
    let bus = buses.get(&s.bus).copied();
    if bus.is_none() {
        problems.push(join(path, "bus"), format!("no bus named `{}`", s.bus));
    }
    let bus = bus.flatten();
    let unit_id = int_in::<u8>(s.unit_id, 1..=247, &join(path, "unit_id"), problems);
    let profile = profiles.get(&s.profile).cloned();
    match &profile {
        None => problems.push(
            join(path, "profile"),
            format!("no profile named `{}` (known: {})", s.profile, profiles.names().collect::<Vec<_>>().join(", ")),
        ),
        Some(p) if p.kind == DeviceKind::Relay => problems.push(
            join(path, "profile"),
            format!("`{}` is a relay module: name the socket's meter or charger here and the module in `relay`", p.name),
        ),
        Some(_) => {}
    }
    let max_current_a = s.max_current_a.unwrap_or(16.0);
    if !(6.0..=80.0).contains(&max_current_a) {
        problems.push(
            join(path, "max_current_a"),
            format!("{max_current_a} is outside 6..=80 A"),
        );
    }
    let poll_interval = duration_in(
        s.poll_interval.as_deref(),
        Duration::from_secs(1),
        Duration::from_millis(100)..=Duration::from_secs(3600),
        &join(path, "poll_interval"),
        problems,
    );
    let relay = s
        .relay
        .and_then(|r| relay(r, &join(path, "relay"), profiles, problems));
    if problems.len() > before {
        return None;
    }
    Some(SocketConfig {
        id: s.id,
        name: s.name,
        serial_number: s.serial_number,
        uid: s.uid,
        bus: bus?,
        unit_id: unit_id?,
        profile: profile?,
        max_current_a,
        poll_interval,
        free: s.free.unwrap_or(false),
        relay,
    })
}

fn relay(
    r: RawRelay,
    path: &str,
    profiles: &ProfileSet,
    problems: &mut Problems,
) -> Option<RelayConfig> {
    let unit_id = int_in::<u8>(r.unit_id, 1..=247, &join(path, "unit_id"), problems);
    let name = r.profile.unwrap_or_else(|| "generic-relay".to_string());
    let profile = match profiles.get(&name) {
        Some(p) if p.kind == DeviceKind::Relay => Some(p.clone()),
        Some(_) => {
            problems.push(
                join(path, "profile"),
                format!("`{name}` is not a relay module profile"),
            );
            None
        }
        None => {
            problems.push(join(path, "profile"), format!("no profile named `{name}`"));
            None
        }
    };
    let channels = profile.as_ref().map_or(1, |p| i64::from(p.channels));
    let channel = int_in::<u16>(
        r.channel.unwrap_or(0),
        0..=channels - 1,
        &join(path, "channel"),
        problems,
    );
    Some(RelayConfig {
        unit_id: unit_id?,
        profile: profile?,
        channel: channel?,
        plug_sensor: r.plug_sensor.unwrap_or(false),
    })
}

/// What answers at one unit id of a bus.
#[derive(Debug, Clone, PartialEq)]
enum Occupant {
    /// A socket's own device.
    Device { socket: String },
    /// A station's shared unit (Alfen's 200): shared by sockets of that profile.
    Shared { profile: String },
    /// A relay module: shared by sockets on distinct channels.
    Relay { profile: String },
}

fn check_sockets(sockets: &[(String, SocketConfig)], buses: &[BusConfig], problems: &mut Problems) {
    let mut ids: HashMap<&str, &str> = HashMap::new();
    let mut uids: HashMap<&str, &str> = HashMap::new();
    let mut units: BTreeMap<(usize, u8), (Occupant, String)> = BTreeMap::new();
    let mut channels: HashMap<(usize, u8, u16), &str> = HashMap::new();
    for (path, s) in sockets {
        if let Some(first) = ids.insert(&s.id, path) {
            problems.push(
                join(path, "id"),
                format!("`{}` is already the id of {first}", s.id),
            );
        }
        if let Some(uid) = s.uid.as_deref()
            && let Some(first) = uids.insert(uid, path)
        {
            problems.push(
                join(path, "uid"),
                format!("`{uid}` is already the uid of {first}"),
            );
        }
        let bus_name = &buses[s.bus].name;
        let mut claim =
            |unit: u8, occupant: Occupant, key: String, problems: &mut Problems| match units
                .get(&(s.bus, unit))
            {
                None => {
                    units.insert((s.bus, unit), (occupant, key));
                }
                Some((existing, _))
                    if *existing == occupant && !matches!(occupant, Occupant::Device { .. }) => {}
                Some((_, first)) => problems.push(
                    key,
                    format!("unit {unit} on bus `{bus_name}` is already taken by {first}"),
                ),
            };
        claim(
            s.unit_id,
            Occupant::Device {
                socket: s.id.clone(),
            },
            join(path, "unit_id"),
            problems,
        );
        for unit in s.profile.extra_units() {
            claim(
                unit,
                Occupant::Shared {
                    profile: s.profile.name.clone(),
                },
                format!("{path}.profile ({} uses unit {unit})", s.profile.name),
                problems,
            );
        }
        if let Some(r) = &s.relay {
            let key = join(path, "relay.unit_id");
            claim(
                r.unit_id,
                Occupant::Relay {
                    profile: r.profile.name.clone(),
                },
                key,
                problems,
            );
            if let Some(first) = channels.insert((s.bus, r.unit_id, r.channel), path) {
                problems.push(
                    join(path, "relay.channel"),
                    format!(
                        "channel {} of unit {} is already used by {first}",
                        r.channel, r.unit_id
                    ),
                );
            }
        }
    }
}

fn reader(
    r: RawReader,
    path: &str,
    socket_ids: &[&str],
    problems: &mut Problems,
) -> Option<crate::readers::ReaderConfig> {
    use crate::readers::{AsciiFormat, Protocol};
    let before = problems.len();
    check_id(&r.name, &join(path, "name"), problems);
    if r.device.trim().is_empty() {
        problems.push(
            join(path, "device"),
            "a reader needs its serial device (e.g. /dev/ttyUSB1)",
        );
    }
    let protocol = match r.protocol.as_str() {
        "rdm6300" => Protocol::Rdm6300,
        "ascii-hex" => Protocol::AsciiLine {
            format: AsciiFormat::Hex,
        },
        "ascii-decimal" => Protocol::AsciiLine {
            format: AsciiFormat::Decimal,
        },
        other => {
            problems.push(
                join(path, "protocol"),
                format!("`{other}` is not one of rdm6300, ascii-hex, ascii-decimal"),
            );
            Protocol::Rdm6300
        }
    };
    let baud = int_in::<u32>(
        r.baud.unwrap_or(9600),
        1200..=115_200,
        &join(path, "baud"),
        problems,
    )
    .unwrap_or(9600);
    if r.sockets.is_empty() {
        problems.push(join(path, "sockets"), "a reader serves at least one socket");
    }
    for (j, s) in r.sockets.iter().enumerate() {
        if !socket_ids.contains(&s.as_str()) {
            problems.push(
                format!("{path}.sockets[{j}]"),
                format!("no socket with id `{s}`"),
            );
        }
    }
    let debounce = duration_in(
        r.debounce.as_deref(),
        crate::readers::DEFAULT_DEBOUNCE,
        Duration::from_millis(100)..=Duration::from_secs(30),
        &join(path, "debounce"),
        problems,
    );
    (problems.len() == before).then(|| crate::readers::ReaderConfig {
        name: r.name,
        device: PathBuf::from(r.device),
        baud,
        protocol,
        sockets: r.sockets,
        debounce,
    })
}
