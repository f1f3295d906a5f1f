//! Turns a profile's TOML into a validated `Profile`, collecting every problem with its key
//! path: unknown keys, unknown names, overlapping or oversized register blocks, values out of
//! range. Pure: the caller reads the file.

use std::collections::HashMap;

use super::model::*;
use super::raw::*;
use crate::core::{StateRules, VehicleState};
use crate::problems::{Problems, deserialize_collecting, join};
use crate::profile::register::Table;

/// Compiles profile text. `Err` lists every problem found.
pub fn compile_profile(text: &str) -> Result<Profile, Problems> {
    let mut problems = Problems::new();
    let value: toml::Value = match toml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            problems.push("", format!("not valid TOML: {}", e.message()));
            return Err(problems);
        }
    };
    let Some(raw) = deserialize_collecting::<RawProfile>(value, "", &mut problems) else {
        return Err(problems);
    };
    let header = compile_header(&raw.profile, &mut problems);
    let mut registers = Vec::new();
    for (i, v) in raw.register.into_iter().enumerate() {
        let path = format!("register[{i}]");
        if let Some(r) = deserialize_collecting::<RawRegister>(v, &path, &mut problems)
            && let Some(reg) = compile_register(&r, &path, &mut problems)
        {
            registers.push(reg);
        }
    }
    check_register_set(
        &registers,
        &header.limits,
        header.kind,
        header.channels,
        &mut problems,
    );

    let names: HashMap<&str, usize> = registers
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let lookup = Lookup {
        names: &names,
        registers: &registers,
    };
    let points = raw
        .points
        .and_then(|v| deserialize_collecting::<RawPoints>(v, "points", &mut problems))
        .map(|p| compile_points(&p, &lookup, &mut problems))
        .unwrap_or_default();
    let controls = raw
        .controls
        .and_then(|v| deserialize_collecting::<RawControls>(v, "controls", &mut problems))
        .map(|c| compile_controls(&c, &lookup, &mut problems))
        .unwrap_or_default();
    let identify = raw
        .identify
        .and_then(|v| deserialize_collecting::<RawIdentify>(v, "identify", &mut problems))
        .and_then(|i| {
            let register = lookup.readable(&i.register, "identify.register", &mut problems)?;
            Some(Identify {
                register,
                starts_with: i.starts_with,
            })
        });

    problems.into_result(Profile {
        name: raw.profile.name,
        description: raw.profile.description,
        kind: header.kind,
        limits: header.limits,
        channels: header.channels,
        default_unit_id: raw.profile.default_unit_id,
        rules: header.rules,
        registers,
        points,
        controls,
        identify,
    })
}

struct Header {
    kind: DeviceKind,
    limits: RequestLimits,
    channels: u16,
    rules: StateRules,
}

fn compile_header(h: &RawHeader, problems: &mut Problems) -> Header {
    if !valid_name(&h.name) {
        problems.push(
            "profile.name",
            format!("`{}` must be lowercase letters, digits and dashes", h.name),
        );
    }
    let kind = match h.kind.as_str() {
        "socket" => DeviceKind::Socket,
        "meter" => DeviceKind::Meter,
        "relay" => DeviceKind::Relay,
        other => {
            problems.push(
                "profile.kind",
                format!("`{other}` is not one of socket, meter, relay"),
            );
            DeviceKind::Socket
        }
    };
    let max_read_registers = h.max_read_registers.unwrap_or(125);
    if !(1..=125).contains(&max_read_registers) {
        problems.push(
            "profile.max_read_registers",
            format!("{max_read_registers} is outside 1..=125"),
        );
    }
    let max_read_bits = h.max_read_bits.unwrap_or(2000);
    if !(1..=2000).contains(&max_read_bits) {
        problems.push(
            "profile.max_read_bits",
            format!("{max_read_bits} is outside 1..=2000"),
        );
    }
    let channels = h.channels.unwrap_or(0);
    if kind == DeviceKind::Relay && channels == 0 {
        problems.push(
            "profile.channels",
            "a relay module needs its number of channels (1 or more)",
        );
    }
    if kind != DeviceKind::Relay && channels != 0 {
        problems.push("profile.channels", "only relay modules have channels");
    }
    let threshold = h
        .charging_threshold_w
        .unwrap_or(StateRules::default().charging_threshold_w);
    if !(0.0..=10_000.0).contains(&threshold) {
        problems.push(
            "profile.charging_threshold_w",
            format!("{threshold} is outside 0..=10000 W"),
        );
    }
    if let Some(u) = h.default_unit_id.filter(|u| !(1..=247).contains(u)) {
        problems.push("profile.default_unit_id", format!("{u} is outside 1..=247"));
    }
    Header {
        kind,
        limits: RequestLimits {
            max_read_registers,
            max_read_bits,
            max_gap: h.max_gap.unwrap_or(0),
        },
        channels,
        rules: StateRules {
            charging_threshold_w: threshold,
        },
    }
}

