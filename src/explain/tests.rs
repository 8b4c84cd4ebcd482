use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::*;
use crate::acl::{load_both_traced, ReadError};
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::policy::Grant;

const TOP: &str = "/etc/qemu/bridge.conf";
const OURS: &str = "/etc/qemu/fdb-bridge-helper.conf";

fn request(bridge: &str, mac: Option<&str>) -> ExplainRequest {
    ExplainRequest {
        bridge: IfName::new(bridge).unwrap(),
        mac: mac.map(|m| MacAddr::parse(m).unwrap()),
        vlan: None,
        use_vnet: true,
    }
}

fn load(files: &[(&str, Option<&str>)]) -> (Result<Acl, crate::acl::Error>, Trace) {
    let files: HashMap<&str, Option<&str>> = files.iter().copied().collect();
    let read = |p: &Path| match files.get(p.to_str().unwrap()) {
        Some(Some(text)) => Ok(text.as_bytes().to_vec()),
        Some(None) => Err(ReadError::Io(io::Error::from_raw_os_error(libc::EACCES))),
        None => Err(ReadError::Io(io::Error::from_raw_os_error(libc::ENOENT))),
    };
    load_both_traced(Path::new(TOP), Path::new(OURS), &read)
}

#[test]
fn lines_that_decide_and_nothing_unreadable() {
    let (acl, trace) = load(&[
        (
            TOP,
            Some("allow br0\nallow br1\ninclude /etc/qemu/alice.conf\ndeny all\n"),
        ),
        ("/etc/qemu/alice.conf", None),
        (
            OURS,
            Some("managed br0\nmac br0 user=alice 52:54:00:a1:*\nmac br1 none\n"),
        ),
    ]);
    let acl = acl.unwrap();
    let bob = Caller {
        uid: 1001,
        user: Some("bob".into()),
        gids: vec![1001],
        groups: vec![],
    };
    let got = matched(&acl, &trace, &request("br0", Some("52:54:00:a1:00:01")), &bob);
    let want = json!([
        { "directive": "allow", "target": "br0", "file": TOP, "line": 1, "text": "allow br0" },
        { "directive": "deny", "target": "all", "file": TOP, "line": 4, "text": "deny all" },
        { "directive": "managed", "target": "br0", "file": OURS, "line": 1, "text": "managed br0" },
        { "directive": "mac", "for_you": false, "grants_mac": false, "file": OURS, "line": 2,
          "text": "mac br0 user=alice 52:54:00:a1:*" },
    ]);
    assert_eq!(got, want);

    let files = files(&trace);
    assert_eq!(files[1]["path"], "/etc/qemu/alice.conf");
    assert_eq!(files[1]["status"], "skipped");
    assert_eq!(files[1]["why"], "skipped: Permission denied");
    assert_eq!(files[1]["included_from"]["line"], 3);
    assert_eq!(files[0]["status"], "read");
    assert_eq!(files[0]["trusted"], true);
    assert_eq!(files.as_array().unwrap().len(), 3);
}

#[test]
fn stopped_absent_and_untrusted() {
    let (_, trace) = load(&[
        (TOP, Some("include /etc/qemu/a.conf\n")),
        ("/etc/qemu/a.conf", Some("allow br0\nfoo bar\n")),
    ]);
    let files = files(&trace);
    assert_eq!(files[1]["status"], "read");
    assert!(files[1]["why"]
        .as_str()
        .unwrap()
        .contains("line 2, where it stops"));
    assert_eq!(files[2]["status"], "absent");
    assert_eq!(files[2]["trusted"], Value::Null);
}

#[test]
fn plans() {
    let mac = MacAddr::parse("52:54:00:12:34:56").unwrap();
    let call = crate::cli::Request {
        bridge: IfName::new("br0").unwrap(),
        fd: -1,
        use_vnet: true,
        mac: Some(mac),
        vlan: None,
    };
    let managed = Grant::Managed {
        mac,
        locked: true,
        take_learned: false,
    };
    let got = plan(&Plan::new(&call, managed, None));
    assert_eq!(
        got["port"],
        json!({ "learning": false, "unicast_flood": false, "locked": true, "up": true })
    );
    assert_eq!(got["fdb"]["flags"], json!(["master", "static", "sticky"]));
    assert_eq!(got["fdb"]["reservation"], "fbh-525400123456");
    assert_eq!(
        got["tap"]["flags"],
        json!(["IFF_TAP", "IFF_NO_PI", "IFF_VNET_HDR"])
    );
    assert_eq!(got["pending"], false);
    let pending = plan(&Plan::new(
        &call,
        Grant::Pending {
            locked: false,
            owner: 1000,
        },
        None,
    ));
    assert_eq!(pending["pending"], true);
    assert_eq!(pending["tap"]["owner"], 1000);
    assert_eq!(pending["port"]["up"], false);
    assert_eq!(pending["fdb"], Value::Null);
    let plain = plan(&Plan::new(&call, Grant::Plain, None));
    assert_eq!(plain["port"]["learning"], true);
    assert_eq!(plain["pin_bridge_address"], false);
}
