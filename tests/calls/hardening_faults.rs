//! Faults and load on managed bridges: SIGKILL at random points, a netlink step failing
//! in the middle (strace fault injection), and many callers at once.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::direct::{in_ns, spawn, Pending};
use common::{env, managed_args, strs, Call, Install, Mac, Netns, TapFd};

fn setup() -> Netns {
    Netns::with_bridges(&["br0"]).with_acl("allow br0\nmanaged br0\n")
}

/// A managed call for `mac` after a failure on the same bridge works, and its entry is then
/// the only static one.
fn assert_bridge_still_works(ns: &Netns, mac: &str) {
    let tap = Call::new(Install::Setuid, &env().alice, &strs(&managed_args(mac)))
        .run(ns)
        .success(true);
    assert_eq!(
        static_entries(ns),
        vec![format!("{mac} dev {} sticky master br0 static", tap.name())]
    );
}

/// `bridge fdb show br br0` lines that are static entries (the guests'; the bridge's own
/// are `permanent`).
fn static_entries(ns: &Netns) -> Vec<String> {
    ns.bridge("fdb show br br0")
        .lines()
        .filter(|l| l.contains(" static"))
        .map(str::to_owned)
        .collect()
}

/// xorshift64*: a fixed seed makes a failing run reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

const KILL_RUNS: u32 = 200;

/// Guards "SIGKILL at any point leaves nothing": 200 managed calls by alice, each killed
/// 0-3 ms after its exec (a random point of its run: the helper takes a few ms), and the
/// ones that finished first have their tap fd closed unread. Afterwards no tap and no
/// static entry remain, and a normal call on the same bridge works. Set FBH_KILL_SEED to
/// replay a seed.
#[test]
fn sigkill_at_random_points_leaves_nothing() {
    let seed = std::env::var("FBH_KILL_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0x5eed_f00d_cafe_0001);
    eprintln!("seed {seed:#x} (replay with FBH_KILL_SEED={seed:#x})");
    let mut rng = Rng(seed);
    let ns = setup();
    let helper: &Path = &env().setuid;
    let started = Instant::now();
    let (killed, finished) = in_ns(&ns, "", || {
        let (mut killed, mut finished) = (0, 0);
        for run in 0..KILL_RUNS {
            let delay = Duration::from_micros(rng.next() % 3000);
            let mac = format!("52:54:00:4b:{:02x}:{:02x}", run >> 8, run & 0xff);
            let args = managed_args(&mac);
            let mut pending: Pending = spawn(helper, &strs(&args), Some(&env().alice));
            std::thread::sleep(delay);
            pending.child.kill().expect("SIGKILL");
            let end = pending.finish_signal();
            match (end.signal, end.outcome.code) {
                (Some(libc::SIGKILL), _) => killed += 1,
                // Finished before the kill: the fd arrived, and is closed unread here.
                (None, Some(0)) if end.outcome.fd.is_some() => finished += 1,
                _ => panic!("run {run} ({delay:?}): {end:?}"),
            }
        }
        (killed, finished)
    });
    eprintln!(
        "{KILL_RUNS} runs in {:?}: {killed} killed, {finished} finished first",
        started.elapsed()
    );
    let clean = || ns.taps().is_empty() && static_entries(&ns).is_empty();
    assert!(
        common::wait_for(5.0, clean),
        "left behind: taps {:?}, static entries {:?}",
        ns.taps(),
        static_entries(&ns)
    );
    assert!(
        killed >= 50,
        "only {killed} of {KILL_RUNS} runs were killed: nothing tested"
    );
    assert_bridge_still_works(&ns, "52:54:00:4b:ff:ff");
}

/// Guards that the seccomp filter is enforced, not only installed: strace swaps the
/// helper's first netlink request for getppid(), a harmless call that is not on the
/// allowlist, and the kernel kills the helper (SIGSYS: no exit code, no message); the
/// same swap for getpid(), which is on the list, only fails the step with its message.
/// Nothing is left either way.
#[test]
fn a_call_outside_the_seccomp_allowlist_kills_the_helper() {
    let ns = setup();
    for (swap, allowed) in [("getppid", false), ("getpid", true)] {
        let mac = Mac::random().to_string();
        let args = managed_args(&mac);
        let out_file = ns.run.join(format!("seccomp-{swap}.strace"));
        let inject = format!("inject=sendto:error=EIO:when=1:syscall={swap}");
        let mut call = Call::new(Install::Setuid, &env().alice, &strs(&args)).strace(out_file, &inject);
        call.run.user = None; // as root: strace cannot trace the setuid copy as alice
        let out = call.run(&ns);
        eprintln!("{swap}: {out:?}");
        if allowed {
            out.failure(
                &ns,
                &["fdb-bridge-helper: failed to look up bridge br0: Input/output error"],
            );
        } else {
            assert!(
                out.code.is_none() && out.fd.is_none() && out.stderr.is_empty(),
                "{swap} must kill the helper by a signal, silently: {out:?}"
            );
        }
        assert!(ns.taps().is_empty(), "{swap}: taps left: {:?}", ns.taps());
    }
}

/// One fault: `inject` for strace (`sendto` counted from 1 as the helper makes them),
/// the request strace must show at that call, the expected message parts.
struct Fault {
    inject: &'static str,
    request: &'static str,
    expect: &'static [&'static str],
    /// Delete br0 while the injected call is delayed.
    delete_bridge: bool,
}

