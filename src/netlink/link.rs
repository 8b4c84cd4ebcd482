//! Links: the bridge lookup, enslaving the tap, and the managed port flags.

use std::fmt;
use std::io;

use netlink_packet_core::{NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoBridge, InfoBridgePort, InfoData, InfoKind, InfoPortData, LinkAttribute, LinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::build::{self, Link};
use super::{unexpected, Rtnl};
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::plan::{BridgeVlans, Filtering, Port};
use crate::vid::Vid;

pub struct Bridge {
    pub index: u32,
    pub mtu: u32,
    /// The bridge's current address, pinned on managed bridges (`pin_address`).
    pub address: Vec<u8>,
    pub vlans: BridgeVlans,
}

#[derive(Debug)]
pub enum LookupError {
    Io(io::Error),
    NotABridge,
    /// The name asked for is an alternative name; the ACL decides on interface names.
    AltName {
        name: String,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::text::Reason(e).fmt(f),
            Self::NotABridge => f.write_str("not a bridge"),
            Self::AltName { name } => write!(
                f,
                "it is an alternative name of {name}; the acl decides on interface names, use --br={name}"
            ),
        }
    }
}

/// Same as `ip -d link show dev BRIDGE`: one GET by name, never a dump. The kernel also
/// finds a link by an alternative name, which the ACL never saw: refused.
pub(crate) fn get_bridge(rtnl: &mut Rtnl, name: &IfName) -> Result<Bridge, LookupError> {
    let link = get_link(rtnl, Link::Name(name.as_str())).map_err(LookupError::Io)?;
    let (mut is_bridge, mut mtu, mut address, mut real) = (false, None, None, None);
    let mut vlans = bridge_vlans(&[]);
    for attribute in link.attributes {
        match attribute {
            LinkAttribute::LinkInfo(infos) => {
                is_bridge |= infos
                    .iter()
                    .any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge)));
                vlans = bridge_vlans(&infos);
            }
            LinkAttribute::Mtu(m) => mtu = Some(m),
            LinkAttribute::Address(a) => address = Some(a),
            LinkAttribute::IfName(n) => real = Some(n),
            _ => {}
        }
    }
    if let Some(real) = real.filter(|real| real != name.as_str()) {
        return Err(LookupError::AltName {
            name: crate::text::escape(&real).into_owned(),
        });
    }
    match (is_bridge, mtu, address) {
        (true, Some(mtu), Some(address)) => Ok(Bridge {
            index: link.header.index,
            mtu,
            address,
            vlans,
        }),
        (true, _, _) => Err(LookupError::Io(unexpected("RTM_GETLINK (no MTU or address)"))),
        (false, _, _) => Err(LookupError::NotABridge),
    }
}

/// `vlan_filtering` and `vlan_default_pvid` (`ip -d link show` says both). A kernel built
/// without bridge VLAN filtering reports `vlan_filtering 0` and no default PVID at all.
fn bridge_vlans(infos: &[LinkInfo]) -> BridgeVlans {
    let data = infos.iter().find_map(|i| match i {
        LinkInfo::Data(InfoData::Bridge(data)) => Some(data),
        _ => None,
    });
    let (mut on, mut pvid) = (false, None);
    for info in data.into_iter().flatten() {
        match info {
            InfoBridge::VlanFiltering(value) => on = *value,
            InfoBridge::VlanDefaultPvid(value) => pvid = Some(*value),
            _ => {}
        }
    }
    let filtering = match (pvid, on) {
        (None, _) => Filtering::Unsupported,
        (Some(_), true) => Filtering::On,
        (Some(_), false) => Filtering::Off,
    };
    BridgeVlans {
        filtering,
        default_pvid: pvid.and_then(|p| Vid::new(p).ok()),
    }
}

/// Sets the bridge's address to its current one. A bridge whose address was never set
/// takes the lowest port address, which a tap-fd holder can set (SIOCSIFHWADDR needs no
/// capability); once set, the kernel keeps it (NET_ADDR_SET).
pub(crate) fn pin_address(rtnl: &mut Rtnl, bridge: &Bridge) -> io::Result<()> {
    let message = build::ip_link_set_address(bridge.index, &bridge.address);
    rtnl.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK)
        .map(drop)
}

