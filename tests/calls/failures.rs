//! Every failure path through the setuid copy run as alice: exit 1, exactly one line
//! `fdb-bridge-helper: failed to ...`, no fd sent, no tap left behind.

use crate::common;

use common::{alice, env, Call, Frame, Install, Mac, Netns, PacketSock};

/// br0 managed, br1 plain, br2 not allowed (but named by a `managed` line, which grants
/// nothing), br3 allowed and denied, veth0 (a veth) allowed but not a bridge, nosuch and a
/// 15-byte name allowed but missing.
fn setup() -> Netns {
    let ns = Netns::with_bridges(&["br0", "br1", "br2", "br3"]);
    ns.add_plain_link("veth0");
    ns.write_acl(
        "bridge.conf",
        "allow br0\nallow br1\nallow br3\ndeny br3\nallow veth0\nallow nosuch\n\
         allow abcdefghijklmno\nmanaged br0\nmanaged br2\n",
    );
    ns
}

/// Runs each case and checks it fails with all of its expected substrings.
fn table(ns: &Netns, cases: &[(&[&str], &[&str])]) {
    for (args, expect) in cases {
        let out = alice(ns, args);
        eprintln!("case {args:?}: {:?}", out.stderr);
        out.failure(ns, expect);
    }
}

const PARSE: &str = "fdb-bridge-helper: failed to parse arguments: ";

#[test]
fn control_a_well_formed_call_succeeds() {
    // The tables below change one thing of this call each.
    let ns = setup();
    let tap = alice(&ns, &["--use-vnet", "--br=br1", "--fd={fd}"]).success(true);
    assert!(ns.taps().contains(&tap.name()));
    let tap = alice(&ns, &["--br=br0", "--mac=52:54:00:00:00:01", "--fd={fd}"]).success(false);
    assert!(ns
        .bridge("fdb show br br0")
        .contains(&format!("52:54:00:00:00:01 dev {} ", tap.name())));
}

#[test]
fn argv_mistakes() {
    let ns = setup();
    table(
        &ns,
        &[
            (&[], &[PARSE, "missing --br"]),
            (&["--fd={fd}"], &[PARSE, "missing --br"]),
            (&["--br=br1"], &[PARSE, "missing --fd"]),
            (&["--use-vnet", "--br=br1"], &[PARSE, "missing --fd"]),
            (&["--br=br1", "--br=br1", "--fd={fd}"], &[PARSE, "duplicate --br"]),
            (&["--br=br1", "--br=br2", "--fd={fd}"], &[PARSE, "duplicate --br"]),
            (
                &["--br=br1", "--fd={fd}", "--fd={fd}"],
                &[PARSE, "duplicate --fd"],
            ),
            (
                &[
                    "--br=br0",
                    "--fd={fd}",
                    "--mac=52:54:00:00:00:01",
                    "--mac=52:54:00:00:00:01",
                ],
                &[PARSE, "duplicate --mac"],
            ),
            (
                &["--use-vnet", "--br=br1", "--fd={fd}", "--use-vnet"],
                &[PARSE, "duplicate --use-vnet"],
            ),
            (&["--br=br1", "--fd=abc"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd=-1"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd=+{fd}"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd= {fd}"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd=0x4"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd="], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd=99999999999"], &[PARSE, "invalid --fd"]),
            (&["--br=br1", "--fd={fd}", "--foo"], &[PARSE, "unknown argument"]),
            (&["--br", "br1", "--fd={fd}"], &[PARSE, "unknown argument"]),
            (&["--br=br1", "--fd={fd}", "extra"], &[PARSE, "unknown argument"]),
            (&["--help", "--fd={fd}"], &[PARSE, "--help"]),
            (&["--br=br1", "--fd={fd}", "--version"], &[PARSE, "--version"]),
            (&["--help", "--help"], &[PARSE]),
        ],
    );
}

/// fds 0-2 and a closed number; the kinds of open fd that are not our socket (a file, UDP,
/// unix datagram, listening, …) are in `hardening_state::fd_values_that_cannot_carry_the_tap`.
#[test]
fn fd_that_is_not_our_unix_stream_socket() {
    let ns = setup();
    table(
        &ns,
        &[
            (
                &["--br=br1", "--fd=0"],
                &["fdb-bridge-helper: failed to check socket fd 0: "],
            ),
            (
                &["--br=br1", "--fd=1"],
                &["fdb-bridge-helper: failed to check socket fd 1: "],
            ),
            (
                &["--br=br1", "--fd=2"],
                &["fdb-bridge-helper: failed to check socket fd 2: "],
            ),
            (
                &["--br=br1", "--fd=987"],
                &["failed to check socket fd 987: Bad file descriptor"],
            ),
        ],
    );
}

