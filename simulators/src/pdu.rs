//! Modbus PDU codec: parses request PDUs and encodes response and exception PDUs.
//!
//! Owns the wire format of the PDU (function code + data) shared by the TCP and RTU transports.
//! Never decides what a device answers (that is `models`) and never sees framing (MBAP header,
//! unit id, CRC: that is `transport`). The protocol-level limits checked here are the ones the
//! Modbus application protocol specification v1.1b3 fixes for every device; device-specific limits
//! (SDM630's 80 registers) are checked by the models.

/// A Modbus exception code (the byte after `function | 0x80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception(pub u8);

impl Exception {
    pub const ILLEGAL_FUNCTION: Exception = Exception(0x01);
    pub const ILLEGAL_ADDRESS: Exception = Exception(0x02);
    pub const ILLEGAL_VALUE: Exception = Exception(0x03);
    /// Gateway target device failed to respond: a TCP gateway's answer for an absent unit id.
    pub const GATEWAY_TARGET: Exception = Exception(0x0B);
}

/// Which table a read or write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Coils,
    DiscreteInputs,
    Holding,
    Input,
}

/// One parsed request PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Function 1, 2, 3 or 4.
    Read { table: Table, addr: u16, qty: u16 },
    /// Function 5.
    WriteCoil { addr: u16, value: bool },
    /// Function 6.
    WriteRegister { addr: u16, value: u16 },
    /// Function 15.
    WriteCoils { addr: u16, values: Vec<bool> },
    /// Function 16.
    WriteRegisters { addr: u16, values: Vec<u16> },
    /// Any other function code: devices answer exception 1.
    Other { function: u8 },
}

impl Request {
    /// True for the function codes that change state (the only ones a broadcast may carry).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::WriteCoil { .. }
                | Request::WriteRegister { .. }
                | Request::WriteCoils { .. }
                | Request::WriteRegisters { .. }
        )
    }
}

/// A normal response, before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    Bits {
        function: u8,
        bits: Vec<bool>,
    },
    Registers {
        function: u8,
        words: Vec<u16>,
    },
    /// Writes echo address and value (5, 6) or address and quantity (15, 16).
    Echo {
        function: u8,
        addr: u16,
        value: u16,
    },
}

/// The function code of a request PDU (0 when the PDU is empty).
pub fn function_of(pdu: &[u8]) -> u8 {
    pdu.first().copied().unwrap_or(0)
}

