//! Modbus PDUs (function code and data, without unit id or checksum) for the functions sitegate
//! speaks: 1, 2, 3, 4 (reads), 5, 6, 15, 16 (writes) and exception answers. Owns encoding
//! requests, the expected size of answers and decoding them, for any transport that handles raw
//! PDUs; never does I/O and never frames (the unit id and CRC belong to `rtu`).

use super::frame::{ModbusError, ReadData, ReadRequest, Table, WriteRequest};

/// Set on the function code of an exception answer.
pub const EXCEPTION_FLAG: u8 = 0x80;
/// Length of an exception PDU: function code | 0x80, exception code.
pub const EXCEPTION_PDU_LEN: usize = 2;
/// Most registers one function 16 request may carry (specification).
pub const MAX_WRITE_REGISTERS: u16 = 123;
const FC_WRITE_COIL: u8 = 5;
const FC_WRITE_REGISTER: u8 = 6;
/// Function 15 (write coils): never sent, but framed when another master's answer is on the line.
const FC_WRITE_COILS: u8 = 15;
const FC_WRITE_REGISTERS: u8 = 16;
/// Length of every write answer: function, address, value or quantity.
const WRITE_ANSWER_PDU_LEN: usize = 5;
const COIL_ON: u16 = 0xFF00;
const COIL_OFF: u16 = 0x0000;

/// A request as the codec sees it. Reads and writes from the shared vocabulary convert into it;
/// function 15 (several coils), which the vocabulary has no write for, is only here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Functions 1 to 4, chosen by the table.
    Read {
        table: Table,
        address: u16,
        count: u16,
    },
    /// Function 5.
    WriteCoil { address: u16, value: bool },
    /// Function 6.
    WriteRegister { address: u16, value: u16 },
    /// Function 16.
    WriteRegisters { address: u16, values: Vec<u16> },
}

/// A decoded normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// The answer to a read.
    Data(ReadData),
    /// A write's echo, checked against the request.
    Written,
}

/// How long a response PDU is, judged from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseLen {
    /// The whole PDU has this many bytes.
    Known(usize),
    /// More bytes are needed to tell (a read's byte count has not arrived).
    NeedMore,
    /// Not a function this codec knows: its length cannot be told.
    Unknown,
}

impl From<&ReadRequest> for Request {
    fn from(req: &ReadRequest) -> Request {
        Request::Read {
            table: req.table,
            address: req.address,
            count: req.count,
        }
    }
}

impl From<&WriteRequest> for Request {
    fn from(req: &WriteRequest) -> Request {
        match req {
            WriteRequest::Coil { address, value, .. } => Request::WriteCoil {
                address: *address,
                value: *value,
            },
            WriteRequest::Register { address, value, .. } => Request::WriteRegister {
                address: *address,
                value: *value,
            },
            WriteRequest::Registers {
                address, values, ..
            } => Request::WriteRegisters {
                address: *address,
                values: values.clone(),
            },
        }
    }
}

impl Request {
    /// The function code on the wire.
    pub fn function(&self) -> u8 {
        match self {
            Request::Read { table, .. } => table.read_function(),
            Request::WriteCoil { .. } => FC_WRITE_COIL,
            Request::WriteRegister { .. } => FC_WRITE_REGISTER,
            Request::WriteRegisters { .. } => FC_WRITE_REGISTERS,
        }
    }

    /// The request PDU, or `InvalidRequest` when the specification forbids it (zero or too
    /// many items, or a range past address 65535): refusing here beats a device's exception.
    pub fn encode(&self) -> Result<Vec<u8>, ModbusError> {
        self.validate()?;
        let mut pdu = vec![self.function()];
        match self {
            Request::Read { address, count, .. } => push_words(&mut pdu, &[*address, *count]),
            Request::WriteCoil { address, value } => {
                push_words(&mut pdu, &[*address, coil_word(*value)])
            }
            Request::WriteRegister { address, value } => push_words(&mut pdu, &[*address, *value]),
            Request::WriteRegisters { address, values } => {
                push_words(&mut pdu, &[*address, item_count(values.len())]);
                pdu.push((values.len() * 2) as u8);
                push_words(&mut pdu, values);
            }
        }
        Ok(pdu)
    }

    /// The length of the normal answer's PDU.
    pub fn response_len(&self) -> usize {
        match self {
            Request::Read { .. } => 2 + usize::from(self.expected_byte_count().unwrap_or(0)),
            _ => WRITE_ANSWER_PDU_LEN,
        }
    }

