//! The VLAN decision table, after the access decision as `run` makes them: `deny` and a
//! missing `allow` refuse before any VLAN is looked at.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::*;
use crate::acl::{self, ReadError};
use crate::mac::MacAddr;
use crate::policy::{authorize, Denial, Grant};

const TOP: &str = "/etc/qemu/bridge.conf";

/// Paths and contents; `None`: the file exists but the caller cannot read it.
type Files<'a> = Vec<(&'a str, Option<&'a str>)>;

#[derive(Debug, PartialEq, Eq)]
enum Out {
    /// Granted: managed?, the port's VLAN.
    Port(bool, Option<u16>),
    Acl,
    NotGranted(u16),
    NeedsVlan,
    Defaults(u16, u16),
    Parse(usize),
}

fn alice() -> Caller {
    Caller {
        uid: 1000,
        user: Some("alice".into()),
        gids: vec![1000, 200],
        groups: vec!["alice".into(), "lab".into()],
    }
}

fn decide(files: &[(&str, Option<&str>)], bridge: &str, vlan: Option<u16>) -> Out {
    let files: HashMap<&Path, Option<&str>> = files.iter().map(|(p, c)| (Path::new(*p), *c)).collect();
    let read = |p: &Path| match files.get(p) {
        Some(Some(text)) => Ok(text.as_bytes().to_vec()),
        Some(None) => Err(ReadError::Io(io::ErrorKind::PermissionDenied.into())),
        None => Err(ReadError::Io(io::ErrorKind::NotFound.into())),
    };
    let acl = match acl::load_with(Path::new(TOP), &read) {
        Ok(acl) => acl,
        Err(acl::Error::Parse { line, .. }) => return Out::Parse(line),
        Err(e) => panic!("{e}"),
    };
    let (bridge, caller) = (IfName::new(bridge).unwrap(), alice());
    let mac = Some(MacAddr::parse("52:54:00:12:34:56").unwrap());
    let managed = match authorize(&acl, &bridge, mac, &caller) {
        Ok(Grant::Plain) => false,
        Ok(Grant::Managed { .. } | Grant::Pending { .. }) => true,
        Err(Denial::Acl) => return Out::Acl,
        Err(other) => panic!("{other}"),
    };
    let vlan = vlan.map(|v| Vid::new(v).unwrap());
    match authorize_vlan(&acl, &bridge, vlan, &caller) {
        Ok(vid) => Out::Port(managed, vid.map(Vid::get)),
        Err(VlanDenial::NotGranted(v)) => Out::NotGranted(v.get()),
        Err(VlanDenial::NeedsVlan) => Out::NeedsVlan,
        Err(VlanDenial::Defaults(a, b)) => Out::Defaults(a.get(), b.get()),
    }
}