/// Adds an alternative name. Names and alternative names share one namespace per network
/// namespace, so a second add of NAME anywhere is EEXIST; only CAP_NET_ADMIN removes it,
/// and it goes with the link.
pub(crate) fn add_altname(rtnl: &mut Rtnl, index: u32, name: &str) -> io::Result<()> {
    let message = build::ip_link_property_add_altname(index, name);
    let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL | NLM_F_APPEND;
    rtnl.request(RouteNetlinkMessage::NewLinkProp(message), flags)
        .map(drop)
}

/// The name of the link that has `altname`, for a message.
pub(crate) fn holder_of(rtnl: &mut Rtnl, altname: &str) -> io::Result<String> {
    name_in(get_link(rtnl, Link::AltName(altname))?)
}

/// Gives the tap the bridge's MTU, so that adding it never lowers the bridge's, and
/// enslaves it; `up` for a plain port, which needs nothing more.
pub(crate) fn enslave(
    rtnl: &mut Rtnl,
    tap: u32,
    bridge: &Bridge,
    address: MacAddr,
    up: bool,
) -> io::Result<()> {
    let message = build::ip_link_set_master(tap, bridge.index, bridge.mtu, address, up);
    rtnl.request(RouteNetlinkMessage::SetLink(message), NLM_F_ACK)
        .map(drop)
}

/// Sets the port's flags and brings it up (or keeps it down), in a request of its own: sent
/// together with the master change, the kernel answers EOPNOTSUPP (the port ops are looked
/// up before the tap has a master). Kernels before 5.18 ignore `locked` silently, so it is
/// read back.
pub(crate) fn set_port(rtnl: &mut Rtnl, tap: u32, port: Port, up: bool) -> io::Result<()> {
    rtnl.request(
        RouteNetlinkMessage::NewLink(build::bridge_link_set(tap, port, up)),
        NLM_F_ACK,
    )?;
    if port.locked && !port_locked(&get_link(rtnl, Link::Index(tap))?) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this kernel has no locked bridge ports (Linux 5.18 or later needed)",
        ));
    }
    Ok(())
}

/// The name of the bridge with index `index` (a tap's master), which must be one.
pub(crate) fn bridge_name(rtnl: &mut Rtnl, index: u32) -> Result<IfName, LookupError> {
    let link = get_link(rtnl, Link::Index(index)).map_err(LookupError::Io)?;
    let is_bridge = link.attributes.iter().any(|a| {
        matches!(a, LinkAttribute::LinkInfo(infos)
            if infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Bridge))))
    });
    if !is_bridge {
        return Err(LookupError::NotABridge);
    }
    // Unescaped: the ACL decides on the name as the kernel has it, and one that is no
    // `IfName` (control characters, say) can match no ACL line.
    let name = link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => IfName::new(name).ok(),
        _ => None,
    });
    name.ok_or_else(|| LookupError::Io(unexpected("RTM_GETLINK (no name, or not an interface name)")))
}

/// The tap's index. Asked over rtnetlink rather than with if_nametoindex(), which opens
/// a socket of its own: one more fd (an AF_INET one when AF_UNIX fails, say under a low
/// RLIMIT_NOFILE) that the seccomp filter would have to allow.
pub(crate) fn index_of(rtnl: &mut Rtnl, name: &IfName) -> io::Result<u32> {
    get_link(rtnl, Link::Name(name.as_str())).map(|link| link.header.index)
}

/// A port's name, for a message; over rtnetlink for the same reason as `index_of`. The
/// kernel allows control characters in names, so they are escaped.
pub(crate) fn name_of(rtnl: &mut Rtnl, index: u32) -> io::Result<String> {
    name_in(get_link(rtnl, Link::Index(index))?)
}

fn name_in(link: LinkMessage) -> io::Result<String> {
    let name = link
        .attributes
        .into_iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name),
            _ => None,
        })
        .ok_or_else(|| unexpected("RTM_GETLINK (no name)"))?;
    Ok(crate::text::escape(&name).into_owned())
}

