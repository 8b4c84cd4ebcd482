//! The ACL decision table: every directive and qemu-bridge-helper quirk, each case with
//! what qemu-bridge-helper 7.2 decides on the same files (`Qbh`), so that the table also
//! proves we are never more permissive than it.

use std::collections::HashMap;
use std::io;
use std::path::Path;

use super::*;
use crate::acl::{self, ReadError};

const TOP: &str = "/etc/qemu/bridge.conf";
const OURS: &str = "/etc/qemu/fdb-bridge-helper.conf";
const MAC: &str = "52:54:00:12:34:56";

#[derive(Debug, PartialEq, Eq)]
enum Out {
    Plain,
    Managed,
    Locked,
    Denied,
    NeedsMac,
    MacDenied,
    Parse(&'static str, usize),
    Read,
}

/// What qemu-bridge-helper does with the same files (it reads bridge.conf alone): allow,
/// deny, or not comparable because the files use our extension.
#[derive(Debug, PartialEq, Eq)]
enum Qbh {
    A,
    D,
    Ext,
}

/// Paths and contents; a file whose content is `None` exists but the caller cannot read it.
type Files<'a> = Vec<(&'a str, Option<&'a str>)>;

fn decide(files: &[(&str, Option<&str>)], bridge: &str, mac: bool) -> Out {
    let files: HashMap<&Path, Option<Vec<u8>>> = files
        .iter()
        .map(|(p, c)| (Path::new(*p), c.map(|c| c.as_bytes().to_vec())))
        .collect();
    let read = |p: &Path| match files.get(p) {
        Some(Some(text)) => Ok(text.clone()),
        Some(None) => Err(ReadError::Io(io::ErrorKind::PermissionDenied.into())),
        None => Err(ReadError::Io(io::ErrorKind::NotFound.into())),
    };
    let acl = match acl::load_both_with(Path::new(TOP), Path::new(OURS), &read) {
        Ok(acl) => acl,
        Err(acl::Error::Read { .. }) => return Out::Read,
        Err(acl::Error::Parse { path, line, .. }) => {
            let path = files.keys().find(|p| **p == path).unwrap().to_str().unwrap();
            return Out::Parse(Box::leak(path.to_owned().into_boxed_str()), line);
        }
    };
    let mac = mac.then(|| MacAddr::parse(MAC).unwrap());
    let alice = Caller {
        uid: 1000,
        user: Some("alice".into()),
        gids: vec![1000, 200],
        groups: vec!["alice".into(), "lab".into()],
    };
    match authorize(&acl, &IfName::new(bridge).unwrap(), mac, &alice) {
        Ok(Grant::Plain) => Out::Plain,
        Ok(Grant::Managed { locked: false, .. }) => Out::Managed,
        Ok(Grant::Managed { locked: true, .. }) => Out::Locked,
        Err(Denial::Acl) => Out::Denied,
        Err(Denial::NeedsMac) => Out::NeedsMac,
        Err(Denial::MacNotGranted(_)) => Out::MacDenied,
        Ok(Grant::Pending { .. }) | Err(Denial::NotManaged) => unreachable!("authorize never says this"),
    }
}

fn top(text: &str) -> Files<'_> {
    vec![(TOP, Some(text))]
}