/// Guards "a failure at any step leaves nothing behind, with a message saying what
/// failed": each rtnetlink request (and the final send) fails in turn, injected by strace
/// into the helper run as root; the tap, and the static entry when it was already added,
/// go with the helper. `:syscall=getpid` makes strace run getpid instead of the failed
/// call: the default (syscall -1) is itself refused by the seccomp filter and the helper
/// dies of SIGSYS, which would test strace, not the helper.
#[test]
fn a_netlink_step_failing_in_the_middle_leaves_nothing() {
    let faults = [
        // The bridge deleted between the lookup and the enslave: the kernel answers
        // EINVAL for an IFLA_MASTER that no longer exists (do_set_master).
        Fault {
            inject: "sendto:delay_enter=1000000:when=4",
            request: "RTM_SETLINK",
            expect: &[
                "fdb-bridge-helper: failed to add tap",
                " to bridge br0: Invalid argument",
            ],
            delete_bridge: true,
        },
        Fault {
            inject: "sendto:error=EIO:when=1:syscall=getpid",
            request: "RTM_GETLINK",
            expect: &["fdb-bridge-helper: failed to look up bridge br0: Input/output error"],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=EIO:when=2:syscall=getpid",
            request: "RTM_GETLINK",
            expect: &["fdb-bridge-helper: failed to look up tap", ": Input/output error"],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=ENODEV:when=3:syscall=getpid",
            request: "RTM_SETLINK",
            expect: &["fdb-bridge-helper: failed to pin the address of bridge br0: No such device"],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=ENODEV:when=4:syscall=getpid",
            request: "RTM_SETLINK",
            expect: &[
                "fdb-bridge-helper: failed to add tap",
                " to bridge br0: No such device",
            ],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=ENOMEM:when=5:syscall=getpid",
            request: "RTM_NEWLINKPROP",
            expect: &[
                "fdb-bridge-helper: failed to add fdb entry ",
                " on tap",
                ": Cannot allocate memory",
            ],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=ENOBUFS:when=6:syscall=getpid",
            request: "RTM_NEWNEIGH",
            expect: &[
                "fdb-bridge-helper: failed to add fdb entry ",
                " on tap",
                ": No buffer space available",
            ],
            delete_bridge: false,
        },
        Fault {
            inject: "sendto:error=EPERM:when=7:syscall=getpid",
            request: "RTM_NEWLINK",
            expect: &[
                "fdb-bridge-helper: failed to set port flags (learning off, flood off) on tap",
                ": Operation not permitted",
            ],
            delete_bridge: false,
        },
        Fault {
            inject: "sendmsg:error=EPIPE:when=1:syscall=getpid",
            request: "SCM_RIGHTS",
            expect: &["fdb-bridge-helper: failed to send tap", ": Broken pipe"],
            delete_bridge: false,
        },
    ];
    for fault in faults {
        let ns = setup();
        let mac = Mac::random().to_string();
        let args = managed_args(&mac);
        let out_file = ns.run.join("fault.strace");
        let mut call = Call::new(Install::Setuid, &env().alice, &strs(&args))
            .strace(out_file.clone(), &format!("inject={}", fault.inject));
        call.run.user = None; // as root
        let out = std::thread::scope(|s| {
            let helper = s.spawn(|| call.run(&ns));
            if fault.delete_bridge {
                assert!(
                    common::wait_for(5.0, || !ns.taps().is_empty()),
                    "no tap before the delayed request"
                );
                ns.ip("link del br0");
            }
            helper.join().unwrap()
        });
        eprintln!("{}: {out:?}", fault.inject);
        let text = std::fs::read_to_string(&out_file).unwrap();
        let marked: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("(INJECTED)") || l.contains("(DELAYED)"))
            .collect();
        assert!(
            marked.len() == 1 && marked[0].contains(fault.request),
            "{}: the injected call is not {}: {marked:?}",
            fault.inject,
            fault.request
        );
        out.failure(&ns, fault.expect);
        let fdb = if fault.delete_bridge {
            String::new()
        } else {
            ns.bridge("fdb show br br0")
        };
        assert!(!fdb.contains(&mac), "{}: entry left: {fdb}", fault.inject);
        if !fault.delete_bridge {
            assert_bridge_still_works(&ns, &mac);
        }
    }
}

