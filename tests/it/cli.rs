//! The `sitegate` command as an installer runs it.

use std::process::Command;

fn sitegate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sitegate"))
}

#[test]
fn check_config_accepts_the_example() {
    // The example names its CA file where an installer puts it (/etc/sitegate); check-config
    // reads it, so here it points at a temporary one.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("central-ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let example = std::fs::read_to_string("config/sitegate.example.toml")
        .unwrap()
        .replace("/etc/sitegate/central-ca.pem", &ca.display().to_string());
    let path = dir.path().join("sitegate.toml");
    std::fs::write(&path, example).unwrap();
    let out = sitegate().arg("check-config").arg(&path).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid: site site-0042"));
}

#[test]
fn check_config_lists_every_problem_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[site]\nid = 'x y'\nname = 'n'\ntime_zone = 'Mars/Olympus'\n\
         [[bus]]\nname = 'a'\nkind = 'rtu'\ndevice = '/dev/ttyUSB0'\nstop_bits = 3\n\
         [[socket]]\nid = 's'\nname = 's'\nbus = 'a'\nunit_id = 0\nprofile = 'generic-socket'\npoll_interval = '10ms'\n",
    )
    .unwrap();
    let out = sitegate().arg("check-config").arg(&path).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let text =
        String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "bad.toml");
    insta::assert_snapshot!(text, @r"
    bad.toml: 5 problem(s):
      site.id: `x y` must be 1 to 64 letters, digits, `-`, `_` or `.`
      site.time_zone: `Mars/Olympus` is not an IANA time zone (e.g. Europe/Paris)
      bus[0].stop_bits: 3 is outside 1..=2
      socket[0].unit_id: 0 is outside 1..=247
      socket[0].poll_interval: `10ms` is outside 100ms..=1h
    ");
}

/// `sitegate demo` exists in the default build (the `demo` feature) and lists its options.
#[cfg(feature = "demo")]
#[test]
fn the_default_build_has_the_demo() {
    let out = sitegate().args(["demo", "--help"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("--seconds"));
}

/// The package's build (no `demo` feature) has no `demo` subcommand: clap refuses it.
#[cfg(not(feature = "demo"))]
#[test]
fn the_package_build_has_no_demo() {
    let out = sitegate().arg("demo").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand 'demo'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = sitegate().arg("--help").output().unwrap();
    assert!(!String::from_utf8_lossy(&help.stdout).contains("demo"));
}