pub(super) fn get_link(rtnl: &mut Rtnl, link: Link<'_>) -> io::Result<LinkMessage> {
    match rtnl.request(RouteNetlinkMessage::GetLink(build::ip_link_show(link)), 0)? {
        Some(RouteNetlinkMessage::NewLink(link)) => Ok(link),
        _ => Err(unexpected("RTM_GETLINK")),
    }
}

/// Whether the port is a VXLAN device (`ip -d link show dev PORT` says `vxlan`): a static
/// entry there is a remote host's (EVPN's zebra installs sticky ones as `static sticky`,
/// with no `extern_learn`). A failed lookup counts as not VXLAN: refused all the same.
pub(crate) fn is_vxlan(rtnl: &mut Rtnl, port: u32) -> bool {
    get_link(rtnl, Link::Index(port)).is_ok_and(|link| {
        link.attributes.iter().any(|a| match a {
            LinkAttribute::LinkInfo(infos) => {
                infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Vxlan)))
            }
            _ => false,
        })
    })
}

/// Kernels before 5.18 ignore IFLA_BRPORT_LOCKED without an error, so the port is read
/// back: only a port that reports `locked on` is locked.
fn port_locked(link: &LinkMessage) -> bool {
    link.attributes.iter().any(|a| match a {
        LinkAttribute::LinkInfo(infos) => infos.iter().any(|i| match i {
            LinkInfo::PortData(InfoPortData::BridgePort(port)) => {
                port.contains(&InfoBridgePort::Locked(true))
            }
            _ => false,
        }),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use netlink_packet_route::link::InfoPortKind;

    use super::*;

    #[test]
    fn locked_only_when_the_kernel_says_so() {
        let port = |attrs| {
            let mut link = LinkMessage::default();
            link.attributes = vec![LinkAttribute::LinkInfo(vec![
                LinkInfo::PortKind(InfoPortKind::Bridge),
                LinkInfo::PortData(InfoPortData::BridgePort(attrs)),
            ])];
            link
        };
        assert!(port_locked(&port(vec![
            InfoBridgePort::Learning(false),
            InfoBridgePort::Locked(true)
        ])));
        assert!(!port_locked(&port(vec![InfoBridgePort::Locked(false)])));
        assert!(
            !port_locked(&port(vec![InfoBridgePort::Learning(false)])),
            "pre-5.18 kernel"
        );
        assert!(!port_locked(&LinkMessage::default()));
    }

    #[test]
    fn bridge_vlans_as_reported() {
        use InfoBridge::{HelloTime, VlanDefaultPvid as Pvid, VlanFiltering};
        let data = |attrs| {
            vec![
                LinkInfo::Kind(InfoKind::Bridge),
                LinkInfo::Data(InfoData::Bridge(attrs)),
            ]
        };
        let vid = |v| Vid::new(v).ok();
        let cases = [
            (data(vec![VlanFiltering(true), Pvid(1)]), Filtering::On, vid(1)),
            (data(vec![Pvid(7), VlanFiltering(true)]), Filtering::On, vid(7)),
            (data(vec![VlanFiltering(false), Pvid(1)]), Filtering::Off, vid(1)),
            // An admin's `vlan_default_pvid 0`: new ports get no VLAN.
            (data(vec![VlanFiltering(true), Pvid(0)]), Filtering::On, None),
            // Built without bridge VLAN filtering (this is what 6.18 here reports).
            (data(vec![VlanFiltering(false)]), Filtering::Unsupported, None),
            (data(vec![HelloTime(200)]), Filtering::Unsupported, None),
            (
                vec![LinkInfo::Kind(InfoKind::Bridge)],
                Filtering::Unsupported,
                None,
            ),
        ];
        for (infos, filtering, default_pvid) in cases {
            let want = BridgeVlans {
                filtering,
                default_pvid,
            };
            assert_eq!(bridge_vlans(&infos), want, "{infos:?}");
        }
    }
}
