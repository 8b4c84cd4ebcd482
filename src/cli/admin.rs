//! The admin's commands: `--explain` (what a real call would do, and why) and `--check`
//! (every problem in the ACL files).
#![forbid(unsafe_code)]

use std::path::PathBuf;

use super::{bridge_value, mac_value, set_once, vlan_value, ArgError, Command};
use crate::ifname::IfName;
use crate::mac::MacAddr;
use crate::vid::Vid;

/// `--explain --br=BR [--mac=MAC] [--vlan=VID] [--use-vnet]`: a real call's request
/// without `--fd`, since nothing is created or sent.
#[derive(Debug, PartialEq, Eq)]
pub struct ExplainRequest {
    pub bridge: IfName,
    pub mac: Option<MacAddr>,
    pub vlan: Option<Vid>,
    pub use_vnet: bool,
}

/// Each option once, in any order, and nothing else.
pub(super) fn explain(args: &[String]) -> Result<Command, ArgError> {
    let (mut explain, mut bridge, mut mac, mut vlan, mut use_vnet) = (None, None, None, None, None);
    for arg in args {
        if arg == "--explain" {
            set_once(&mut explain, "--explain", ())?;
        } else if arg == "--use-vnet" {
            set_once(&mut use_vnet, "--use-vnet", true)?;
        } else if let Some(v) = arg.strip_prefix("--br=") {
            let name = bridge_value(v)?;
            set_once(&mut bridge, "--br", name)?;
        } else if let Some(v) = arg.strip_prefix("--mac=") {
            let addr = mac_value(v)?;
            set_once(&mut mac, "--mac", addr)?;
        } else if let Some(v) = arg.strip_prefix("--vlan=") {
            let vid = vlan_value(v)?;
            set_once(&mut vlan, "--vlan", vid)?;
        } else {
            return Err(ArgError::NotWithExplain(arg.clone()));
        }
    }
    Ok(Command::Explain(ExplainRequest {
        bridge: bridge.ok_or(ArgError::Missing("--br=BRIDGE"))?,
        mac,
        vlan,
        use_vnet: use_vnet.unwrap_or(false),
    }))
}

/// `--check` alone (both top files) or `--check FILE`.
pub(super) fn check(args: &[String]) -> Result<Command, ArgError> {
    match args {
        [check] if check == "--check" => Ok(Command::Check(None)),
        [check, file] if check == "--check" && !file.is_empty() && !file.starts_with('-') => {
            Ok(Command::Check(Some(PathBuf::from(file))))
        }
        _ => Err(ArgError::CheckUsage),
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::{OsStr, OsString};

    use super::*;
    use crate::cli::parse_invocation;
    use crate::ifname::IfNameError;
    use crate::mac::MacError;

    fn run(args: &[&str]) -> Result<Command, ArgError> {
        crate::cli::parse(args.iter().map(OsString::from))
    }

    fn explain(bridge: &str, mac: Option<&str>, vlan: Option<u16>, use_vnet: bool) -> Command {
        Command::Explain(ExplainRequest {
            bridge: IfName::new(bridge).unwrap(),
            mac: mac.map(|m| MacAddr::parse(m).unwrap()),
            vlan: vlan.map(|v| Vid::new(v).unwrap()),
            use_vnet,
        })
    }

    #[test]
    fn table() {
        use ArgError::*;
        let mac = "52:54:00:12:34:56";
        #[rustfmt::skip]
        let cases: Vec<(&[&str], Result<Command, ArgError>)> = vec![
            (&["--explain", "--br=br0"], Ok(explain("br0", None, None, false))),
            (&["--br=br0", "--explain"], Ok(explain("br0", None, None, false))),
            (&["--explain", "--br=br0", "--mac=52:54:00:12:34:56", "--vlan=101"], Ok(explain("br0", Some(mac), Some(101), false))),
            (&["--explain", "--use-vnet", "--br=br0"], Ok(explain("br0", None, None, true))),
            (&["--explain"], Err(Missing("--br=BRIDGE"))),
            (&["--explain", "--explain", "--br=br0"], Err(Duplicate("--explain"))),
            (&["--explain", "--br=br0", "--br=br1"], Err(Duplicate("--br"))),
            (&["--explain", "--br=br0", "--mac=52:54:00:12:34:56", "--mac=52:54:00:12:34:56"], Err(Duplicate("--mac"))),
            // Nothing is sent: no --fd; no other command beside it.
            (&["--explain", "--br=br0", "--fd=3"], Err(NotWithExplain("--fd=3".into()))),
            (&["--explain", "--br=br0", "--help"], Err(NotWithExplain("--help".into()))),
            (&["--explain", "--br=br0", "--check"], Err(NotWithExplain("--check".into()))),
            (&["--explain", "--br", "br0"], Err(NotWithExplain("--br".into()))),
            (&["--explain", "--br=../x"], Err(Bridge("../x".into(), IfNameError::BadChar))),
            (&["--explain", "--br=br0", "--mac=ff:ff:ff:ff:ff:ff"], Err(Mac("ff:ff:ff:ff:ff:ff".into(), MacError::Multicast))),
            (&["--explain", "--br=br0", "--vlan=0"], Err(Vlan("0".into(), crate::vid::VidError::Range))),
            (&["--check"], Ok(Command::Check(None))),
            (&["--check", "/etc/qemu/x.conf"], Ok(Command::Check(Some("/etc/qemu/x.conf".into())))),
            (&["--check", "x.conf"], Ok(Command::Check(Some("x.conf".into())))),
            (&["--check", "a", "b"], Err(CheckUsage)),
            (&["--check", "--br=br0"], Err(CheckUsage)),
            (&["--check", ""], Err(CheckUsage)),
            (&["--br=br0", "--check"], Err(CheckUsage)),
            (&["--check=/etc/qemu/x.conf"], Err(Unknown("--check=/etc/qemu/x.conf".into()))),
            (&["--check", "--check"], Err(CheckUsage)),
        ];
        for (args, want) in cases {
            assert_eq!(run(args), want, "{args:?}");
        }
        // A MAC in the program name counts as --mac, as for a real call.
        let name = Some(OsStr::new("/run/vm1@52:54:00:12:34:56"));
        let got = parse_invocation(name, ["--explain", "--br=br0"].map(OsString::from));
        assert_eq!(got, Ok(explain("br0", Some(mac), None, false)));
        let got = parse_invocation(
            name,
            ["--explain", "--br=br0", "--mac=52:54:00:12:34:56"].map(OsString::from),
        );
        assert_eq!(got, Err(Duplicate("--mac")));
    }
}
