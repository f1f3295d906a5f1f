//! One open link to a bus, TCP or RTU, behind one interface for the bus owner.

use std::time::Duration;

use super::frame::{ModbusError, ReadData, ReadRequest, WriteRequest};
use super::rtu::{LineOptions, RtuLink};
use super::tcp::TcpLink;
use crate::config::{BusConfig, LinkConfig};

pub enum Link {
    Tcp(TcpLink),
    Rtu(RtuLink),
}

impl Link {
    /// Opens the bus's connection or serial port.
    pub async fn open(bus: &BusConfig) -> Result<Link, ModbusError> {
        match &bus.link {
            LinkConfig::Tcp { host, port, .. } => Ok(Link::Tcp(
                TcpLink::connect(host, *port, bus.request_timeout).await?,
            )),
            LinkConfig::Rtu(settings) => {
                let options = LineOptions {
                    inter_request_delay: bus.inter_request_delay,
                    ..LineOptions::default()
                };
                Ok(Link::Rtu(RtuLink::open(settings, options)?))
            }
        }
    }

    pub async fn read(
        &mut self,
        req: &ReadRequest,
        timeout: Duration,
    ) -> Result<ReadData, ModbusError> {
        match self {
            Link::Tcp(l) => l.read(req, timeout).await,
            Link::Rtu(l) => l.read(req, timeout).await,
        }
    }

    pub async fn write(
        &mut self,
        req: &WriteRequest,
        timeout: Duration,
    ) -> Result<(), ModbusError> {
        match self {
            Link::Tcp(l) => l.write(req, timeout).await,
            Link::Rtu(l) => l.write(req, timeout).await,
        }
    }

    /// Whether the link must be reopened after this error. A TCP stream is out of step after a
    /// timeout or a malformed answer; an RTU link resynchronises itself on the line's silence,
    /// and only an I/O error (adapter unplugged) needs the port reopened.
    pub fn must_reopen_after(&self, err: &ModbusError) -> bool {
        match self {
            Link::Tcp(_) => matches!(
                err,
                ModbusError::Timeout(_) | ModbusError::Framing(_) | ModbusError::Io(_)
            ),
            Link::Rtu(_) => matches!(err, ModbusError::Io(_)),
        }
    }

    pub async fn close(self) {
        if let Link::Tcp(l) = self {
            l.close().await;
        }
    }
}
