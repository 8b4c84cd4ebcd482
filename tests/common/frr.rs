//! Two hosts joined by BGP EVPN over VXLAN: two [`Netns`] (each with its own /etc/qemu)
//! joined by a veth underlay, a loopback VTEP each, `br0` with a VXLAN port and a plain
//! veth port, and FRR's zebra and bgpd started by hand in each, never the system service.

use std::fs::{self, File};
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::{Pid, User};

use super::{managed_args, strs, wait_for, Call, Install, Netns, Outcome, TapFd, TestUser};

pub const VXLAN: &str = "vxlan100";
const FRR: &str = "/usr/lib/frr";
/// One empty file `<test pid>.<daemon>.<daemon pid>` per running daemon, so that a later
/// run can stop those of a test process that died without its Drop (SIGINT, SIGKILL).
const RECORDS: &str = "/run/fbh-frr";

/// `zebra.conf`: nothing to configure; zebra reads the bridge and VXLAN ports itself.
pub fn zebra_conf(host: &str) -> String {
    format!("hostname {host}\n")
}

/// `bgpd.conf`: iBGP over the underlay, EVPN only, every VNI zebra finds advertised.
pub fn bgpd_conf(router_id: &str, peer: &str) -> String {
    format!(
        "router bgp 65000\n bgp router-id {router_id}\n no bgp default ipv4-unicast\n \
         neighbor {peer} remote-as 65000\n address-family l2vpn evpn\n  neighbor {peer} activate\n  \
         advertise-all-vni\n exit-address-family\n"
    )
}

/// One host: namespace, addresses, FRR's directory and running daemons.
pub struct Host {
    pub ns: Netns,
    pub name: &'static str,
    pub vtep: String,
    pub peer_vtep: String,
    /// FRR's state directory (owned by frr): configs, sockets, pid files, logs.
    pub dir: PathBuf,
    daemons: Mutex<Vec<(&'static str, Child)>>,
}

/// Hosts A (VTEP 10.255.0.1) and B (10.255.0.2).
pub struct Pair {
    pub a: Host,
    pub b: Host,
    /// From starting the daemons to the session carrying VNI 100 (zero without FRR).
    pub frr_up: Duration,
}

impl Pair {
    /// Both hosts with their bridges; FRR started and the EVPN session up if `frr`.
    pub fn new(frr: bool) -> Self {
        assert!(
            Path::new(FRR).join("zebra").exists() && User::from_name("frr").unwrap().is_some(),
            "the EVPN tests need FRR (zebra, bgpd, user frr): run packaging/deps.sh"
        );
        static REAPED: std::sync::Once = std::sync::Once::new();
        REAPED.call_once(reap_stale);
        let (a, b) = (Host::new("A", 1), Host::new("B", 2));
        a.ns.sh(&format!(
            "ip link add ul0 type veth peer name ul0 netns {} && ip link set ul0 up && \
             ip addr add 10.0.0.1/30 dev ul0 && ip route add 10.255.0.2/32 via 10.0.0.2",
            b.ns.name
        ));
        b.ns.sh("ip link set ul0 up && ip addr add 10.0.0.2/30 dev ul0 && \
                 ip route add 10.255.0.1/32 via 10.0.0.1");
        let mut pair = Self {
            a,
            b,
            frr_up: Duration::ZERO,
        };
        if frr {
            pair.frr_up = pair.start_frr();
        }
        pair
    }

    /// Starts FRR on both hosts and waits for the session; returns how long that took.
    pub fn start_frr(&self) -> Duration {
        let start = Instant::now();
        self.a.start_frr();
        self.b.start_frr();
        self.wait_up();
        start.elapsed()
    }

