//! Two-step managed ports, as libvirt's session mode gets them: with the libvirt hook
//! installed, a managed bridge asked for without a MAC gets a pending port (owned by the
//! caller, learning and flooding off, down, no FDB entry), and `--claim=TAP --mac=MAC`
//! gives it its MAC later. The setuid copy runs as the test users, the hook's symlink is
//! in a test directory bind-mounted over /etc/libvirt/hooks.

use crate::common;

use std::path::PathBuf;

use common::fdb::claim_altname;
use common::hooks::{hooks_dir, with_hooks};
use common::{env, Call, Frame, Install, Mac, Netns, Outcome, PacketSock, TapFd, TestUser};

struct Setup {
    ns: Netns,
    hooks: PathBuf,
}

/// br0 with a veth vb0/vp0 in it, br1; `acl` as bridge.conf; the hook installed.
fn setup(acl: &str) -> Setup {
    let ns = Netns::with_uplink().with_acl(acl);
    ns.add_bridge("br1");
    // The helper only lstats the link; where it points does not matter to it.
    let hooks = hooks_dir(&ns, Some("/nonexistent/fdb-bridge-helper-libvirt-hook".as_ref()));
    Setup { ns, hooks }
}

impl Setup {
    fn call<'a>(&self, user: &'a TestUser, install: Install, args: &[&str]) -> Call<'a> {
        let mut call = Call::new(install, user, args);
        call.run = with_hooks(call.run, &self.hooks);
        call
    }

    /// Step one: a managed bridge without a MAC, as libvirt calls it.
    fn pending(&self, user: &TestUser, bridge: &str) -> TapFd {
        let br = format!("--br={bridge}");
        self.call(user, Install::Setuid, &["--use-vnet", &br, "--fd={fd}"])
            .run(&self.ns)
            .success(true)
    }

    fn claim(&self, user: &TestUser, tap: &str, mac: &str) -> Outcome {
        let (tap, mac) = (format!("--claim={tap}"), format!("--mac={mac}"));
        self.call(user, Install::Setuid, &[&tap, &mac]).run(&self.ns)
    }

    fn is_up(&self, tap: &str) -> bool {
        let flags = self.ns.sysfs(tap, "flags");
        u32::from_str_radix(flags.trim_start_matches("0x"), 16).unwrap() & 1 != 0
    }

    /// The pending state: owned by `uid`, learning and flooding off, down, no entry of
    /// the guest's, no reservation.
    fn assert_pending(&self, tap: &str, uid: u32, locked: bool) {
        let ns = &self.ns;
        assert_eq!(ns.sysfs(tap, "owner"), uid.to_string(), "owner of {tap}");
        assert_eq!(ns.sysfs(tap, "brport/learning"), "0");
        assert_eq!(ns.sysfs(tap, "brport/unicast_flood"), "0");
        let port = ns.bridge(&format!("-d link show dev {tap}"));
        assert_eq!(port.contains("locked on"), locked, "{port}");
        assert!(!self.is_up(tap), "a pending port stays down");
        let fdb = ns.bridge(&format!("fdb show dev {tap}"));
        assert!(
            fdb.lines().all(|l| l.contains(" permanent")),
            "only the tap's own local entries on a pending port:\n{fdb}"
        );
        let names = ns.altnames(tap);
        assert!(!names.iter().any(|n| n.starts_with("fbh-")), "{names:?}");
    }

    /// The claimed state: up, the guest's static sticky entry on it, both marks.
    fn assert_claimed(&self, tap: &str, mac: &str, locked: bool) {
        let ns = &self.ns;
        let entry = ns.fdb_one(mac);
        assert_eq!(entry.dev, tap, "{entry:?}");
        assert!(entry.sticky() && entry.state == "static", "{entry:?}");
        assert_eq!(ns.sysfs(tap, "brport/learning"), "0");
        assert_eq!(ns.sysfs(tap, "brport/unicast_flood"), "0");
        let port = ns.bridge(&format!("-d link show dev {tap}"));
        assert_eq!(port.contains("locked on"), locked, "{port}");
        assert!(self.is_up(tap), "a claimed port is up");
        let index = ns.sysfs(tap, "ifindex");
        let mut names = ns.altnames(tap);
        names.retain(|n| n.starts_with("fbh-"));
        names.sort();
        assert_eq!(names, [claim_altname(mac), format!("fbh-port-{index}")]);
    }
}

