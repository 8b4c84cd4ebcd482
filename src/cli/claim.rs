//! `--claim=TAP --mac=MAC`, step two of a managed port made without a MAC.
#![forbid(unsafe_code)]

use super::{mac_value, set_once, ArgError, Command};
use crate::ifname::IfName;
use crate::mac::MacAddr;

/// Give a pending managed port, made by an earlier call without a MAC, its guest's MAC.
#[derive(Debug, PartialEq, Eq)]
pub struct ClaimRequest {
    pub tap: IfName,
    pub mac: MacAddr,
}

/// `--claim=TAP --mac=MAC`, each once, in either order, and nothing else.
pub(super) fn parse(args: &[String]) -> Result<Command, ArgError> {
    let (mut tap, mut mac) = (None, None);
    for arg in args {
        if let Some(v) = arg.strip_prefix("--claim=") {
            let name = IfName::new(v).map_err(|e| ArgError::Tap(v.to_owned(), e))?;
            set_once(&mut tap, "--claim", name)?;
        } else if let Some(v) = arg.strip_prefix("--mac=") {
            let addr = mac_value(v)?;
            set_once(&mut mac, "--mac", addr)?;
        } else {
            return Err(ArgError::NotWithClaim(arg.clone()));
        }
    }
    Ok(Command::Claim(ClaimRequest {
        tap: tap.ok_or(ArgError::Missing("--claim=TAP"))?,
        mac: mac.ok_or(ArgError::Missing("--mac=MAC"))?,
    }))
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

    fn claim(tap: &str, mac: &str) -> Command {
        Command::Claim(ClaimRequest {
            tap: IfName::new(tap).unwrap(),
            mac: MacAddr::parse(mac).unwrap(),
        })
    }

    #[test]
    fn table() {
        use ArgError::*;
        let mac = "52:54:00:12:34:56";
        #[rustfmt::skip]
        let cases: Vec<(&[&str], Result<Command, ArgError>)> = vec![
            (&["--claim=tap0", "--mac=52:54:00:12:34:56"], Ok(claim("tap0", mac))),
            (&["--mac=52:54:00:12:34:56", "--claim=tap0"], Ok(claim("tap0", mac))),
            (&["--claim=tap0", "--mac=52:54:00:AB:CD:EF"], Ok(claim("tap0", "52:54:00:ab:cd:ef"))),
            (&["--claim=tap0"], Err(Missing("--mac=MAC"))),
            (&["--mac=52:54:00:12:34:56", "--claim=tap0", "--mac=52:54:00:12:34:56"], Err(Duplicate("--mac"))),
            (&["--claim=tap0", "--claim=tap1", "--mac=52:54:00:12:34:56"], Err(Duplicate("--claim"))),
            // Nothing else is accepted beside --claim: no --fd (nothing is sent), no --br.
            (&["--claim=tap0", "--mac=52:54:00:12:34:56", "--fd=3"], Err(NotWithClaim("--fd=3".into()))),
            (&["--br=br0", "--claim=tap0", "--mac=52:54:00:12:34:56"], Err(NotWithClaim("--br=br0".into()))),
            (&["--use-vnet", "--claim=tap0", "--mac=52:54:00:12:34:56"], Err(NotWithClaim("--use-vnet".into()))),
            (&["--claim=tap0", "--help"], Err(NotWithClaim("--help".into()))),
            (&["--claim=tap0", ""], Err(NotWithClaim("".into()))),
            (&["--claim", "tap0", "--mac=52:54:00:12:34:56"], Err(Unknown("--claim".into()))),
            (&["--claim=", "--mac=52:54:00:12:34:56"], Err(Tap("".into(), IfNameError::Empty))),
            (&["--claim=../tap0", "--mac=52:54:00:12:34:56"], Err(Tap("../tap0".into(), IfNameError::BadChar))),
            (&["--claim=tap0-sixteen-byte", "--mac=52:54:00:12:34:56"], Err(Tap("tap0-sixteen-byte".into(), IfNameError::TooLong))),
            (&["--claim=tap0", "--mac=01:00:5e:00:00:01"], Err(Mac("01:00:5e:00:00:01".into(), MacError::Multicast))),
            (&["--claim=tap0", "--mac=00:00:00:00:00:00"], Err(Mac("00:00:00:00:00:00".into(), MacError::Zero))),
        ];
        for (args, want) in cases {
            assert_eq!(run(args), want, "{args:?}");
        }
        // A MAC in the program name is a second --mac.
        let got = parse_invocation(
            Some(OsStr::new("/run/vm1@52:54:00:12:34:56")),
            ["--claim=tap0", "--mac=52:54:00:12:34:56"].map(OsString::from),
        );
        assert_eq!(got, Err(Duplicate("--mac")));
    }
}
