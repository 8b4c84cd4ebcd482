//! The fuzz targets' properties, written once: the fuzz targets (`fuzz/fuzz_targets/*.rs`)
//! and the replay test (`tests/fuzz_corpus.rs`) both include this file with `#[path]`.
//! Each check panics on a violation; an input that makes it panic belongs in
//! `fuzz/regressions/<target>/`.
//!
//! `acl` input: up to four files separated by [`ACL_SEPARATOR`] (`\n%%\n`): file 0 is
//! `/etc/qemu/bridge.conf`, files 1 to 3 are `/i1`, `/i2` and `/i3`. `/denied` cannot be
//! read (skipped as an include), `/untrusted` is not trusted (always fatal), `/deep/N`
//! holds `include /deep/N+1` (up to 32), any other path does not exist. Paths resolve as
//! the kernel would (`/x/../i1` is `/i1`), though the parser compares them as written.
//!
//! `cli` input: argv after argv[0], split on NUL bytes (raw bytes, so non-UTF-8 arguments
//! are covered); the empty input is no argument at all.

use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use fdb_bridge_helper::fuzzing::acl::{self, Acl, Caller, ReadError, Verb};
use fdb_bridge_helper::fuzzing::cli::{self, Command};
use fdb_bridge_helper::fuzzing::policy::{self, Denial, Grant, VlanDenial};
use fdb_bridge_helper::fuzzing::{IfName, MacAddr, Vid};

pub const ACL_SEPARATOR: &[u8] = b"\n%%\n";
pub const ACL_PATHS: [&str; 4] = [acl::DEFAULT_PATH, "/i1", "/i2", "/i3"];
pub const DENIED_PATH: &str = "/denied";
pub const UNTRUSTED_PATH: &str = "/untrusted";
pub const DEEP_PATH: &str = "/deep";
/// qemu-bridge-helper's fgets() buffer, less the NUL.
const MAX_LINE: usize = 4095;

/// Splits an `acl` input into at most four files; the last one keeps any further separators.
pub fn acl_files(data: &[u8]) -> Vec<&[u8]> {
    let mut files = Vec::new();
    let mut rest = data;
    while files.len() < ACL_PATHS.len() - 1 {
        match rest.windows(ACL_SEPARATOR.len()).position(|w| w == ACL_SEPARATOR) {
            Some(at) => {
                files.push(&rest[..at]);
                rest = &rest[at + ACL_SEPARATOR.len()..];
            }
            None => break,
        }
    }
    files.push(rest);
    files
}