/// Exit 0, nothing printed, nothing sent.
fn claimed(out: &Outcome) {
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (Some(0), "", ""),
        "claim failed"
    );
    assert!(out.fd.is_none(), "a claim sends nothing");
}

#[test]
fn a_pending_port_gets_nothing_until_its_mac_is_claimed() {
    let s = setup("allow br0\nmanaged br0\n");
    let alice = &env().alice;
    let guest = s.pending(alice, "br0");
    let tap = guest.name();
    s.assert_pending(&tap, alice.uid, false);

    let wire = PacketSock::open(&s.ns, "vp0");
    let wire_mac = Mac::parse(&s.ns.mac_of("vp0")).0;
    let mac = Mac::random().to_string();
    let send = |nonce, tag, dst| {
        wire.send(
            &Frame {
                dst,
                src: wire_mac,
                nonce,
                tag,
            }
            .bytes(),
        )
    };
    let nonce = Frame::nonce();
    send(nonce, 1, Mac::parse(&mac).0);
    send(nonce, 2, [0xff; 6]);
    assert_eq!(
        guest.read_tags(&nonce, 2),
        Vec::<u8>::new(),
        "a pending port received frames"
    );

    claimed(&s.claim(alice, &tap, &mac));
    s.assert_claimed(&tap, &mac, false);
    s.ns.wait_ready(&tap);
    let nonce = Frame::nonce();
    send(nonce, 1, [0x02, 0xfb, 0, 0, 0, 1]);
    send(nonce, 2, Mac::parse(&mac).0);
    send(nonce, 3, [0xff; 6]);
    assert_eq!(
        guest.read_tags(&nonce, 3),
        vec![2, 3],
        "its own unicast and broadcast, no unknown unicast"
    );

    drop(guest);
    assert!(common::wait_for(3.0, || s.ns.fdb_of(&mac).is_empty() && s.ns.taps().is_empty()));
}

#[test]
fn locked_where_the_acl_says_so() {
    let s = setup("allow br1\nlocked br1\n");
    let alice = &env().alice;
    let guest = s.pending(alice, "br1");
    let tap = guest.name();
    s.assert_pending(&tap, alice.uid, true);
    let mac = Mac::random().to_string();
    claimed(&s.claim(alice, &tap, &mac));
    s.assert_claimed(&tap, &mac, true);
}