/// Profile and register names: lowercase ASCII, digits, `-` and `_`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

fn compile_register(r: &RawRegister, path: &str, problems: &mut Problems) -> Option<Register> {
    let before = problems.len();
    if !valid_name(&r.name) {
        problems.push(
            join(path, "name"),
            format!("`{}` must be lowercase letters, digits, `-` or `_`", r.name),
        );
    }
    let table = match r.table.as_str() {
        "coil" => Table::Coil,
        "discrete_input" => Table::DiscreteInput,
        "holding" => Table::Holding,
        "input" => Table::Input,
        other => {
            problems.push(
                join(path, "table"),
                format!("`{other}` is not one of coil, discrete_input, holding, input"),
            );
            Table::Holding
        }
    };
    let default_type = if table.is_bits() { "bool" } else { "u16" };
    let type_name = r.data_type.as_deref().unwrap_or(default_type);
    let data_type = match type_name {
        "bool" => DataType::Bool,
        "u16" => DataType::U16,
        "i16" => DataType::I16,
        "u32" => DataType::U32,
        "i32" => DataType::I32,
        "u64" => DataType::U64,
        "f32" => DataType::F32,
        "f64" => DataType::F64,
        "string" | "hex" => match r.length {
            Some(n) if (1..=125).contains(&n) && type_name == "hex" => {
                DataType::Hex { registers: n }
            }
            Some(n) if (1..=125).contains(&n) => DataType::String { registers: n },
            Some(n) => {
                problems.push(
                    join(path, "length"),
                    format!("{n} is outside 1..=125 registers"),
                );
                DataType::String { registers: 1 }
            }
            None => {
                problems.push(
                    join(path, "length"),
                    format!("a {type_name} needs its length in registers"),
                );
                DataType::String { registers: 1 }
            }
        },
        other => {
            problems.push(
                join(path, "type"),
                format!(
                    "`{other}` is not one of bool, u16, i16, u32, i32, u64, f32, f64, string, hex"
                ),
            );
            DataType::U16
        }
    };
    if r.length.is_some() && !data_type.is_text() {
        problems.push(join(path, "length"), "only string and hex take a length");
    }
    if table.is_bits() != (data_type == DataType::Bool) {
        problems.push(
            join(path, "type"),
            format!(
                "a {} holds {}",
                table,
                if table.is_bits() {
                    "single bits: use bool"
                } else {
                    "16-bit words, not bool"
                }
            ),
        );
    }
    let order = |key: &str, v: &Option<String>, problems: &mut Problems| match v.as_deref() {
        None | Some("big") => Order::Big,
        Some("little") => Order::Little,
        Some(other) => {
            problems.push(join(path, key), format!("`{other}` is not big or little"));
            Order::Big
        }
    };
    let word_order = order("word_order", &r.word_order, problems);
    let byte_order = order("byte_order", &r.byte_order, problems);
    let read = match r.read.as_deref() {
        None | Some("every") => ReadWhen::Every,
        Some("once") => ReadWhen::Once,
        Some("never") => ReadWhen::Never,
        Some(other) => {
            problems.push(
                join(path, "read"),
                format!("`{other}` is not every, once or never"),
            );
            ReadWhen::Every
        }
    };
    let scale = r.scale.unwrap_or(1.0);
    if !scale.is_finite() || scale == 0.0 {
        problems.push(
            join(path, "scale"),
            format!("{scale} must be a finite, non-zero number"),
        );
    }
    if let Some(u) = r.unit_id.filter(|u| !(1..=247).contains(u)) {
        problems.push(join(path, "unit_id"), format!("{u} is outside 1..=247"));
    }
    let end = u32::from(r.address) + u32::from(data_type.width());
    if end > 0x1_0000 {
        problems.push(
            join(path, "address"),
            format!(
                "{:#06x} + {} registers runs past 0xFFFF",
                r.address,
                data_type.width()
            ),
        );
    }
    let unavailable = r
        .unavailable
        .clone()
        .unwrap_or_else(|| default_unavailable(data_type));
    if problems.len() > before {
        return None;
    }
    Some(Register {
        name: r.name.clone(),
        table,
        address: r.address,
        data_type,
        word_order,
        byte_order,
        scale,
        offset: r.offset.unwrap_or(0.0),
        unit: r.unit.clone(),
        mask: r.mask,
        unavailable,
        unit_id: r.unit_id,
        read,
        per_channel: r.per_channel.unwrap_or(false),
        write_multiple: r.write_multiple.unwrap_or(false),
        description: r.description.clone(),
    })
}

