//! The ACL as real users see it: read with the caller's permissions, per-user includes,
//! our extension lines in includes, unreadable, broken and untrusted files.

use crate::common;

use common::{as_user, env, Netns};

fn in_bridge(ns: &Netns, tap: &str, bridge: &str) -> bool {
    ns.ip(&format!("-o link show master {bridge}"))
        .contains(&format!(" {tap}: "))
}

const PLAIN: [&str; 3] = ["--use-vnet", "--br=br0", "--fd={fd}"];

/// `include /etc/qemu/alice.conf`, root:fbh-alice 0640: only alice can read it, so only
/// alice may use br0.
#[test]
fn per_user_include_grants_only_its_reader() {
    let env = env();
    let ns = Netns::with_bridges(&["br0"]);
    ns.write_acl("bridge.conf", "# per-user files\ninclude /etc/qemu/alice.conf\n");
    ns.write_acl_as("alice.conf", "allow br0\n", 0o640, 0, env.alice.gid);
    let tap = as_user(&ns, &env.alice, &PLAIN).success(true);
    assert!(in_bridge(&ns, &tap.name(), "br0"));
    as_user(&ns, &env.bob, &PLAIN).failure_leaving(
        &ns,
        &["fdb-bridge-helper: failed to authorize bridge br0: access denied by acl file"],
        &[tap.name()],
    );
}

/// `managed` in an include file of its own (qemu-bridge-helper stops an include at its
/// first unknown line, so admins keep our lines apart).
#[test]
fn managed_line_in_an_include_takes_effect() {
    let env = env();
    let ns = Netns::with_bridges(&["br0", "br1"]);
    ns.write_acl(
        "bridge.conf",
        "allow br0\nallow br1\ninclude /etc/qemu/managed.conf\n",
    );
    ns.write_acl("managed.conf", "  managed br0\n");
    let tap = as_user(
        &ns,
        &env.alice,
        &["--br=br0", "--fd={fd}", "--mac=52:54:00:aa:bb:01"],
    )
    .success(false);
    let port = ns.bridge(&format!("-d link show dev {}", tap.name()));
    assert!(
        port.contains("learning off") && port.contains("flood off"),
        "{port}"
    );
    let fdb = ns.bridge("fdb show br br0");
    assert!(
        fdb.contains(&format!(
            "52:54:00:aa:bb:01 dev {} sticky master br0 static",
            tap.name()
        )),
        "{fdb}"
    );
    as_user(&ns, &env.alice, &PLAIN).failure_leaving(
        &ns,
        &["failed to authorize bridge br0: ", "--mac"],
        &[tap.name()],
    );
    // br1 is not named by the managed line: a plain port, --mac ignored.
    let plain = as_user(
        &ns,
        &env.alice,
        &["--br=br1", "--fd={fd}", "--mac=52:54:00:aa:bb:02"],
    )
    .success(false);
    let port = ns.bridge(&format!("-d link show dev {}", plain.name()));
    assert!(
        port.contains("learning on") && port.contains("flood on"),
        "{port}"
    );
    assert!(!ns.bridge("fdb show").contains("52:54:00:aa:bb:02"));
}

/// qemu-bridge-helper compatibility: an include ends quietly at its first unknown line
/// (its earlier lines count); an unreadable include is skipped.
#[test]
fn include_stops_at_unknown_line_and_unreadable_include_is_skipped() {
    let env = env();
    let ns = Netns::with_bridges(&["br0", "br1", "br2"]);
    ns.write_acl(
        "bridge.conf",
        "include /etc/qemu/mixed.conf\ninclude /etc/qemu/secret.conf\nallow br2\n",
    );
    ns.write_acl("mixed.conf", "allow br0\nfrobnicate br1\nallow br1\n");
    ns.write_acl_as("secret.conf", "deny br2\n", 0o600, 0, 0);
    let tap = as_user(&ns, &env.alice, &PLAIN).success(true);
    as_user(&ns, &env.alice, &["--br=br1", "--fd={fd}"]).failure_leaving(
        &ns,
        &["failed to authorize bridge br1: access denied by acl file"],
        &[tap.name()],
    );
    // alice cannot read secret.conf, so its deny does not apply to her.
    let tap2 = as_user(&ns, &env.alice, &["--br=br2", "--fd={fd}"]).success(false);
    assert!(in_bridge(&ns, &tap2.name(), "br2"));
}

#[test]
fn allow_all_with_deny() {
    let env = env();
    let ns = Netns::with_bridges(&["br0", "br1"]);
    ns.write_acl("bridge.conf", "deny br1\nallow all\n");
    let tap = as_user(&ns, &env.bob, &PLAIN).success(true);
    as_user(&ns, &env.bob, &["--br=br1", "--fd={fd}"]).failure_leaving(
        &ns,
        &["failed to authorize bridge br1: access denied by acl file"],
        &[tap.name()],
    );
}

#[test]
fn unreadable_missing_or_broken_top_file_fails() {
    let env = env();
    let ns = Netns::with_bridges(&["br0"]);
    ns.write_acl_as("bridge.conf", "allow br0\n", 0o600, 0, 0);
    as_user(&ns, &env.alice, &PLAIN).failure(
        &ns,
        &["fdb-bridge-helper: failed to read acl file /etc/qemu/bridge.conf: Permission denied"],
    );
    std::fs::remove_file(ns.etc.join("bridge.conf")).unwrap();
    as_user(&ns, &env.alice, &PLAIN).failure(
        &ns,
        &["fdb-bridge-helper: failed to read acl file /etc/qemu/bridge.conf: No such file or directory"],
    );
    ns.write_acl("bridge.conf", "allow br0\nfrobnicate br0\n");
    as_user(&ns, &env.alice, &PLAIN).failure(
        &ns,
        &["fdb-bridge-helper: failed to parse acl file /etc/qemu/bridge.conf line 2: "],
    );
    // Control: the same directory with a good file works.
    ns.write_acl("bridge.conf", "allow br0\n");
    as_user(&ns, &env.alice, &PLAIN).success(true);
}

/// README: only files no one but root could have written are honoured.
#[test]
fn acl_files_writable_by_others_are_not_trusted() {
    let env = env();
    let ns = Netns::with_bridges(&["br0"]);
    ns.write_acl("bridge.conf", "include /etc/qemu/alice.conf\n");
    ns.write_acl_as("alice.conf", "allow br0\n", 0o644, env.alice.uid, env.alice.gid);
    as_user(&ns, &env.alice, &PLAIN).failure(&ns, &["/etc/qemu/alice.conf", "not trusted"]);
    ns.write_acl_as("bridge.conf", "allow br0\n", 0o664, 0, env.staff_gid);
    as_user(&ns, &env.alice, &PLAIN).failure(&ns, &["/etc/qemu/bridge.conf", "not trusted"]);
}
