//! `--explain` for real: the setuid copy run as an unprivileged user in a namespace, its
//! JSON checked against what the real call then does, and against what the caller may see.

use std::process::Output;

use crate::common::{env, managed_args, strs, Call, Install, Netns, Run, TestUser};
use serde_json::Value;

const SECRET: &str = "allow br-secret-9\n";

/// br0 managed; alice's MACs by a `mac` line; a per-user include only alice can read.
fn setup() -> Netns {
    let env = env();
    let ns = Netns::new();
    ns.add_bridge("br0");
    ns.add_veth("br0", "vb0", "vp0");
    ns.write_acl("bridge.conf", "allow br0\ninclude /etc/qemu/secret.conf\n");
    ns.write_acl_as("secret.conf", SECRET, 0o640, 0, env.alice.gid);
    ns.write_acl(
        "fdb-bridge-helper.conf",
        &format!(
            "# ours\nmanaged br0\nmac br0 user={} 52:54:00:a1:*\n",
            env.alice.name
        ),
    );
    ns
}

fn explain(ns: &Netns, user: &TestUser, args: &[&str]) -> (Output, Value) {
    let out = ns
        .command(&Run::user(user, Install::Setuid), &env().setuid, args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (out, json)
}

#[test]
fn refused_and_nothing_of_an_unreadable_include() {
    let (env, ns) = (env(), setup());
    let mac = "52:54:00:12:34:56";
    let fdb_before = ns.bridge("fdb show br br0");
    let (out, json) = explain(&ns, &env.bob, &["--explain", "--br=br0", &format!("--mac={mac}")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "refused: exit 1; {stdout}");
    assert_eq!(json["verdict"], "deny", "{stdout}");
    assert!(
        stdout.contains("\"matched\"") && stdout.contains("\"plan\""),
        "{stdout}"
    );
    // The same words as the real call's refusal.
    let real = Call::new(Install::Setuid, &env.bob, &strs(&managed_args(mac))).run(&ns);
    real.failure(&ns, &["no mac line in the acl grants you"]);
    let reason = json["reason"].as_str().unwrap();
    assert_eq!(real.stderr, format!("fdb-bridge-helper: {reason}\n"));
    // The caller, as NSS sees them.
    assert_eq!(json["caller"]["uid"], env.bob.uid);
    assert_eq!(json["caller"]["user"], env.bob.name);
    let gids: Vec<_> = json["caller"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gid"].clone())
        .collect();
    assert!(gids.contains(&Value::from(env.bob.gid)), "{gids:?}");
    // The unreadable include: its path and why, nothing of its content.
    let files = json["files"].as_array().unwrap();
    let paths: Vec<_> = files.iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "/etc/qemu/bridge.conf",
            "/etc/qemu/secret.conf",
            "/etc/qemu/fdb-bridge-helper.conf"
        ]
    );
    assert_eq!(files[1]["status"], "skipped");
    assert_eq!(files[1]["why"], "skipped: Permission denied");
    assert!(
        !stdout.contains("br-secret"),
        "content of an unreadable file: {stdout}"
    );
    // The lines that decided: allow br0, managed br0, and alice's mac line, not for bob.
    let texts: Vec<_> = json["matched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let mac_line = format!("mac br0 user={} 52:54:00:a1:*", env.alice.name);
    assert_eq!(texts, ["allow br0", "managed br0", mac_line.as_str()]);
    assert_eq!(json["matched"][2]["for_you"], false);
    assert_eq!(json["matched"][2]["line"], 3);
    assert_eq!(json["plan"], Value::Null);
    // The bridge as the kernel has it: the veth port, learning and flooding on.
    assert_eq!(json["bridge"]["is_bridge"], true);
    let port = &json["bridge"]["ports"][0];
    assert_eq!(
        (port["name"].as_str(), port["learning"].as_bool()),
        (Some("vb0"), Some(true))
    );
    // Nothing created or changed.
    assert!(ns.taps().is_empty());
    assert_eq!(ns.bridge("fdb show br br0"), fdb_before);
}

#[test]
fn allowed_then_foreseen_as_the_kernel_will_refuse() {
    let (env, ns) = (env(), setup());
    let mac = "52:54:00:a1:00:01";
    let args = ["--explain", "--br=br0", "--use-vnet", &format!("--mac={mac}")];
    let (out, json) = explain(&ns, &env.alice, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "allowed: exit 0; {stdout}");
    assert_eq!(json["verdict"], "allow");
    assert_eq!(json["reason"], Value::Null);
    // Alice reads her include: read, trusted.
    assert_eq!(json["files"][1]["status"], "read", "{stdout}");
    let plan = &json["plan"];
    assert_eq!(plan["port"]["learning"], false);
    assert_eq!(plan["port"]["unicast_flood"], false);
    assert_eq!(plan["fdb"]["mac"], mac);
    assert_eq!(plan["fdb"]["reservation"], "fbh-525400a10001");
    assert_eq!(plan["pending"], false);
    assert_eq!(json["bridge"]["fdb_entry"]["port"], Value::Null);
    assert!(ns.taps().is_empty(), "--explain created a tap");

    // The real call takes the MAC; now --explain sees the port and the entry, and foresees
    // the refusal a second real call meets.
    let _nic = Call::new(Install::Setuid, &env.alice, &strs(&managed_args(mac)))
        .run(&ns)
        .success(true);
    let tap = ns.taps().pop().unwrap();
    let (out, json) = explain(&ns, &env.alice, &args);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json["bridge"]["fdb_entry"]["port"], tap.as_str());
    assert_eq!(json["bridge"]["fdb_entry"]["kind"], "static");
    let ports = json["bridge"]["ports"].as_array().unwrap();
    let port = ports.iter().find(|p| p["name"] == tap.as_str()).unwrap();
    assert_eq!(
        (port["learning"].as_bool(), port["flood"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(port["tap"], true);
    let real = Call::new(Install::Setuid, &env.alice, &strs(&managed_args(mac))).run(&ns);
    let reason = json["reason"].as_str().unwrap();
    let why = reason.split_once(": ").unwrap().1;
    assert!(
        reason.starts_with(&format!("failed to add fdb entry {mac} on the new tap:")),
        "{reason}"
    );
    assert!(real.stderr.contains(why), "{reason} vs {}", real.stderr);
}

#[test]
fn strict_arguments() {
    let (env, ns) = (env(), setup());
    for args in [
        &["--explain", "--br=br0", "--fd=3"][..],
        &["--explain"],
        &["--explain", "--br=br0", "--br=br0"],
    ] {
        let (out, _) = explain(&ns, &env.bob, args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stderr.starts_with("fdb-bridge-helper: failed to parse arguments: "),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}
