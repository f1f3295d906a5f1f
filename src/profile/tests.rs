//! Profile tests: the built-ins compile and read their devices in as few requests as the
//! vendors allow; register dumps decode to the documented meanings; bad profiles list every
//! problem with its key path.

use super::*;
use crate::core::VehicleState;
use crate::profile::register::{ReadData, Table};

fn builtin(name: &str) -> Arc<Profile> {
    ProfileSet::builtin()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is built in"))
        .clone()
}

fn requests(p: &Profile, when: ReadWhen) -> Vec<(u8, Table, u16, u16)> {
    plan_reads(p, 1, 0, &[when])
        .iter()
        .map(|r| {
            (
                r.request.unit,
                r.request.table,
                r.request.address,
                r.request.count,
            )
        })
        .collect()
}

#[test]
fn every_builtin_profile_compiles() {
    let set = ProfileSet::builtin();
    let names: Vec<_> = set.names().collect();
    assert_eq!(
        names,
        [
            "abb-terra-ac",
            "alfen-ng9xx",
            "eastron-sdm630",
            "generic-relay",
            "generic-socket"
        ]
    );
}

#[test]
fn abb_is_polled_with_the_one_37_register_read_real_units_accept() {
    let p = builtin("abb-terra-ac");
    assert_eq!(
        requests(&p, ReadWhen::Every),
        vec![(1, Table::Holding, 0x4006, 31)]
    );
    assert_eq!(
        requests(&p, ReadWhen::Once),
        vec![(1, Table::Holding, 0x4000, 6)]
    );
    let mut both = plan_reads(&p, 1, 0, &[ReadWhen::Every, ReadWhen::Once]);
    assert_eq!(both.len(), 1);
    assert_eq!(
        (both[0].request.address, both.remove(0).request.count),
        (0x4000, 37)
    );
}

#[test]
fn alfen_reads_its_meter_block_and_its_control_block_per_poll() {
    let p = builtin("alfen-ng9xx");
    assert_eq!(
        requests(&p, ReadWhen::Every),
        vec![(1, Table::Holding, 300, 78), (1, Table::Holding, 1200, 16)]
    );
    let once = requests(&p, ReadWhen::Once);
    assert!(
        once.iter().any(|&(u, _, a, _)| u == 200 && a == 100),
        "station identity at unit 200: {once:?}"
    );
}

#[test]
fn sdm630_reads_its_measurement_block_in_one_request_within_its_80_register_limit() {
    let p = builtin("eastron-sdm630");
    assert_eq!(
        requests(&p, ReadWhen::Every),
        vec![(1, Table::Input, 0, 76)]
    );
}

#[test]
fn relay_module_channels_shift_addresses() {
    let p = builtin("generic-relay");
    let plan = plan_reads(&p, 9, 5, &[ReadWhen::Every]);
    let reqs: Vec<_> = plan
        .iter()
        .map(|r| {
            (
                r.request.unit,
                r.request.table,
                r.request.address,
                r.request.count,
            )
        })
        .collect();
    assert_eq!(
        reqs,
        vec![(9, Table::Coil, 5, 1), (9, Table::DiscreteInput, 5, 1)]
    );
}

/// Decodes a register dump: (address, words) per planned request, as a device would answer.
fn decode_dump(p: &Profile, words_at: impl Fn(u16, u16) -> Vec<u16>) -> crate::core::Readings {
    let mut decoded = Decoded::new();
    for plan in plan_reads(p, 1, 0, &[ReadWhen::Every, ReadWhen::Once]) {
        let r = plan.request;
        let data = if r.table.is_bits() {
            ReadData::Bits(vec![true; usize::from(r.count)])
        } else {
            ReadData::Words(words_at(r.address, r.count))
        };
        apply(p, &plan, &data, &mut decoded);
    }
    readings(p, &decoded)
}

#[test]
fn abb_charging_state_is_the_high_byte_of_0x400d() {
    let p = builtin("abb-terra-ac");
    let dump = |state_low_word: u16| {
        move |addr: u16, count: u16| {
            (addr..addr + count)
                .map(|a| match a {
                    0x400D => state_low_word,
                    0x401D => 7400, // power, low word
                    0x401F => 1234, // session energy, low word
                    _ => 0,
                })
                .collect()
        }
    };
    let idle = decode_dump(&p, dump(0x8000));
    assert_eq!(
        idle.vehicle,
        Some(VehicleState::A),
        "idle reads 0x0000 0x8000"
    );
    let charging = decode_dump(&p, dump(0x0400));
    assert_eq!(charging.vehicle, Some(VehicleState::C2));
    assert_eq!(charging.power_w, Some(7400.0));
    assert_eq!(charging.energy_wh, Some(1234.0));
    assert_eq!(charging.fault, None, "error code 0 is no fault");
}

#[test]
fn alfen_unavailable_registers_are_not_numbers() {
    let p = builtin("alfen-ng9xx");
    let r = decode_dump(&p, |addr, count| {
        (addr..addr + count)
            .map(|a| match a {
                1201 => u16::from_be_bytes(*b"C2"),
                1202..=1205 => 0,
                _ => 0xFFFF,
            })
            .collect()
    });
    assert_eq!(r.vehicle, Some(VehicleState::C2));
    assert_eq!(r.power_w, None);
    assert_eq!(r.energy_wh, None);
    assert_eq!(r.voltage_v, [None; 3]);
}

fn problems_of(text: &str) -> Vec<String> {
    compile_profile(text)
        .expect_err("invalid")
        .iter()
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn overlapping_and_oversized_blocks_are_refused_with_their_key_paths() {
    let errors = problems_of(
        "[profile]\nname = 'x'\nkind = 'meter'\nmax_read_registers = 10\n\
         [[register]]\nname = 'a'\ntable = 'input'\naddress = 0\ntype = 'u32'\n\
         [[register]]\nname = 'b'\ntable = 'input'\naddress = 1\n\
         [[register]]\nname = 'c'\ntable = 'input'\naddress = 20\ntype = 'string'\nlength = 12\n",
    );
    assert_eq!(
        errors,
        [
            "register[1].address: `b` (input 0x0001..0x0002) overlaps `a` (register[0], 0x0000..0x0002)",
            "register[2].length: 12 registers exceed the profile's limit of 10 per read",
        ]
    );
}

#[test]
fn every_problem_is_listed_not_only_the_first() {
    let errors = problems_of(
        "[profile]\nname = 'Bad Name'\nkind = 'kettle'\ncolour = 'red'\n\
         [[register]]\nname = 'a'\ntable = 'holding'\naddress = 0\ntype = 'u128'\n\
         [[register]]\nname = 'b'\ntable = 'coil'\naddress = 0\ntype = 'u16'\n\
         [points]\npower_w = 'missing'\nvehicle = { register = 'b', map = { 1 = 'Z' } }\n",
    );
    assert_eq!(
        errors,
        [
            "profile.colour: unknown key",
            "profile.name: `Bad Name` must be lowercase letters, digits and dashes",
            "profile.kind: `kettle` is not one of socket, meter, relay",
            "register[0].type: `u128` is not one of bool, u16, i16, u32, i32, u64, f32, f64, string, hex",
            "register[1].type: a coil holds single bits: use bool",
            "points.vehicle.register: no register named `b`",
            "points.power_w: no register named `missing`",
        ]
    );
}
