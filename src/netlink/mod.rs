//! rtnetlink: netlink-packet-route messages on a plain, blocking
//! netlink-sys socket, one request and one answer at a time.

mod build;
mod fdb;
mod link;
mod tap;

use std::io;

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub(crate) use fdb::{claim, ClaimError};
pub(crate) use link::{
    add_altname, bridge_name, enslave, get_bridge, index_of, pin_address, set_port, LookupError,
};
pub(crate) use tap::inspect_tap;

/// Large enough for any single link or neighbour message.
const RECV_BUF: usize = 32 * 1024;

pub(crate) struct Rtnl {
    socket: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl Rtnl {
    /// CLOEXEC (netlink-sys's default) and connected to the kernel, so only the kernel's
    /// answers reach us.
    pub(crate) fn open() -> io::Result<Self> {
        let socket = Socket::new(NETLINK_ROUTE)?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Self {
            socket,
            seq: 0,
            // Untouched capacity: the kernel writes only the pages an answer needs.
            buf: Vec::with_capacity(RECV_BUF),
        })
    }

    /// Sends one request and waits for its answer: `Some(reply)` to a GET, `None` for the
    /// acknowledgement of a change (callers pass NLM_F_ACK), the kernel's errno otherwise.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Option<RouteNetlinkMessage>> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;
        loop {
            self.buf.clear();
            self.socket.recv(&mut self.buf, 0)?;
            let mut rest = &self.buf[..];
            while !rest.is_empty() {
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest).map_err(invalid)?;
                let size = (message.header.length as usize + 3) & !3;
                rest = rest.get(size.max(4)..).unwrap_or_default();
                if message.header.sequence_number != self.seq {
                    continue;
                }
                match message.payload {
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::Error(_) => return Ok(None),
                    NetlinkPayload::InnerMessage(reply) => return Ok(Some(reply)),
                    _ => {}
                }
            }
        }
    }
}

fn invalid(e: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("bad netlink answer: {e}"))
}

fn unexpected(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected netlink answer to {what}"),
    )
}