    /// Until each host has the other's VTEP in its VXLAN flood list (a type-3 route):
    /// the BGP session is up and each zebra knows VNI 100.
    pub fn wait_up(&self) {
        for host in [&self.a, &self.b] {
            assert!(
                wait_for(15.0, || host.knows_peer()),
                "EVPN not up on host {}:\n{}",
                host.name,
                host.logs()
            );
        }
    }
}

impl Host {
    fn new(name: &'static str, n: u8) -> Self {
        let ns = Netns::new();
        let (vtep, peer_vtep) = (format!("10.255.0.{n}"), format!("10.255.0.{}", 3 - n));
        ns.sh(&format!(
            "ip addr add {vtep}/32 dev lo && ip link add br0 type bridge && ip link set br0 up && \
             ip link add {VXLAN} mtu 1450 type vxlan id 100 local {vtep} dstport 4789 nolearning && \
             ip link set {VXLAN} master br0 && \
             bridge link set dev {VXLAN} learning off neigh_suppress on && ip link set {VXLAN} up"
        ));
        ns.add_veth("br0", "vb0", "vp0");
        ns.write_acl("bridge.conf", "allow br0\nmanaged br0\n");
        let dir = ns.dir.join("frr");
        fs::create_dir(&dir).unwrap();
        let frr = User::from_name("frr").unwrap().unwrap();
        let peer = format!("10.0.0.{}", 3 - n);
        for (file, text) in [
            ("zebra.conf", zebra_conf(name)),
            ("bgpd.conf", bgpd_conf(&vtep, &peer)),
        ] {
            fs::write(dir.join(file), text).unwrap();
            chown(dir.join(file), Some(frr.uid.as_raw()), Some(frr.gid.as_raw())).unwrap();
        }
        chown(&dir, Some(frr.uid.as_raw()), Some(frr.gid.as_raw())).unwrap();
        Self {
            ns,
            name,
            vtep,
            peer_vtep,
            dir,
            daemons: Mutex::new(Vec::new()),
        }
    }

    /// zebra, then bgpd once zebra accepts on its socket: a bgpd that finds no zebra
    /// retries only 10 s later (and a SIGKILLed zebra leaves its socket file behind).
    pub fn start_frr(&self) {
        self.start("zebra");
        let api = self.dir.join("zserv.api");
        let accepting = || std::os::unix::net::UnixStream::connect(&api).is_ok();
        assert!(
            wait_for(5.0, accepting),
            "zebra on host {}: {}",
            self.name,
            self.logs()
        );
        self.start("bgpd");
    }

