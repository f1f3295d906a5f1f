//! Pure conversions between a register's raw words and its value: word and byte order, sign,
//! masks, scale, strings, and "unavailable" markers. And from decoded registers to a socket's
//! `Readings`. No I/O.

use std::fmt;

use super::model::*;
use crate::core::Readings;

/// A decoded register value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Number(f64),
    Text(String),
    Bool(bool),
    /// The device marks the value as not available (0xFFFF, NaN): never a number.
    Unavailable,
}

impl Value {
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n) => write!(f, "{n}"),
            Value::Text(t) => write!(f, "{t:?}"),
            Value::Bool(b) => write!(f, "{}", if *b { "on" } else { "off" }),
            Value::Unavailable => f.write_str("unavailable"),
        }
    }
}

/// Raw words of a register in the order the device sends them.
pub fn decode_words(reg: &Register, words: &[u16]) -> Value {
    debug_assert_eq!(words.len(), usize::from(reg.width()));
    let fix_bytes = |w: u16| {
        if reg.byte_order == Order::Little {
            w.swap_bytes()
        } else {
            w
        }
    };
    if let DataType::String { .. } = reg.data_type {
        if words.iter().all(|&w| w == 0xFFFF) {
            return Value::Unavailable;
        }
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|&w| fix_bytes(w).to_be_bytes())
            .collect();
        // NUL ends the text; 0xFF is what some devices leave in unused bytes.
        let end = bytes
            .iter()
            .position(|&b| b == 0 || b == 0xFF)
            .unwrap_or(bytes.len());
        let text: String = bytes[..end]
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '?'
                }
            })
            .collect();
        return Value::Text(text.trim_end().to_string());
    }
    if let DataType::Hex { .. } = reg.data_type {
        if words.iter().all(|&w| w == 0xFFFF) {
            return Value::Unavailable;
        }
        return Value::Text(
            words
                .iter()
                .map(|&w| format!("{:04X}", fix_bytes(w)))
                .collect(),
        );
    }
    // Assemble most-significant word first.
    let mut ordered: Vec<u16> = words.iter().map(|&w| fix_bytes(w)).collect();
    if reg.word_order == Order::Little {
        ordered.reverse();
    }
    let raw: u64 = ordered
        .iter()
        .fold(0u64, |acc, &w| (acc << 16) | u64::from(w));
    if reg.unavailable.contains(&raw) {
        return Value::Unavailable;
    }
    let masked = match reg.mask {
        Some(mask) => (raw & mask) >> mask.trailing_zeros(),
        None => raw,
    };
    let number = match reg.data_type {
        DataType::U16 | DataType::U32 | DataType::U64 | DataType::Bool => masked as f64,
        DataType::I16 => f64::from(masked as u16 as i16),
        DataType::I32 => f64::from(masked as u32 as i32),
        DataType::F32 => f64::from(f32::from_bits(masked as u32)),
        DataType::F64 => f64::from_bits(masked),
        DataType::String { .. } | DataType::Hex { .. } => unreachable!("text is handled above"),
    };
    if !number.is_finite() {
        return Value::Unavailable;
    }
    Value::Number(number * reg.scale + reg.offset)
}

/// A coil or discrete input.
pub fn decode_bit(bit: bool) -> Value {
    Value::Bool(bit)
}

/// The words that write `value` (in the register's unit) to a numeric register.
pub fn encode_words(reg: &Register, value: f64) -> Vec<u16> {
    let raw_f = (value - reg.offset) / reg.scale;
    let raw: u64 = match reg.data_type {
        DataType::F32 => u64::from((raw_f as f32).to_bits()),
        DataType::F64 => raw_f.to_bits(),
        DataType::I16 => u64::from(raw_f.round() as i16 as u16),
        DataType::I32 => u64::from(raw_f.round() as i32 as u32),
        _ => raw_f.round().max(0.0) as u64,
    };
    let width = usize::from(reg.width());
    let mut words: Vec<u16> = (0..width).rev().map(|i| (raw >> (16 * i)) as u16).collect();
    if reg.word_order == Order::Little {
        words.reverse();
    }
    if reg.byte_order == Order::Little {
        words.iter_mut().for_each(|w| *w = w.swap_bytes());
    }
    words
}

/// Decoded registers of one device, indexed like `Profile::registers`.
pub type Decoded = Vec<Option<Value>>;