fn with(text: &'static str, more: &[(&'static str, Option<&'static str>)]) -> Files<'static> {
    let mut files = vec![(TOP, Some(text))];
    files.extend_from_slice(more);
    files
}

#[test]
fn decision_table() {
    use Out::*;
    use Qbh::*;
    let long_comment = format!("#{}allow br0\n", "x".repeat(4094));
    let deep: Vec<(String, String)> = (0..9)
        .map(|i| (format!("/d{i}"), format!("include /d{}\n", i + 1)))
        .collect();
    let mut deep_files: Files = vec![(TOP, Some("allow all\ninclude /d0\n"))];
    deep_files.extend(deep.iter().map(|(p, c)| (p.as_str(), Some(c.as_str()))));

    #[rustfmt::skip]
    let cases: Vec<(&str, Files, &str, bool, Out, Qbh)> = vec![
        ("allow one", top("allow br0\n"), "br0", false, Plain, A),
        ("allow names only that bridge", top("allow br0\n"), "br1", false, Denied, D),
        ("allow all", top("allow all\n"), "br7", false, Plain, A),
        ("deny wins over allow all", top("allow all\ndeny br1\n"), "br1", false, Denied, D),
        ("deny wins whatever the order", top("deny br1\nallow all\n"), "br1", false, Denied, D),
        ("deny all wins", top("allow br0\ndeny all\n"), "br0", false, Denied, D),
        ("deny of another bridge", top("allow all\ndeny br1\n"), "br0", false, Plain, A),
        ("empty file: default deny", top(""), "br0", false, Denied, D),
        ("blank lines only", top("\n\n   \n\t\n"), "br0", false, Denied, D),
        ("comment line", top("# allow br0\n"), "br0", false, Denied, D),
        ("indented comment", top("   # allow br0\nallow br1\n"), "br0", false, Denied, D),
        ("leading whitespace", top("   allow br0\n"), "br0", false, Plain, A),
        ("leading vertical tab", top("\x0ballow br0\n"), "br0", false, Plain, A),
        ("tab separator", top("\tallow\tbr0\n"), "br0", false, Plain, A),
        ("tab then space: directive ends at the space", top("allow\t br0\n"), "br0", false, Parse(TOP, 1), D),
        ("several spaces", top("allow     br0\n"), "br0", false, Plain, A),
        ("trailing whitespace and CRLF", top("allow br0 \t\r\n"), "br0", false, Plain, A),
        ("last line without newline", top("allow br0"), "br0", false, Plain, A),
        ("duplicate lines", top("allow br0\nallow br0\n"), "br0", false, Plain, A),
        ("`ALL` is a name, not all", top("allow ALL\n"), "br0", false, Denied, D),
        ("`ALL` as a bridge name", top("allow ALL\n"), "ALL", false, Plain, A),
        ("directive without argument", top("allow br1\nallow\n"), "br1", false, Parse(TOP, 2), D),
        ("unknown directive", top("allow br0\npermit br0\n"), "br0", false, Parse(TOP, 2), D),
        ("directives are case-sensitive", top("ALLOW br0\n"), "br0", false, Parse(TOP, 1), D),
        ("16-byte name (CVE-2019-13164 class)", top("allow sixteen-bytes-xx\n"), "br0", false, Parse(TOP, 1), D),
        ("trailing comment refused, not silently part of the name", top("allow br0 # lab\n"), "br0", false, Parse(TOP, 1), D),
        ("trailing comment would silently disable a deny", top("allow all\ndeny br1 # no\n"), "br1", false, Parse(TOP, 2), A),
        ("empty name refused", top("allow all\ndeny \n"), "br0", false, Parse(TOP, 2), A),
        ("name with a slash refused", top("allow all\ndeny br/1\n"), "br0", false, Parse(TOP, 2), A),
        ("over-long line refused (fgets would split it)", top(&long_comment), "br0", false, Parse(TOP, 1), A),
        ("NUL byte refused", top("allow br0\0junk\n"), "br0", false, Parse(TOP, 1), A),
        ("unreadable top file", vec![(TOP, None)], "br0", false, Read, D),
        ("missing top file", vec![], "br0", false, Read, D),
        ("include grants", with("include /etc/qemu/inc.conf\n", &[("/etc/qemu/inc.conf", Some("allow br0\n"))]), "br0", false, Plain, A),
        ("include denies", with("allow all\ninclude /i\n", &[("/i", Some("deny br0\n"))]), "br0", false, Denied, D),
        ("missing include is skipped", with("allow br1\ninclude /nope\n", &[]), "br1", false, Plain, A),
        ("unreadable include is skipped (per-user files)", with("allow br1\ninclude /alice.conf\n", &[("/alice.conf", None)]), "br0", false, Denied, D),
        ("unreadable include does not stop the top file", with("include /alice.conf\nallow br1\n", &[("/alice.conf", None)]), "br1", false, Plain, A),
        ("bad line ends an include, earlier lines count", with("include /i\n", &[("/i", Some("allow br0\nbogus x\nallow br1\n"))]), "br0", false, Plain, A),
        ("bad line ends an include, later lines do not", with("include /i\n", &[("/i", Some("allow br0\nbogus x\nallow br1\n"))]), "br1", false, Denied, D),
        ("missing argument ends an include", with("include /i\n", &[("/i", Some("allow\nallow br1\n"))]), "br1", false, Denied, D),
        ("long name ends an include", with("include /i\n", &[("/i", Some("allow sixteen-bytes-xx\nallow br0\n"))]), "br0", false, Denied, D),
        ("an ended include does not end its parent", with("allow all\ninclude /a\n", &[("/a", Some("include /b\ndeny br1\n")), ("/b", Some("bogus x\n"))]), "br1", false, Denied, D),
        ("hazard in an include is fatal", with("allow all\ninclude /i\n", &[("/i", Some("deny br1 # x\n"))]), "br0", false, Parse("/i", 1), A),
        ("relative include refused (qbh: resolved against the cwd)", with("allow br0\ninclude inc.conf\n", &[("inc.conf", Some("deny br0\n"))]), "br0", false, Parse(TOP, 2), A),
        ("include of itself", top("allow all\ninclude /etc/qemu/bridge.conf\n"), "br0", false, Parse(TOP, 2), Ext),
        ("include cycle", with("include /a\n", &[("/a", Some("include /b\n")), ("/b", Some("allow all\ninclude /a\n"))]), "br0", false, Parse("/b", 2), Ext),
        ("include depth bounded", deep_files.clone(), "br0", false, Parse("/d6", 1), Ext),
        ("managed with mac", top("managed br0\nallow br0\n"), "br0", true, Managed, Ext),
        ("managed without mac", top("allow br0\nmanaged br0\n"), "br0", false, NeedsMac, Ext),
        ("managed does not grant access", top("managed br0\n"), "br0", true, Denied, Ext),
        ("managed all", top("allow all\nmanaged all\n"), "br5", true, Managed, Ext),
        ("unmanaged bridge ignores mac", top("allow all\nmanaged br0\n"), "br1", true, Plain, Ext),
        ("deny wins over managed", top("managed br0\nallow br0\ndeny br0\n"), "br0", true, Denied, Ext),
        ("managed from an include", with("allow br0\ninclude /m\n", &[("/m", Some("managed br0\n"))]), "br0", true, Managed, Ext),
        ("managed after a bad include line is ignored", with("allow br0\ninclude /m\n", &[("/m", Some("bogus\nmanaged br0\n"))]), "br0", true, Plain, Ext),
        ("managed long name", top("allow all\nmanaged sixteen-bytes-xx\n"), "br0", true, Parse(TOP, 2), Ext),
        ("managed needs an argument", top("allow all\nmanaged\n"), "br0", true, Parse(TOP, 2), Ext),
        ("locked implies managed", top("allow br0\nlocked br0\n"), "br0", true, Locked, Ext),
        ("locked all", top("allow all\nmanaged all\nlocked all\n"), "br3", true, Locked, Ext),
        ("locked elsewhere", top("allow all\nmanaged all\nlocked br1\n"), "br0", true, Managed, Ext),
        ("locked needs the mac", top("allow br0\nlocked br0\n"), "br0", false, NeedsMac, Ext),
        ("no mac line: any mac", top("allow br0\nmanaged br0\n"), "br0", true, Managed, Ext),
        ("mac granted to anyone", top("allow br0\nmanaged br0\nmac br0 52:54:00:*\n"), "br0", true, Managed, Ext),
        ("mac granted to the user", top("allow br0\nmanaged br0\nmac br0 user=alice 52:54:00:12:34:56\n"), "br0", true, Managed, Ext),
        ("mac granted to a group", top("allow br0\nmanaged br0\nmac br0 group=lab 52:54:00:12:*\n"), "br0", true, Managed, Ext),
        ("mac granted to someone else only", top("allow br0\nmanaged br0\nmac br0 user=bob 52:54:00:*\n"), "br0", true, MacDenied, Ext),
        ("mac outside the prefix", top("allow br0\nmanaged br0\nmac br0 52:54:01:*\n"), "br0", true, MacDenied, Ext),
        ("mac none restricts everyone", top("allow br0\nmanaged br0\nmac br0 none\n"), "br0", true, MacDenied, Ext),
        ("mac none plus a per-user grant", with("allow br0\nmanaged br0\nmac br0 none\ninclude /alice\n", &[("/alice", Some("mac br0 52:54:00:12:34:56\n"))]), "br0", true, Managed, Ext),
        ("unreadable per-user grant", with("allow br0\nmanaged br0\nmac br0 none\ninclude /alice\n", &[("/alice", None)]), "br0", true, MacDenied, Ext),
        ("mac lines of another bridge", top("allow all\nmanaged all\nmac br1 none\n"), "br0", true, Managed, Ext),
        ("mac all", top("allow all\nmanaged all\nmac all 02:*\n"), "br0", true, MacDenied, Ext),
        ("mac lines do not matter unmanaged", top("allow br0\nmac br0 none\n"), "br0", true, Plain, Ext),
        ("bad mac line is fatal, even in an include", with("allow br0\ninclude /i\n", &[("/i", Some("mac br0 52:54\nallow br1\n"))]), "br0", true, Parse("/i", 1), Ext),
        // The second top file, ours: qemu-bridge-helper never reads it.
        ("ours: managed", with("allow br0\n", &[(OURS, Some("managed br0\n"))]), "br0", true, Managed, A),
        ("ours: locked", with("allow br0\n", &[(OURS, Some("locked br0\n"))]), "br0", true, Locked, A),
        ("ours: managed needs the mac", with("allow br0\n", &[(OURS, Some("managed br0\n"))]), "br0", false, NeedsMac, A),
        ("ours: managed grants nothing by itself", with("allow br1\n", &[(OURS, Some("managed br0\n"))]), "br0", true, Denied, D),
        ("ours: mac none", with("allow br0\n", &[(OURS, Some("managed br0\nmac br0 none\n"))]), "br0", true, MacDenied, A),
        ("ours: mac lines in bridge.conf and ours add up", with("allow br0\nmanaged br0\nmac br0 none\n", &[(OURS, Some("mac br0 52:54:00:12:*\n"))]), "br0", true, Managed, Ext),
        ("ours: deny honoured", with("allow all\n", &[(OURS, Some("deny br1\n"))]), "br1", false, Denied, A),
        ("ours: allow honoured", with("", &[(OURS, Some("allow br0\n"))]), "br0", false, Plain, Ext),
        ("ours: include followed", with("allow br0\n", &[(OURS, Some("include /m\n")), ("/m", Some("managed br0\n"))]), "br0", true, Managed, A),
        ("ours: per-user include grants a mac", with("allow br0\n", &[(OURS, Some("locked br0\nmac br0 none\ninclude /alice\n")), ("/alice", Some("mac br0 52:54:00:12:34:56\n"))]), "br0", true, Locked, A),
        ("ours: unreadable per-user include skipped", with("allow br0\n", &[(OURS, Some("locked br0\nmac br0 none\ninclude /alice\n")), ("/alice", None)]), "br0", true, MacDenied, A),
        ("ours: bad line in its include ends the include", with("allow br0\n", &[(OURS, Some("include /m\n")), ("/m", Some("bogus x\nmanaged br0\n"))]), "br0", true, Plain, A),
        ("ours: may include bridge.conf", with("allow br0\n", &[(OURS, Some("include /etc/qemu/bridge.conf\nmanaged br0\n"))]), "br0", true, Managed, A),
        ("ours: mistake refuses everything", with("allow br0\n", &[(OURS, Some("managed br0\nbogus x\n"))]), "br0", true, Parse(OURS, 2), A),
        ("ours: hazard refuses everything", with("allow br0\n", &[(OURS, Some("managed br0 # lab\n"))]), "br0", true, Parse(OURS, 1), A),
        ("ours: unreadable is fatal, not absent", with("allow br0\n", &[(OURS, None)]), "br0", false, Read, A),
        ("ours alone: bridge.conf still required", vec![(OURS, Some("allow br0\n"))], "br0", false, Read, D),
    ];
    assert!(cases.len() >= 30);
    for (name, files, bridge, mac, want, qbh) in cases {
        let got = decide(&files, bridge, mac);
        assert_eq!(got, want, "{name}");
        if qbh == D {
            assert!(
                !matches!(got, Out::Plain | Out::Managed),
                "more permissive than qemu-bridge-helper: {name}"
            );
        }
    }
}

/// A MAC the bridge learned on another port is another host's: only a `mac` line that
/// names exactly that address, granted to this caller, lets a guest take it over.
#[test]
fn taking_a_learned_address_needs_an_exact_line() {
    let cases: &[(&str, bool)] = &[
        ("allow br0\nmanaged br0\n", false),
        ("allow br0\nmanaged br0\nmac br0 52:54:00:*\n", false),
        ("allow br0\nmanaged br0\nmac br0 52:54:00:12:34:*\n", false),
        ("allow br0\nmanaged br0\nmac br0 52:54:00:12:34:56\n", true),
        (
            "allow br0\nmanaged br0\nmac all user=alice 52:54:00:12:34:56\n",
            true,
        ),
        (
            "allow br0\nmanaged br0\nmac br0 52:*\nmac br0 user=bob 52:54:00:12:34:56\n",
            false,
        ),
        ("allow br0\nmanaged br0\nmac br1 52:54:00:12:34:56\n", false),
    ];
    let alice = Caller {
        uid: 1000,
        user: Some("alice".into()),
        gids: vec![1000],
        groups: vec![],
    };
    for (text, want) in cases {
        let read = |_: &Path| Ok(text.as_bytes().to_vec());
        let acl = acl::load_with(Path::new(TOP), &read).unwrap();
        let mac = Some(MacAddr::parse(MAC).unwrap());
        let got = authorize(&acl, &IfName::new("br0").unwrap(), mac, &alice);
        let take = matches!(
            got,
            Ok(Grant::Managed {
                take_learned: true,
                ..
            })
        );
        assert_eq!(take, *want, "{text:?} -> {got:?}");
    }
}

/// Without a MAC, a managed bridge gets a pending port only where the libvirt hook is
/// installed to claim it, owned by the caller; everything else is as without the hook.
#[test]
fn pending_only_with_the_hook() {
    let alice = Caller {
        uid: 1000,
        user: Some("alice".into()),
        gids: vec![1000],
        groups: vec![],
    };
    let pending = |locked| Ok(Grant::Pending { locked, owner: 1000 });
    #[rustfmt::skip]
    let cases: Vec<(&str, bool, Result<Grant, Denial>)> = vec![
        ("allow br0\nmanaged br0\n", true, pending(false)),
        ("allow br0\nmanaged br0\n", false, Err(Denial::NeedsMac)),
        ("allow br0\nlocked br0\n", true, pending(true)),
        ("allow br0\nmanaged br0\nlocked all\n", true, pending(true)),
        // The MAC is checked against the mac lines when it is claimed.
        ("allow br0\nmanaged br0\nmac br0 none\n", true, pending(false)),
        ("allow br0\n", true, Ok(Grant::Plain)),
        ("allow br0\n", false, Ok(Grant::Plain)),
        ("managed br0\n", true, Err(Denial::Acl)),
        ("allow br0\nmanaged br0\ndeny br0\n", true, Err(Denial::Acl)),
        ("allow br1\nmanaged all\n", true, Err(Denial::Acl)),
    ];
    for (text, hook, want) in cases {
        let read = |_: &Path| Ok(text.as_bytes().to_vec());
        let acl = acl::load_with(Path::new(TOP), &read).unwrap();
        let got = authorize_pending(&acl, &IfName::new("br0").unwrap(), &alice, hook);
        assert_eq!(got, want, "{text:?} hook {hook}");
    }
}

/// The refusal without the hook names every way to pass the MAC.
#[test]
fn the_needs_mac_hint_names_every_way() {
    let text = Denial::NeedsMac.to_string();
    for way in [
        "--mac=",
        "NAME@MAC",
        "/etc/libvirt/hooks/qemu.d/fdb-bridge-helper",
    ] {
        assert!(text.contains(way), "{way:?} missing in {text:?}");
    }
}
