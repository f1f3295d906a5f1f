//! Which requests read a device: a profile's registers merged into as few requests as the
//! device allows (adjacent registers, plus gaps the profile says the device tolerates), and how
//! each answer is split back into registers. Merging is the biggest lever on slow serial lines.
//! Pure.

use super::decode::{Decoded, decode_bit, decode_words};
use super::model::*;
use crate::profile::register::{ReadData, ReadRequest, Table};

/// One request and the registers its answer holds.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRead {
    pub request: ReadRequest,
    /// Register index and its offset (in words or bits) inside the answer.
    pub items: Vec<(RegisterIndex, u16)>,
}

/// Plans the reads of the registers whose `read` is in `when`, for a device at `unit` (and
/// `channel`, on relay modules).
pub fn plan_reads(
    profile: &Profile,
    unit: u8,
    channel: u16,
    when: &[ReadWhen],
) -> Vec<PlannedRead> {
    let mut wanted: Vec<(u8, Table, u16, u16, RegisterIndex)> = profile
        .registers
        .iter()
        .enumerate()
        .filter(|(_, r)| when.contains(&r.read))
        .map(|(i, r)| {
            (
                r.unit_for(unit),
                r.table,
                r.address_at(channel),
                r.width(),
                i,
            )
        })
        .collect();
    wanted.sort_by_key(|&(u, t, a, _, _)| (u, t, a));

    let mut plans: Vec<PlannedRead> = Vec::new();
    for (u, table, address, width, index) in wanted {
        let limit = if table.is_bits() {
            profile.limits.max_read_bits
        } else {
            profile.limits.max_read_registers
        };
        let end = u32::from(address) + u32::from(width);
        if let Some(last) = plans.last_mut() {
            let req = &mut last.request;
            let last_end = u32::from(req.address) + u32::from(req.count);
            // Sorted by unit, table, address: within a block, addresses only grow.
            let same_block = req.unit == u && req.table == table;
            let gap_ok = u32::from(address) <= last_end + u32::from(profile.limits.max_gap);
            if same_block && gap_ok && end - u32::from(req.address) <= u32::from(limit) {
                req.count = (end.max(last_end) - u32::from(req.address)) as u16;
                last.items.push((index, address - req.address));
                continue;
            }
        }
        plans.push(PlannedRead {
            request: ReadRequest {
                unit: u,
                table,
                address,
                count: width,
            },
            items: vec![(index, 0)],
        });
    }
    plans
}

/// Decodes an answer to `plan` into `decoded`. A short answer marks the missing registers
/// unavailable rather than guessing.
pub fn apply(profile: &Profile, plan: &PlannedRead, data: &ReadData, decoded: &mut Decoded) {
    if decoded.len() < profile.registers.len() {
        decoded.resize(profile.registers.len(), None);
    }
    for &(index, offset) in &plan.items {
        let reg = &profile.registers[index];
        let start = usize::from(offset);
        let end = start + usize::from(reg.width());
        let value = match data {
            ReadData::Bits(bits) => bits.get(start).map(|&b| decode_bit(b)),
            ReadData::Words(words) => words.get(start..end).map(|w| decode_words(reg, w)),
        };
        decoded[index] = Some(value.unwrap_or(super::decode::Value::Unavailable));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::compile::compile_profile;

    fn profile(max: u16, gap: u16, regs: &str) -> Profile {
        compile_profile(&format!(
            "[profile]\nname = 't'\nkind = 'socket'\nmax_read_registers = {max}\nmax_gap = {gap}\n{regs}"
        ))
        .unwrap()
    }

    #[test]
    fn adjacent_registers_merge_up_to_the_device_limit() {
        let p = profile(
            6,
            0,
            "[[register]]\nname='a'\ntable='input'\naddress=0\ntype='u32'\n\
             [[register]]\nname='b'\ntable='input'\naddress=2\ntype='u32'\n\
             [[register]]\nname='c'\ntable='input'\naddress=4\ntype='u32'\n\
             [[register]]\nname='d'\ntable='input'\naddress=6\ntype='u16'\n",
        );
        let plan = plan_reads(&p, 3, 0, &[ReadWhen::Every]);
        let reqs: Vec<_> = plan
            .iter()
            .map(|p| (p.request.address, p.request.count))
            .collect();
        assert_eq!(reqs, vec![(0, 6), (6, 1)]);
        assert_eq!(plan[0].items, vec![(0, 0), (1, 2), (2, 4)]);
        assert!(plan.iter().all(|p| p.request.unit == 3));
    }

    #[test]
    fn gaps_merge_only_where_the_device_tolerates_them() {
        let regs = "[[register]]\nname='a'\ntable='holding'\naddress=0\n\
                    [[register]]\nname='b'\ntable='holding'\naddress=5\n";
        assert_eq!(
            plan_reads(&profile(125, 0, regs), 1, 0, &[ReadWhen::Every]).len(),
            2
        );
        let merged = plan_reads(&profile(125, 8, regs), 1, 0, &[ReadWhen::Every]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].request.count, 6);
    }

    #[test]
    fn tables_units_and_read_times_are_kept_apart() {
        let p = profile(
            125,
            0,
            "[[register]]\nname='relay'\ntable='coil'\naddress=0\n\
             [[register]]\nname='a'\ntable='holding'\naddress=1\n\
             [[register]]\nname='station'\ntable='holding'\naddress=2\nunit_id=200\n\
             [[register]]\nname='serial'\ntable='holding'\naddress=3\nread='once'\n",
        );
        let every = plan_reads(&p, 1, 0, &[ReadWhen::Every]);
        let keys: Vec<_> = every
            .iter()
            .map(|p| (p.request.unit, p.request.table))
            .collect();
        assert_eq!(
            keys,
            vec![(1, Table::Coil), (1, Table::Holding), (200, Table::Holding)]
        );
        assert_eq!(plan_reads(&p, 1, 0, &[ReadWhen::Once]).len(), 1);
    }

    #[test]
    fn an_answer_is_split_back_into_registers() {
        let p = profile(
            125,
            0,
            "[[register]]\nname='a'\ntable='input'\naddress=10\n\
             [[register]]\nname='b'\ntable='input'\naddress=11\ntype='i32'\n",
        );
        let plan = plan_reads(&p, 1, 0, &[ReadWhen::Every]);
        let mut decoded = Decoded::new();
        apply(
            &p,
            &plan[0],
            &ReadData::Words(vec![7, 0xFFFF, 0xFFFE]),
            &mut decoded,
        );
        assert_eq!(decoded[0], Some(crate::profile::Value::Number(7.0)));
        assert_eq!(decoded[1], Some(crate::profile::Value::Number(-2.0)));
    }
}
