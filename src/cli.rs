//! argv, exactly as QEMU and libvirt pass it, validated into types.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

use crate::ifname::{IfName, IfNameError};
use crate::mac::{MacAddr, MacError};
use crate::text::clip;
use crate::vid::{Vid, VidError};

mod admin;
mod claim;
pub use admin::ExplainRequest;
pub use claim::ClaimRequest;

/// How much of an argument a message echoes: enough to recognise it, never unbounded.
const ECHO: usize = 256;

pub const USAGE: &str = "\
usage: fdb-bridge-helper [--use-vnet] --br=BRIDGE --fd=UNIXFD [--mac=MAC] [--vlan=VID]
       fdb-bridge-helper --claim=TAP --mac=MAC
       fdb-bridge-helper --explain --br=BRIDGE [--mac=MAC] [--vlan=VID] [--use-vnet]
       fdb-bridge-helper --check [FILE]
       fdb-bridge-helper -h | --help | -V | --version

Creates a tap, adds it to BRIDGE if /etc/qemu/bridge.conf allows it, and sends the
tap's fd over the unix socket UNIXFD. On a bridge that /etc/qemu/fdb-bridge-helper.conf
marks `managed` it also turns off learning and unicast flooding on the port and adds a
static FDB entry for MAC. With --vlan (if a vlan line grants it) the port is
untagged in VLAN VID only.

  --use-vnet     create the tap with a virtio-net header if the kernel has it
  --br=BRIDGE    the bridge to add the tap to
  --fd=UNIXFD    a connected AF_UNIX stream socket (not 0-2) to send the tap's fd over
  --mac=MAC      the guest's MAC; required on a managed bridge
  --vlan=VID     the VLAN (1-4094) the guest's port is in, untagged; see vlan lines
  --explain      print, as JSON, what this call would do and why; change nothing
  --check [FILE] (root) list every problem in the acl files, or in FILE
  -h, --help     print this help and exit; only alone
  -V, --version  print the version and exit; only alone

From QEMU: -netdev bridge,id=n0,br=br0,helper=\"/usr/libexec/fdb-bridge-helper --mac=52:54:00:12:34:56\"

See fdb-bridge-helper(8) and fdb-bridge-helper.conf(5).
";

