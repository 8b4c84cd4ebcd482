//! VLAN requests on this host's kernel, which cannot filter VLANs: what needs no
//! `vlan_filtering`. Refusals from argv, from the ACL and from the bridge, through the
//! setuid copy run as alice: exit 1, one line, no fd, no tap left. Guests really in VLANs
//! are tested on Debian's 6.1 kernel in the VM tier (tests/kernel_vm/vlan.sh).

use crate::common;

use common::devlog::{self, PRIVATE_DEV};
use common::direct::{in_ns, spawn};
use common::{alice, env, Netns};

const MAC: &str = "52:54:00:5a:00:01";
const PARSE: &str = "fdb-bridge-helper: failed to parse arguments: ";

fn setup(acl: &str) -> Netns {
    Netns::with_bridges(&["br0", "br1", "br2", "br3"]).with_acl(acl)
}

/// Each case must fail with all of its expected substrings and leave nothing behind.
fn refused(ns: &Netns, cases: &[(&[&str], &[&str])]) {
    for (args, expect) in cases {
        let out = alice(ns, args);
        eprintln!("case {args:?}: {:?}", out.stderr);
        out.failure(ns, expect);
    }
}

/// This kernel's bridges say `vlan_filtering 0` and have no default PVID: nothing could
/// keep a port in a VLAN, so a VLAN the ACL grants is refused rather than ignored. That
/// holds for a default VLAN too, which applies to calls that name none.
#[test]
fn a_granted_vlan_on_a_bridge_that_cannot_filter_is_refused() {
    let ns = setup(
        "allow br0\nallow br1\nmanaged br0\nvlan br0 user=fbh-alice 101\n\
         vlan-default br1 user=fbh-alice 201\n",
    );
    // What the kernel says of its bridges decides which words the refusal uses.
    let has_filtering = ns.ip("-d link show br0").contains("vlan_default_pvid");
    let why = if has_filtering {
        "the bridge does not filter VLANs (vlan_filtering 0)"
    } else {
        "this kernel's bridges cannot filter VLANs (it was built without CONFIG_BRIDGE_VLAN_FILTERING)"
    };
    let managed = format!("--mac={MAC}");
    refused(
        &ns,
        &[
            (
                &["--use-vnet", "--br=br0", "--fd={fd}", &managed, "--vlan=101"],
                &["fdb-bridge-helper: failed to use vlan 101 on bridge br0: ", why],
            ),
            (
                &["--use-vnet", "--br=br1", "--fd={fd}"],
                &["fdb-bridge-helper: failed to use vlan 201 on bridge br1: ", why],
            ),
        ],
    );
}

