//! `--explain`: the real call's steps up to the decision, in the real call's order, then
//! the bridge as the kernel reports it, and nothing created or changed. Printed as one
//! JSON document (built in `crate::explain`); exit 0 if the real call would be allowed.
//!
//! Privileges: step 1 as for a real call (so the ACL is read with the caller's
//! permissions, through the same trusted reader), then CAP_NET_ADMIN is dropped at once:
//! reading needs no capability. The seccomp filter goes on after the decision, as in a
//! real call; what follows only reads (GETs, and a dump of the bridge's ports) and writes
//! stdout, which the filter allows.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::path::Path;

use serde_json::{json, Value};

use super::{decide, Held};
use crate::acl;
use crate::cli::{ExplainRequest, Request};
use crate::error::Error;
use crate::explain;
use crate::netlink::{self, LookupError, Rtnl};
use crate::plan::{self, Filtering, Plan, TapState};
use crate::sys::{libvirt, privs, seccomp, trusted};

pub(super) fn explain(
    request: ExplainRequest,
    tun: io::Result<OwnedFd>,
    held: &mut Held,
) -> Result<(), Error> {
    // Nothing is created: keep only whether the tun device would have opened.
    let tun = tun.map(drop);
    privs::drop_all()?;
    let user = privs::user_name();

    // 3. The ACL, exactly as the real call reads it, keeping a trace of what was read.
    let (top, ours) = (Path::new(acl::DEFAULT_PATH), Path::new(acl::EXTENSION_PATH));
    let (acl, trace) = acl::load_both_traced(top, ours, &trusted::read);

    // 4. The decision, by the real call's code. No socket: nothing is sent.
    let call = Request {
        bridge: request.bridge.clone(),
        fd: -1,
        use_vnet: request.use_vnet,
        mac: request.mac,
        vlan: request.vlan,
    };
    let names_groups = acl.as_ref().is_ok_and(acl::Acl::names_groups);
    let caller = privs::caller(user, names_groups);
    let groups: Vec<_> = caller.gids.iter().map(|&g| (g, privs::group_name(g))).collect();
    let hook = libvirt::hook_installed();
    let (mut reason, plan, matched) = match acl {
        Err(source) => (Some(Error::Acl { source }.to_string()), None, json!([])),
        Ok(acl) => {
            let matched = explain::matched(&acl, &trace, &request, &caller);
            match decide(&acl, &call, &caller, hook) {
                Ok(plan) => (None, Some(plan), matched),
                Err(e) => (Some(e.to_string()), None, matched),
            }
        }
    };
    seccomp::confine().map_err(|source| Error::Seccomp { source })?;

    // 5.–7., read only: the bridge, its ports and the guest's entry, and what the real
    //    call would find there.
    let bridge = bridge(&request, plan.as_ref(), tun, &mut reason);
    let document = explain::document(explain::Parts {
        request: explain::request(&request),
        caller: explain::caller(&caller, &groups),
        files: explain::files(&trace),
        matched,
        plan: plan.as_ref().map_or(Value::Null, explain::plan),
        bridge,
        reason: reason.clone(),
    });
    let text = serde_json::to_string_pretty(&document).unwrap_or_default();
    let _ = io::stdout().write_all(format!("{text}\n").as_bytes());
    held.exit = Some(i32::from(reason.is_some()));
    Ok(())
}

/// The bridge as the kernel reports it; the first refusal the real call would meet there
/// (in its order: the bridge, its VLANs, the tun device, the FDB entry) becomes `reason`.
fn bridge(
    request: &ExplainRequest,
    plan: Option<&Plan>,
    tun: io::Result<()>,
    reason: &mut Option<String>,
) -> Value {
    let name = &request.bridge;
    let mut refuse = |e: Error| {
        reason.get_or_insert_with(|| e.to_string());
    };
    let mut rtnl = match Rtnl::open() {
        Ok(rtnl) => rtnl,
        Err(source) => {
            let e = Error::OpenNetlink { source };
            let out = json!({ "name": name.as_str(), "error": e.to_string() });
            refuse(e);
            return out;
        }
    };
    let found = match netlink::get_bridge(&mut rtnl, name) {
        Ok(found) => found,
        Err(source) => {
            let exists = !matches!(&source, LookupError::Io(e) if e.raw_os_error() == Some(libc::ENODEV));
            let is_bridge = !matches!(source, LookupError::NotABridge) && exists;
            let e = Error::LookUpBridge {
                bridge: name.clone(),
                source,
            };
            let out = json!({ "name": name.as_str(), "exists": exists, "is_bridge": is_bridge, "error": e.to_string() });
            refuse(e);
            return out;
        }
    };
    let mut entry_vlan = None;
    if let Some(plan) = plan {
        match plan::membership(plan.vlan, found.vlans) {
            Ok(membership) => entry_vlan = membership.entry,
            Err(source) => refuse(Error::Unfiltered {
                bridge: name.clone(),
                source,
            }),
        }
    }
    if let Err(source) = tun {
        refuse(Error::OpenTun { source });
    }
    let ports = match netlink::ports_of(&mut rtnl, found.index) {
        Ok(ports) => Value::Array(ports.iter().map(port).collect()),
        Err(e) => json!({ "error": crate::text::Reason(&e).to_string() }),
    };
    let fdb = request.mac.map(|mac| {
        let entry = plan.and_then(|p| p.fdb.as_ref());
        match netlink::foresee(&mut rtnl, found.index, mac, entry_vlan, entry) {
            Ok(foreseen) => {
                let (port, kind) = foreseen.entry.unzip();
                if let Some(source) = foreseen.refusal {
                    refuse(Error::ForeseeFdb {
                        mac,
                        vlan: entry_vlan,
                        source,
                    });
                }
                json!({ "mac": mac.to_string(), "vlan": entry_vlan.map(|v| v.get()), "port": port, "kind": kind })
            }
            Err(e) => json!({ "mac": mac.to_string(), "error": crate::text::Reason(&e).to_string() }),
        }
    });
    let filtering = match found.vlans.filtering {
        Filtering::On => json!(true),
        Filtering::Off => json!(false),
        Filtering::Unsupported => json!("unsupported by this kernel"),
    };
    json!({
        "name": name.as_str(),
        "exists": true,
        "is_bridge": true,
        "index": found.index,
        "mtu": found.mtu,
        "vlan_filtering": filtering,
        "vlan_default_pvid": found.vlans.default_pvid.map(|v| v.get()),
        "ports": ports,
        "fdb_entry": fdb,
    })
}

/// One port as `bridge -d link show` and `ip -d link show` would describe it.
fn port(state: &TapState) -> Value {
    json!({
        "name": crate::text::escape(&state.name),
        "index": state.index,
        "up": state.up,
        "tap": state.is_tap,
        "owner": state.owner,
        "learning": state.learning,
        "flood": state.unicast_flood,
        "locked": state.locked,
        "altnames": state.altnames.iter().map(|n| crate::text::escape(n).into_owned()).collect::<Vec<_>>(),
    })
}
