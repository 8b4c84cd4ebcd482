//! `--explain`: what a real call by this caller would do and why, as one JSON document.
//! Pure: built from the trace of the ACL files read, the caller, the decision and the plan;
//! `run::explain` gathers those in the real call's order and adds the bridge as the kernel
//! reports it.
//!
//! It shows only what the caller could read: a file the caller cannot read appears by its
//! path and the reason it was skipped, never with content or lines.
#![forbid(unsafe_code)]

use serde_json::{json, Map, Value};

use crate::acl::{Acl, At, Caller, Outcome, Target, Trace, Verb};
use crate::cli::ExplainRequest;
use crate::plan::Plan;

/// Why a file read is honoured: the trust rule, in words.
const TRUSTED: &str =
    "owned by root and not writable by group or others, as is every directory on the way to it";

/// The caller as the ACL sees it: the numbers, and the names NSS gives them.
pub(crate) fn caller(caller: &Caller, groups: &[(u32, Option<String>)]) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|(gid, name)| json!({ "gid": gid, "name": name }))
        .collect();
    json!({ "uid": caller.uid, "user": caller.user, "groups": groups })
}

/// Every file tried, in order: trusted or not and why, read or skipped.
pub(crate) fn files(trace: &Trace) -> Value {
    let files = trace.files.iter().map(|file| {
        let mut out = Map::new();
        out.insert("path".into(), json!(file.path.display().to_string()));
        if let Some(at) = file.from {
            out.insert("included_from".into(), place(trace, at));
        }
        let (status, trusted, why) = match &file.outcome {
            Outcome::Read { stopped: None } => ("read", Some(true), TRUSTED.to_owned()),
            Outcome::Read {
                stopped: Some((line, reason)),
            } => (
                "read",
                Some(true),
                format!("{TRUSTED}; read up to line {line}, where it stops: {reason}"),
            ),
            Outcome::Absent => ("absent", None, "does not exist: no extension lines".to_owned()),
            Outcome::Unreadable(why) => ("skipped", None, format!("skipped: {why}")),
            Outcome::Untrusted(why) => ("refused", Some(false), format!("not trusted: it {why}")),
        };
        out.insert("status".into(), json!(status));
        out.insert("trusted".into(), json!(trusted));
        out.insert("why".into(), json!(why));
        Value::Object(out)
    });
    Value::Array(files.collect())
}

/// Every line that took part in the decision on `request`'s bridge: the `allow`, `deny`,
/// `managed` and `locked` lines naming it (or `all`), and the `mac` and `vlan` lines
/// naming it, each saying whether it is for this caller and whether it grants the request.
pub(crate) fn matched(acl: &Acl, trace: &Trace, request: &ExplainRequest, caller: &Caller) -> Value {
    let bridge = &request.bridge;
    let mut lines = Vec::new();
    for rule in acl.rules.iter().filter(|r| r.target.names(bridge)) {
        let verb = match rule.verb {
            Verb::Allow => "allow",
            Verb::Deny => "deny",
            Verb::Managed => "managed",
            Verb::Locked => "locked",
        };
        lines.push((
            rule.at,
            json!({ "directive": verb, "target": target(&rule.target) }),
        ));
    }
    for rule in acl.macs.iter().filter(|r| r.names(bridge)) {
        let mut about = json!({ "directive": "mac", "for_you": rule.scope.includes(caller) });
        if let Some(mac) = request.mac {
            about["grants_mac"] = json!(rule.grants(caller, mac));
        }
        lines.push((rule.at, about));
    }
    for rule in acl.vlans.iter().filter(|r| r.names(bridge)) {
        let directive = if rule.default { "vlan-default" } else { "vlan" };
        let mut about = json!({ "directive": directive, "for_you": rule.scope.includes(caller) });
        if let Some(vid) = request.vlan {
            about["grants_vlan"] = json!(rule.grants(caller, vid));
        }
        lines.push((rule.at, about));
    }
    lines.sort_by_key(|(at, _)| (at.file, at.line));
    let lines = lines.into_iter().map(|(at, mut about)| {
        if let (Some(about), Value::Object(place)) = (about.as_object_mut(), place(trace, at)) {
            about.extend(place);
        }
        about
    });
    Value::Array(lines.collect())
}

/// What the real call would do: the tap, the port, the FDB entry, the VLAN.
pub(crate) fn plan(plan: &Plan) -> Value {
    let fdb = plan.fdb.as_ref().map(|entry| {
        json!({
            "mac": entry.mac.to_string(),
            "flags": ["master", "static", "sticky"],
            "reservation": entry.reservation_in(plan.vlan),
            "vlan": plan.vlan.map(|v| v.get()),
            "may_take_learned": entry.take_learned,
        })
    });
    json!({
        "bridge": plan.bridge.as_str(),
        "tap": {
            "name": "tap%d",
            "flags": if plan.vnet_hdr { vec!["IFF_TAP", "IFF_NO_PI", "IFF_VNET_HDR"] } else { vec!["IFF_TAP", "IFF_NO_PI"] },
            "owner": plan.owner,
        },
        "pin_bridge_address": plan.pin_bridge_address,
        "port": {
            "learning": plan.port.learning,
            "unicast_flood": plan.port.unicast_flood,
            "locked": plan.port.locked,
            "up": plan.up,
        },
        "fdb": fdb,
        "vlan": plan.vlan.map(|v| v.get()),
        "pending": plan.owner.is_some(),
    })
}

/// The whole document; `reason` is the real refusal's line, `None` when it would succeed.
pub(crate) fn document(parts: Parts) -> Value {
    json!({
        "request": parts.request,
        "caller": parts.caller,
        "files": parts.files,
        "matched": parts.matched,
        "verdict": if parts.reason.is_some() { "deny" } else { "allow" },
        "reason": parts.reason,
        "plan": parts.plan,
        "bridge": parts.bridge,
    })
}

pub(crate) struct Parts {
    pub request: Value,
    pub caller: Value,
    pub files: Value,
    pub matched: Value,
    pub reason: Option<String>,
    pub plan: Value,
    pub bridge: Value,
}

pub(crate) fn request(request: &ExplainRequest) -> Value {
    json!({
        "bridge": request.bridge.as_str(),
        "mac": request.mac.map(|m| m.to_string()),
        "vlan": request.vlan.map(|v| v.get()),
        "use_vnet": request.use_vnet,
    })
}

/// A line: its file, number and text (present only for lines of files the caller read).
fn place(trace: &Trace, at: At) -> Value {
    let file = trace.path(at.file).map(|p| p.display().to_string());
    json!({ "file": file, "line": at.line, "text": trace.line(at) })
}

fn target(target: &Target) -> String {
    match target {
        Target::All => "all".into(),
        Target::Name(name) => name.as_str().into(),
    }
}

#[cfg(test)]
mod tests;
