//! Links and their readiness, through a shell in some network namespace: a test's
//! [`super::Netns`] (`ip netns exec`) or [`Here`], the namespace this process is in (the
//! bench's inner process). One set of rules for both.

use std::process::Command;

use super::wait_for;

/// Runs a shell script as root in a namespace; panics on failure, returns stdout.
pub type Sh<'a> = &'a dyn Fn(&str) -> String;

/// `ip link add NAME type bridge`, up.
pub fn add_bridge(sh: Sh, name: &str) {
    sh(&format!(
        "ip link add {name} type bridge && ip link set {name} up"
    ));
}

/// A veth pair: `port` enslaved to `bridge`, `peer` outside it, both up and ready.
pub fn add_veth(sh: Sh, bridge: &str, port: &str, peer: &str) {
    sh(&format!(
        "ip link add {port} type veth peer name {peer} && ip link set {port} master {bridge} && \
         ip link set {port} up && ip link set {peer} up"
    ));
    wait_ready(sh, port);
    wait_ready(sh, peer);
}

/// Waits until `link` can carry frames: the kernel brings a link's carrier and queue up
/// asynchronously (linkwatch, up to a second later), and until then frames sent out of it
/// are dropped (`qdisc noop`) and a bridge port does not forward or learn. The qdisc is
/// what decides; sysfs's `operstate` is set by linkwatch just before the qdisc, so it may
/// say `up` a moment too early.
pub fn wait_ready(sh: Sh, link: &str) {
    let ready = || {
        let show = sh(&format!("ip -o link show dev {link}"));
        let up = show.contains("LOWER_UP") && !show.contains("qdisc noop");
        up && (!show.contains(" master ")
            || sh(&format!("bridge link show dev {link}")).contains("state forwarding"))
    };
    assert!(
        wait_for(5.0, ready),
        "{link} not ready: {}",
        sh(&format!("ip -d link show dev {link}"))
    );
}

/// Names of the tun/tap devices, whatever they are called.
pub fn taps(sh: Sh) -> Vec<String> {
    sh("ip -o link show type tun")
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_owned())
        .collect()
}

/// The link's address as the kernel prints it.
pub fn mac_of(sh: Sh, link: &str) -> String {
    sh(&format!("cat /sys/class/net/{link}/address"))
        .trim()
        .to_owned()
}

/// The network namespace this process is in.
#[derive(Debug, Clone, Copy)]
pub struct Here;

impl Here {
    pub fn sh(script: &str) -> String {
        let out = Command::new("sh").args(["-c", script]).output().expect("run sh");
        assert!(
            out.status.success(),
            "{script}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn add_bridge(name: &str) {
        add_bridge(&Self::sh, name)
    }

    pub fn add_veth(bridge: &str, port: &str, peer: &str) {
        add_veth(&Self::sh, bridge, port, peer)
    }

    pub fn wait_ready(link: &str) {
        wait_ready(&Self::sh, link)
    }

    pub fn taps() -> Vec<String> {
        taps(&Self::sh)
    }

    pub fn mac_of(link: &str) -> String {
        mac_of(&Self::sh, link)
    }

    pub fn del_link(name: &str) {
        Self::sh(&format!("ip link del {name}"));
    }
}
