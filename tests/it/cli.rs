//! The `sitegate` command as an installer runs it.

use std::path::Path;
use std::process::Command;

fn sitegate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sitegate"))
}

/// Runs `sitegate check-config FILE` and asserts it accepts the file; returns its stdout.
fn check_config_accepts(file: &Path) -> String {
    let out = sitegate().arg("check-config").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "check-config {}: {}\n{}",
        file.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn check_config_accepts_the_example_as_shipped() {
    // The README's command, as a newcomer runs it from a checkout: nothing outside the repository.
    let out = check_config_accepts(Path::new("config/sitegate.example.toml"));
    assert!(out.contains("valid: site site-0042"), "{out}");
    assert!(out.contains("no uplink"), "{out}");
}

#[test]
fn check_config_accepts_the_example_with_its_uplink() {
    // The example's [uplink] is commented out (its CA file is only on a commissioned site):
    // uncommented as the example says, with its CA file at a temporary path, it is valid too.
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("central-ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let shipped = std::fs::read_to_string("config/sitegate.example.toml").unwrap();
    let uncommented: String = shipped
        .lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if !rest.starts_with([' ', '#']) && !rest.is_empty() => rest,
            _ => line,
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    assert!(
        uncommented.contains("\n[uplink]\n"),
        "the example documents [uplink]"
    );
    let example = uncommented.replace("/etc/sitegate/central-ca.pem", &ca.display().to_string());
    let path = dir.path().join("sitegate.toml");
    std::fs::write(&path, example).unwrap();
    let out = check_config_accepts(&path);
    assert!(
        out.contains("valid: site site-0042")
            && out.contains("uplink to central.example.com:8883 (TLS)"),
        "{out}"
    );
}

#[test]
fn check_config_accepts_the_packaged_conffile() {
    // /etc/sitegate/sitegate.toml as the Debian package installs it: the service starts only
    // after check-config accepts it.
    check_config_accepts(Path::new("config/sitegate.toml"));
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
