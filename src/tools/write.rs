//! `sitegate modbus write`: switch a socket on or off, or give it a current setpoint, through
//! its profile's controls, and read the result back.

use std::io::Write;
use std::sync::Arc;

use crate::config::BusConfig;
use crate::core::Control;
use crate::modbus::device::{Device, Part};
use crate::modbus::frame::ReadData;
use crate::profile::{Profile, decode::decode_words};

use super::{Session, ToolError};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WriteAction {
    Enable(bool),
    SetpointA(f64),
}

/// Carries out `action` on the device and verifies it where the profile can read it back.
/// Returns whether every write was confirmed.
pub async fn write(
    bus: &BusConfig,
    profile: &Arc<Profile>,
    unit: u8,
    channel: u16,
    action: WriteAction,
    out: &mut impl Write,
) -> Result<bool, ToolError> {
    let control = match action {
        WriteAction::Enable(on) => Control::Enable(on),
        WriteAction::SetpointA(a) if (0.0..=80.0).contains(&a) => Control::Setpoint(a),
        WriteAction::SetpointA(a) => {
            return Err(ToolError::Usage(format!(
                "setpoint {a} A is outside 0..=80 A"
            )));
        }
    };
    let mut device = Device {
        socket: 0,
        parts: vec![Part::new(unit, channel, profile.clone(), true)],
        max_current_a: 80.0,
        enable: None,
        setpoint_a: None,
    };
    let writes = device.apply_control(control);
    if writes.is_empty() {
        return Err(ToolError::Usage(format!(
            "profile {} has no control for {action:?}",
            profile.name
        )));
    }
    let mut session = Session::open(bus).await?;
    let mut all_confirmed = true;
    for w in writes {
        session
            .write(&w.write)
            .await
            .map_err(|source| ToolError::Device {
                unit: w.write.unit(),
                source,
            })?;
        let _ = writeln!(out, "wrote {}", w.write);
        let Some((req, register, expect)) = w.verify else {
            let _ = writeln!(out, "  (write-only register: nothing to read back)");
            continue;
        };
        let reg = &profile.registers[register];
        let got = match session.read(&req).await {
            Ok(ReadData::Words(words)) => decode_words(reg, &words).as_number(),
            Ok(ReadData::Bits(bits)) => bits.first().map(|&b| if b { 1.0 } else { 0.0 }),
            Err(e) => {
                let _ = writeln!(out, "  read-back of {} failed: {e}", reg.name);
                None
            }
        };
        let confirmed = got.is_some_and(|v| (v - expect).abs() < 0.05);
        all_confirmed &= confirmed;
        let _ = writeln!(
            out,
            "  {} reads {:?}: {}",
            reg.name,
            got,
            if confirmed {
                "confirmed"
            } else {
                "NOT confirmed"
            }
        );
    }
    Ok(all_confirmed)
}
