//! Config validation as an installer meets it: the example file is valid, and each mistake is
//! reported once, with its key path, all in one run.

use std::path::Path;

use super::*;

fn problems(text: &str) -> String {
    parse(text, Path::new("."))
        .expect_err("invalid config")
        .to_string()
}

const SITE: &str = "[site]\nid = 's1'\nname = 'Site'\ntime_zone = 'Europe/Paris'\n";
const BUS: &str = "[[bus]]\nname = 'a'\nkind = 'tcp'\nhost = 'h'\n";
/// PEM framing around bytes that are no real certificate: validation checks the framing only.
const CERT_PEM: &str = "-----BEGIN CERTIFICATE-----\nMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";

/// A folder with `ca.pem`, `client.pem`, `client.key` and an `empty.pem`.
fn pem_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), CERT_PEM).unwrap();
    std::fs::write(dir.path().join("client.pem"), CERT_PEM).unwrap();
    std::fs::write(dir.path().join("client.key"), KEY_PEM).unwrap();
    std::fs::write(dir.path().join("empty.pem"), "nothing here\n").unwrap();
    dir
}

fn problems_in(text: &str, dir: &Path) -> String {
    parse(text, dir)
        .expect_err("invalid config")
        .to_string()
        .replace(&dir.display().to_string(), "DIR")
}

#[test]
fn the_example_file_is_valid() {
    let shipped = include_str!("../../config/sitegate.example.toml");
    let config = parse(shipped, Path::new("/etc/sitegate")).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        config.uplink.is_none(),
        "shipped with [uplink] commented out"
    );
    // Its [uplink] uncommented as the example says (`#` touching the text), with the CA file
    // where an installer puts it; here it is a temporary one.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("central-ca.pem");
    std::fs::write(&ca, CERT_PEM).unwrap();
    let text: String = shipped
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
            _ => line,
        })
        .flat_map(|line| [line, "\n"])
        .collect::<String>()
        .replace("/etc/sitegate/central-ca.pem", &ca.display().to_string());
    let config = parse(&text, Path::new("/etc/sitegate")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.site.id, "site-0042");
    assert_eq!(config.site.time_zone, chrono_tz::Europe::Paris);
    assert_eq!(config.buses.len(), 2);
    assert_eq!(config.sockets.len(), 4);
    let plain = &config.sockets[3];
    assert_eq!(plain.profile.name, "eastron-sdm630");
    assert_eq!(
        plain.relay.as_ref().map(|r| (r.unit_id, r.channel)),
        Some((10, 0))
    );
    assert_eq!(
        config.sockets[1].poll_interval,
        Duration::from_secs(1),
        "default poll interval"
    );
    match &config.buses[0].link {
        LinkConfig::Rtu(line) => assert_eq!(line.bits_per_char(), 11, "8E1"),
        other => panic!("{other:?}"),
    }
    let uplink = config.uplink.expect("the example has an uplink");
    assert_eq!(
        (uplink.host.as_str(), uplink.port),
        ("central.example.com", 8883)
    );
    assert_eq!(uplink.tls.expect("tls").ca_pem, CERT_PEM.as_bytes());
    assert_eq!(uplink.keep_alive, Duration::from_secs(15));
    assert_eq!(uplink.window, 1024);
    assert_eq!(uplink.trusted_keys.len(), 1);
    assert_eq!(uplink.trusted_keys[0].0, "central-2026");
    let broker = config.broker.expect("the example has a broker");
    assert_eq!(broker.listen, "127.0.0.1:1883".parse().unwrap());
    assert_eq!(broker.max_connections, 16);
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let text = format!(
        "{SITE}\
         [[bus]]\nname = 'a'\nkind = 'rtu'\ndevice = '/dev/ttyUSB0'\nbaud = 19201\nparity = 'mark'\nhost = 'x'\n\
         [[bus]]\nname = 'a'\nkind = 'tcp'\nhost = '10.0.0.2'\nrequest_timeout = '2 fortnights'\n\
         [[bus]]\nname = 'c'\nkind = 'can'\n\
         [[socket]]\nid = 's1'\nname = 'one'\nbus = 'a'\nunit_id = 300\nprofile = 'generic-socket'\ncolour = 'red'\n\
         [[socket]]\nid = 's1'\nname = 'two'\nbus = 'nowhere'\nunit_id = 4\nprofile = 'tesla'\nmax_current_a = 100\n"
    );
    insta::assert_snapshot!(problems(&text), @r#"
    bus[0].host: only tcp buses take this key
    bus[0].baud: 19201 is not one of [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800]
    bus[0].parity: `mark` is not one of none, even, odd
    bus[1].request_timeout: `2 fortnights` is not a duration like "500ms" or "2s": unknown time unit "fortnights", supported units: ns, us/µs, ms, sec, min, hours, days, weeks, months, years (and few variations)
    bus[1].name: `a` is already the name of another bus
    bus[2].kind: `can` is not tcp or rtu
    socket[0].colour: unknown key
    socket[0].unit_id: 300 is outside 1..=247
    socket[1].bus: no bus named `nowhere`
    socket[1].profile: no profile named `tesla` (known: abb-terra-ac, alfen-ng9xx, eastron-sdm630, generic-relay, generic-socket)
    socket[1].max_current_a: 100 is outside 6..=80 A
    "#);
}