/// Devices mark missing unsigned values with all bits set; floats use NaN (checked in decode).
fn default_unavailable(t: DataType) -> Vec<u64> {
    match t {
        DataType::U16 => vec![0xFFFF],
        DataType::U32 => vec![0xFFFF_FFFF],
        DataType::U64 => vec![u64::MAX],
        _ => vec![],
    }
}

/// Duplicate names, overlapping blocks (which would make two names for the same words), and
/// blocks a single request could not read.
fn check_register_set(
    regs: &[Register],
    limits: &RequestLimits,
    kind: DeviceKind,
    channels: u16,
    problems: &mut Problems,
) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, r) in regs.iter().enumerate() {
        if let Some(first) = seen.insert(&r.name, i) {
            problems.push(
                format!("register[{i}].name"),
                format!("`{}` is already the name of register[{first}]", r.name),
            );
        }
        let limit = if r.table.is_bits() {
            limits.max_read_bits
        } else {
            limits.max_read_registers
        };
        if r.width() > limit {
            problems.push(
                format!("register[{i}].length"),
                format!(
                    "{} registers exceed the profile's limit of {limit} per read",
                    r.width()
                ),
            );
        }
        if r.per_channel && kind != DeviceKind::Relay {
            problems.push(
                format!("register[{i}].per_channel"),
                "only relay modules have channels",
            );
        }
        let span = |r: &Register| {
            let extra = if r.per_channel {
                channels.saturating_sub(1)
            } else {
                0
            };
            (
                u32::from(r.address),
                u32::from(r.address) + u32::from(r.width()) + u32::from(extra),
            )
        };
        for (j, other) in regs.iter().enumerate().take(i) {
            if other.table != r.table || other.unit_id != r.unit_id {
                continue;
            }
            let (a0, a1) = span(r);
            let (b0, b1) = span(other);
            // A read-back register may share words with the write-only register it mirrors? No:
            // each word has one meaning, so one name.
            if a0 < b1 && b0 < a1 {
                problems.push(
                    format!("register[{i}].address"),
                    format!(
                        "`{}` ({} {:#06x}..{:#06x}) overlaps `{}` (register[{j}], {:#06x}..{:#06x})",
                        r.name, r.table, a0, a1, other.name, b0, b1
                    ),
                );
            }
        }
    }
}

