//! `sitegate modbus read`: every register of a profile decoded with its unit, then the socket
//! points and the state sitegate would derive.

use std::io::Write;
use std::sync::Arc;

use crate::config::BusConfig;
use crate::core::socket_state::derive;
use crate::modbus::device::Part;
use crate::modbus::frame::ModbusError;
use crate::profile::{Profile, ReadWhen, Value};

use super::{Session, ToolError, with_unit};

/// Reads every readable register of `profile` at `unit` (and `channel`) and prints them.
pub async fn read(
    bus: &BusConfig,
    profile: &Arc<Profile>,
    unit: u8,
    channel: u16,
    out: &mut impl Write,
) -> Result<crate::core::Readings, ToolError> {
    let mut session = Session::open(bus).await?;
    let mut part = Part::new(unit, channel, profile.clone(), true);
    let plans =
        crate::profile::plan_reads(profile, unit, channel, &[ReadWhen::Every, ReadWhen::Once]);
    let mut errors = 0;
    for plan in &plans {
        match session.read(&plan.request).await {
            Ok(data) => part.store(plan, &data),
            Err(e @ ModbusError::Exception { .. }) => {
                errors += 1;
                let _ = writeln!(
                    out,
                    "# {} {} x{} at unit {}: {e}",
                    plan.request.table, plan.request.address, plan.request.count, plan.request.unit
                );
            }
            Err(source) => {
                return Err(ToolError::Device {
                    unit: plan.request.unit,
                    source,
                });
            }
        }
    }
    let _ = writeln!(
        out,
        "{} at unit {unit} on bus {} ({} request(s)):",
        profile.name,
        bus.name,
        plans.len()
    );
    for (i, reg) in profile.registers.iter().enumerate() {
        let Some(value) = part.decoded().get(i).and_then(|v| v.as_ref()) else {
            continue;
        };
        let shown = if *value == Value::Unavailable {
            "unavailable".to_string()
        } else {
            with_unit(value, reg.unit.as_deref())
        };
        let _ = writeln!(
            out,
            "  {:<24} {:<14} {:>7}  {shown}",
            reg.name,
            reg.table.to_string(),
            format!("{:#06x}", reg.address_at(channel))
        );
    }
    let readings = part.readings();
    let (state, why) = derive(&readings, false, profile.rules);
    let _ = writeln!(out, "state: {state} ({why})");
    if errors > 0 {
        let _ = writeln!(
            out,
            "{errors} block(s) refused with an exception: the profile may not fit this device"
        );
    }
    Ok(readings)
}
