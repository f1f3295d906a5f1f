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

#[test]
fn the_example_file_is_valid() {
    let text = include_str!("../../config/sitegate.example.toml");
    let config = parse(text, Path::new("/etc/sitegate")).unwrap_or_else(|e| panic!("{e}"));
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
