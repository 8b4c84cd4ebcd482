//! The namespaces most tests start from, and the call most tests make.

use super::{env, Call, Install, Mac, Netns, Outcome, PacketSock, TestUser};

/// The ACL of most call tests: br0 managed, br1 plain.
pub const BR0_MANAGED_BR1_PLAIN: &str = "allow br0\nallow br1\nmanaged br0\n";

impl Netns {
    /// A namespace with `bridges`, up.
    pub fn with_bridges(bridges: &[&str]) -> Self {
        let ns = Self::new();
        for name in bridges {
            ns.add_bridge(name);
        }
        ns
    }

    /// br0 with a veth uplink: `vb0` in br0, its peer `vp0` outside it (the LAN).
    pub fn with_uplink() -> Self {
        let ns = Self::with_bridges(&["br0"]);
        ns.add_veth("br0", "vb0", "vp0");
        ns
    }

    /// `acl` as /etc/qemu/bridge.conf.
    pub fn with_acl(self, acl: &str) -> Self {
        self.write_acl("bridge.conf", acl);
        self
    }
}

/// [`Netns::with_uplink`] with `acl`, and an AF_PACKET socket on `vp0`: the LAN's side.
pub struct Lan {
    pub ns: Netns,
    pub wire: PacketSock,
    pub wire_mac: [u8; 6],
}

impl Lan {
    pub fn new(acl: &str) -> Self {
        let ns = Netns::with_uplink().with_acl(acl);
        let wire = PacketSock::open(&ns, "vp0");
        let wire_mac = Mac::parse(&ns.mac_of("vp0")).0;
        Self { ns, wire, wire_mac }
    }
}

/// The setuid copy run as `user` with `args`.
pub fn as_user(ns: &Netns, user: &TestUser, args: &[&str]) -> Outcome {
    Call::new(Install::Setuid, user, args).run(ns)
}

/// The setuid copy run as alice with `args`.
pub fn alice(ns: &Netns, args: &[&str]) -> Outcome {
    as_user(ns, &env().alice, args)
}