#[test]
fn bridge_names_that_cannot_be_interfaces() {
    let ns = setup();
    let invalid = [
        "abcdefghijklmnop", // 16 bytes: IFNAMSIZ with its NUL is 16
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "a/b",
        ".",
        "..",
        "a b",
        "a\tb",
        "a:b",
        "",
        "../br0",
    ];
    for name in invalid {
        let arg = format!("--br={name}");
        let out = alice(&ns, &[&arg, "--fd={fd}"]);
        out.failure(&ns, &[PARSE, "invalid bridge name"]);
    }
    // The boundary: 15 bytes is a valid name, so the call gets as far as the lookup.
    let out = alice(&ns, &["--br=abcdefghijklmno", "--fd={fd}"]);
    out.failure(
        &ns,
        &["fdb-bridge-helper: failed to look up bridge abcdefghijklmno: No such device"],
    );
}

#[test]
fn acl_and_lookup_refusals() {
    let ns = setup();
    let denied = |br: &'static str| {
        format!("fdb-bridge-helper: failed to authorize bridge {br}: access denied by acl file")
    };
    let (br2, br3, ghost) = (denied("br2"), denied("br3"), denied("ghost"));
    table(
        &ns,
        &[
            (
                &["--br=nosuch", "--fd={fd}"],
                &["fdb-bridge-helper: failed to look up bridge nosuch: No such device"],
            ),
            (
                &["--br=veth0", "--fd={fd}"],
                &["fdb-bridge-helper: failed to look up bridge veth0: not a bridge"],
            ),
            (&["--br=br2", "--fd={fd}"], &[&br2]),
            (&["--br=br2", "--fd={fd}", "--mac=52:54:00:00:00:02"], &[&br2]),
            // deny wins over allow, whatever the order
            (&["--br=br3", "--fd={fd}"], &[&br3]),
            // the ACL is checked before the lookup: a denied missing bridge is "access denied"
            (&["--br=ghost", "--fd={fd}"], &[&ghost]),
            // managed bridge without --mac: the message says how to pass it from QEMU
            (
                &["--use-vnet", "--br=br0", "--fd={fd}"],
                &[
                    "fdb-bridge-helper: failed to authorize bridge br0: ",
                    "--mac",
                    "helper=",
                    "--mac=",
                ],
            ),
        ],
    );
}

#[test]
fn macs_a_guest_cannot_have() {
    let ns = setup();
    let bad = [
        "01:00:5e:00:00:01",
        "33:33:00:00:00:01",
        "00:00:00:00:00:00",
        "ff:ff:ff:ff:ff:ff",
        "52:54:00:12:34",
        "52:54:00:12:34:5g",
        "52:54:00:12:34:56:78",
        "52:54:00:12:34:56:",
        "525400123456",
        "52-54-00-12-34-56",
        "52:54:0:12:34:56",
        "",
    ];
    for mac in bad {
        let arg = format!("--mac={mac}");
        for br in ["--br=br0", "--br=br1"] {
            // also on the plain bridge, where --mac is otherwise ignored
            alice(&ns, &[br, "--fd={fd}", &arg]).failure(&ns, &[PARSE, "invalid --mac"]);
        }
    }
}

fn fdb_lines(ns: &Netns, mac: &str) -> Vec<String> {
    ns.bridge("fdb show br br0")
        .lines()
        .filter(|l| l.starts_with(mac))
        .map(str::to_owned)
        .collect()
}

#[test]
fn hijack_of_another_guests_mac_is_refused() {
    let env = env();
    let ns = setup();
    let mac = Mac::random().to_string();
    let arg = format!("--mac={mac}");
    let a = alice(&ns, &["--use-vnet", "--br=br0", "--fd={fd}", &arg]).success(true);
    let entry = vec![format!("{mac} dev {} sticky master br0 static", a.name())];
    assert_eq!(fdb_lines(&ns, &mac), entry);
    for user in [&env.bob, &env.alice] {
        let b = Call::new(
            Install::Setuid,
            user,
            &["--use-vnet", "--br=br0", "--fd={fd}", &arg],
        )
        .run(&ns);
        let want = format!("fdb-bridge-helper: failed to add fdb entry {mac} on tap");
        b.failure_leaving(&ns, &[&want, "claimed by", &a.name()], &[a.name()]);
        assert_eq!(
            fdb_lines(&ns, &mac),
            entry,
            "A's entry must still point at A's tap"
        );
    }
}