#[test]
fn vlans_the_acl_does_not_grant_are_refused() {
    let ns = setup(
        "allow br0\nallow br1\nallow br2\nallow br3\ndeny br3\nmanaged br0\n\
         vlan br0 user=fbh-alice 101-110\nvlan br1 user=fbh-bob 5\nvlan br3 101\n",
    );
    let mac = format!("--mac={MAC}");
    let vlan = "fdb-bridge-helper: failed to authorize a vlan on bridge";
    let needs = "the acl puts guests on this bridge in VLANs and gives you no default one: pass --vlan=VID";
    refused(
        &ns,
        &[
            // No line names br2: --vlan is refused (default deny).
            (
                &["--br=br2", "--fd={fd}", "--vlan=101"],
                &[
                    vlan,
                    "br2: no vlan line in the acl grants you vlan 101 on this bridge",
                ],
            ),
            (
                &["--br=br0", "--fd={fd}", &mac, "--vlan=111"],
                &[vlan, "br0: no vlan line in the acl grants you vlan 111"],
            ),
            (
                &["--br=br1", "--fd={fd}", "--vlan=5"],
                &[vlan, "br1: no vlan line in the acl grants you vlan 5"],
            ),
            // Lines name the bridge: its guests must be in a VLAN.
            (&["--br=br1", "--fd={fd}"], &[vlan, "br1: ", needs]),
            (&["--br=br0", "--fd={fd}", &mac], &[vlan, "br0: ", needs]),
            // deny wins over a vlan line.
            (
                &["--br=br3", "--fd={fd}", "--vlan=101"],
                &["failed to authorize bridge br3: access denied by acl file"],
            ),
            (
                &["--br=br2", "--fd={fd}", "--vlan=0"],
                &[PARSE, "invalid --vlan \"0\": a VLAN id is 1 to 4094"],
            ),
            (
                &["--br=br2", "--fd={fd}", "--vlan=4095"],
                &[PARSE, "invalid --vlan \"4095\": a VLAN id is 1 to 4094"],
            ),
            (
                &["--br=br2", "--fd={fd}", "--vlan=x"],
                &[PARSE, "invalid --vlan \"x\": expected a decimal VLAN id"],
            ),
            (
                &["--br=br2", "--fd={fd}", "--vlan=5", "--vlan=5"],
                &[PARSE, "duplicate --vlan"],
            ),
            (
                &["--br=br2", "--fd={fd}", "--vlan", "5"],
                &[PARSE, "unknown argument \"--vlan\""],
            ),
        ],
    );
    // The control: on br2, which no vlan line names, a call without --vlan is as before.
    let tap = alice(&ns, &["--br=br2", "--fd={fd}"]).success(false);
    assert_eq!(ns.taps(), [tap.name()]);
}

#[test]
fn bad_vlan_lines_refuse_every_request() {
    let uid = env().alice.uid;
    let cases = [
        (
            "allow br1\nvlan br1 0\n".to_owned(),
            "line 2: vlan \"br1 0\": expected VLAN ids 1 to 4094",
        ),
        (
            "allow br1\nvlan br1 user=fbh-alice 101-\n".to_owned(),
            "line 2: vlan \"br1 user=fbh-alice 101-\": expected VLAN ids",
        ),
        (
            "allow br1\nvlan-default br1 101-102\n".to_owned(),
            "line 2: vlan-default \"br1 101-102\": expected one VLAN id",
        ),
        (
            "allow br1\nvlan br1 101 # lab\n".to_owned(),
            "line 2: vlan \"br1 101 # lab\": expected `vlan BRIDGE",
        ),
    ];
    for (acl, want) in cases {
        let ns = setup(&acl);
        let file = "fdb-bridge-helper: failed to parse acl file /etc/qemu/bridge.conf ";
        refused(&ns, &[(&["--br=br1", "--fd={fd}"], &[file, want])]);
    }
    // Two defaults for alice at the same level: refused, not guessed at.
    let ns = setup(&format!(
        "allow br1\nvlan-default br1 user=fbh-alice 7\nvlan-default br1 user=#{uid} 8\n"
    ));
    refused(
        &ns,
        &[(
            &["--br=br1", "--fd={fd}"],
            &["more than one default vlan on this bridge (7, 8); name one with --vlan=VID"],
        )],
    );
}

/// The audit line names the VLAN asked for, for a refusal as for a grant.
#[test]
fn the_audit_line_names_the_vlan() {
    let ns = setup("allow br1\nvlan br1 5\n");
    let uid = env().alice.uid;
    in_ns(&ns, PRIVATE_DEV, || {
        let log = devlog::datagram();
        let call = spawn(
            &env().setuid,
            &["--br=br1", "--fd={fd}", "--vlan=6"],
            Some(&env().alice),
        );
        let out = call.finish();
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        let lines = devlog::drain(&log);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = String::from_utf8_lossy(&lines[0]);
        let want = format!(
            "uid={uid} user=fbh-alice bridge=br1 tap=- mac=- mode=- vlan=6 verdict=refused \
             reason=\"failed to authorize a vlan on bridge br1: no vlan line in the acl grants \
             you vlan 6 on this bridge\""
        );
        assert!(line.ends_with(&want), "{line}");
    });
}