    fn start(&self, daemon: &'static str) {
        let d = |file: &str| self.dir.join(file).to_str().unwrap().to_owned();
        let log = File::create(d(&format!("{daemon}.log"))).unwrap();
        // `ip netns exec` execs the daemon: the child's pid is the daemon's.
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns.name])
            .arg(Path::new(FRR).join(daemon))
            .args(["-F", "traditional", "-P", "0", "-u", "frr", "-g", "frr"])
            .args(["-z", &d("zserv.api"), "--vty_socket", &d("")])
            .args([
                "-i",
                &d(&format!("{daemon}.pid")),
                "-f",
                &d(&format!("{daemon}.conf")),
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start an FRR daemon");
        fs::create_dir_all(RECORDS).unwrap();
        File::create(record(std::process::id(), daemon, child.id())).unwrap();
        self.daemons.lock().unwrap().push((daemon, child));
    }

    /// SIGKILL to each daemon by pid, reaped, and the crash directory
    /// `/var/tmp/frr/<daemon>.<pid>` that a SIGKILL leaves behind removed.
    pub fn kill_frr(&self) {
        let daemons = std::mem::take(&mut *self.daemons.lock().unwrap_or_else(|e| e.into_inner()));
        for (daemon, mut child) in daemons {
            let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            forget(std::process::id(), daemon, child.id());
        }
    }

    /// Whether the other host's VTEP is in this host's flood list.
    pub fn knows_peer(&self) -> bool {
        let flood = format!("00:00:00:00:00:00 dst {} self", self.peer_vtep);
        self.ns.bridge(&format!("fdb show dev {VXLAN}")).contains(&flood)
    }

    /// The bridge's entry for `mac` as `bridge fdb show` prints it (the `master` line).
    pub fn entry(&self, mac: &str) -> Option<String> {
        self.ns
            .bridge("fdb show br br0")
            .lines()
            .find(|l| l.starts_with(&format!("{mac} ")) && l.contains(" master br0"))
            .map(str::to_owned)
    }

    /// A guest made by the setuid helper as `user` on a managed br0, as QEMU calls it.
    pub fn guest(&self, user: &TestUser, mac: &str) -> TapFd {
        self.guest_at(user, mac).0
    }

    /// As [`Host::guest`], with the moment the helper had exited.
    pub fn guest_at(&self, user: &TestUser, mac: &str) -> (TapFd, Instant) {
        let args = managed_args(mac);
        let outcome = Call::new(Install::Setuid, user, &strs(&args)).run(&self.ns);
        let exited = Instant::now();
        let tap = outcome.success(true);
        self.ns.wait_ready(&tap.name());
        (tap, exited)
    }

    /// The helper called as `user` for a guest with `mac` here, whatever the outcome.
    pub fn try_guest(&self, user: &TestUser, mac: &str) -> Outcome {
        let args = managed_args(mac);
        Call::new(Install::Setuid, user, &strs(&args)).run(&self.ns)
    }

    /// The daemons' output and their view of the session and of VNI 100, for a failure
    /// message.
    pub fn logs(&self) -> String {
        let mut text = format!("host {}:\n", self.name);
        for daemon in ["zebra", "bgpd"] {
            text += &fs::read_to_string(self.dir.join(format!("{daemon}.log"))).unwrap_or_default();
        }
        let vty = self.dir.to_str().unwrap();
        for show in [
            "show bgp l2vpn evpn summary",
            "show evpn vni 100",
            "show evpn mac vni 100",
        ] {
            let out = self.ns.try_sh(&format!("vtysh --vty_socket {vty} -c '{show}'"));
            text += &String::from_utf8_lossy(&out.stdout);
            text += &String::from_utf8_lossy(&out.stderr);
        }
        text + &self.ns.bridge("fdb show br br0")
    }

    /// A counter of `link` (`rx_packets`, `tx_packets`).
    pub fn counter(&self, link: &str, counter: &str) -> u64 {
        let text = self
            .ns
            .sh(&format!("cat /sys/class/net/{link}/statistics/{counter}"));
        text.trim().parse().unwrap()
    }
}

impl Drop for Host {
    /// The daemons go before the namespace does.
    fn drop(&mut self) {
        self.kill_frr();
    }
}

fn record(test: u32, daemon: &str, pid: u32) -> PathBuf {
    Path::new(RECORDS).join(format!("{test}.{daemon}.{pid}"))
}

/// Removes a stopped daemon's record and the crash directory a SIGKILL leaves behind.
fn forget(test: u32, daemon: &str, pid: u32) {
    let _ = fs::remove_dir_all(format!("/var/tmp/frr/{daemon}.{pid}"));
    let _ = fs::remove_file(record(test, daemon, pid));
}

/// Stops, by pid, the daemons of test processes that are gone: only a pid that still
/// runs FRR with that test's directory on its command line (pids are reused).
fn reap_stale() {
    for entry in fs::read_dir(RECORDS).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.splitn(3, '.');
        let (Some(test), Some(daemon), Some(pid)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(test), Ok(pid)) = (test.parse::<u32>(), pid.parse::<u32>()) else {
            continue;
        };
        if Path::new(&format!("/proc/{test}")).exists() {
            continue;
        }
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let ours = String::from_utf8_lossy(&cmdline).contains(&format!("/tmp/fbh-test-{test}/"));
        if ours {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            wait_for(3.0, || !super::ns::alive(pid as i32));
        }
        forget(test, daemon, pid);
    }
}

/// `ifindex` of `link` in `ns`.
pub fn ifindex(ns: &Netns, link: &str) -> u32 {
    ns.sh(&format!("cat /sys/class/net/{link}/ifindex"))
        .trim()
        .parse()
        .unwrap()
}

/// Milliseconds, for a report line.
pub fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}
