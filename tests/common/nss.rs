//! Callers from NSS sources other than /etc/passwd, and callers no source knows.
//!
//! The real non-files source is Debian's libnss-extrausers, which reads
//! /var/lib/extrausers/{passwd,group}. A test writes its own copies of those files and an
//! nsswitch.conf that keeps Debian's stock `systemd` ahead of `extrausers` (the module a
//! statically linked glibc crashed in), and bind-mounts them in its mount namespace only:
//! the users exist there and nowhere else on the host.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::{Install, Netns, Run};

pub const NSSWITCH: &str = "passwd: files systemd extrausers\ngroup: files systemd extrausers\n";

/// A user of the extrausers source: primary group `NAME` (`gid`), supplementary group
/// `lab` (`lab_gid`), all of them unknown to /etc/passwd and /etc/group.
pub struct DirUser {
    pub name: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub lab: &'static str,
    pub lab_gid: u32,
}

pub const DIR_USER: DirUser = DirUser {
    name: "fbh-dir-user",
    uid: 3_999_100_001,
    gid: 3_999_100_001,
    lab: "fbh-dir-lab",
    lab_gid: 3_999_100_002,
};

/// Ids that no source knows, not even the extrausers files of [`extrausers`].
pub const UNKNOWN_UID: u32 = 3_999_000_001;
pub const UNKNOWN_GID: u32 = 3_999_000_002;
pub const UNKNOWN_SUPP_GID: u32 = 3_999_000_003;

/// Writes the nsswitch.conf and the extrausers files (holding [`DIR_USER`]) under
/// `ns.dir` and returns the bind mounts that put them in place, for [`Run::binds`].
/// Panics unless the NSS module is installed: a test must never pass without it.
pub fn extrausers(ns: &Netns) -> Vec<(PathBuf, PathBuf)> {
    let dirs = [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib",
        "/usr/lib",
    ];
    assert!(
        dirs.iter()
            .any(|d| Path::new(d).join("libnss_extrausers.so.2").exists()),
        "libnss_extrausers.so.2 is missing: run packaging/deps.sh (libnss-extrausers)"
    );
    let u = &DIR_USER;
    let dir = ns.dir.join("extrausers");
    fs::create_dir(&dir).unwrap();
    let passwd = format!(
        "{}:x:{}:{}::/nonexistent:/usr/sbin/nologin\n",
        u.name, u.uid, u.gid
    );
    let group = format!("{}:x:{}:\n{}:x:{}:{}\n", u.name, u.gid, u.lab, u.lab_gid, u.name);
    let nsswitch = ns.dir.join("nsswitch.conf");
    for (path, text) in [
        (dir.join("passwd"), passwd.as_str()),
        (dir.join("group"), &group),
        (nsswitch.clone(), NSSWITCH),
    ] {
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    }
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    vec![
        (nsswitch, PathBuf::from("/etc/nsswitch.conf")),
        (dir, PathBuf::from("/var/lib/extrausers")),
    ]
}

/// As the numbers `uid`, `gid` and supplementary `groups` (names play no part), with
/// `binds`; `install` as [`Run::user`] has it.
pub fn run_as_ids(
    install: Install,
    uid: u32,
    gid: u32,
    groups: &[u32],
    binds: &[(PathBuf, PathBuf)],
) -> Run<'static> {
    Run {
        tun0666: install == Install::FileCaps,
        binds: binds.to_vec(),
        ids: Some((uid, gid, groups.to_vec())),
        ..Run::default()
    }
}

/// `getent DATABASE KEY` inside `ns` with `binds`: the entry, or `None` if no source
/// knows the key. Checks a test's premises with the system's own resolver.
pub fn getent(ns: &Netns, binds: &[(PathBuf, PathBuf)], database: &str, key: &str) -> Option<String> {
    let run = Run {
        binds: binds.to_vec(),
        ..Run::root()
    };
    let out = ns
        .command(&run, Path::new("/usr/bin/getent"), &[database, key])
        .output()
        .unwrap();
    match out.status.code() {
        Some(0) => Some(String::from_utf8(out.stdout).unwrap()),
        Some(2) => None,
        other => panic!(
            "getent {database} {key}: {other:?} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}
