//! A bridge is one device whatever it is called: an alternative name (`ip link property
//! add … altname`) reaches the same bridge, so it must not get around a `deny`, a
//! `managed` or a `locked` line written for the bridge's name. And a managed bridge's own
//! address is pinned, so that neither the helper's taps nor a tap-fd holder changing its
//! tap's address can change it.

use crate::common;

use common::fdb::set_tap_mac;
use common::{alice, env, Call, Install, Mac, Netns, Outcome};

/// br0, with the alternative name br0alt, and the ACL `acl`.
fn setup(acl: &str) -> Netns {
    let ns = Netns::with_bridges(&["br0"]);
    ns.ip("link property add dev br0 altname br0alt");
    assert_eq!(ns.altnames("br0"), vec!["br0alt"]);
    ns.with_acl(acl)
}

/// Refused for naming the bridge by an alternative name; if a tap was made instead, the
/// panic says what kind of port it is.
fn refused_as_alternative(ns: &Netns, out: Outcome) {
    if let Some(fd) = &out.fd {
        let tap = common::TapFd::new(fd.try_clone().unwrap(), false).name();
        let port = ns.bridge(&format!("-d link show dev {tap}"));
        panic!(
            "--br=br0alt granted (code {:?}, stderr {:?}), port {}",
            out.code,
            out.stderr,
            port.trim()
        );
    }
    out.failure(ns, &["alternative name"]);
}

/// Point 4: `deny br0` denies the bridge, not a spelling of it.
#[test]
fn a_denied_bridge_cannot_be_reached_by_its_alternative_name() {
    let ns = setup("allow all\ndeny br0\n");
    let out = alice(&ns, &["--use-vnet", "--br=br0alt", "--fd={fd}"]);
    refused_as_alternative(&ns, out);
    alice(&ns, &["--br=br0", "--fd={fd}"]).failure(&ns, &["access denied by acl file"]);
}

/// Point 4: `locked br0` is not a plain, learning, flooding, unlocked port on the same
/// bridge under another name.
#[test]
fn a_locked_bridge_cannot_be_joined_by_its_alternative_name() {
    let ns = setup("allow br0\nallow br0alt\nlocked br0\nmanaged br0\n");
    let mac = Mac::random().to_string();
    let arg = format!("--mac={mac}");
    let out = alice(&ns, &["--use-vnet", "--br=br0alt", "--fd={fd}", &arg]);
    refused_as_alternative(&ns, out);
    let out = alice(&ns, &["--use-vnet", "--br=br0alt", "--fd={fd}"]);
    refused_as_alternative(&ns, out);

    // The bridge's own name still works, with the port the ACL asks for.
    let tap = alice(&ns, &["--use-vnet", "--br=br0", "--fd={fd}", &arg]).success(true);
    let port = ns.bridge(&format!("-d link show dev {}", tap.name()));
    for want in ["locked on", "learning off", "flood off"] {
        assert!(port.contains(want), "{want}: {port}");
    }
    drop(tap);
    assert!(common::wait_for(3.0, || ns.taps().is_empty()), "taps left");
}

/// `NET_ADDR_SET` in <linux/netdevice.h>: the address was set by user space, and the
/// bridge then keeps it whatever its ports' addresses are.
const NET_ADDR_SET: &str = "3";

/// Point 5: a bridge whose address was never set takes its lowest port address. On a
/// managed bridge the helper pins the address the bridge has, so that neither its tap's
/// `fe:` address nor one the guest's QEMU sets (SIOCSIFHWADDR on the tap fd, lower than
/// any other) becomes the bridge's.
#[test]
fn a_managed_call_pins_the_bridges_own_address() {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.write_acl("bridge.conf", "allow br0\nmanaged br0\n");
    let (kind, address) = (ns.sysfs("br0", "addr_assign_type"), ns.sysfs("br0", "address"));
    assert_ne!(kind, NET_ADDR_SET, "the bridge's address must start unset");

    let mac = Mac::random().to_string();
    let tap = Call::new(
        Install::Setuid,
        &env().alice,
        &common::strs(&common::managed_args(&mac)),
    )
    .run(&ns)
    .success(true);
    let after_call = (ns.sysfs("br0", "addr_assign_type"), ns.sysfs("br0", "address"));
    let tap_mac = ns.mac_of(&tap.name());
    set_tap_mac(&tap, [0, 0, 0, 0, 0, 1]).expect("SIOCSIFHWADDR");
    assert_eq!(ns.mac_of(&tap.name()), "00:00:00:00:00:01");
    let after_set = ns.sysfs("br0", "address");
    let seen = format!(
        "before: type {kind}, address {address}; after the call: type {}, address {} (tap {} \
         has {}); after the tap's address became 00:00:00:00:00:01: {after_set}",
        after_call.0,
        after_call.1,
        tap.name(),
        tap_mac
    );
    assert_eq!(
        (after_call.0.as_str(), after_call.1.as_str()),
        (NET_ADDR_SET, address.as_str()),
        "{seen}"
    );
    assert_eq!(after_set, address, "{seen}");
    drop(tap);
    assert!(common::wait_for(3.0, || ns.taps().is_empty()), "taps left");
}
