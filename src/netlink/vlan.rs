//! A port's VLANs: the guest's port put in its VLAN alone, and read back, since nothing
//! else would tell if the kernel kept the port in another one.

use std::fmt;
use std::io;

use netlink_packet_core::{NlasIterator, NLA_TYPE_MASK, NLM_F_ACK};
use netlink_packet_route::RouteNetlinkMessage;

use super::{build, Rtnl};
use crate::vid::Vid;

/// <linux/if_bridge.h>: the attributes of an RTM_NEWVLAN answer.
const BRIDGE_VLANDB_ENTRY: u16 = 1;
const BRIDGE_VLANDB_ENTRY_INFO: u16 = 1;
const BRIDGE_VLANDB_ENTRY_RANGE: u16 = 2;
const BRIDGE_VLAN_INFO_PVID: u16 = 1 << 1;
const BRIDGE_VLAN_INFO_UNTAGGED: u16 = 1 << 2;
/// struct br_vlan_msg, before the attributes.
const BR_VLAN_MSG_LEN: usize = 8;

#[derive(Debug)]
pub(crate) enum VlanError {
    Add(io::Error),
    /// Leaving the bridge's default VLAN, which every new port gets.
    LeaveDefault(Vid, io::Error),
    Read(io::Error),
    /// What the kernel reports instead of the one VLAN, PVID and untagged.
    Mismatch(Vec<PortVlan>),
}

impl fmt::Display for VlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Add(e) => crate::text::Reason(e).fmt(f),
            Self::LeaveDefault(vid, e) => {
                write!(
                    f,
                    "leaving the bridge's default vlan {vid}: {}",
                    crate::text::Reason(e)
                )
            }
            Self::Read(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => f.write_str(
                "reading its vlans back: this kernel cannot list a port's vlans (Linux 5.8 or later needed)",
            ),
            Self::Read(e) => write!(f, "reading its vlans back: {}", crate::text::Reason(e)),
            Self::Mismatch(vlans) if vlans.is_empty() => f.write_str("the kernel reports it in no vlan"),
            Self::Mismatch(vlans) => {
                let shown: Vec<String> = vlans.iter().map(ToString::to_string).collect();
                write!(f, "the kernel reports it in vlans {}", shown.join(", "))
            }
        }
    }
}

/// One VLAN, or a range of VLANs with the same flags, as the kernel reports a port's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PortVlan {
    pub first: u16,
    pub last: u16,
    pub pvid: bool,
    pub untagged: bool,
}

impl fmt::Display for PortVlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.first)?;
        if self.last != self.first {
            write!(f, "-{}", self.last)?;
        }
        if self.pvid {
            f.write_str(" pvid")?;
        }
        if self.untagged {
            f.write_str(" untagged")?;
        }
        Ok(())
    }
}

/// Puts `tap` in VLAN `vid` as its PVID, untagged, takes it out of the bridge's default
/// VLAN `leave`, and checks that the kernel reports exactly that: the port in `vid` alone.
pub(crate) fn join(rtnl: &mut Rtnl, tap: u32, vid: Vid, leave: Option<Vid>) -> Result<(), VlanError> {
    let add = RouteNetlinkMessage::SetLink(build::bridge_vlan_add(tap, vid));
    rtnl.request(add, NLM_F_ACK).map_err(VlanError::Add)?;
    if let Some(default) = leave {
        let del = RouteNetlinkMessage::DelLink(build::bridge_vlan_del(tap, default));
        rtnl.request(del, NLM_F_ACK)
            .map_err(|e| VlanError::LeaveDefault(default, e))?;
    }
    let vlans = port_vlans(rtnl, tap).map_err(VlanError::Read)?;
    let alone = PortVlan {
        first: vid.get(),
        last: vid.get(),
        pvid: true,
        untagged: true,
    };
    match vlans[..] {
        [only] if only == alone => Ok(()),
        _ => Err(VlanError::Mismatch(vlans)),
    }
}

/// The port's PVID, as the kernel reports it: the VLAN an entry for its guest belongs in
/// (for `--claim` on a pending port, which step one put in its VLAN).
pub(crate) fn pvid_of(rtnl: &mut Rtnl, tap: u32) -> Result<Option<Vid>, VlanError> {
    let vlans = port_vlans(rtnl, tap).map_err(VlanError::Read)?;
    Ok(vlans.iter().find(|v| v.pvid).and_then(|v| Vid::new(v.first).ok()))
}

/// `bridge vlan show dev TAP`: the port's VLANs as the kernel reports them.
fn port_vlans(rtnl: &mut Rtnl, tap: u32) -> io::Result<Vec<PortVlan>> {
    let answers = rtnl.dump_raw(
        build::RTM_GETVLAN,
        &build::bridge_vlan_show(tap),
        build::RTM_NEWVLAN,
    )?;
    let mut vlans = Vec::new();
    for answer in &answers {
        vlans.extend(parse(answer, tap)?);
    }
    Ok(vlans)
}