#[test]
fn the_hosts_own_address_cannot_be_claimed() {
    let ns = setup();
    ns.add_veth("br0", "vb0", "vp0");
    let mac = ns.mac_of("vb0");
    let local = format!("{mac} dev vb0 master br0 permanent");
    assert!(fdb_lines(&ns, &mac).contains(&local));
    let arg = format!("--mac={mac}");
    let out = alice(&ns, &["--br=br0", "--fd={fd}", &arg]);
    out.failure(
        &ns,
        &[
            &format!("fdb-bridge-helper: failed to add fdb entry {mac} on tap"),
            "vb0",
        ],
    );
    assert_eq!(fdb_lines(&ns, &mac), vec![local]);
}

/// Guards the escaping of the holder's name in that refusal: the kernel allows control
/// characters in interface names, and none may reach the caller's terminal raw.
#[test]
fn a_holder_name_with_control_characters_is_escaped() {
    let ns = setup();
    let port = "vb\x1bq";
    ns.add_veth("br0", port, "vp0");
    let mac = ns.mac_of(port);
    let arg = format!("--mac={mac}");
    let out = alice(&ns, &["--br=br0", "--fd={fd}", &arg]);
    assert!(!out.stderr.contains('\x1b'), "raw ESC in {:?}", out.stderr);
    out.failure(
        &ns,
        &[
            &format!("fdb-bridge-helper: failed to add fdb entry {mac} on tap"),
            "static entry on vb\\u{1b}q ",
        ],
    );
}

/// A learned entry is another host's address: a guest takes it over only when an exact
/// `mac` line assigns it (the prefix case is in tests/frames/security_fdb.rs).
#[test]
fn a_learned_entry_is_replaced_only_for_an_exact_mac_line() {
    let ns = setup();
    ns.add_veth("br0", "vb0", "vp0");
    let mac = Mac::random().to_string();
    let sock = PacketSock::open(&ns, "vp0");
    let frame = Frame {
        dst: [0xff; 6],
        src: Mac::parse(&mac).0,
        nonce: Frame::nonce(),
        tag: 1,
    };
    sock.send(&frame.bytes());
    let learned = format!("{mac} dev vb0 master br0 ");
    assert!(
        common::wait_for(3.0, || fdb_lines(&ns, &mac)
            .iter()
            .any(|l| l.starts_with(&learned))),
        "the bridge did not learn {mac} on vb0: {:?}",
        fdb_lines(&ns, &mac)
    );
    assert!(
        !fdb_lines(&ns, &mac)[0].contains("static"),
        "learned entry must be dynamic"
    );
    let arg = format!("--mac={mac}");
    let args = ["--use-vnet", "--br=br0", "--fd={fd}", &arg];
    alice(&ns, &args).failure(&ns, &["learned the address on vb0"]);
    assert!(fdb_lines(&ns, &mac)[0].starts_with(&learned));
    ns.write_acl(
        "bridge.conf",
        &format!("allow br0\nmanaged br0\nmac br0 52:54:00:*\nmac br0 {mac}\n"),
    );
    let tap = alice(&ns, &args).success(true);
    assert_eq!(
        fdb_lines(&ns, &mac),
        vec![format!("{mac} dev {} sticky master br0 static", tap.name())]
    );
}

#[test]
fn help_and_version_alone_exit_zero() {
    let ns = setup();
    let help = alice(&ns, &["--help"]);
    assert_eq!(
        (help.code, help.stderr.as_str(), help.fd.is_none()),
        (Some(0), "", true)
    );
    assert!(
        help.stdout.contains("usage:") && help.stdout.contains("--mac"),
        "{}",
        help.stdout
    );
    let version = alice(&ns, &["--version"]);
    assert_eq!(
        (version.code, version.stderr.as_str(), version.fd.is_none()),
        (Some(0), "", true)
    );
    assert_eq!(
        version.stdout,
        format!("fdb-bridge-helper {}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(ns.taps().is_empty());
}