struct Lookup<'a> {
    names: &'a HashMap<&'a str, usize>,
    registers: &'a [Register],
}

impl Lookup<'_> {
    fn any(&self, name: &str, path: &str, problems: &mut Problems) -> Option<usize> {
        let found = self.names.get(name).copied();
        if found.is_none() {
            problems.push(path, format!("no register named `{name}`"));
        }
        found
    }

    fn readable(&self, name: &str, path: &str, problems: &mut Problems) -> Option<usize> {
        let i = self.any(name, path, problems)?;
        if self.registers[i].read == ReadWhen::Never {
            problems.push(path, format!("`{name}` is write-only (read = \"never\")"));
            return None;
        }
        Some(i)
    }

    fn numeric(&self, name: &str, path: &str, problems: &mut Problems) -> Option<usize> {
        let i = self.readable(name, path, problems)?;
        if self.registers[i].data_type.is_text() {
            problems.push(path, format!("`{name}` is text; a number is needed"));
            return None;
        }
        Some(i)
    }
}

fn compile_points(p: &RawPoints, l: &Lookup<'_>, problems: &mut Problems) -> Points {
    let mut points = Points::default();
    if let Some(v) = &p.vehicle
        && let Some(register) = l.readable(&v.register, "points.vehicle.register", problems)
    {
        let text = l.registers[register].data_type.is_text();
        let mut map = Vec::new();
        for (raw, state) in &v.map {
            let path = format!("points.vehicle.map.{raw}");
            let key = if text {
                Some(MapKey::Text(raw.clone()))
            } else {
                match parse_number(raw) {
                    Some(n) => Some(MapKey::Number(n)),
                    None => {
                        problems.push(
                            &path,
                            format!("`{raw}` is not a number, and `{}` is numeric", v.register),
                        );
                        None
                    }
                }
            };
            match VehicleState::from_name(state) {
                Some(s) => map.extend(key.map(|k| (k, s))),
                None => problems.push(
                    &path,
                    format!(
                        "`{state}` is not an IEC 61851 state (A, B1, B2, C1, C2, D1, D2, E, F)"
                    ),
                ),
            }
        }
        points.vehicle = Some(VehiclePoint { register, map });
    }
    let bool_point = |bp: &Option<RawBoolPoint>, key: &str, problems: &mut Problems| {
        let bp = bp.as_ref()?;
        let register = l.numeric(&bp.register, &format!("points.{key}.register"), problems)?;
        let on = bp
            .on
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v as f64)
            .collect();
        Some(BoolPoint { register, on })
    };
    points.plug = bool_point(&p.plug, "plug", problems);
    points.enabled = bool_point(&p.enabled, "enabled", problems);
    if let Some(f) = &p.fault
        && let Some(register) = l.numeric(&f.register, "points.fault.register", problems)
    {
        let ok =
            f.ok.clone()
                .unwrap_or_else(|| vec![0])
                .into_iter()
                .map(|v| v as f64)
                .collect();
        points.fault = Some(FaultPoint { register, ok });
    }
    if let Some(e) = &p.energy_wh {
        let kind = match e.kind.as_deref() {
            None | Some("lifetime") => Some(EnergyKind::Lifetime),
            Some("session") => Some(EnergyKind::Session),
            Some(other) => {
                problems.push(
                    "points.energy_wh.kind",
                    format!("`{other}` is not lifetime or session"),
                );
                None
            }
        };
        if let (Some(register), Some(kind)) = (
            l.numeric(&e.register, "points.energy_wh.register", problems),
            kind,
        ) {
            points.energy_wh = Some(EnergyPoint { register, kind });
        }
    }
    let single = |name: &Option<String>, key: &str, problems: &mut Problems| {
        name.as_ref()
            .and_then(|n| l.numeric(n, &format!("points.{key}"), problems))
    };
    points.power_w = single(&p.power_w, "power_w", problems);
    points.setpoint_a = single(&p.setpoint_a, "setpoint_a", problems);
    points.serial = p
        .serial
        .as_ref()
        .and_then(|n| l.readable(n, "points.serial", problems));
    let phases = |names: &Option<Vec<String>>, key: &str, problems: &mut Problems| {
        let mut out = [None; 3];
        if let Some(names) = names {
            if names.len() > 3 {
                problems.push(
                    format!("points.{key}"),
                    format!("{} registers given; at most 3 phases", names.len()),
                );
            }
            for (i, n) in names.iter().take(3).enumerate() {
                out[i] = l.numeric(n, &format!("points.{key}[{i}]"), problems);
            }
        }
        out
    };
    points.current_a = phases(&p.current_a, "current_a", problems);
    points.voltage_v = phases(&p.voltage_v, "voltage_v", problems);
    points
}

