use super::*;

fn nic(tap: &str, mac: &str) -> Nic {
    Nic {
        tap: tap.into(),
        mac: mac.into(),
    }
}

/// A domain as libvirt 9.0 passes it at `start begin`, with `devices` inside.
fn domain(devices: &str) -> String {
    format!(
        "<domain type='qemu' id='5'>\n  <name>v1</name>\n  <memory unit='KiB'>65536</memory>\n  \
         <os><type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type></os>\n  <devices>\n    \
         <emulator>/usr/bin/qemu-system-x86_64</emulator>\n{devices}  </devices>\n</domain>\n"
    )
}

const BRIDGE: &str = "<interface type='bridge'>
      <mac address='52:54:00:11:22:33'/>
      <source bridge='br0'/>
      <target dev='tap0'/>
      <model type='virtio'/>
      <alias name='net0'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>
";

/// A name, a domain XML, and the bridge interfaces with a tap in it.
type Case = (&'static str, String, Result<Vec<Nic>, XmlError>);

#[test]
fn xml_table() {
    let second = BRIDGE.replace("tap0", "tap1").replace(":33'", ":34'");
    #[rustfmt::skip]
    let cases: Vec<Case> = vec![
        ("one bridge interface", domain(BRIDGE), Ok(vec![nic("tap0", "52:54:00:11:22:33")])),
        ("two, in order", domain(&format!("{BRIDGE}{second}")),
         Ok(vec![nic("tap0", "52:54:00:11:22:33"), nic("tap1", "52:54:00:11:22:34")])),
        ("no interface", domain(""), Ok(vec![])),
        ("a network interface is not ours", domain(&BRIDGE.replace("'bridge'>", "'network'>")), Ok(vec![])),
        ("a user interface is not ours", domain("<interface type='user'><mac address='52:54:00:00:00:01'/></interface>\n"), Ok(vec![])),
        ("an ethernet interface with a tap is not ours", domain(&BRIDGE.replace("'bridge'>", "'ethernet'>")), Ok(vec![])),
        ("no target yet (prepare begin)", domain(&BRIDGE.replace("<target dev='tap0'/>", "")), Ok(vec![])),
        ("a target without dev", domain(&BRIDGE.replace("<target dev='tap0'/>", "<target/>")), Ok(vec![])),
        ("a target that names no link", domain(&BRIDGE.replace("tap0", "../../x")), Ok(vec![])),
        ("an over-long target", domain(&BRIDGE.replace("tap0", "tap0123456789abcd")), Ok(vec![])),
        ("a tap without a MAC", domain(&BRIDGE.replace("<mac address='52:54:00:11:22:33'/>", "")),
         Err(XmlError::NoMac { tap: "tap0".into() })),
        ("attributes in double quotes", domain(&BRIDGE.replace('\'', "\"")), Ok(vec![nic("tap0", "52:54:00:11:22:33")])),
        ("an interface in metadata is not a device",
         "<domain><metadata><interface type='bridge'><mac address='52:54:00:00:00:09'/>\
          <target dev='tap9'/></interface></metadata><devices/></domain>".to_owned(),
         Ok(vec![])),
        ("an interface in another namespace is not libvirt's",
         domain(&BRIDGE.replace("<interface ", "<x:interface xmlns:x='urn:x' ").replace("</interface>", "</x:interface>")),
         Ok(vec![])),
        ("not a domain", "<network><name>x</name></network>".into(), Err(XmlError::NotADomain("network".into()))),
    ];
    for (name, xml, want) in cases {
        assert_eq!(bridge_nics(&xml), want, "{name}");
    }
}

#[test]
fn bad_xml_is_an_error() {
    let laughs = "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;'>]>\
                  <domain><devices>&b;</devices></domain>";
    for (name, xml) in [
        ("truncated", &domain(BRIDGE)[..200]),
        ("empty", ""),
        ("not XML", "tap0 52:54:00:11:22:33"),
        ("a DTD (entity expansion)", laughs),
    ] {
        assert!(matches!(bridge_nics(xml), Err(XmlError::Parse(_))), "{name}");
    }
}

#[test]
fn only_start_begin() {
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    #[rustfmt::skip]
    let cases: &[(&[&str], bool)] = &[
        (&["v1", "start", "begin", "-"], true),
        (&["v1", "start", "begin"], true),
        (&["v1", "prepare", "begin", "-"], false),
        (&["v1", "started", "begin", "-"], false),
        (&["v1", "stopped", "end", "-"], false),
        (&["v1", "release", "end", "-"], false),
        (&["v1", "migrate", "begin", "-"], false),
        (&["v1", "restore", "begin", "-"], false),
        (&["v1", "start", "end", "-"], false),
        (&["start", "begin"], false),
        (&[], false),
    ];
    for (a, want) in cases {
        assert_eq!(is_start_begin(&args(a)), *want, "{a:?}");
    }
}

#[test]
fn privileges_table() {
    let status = |uid: &str, caps: &str| {
        format!("Name:\thook\nUid:\t{uid}\nGid:\t1000\t1000\t1000\t1000\nCapEff:\t{caps}\n")
    };
    #[rustfmt::skip]
    let cases = [
        (status("1000\t1000\t1000\t1000", "0000000000000000"), Privileges::User),
        (status("0\t0\t0\t0", "000001ffffffffff"), Privileges::Root),
        // Setuid: the effective uid differs.
        (status("1000\t0\t0\t0", "000001ffffffffff"), Privileges::Elevated),
        (status("1000\t1001\t1001\t1001", "0000000000000000"), Privileges::Elevated),
        // File capabilities.
        (status("1000\t1000\t1000\t1000", "0000000000001000"), Privileges::Elevated),
        ("garbage".to_owned(), Privileges::Elevated),
    ];
    for (text, want) in cases {
        assert_eq!(privileges(&text), want, "{text:?}");
    }
}

#[test]
fn pending_table() {
    #[rustfmt::skip]
    let cases = [
        ("0\n", "0x1002\n", true),
        ("0", "0x1002", true),
        // Claimed in one step (--mac): up.
        ("0\n", "0x1003\n", false),
        // A plain port.
        ("1\n", "0x1002\n", false),
        ("1\n", "0x1003\n", false),
        ("", "0x1002", false),
        ("0", "", false),
    ];
    for (learning, flags, want) in cases {
        assert_eq!(is_pending(learning, flags), want, "{learning:?} {flags:?}");
    }
}

#[test]
fn messages() {
    let refused = Error::Refused {
        tap: "tap0".into(),
        status: std::os::unix::process::ExitStatusExt::from_raw(1 << 8),
        stderr: "fdb-bridge-helper: failed to authorize bridge br0: no mac line\n".into(),
    };
    assert_eq!(
        refused.to_string(),
        "fdb-bridge-helper: failed to authorize bridge br0: no mac line"
    );
    let silent = Error::Refused {
        tap: "tap0".into(),
        status: std::os::unix::process::ExitStatusExt::from_raw(31),
        stderr: String::new(),
    };
    assert_eq!(
        silent.to_string(),
        "fdb-bridge-helper-libvirt-hook: failed to claim tap0: fdb-bridge-helper signal: 31 (SIGSYS)"
    );
    let timeout = Error::TimedOut { tap: "tap0".into() }.to_string();
    assert!(
        timeout.starts_with("fdb-bridge-helper-libvirt-hook: failed to claim tap0: "),
        "{timeout}"
    );
}