#[test]
fn two_devices_on_one_unit_of_a_bus_are_refused() {
    let text = format!(
        "{SITE}[[bus]]\nname = 'a'\nkind = 'tcp'\nhost = 'h'\n\
         [[socket]]\nid = 's1'\nname = 'one'\nbus = 'a'\nunit_id = 1\nprofile = 'alfen-ng9xx'\n\
         [[socket]]\nid = 's2'\nname = 'two'\nbus = 'a'\nunit_id = 2\nprofile = 'alfen-ng9xx'\n\
         [[socket]]\nid = 's3'\nname = 'three'\nbus = 'a'\nunit_id = 2\nprofile = 'generic-socket'\n\
         [[socket]]\nid = 's4'\nname = 'four'\nbus = 'a'\nunit_id = 200\nprofile = 'generic-socket'\n\
         [[socket]]\nid = 's5'\nname = 'five'\nbus = 'a'\nunit_id = 5\nprofile = 'eastron-sdm630'\nrelay = {{ unit_id = 9, channel = 1 }}\n\
         [[socket]]\nid = 's6'\nname = 'six'\nbus = 'a'\nunit_id = 6\nprofile = 'eastron-sdm630'\nrelay = {{ unit_id = 9, channel = 1 }}\n\
         [[socket]]\nid = 's7'\nname = 'seven'\nbus = 'a'\nunit_id = 7\nprofile = 'eastron-sdm630'\nrelay = {{ unit_id = 9, channel = 2 }}\n"
    );
    insta::assert_snapshot!(problems(&text), @r"
    socket[2].unit_id: unit 2 on bus `a` is already taken by socket[1].unit_id
    socket[3].unit_id: unit 200 on bus `a` is already taken by socket[0].profile (alfen-ng9xx uses unit 200)
    socket[5].relay.channel: channel 1 of unit 9 is already used by socket[4]
    ");
}

#[test]
fn unreadable_and_invalid_profile_files_are_config_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[profile]\nname = 'bad'\nkind = 'socket'\nmax_read_registers = 500\n",
    )
    .unwrap();
    let text = format!(
        "{SITE}[profiles]\nfiles = ['bad.toml', 'missing.toml']\n[[bus]]\nname = 'a'\nkind = 'tcp'\nhost = 'h'\n"
    );
    let text = parse(&text, dir.path())
        .unwrap_err()
        .to_string()
        .replace(&dir.path().display().to_string(), "DIR");
    insta::assert_snapshot!(text, @r"
    profiles.files[0]: DIR/bad.toml: profile.max_read_registers: 500 is outside 1..=125
    profiles.files[1]: cannot read DIR/missing.toml: No such file or directory (os error 2)
    ");
}

#[test]
fn broken_toml_is_reported_with_its_position() {
    let text = problems("[site\nid = 1");
    assert!(text.starts_with("not valid TOML: at byte"), "{text}");
}

