//! rtnetlink: netlink-packet-route messages on a plain, blocking
//! netlink-sys socket, one request and one answer at a time.

mod build;
mod fdb;
mod link;
mod tap;
mod vlan;

use std::io;

use netlink_packet_core::{
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLMSG_DONE, NLMSG_ERROR, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

pub(crate) use fdb::{claim, foresee, ClaimError};
pub(crate) use link::{
    add_altname, bridge_name, enslave, get_bridge, index_of, pin_address, set_port, LookupError,
};
pub(crate) use tap::{inspect_tap, ports_of};
pub(crate) use vlan::{join as join_vlan, pvid_of, VlanError};

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
        self.send(message, flags)?;
        self.receive(|payload| match payload {
            NetlinkPayload::Error(e) if e.code.is_some() => Some(Err(e.to_io())),
            NetlinkPayload::Error(_) => Some(Ok(None)),
            NetlinkPayload::InnerMessage(reply) => Some(Ok(Some(reply))),
            _ => None,
        })
    }

    /// Sends `message` as a dump request and returns every answer, until NLMSG_DONE. Only
    /// `--explain` dumps (the ports of one bridge); a call never does.
    fn dump(&mut self, message: RouteNetlinkMessage) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.send(message, NLM_F_DUMP)?;
        let mut answers = Vec::new();
        self.receive(|payload| match payload {
            NetlinkPayload::Error(e) if e.code.is_some() => Some(Err(e.to_io())),
            NetlinkPayload::Error(_) | NetlinkPayload::Done(_) => Some(Ok(())),
            NetlinkPayload::InnerMessage(answer) => {
                answers.push(answer);
                None
            }
            _ => None,
        })?;
        Ok(answers)
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> io::Result<()> {
        self.seq += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut bytes = vec![0; packet.buffer_len()];
        packet.serialize(&mut bytes);
        self.socket.send(&bytes, 0).map(drop)
    }

    /// Hands each answer to the last request to `each` until it returns the outcome;
    /// answers to earlier requests (a sequence number of the past) are skipped.
    fn receive<T>(
        &mut self,
        mut each: impl FnMut(NetlinkPayload<RouteNetlinkMessage>) -> Option<io::Result<T>>,
    ) -> io::Result<T> {
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
                if let Some(outcome) = each(message.payload) {
                    return outcome;
                }
            }
        }
    }

    /// Sends a dump request of a type netlink-packet-route does not know (`kind`, with
    /// `body` after the netlink header) and returns the bodies of the answers of type
    /// `answer`, until NLMSG_DONE. Callers ask only for dumps the kernel bounds (one port's).
    fn dump_raw(&mut self, kind: u16, body: &[u8], answer: u16) -> io::Result<Vec<Vec<u8>>> {
        self.seq += 1;
        let mut bytes = vec![0; 16 + body.len()];
        let mut packet = NetlinkBuffer::new(&mut bytes);
        packet.set_length(16 + body.len() as u32);
        packet.set_message_type(kind);
        packet.set_flags(NLM_F_REQUEST | NLM_F_DUMP);
        packet.set_sequence_number(self.seq);
        packet.payload_mut().copy_from_slice(body);
        self.socket.send(&bytes, 0)?;
        let mut answers = Vec::new();
        loop {
            self.buf.clear();
            self.socket.recv(&mut self.buf, 0)?;
            let mut rest = &self.buf[..];
            while !rest.is_empty() {
                let message = NetlinkBuffer::new_checked(rest).map_err(invalid)?;
                let size = (message.length() as usize + 3) & !3;
                let (kind, seq, payload) = (
                    message.message_type(),
                    message.sequence_number(),
                    message.payload(),
                );
                rest = rest.get(size.max(16)..).unwrap_or_default();
                if seq != self.seq {
                    continue;
                }
                // NLMSG_ERROR and NLMSG_DONE carry an int, the negative errno or 0.
                let code = payload
                    .get(..4)
                    .map(|c| i32::from_ne_bytes([c[0], c[1], c[2], c[3]]));
                match (kind, code) {
                    (NLMSG_ERROR | NLMSG_DONE, Some(c)) if c < 0 => {
                        return Err(io::Error::from_raw_os_error(-c))
                    }
                    (NLMSG_ERROR | NLMSG_DONE, _) => return Ok(answers),
                    _ if kind == answer => answers.push(payload.to_vec()),
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
