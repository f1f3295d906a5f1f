//! The `socket-sim` binary: buses from the command line, a JSON-lines control channel on
//! stdin/stdout, optional truth log and demo scenario.
//!
//! Owns argument parsing (options after each `--tcp`/`--rtu` configure that bus) and the control
//! channel's line format. Never simulates anything itself: everything goes through the library.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde_json::{Value, json};
use socket_sim::{
    Command, Model, ReaderCommand, ReaderProtocol, RelayLink, RtuOptions, Sim, SimOptions,
    TcpOptions, UnitSpec,
};
use tokio::io::{AsyncBufReadExt, BufReader};

const AFTER_HELP: &str = "\
BUSES
  Each --tcp ADDR or --rtu starts a bus; the bus options after it, up to the next --tcp/--rtu,
  configure that bus. A bus holds one or more '--profile P --units LIST' groups. Buses are named
  a, b, c... in order unless --name is given. Profiles: generic-socket, generic-relay,
  eastron-sdm630, abb-terra-ac, alfen-ng9xx, plain-4. For alfen-ng9xx, --units 1,2 means
  sockets 1..n plus the station at unit 200 (--station-unit).

  Each --reader NAME starts a badge reader on a PTY (--reader-protocol ascii|rdm6300 after it).

  On start, one line per bus or reader on stdout:  tcp <bus> <addr>,  rtu <bus> <pty-path>
  or  reader <name> <pty-path>
  Open the PTY path without parity (PTYs refuse parity); --bits-per-char sets the emulated line
  format for timing only (11: 8E1/8O1/8N2, 10: 8N1).