    /// The byte count a read's answer must announce; `None` for writes, whose answers have none.
    pub fn expected_byte_count(&self) -> Option<u8> {
        match self {
            Request::Read { table, count, .. } => {
                let bytes = if table.is_bits() {
                    count.div_ceil(8)
                } else {
                    count.saturating_mul(2)
                };
                // Within the protocol limits this always fits; beyond them no answer can match.
                u8::try_from(bytes).ok()
            }
            _ => None,
        }
    }

    fn validate(&self) -> Result<(), ModbusError> {
        let (address, count, limit) = match self {
            Request::Read {
                table,
                address,
                count,
            } => (*address, usize::from(*count), table.protocol_read_limit()),
            Request::WriteCoil { .. } | Request::WriteRegister { .. } => return Ok(()),
            Request::WriteRegisters { address, values } => {
                (*address, values.len(), MAX_WRITE_REGISTERS)
            }
        };
        let function = self.function();
        if count == 0 || count > usize::from(limit) {
            return Err(ModbusError::InvalidRequest(format!(
                "function {function}: {count} items (1 to {limit} allowed)"
            )));
        }
        if usize::from(address) + count > 0x1_0000 {
            return Err(ModbusError::InvalidRequest(format!(
                "function {function}: {count} items from address {address} pass 65535"
            )));
        }
        Ok(())
    }
}

/// Decodes the answer `pdu` to `req`: the data of a read, the checked echo of a write, or
/// `Exception { code }`. Anything else (another function, a wrong length or byte count, an echo
/// that differs from the request) is `Framing` with a short description.
pub fn decode_response(req: &Request, pdu: &[u8]) -> Result<Response, ModbusError> {
    let Some(&function) = pdu.first() else {
        return Err(framing("empty answer"));
    };
    let expected = req.function();
    if function == expected | EXCEPTION_FLAG {
        return decode_exception(pdu);
    }
    if function != expected {
        return Err(framing(format!(
            "function {function} in answer to function {expected}"
        )));
    }
    match req {
        Request::Read { table, count, .. } => decode_read(req, *table, *count, pdu),
        Request::WriteCoil { address, value } => check_echo(pdu, *address, coil_word(*value)),
        Request::WriteRegister { address, value } => check_echo(pdu, *address, *value),
        Request::WriteRegisters { address, values } => {
            check_echo(pdu, *address, item_count(values.len()))
        }
    }
}

/// The length of a response PDU from its first bytes, for transports that must find where a
/// frame ends before they can check it (RTU has no length field).
pub fn response_len(pdu_start: &[u8]) -> ResponseLen {
    let Some(&function) = pdu_start.first() else {
        return ResponseLen::NeedMore;
    };
    match function {
        f if f & EXCEPTION_FLAG != 0 => ResponseLen::Known(EXCEPTION_PDU_LEN),
        1..=4 => match pdu_start.get(1) {
            Some(&bytes) => ResponseLen::Known(2 + usize::from(bytes)),
            None => ResponseLen::NeedMore,
        },
        FC_WRITE_COIL | FC_WRITE_REGISTER | FC_WRITE_COILS | FC_WRITE_REGISTERS => {
            ResponseLen::Known(WRITE_ANSWER_PDU_LEN)
        }
        _ => ResponseLen::Unknown,
    }
}

fn decode_exception(pdu: &[u8]) -> Result<Response, ModbusError> {
    if pdu.len() != EXCEPTION_PDU_LEN {
        return Err(framing(format!("exception answer of {} bytes", pdu.len())));
    }
    Err(ModbusError::Exception { code: pdu[1] })
}

fn decode_read(
    req: &Request,
    table: Table,
    count: u16,
    pdu: &[u8],
) -> Result<Response, ModbusError> {
    let expected = req.expected_byte_count().unwrap_or(0);
    let Some(&announced) = pdu.get(1) else {
        return Err(framing("read answer without byte count"));
    };
    if announced != expected {
        return Err(framing(format!(
            "byte count {announced}, expected {expected}"
        )));
    }
    let data = &pdu[2..];
    if data.len() != usize::from(announced) {
        return Err(framing(format!(
            "{} data bytes after byte count {announced}",
            data.len()
        )));
    }
    Ok(Response::Data(if table.is_bits() {
        ReadData::Bits(unpack_bits(data, count))
    } else {
        ReadData::Words(words(data))
    }))
}