fn parse_number(raw: &str) -> Option<f64> {
    if let Some(hex) = raw.strip_prefix("0x") {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    raw.parse().ok()
}

fn compile_controls(c: &RawControls, l: &Lookup<'_>, problems: &mut Problems) -> Controls {
    let mut controls = Controls::default();
    if let Some(e) = &c.enable {
        if e.via_setpoint == Some(true) {
            if e.register.is_some() || e.on.is_some() || e.off.is_some() || e.verify.is_some() {
                problems.push(
                    "controls.enable",
                    "via_setpoint takes no register, on, off or verify",
                );
            }
            if c.setpoint.is_none() {
                problems.push(
                    "controls.enable.via_setpoint",
                    "needs a [controls.setpoint]",
                );
            }
            controls.enable = Some(EnableControl::ViaSetpoint);
        } else if let Some(name) = &e.register {
            if let Some(register) = l.any(name, "controls.enable.register", problems) {
                let verify = match &e.verify {
                    Some(v) => l.readable(v, "controls.enable.verify", problems),
                    None => (l.registers[register].read != ReadWhen::Never).then_some(register),
                };
                controls.enable = Some(EnableControl::Register {
                    register,
                    on: e.on.unwrap_or(1),
                    off: e.off.unwrap_or(0),
                    verify,
                });
            }
        } else {
            problems.push(
                "controls.enable",
                "needs a register, or via_setpoint = true",
            );
        }
    }
    if let Some(s) = &c.setpoint {
        let refresh = s
            .refresh
            .as_ref()
            .and_then(|r| match humantime::parse_duration(r) {
                Ok(d) if d >= std::time::Duration::from_secs(1) => Some(d),
                Ok(_) => {
                    problems.push(
                        "controls.setpoint.refresh",
                        format!("`{r}` is shorter than 1 s"),
                    );
                    None
                }
                Err(e) => {
                    problems.push("controls.setpoint.refresh", format!("`{r}`: {e}"));
                    None
                }
            });
        let register = l.any(&s.register, "controls.setpoint.register", problems);
        if let Some(r) = register.filter(|&r| {
            l.registers[r].data_type.is_text() || l.registers[r].data_type == DataType::Bool
        }) {
            problems.push(
                "controls.setpoint.register",
                format!("`{}` must be numeric", l.registers[r].name),
            );
        }
        let verify = match &s.verify {
            Some(v) => l.numeric(v, "controls.setpoint.verify", problems),
            None => register.filter(|&r| l.registers[r].read != ReadWhen::Never),
        };
        let min_a = s.min_a.unwrap_or(0.0);
        if !(0.0..=80.0).contains(&min_a) {
            problems.push(
                "controls.setpoint.min_a",
                format!("{min_a} is outside 0..=80 A"),
            );
        }
        if let Some(register) = register {
            controls.setpoint = Some(SetpointControl {
                register,
                refresh,
                verify,
                min_a,
            });
        }
    }
    controls
}
