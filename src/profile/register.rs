//! The register vocabulary profiles are written in and the bus reads: which table a request
//! addresses and what a read returns. Pure data; no I/O (the `modbus` edge carries it).

use std::fmt;

/// The four Modbus data tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Read/write bits (function 1 to read, 5 and 15 to write).
    Coil,
    /// Read-only bits (function 2).
    DiscreteInput,
    /// Read/write 16-bit registers (function 3 to read, 6 and 16 to write).
    Holding,
    /// Read-only 16-bit registers (function 4).
    Input,
}

impl Table {
    /// Whether the table holds single bits rather than 16-bit words.
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::DiscreteInput)
    }

    /// The function code that reads this table.
    pub fn read_function(self) -> u8 {
        match self {
            Table::Coil => 1,
            Table::DiscreteInput => 2,
            Table::Holding => 3,
            Table::Input => 4,
        }
    }

    /// Most items one read request may ask for, by the Modbus specification.
    pub fn protocol_read_limit(self) -> u16 {
        if self.is_bits() { 2000 } else { 125 }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Table::Coil => "coil",
            Table::DiscreteInput => "discrete input",
            Table::Holding => "holding",
            Table::Input => "input",
        })
    }
}

/// One read transaction: `count` items of `table` from `address` at `unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReadRequest {
    pub unit: u8,
    pub table: Table,
    pub address: u16,
    pub count: u16,
}

/// What a read returns: bits for coils and discrete inputs, words for registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadData {
    Bits(Vec<bool>),
    Words(Vec<u16>),
}
