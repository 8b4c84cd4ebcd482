//! libvirt's qemu hook for fdb-bridge-helper, the pure part: which calls matter, which
//! interfaces of the domain XML are the helper's pending ports, and every message.
//!
//! libvirt's session daemon runs `/etc/libvirt/hooks/qemu.d/*` as its user with
//! `DOMAIN OPERATION SUB-OP -` and the domain XML on stdin. At `start begin` the helper
//! has made each tap (a managed bridge's without a MAC: pending, down, no FDB entry)
//! and QEMU has not started; the XML names each interface's tap and MAC, so the hook
//! runs `fdb-bridge-helper --claim=TAP --mac=MAC` for each pending port. A hook that
//! fails there fails the start, with its stderr shown to the user.
#![forbid(unsafe_code)]

use std::fmt;
use std::process::ExitStatus;
use std::time::Duration;

/// The helper, found beside the hook's own real path.
pub const HELPER: &str = "fdb-bridge-helper";
/// The domain XML is read up to this size; a larger one fails the start.
pub const MAX_XML: u64 = 8 << 20;
/// Nodes roxmltree may build: far more than any domain has, bounded all the same.
const MAX_NODES: u32 = 1_000_000;
/// A claim takes milliseconds; a helper still running after this is killed, so that a
/// hook never holds up libvirt, which waits for it with the domain locked.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// What is kept of the helper's stderr: it prints one bounded line.
pub const MAX_STDERR: u64 = 64 << 10;
/// IFF_UP, <linux/if.h>.
const IFF_UP: u32 = 0x1;

/// `DOMAIN OPERATION SUB-OP EXTRA`: only `start begin` claims anything. Every other call
/// (`prepare`, `started`, `stopped`, `release`, `migrate`, `restore`, `reconnect`,
/// `attach`) returns at once, without reading stdin.
pub fn is_start_begin(args: &[String]) -> bool {
    matches!(args, [_, op, sub, ..] if op == "start" && sub == "begin")
}

/// How the hook runs, from `/proc/self/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privileges {
    /// A session daemon's user: the hook's job.
    User,
    /// The system daemon (root), which manages its own bridges' ports: nothing to do.
    Root,
    /// Setuid or with capabilities: a broken install. The XML parser never runs so.
    Elevated,
}

/// Reads the `Uid:` line (real, effective, saved, fs) and `CapEff:`.
pub fn privileges(status: &str) -> Privileges {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|rest| rest.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let uids = field("Uid:");
    let caps = field("CapEff:");
    let same = uids.len() == 4 && uids.iter().all(|u| *u == uids[0]);
    let no_caps = matches!(caps.as_slice(), [c] if c.bytes().all(|b| b == b'0'));
    match (same, uids.first()) {
        (true, Some(&"0")) => Privileges::Root,
        (true, Some(_)) if no_caps => Privileges::User,
        _ => Privileges::Elevated,
    }
}

/// An `<interface type='bridge'>` of the domain that has its tap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    pub tap: String,
    pub mac: String,
}

/// The bridge interfaces in `<domain><devices>` that have a `<target dev>` naming a link
/// that can exist. Other types, and interfaces anywhere else (metadata, say), are not
/// ours. A bridge interface with a tap but no `<mac address>` is an error: libvirt always
/// writes one, and a pending port without it would never get its MAC.
pub fn bridge_nics(xml: &str) -> Result<Vec<Nic>, XmlError> {
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..roxmltree::ParsingOptions::default()
    };
    let doc =
        roxmltree::Document::parse_with_options(xml, options).map_err(|e| XmlError::Parse(e.to_string()))?;
    let root = doc.root_element();
    if !is_element(root, "domain") {
        return Err(XmlError::NotADomain(root.tag_name().name().to_owned()));
    }
    let mut nics = Vec::new();
    for devices in root.children().filter(|c| is_element(*c, "devices")) {
        for nic in devices.children().filter(|c| is_element(*c, "interface")) {
            if nic.attribute("type") != Some("bridge") {
                continue;
            }
            let Some(tap) = child(nic, "target").and_then(|t| t.attribute("dev")) else {
                continue;
            };
            if !is_ifname(tap) {
                continue;
            }
            let mac = child(nic, "mac").and_then(|m| m.attribute("address"));
            let mac = mac.ok_or_else(|| XmlError::NoMac { tap: tap.to_owned() })?;
            nics.push(Nic {
                tap: tap.to_owned(),
                mac: mac.to_owned(),
            });
        }
    }
    Ok(nics)
}

fn child<'a, 'input>(node: roxmltree::Node<'a, 'input>, name: &str) -> Option<roxmltree::Node<'a, 'input>> {
    node.children().find(|c| is_element(*c, name))
}

fn is_element(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace().is_none()
}

/// The kernel's dev_valid_name(): 1 to 15 bytes, not `.` or `..`, no `/`, `:` or
/// whitespace. Anything else names no link (and must not reach a sysfs path).
fn is_ifname(name: &str) -> bool {
    (1..16).contains(&name.len())
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

/// A pending port, from `/sys/class/net/TAP/brport/learning` and `…/flags` (readable by
/// anyone): learning off (managed) and down. The helper keeps a managed port without a
/// MAC down until it is claimed; a port claimed in one step (`--mac`) is up, and is
/// left alone.
pub fn is_pending(learning: &str, flags: &str) -> bool {
    let flags = u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16);
    learning.trim() == "0" && flags.is_ok_and(|f| f & IFF_UP == 0)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlError {
    Parse(String),
    NotADomain(String),
    NoMac { tap: String },
}

/// Every way the hook fails: one line on stderr, which libvirt shows.
#[derive(Debug)]
pub enum Error {
    Privileged,
    ReadXml(std::io::Error),
    XmlTooLarge,
    Xml {
        domain: String,
        source: XmlError,
    },
    FindHelper(std::io::Error),
    RunHelper {
        tap: String,
        source: std::io::Error,
    },
    TimedOut {
        tap: String,
    },
    /// The helper refused: its own line, as it printed it.
    Refused {
        tap: String,
        status: ExitStatus,
        stderr: String,
    },
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => f.write_str(e),
            Self::NotADomain(root) => write!(f, "the root element is {root:?}, not \"domain\""),
            Self::NoMac { tap } => write!(f, "the bridge interface on {tap} has no <mac address>"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = "fdb-bridge-helper-libvirt-hook: failed to";
        match self {
            Self::Privileged => write!(
                f,
                "{prefix} start: it runs setuid or with capabilities; install it as a plain 0755 file"
            ),
            Self::ReadXml(e) => write!(f, "{prefix} read the domain XML from stdin: {e}"),
            Self::XmlTooLarge => write!(
                f,
                "{prefix} read the domain XML from stdin: larger than {MAX_XML} bytes"
            ),
            Self::Xml { domain, source } => {
                write!(f, "{prefix} parse the XML of domain {domain:?}: {source}")
            }
            Self::FindHelper(e) => write!(f, "{prefix} find {HELPER} beside /proc/self/exe: {e}"),
            Self::RunHelper { tap, source } => write!(f, "{prefix} run {HELPER} --claim={tap}: {source}"),
            Self::TimedOut { tap } => write!(
                f,
                "{prefix} claim {tap}: {HELPER} did not finish within {} s and was killed",
                TIMEOUT.as_secs()
            ),
            Self::Refused { stderr, .. } if !stderr.trim().is_empty() => f.write_str(stderr.trim_end()),
            Self::Refused { tap, status, .. } => write!(f, "{prefix} claim {tap}: {HELPER} {status}"),
        }
    }
}

#[cfg(test)]
mod tests;