/// Each refusal is one line and exit 1, and leaves the pending port as it was.
#[test]
fn only_the_owner_claims_once_a_granted_mac_on_a_pending_port() {
    let s = setup(
        "allow br0\nallow br1\nmanaged br0\nmac br0 user=fbh-alice 52:54:00:aa:*\n\
         mac br0 user=fbh-bob 52:54:00:bb:*\n",
    );
    let (alice, bob) = (&env().alice, &env().bob);
    let guest = s.pending(alice, "br0");
    let tap = guest.name();
    let plain = s.pending(alice, "br1");
    let one_step = s
        .call(
            alice,
            Install::Setuid,
            &["--br=br0", "--fd={fd}", "--mac=52:54:00:aa:00:01"],
        )
        .run(&s.ns)
        .success(false);
    let held = [&guest, &plain, &one_step].map(|t| TapFd::new(t.fd.try_clone().unwrap(), t.vnet));
    let taps = s.ns.taps_of(&held);
    s.ns.sh(&format!("ip link property add dev {tap} altname vm1-nic0"));

    let (plain_tap, one_tap) = (plain.name(), one_step.name());
    #[rustfmt::skip]
    let cases: Vec<(&TestUser, &str, &str, String)> = vec![
        (bob, &tap, "52:54:00:bb:00:01", format!("failed to check tap {tap}: it belongs to uid {}, not to you (uid {})", alice.uid, bob.uid)),
        (alice, &tap, "52:54:00:bb:00:01", "failed to authorize bridge br0: no mac line in the acl grants you 52:54:00:bb:00:01".into()),
        (alice, "vm1-nic0", "52:54:00:aa:00:02", format!("failed to check tap vm1-nic0: it is an alternative name of {tap}; use --claim={tap}")),
        (alice, &plain_tap, "52:54:00:aa:00:02", format!("failed to check tap {plain_tap}: it has no owner")),
        (alice, &one_tap, "52:54:00:aa:00:02", format!("failed to check tap {one_tap}: it has its MAC already (alternative name fbh-525400aa0001)")),
        (alice, "vb0", "52:54:00:aa:00:02", "failed to check tap vb0: it is not a tap".into()),
        (alice, "tap999", "52:54:00:aa:00:02", "failed to look up tap tap999: No such device".into()),
        (alice, &tap, "52:54:00:aa:00:01", format!("failed to add fdb entry 52:54:00:aa:00:01 on {tap}: the address is claimed by {one_tap}")),
    ];
    for (user, name, mac, expect) in cases {
        s.claim(user, name, mac).failure_leaving(&s.ns, &[&expect], &taps);
        if mac != "52:54:00:aa:00:01" {
            s.assert_pending(&tap, alice.uid, false);
        }
    }
    // A claim that got as far as the kernel used the port's one claim.
    let out = s.claim(alice, &tap, "52:54:00:aa:00:02");
    let want = format!("failed to check tap {tap}: it has its MAC already (alternative name fbh-");
    out.failure_leaving(&s.ns, &[&want], &taps);
    // Nothing but --claim and --mac.
    let claim = format!("--claim={tap}");
    let out = s
        .call(
            alice,
            Install::Setuid,
            &[&claim, "--mac=52:54:00:aa:00:03", "--fd={fd}"],
        )
        .run(&s.ns);
    let want = [
        "failed to parse arguments: \"--fd=",
        "is not accepted with --claim",
    ];
    out.failure_leaving(&s.ns, &want, &taps);

    // A fresh pending port: a refused MAC does not use up its claim, a granted one does.
    let second = s.pending(alice, "br0");
    let tap2 = second.name();
    let mut held: Vec<TapFd> = held.into_iter().collect();
    held.push(TapFd::new(second.fd.try_clone().unwrap(), true));
    let taps = s.ns.taps_of(&held);
    s.claim(alice, &tap2, "52:54:00:bb:00:01")
        .failure_leaving(&s.ns, &["no mac line"], &taps);
    claimed(&s.claim(alice, &tap2, "52:54:00:aa:00:03"));
    s.assert_claimed(&tap2, "52:54:00:aa:00:03", false);
    let out = s.claim(alice, &tap2, "52:54:00:aa:00:04");
    let want = format!("failed to check tap {tap2}: it has its MAC already");
    out.failure_leaving(&s.ns, &[&want], &taps);
    assert!(s.ns.fdb_of("52:54:00:aa:00:04").is_empty());
}

/// The ACL is read again at the claim: a bridge no longer managed, or denied, refuses it.
#[test]
fn the_acl_decides_again_at_the_claim() {
    let s = setup("allow br0\nmanaged br0\n");
    let alice = &env().alice;
    let guest = s.pending(alice, "br0");
    let tap = guest.name();
    let taps = vec![tap.clone()];
    let mac = Mac::random().to_string();
    s.ns.write_acl("bridge.conf", "allow br0\n");
    s.claim(alice, &tap, &mac).failure_leaving(
        &s.ns,
        &["failed to authorize bridge br0: the acl does not mark this bridge managed"],
        &taps,
    );
    s.ns.write_acl("bridge.conf", "allow br0\nmanaged br0\ndeny br0\n");
    s.claim(alice, &tap, &mac).failure_leaving(
        &s.ns,
        &["failed to authorize bridge br0: access denied by acl file"],
        &taps,
    );
    s.assert_pending(&tap, alice.uid, false);
    s.ns.write_acl("bridge.conf", "allow br0\nlocked br0\n");
    claimed(&s.claim(alice, &tap, &mac));
    s.assert_claimed(&tap, &mac, true);
}