/// Builds a socket's readings from a device's decoded registers.
pub fn readings(profile: &Profile, decoded: &Decoded) -> Readings {
    let get = |i: usize| decoded.get(i).and_then(|v| v.as_ref());
    let number = |i: Option<usize>| i.and_then(get).and_then(Value::as_number);
    let p = &profile.points;
    let mut r = Readings::default();
    if let Some(vp) = &p.vehicle {
        r.vehicle = get(vp.register).and_then(|v| {
            vp.map
                .iter()
                .find(|(k, _)| key_matches(k, v))
                .map(|(_, s)| *s)
        });
    }
    let bool_of = |bp: &Option<BoolPoint>| {
        let bp = bp.as_ref()?;
        let n = get(bp.register)?.as_number()?;
        Some(if bp.on.is_empty() {
            n != 0.0
        } else {
            bp.on.contains(&n)
        })
    };
    r.plug = bool_of(&p.plug);
    r.enabled = bool_of(&p.enabled);
    if let Some(fp) = &p.fault {
        r.fault = match get(fp.register) {
            Some(Value::Number(n)) if !fp.ok.contains(n) => Some(format!("{n}")),
            _ => None,
        };
    }
    r.energy_wh = number(p.energy_wh.as_ref().map(|e| e.register));
    r.power_w = number(p.power_w);
    for i in 0..3 {
        r.current_a[i] = number(p.current_a[i]);
        r.voltage_v[i] = number(p.voltage_v[i]);
    }
    r.setpoint_a = number(p.setpoint_a);
    r.serial = p.serial.and_then(get).and_then(|v| match v {
        Value::Text(t) if !t.is_empty() => Some(t.clone()),
        Value::Number(n) => Some(format!("{n}")),
        _ => None,
    });
    r
}

fn key_matches(key: &MapKey, value: &Value) -> bool {
    match (key, value) {
        (MapKey::Number(k), v) => v.as_number() == Some(*k),
        (MapKey::Text(k), Value::Text(t)) => k.eq_ignore_ascii_case(t),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::register::Table;

    fn reg(t: DataType) -> Register {
        Register {
            name: "r".into(),
            table: Table::Holding,
            address: 0,
            data_type: t,
            word_order: Order::Big,
            byte_order: Order::Big,
            scale: 1.0,
            offset: 0.0,
            unit: None,
            mask: None,
            unavailable: match t {
                DataType::U16 => vec![0xFFFF],
                DataType::U32 => vec![0xFFFF_FFFF],
                _ => vec![],
            },
            unit_id: None,
            read: ReadWhen::Every,
            per_channel: false,
            write_multiple: false,
            description: None,
        }
    }

    #[test]
    fn big_endian_float_and_its_little_word_twin() {
        let bits = 230.5f32.to_bits();
        let (hi, lo) = ((bits >> 16) as u16, bits as u16);
        assert_eq!(
            decode_words(&reg(DataType::F32), &[hi, lo]),
            Value::Number(230.5)
        );
        let mut little = reg(DataType::F32);
        little.word_order = Order::Little;
        assert_eq!(decode_words(&little, &[lo, hi]), Value::Number(230.5));
    }

    #[test]
    fn unavailable_markers_are_never_numbers() {
        assert_eq!(
            decode_words(&reg(DataType::U16), &[0xFFFF]),
            Value::Unavailable
        );
        assert_eq!(
            decode_words(&reg(DataType::F32), &[0xFFFF, 0xFFFF]),
            Value::Unavailable,
            "NaN"
        );
        assert_eq!(
            decode_words(&reg(DataType::F64), &[0x7FF8, 0, 0, 0]),
            Value::Unavailable
        );
        assert_eq!(
            decode_words(&reg(DataType::String { registers: 2 }), &[0xFFFF, 0xFFFF]),
            Value::Unavailable
        );
        assert_eq!(
            decode_words(&reg(DataType::I16), &[0xFFFF]),
            Value::Number(-1.0),
            "signed: -1 is a value"
        );
    }

    #[test]
    fn strings_stop_at_nul_and_respect_byte_order() {
        let r = reg(DataType::String { registers: 3 });
        assert_eq!(
            decode_words(&r, &[0x4332, 0x0000, 0x0000]),
            Value::Text("C2".into())
        );
        let mut swapped = r.clone();
        swapped.byte_order = Order::Little;
        assert_eq!(
            decode_words(&swapped, &[0x3243, 0x0000, 0x0000]),
            Value::Text("C2".into())
        );
    }

    #[test]
    fn mask_shift_and_scale() {
        // ABB Terra AC charging state: high byte of the second word, bit 7 a flag.
        let mut r = reg(DataType::U32);
        r.mask = Some(0x7F00);
        assert_eq!(decode_words(&r, &[0x0000, 0x8000]), Value::Number(0.0));
        assert_eq!(decode_words(&r, &[0x0000, 0x0400]), Value::Number(4.0));
        let mut ma = reg(DataType::U32);
        ma.scale = 0.001;
        assert_eq!(decode_words(&ma, &[0x0000, 16_000]), Value::Number(16.0));
    }

    #[test]
    fn encode_is_the_inverse_of_decode() {
        for (t, v, scale) in [
            (DataType::F32, 13.5, 1.0),
            (DataType::U32, 16.0, 0.001),
            (DataType::U16, 6.0, 0.1),
            (DataType::I32, -5.0, 1.0),
        ] {
            let mut r = reg(t);
            r.scale = scale;
            let words = encode_words(&r, v);
            assert_eq!(decode_words(&r, &words), Value::Number(v), "{t:?}");
        }
    }
}