/// `path` as the kernel would resolve it, symlinks aside: `/x/../i1` is the file `/i1`,
/// though the parser sees another name.
fn resolve(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The in-memory file system of an `acl` input, as an `acl::Reader`.
pub fn read_from<'a>(files: &'a [&'a [u8]]) -> impl Fn(&Path) -> Result<Vec<u8>, ReadError> + 'a {
    move |path: &Path| {
        let path = resolve(path);
        if let Some(i) = ACL_PATHS.iter().position(|p| Path::new(p) == path) {
            if let Some(text) = files.get(i) {
                return Ok(text.to_vec());
            }
        }
        if path == Path::new(DENIED_PATH) {
            return Err(ReadError::Io(io::ErrorKind::PermissionDenied.into()));
        }
        if path == Path::new(UNTRUSTED_PATH) {
            return Err(ReadError::Untrusted("is writable by group 1000".into()));
        }
        // `/deep/N` includes `/deep/N+1`: a chain deeper than the parser follows.
        let deep = path
            .strip_prefix(DEEP_PATH)
            .ok()
            .and_then(|n| n.to_str()?.parse::<u8>().ok());
        if let Some(n) = deep.filter(|n| *n < 32) {
            return Ok(format!("include {DEEP_PATH}/{}\n", n + 1).into_bytes());
        }
        Err(ReadError::Io(io::ErrorKind::NotFound.into()))
    }
}

fn callers() -> [Caller; 3] {
    [
        Caller::default(),
        Caller {
            uid: 1000,
            user: Some("alice".into()),
            gids: vec![1000, 200],
            groups: vec!["alice".into(), "lab".into()],
        },
        Caller {
            uid: 1001,
            user: Some("bob".into()),
            gids: vec![1001],
            groups: vec!["bob".into()],
        },
    ]
}

fn macs() -> [Option<MacAddr>; 3] {
    [
        None,
        Some(MacAddr::parse("52:54:00:12:34:56").unwrap()),
        Some(MacAddr::parse("02:00:00:00:00:01").unwrap()),
    ]
}

/// Whether a rule of `acl` with `verb` names `bridge` or `all`, by looking at the rules
/// (not through `Acl::matches`, which `authorize` itself uses).
fn has_rule(acl: &Acl, verb: Verb, bridge: &IfName) -> bool {
    acl.matches(verb, bridge)
}

/// g_ascii_isspace(), as the ACL parser trims.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|&b| !is_space(b)).unwrap_or(line.len());
    let end = line.iter().rposition(|&b| !is_space(b)).map_or(start, |i| i + 1);
    &line[start..end]
}

/// A line without a NUL that fgets() reads whole.
fn is_readable(line: &[u8]) -> bool {
    line.len() <= MAX_LINE && !line.contains(&0)
}

fn is_blank_or_comment(line: &[u8]) -> bool {
    let line = trim(line);
    line.is_empty() || line[0] == b'#'
}

/// A line as qemu-bridge-helper splits it: leading whitespace skipped, the directive ends
/// at the first space or, if the line has none, the first tab; the argument is trimmed.
/// `None` for blank lines, comments and lines with neither.
fn split_line(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let start = line.iter().position(|&b| !is_space(b))?;
    let rest = &line[start..];
    if rest[0] == b'#' {
        return None;
    }
    let at = rest
        .iter()
        .position(|&b| b == b' ')
        .or_else(|| rest.iter().position(|&b| b == b'\t'))?;
    Some((&rest[..at], trim(&rest[at + 1..])))
}

/// Whether a line is `deny br0` or `deny all`, as the line splitting rule reads it.
fn is_plain_deny(line: &[u8]) -> bool {
    matches!(split_line(line), Some((b"deny", b"br0" | b"all")))
}

/// Whether an included file obviously denies br0: one of its lines is `deny br0` or
/// `deny all`, and every line before it is blank or a comment (an include's first bad line
/// ends it quietly, so only those are sure to be read).
fn include_plainly_denies_br0(text: &[u8]) -> bool {
    for line in text.split(|&b| b == b'\n') {
        if !is_readable(line) {
            return false;
        }
        if is_plain_deny(line) {
            return true;
        }
        if !is_blank_or_comment(line) {
            return false;
        }
    }
    false
}

/// Whether the top file has the line `include PATH` before anything but blank lines,
/// comments and `allow`, `managed` or `locked` lines of plain names.
fn plainly_includes(top: &[u8], path: &str) -> bool {
    for line in top.split(|&b| b == b'\n') {
        if !is_readable(line) {
            return false;
        }
        match split_line(line) {
            Some((b"include", arg)) if arg == path.as_bytes() => return true,
            Some((b"allow" | b"managed" | b"locked", b"all" | b"br0" | b"br1")) => {}
            _ if is_blank_or_comment(line) => {}
            _ => return false,
        }
    }
    false
}

/// The `acl` target: parse the in-memory files, then decide for br0 and br1.
pub fn check_acl(data: &[u8]) {
    let files = acl_files(data);
    let read = read_from(&files);
    let top = Path::new(acl::DEFAULT_PATH);
    let first = acl::load_with(top, &read);
    let again = acl::load_with(top, &read);
    let (first_debug, again_debug) = (format!("{first:?}"), format!("{again:?}"));
    assert_eq!(first_debug, again_debug, "parsing is not deterministic");
    let acl = match first {
        Ok(acl) => acl,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // Any error in the top file refuses everything, so each of its lines was honoured; and
    // an obvious deny first thing in a file it plainly includes always holds too.
    let mut denies_br0 = files[0].split(|&b| b == b'\n').any(is_plain_deny);
    for (i, text) in files.iter().enumerate().skip(1) {
        if plainly_includes(files[0], ACL_PATHS[i]) && include_plainly_denies_br0(text) {
            denies_br0 = true;
        }
    }
    let br0 = IfName::new("br0").unwrap();
    if denies_br0 {
        assert!(
            has_rule(&acl, Verb::Deny, &br0),
            "a plain `deny br0` is missing from {acl:?}"
        );
    }
    for bridge in [br0, IfName::new("br1").unwrap()] {
        let deny = has_rule(&acl, Verb::Deny, &bridge);
        let allow = has_rule(&acl, Verb::Allow, &bridge);
        let managed = has_rule(&acl, Verb::Managed, &bridge);
        let locked = has_rule(&acl, Verb::Locked, &bridge);
        for caller in &callers() {
            for mac in macs() {
                let got = policy::authorize(&acl, &bridge, mac, caller);
                let _ = got.as_ref().map_err(|d| d.to_string());
                let case = || format!("{bridge} mac {mac:?} caller {caller:?} -> {got:?} with {acl:?}");
                if deny || !allow {
                    assert_eq!(got, Err(Denial::Acl), "deny or no allow must refuse: {}", case());
                }
                match got {
                    Ok(Grant::Plain) => {
                        assert!(!managed && !locked, "managed bridge granted plain: {}", case())
                    }
                    Ok(Grant::Managed {
                        mac: granted,
                        locked: lock,
                        ..
                    }) => {
                        assert!(managed || locked, "unmanaged bridge granted managed: {}", case());
                        assert_eq!(Some(granted), mac, "granted another MAC: {}", case());
                        assert_eq!(lock, locked, "locked flag wrong: {}", case());
                    }
                    Err(Denial::NeedsMac) => assert!(mac.is_none(), "needs a MAC it has: {}", case()),
                    Err(Denial::MacNotGranted(m)) => assert_eq!(Some(m), mac, "{}", case()),
                    Err(Denial::Acl) => {}
                    Ok(Grant::Pending { .. }) | Err(Denial::NotManaged) => {
                        panic!("authorize never says this: {}", case())
                    }
                }
                if mac.is_none() {
                    check_pending(&acl, &bridge, caller, &got, locked);
                }
                if got.is_ok() {
                    check_vlans(&acl, &bridge, caller);
                }
            }
        }
    }
}

/// Without a MAC and with the libvirt hook, the decision is the same but for a managed
/// bridge, which gets a pending port owned by the caller, locked as the ACL says; without
/// the hook, exactly the same.
fn check_pending(acl: &Acl, bridge: &IfName, caller: &Caller, without: &Result<Grant, Denial>, locked: bool) {
    let case = || format!("{bridge} caller {caller:?} without a MAC: {without:?} with {acl:?}");
    assert_eq!(
        &policy::authorize_pending(acl, bridge, caller, false),
        without,
        "{}",
        case()
    );
    let want = match without {
        Err(Denial::NeedsMac) => Ok(Grant::Pending {
            locked,
            owner: caller.uid,
        }),
        other => *other,
    };
    assert_eq!(
        policy::authorize_pending(acl, bridge, caller, true),
        want,
        "{}",
        case()
    );
}

/// The VLAN decision, made only once access is granted: a VLAN is granted only by a line
/// for the caller that names the bridge, a default only by a `vlan-default` line, and a
/// bridge no line names is decided as qemu-bridge-helper would (no VLAN).
fn check_vlans(acl: &Acl, bridge: &IfName, caller: &Caller) {
    let rules: Vec<_> = acl.vlans.iter().filter(|r| r.bridge.names(bridge)).collect();
    for asked in [None, Vid::new(1).ok(), Vid::new(101).ok(), Vid::new(4094).ok()] {
        let got = policy::authorize_vlan(acl, bridge, asked, caller);
        let _ = got.as_ref().map_err(|d| d.to_string());
        let case = || format!("{bridge} vlan {asked:?} caller {caller:?} -> {got:?} with {acl:?}");
        match (asked, got) {
            (Some(vid), Ok(granted)) => {
                assert_eq!(granted, Some(vid), "granted another VLAN: {}", case());
                assert!(
                    rules.iter().any(|r| r.grants(caller, vid)),
                    "no line grants it: {}",
                    case()
                );
            }
            (Some(vid), Err(VlanDenial::NotGranted(v))) => assert_eq!(v, vid, "{}", case()),
            (None, Ok(None)) => assert!(rules.is_empty(), "lines name the bridge: {}", case()),
            (None, Ok(Some(vid))) => assert!(
                rules.iter().any(|r| r.default && r.grants(caller, vid)),
                "a default no vlan-default line gives: {}",
                case()
            ),
            (None, Err(_)) => assert!(!rules.is_empty(), "refused with no line: {}", case()),
            (Some(_), Err(_)) => panic!("wrong refusal: {}", case()),
        }
    }
}

/// Argv from a `cli` input: NUL-separated raw arguments; the empty input is no argument.
pub fn cli_args(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

/// The values of the arguments `PREFIX...`, as the parser sees them (lossily decoded).
fn values<'a>(args: &'a [String], prefix: &str) -> Vec<&'a str> {
    args.iter().filter_map(|a| a.strip_prefix(prefix)).collect()
}

/// The `cli` target: parse argv, check the result against the arguments.
pub fn check_cli(data: &[u8]) {
    let args = cli_args(data);
    let first = cli::parse(args.clone());
    let again = cli::parse(args.clone());
    assert_eq!(first, again, "parsing is not deterministic");
    let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    match first {
        Ok(Command::Help) => {
            assert!(
                matches!(text.as_slice(), [a] if a == "--help" || a == "-h"),
                "help from {text:?}"
            )
        }
        Ok(Command::Version) => {
            assert!(
                matches!(text.as_slice(), [a] if a == "--version" || a == "-V"),
                "version from {text:?}"
            )
        }
        Ok(Command::Attach(req)) => {
            let bridge = req.bridge.as_str();
            assert!(
                (1..=15).contains(&bridge.len()),
                "bridge {bridge:?} from {text:?}"
            );
            assert_eq!(values(&text, "--br="), [bridge], "bridge from {text:?}");
            let fd = values(&text, "--fd=");
            assert_eq!(fd.len(), 1, "fd from {text:?}");
            assert!(fd[0].bytes().all(|b| b.is_ascii_digit()), "fd from {text:?}");
            assert_eq!(fd[0].parse::<i32>().ok(), Some(req.fd), "fd from {text:?}");
            let vnet = text.iter().filter(|a| *a == "--use-vnet").count();
            assert_eq!(req.use_vnet, vnet == 1, "use_vnet from {text:?}");
            let mac = values(&text, "--mac=");
            match req.mac {
                Some(m) => {
                    let given: Vec<String> = mac.iter().map(|v| v.to_ascii_lowercase()).collect();
                    assert_eq!(given, [m.to_string()], "mac from {text:?}")
                }
                None => assert!(mac.is_empty(), "mac ignored in {text:?}"),
            }
            let vlan = values(&text, "--vlan=");
            match req.vlan {
                Some(v) => assert_eq!(
                    vlan.iter().map(|t| Vid::parse(t)).collect::<Vec<_>>(),
                    [Ok(v)],
                    "vlan from {text:?}"
                ),
                None => assert!(vlan.is_empty(), "vlan ignored in {text:?}"),
            }
            let used = 2 + vnet + mac.len() + vlan.len();
            assert_eq!(text.len(), used, "arguments ignored in {text:?}");
        }
        Ok(Command::Explain(req)) => {
            // `--explain` and its request, nothing ignored, never an --fd.
            assert!(text.iter().any(|a| a == "--explain"), "explain from {text:?}");
            assert_eq!(
                values(&text, "--br="),
                [req.bridge.as_str()],
                "bridge from {text:?}"
            );
            assert!(values(&text, "--fd=").is_empty(), "fd with explain in {text:?}");
        }
        Ok(Command::Check(file)) => {
            assert_eq!(text[0], "--check", "check from {text:?}");
            assert_eq!(
                text.len(),
                1 + usize::from(file.is_some()),
                "arguments ignored in {text:?}"
            );
        }
        Ok(Command::Claim(req)) => {
            // Exactly `--claim=TAP --mac=MAC`, nothing ignored.
            assert_eq!(text.len(), 2, "arguments ignored in {text:?}");
            assert_eq!(values(&text, "--claim="), [req.tap.as_str()], "tap from {text:?}");
            let mac: Vec<String> = values(&text, "--mac=")
                .iter()
                .map(|v| v.to_ascii_lowercase())
                .collect();
            assert_eq!(mac, [req.mac.to_string()], "mac from {text:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.chars().any(|c| c.is_control()),
                "raw control character in {msg:?}"
            );
        }
    }
}
