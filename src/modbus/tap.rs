//! What the installer's tools get of a running bus owner: each device's last decoded registers
//! (raw words, value and unit, as of the last poll), and a request channel for one-off reads
//! (a bus scan) that the owner serves between its polls, so a serial line keeps its one
//! master. Owns no link and never opens one: the bus owner does the I/O.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::frame::{ModbusError, ReadData, ReadRequest, Table};
use super::stats::BusStats;
use crate::config::BusConfig;
use crate::profile::{PlannedRead, Profile, decode::decode_bit, decode::decode_words};

/// Tool requests waiting for a bus owner. Full-policy: the tool waits (one scan at a time is
/// the normal case; a second waits its turn).
pub const TOOL_REQUEST_CAPACITY: usize = 4;

/// One register as the last poll read it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RegisterReading {
    /// Unit id it was read from.
    pub unit: u8,
    pub name: String,
    pub table: &'static str,
    pub address: u16,
    /// The words (or bits, as 0 and 1) the device sent, in its order.
    pub raw: Vec<u16>,
    /// The decoded value in words (`unavailable` when the device marks it so).
    pub value: String,
    #[serde(rename = "unit_of_measure")]
    pub measure: Option<String>,
}

/// A device's registers, by part and register position in its profile (the profile's order).
#[derive(Debug, Clone, Default)]
pub struct DeviceRegisters {
    pub socket: usize,
    /// When a poll last succeeded.
    pub polled_at: Option<i64>,
    pub registers: BTreeMap<(usize, usize), RegisterReading>,
}

/// The last answers of every device of one bus owner, decoded only when a tool asks: the
/// owner keeps each answer as it came (no decoding nor formatting on the poll path, which runs
/// whether or not an installer is looking), the page decodes on demand. Behind a mutex held for
/// microseconds.
#[derive(Debug)]
pub struct LiveRegisters {
    devices: Mutex<Vec<DeviceAnswers>>,
}

#[derive(Debug, Default)]
struct DeviceAnswers {
    socket: usize,
    polled_at: Option<i64>,
    /// By part and the first register the read plans: one entry per planned read.
    answers: BTreeMap<(usize, usize), Answer>,
}

#[derive(Debug)]
struct Answer {
    profile: Arc<Profile>,
    plan: PlannedRead,
    data: ReadData,
}

fn table_name(table: Table) -> &'static str {
    match table {
        Table::Coil => "coil",
        Table::DiscreteInput => "discrete_input",
        Table::Holding => "holding",
        Table::Input => "input",
    }
}

impl Answer {
    /// What the answer says of each register the read planned, by register position.
    fn readings(&self) -> impl Iterator<Item = (usize, RegisterReading)> + '_ {
        self.plan.items.iter().map(|&(index, offset)| {
            let reg = &self.profile.registers[index];
            let start = usize::from(offset);
            let end = start + usize::from(reg.width());
            let (raw, value) = match &self.data {
                ReadData::Words(w) => match w.get(start..end) {
                    Some(words) => (words.to_vec(), decode_words(reg, words)),
                    None => (vec![], crate::profile::Value::Unavailable),
                },
                ReadData::Bits(b) => match b.get(start) {
                    Some(&bit) => (vec![u16::from(bit)], decode_bit(bit)),
                    None => (vec![], crate::profile::Value::Unavailable),
                },
            };
            let value = match value {
                crate::profile::Value::Text(t) => t,
                v => v.to_string(),
            };
            let reading = RegisterReading {
                unit: self.plan.request.unit,
                name: reg.name.clone(),
                table: table_name(reg.table),
                address: self.plan.request.address + offset,
                raw,
                value,
                measure: reg.unit.clone(),
            };
            (index, reading)
        })
    }
}

impl LiveRegisters {
    /// One entry per device, for the sockets at these indices.
    pub fn new(sockets: &[usize]) -> LiveRegisters {
        LiveRegisters {
            devices: Mutex::new(
                sockets
                    .iter()
                    .map(|&socket| DeviceAnswers {
                        socket,
                        ..DeviceAnswers::default()
                    })
                    .collect(),
            ),
        }
    }

    /// Keeps the answer to `plan` (`part` of `device`, read with `profile`) as it came.
    pub fn record(
        &self,
        device: usize,
        part: usize,
        profile: Arc<Profile>,
        plan: PlannedRead,
        data: ReadData,
    ) {
        let Some(&(first, _)) = plan.items.first() else {
            return;
        };
        if let Ok(mut devices) = self.devices.lock()
            && let Some(d) = devices.get_mut(device)
        {
            d.answers.insert(
                (part, first),
                Answer {
                    profile,
                    plan,
                    data,
                },
            );
        }
    }

    pub fn polled(&self, device: usize, at_ms: i64) {
        if let Ok(mut devices) = self.devices.lock()
            && let Some(d) = devices.get_mut(device)
        {
            d.polled_at = Some(at_ms);
        }
    }

    /// The device's registers, decoded from its last answers.
    pub fn device(&self, device: usize) -> Option<DeviceRegisters> {
        let devices = self.devices.lock().ok()?;
        let d = devices.get(device)?;
        let registers = d
            .answers
            .iter()
            .flat_map(|(&(part, _), answer)| {
                answer
                    .readings()
                    .map(move |(index, reading)| ((part, index), reading))
            })
            .collect();
        Some(DeviceRegisters {
            socket: d.socket,
            polled_at: d.polled_at,
            registers,
        })
    }
}

/// A one-off read for a tool, served by the bus owner between polls.
#[derive(Debug)]
pub struct ToolRead {
    pub request: ReadRequest,
    pub timeout: Duration,
    pub reply: oneshot::Sender<Result<ReadData, ModbusError>>,
}

/// The owner's end of a tap.
pub struct TapEnd {
    pub live: Arc<LiveRegisters>,
    pub reads: mpsc::Receiver<ToolRead>,
}

/// The tools' end of one bus owner: its counters, its devices' registers, and reads.
#[derive(Clone)]
pub struct BusTap {
    /// The owner's label: the bus name (or `bus/unit` for parallel TCP connections).
    pub label: String,
    pub bus: BusConfig,
    pub stats: Arc<BusStats>,
    pub live: Arc<LiveRegisters>,
    /// Socket index of each device, in the owner's order.
    pub sockets: Vec<usize>,
    reads: mpsc::Sender<ToolRead>,
}

/// Why a tool read through the owner failed.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    #[error("the bus owner has stopped")]
    Stopped,
    #[error(transparent)]
    Modbus(#[from] ModbusError),
}

impl BusTap {
    pub fn new(
        label: String,
        bus: BusConfig,
        stats: Arc<BusStats>,
        sockets: Vec<usize>,
    ) -> (BusTap, TapEnd) {
        let (tx, rx) = mpsc::channel(TOOL_REQUEST_CAPACITY);
        let live = Arc::new(LiveRegisters::new(&sockets));
        (
            BusTap {
                label,
                bus,
                stats,
                live: live.clone(),
                sockets,
                reads: tx,
            },
            TapEnd { live, reads: rx },
        )
    }

    /// One read through the bus owner, answered between its polls.
    pub async fn read(
        &self,
        request: ReadRequest,
        timeout: Duration,
    ) -> Result<ReadData, TapError> {
        let (reply, answer) = oneshot::channel();
        self.reads
            .send(ToolRead {
                request,
                timeout,
                reply,
            })
            .await
            .map_err(|_| TapError::Stopped)?;
        Ok(answer.await.map_err(|_| TapError::Stopped)??)
    }
}
