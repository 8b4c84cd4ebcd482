//! The walk on a table file system: each path as the kernel would resolve it, or the
//! refusal naming the directory that makes it untrusted.

use std::collections::HashMap;

use super::*;

const ALICE: u32 = 1000;

fn id(ino: u64, uid: u32, mode: u32) -> Id {
    Id {
        dev: 1,
        ino,
        uid,
        mode,
    }
}

fn dir(ino: u64, uid: u32, mode: u32) -> Node {
    Node::Dir(id(ino, uid, mode))
}

fn file(ino: u64) -> Node {
    Node::Other(id(ino, 0, 0o644))
}

fn link(to: &str) -> Node {
    Node::Link(to.into())
}

/// Root-only unless said otherwise; /e/u is alice's, /e/w is world-writable (sticky).
fn table() -> HashMap<PathBuf, Node> {
    let mut fs: HashMap<PathBuf, Node> = [
        ("/", dir(1, 0, 0o755)),
        ("/e", dir(2, 0, 0o755)),
        ("/e/a.conf", file(3)),
        ("/e/u", dir(4, ALICE, 0o755)),
        ("/e/u/l", link("/e/r")),
        ("/e/u/up", link("..")),
        ("/e/r", dir(5, 0, 0o755)),
        ("/e/r/a.conf", file(6)),
        ("/e/hop", link("/e/u/l")),
        ("/e/viaup", link("/e/u/up/a.conf")),
        ("/e/dotdot", link("/e/u/../a.conf")),
        ("/e/rel", link("r/a.conf")),
        ("/e/d", dir(7, 0, 0o755)),
        ("/e/d/c", dir(8, 0, 0o755)),
        ("/e/d/c/back", link("./..//r/../r/a.conf")),
        ("/e/d/r", dir(9, 0, 0o755)),
        ("/e/d/r/a.conf", file(10)),
        ("/e/deep", link("/e/d/c")),
        ("/e/loop", link("loop")),
        ("/e/w", dir(11, 0, 0o1777)),
        ("/e/w/a.conf", file(12)),
        ("/e/w/run", dir(13, ALICE, 0o755)),
        ("/e/w/run/a.conf", file(14)),
        ("/e/sub", link("/e/w/run")),
        ("/e/f", link("/e/w/a.conf")),
        ("/e/gone", link("/e/u/none")),
        ("/e/empty", link("")),
    ]
    .into_iter()
    .map(|(p, n)| (PathBuf::from(p), n))
    .collect();
    // /e/c0 -> c1 -> ... -> c40 -> a.conf: 41 links from c0, 40 from c1.
    for i in 0..=40 {
        let to = if i == 40 {
            "a.conf".into()
        } else {
            format!("c{}", i + 1)
        };
        fs.insert(format!("/e/c{i}").into(), link(&to));
    }
    fs
}

#[derive(Debug)]
enum Want {
    Ino(u64),
    Untrusted(&'static str),
    Errno(i32),
}

#[test]
fn walk_resolves_like_the_kernel_and_names_untrusted_hops() {
    use Want::*;
    let alice = "is owned by uid 1000, not root";
    #[rustfmt::skip]
    let cases: Vec<(&str, Want, String)> = vec![
        ("/e/a.conf", Ino(3), "plain".into()),
        ("/e/../../e/./a.conf", Ino(3), "`..` at / stays at /".into()),
        ("/e/", Ino(2), "a directory: read() refuses it".into()),
        ("/e/rel", Ino(6), "relative target, against the link's directory".into()),
        ("/e/deep/../r/a.conf", Ino(10), "`..` after a link: the real parent, /e/d".into()),
        ("/e/deep/back", Ino(10), "relative target with `.`, `//` and `..`".into()),
        ("/e/dotdot", Ino(3), "passing alice's directory by `..` looks nothing up in it".into()),
        ("/e/c1", Ino(3), "40 links".into()),
        ("/e/c0", Errno(libc::ELOOP), "41 links".into()),
        ("/e/loop", Errno(libc::ELOOP), "a loop".into()),
        ("/e/empty", Errno(libc::ENOENT), "an empty target".into()),
        ("/e/none", Errno(libc::ENOENT), "missing".into()),
        ("/e/a.conf/x", Errno(libc::ENOTDIR), "a file as a directory".into()),
        ("/e/a.conf/..", Errno(libc::ENOTDIR), "`..` of a file".into()),
        ("e/a.conf", Untrusted("is not named by an absolute path"), "relative".into()),
        ("/e/hop/a.conf", Untrusted(""), format!("is reached through /e/u/l, whose directory /e/u {alice}")),
        ("/e/viaup", Untrusted(""), format!("is reached through /e/u/up, whose directory /e/u {alice}")),
        ("/e/gone", Untrusted(""), format!("is reached through /e/u, which {alice}")),
        ("/e/sub/a.conf", Untrusted(""), format!("is in /e/sub, which {alice}")),
        ("/e/f", Untrusted(""), "is in /e/w, which is writable by group or others (mode 1777)".into()),
    ];
    let fs = table();
    let mut lookup = |p: &Path| fs.get(p).cloned().ok_or_else(|| io::ErrorKind::NotFound.into());
    for (path, want, what) in cases {
        let got = walk(Path::new(path), &mut lookup);
        let ok = match (&want, &got) {
            (Ino(ino), Ok(id)) => id.ino == *ino,
            (Untrusted(""), Err(ReadError::Untrusted(why))) => *why == what,
            (Untrusted(text), Err(ReadError::Untrusted(why))) => why == text,
            (Errno(errno), Err(ReadError::Io(e))) => {
                e.raw_os_error() == Some(*errno) || {
                    let kind = io::Error::from_raw_os_error(*errno).kind();
                    e.raw_os_error().is_none() && e.kind() == kind
                }
            }
            _ => false,
        };
        assert!(ok, "{path} ({what}): want {want:?}, got {got:?}");
    }
}