/// Guards that concurrent callers do not interfere: 64 managed calls started at once on
/// one bridge, each with its own MAC, all succeed, each with its static entry on the tap
/// it received.
#[test]
fn sixty_four_concurrent_calls_each_get_their_own_port() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let macs: Vec<String> = (0..64).map(|i| format!("52:54:00:c0:00:{i:02x}")).collect();
    let taps: Vec<TapFd> = in_ns(&ns, "", || {
        let pending: Vec<Pending> = macs
            .iter()
            .enumerate()
            .map(|(i, mac)| {
                let user = if i % 2 == 0 { &env().alice } else { &env().bob };
                spawn(helper, &strs(&managed_args(mac)), Some(user))
            })
            .collect();
        pending.into_iter().map(|p| p.finish().success(true)).collect()
    });
    let names: Vec<String> = taps.iter().map(TapFd::name).collect();
    let mut distinct = names.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 64, "{names:?}");
    let entries = static_entries(&ns);
    assert_eq!(entries.len(), 64, "{entries:#?}");
    for (mac, tap) in macs.iter().zip(&names) {
        let want = format!("{mac} dev {tap} sticky master br0 static");
        assert!(entries.contains(&want), "no {want:?} in {entries:#?}");
    }
    let ports = ns.ip("-o link show master br0");
    assert_eq!(ports.lines().count(), 64, "{ports}");
}

/// Guards the exclusive claim (NLM_F_EXCL): 16 callers racing for one MAC, three rounds.
/// Exactly one wins; every other is refused naming the winner's tap; exactly one static
/// entry, on the winner's tap.
#[test]
fn sixteen_concurrent_claims_of_one_mac_have_one_winner() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let mut held = Vec::new();
    for round in 0..3 {
        let mac = format!("52:54:00:d0:00:{round:02x}");
        let ends = in_ns(&ns, "", || {
            let pending: Vec<Pending> = (0..16)
                .map(|i| {
                    let user = if i % 2 == 0 { &env().alice } else { &env().bob };
                    spawn(helper, &strs(&managed_args(&mac)), Some(user))
                })
                .collect();
            pending.into_iter().map(Pending::finish).collect::<Vec<_>>()
        });
        let (winners, losers): (Vec<_>, Vec<_>) = ends.into_iter().partition(|o| o.code == Some(0));
        assert_eq!(
            winners.len(),
            1,
            "round {round}: winners {winners:?}, losers {losers:?}"
        );
        let winner = winners.into_iter().next().unwrap().success(true);
        let want = format!("fdb-bridge-helper: failed to add fdb entry {mac} on tap");
        let owner = format!("the address is claimed by {}, ", winner.name());
        for loser in &losers {
            assert_eq!(loser.code, Some(1), "{loser:?}");
            assert!(loser.fd.is_none(), "{loser:?}");
            assert!(
                loser.stderr.starts_with(&want)
                    && loser.stderr.contains(&owner)
                    && loser.stderr.lines().count() == 1,
                "round {round}: {:?}",
                loser.stderr
            );
        }
        let mine: Vec<String> = static_entries(&ns)
            .into_iter()
            .filter(|l| l.starts_with(&mac))
            .collect();
        assert_eq!(
            mine,
            vec![format!("{mac} dev {} sticky master br0 static", winner.name())]
        );
        held.push(winner);
        assert!(
            common::wait_for(3.0, || ns.taps() == ns.taps_of(&held)),
            "losers' taps left: {:?}",
            ns.taps()
        );
    }
}