#[test]
fn decision_table() {
    use Out::*;
    let top = |text| vec![(TOP, Some(text))];
    #[rustfmt::skip]
    let cases: Vec<(&str, Files, &str, Option<u16>, Out)> = vec![
        ("no vlan lines: as before", top("allow br0\n"), "br0", None, Port(false, None)),
        ("no vlan lines: --vlan refused", top("allow br0\n"), "br0", Some(101), NotGranted(101)),
        ("managed, no vlan lines", top("allow br0\nmanaged br0\n"), "br0", None, Port(true, None)),
        ("granted", top("allow br0\nvlan br0 101-110\n"), "br0", Some(105), Port(false, Some(105))),
        ("granted, managed", top("allow br0\nmanaged br0\nvlan br0 101\n"), "br0", Some(101), Port(true, Some(101))),
        ("outside the range", top("allow br0\nvlan br0 101-110\n"), "br0", Some(111), NotGranted(111)),
        ("a list", top("allow br0\nvlan br0 5,101-103\n"), "br0", Some(5), Port(false, Some(5))),
        ("deny wins", top("allow br0\nvlan br0 101\ndeny br0\n"), "br0", Some(101), Acl),
        ("deny all wins over a default", top("allow br0\nvlan-default br0 101\ndeny all\n"), "br0", None, Acl),
        ("a vlan line grants no access", top("vlan br0 101\n"), "br0", Some(101), Acl),
        ("a default grants no access", top("vlan-default br0 101\n"), "br0", None, Acl),
        ("lines name the bridge: a vlan is needed", top("allow br0\nvlan br0 101\n"), "br0", None, NeedsVlan),
        ("none: a vlan is needed, none granted", top("allow br0\nvlan br0 none\n"), "br0", None, NeedsVlan),
        ("none grants nothing", top("allow br0\nvlan br0 none\n"), "br0", Some(101), NotGranted(101)),
        ("none plus a grant", top("allow br0\nvlan br0 none\nvlan br0 user=alice 101\n"), "br0", Some(101), Port(false, Some(101))),
        ("someone else's grant", top("allow br0\nvlan br0 user=bob 101\n"), "br0", Some(101), NotGranted(101)),
        ("someone else's grant still names the bridge", top("allow br0\nvlan br0 user=bob 101\n"), "br0", None, NeedsVlan),
        ("a group's grant", top("allow br0\nvlan br0 group=lab 101\n"), "br0", Some(101), Port(false, Some(101))),
        ("lines of another bridge", top("allow all\nvlan br1 101\n"), "br0", None, Port(false, None)),
        ("lines of another bridge grant nothing here", top("allow all\nvlan br1 101\n"), "br0", Some(101), NotGranted(101)),
        ("vlan all", top("allow all\nvlan all 101\n"), "br7", Some(101), Port(false, Some(101))),
        ("default", top("allow br0\nvlan-default br0 user=alice 101\n"), "br0", None, Port(false, Some(101))),
        ("a default is a grant", top("allow br0\nvlan-default br0 user=alice 101\n"), "br0", Some(101), Port(false, Some(101))),
        ("a default grants only itself", top("allow br0\nvlan-default br0 user=alice 101\n"), "br0", Some(102), NotGranted(102)),
        ("--vlan beats the default", top("allow br0\nvlan-default br0 101\nvlan br0 102\n"), "br0", Some(102), Port(false, Some(102))),
        ("someone else's default", top("allow br0\nvlan-default br0 user=bob 101\n"), "br0", None, NeedsVlan),
        ("managed default", top("allow br0\nmanaged br0\nvlan-default br0 group=#200 101\n"), "br0", None, Port(true, Some(101))),
        ("user beats anyone", top("allow br0\nvlan-default br0 100\nvlan-default br0 user=alice 101\n"), "br0", None, Port(false, Some(101))),
        ("group beats anyone", top("allow br0\nvlan-default br0 group=lab 102\nvlan-default br0 100\n"), "br0", None, Port(false, Some(102))),
        ("user beats group, even for all", top("allow br0\nvlan-default br0 group=lab 102\nvlan-default all user=#1000 103\n"), "br0", None, Port(false, Some(103))),
        ("the bridge beats all", top("allow br0\nvlan-default all user=alice 103\nvlan-default br0 user=alice 104\n"), "br0", None, Port(false, Some(104))),
        ("the same default twice", top("allow br0\nvlan-default br0 user=alice 101\nvlan-default br0 user=#1000 101\n"), "br0", None, Port(false, Some(101))),
        ("two defaults disagree", top("allow br0\nvlan-default br0 group=#200 105\nvlan-default br0 group=lab 102\n"), "br0", None, Defaults(102, 105)),
        ("a better default settles a disagreement", top("allow br0\nvlan-default br0 100\nvlan-default br0 99\nvlan-default br0 user=alice 7\n"), "br0", None, Port(false, Some(7))),
        ("per-user include grants", vec![(TOP, Some("allow br0\ninclude /alice\n")), ("/alice", Some("vlan br0 101\n"))], "br0", Some(101), Port(false, Some(101))),
        ("unreadable include grants nothing", vec![(TOP, Some("allow br0\ninclude /alice\n")), ("/alice", None)], "br0", Some(101), NotGranted(101)),
        ("unreadable include names nothing", vec![(TOP, Some("allow br0\ninclude /alice\n")), ("/alice", None)], "br0", None, Port(false, None)),
        ("none for all plus a per-user default", vec![(TOP, Some("allow br0\nvlan br0 none\ninclude /alice\n")), ("/alice", Some("vlan-default br0 101\n"))], "br0", None, Port(false, Some(101))),
        ("bad vlan line is fatal, even in an include", vec![(TOP, Some("allow br0\ninclude /i\n")), ("/i", Some("vlan br0 0\nallow br1\n"))], "br0", None, Parse(1)),
        ("bad vlan-default line", top("allow br0\nvlan-default br0 101-102\n"), "br0", None, Parse(2)),
    ];
    for (name, files, bridge, vlan, want) in cases {
        assert_eq!(decide(&files, bridge, vlan), want, "{name}");
    }
}

#[test]
fn messages() {
    let vid = |v| Vid::new(v).unwrap();
    assert_eq!(
        VlanDenial::NotGranted(vid(103)).to_string(),
        "no vlan line in the acl grants you vlan 103 on this bridge"
    );
    assert!(VlanDenial::NeedsVlan.to_string().contains("--vlan=VID"));
    assert!(VlanDenial::Defaults(vid(1), vid(2))
        .to_string()
        .contains("(1, 2)"));
}