fn be(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

/// Parses a request PDU. A malformed PDU of a known function gets exception 3, as the
/// specification orders (quantity or byte count out of range is checked before the address).
pub fn parse(pdu: &[u8]) -> Result<Request, Exception> {
    let function = function_of(pdu);
    let need = |n: usize| {
        if pdu.len() < n {
            Err(Exception::ILLEGAL_VALUE)
        } else {
            Ok(())
        }
    };
    match function {
        1..=4 => {
            need(5)?;
            let (addr, qty) = (be(pdu, 1), be(pdu, 3));
            let (table, max) = match function {
                1 => (Table::Coils, 2000),
                2 => (Table::DiscreteInputs, 2000),
                3 => (Table::Holding, 125),
                _ => (Table::Input, 125),
            };
            if qty == 0 || qty > max {
                return Err(Exception::ILLEGAL_VALUE);
            }
            Ok(Request::Read { table, addr, qty })
        }
        5 => {
            need(5)?;
            let value = match be(pdu, 3) {
                0xFF00 => true,
                0x0000 => false,
                _ => return Err(Exception::ILLEGAL_VALUE),
            };
            Ok(Request::WriteCoil {
                addr: be(pdu, 1),
                value,
            })
        }
        6 => {
            need(5)?;
            Ok(Request::WriteRegister {
                addr: be(pdu, 1),
                value: be(pdu, 3),
            })
        }
        15 => {
            need(6)?;
            let (addr, qty, count) = (be(pdu, 1), be(pdu, 3), usize::from(pdu[5]));
            if qty == 0
                || qty > 1968
                || count != usize::from(qty).div_ceil(8)
                || pdu.len() < 6 + count
            {
                return Err(Exception::ILLEGAL_VALUE);
            }
            let values = (0..usize::from(qty))
                .map(|i| pdu[6 + i / 8] & (1 << (i % 8)) != 0)
                .collect();
            Ok(Request::WriteCoils { addr, values })
        }
        16 => {
            need(6)?;
            let (addr, qty, count) = (be(pdu, 1), be(pdu, 3), usize::from(pdu[5]));
            if qty == 0 || qty > 123 || count != 2 * usize::from(qty) || pdu.len() < 6 + count {
                return Err(Exception::ILLEGAL_VALUE);
            }
            let values = (0..usize::from(qty)).map(|i| be(pdu, 6 + 2 * i)).collect();
            Ok(Request::WriteRegisters { addr, values })
        }
        _ => Ok(Request::Other { function }),
    }
}

/// Encodes a normal response PDU.
pub fn encode(response: &Response) -> Vec<u8> {
    match response {
        Response::Bits { function, bits } => {
            let mut out = vec![*function, bits.len().div_ceil(8) as u8];
            for chunk in bits.chunks(8) {
                out.push(
                    chunk
                        .iter()
                        .enumerate()
                        .fold(0u8, |acc, (i, &b)| acc | (u8::from(b) << i)),
                );
            }
            out
        }
        Response::Registers { function, words } => {
            let mut out = vec![*function, (words.len() * 2) as u8];
            for w in words {
                out.extend_from_slice(&w.to_be_bytes());
            }
            out
        }
        Response::Echo {
            function,
            addr,
            value,
        } => {
            let mut out = vec![*function];
            out.extend_from_slice(&addr.to_be_bytes());
            out.extend_from_slice(&value.to_be_bytes());
            out
        }
    }
}

/// Encodes an exception response PDU for a request of `function`.
pub fn exception(function: u8, code: Exception) -> Vec<u8> {
    vec![function | 0x80, code.0]
}

/// Request or response length on an RTU line, when the function code fixes it; `None` when
/// only the silence after the frame can tell (unknown function codes).
pub fn rtu_request_len(frame: &[u8]) -> Option<usize> {
    match frame.get(1)? {
        1..=6 => Some(8),
        15 | 16 => frame.get(6).map(|&count| 9 + usize::from(count)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_reads_and_writes() {
        assert_eq!(
            parse(&[3, 0x04, 0xB2, 0, 5]),
            Ok(Request::Read {
                table: Table::Holding,
                addr: 1202,
                qty: 5
            })
        );
        assert_eq!(parse(&[3, 0, 0, 0, 126]), Err(Exception::ILLEGAL_VALUE));
        assert_eq!(parse(&[5, 0, 1, 0x12, 0x34]), Err(Exception::ILLEGAL_VALUE));
        assert_eq!(
            parse(&[16, 0x04, 0xBA, 0, 2, 4, 0x41, 0x80, 0, 0]),
            Ok(Request::WriteRegisters {
                addr: 1210,
                values: vec![0x4180, 0]
            })
        );
        assert_eq!(
            parse(&[16, 0, 0, 0, 2, 3, 0, 0, 0]),
            Err(Exception::ILLEGAL_VALUE)
        );
        assert_eq!(
            parse(&[15, 0, 2, 0, 10, 2, 0b1000_0001, 0b10]),
            Ok(Request::WriteCoils {
                addr: 2,
                values: vec![
                    true, false, false, false, false, false, false, true, false, true
                ]
            })
        );
        assert_eq!(parse(&[0x2B, 0x0E]), Ok(Request::Other { function: 0x2B }));
    }

    #[test]
    fn encodes_bits_registers_and_exceptions() {
        let bits = vec![true, false, true, false, false, false, false, false, true];
        assert_eq!(
            encode(&Response::Bits { function: 1, bits }),
            vec![1, 2, 0b101, 1]
        );
        assert_eq!(
            encode(&Response::Registers {
                function: 4,
                words: vec![0x1234]
            }),
            vec![4, 2, 0x12, 0x34]
        );
        assert_eq!(exception(3, Exception::ILLEGAL_ADDRESS), vec![0x83, 2]);
    }
}