/// Every write answer echoes the address and one more word (value or quantity).
fn check_echo(pdu: &[u8], address: u16, second: u16) -> Result<Response, ModbusError> {
    if pdu.len() != WRITE_ANSWER_PDU_LEN {
        return Err(framing(format!("write answer of {} bytes", pdu.len())));
    }
    let echo = words(&pdu[1..]);
    if echo != [address, second] {
        return Err(framing(format!(
            "write echo {:#06x}/{:#06x}, sent {address:#06x}/{second:#06x}",
            echo[0], echo[1]
        )));
    }
    Ok(Response::Written)
}

fn framing(what: impl Into<String>) -> ModbusError {
    ModbusError::Framing(what.into())
}

fn coil_word(value: bool) -> u16 {
    if value { COIL_ON } else { COIL_OFF }
}

/// Item counts are validated against limits far below 65535 before they are encoded.
fn item_count(len: usize) -> u16 {
    u16::try_from(len).unwrap_or(u16::MAX)
}

fn push_words(out: &mut Vec<u8>, words: &[u16]) {
    for word in words {
        out.extend_from_slice(&word.to_be_bytes());
    }
}

fn words(data: &[u8]) -> Vec<u16> {
    data.chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]))
        .collect()
}

fn unpack_bits(data: &[u8], count: u16) -> Vec<bool> {
    (0..usize::from(count))
        .map(|i| data[i / 8] & (1 << (i % 8)) != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(table: Table, address: u16, count: u16) -> Request {
        Request::Read {
            table,
            address,
            count,
        }
    }

    fn framing_text(result: Result<Response, ModbusError>) -> String {
        match result {
            Err(ModbusError::Framing(what)) => what,
            other => panic!("expected a framing error, got {other:?}"),
        }
    }

    #[test]
    fn read_requests_encode_for_each_table() {
        for (table, function) in [
            (Table::Coil, 1),
            (Table::DiscreteInput, 2),
            (Table::Holding, 3),
            (Table::Input, 4),
        ] {
            let pdu = read(table, 0x006B, 3).encode().unwrap();
            assert_eq!(pdu, [function, 0x00, 0x6B, 0x00, 0x03]);
        }
    }

    #[test]
    fn conversions_from_the_shared_vocabulary() {
        let req = ReadRequest {
            unit: 7,
            table: Table::Input,
            address: 9,
            count: 2,
        };
        assert_eq!(Request::from(&req), read(Table::Input, 9, 2));
        let write = WriteRequest::Registers {
            unit: 7,
            address: 1,
            values: vec![2, 3],
        };
        assert_eq!(
            Request::from(&write),
            Request::WriteRegisters {
                address: 1,
                values: vec![2, 3]
            }
        );
    }

    #[test]
    fn write_requests_encode() {
        let coil_on = Request::WriteCoil {
            address: 0x00AC,
            value: true,
        };
        assert_eq!(coil_on.encode().unwrap(), [5, 0x00, 0xAC, 0xFF, 0x00]);
        let coil_off = Request::WriteCoil {
            address: 1,
            value: false,
        };
        assert_eq!(coil_off.encode().unwrap(), [5, 0x00, 0x01, 0x00, 0x00]);
        let register = Request::WriteRegister {
            address: 0x0001,
            value: 0x0003,
        };
        assert_eq!(register.encode().unwrap(), [6, 0x00, 0x01, 0x00, 0x03]);
        let registers = Request::WriteRegisters {
            address: 0x0001,
            values: vec![0x000A, 0x0102],
        };
        assert_eq!(
            registers.encode().unwrap(),
            [16, 0x00, 0x01, 0x00, 0x02, 0x04, 0x00, 0x0A, 0x01, 0x02]
        );
    }

    #[test]
    fn requests_outside_the_specification_are_refused() {
        for bad in [
            read(Table::Holding, 0, 0),
            read(Table::Holding, 0, 126),
            read(Table::Coil, 0, 2001),
            read(Table::Input, 0xFFFF, 2),
            Request::WriteRegisters {
                address: 0,
                values: vec![],
            },
            Request::WriteRegisters {
                address: 0,
                values: vec![0; 124],
            },
        ] {
            assert!(
                matches!(bad.encode(), Err(ModbusError::InvalidRequest(_))),
                "{bad:?} was accepted"
            );
        }
        assert!(read(Table::Input, 0xFFFF, 1).encode().is_ok());
        assert!(read(Table::Holding, 0, 125).encode().is_ok());
    }

    #[test]
    fn register_reads_decode() {
        for table in [Table::Holding, Table::Input] {
            let req = read(table, 0x6B, 3);
            let pdu = [table.read_function(), 6, 0x02, 0x2B, 0x00, 0x00, 0x00, 0x64];
            assert_eq!(req.response_len(), pdu.len());
            assert_eq!(
                decode_response(&req, &pdu).unwrap(),
                Response::Data(ReadData::Words(vec![0x022B, 0, 0x64]))
            );
        }
    }

    #[test]
    fn bit_reads_decode_and_drop_padding() {
        for table in [Table::Coil, Table::DiscreteInput] {
            // The specification's example: 19 coils from 20.
            let req = read(table, 0x13, 19);
            let pdu = [table.read_function(), 3, 0xCD, 0x6B, 0x05];
            assert_eq!(req.response_len(), pdu.len());
            let expected: Vec<bool> = [
                1, 0, 1, 1, 0, 0, 1, 1, /**/ 1, 1, 0, 1, 0, 1, 1, 0, /**/ 1, 0, 1,
            ]
            .iter()
            .map(|&b| b == 1)
            .collect();
            assert_eq!(
                decode_response(&req, &pdu).unwrap(),
                Response::Data(ReadData::Bits(expected))
            );
        }
    }

    #[test]
    fn write_echoes_decode_and_are_checked() {
        let coil = Request::WriteCoil {
            address: 0xAC,
            value: true,
        };
        assert_eq!(
            decode_response(&coil, &[5, 0, 0xAC, 0xFF, 0]).unwrap(),
            Response::Written
        );
        let text = framing_text(decode_response(&coil, &[5, 0, 0xAC, 0, 0]));
        assert!(text.contains("echo"), "{text}");

        let register = Request::WriteRegister {
            address: 1,
            value: 3,
        };
        assert_eq!(
            decode_response(&register, &[6, 0, 1, 0, 3]).unwrap(),
            Response::Written
        );

        let registers = Request::WriteRegisters {
            address: 1,
            values: vec![10, 258],
        };
        assert_eq!(
            decode_response(&registers, &[16, 0, 1, 0, 2]).unwrap(),
            Response::Written
        );
    }

    #[test]
    fn exceptions_decode_to_their_code() {
        let req = read(Table::Holding, 0, 1);
        assert!(matches!(
            decode_response(&req, &[0x83, 0x02]),
            Err(ModbusError::Exception { code: 2 })
        ));
        framing_text(decode_response(&req, &[0x83, 0x02, 0x00]));
        // An exception for another function is not an answer to this request.
        framing_text(decode_response(&req, &[0x84, 0x02]));
    }

    #[test]
    fn malformed_lengths_are_refused() {
        let req = read(Table::Holding, 0, 2);
        assert!(framing_text(decode_response(&req, &[3, 2, 0, 1])).contains("byte count 2"));
        framing_text(decode_response(&req, &[3, 4, 0, 1, 0]));
        framing_text(decode_response(&req, &[3, 4, 0, 1, 0, 2, 9]));
        framing_text(decode_response(&req, &[3]));
        framing_text(decode_response(&req, &[]));
        let write = Request::WriteRegister {
            address: 1,
            value: 3,
        };
        framing_text(decode_response(&write, &[6, 0, 1, 0]));
        framing_text(decode_response(&write, &[6, 0, 1, 0, 3, 0]));
        let text = framing_text(decode_response(&write, &[16, 0, 1, 0, 1]));
        assert!(text.contains("function 16"), "{text}");
    }

    #[test]
    fn response_length_from_the_first_bytes() {
        assert_eq!(response_len(&[]), ResponseLen::NeedMore);
        assert_eq!(response_len(&[3]), ResponseLen::NeedMore);
        assert_eq!(response_len(&[3, 20]), ResponseLen::Known(22));
        assert_eq!(response_len(&[1, 3]), ResponseLen::Known(5));
        assert_eq!(response_len(&[0x83]), ResponseLen::Known(2));
        assert_eq!(response_len(&[6]), ResponseLen::Known(5));
        assert_eq!(response_len(&[15]), ResponseLen::Known(5));
        assert_eq!(response_len(&[0x2B]), ResponseLen::Unknown);
    }
}
