//! A Modbus TCP link on tokio-modbus: one connection, one request at a time (most devices and
//! gateways drop pipelined requests). tokio-modbus has no timeout of its own and desynchronises
//! after one (its issue #324), so every call is wrapped in a timeout and the connection is
//! dropped after a timeout or a malformed answer; the owner reconnects with backoff.

use std::time::Duration;

use tokio::net::TcpStream;
use tokio_modbus::client::{Client, Context, Reader, Writer};
use tokio_modbus::prelude::SlaveContext;
use tokio_modbus::{ExceptionCode, Slave};

use super::frame::{ModbusError, ReadData, ReadRequest, Table, WriteRequest};

pub struct TcpLink {
    ctx: Context,
}

impl TcpLink {
    /// Connects to `host:port` within `timeout`.
    pub async fn connect(host: &str, port: u16, timeout: Duration) -> Result<TcpLink, ModbusError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect((host, port)))
            .await
            .map_err(|_| ModbusError::Timeout(timeout))??;
        // Requests are small and latency matters more than throughput.
        stream.set_nodelay(true)?;
        Ok(TcpLink {
            ctx: tokio_modbus::client::tcp::attach_slave(stream, Slave(1)),
        })
    }

    pub async fn read(
        &mut self,
        req: &ReadRequest,
        timeout: Duration,
    ) -> Result<ReadData, ModbusError> {
        self.ctx.set_slave(Slave(req.unit));
        let ctx = &mut self.ctx;
        let (addr, n) = (req.address, req.count);
        let data = match req.table {
            Table::Coil => call(timeout, ctx.read_coils(addr, n))
                .await
                .map(ReadData::Bits),
            Table::DiscreteInput => call(timeout, ctx.read_discrete_inputs(addr, n))
                .await
                .map(ReadData::Bits),
            Table::Holding => call(timeout, ctx.read_holding_registers(addr, n))
                .await
                .map(ReadData::Words),
            Table::Input => call(timeout, ctx.read_input_registers(addr, n))
                .await
                .map(ReadData::Words),
        }?;
        let got = match &data {
            // Bits come padded to whole bytes.
            ReadData::Bits(b) if b.len() >= usize::from(n) => {
                return Ok(ReadData::Bits(b[..usize::from(n)].to_vec()));
            }
            ReadData::Bits(b) => b.len(),
            ReadData::Words(w) => w.len(),
        };
        if got != usize::from(n) {
            return Err(ModbusError::Framing(format!(
                "asked for {n} items, got {got}"
            )));
        }
        Ok(data)
    }

    pub async fn write(
        &mut self,
        req: &WriteRequest,
        timeout: Duration,
    ) -> Result<(), ModbusError> {
        self.ctx.set_slave(Slave(req.unit()));
        let ctx = &mut self.ctx;
        match req {
            WriteRequest::Coil { address, value, .. } => {
                call(timeout, ctx.write_single_coil(*address, *value)).await
            }
            WriteRequest::Register { address, value, .. } => {
                call(timeout, ctx.write_single_register(*address, *value)).await
            }
            WriteRequest::Registers {
                address, values, ..
            } => call(timeout, ctx.write_multiple_registers(*address, values)).await,
        }
    }

    /// Closes the connection politely; errors do not matter any more.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(100), self.ctx.disconnect()).await;
    }
}

async fn call<T>(
    timeout: Duration,
    fut: impl Future<Output = tokio_modbus::Result<T>>,
) -> Result<T, ModbusError> {
    match tokio::time::timeout(timeout, fut).await {
        Err(_) => Err(ModbusError::Timeout(timeout)),
        Ok(Err(tokio_modbus::Error::Transport(e))) => Err(ModbusError::Io(e)),
        Ok(Err(tokio_modbus::Error::Protocol(e))) => Err(ModbusError::Framing(e.to_string())),
        Ok(Ok(Err(code))) => Err(ModbusError::Exception {
            code: exception_code(code),
        }),
        Ok(Ok(Ok(v))) => Ok(v),
    }
}

fn exception_code(code: ExceptionCode) -> u8 {
    u8::from(code)
}