/// What the caller asked for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Help,
    Version,
    Attach(Request),
    /// Step two of a managed port made without a MAC (the libvirt hook's call).
    Claim(ClaimRequest),
    /// What a real call would do, and why; changes nothing.
    Explain(ExplainRequest),
    /// Every problem in the ACL files (both top files, or this one), for root.
    Check(Option<std::path::PathBuf>),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Request {
    pub bridge: IfName,
    /// The number given by `--fd`; `sys::socket::SocketFd` checks what it names.
    pub fd: i32,
    pub use_vnet: bool,
    pub mac: Option<MacAddr>,
    /// `--vlan=VID`: the VLAN the guest's port is to be in (untagged, its PVID).
    pub vlan: Option<Vid>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ArgError {
    Missing(&'static str),
    Duplicate(&'static str),
    Unknown(String),
    Alone(&'static str),
    Bridge(String, IfNameError),
    Tap(String, IfNameError),
    /// An argument other than `--mac` beside `--claim`.
    NotWithClaim(String),
    /// An argument `--explain` does not take.
    NotWithExplain(String),
    CheckUsage,
    Fd(String),
    Mac(String, MacError),
    Vlan(String, VidError),
    ProgramName(String, MacError),
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(opt) => write!(f, "missing {opt} (see --help)"),
            Self::Duplicate(opt) => write!(f, "duplicate {opt}"),
            Self::Unknown(arg) => write!(f, "unknown argument {:?} (see --help)", clip(arg, ECHO)),
            Self::Alone(opt) => write!(f, "{opt} takes no other arguments"),
            Self::Bridge(name, why) => write!(f, "invalid bridge name {:?}: {why}", clip(name, ECHO)),
            Self::Tap(name, why) => write!(f, "invalid tap name {:?}: {why}", clip(name, ECHO)),
            Self::NotWithClaim(arg) => write!(
                f,
                "{:?} is not accepted with --claim, which takes exactly --claim=TAP --mac=MAC",
                clip(arg, ECHO)
            ),
            Self::NotWithExplain(arg) => write!(
                f,
                "{:?} is not accepted with --explain, which takes --br=BRIDGE [--mac=MAC] [--vlan=VID] [--use-vnet]",
                clip(arg, ECHO)
            ),
            Self::CheckUsage => f.write_str("--check takes one optional FILE and nothing else: --check [FILE]"),
            Self::Fd(text) => write!(
                f,
                "invalid --fd {:?}: expected a decimal fd number",
                clip(text, ECHO)
            ),
            Self::Mac(text, why) => write!(f, "invalid --mac {:?}: {why}", clip(text, ECHO)),
            Self::Vlan(text, why) => write!(f, "invalid --vlan {:?}: {why}", clip(text, ECHO)),
            Self::ProgramName(name, why) => {
                write!(
                    f,
                    "invalid MAC after `@` in the program name {:?}: {why}",
                    clip(name, ECHO)
                )
            }
        }
    }
}

/// Parses the arguments after argv[0]. Every option at most once, in any order;
/// `--help` and `--version` only alone, so that they can never make QEMU's call exit 0
/// without an fd.
pub fn parse<I: IntoIterator<Item = OsString>>(args: I) -> Result<Command, ArgError> {
    let args: Vec<String> = args
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if let [only] = args.as_slice() {
        match only.as_str() {
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            _ => {}
        }
    }
    if args.iter().any(|a| a == "--explain") {
        return admin::explain(&args);
    }
    if args.iter().any(|a| a == "--check") {
        return admin::check(&args);
    }
    if args.iter().any(|a| a.starts_with("--claim=")) {
        return claim::parse(&args);
    }
    let (mut bridge, mut fd, mut mac, mut use_vnet, mut vlan) = (None, None, None, None, None);
    for arg in &args {
        if arg == "--use-vnet" {
            set_once(&mut use_vnet, "--use-vnet", true)?;
        } else if let Some(v) = arg.strip_prefix("--br=") {
            let name = bridge_value(v)?;
            set_once(&mut bridge, "--br", name)?;
        } else if let Some(v) = arg.strip_prefix("--fd=") {
            set_once(&mut fd, "--fd", parse_fd(v)?)?;
        } else if let Some(v) = arg.strip_prefix("--mac=") {
            let addr = mac_value(v)?;
            set_once(&mut mac, "--mac", addr)?;
        } else if let Some(v) = arg.strip_prefix("--vlan=") {
            let vid = vlan_value(v)?;
            set_once(&mut vlan, "--vlan", vid)?;
        } else if let Some(opt) = ["--help", "-h", "--version", "-V"].iter().find(|o| *o == arg) {
            return Err(ArgError::Alone(opt));
        } else {
            return Err(ArgError::Unknown(arg.clone()));
        }
    }
    Ok(Command::Attach(Request {
        bridge: bridge.ok_or(ArgError::Missing("--br=BRIDGE"))?,
        fd: fd.ok_or(ArgError::Missing("--fd=UNIXFD"))?,
        use_vnet: use_vnet.unwrap_or(false),
        mac,
        vlan,
    }))
}

/// [`parse`], plus the MAC that the program's own name may carry: QEMU runs a helper path
/// without a space directly, with no shell, so a symlink to this binary named
/// `NAME@52:54:00:12:34:56` passes the guest's MAC as `--mac` would. argv[0] is the
/// caller's to choose in any case, so it is validated like any other argument.
pub fn parse_invocation<I: IntoIterator<Item = OsString>>(
    argv0: Option<&OsStr>,
    args: I,
) -> Result<Command, ArgError> {
    let command = parse(args)?;
    let Some(mac) = argv0.map(mac_in_program_name).transpose()?.flatten() else {
        return Ok(command);
    };
    match command {
        // A claim always has its --mac already.
        Command::Attach(Request { mac: Some(_), .. })
        | Command::Claim(_)
        | Command::Explain(ExplainRequest { mac: Some(_), .. }) => Err(ArgError::Duplicate("--mac")),
        Command::Attach(request) => Ok(Command::Attach(Request {
            mac: Some(mac),
            ..request
        })),
        Command::Explain(request) => Ok(Command::Explain(ExplainRequest {
            mac: Some(mac),
            ..request
        })),
        other => Ok(other),
    }
}

/// The MAC after the last `@` of argv[0]'s file name, if it has one.
fn mac_in_program_name(argv0: &OsStr) -> Result<Option<MacAddr>, ArgError> {
    let bytes = argv0.as_bytes();
    let name = &bytes[bytes.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1)..];
    let Some(at) = name.iter().rposition(|&b| b == b'@') else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&name[at + 1..]);
    MacAddr::parse(&text)
        .map(Some)
        .map_err(|why| ArgError::ProgramName(String::from_utf8_lossy(name).into_owned(), why))
}