CONTROL CHANNEL
  One JSON object per line on stdin, one JSON reply line on stdout ({\"ok\":true} or
  {\"ok\":false,\"error\":...}):
    {\"bus\":\"a\",\"unit\":1,\"cmd\":\"plug\",\"vehicle_max_a\":16,\"phases\":3,\"wants_wh\":20000}
    cmd: plug, unplug, ev_full, fault {code}, clear_fault, meter_reset, set_energy {wh},
         set_power {w} (frozen units), slow {ms,count}, silence {count}, garbage {count,prefix},
         bad_crc {count} (RTU), exception {code,count}, clear_faults_injected,
         drop_connections (TCP), freeze, unfreeze, advance {ms}
    {\"reader\":\"r1\",\"cmd\":\"badge\",\"uid\":\"04A1B2C3\",\"hold_ms\":300}
    reader cmd: badge {uid,hold_ms} (RDM6300: repeated every 100 ms while held),
         bad_checksum {uid} (RDM6300), garbage {bytes}
    queries: {\"cmd\":\"truth\",\"bus\":\"a\",\"unit\":1} -> {\"ok\":true,\"truth\":{...}}
             {\"cmd\":\"units\"} -> {\"ok\":true,\"units\":[[\"a\",1],...]}
  count absent or 0: until clear_faults_injected. The simulator runs until SIGINT/SIGTERM (or
  stdin closes, with --exit-on-eof).

EXAMPLES
  socket-sim --tcp 127.0.0.1:1502 --profile alfen-ng9xx --units 1,2 --max-connections 2
  socket-sim --rtu --baud 19200 --bits-per-char 11 --profile generic-socket --units 1-8
  socket-sim --truth-log truth.jsonl --scenario 42 \\
      --rtu --profile generic-relay --units 10 --profile eastron-sdm630 --units 1-4 --relay-unit 10 \\
      --tcp 0.0.0.0:502 --profile abb-terra-ac --units 1
  socket-sim --reader r1 --reader-protocol rdm6300 --reader r2 --reader-protocol ascii";

/// Simulated EV-charging sockets, stations and meters serving real Modbus TCP and RTU.
#[derive(Parser, Debug, Default)]
#[command(name = "socket-sim", version, after_long_help = AFTER_HELP, after_help = "See --help for buses, the control channel and examples.")]
struct Cli {
    /// Start a Modbus TCP bus on ADDR (port 0: any free port; the bound address is printed).
    #[arg(long, value_name = "ADDR", help_heading = "Bus")]
    tcp: Option<SocketAddr>,
    /// Start a Modbus RTU bus on a new PTY pair (its path is printed).
    #[arg(long, help_heading = "Bus")]
    rtu: bool,
    /// Start a badge reader named NAME on a new PTY pair (its path is printed).
    #[arg(long, value_name = "NAME", help_heading = "Reader")]
    reader: Option<String>,
    /// What the preceding --reader sends: ascii (a UID per line) or rdm6300 (frames).
    #[arg(long, default_value = "ascii", help_heading = "Reader")]
    reader_protocol: ReaderProtocol,
    /// Bus name used by the control channel and the truth log.
    #[arg(long, help_heading = "Bus")]
    name: Option<String>,
    /// Device profile of the next --units group (repeatable).
    #[arg(long = "profile", value_name = "PROFILE", help_heading = "Bus")]
    profiles: Vec<String>,
    /// Unit ids of the preceding --profile: "1,2,5-8" (repeatable, one per --profile).
    #[arg(long = "units", value_name = "LIST", help_heading = "Bus")]
    units: Vec<String>,
    /// Serial numbers, in the order of the bus's units (repeatable).
    #[arg(long = "serial", value_name = "SERIAL", help_heading = "Bus")]
    serials: Vec<String>,
    /// Supply phases wired to each socket (1 or 3).
    #[arg(long, help_heading = "Bus")]
    phases: Option<u8>,
    /// Socket rating in A (default 16 for generic-socket/SDM630/plain-4, 32 for stations).
    #[arg(long, help_heading = "Bus")]
    rated_a: Option<f64>,
    /// generic-relay channels (default 8).
    #[arg(long, help_heading = "Bus")]
    channels: Option<u16>,
    /// eastron-sdm630: the n-th meter's socket is switched by channel n-1 of this relay unit.
    #[arg(long, value_name = "UNIT", help_heading = "Bus")]
    relay_unit: Option<u8>,
    /// alfen-ng9xx station unit (default 200).
    #[arg(long, default_value_t = 200, help_heading = "Bus")]
    station_unit: u8,
    /// alfen-ng9xx setpoint validity in s (default 60).
    #[arg(long, help_heading = "Bus")]
    validity_s: Option<u64>,
    /// alfen-ng9xx safe current in A (default 6).
    #[arg(long, help_heading = "Bus")]
    safe_current_a: Option<f64>,
    /// abb-terra-ac communication timeout at power-on in s (default 60).
    #[arg(long, help_heading = "Bus")]
    comm_timeout_s: Option<u16>,
    /// TCP: most simultaneous connections (Alfen: 2).
    #[arg(long, help_heading = "TCP bus")]
    max_connections: Option<usize>,
    /// TCP: drop requests sent before the previous answer (real devices do).
    #[arg(long, help_heading = "TCP bus")]
    one_at_a_time: bool,
    /// TCP: close connections idle this many seconds.
    #[arg(long, help_heading = "TCP bus")]
    idle_timeout_s: Option<u64>,
    /// RTU: emulated line speed.
    #[arg(long, default_value_t = 19_200, help_heading = "RTU bus")]
    baud: u32,
    /// RTU: bits per character of the emulated line (11: 8E1/8O1/8N2, 10: 8N1).
    #[arg(long, default_value_t = 11, help_heading = "RTU bus")]
    bits_per_char: u8,
    /// RTU: device turnaround in ms added after t3.5.
    #[arg(long, default_value_t = 0, help_heading = "RTU bus")]
    turnaround_ms: u64,
    /// RTU: answer at once instead of at line speed.
    #[arg(long, help_heading = "RTU bus")]
    no_timing: bool,
    /// Write the ground truth (every change) to FILE as JSON lines.
    #[arg(long, value_name = "FILE", help_heading = "Global")]
    truth_log: Option<PathBuf>,
    /// Run the demo scenario with this seed.
    #[arg(long, value_name = "SEED", help_heading = "Global")]
    scenario: Option<u64>,
    /// Physics step in ms.
    #[arg(long, default_value_t = 100, help_heading = "Global")]
    tick_ms: u64,
    /// Start frozen: state changes only by requests and control commands.
    #[arg(long, help_heading = "Global")]
    frozen: bool,
    /// Exit when stdin closes.
    #[arg(long, help_heading = "Global")]
    exit_on_eof: bool,
}

/// Splits argv before each --tcp/--rtu: the first part holds global options, each other part
/// one bus.
fn segments(args: &[String]) -> Vec<Vec<String>> {
    let mut out = vec![vec![args[0].clone()]];
    for a in &args[1..] {
        if a == "--rtu"
            || a == "--tcp"
            || a.starts_with("--tcp=")
            || a == "--reader"
            || a.starts_with("--reader=")
        {
            out.push(vec![args[0].clone()]);
        }
        out.last_mut().expect("never empty").push(a.clone());
    }
    out
}

fn parse_units(list: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |s: &str| {
            s.trim()
                .parse::<u8>()
                .map_err(|_| format!("bad unit id {s:?} in {list:?}"))
        };
        match part.split_once('-') {
            Some((a, b)) => out.extend(num(a)?..=num(b)?),
            None => out.push(num(part)?),
        }
    }
    if out.is_empty() {
        return Err(format!("no unit ids in {list:?}"));
    }
    Ok(out)
}

fn unit_specs(c: &Cli) -> Result<Vec<UnitSpec>, String> {
    if c.profiles.is_empty() || c.profiles.len() != c.units.len() {
        return Err("each bus needs one --units after each --profile".into());
    }
    let mut specs = Vec::new();
    for (profile, units) in c.profiles.iter().zip(&c.units) {
        let model: Model = profile.parse().map_err(|e| format!("{e}"))?;
        let ids = parse_units(units)?;
        let base = UnitSpec {
            model,
            phases: c.phases,
            rated_a: c.rated_a,
            channels: c.channels,
            setpoint_validity: c.validity_s.map(Duration::from_secs),
            safe_current_a: c.safe_current_a,
            comm_timeout_s: c.comm_timeout_s,
            ..Default::default()
        };
        if model == Model::AlfenNg9xx {
            let n = ids.len() as u8;
            if ids != (1..=n).collect::<Vec<_>>() {
                return Err(format!("alfen-ng9xx sockets are units 1..n, not {units:?}"));
            }
            specs.push(UnitSpec {
                unit: c.station_unit,
                sockets: Some(n),
                ..base
            });
            continue;
        }
        for (k, unit) in ids.into_iter().enumerate() {
            let relay = (model == Model::EastronSdm630)
                .then_some(c.relay_unit)
                .flatten()
                .map(|u| RelayLink {
                    unit: u,
                    channel: k as u16,
                });
            specs.push(UnitSpec {
                unit,
                relay,
                ..base.clone()
            });
        }
    }
    for (spec, serial) in specs.iter_mut().zip(&c.serials) {
        spec.serial = Some(serial.clone());
    }
    Ok(specs)
}

fn reply(v: &Value) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

fn control(sim: &Sim, line: &str) -> Value {
    let v: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => return json!({"ok": false, "error": format!("not JSON: {e}")}),
    };
    if let Some(reader) = v.get("reader").and_then(Value::as_str) {
        return match serde_json::from_value::<ReaderCommand>(v.clone()) {
            Err(e) => json!({"ok": false, "error": format!("bad reader command: {e}")}),
            Ok(cmd) => match sim.control_reader(reader, cmd) {
                Ok(()) => json!({"ok": true}),
                Err(e) => json!({"ok": false, "error": e.to_string()}),
            },
        };
    }
    let bus = v.get("bus").and_then(Value::as_str).unwrap_or_default();
    let unit = v
        .get("unit")
        .and_then(Value::as_u64)
        .and_then(|u| u8::try_from(u).ok());
    match v.get("cmd").and_then(Value::as_str) {
        Some("units") => return json!({"ok": true, "units": sim.units()}),
        Some("truth") => {
            return match unit.and_then(|u| sim.truth(bus, u)) {
                Some(t) => json!({"ok": true, "truth": t}),
                None => json!({"ok": false, "error": format!("no unit {unit:?} on bus {bus:?}")}),
            };
        }
        _ => {}
    }
    let Some(unit) = unit else {
        return json!({"ok": false, "error": "\"unit\" (0..=255) is required"});
    };
    match serde_json::from_value::<Command>(v.clone()) {
        Err(e) => json!({"ok": false, "error": format!("bad command: {e}")}),
        Ok(cmd) => match sim.control(bus, unit, cmd) {
            Ok(()) => json!({"ok": true}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
    }
}

async fn run(globals: Cli, buses: Vec<Cli>) -> Result<(), String> {
    let sim = Sim::new(SimOptions {
        truth_log: globals.truth_log.clone(),
        tick: Duration::from_millis(globals.tick_ms),
        frozen: globals.frozen,
    })
    .map_err(|e| format!("truth log: {e}"))?;
    for (k, b) in buses.iter().enumerate() {
        let name = b
            .name
            .clone()
            .unwrap_or_else(|| char::from(b'a' + (k % 26) as u8).to_string());
        let line = if let Some(reader) = &b.reader {
            let path = sim
                .serve_reader_pty(reader, b.reader_protocol)
                .map_err(|e| format!("reader {reader}: {e}"))?;
            format!("reader {reader} {}", path.display())
        } else if let Some(addr) = b.tcp {
            let opts = TcpOptions {
                max_connections: b.max_connections,
                one_request_at_a_time: b.one_at_a_time,
                idle_timeout: b.idle_timeout_s.map(Duration::from_secs),
            };
            let specs = unit_specs(b).map_err(|e| format!("bus {name}: {e}"))?;
            let bound = sim
                .serve_tcp(&name, addr, specs, opts)
                .await
                .map_err(|e| format!("bus {name}: {e}"))?;
            format!("tcp {name} {bound}")
        } else {
            let opts = RtuOptions {
                baud: b.baud,
                bits_per_char: b.bits_per_char,
                turnaround: Duration::from_millis(b.turnaround_ms),
                emulate_timing: !b.no_timing,
                frame_gap: None,
            };
            let specs = unit_specs(b).map_err(|e| format!("bus {name}: {e}"))?;
            let path = sim
                .serve_rtu_pty(&name, specs, opts)
                .await
                .map_err(|e| format!("bus {name}: {e}"))?;
            format!("rtu {name} {}", path.display())
        };
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
    if let Some(seed) = globals.scenario {
        sim.run_scenario(seed);
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
            line = lines.next_line(), if stdin_open => match line {
                Ok(Some(l)) if l.trim().is_empty() => {}
                Ok(Some(l)) => reply(&control(&sim, &l)),
                Ok(None) | Err(_) => {
                    if globals.exit_on_eof {
                        break;
                    }
                    stdin_open = false;
                }
            },
        }
    }
    sim.shutdown().await;
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let segs = segments(&args);
    let globals = Cli::parse_from(&segs[0]);
    if globals.tcp.is_some()
        || globals.rtu
        || globals.reader.is_some()
        || !globals.profiles.is_empty()
        || !globals.units.is_empty()
    {
        eprintln!("socket-sim: bus options must follow --tcp ADDR or --rtu");
        std::process::exit(2);
    }
    let mut buses = Vec::new();
    let mut globals = globals;
    for seg in &segs[1..] {
        let b = Cli::parse_from(seg);
        // Global options may come anywhere.
        globals.truth_log = b.truth_log.clone().or(globals.truth_log);
        globals.scenario = b.scenario.or(globals.scenario);
        globals.frozen |= b.frozen;
        globals.exit_on_eof |= b.exit_on_eof;
        if b.tick_ms != 100 {
            globals.tick_ms = b.tick_ms;
        }
        buses.push(b);
    }
    if buses.is_empty() {
        eprintln!(
            "socket-sim: give at least one --tcp ADDR or --rtu bus or a --reader (see --help)"
        );
        std::process::exit(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("socket-sim: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(globals, buses)) {
        eprintln!("socket-sim: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_lists() {
        assert_eq!(parse_units("1,2,5-7").unwrap(), vec![1, 2, 5, 6, 7]);
        assert!(parse_units("1,x").is_err());
        assert!(parse_units("").is_err());
    }

    #[test]
    fn one_segment_per_bus() {
        let args: Vec<String> = "sim --truth-log t --tcp 127.0.0.1:0 --profile generic-socket --units 1 --rtu --baud 9600"
            .split(' ')
            .map(String::from)
            .collect();
        let segs = segments(&args);
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[2], vec!["sim", "--rtu", "--baud", "9600"]);
        let bus = Cli::parse_from(&segs[1]);
        let specs = unit_specs(&bus).unwrap();
        assert_eq!((specs[0].unit, specs[0].model), (1, Model::GenericSocket));
    }

    #[test]
    fn a_reader_is_a_segment_of_its_own() {
        let args: Vec<String> = "sim --reader r1 --reader-protocol rdm6300 --reader r2"
            .split(' ')
            .map(String::from)
            .collect();
        let segs = segments(&args);
        assert_eq!(segs.len(), 3);
        let r1 = Cli::parse_from(&segs[1]);
        assert_eq!(
            (r1.reader.as_deref(), r1.reader_protocol),
            (Some("r1"), ReaderProtocol::Rdm6300)
        );
        let r2 = Cli::parse_from(&segs[2]);
        assert_eq!(r2.reader_protocol, ReaderProtocol::Ascii);
    }

    #[test]
    fn alfen_units_are_its_sockets() {
        let bus = Cli::parse_from([
            "sim",
            "--tcp",
            "127.0.0.1:0",
            "--profile",
            "alfen-ng9xx",
            "--units",
            "1,2",
        ]);
        let specs = unit_specs(&bus).unwrap();
        assert_eq!(
            (specs.len(), specs[0].unit, specs[0].sockets),
            (1, 200, Some(2))
        );
        let bus = Cli::parse_from(["sim", "--rtu", "--profile", "alfen-ng9xx", "--units", "2,3"]);
        assert!(unit_specs(&bus).is_err());
    }
}