/// The VLANs in one RTM_NEWVLAN answer's body if it is about `port` (a dump may hold
/// answers about other links only if the kernel ignored the filter: they are skipped).
fn parse(body: &[u8], port: u32) -> io::Result<Vec<PortVlan>> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad RTM_NEWVLAN answer");
    let header = body.get(..BR_VLAN_MSG_LEN).ok_or_else(bad)?;
    if u32::from_ne_bytes([header[4], header[5], header[6], header[7]]) != port {
        return Ok(Vec::new());
    }
    let mut vlans = Vec::new();
    for entry in NlasIterator::new(&body[BR_VLAN_MSG_LEN..]) {
        let entry = entry.map_err(|_| bad())?;
        if entry.kind() & NLA_TYPE_MASK != BRIDGE_VLANDB_ENTRY {
            continue;
        }
        let (mut info, mut range) = (None, None);
        for nla in NlasIterator::new(entry.value()) {
            let nla = nla.map_err(|_| bad())?;
            let value = nla.value();
            match (nla.kind() & NLA_TYPE_MASK, value.len()) {
                (BRIDGE_VLANDB_ENTRY_INFO, 4..) => {
                    let flags = u16::from_ne_bytes([value[0], value[1]]);
                    info = Some((flags, u16::from_ne_bytes([value[2], value[3]])));
                }
                (BRIDGE_VLANDB_ENTRY_RANGE, 2..) => range = Some(u16::from_ne_bytes([value[0], value[1]])),
                _ => {}
            }
        }
        let (flags, first) = info.ok_or_else(bad)?;
        vlans.push(PortVlan {
            first,
            last: range.unwrap_or(first),
            pvid: flags & BRIDGE_VLAN_INFO_PVID != 0,
            untagged: flags & BRIDGE_VLAN_INFO_UNTAGGED != 0,
        });
    }
    Ok(vlans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().next_multiple_of(4), 0);
        out
    }

    /// An RTM_NEWVLAN body for `port` with entries (flags, vid, range end).
    fn body(port: u32, entries: &[(u16, u16, Option<u16>)]) -> Vec<u8> {
        let mut out = vec![7, 0, 0, 0];
        out.extend_from_slice(&port.to_ne_bytes());
        for (flags, vid, range) in entries {
            let mut inner = [flags.to_ne_bytes(), vid.to_ne_bytes()].concat();
            inner = nla(BRIDGE_VLANDB_ENTRY_INFO, &inner);
            if let Some(end) = range {
                inner.extend(nla(BRIDGE_VLANDB_ENTRY_RANGE, &end.to_ne_bytes()));
            }
            // A state attribute (3), as the kernel adds: skipped.
            inner.extend(nla(3, &[3]));
            out.extend(nla(BRIDGE_VLANDB_ENTRY | 0x8000, &inner));
        }
        out
    }

    #[test]
    fn answers() {
        let v = |first, last, pvid, untagged| PortVlan {
            first,
            last,
            pvid,
            untagged,
        };
        let cases: Vec<(Vec<u8>, Vec<PortVlan>)> = vec![
            (body(9, &[(6, 101, None)]), vec![v(101, 101, true, true)]),
            (
                body(9, &[(6, 1, None), (0, 101, Some(110))]),
                vec![v(1, 1, true, true), v(101, 110, false, false)],
            ),
            (body(9, &[(4, 5, None)]), vec![v(5, 5, false, true)]),
            (body(9, &[]), vec![]),
            // Another link's answer says nothing about this port.
            (body(8, &[(6, 1, None)]), vec![]),
        ];
        for (bytes, want) in cases {
            assert_eq!(parse(&bytes, 9).unwrap(), want);
        }
        assert!(parse(&[7, 0, 0], 9).is_err());
        let no_info = [body(9, &[]), nla(BRIDGE_VLANDB_ENTRY, &nla(3, &[3]))].concat();
        assert!(parse(&no_info, 9).is_err());
    }

    #[test]
    fn messages() {
        let vlans = vec![
            PortVlan {
                first: 1,
                last: 1,
                pvid: true,
                untagged: true,
            },
            PortVlan {
                first: 101,
                last: 102,
                pvid: false,
                untagged: false,
            },
        ];
        assert_eq!(
            VlanError::Mismatch(vlans).to_string(),
            "the kernel reports it in vlans 1 pvid untagged, 101-102"
        );
        assert_eq!(
            VlanError::Mismatch(Vec::new()).to_string(),
            "the kernel reports it in no vlan"
        );
        let unsupported = io::Error::from_raw_os_error(libc::EOPNOTSUPP);
        assert!(VlanError::Read(unsupported).to_string().contains("Linux 5.8"));
    }
}