/// `--br=`, `--mac=` and `--vlan=` values, validated alike in every command.
fn bridge_value(v: &str) -> Result<IfName, ArgError> {
    IfName::new(v).map_err(|e| ArgError::Bridge(v.to_owned(), e))
}

fn mac_value(v: &str) -> Result<MacAddr, ArgError> {
    MacAddr::parse(v).map_err(|e| ArgError::Mac(v.to_owned(), e))
}

fn vlan_value(v: &str) -> Result<Vid, ArgError> {
    Vid::parse(v).map_err(|e| ArgError::Vlan(v.to_owned(), e))
}

fn set_once<T>(slot: &mut Option<T>, opt: &'static str, value: T) -> Result<(), ArgError> {
    match slot.replace(value) {
        Some(_) => Err(ArgError::Duplicate(opt)),
        None => Ok(()),
    }
}

/// Digits only: no sign, no spaces, no `0x` — unlike atoi(), garbage is never fd 0.
fn parse_fd(text: &str) -> Result<i32, ArgError> {
    let bad = || ArgError::Fd(text.to_owned());
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, ArgError> {
        parse(args.iter().map(OsString::from))
    }

    fn attach(bridge: &str, fd: i32, use_vnet: bool, mac: Option<&str>) -> Command {
        Command::Attach(Request {
            bridge: IfName::new(bridge).unwrap(),
            fd,
            use_vnet,
            mac: mac.map(|m| MacAddr::parse(m).unwrap()),
            vlan: None,
        })
    }

    #[test]
    fn table() {
        use ArgError::*;
        let mac = "52:54:00:12:34:56";
        let cases: Vec<(&[&str], Result<Command, ArgError>)> = vec![
            (
                &["--use-vnet", "--fd=3", "--br=br0"],
                Ok(attach("br0", 3, true, None)),
            ),
            (&["--br=br0", "--fd=17"], Ok(attach("br0", 17, false, None))),
            (
                &["--mac=52:54:00:12:34:56", "--use-vnet", "--fd=5", "--br=br0"],
                Ok(attach("br0", 5, true, Some(mac))),
            ),
            (&["--help"], Ok(Command::Help)),
            (&["--version"], Ok(Command::Version)),
            (&["--help", "--fd=3"], Err(Alone("--help"))),
            (&["--fd=3", "--br=br0", "--version"], Err(Alone("--version"))),
            (&[], Err(Missing("--br=BRIDGE"))),
            (&["--br=br0"], Err(Missing("--fd=UNIXFD"))),
            (&["--fd=3"], Err(Missing("--br=BRIDGE"))),
            (&["--br=br0", "--br=br1", "--fd=3"], Err(Duplicate("--br"))),
            (&["--br=br0", "--fd=3", "--fd=3"], Err(Duplicate("--fd"))),
            (
                &["--br=br0", "--fd=3", "--use-vnet", "--use-vnet"],
                Err(Duplicate("--use-vnet")),
            ),
            (
                &[
                    "--br=br0",
                    "--fd=3",
                    "--mac=52:54:00:12:34:56",
                    "--mac=52:54:00:12:34:57",
                ],
                Err(Duplicate("--mac")),
            ),
            (&["--br", "br0", "--fd=3"], Err(Unknown("--br".into()))),
            (&["--br=br0", "--fd=3", "--foo"], Err(Unknown("--foo".into()))),
            (&["--br=br0", "--fd=3", ""], Err(Unknown("".into()))),
            (&["--br=br0", "--fd=abc"], Err(Fd("abc".into()))),
            (&["--br=br0", "--fd=-1"], Err(Fd("-1".into()))),
            (&["--br=br0", "--fd=+3"], Err(Fd("+3".into()))),
            (&["--br=br0", "--fd= 3"], Err(Fd(" 3".into()))),
            (&["--br=br0", "--fd="], Err(Fd("".into()))),
            (&["--br=br0", "--fd=99999999999"], Err(Fd("99999999999".into()))),
            (&["--br=", "--fd=3"], Err(Bridge("".into(), IfNameError::Empty))),
            (
                &["--br=sixteen-bytes-xx", "--fd=3"],
                Err(Bridge("sixteen-bytes-xx".into(), IfNameError::TooLong)),
            ),
            (
                &["--br=../x", "--fd=3"],
                Err(Bridge("../x".into(), IfNameError::BadChar)),
            ),
            (&["--br=..", "--fd=3"], Err(Bridge("..".into(), IfNameError::Dot))),
            (
                &["--br=br0", "--fd=3", "--mac=ff:ff:ff:ff:ff:ff"],
                Err(Mac("ff:ff:ff:ff:ff:ff".into(), MacError::Multicast)),
            ),
            (
                &["--br=br0", "--fd=3", "--mac="],
                Err(Mac("".into(), MacError::Syntax)),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan=0"],
                Err(Vlan("0".into(), VidError::Range)),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan=4095"],
                Err(Vlan("4095".into(), VidError::Range)),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan="],
                Err(Vlan("".into(), VidError::Syntax)),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan=101-102"],
                Err(Vlan("101-102".into(), VidError::Syntax)),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan=101", "--vlan=101"],
                Err(Duplicate("--vlan")),
            ),
            (
                &["--br=br0", "--fd=3", "--vlan", "101"],
                Err(Unknown("--vlan".into())),
            ),
        ];
        for (args, want) in cases {
            assert_eq!(run(args), want, "{args:?}");
        }
    }

    #[test]
    fn vlan() {
        let got = run(&["--vlan=101", "--br=br0", "--fd=3", "--mac=52:54:00:12:34:56"]);
        let Ok(Command::Attach(request)) = got else {
            panic!("{got:?}")
        };
        assert_eq!(request.vlan, Some(Vid::new(101).unwrap()));
        assert_eq!(request.mac, Some(MacAddr::parse("52:54:00:12:34:56").unwrap()));
        let got = run(&["--br=br0", "--fd=3", "--vlan=7"]);
        assert!(matches!(got, Ok(Command::Attach(Request { vlan: Some(v), .. })) if v.get() == 7));
    }

    #[test]
    fn program_name_table() {
        let mac = "52:54:00:12:34:56";
        let args = ["--br=br0", "--fd=3"];
        let cases: &[(&str, &[&str], Result<Command, ArgError>)] = &[
            (
                "/usr/libexec/fdb-bridge-helper",
                &args,
                Ok(attach("br0", 3, false, None)),
            ),
            (
                "/run/vm1@52:54:00:12:34:56",
                &args,
                Ok(attach("br0", 3, false, Some(mac))),
            ),
            (
                "vm1@52:54:00:12:34:56",
                &args,
                Ok(attach("br0", 3, false, Some(mac))),
            ),
            ("/a@b/fdb-bridge-helper", &args, Ok(attach("br0", 3, false, None))),
            (
                "/run/x@y@52:54:00:12:34:56",
                &args,
                Ok(attach("br0", 3, false, Some(mac))),
            ),
            (
                "/run/vm1@52:54:00:12:34:56",
                &["--br=br0", "--fd=3", "--mac=52:54:00:12:34:56"],
                Err(ArgError::Duplicate("--mac")),
            ),
            (
                "/run/vm1@ff:ff:ff:ff:ff:ff",
                &args,
                Err(ArgError::ProgramName(
                    "vm1@ff:ff:ff:ff:ff:ff".into(),
                    MacError::Multicast,
                )),
            ),
            (
                "/run/vm1@",
                &args,
                Err(ArgError::ProgramName("vm1@".into(), MacError::Syntax)),
            ),
            ("/run/vm1@52:54:00:12:34:56", &["--help"], Ok(Command::Help)),
        ];
        for (argv0, args, want) in cases {
            let got = parse_invocation(Some(OsStr::new(argv0)), args.iter().map(OsString::from));
            assert_eq!(got, *want, "{argv0} {args:?}");
        }
    }

    #[test]
    fn echoed_arguments_are_bounded() {
        let huge = format!("--{}", "\u{202e}".repeat(40_000));
        let text = run(&["--br=br0", "--fd=3", &huge]).unwrap_err().to_string();
        assert!(text.len() < 2048, "{}", text.len());
        assert!(text.chars().all(crate::text::is_printable));
    }

    #[test]
    fn messages_escape_control_characters() {
        let err = run(&["--br=br0", "--fd=3", "--x\u{1b}[2J\n"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"unknown argument "--x\u{1b}[2J\n" (see --help)"#
        );
    }
}