#[test]
fn every_uplink_and_broker_problem_is_reported_with_its_key_path() {
    let dir = pem_dir();
    let text = format!(
        "{SITE}{BUS}\
         [uplink]\nport = 70000\nca_file = 'empty.pem'\nclient_cert_file = 'client.pem'\n\
         username = 'site'\nkeep_alive = '1s'\nwindow = 0\ntelemetry_interval = '500ms'\n\
         max_downlink_bytes = 100\nrequire_signed_downlink = true\ncolour = 'red'\n\
         [uplink.trusted_keys]\nshort = 'AAAA'\n'bad key' = 'not base64!'\nnumber = 7\n\
         [broker]\nlisten = 'localhost:1883'\nusername = ''\npassword = 'short'\n\
         max_connections = 0\nmax_payload_bytes = 10\n"
    );
    insta::assert_snapshot!(problems_in(&text, dir.path()), @r#"
    uplink.colour: unknown key
    uplink.host: required: central's broker host name
    uplink.port: 70000 is outside 1..=65535
    uplink.ca_file: DIR/empty.pem contains no PEM certificate (BEGIN CERTIFICATE)
    uplink.client_key_file: required with `client_cert_file` (both or neither)
    uplink.password: required with `username` (both or neither)
    uplink.keep_alive: `1s` is outside 5s..=5m
    uplink.window: 0 is outside 1..=10000
    uplink.telemetry_interval: `500ms` is outside 1s..=1h
    uplink.max_downlink_bytes: 100 is outside 1024..=16777216
    uplink.trusted_keys."bad key": `bad key` must be 1 to 64 letters, digits, `-`, `_` or `.`
    uplink.trusted_keys."bad key": not base64: Invalid symbol 32, offset 3.
    uplink.trusted_keys.number: expected a text value (a base64 Ed25519 public key)
    uplink.trusted_keys.short: decodes to 3 bytes; an Ed25519 public key is 32
    broker.listen: `localhost:1883` is not an address and port like 127.0.0.1:1883
    broker.max_connections: 0 is outside 1..=256
    broker.max_payload_bytes: 10 is outside 1024..=1048576
    broker.username: required when the broker is enabled: a local broker is never open
    broker.password: required when the broker is enabled, at least 12 characters
    "#);
}

#[test]
fn plain_tcp_signing_and_disabled_broker_problems() {
    let dir = pem_dir();
    let text = format!(
        "{SITE}{BUS}\
         [uplink]\nhost = 'central.example.com'\ntls = false\nca_file = 'ca.pem'\n\
         require_signed_downlink = true\n\
         [broker]\nenabled = false\nmax_connections = 1000\n"
    );
    insta::assert_snapshot!(problems_in(&text, dir.path()), @r"
    uplink.tls: plain TCP to `central.example.com` is refused: only 127.0.0.1, ::1 and localhost take `tls = false`, unless `allow_plaintext = true` says so explicitly
    uplink.ca_file: only taken with `tls = true`
    uplink.require_signed_downlink: is true but [uplink.trusted_keys] names no key: every downlink message would be refused
    broker.max_connections: 1000 is outside 1..=256
    ");
    let text = format!(
        "{SITE}{BUS}[uplink]\nhost = 'c'\nca_file = 'missing.pem'\nclient_key_file = 'ca.pem'\n\
         [broker]\nusername = 'u'\npassword = 'long enough pw'\nlisten = '0.0.0.0:0'\n"
    );
    insta::assert_snapshot!(problems_in(&text, dir.path()), @r"
    uplink.ca_file: cannot read DIR/missing.pem: No such file or directory (os error 2)
    uplink.client_cert_file: required with `client_key_file` (both or neither)
    broker.listen: `0.0.0.0:0`: local integrations need a fixed port, not 0
    ");
}

#[test]
fn uplink_and_broker_defaults() {
    let dir = pem_dir();
    let config = parse(&format!("{SITE}{BUS}"), dir.path()).unwrap();
    assert!(config.uplink.is_none(), "no [uplink]: offline only");
    assert!(config.broker.is_none(), "no [broker]: no broker");

    let text = format!(
        "{SITE}{BUS}[uplink]\nhost = 'central'\nca_file = 'ca.pem'\n\
         client_cert_file = 'client.pem'\nclient_key_file = 'client.key'\n\
         [broker]\nusername = 'local'\npassword = 'twelve chars'\n"
    );
    let config = parse(&text, dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let u = config.uplink.unwrap();
    assert_eq!(u.port, 8883);
    let tls = u.tls.unwrap();
    assert_eq!(
        tls.client,
        Some((CERT_PEM.as_bytes().to_vec(), KEY_PEM.as_bytes().to_vec()))
    );
    assert_eq!(u.credentials, None);
    assert_eq!(u.keep_alive, Duration::from_secs(15));
    assert_eq!(u.telemetry_interval, Duration::from_secs(10));
    assert_eq!(u.max_downlink_bytes, 262_144);
    assert!(!u.require_signed_downlink);
    let b = config.broker.unwrap();
    assert_eq!(b.listen, "127.0.0.1:1883".parse().unwrap());
    assert_eq!((b.max_connections, b.max_payload_bytes), (16, 65_536));
    assert!(
        !format!("{b:?}").contains("twelve"),
        "the password is not printed"
    );

    // Plain TCP: to a loopback host, or elsewhere when said explicitly.
    for uplink in [
        "host = 'localhost'\ntls = false\n",
        "host = '::1'\ntls = false\n",
        "host = '10.1.2.3'\ntls = false\nallow_plaintext = true\n",
    ] {
        let text = format!("{SITE}{BUS}[uplink]\n{uplink}[broker]\nenabled = false\n");
        let config = parse(&text, dir.path()).unwrap_or_else(|e| panic!("{uplink}: {e}"));
        let u = config.uplink.unwrap();
        assert!(u.tls.is_none());
        assert_eq!(u.port, 1883);
        assert!(config.broker.is_none(), "disabled");
    }
}