/// Eight claims with eight MACs race for one port: exactly one wins.
#[test]
fn one_mac_per_port_under_a_race() {
    let s = setup("allow br0\nmanaged br0\n");
    let alice = &env().alice;
    let guest = s.pending(alice, "br0");
    let tap = guest.name();
    let macs: Vec<String> = (0..8).map(|_| Mac::random().to_string()).collect();
    let outcomes: Vec<Outcome> = std::thread::scope(|scope| {
        let handles: Vec<_> = macs
            .iter()
            .map(|mac| scope.spawn(|| s.claim(alice, &tap, mac)))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<usize> = (0..8).filter(|&i| outcomes[i].code == Some(0)).collect();
    assert_eq!(won.len(), 1, "{outcomes:#?}");
    for (i, out) in outcomes.iter().enumerate().filter(|(i, _)| *i != won[0]) {
        out.failure_leaving(&s.ns, &[&tap], std::slice::from_ref(&tap));
        assert!(
            s.ns.fdb_of(&macs[i]).is_empty(),
            "a loser's entry: {:?}",
            s.ns.fdb_of(&macs[i])
        );
    }
    s.assert_claimed(&tap, &macs[won[0]], false);
}

/// Without the hook, a managed bridge without a MAC is refused with a hint naming every
/// way to pass it, and no pending port is made.
#[test]
fn without_the_hook_a_managed_bridge_needs_the_mac() {
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.write_acl("bridge.conf", "allow br0\nmanaged br0\n");
    let hooks = hooks_dir(&ns, None);
    for install in [Install::Setuid, Install::FileCaps] {
        let mut call = Call::new(install, &env().alice, &["--use-vnet", "--br=br0", "--fd={fd}"]);
        call.run = with_hooks(call.run, &hooks);
        call.run(&ns).failure(
            &ns,
            &[
                "failed to authorize bridge br0: the bridge is managed and needs the guest's MAC",
                "--mac=",
                "NAME@MAC",
                "/etc/libvirt/hooks/qemu.d/fdb-bridge-helper",
            ],
        );
    }
}

/// The file-capability install makes and claims pending ports too.
#[test]
fn file_caps_install() {
    let s = setup("allow br0\nmanaged br0\n");
    let alice = &env().alice;
    let guest = s
        .call(alice, Install::FileCaps, &["--br=br0", "--fd={fd}"])
        .run(&s.ns)
        .success(false);
    let tap = guest.name();
    s.assert_pending(&tap, alice.uid, false);
    let mac = Mac::random().to_string();
    let (claim, mac_arg) = (format!("--claim={tap}"), format!("--mac={mac}"));
    claimed(&s.call(alice, Install::FileCaps, &[&claim, &mac_arg]).run(&s.ns));
    s.assert_claimed(&tap, &mac, false);
}

/// The audit log: step one says `mode=managed-pending` with the tap (how an admin finds
/// ports that never got their MAC), the claim `mode=managed-claim`, granted or refused.
#[test]
fn the_audit_log_names_pending_ports_and_claims() {
    use common::devlog::{self, PRIVATE_DEV};
    use common::direct::{in_ns, spawn};
    let s = setup("allow br0\nmanaged br0\nmac br0 52:54:00:aa:*\n");
    let alice = &env().alice;
    let uid = alice.uid;
    let setup = format!(
        "{PRIVATE_DEV} && mount --bind {} /etc/libvirt/hooks",
        s.hooks.display()
    );
    in_ns(&s.ns, &setup, || {
        let log = devlog::datagram();
        let lines = |pid: i32| -> Vec<String> {
            let tag = format!(" fdb-bridge-helper[{pid}]: ");
            devlog::drain(&log)
                .iter()
                .map(|d| {
                    let text = String::from_utf8_lossy(d).into_owned();
                    text.split_once(&tag).map(|(_, m)| m.to_owned()).expect("our tag")
                })
                .collect()
        };
        let pending = spawn(
            &env().setuid,
            &["--use-vnet", "--br=br0", "--fd={fd}"],
            Some(alice),
        );
        let pid = pending.pid();
        let guest = pending.finish().success(true);
        let tap = guest.name();
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br0 tap={tap} mac=- mode=managed-pending verdict=granted"
        );
        assert_eq!(lines(pid), [want]);

        let (claim, refused) = (format!("--claim={tap}"), "--mac=52:54:00:bb:00:01");
        let out = spawn(&env().setuid, &[&claim, refused], Some(alice));
        let pid = out.pid();
        let out = out.finish();
        assert_eq!(out.code, Some(1), "{out:?}");
        let reason = "failed to authorize bridge br0: no mac line in the acl grants you 52:54:00:bb:00:01 on this bridge";
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br0 tap={tap} mac=52:54:00:bb:00:01 mode=managed-claim \
             verdict=refused reason=\"{reason}\""
        );
        assert_eq!(lines(pid), [want]);

        let out = spawn(&env().setuid, &[&claim, "--mac=52:54:00:aa:00:01"], Some(alice));
        let pid = out.pid();
        claimed(&out.finish());
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br0 tap={tap} mac=52:54:00:aa:00:01 mode=managed-claim verdict=granted"
        );
        assert_eq!(lines(pid), [want]);
    });
}
