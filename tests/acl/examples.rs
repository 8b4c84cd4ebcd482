//! The shipped example ACL (`packaging/examples/`) is what the README shows, and both helpers
//! do with it what the README's table says: Debian's qemu-bridge-helper (a setuid copy, run
//! as the test users) reads bridge.conf and its includes without a word and allows exactly
//! the rows marked allowed; ours gives plain, managed, locked or refused row by row.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::call::call_via;
use common::{env, Call, Install, Netns, Outcome, Run, TapFd, TestUser};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/examples");
const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const QBH: &str = "/usr/lib/qemu/qemu-bridge-helper";

/// One example file: its name and what its first line says it is installed as,
/// `# /etc/qemu/NAME, root:GROUP MODE…`.
struct Example {
    name: String,
    text: String,
    group: String,
    mode: u32,
}

fn examples() -> Vec<Example> {
    let mut all: Vec<Example> = fs::read_dir(EXAMPLES)
        .expect("packaging/examples")
        .map(|e| e.unwrap().path())
        .map(|path| example(&path))
        .collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(all.len() >= 4, "expected the example files in {EXAMPLES}");
    all
}

fn example(path: &Path) -> Example {
    let name = path.file_name().unwrap().to_str().unwrap().to_owned();
    let text = fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap_or("");
    let rest = first
        .strip_prefix(&format!("# /etc/qemu/{name}, root:"))
        .unwrap_or_else(|| panic!("{name}: first line must be `# /etc/qemu/{name}, root:GROUP MODE`"));
    let mut words = rest.split([' ', ',', ':', '.']);
    let group = words.next().unwrap().to_owned();
    let mode = u32::from_str_radix(words.next().unwrap(), 8).expect("octal mode");
    Example {
        name,
        text,
        group,
        mode,
    }
}

/// The contents of the README's fenced code blocks.
fn readme_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.starts_with("```")) {
            (None, true) => current = Some(String::new()),
            (Some(_), true) => blocks.push(current.take().unwrap()),
            (Some(block), false) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, false) => {}
        }
    }
    blocks
}

/// Every example file is in the README verbatim, and every README block that presents itself
/// as a file of /etc/qemu is one of them, unchanged.
#[test]
fn readme_shows_the_example_files_verbatim() {
    let readme = fs::read_to_string(README).unwrap();
    let blocks = readme_blocks(&readme);
    let examples = examples();
    for ex in &examples {
        assert!(
            blocks.contains(&ex.text),
            "README lacks packaging/examples/{} verbatim",
            ex.name
        );
    }
    for block in blocks.iter().filter(|b| b.starts_with("# /etc/qemu/")) {
        assert!(
            examples.iter().any(|ex| ex.text == *block),
            "README block differs from every file in packaging/examples:\n{block}"
        );
    }
}

/// qemu-bridge-helper's grammar in bridge.conf and everything it includes: a check that
/// names the line, beside running qemu-bridge-helper itself below.
#[test]
fn bridge_conf_and_its_includes_hold_only_qemu_bridge_helper_lines() {
    let examples = examples();
    let mut todo = vec!["bridge.conf".to_owned()];
    while let Some(name) = todo.pop() {
        let ex = examples
            .iter()
            .find(|ex| ex.name == name)
            .unwrap_or_else(|| panic!("{name} is included but not shipped"));
        for line in ex
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (directive, arg) = line.split_once(' ').expect("DIRECTIVE ARGUMENT");
            match directive {
                "allow" | "deny" => {}
                "include" => todo.push(arg.strip_prefix("/etc/qemu/").expect("an example").to_owned()),
                _ => panic!(
                    "{name}: qemu-bridge-helper refuses {line:?}; it belongs in fdb-bridge-helper.conf"
                ),
            }
        }
    }
}

#[test]
fn help_documents_short_options_and_points_to_the_man_pages() {
    for flag in ["--help", "-h"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fdb-bridge-helper"))
            .arg(flag)
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(out.status.success(), "{flag}");
        assert!(
            text.contains("-h, --help") && text.contains("-V, --version"),
            "{text}"
        );
        assert!(
            text.ends_with("See fdb-bridge-helper(8) and fdb-bridge-helper.conf(5).\n"),
            "{text}"
        );
    }
    let man = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/fdb-bridge-helper.8"
    ))
    .unwrap();
    assert!(
        man.contains(r"\-h") && man.contains(r"\-V"),
        "man page lacks -h/-V"
    );
}

/// One row of the README's table: who calls, with which bridge and MAC, and what each
/// helper does.
#[derive(Debug)]
struct Row {
    callers: Vec<String>,
    bridge: String,
    mac: Option<String>,
    qbh_allows: bool,
    ours: String,
}

fn readme_table() -> Vec<Row> {
    let readme = fs::read_to_string(README).unwrap();
    let header = "| caller | `--br=` | `--mac=` | qemu-bridge-helper | fdb-bridge-helper |";
    let start = readme.find(header).expect("README: the examples' table");
    let rows: Vec<Row> = readme[start..]
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|line| {
            let cells: Vec<String> = line
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', ""))
                .collect();
            assert_eq!(cells.len(), 5, "{line}");
            Row {
                callers: cells[0].split(", ").map(str::to_owned).collect(),
                bridge: cells[1].clone(),
                mac: (cells[2] != "none").then(|| cells[2].clone()),
                qbh_allows: match cells[3].as_str() {
                    "allowed" => true,
                    "denied" => false,
                    other => panic!("qemu-bridge-helper column: {other:?}"),
                },
                ours: cells[4].clone(),
            }
        })
        .collect();
    assert!(rows.len() >= 6, "README table has {} rows", rows.len());
    rows
}

/// The README's alice and bob are the test users (and alice's group theirs).
fn user(name: &str) -> &'static TestUser {
    match name {
        "alice" => &env().alice,
        "bob" => &env().bob,
        _ => panic!("README names an unknown user {name:?}"),
    }
}

/// Installs every example into the namespace's /etc/qemu as its first line says.
fn install(ns: &Netns) {
    for ex in examples() {
        let gid = match ex.group.as_str() {
            "root" => 0,
            group => user(group).gid,
        };
        ns.write_acl_as(&ex.name, &ex.text, ex.mode, 0, gid);
    }
}

/// A setuid-root copy of Debian's qemu-bridge-helper (it drops to the caller with libcap-ng
/// before reading the ACL, as ours does), run with a 0666 tun: it opens /dev/net/tun after
/// the drop.
fn qbh_copy() -> PathBuf {
    let copy = env().dir.join("qemu-bridge-helper-setuid");
    if !copy.exists() {
        common::sh_ok(
            "install",
            &[
                "-o",
                "root",
                "-g",
                "root",
                "-m",
                "4755",
                QBH,
                copy.to_str().unwrap(),
            ],
        );
    }
    copy
}

fn run_qbh(ns: &Netns, caller: &TestUser, bridge: &str) -> Outcome {
    let call = Call {
        install: Install::Setuid,
        run: Run {
            tun0666: true,
            ..Run::user(caller, Install::Setuid)
        },
        args: vec!["--use-vnet".into(), format!("--br={bridge}"), "--fd={fd}".into()],
        keep: Vec::new(),
    };
    // The harness execs ours; the wrapper drops that argument and execs the copy instead.
    let script = format!("shift; exec {} \"$@\"", qbh_copy().display());
    call_via(ns, &call, &["/bin/sh", "-c", &script, "sh"])
}

fn run_ours(ns: &Netns, caller: &TestUser, bridge: &str, mac: Option<&str>) -> Outcome {
    let mut args = vec![
        "--use-vnet".to_owned(),
        format!("--br={bridge}"),
        "--fd={fd}".into(),
    ];
    args.extend(mac.map(|m| format!("--mac={m}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Call::new(Install::Setuid, caller, &args).run(ns)
}

fn port_flags(ns: &Netns, tap: &TapFd) -> String {
    ns.bridge(&format!("-d link show dev {}", tap.name()))
}

/// Checks ours against one cell of the table. No tap is left from earlier calls: two
/// callers claiming one MAC at once would be refused, rightly.
fn check_ours(ns: &Netns, row: &Row, out: Outcome, what: &str) {
    let expect = row.ours.as_str();
    if let Some(reason) = expect.strip_prefix("refused: ") {
        let prefix = format!("failed to authorize bridge {}: ", row.bridge);
        let mut want = vec![prefix.as_str()];
        if reason == "access denied by acl file" {
            want.push(reason);
        } else {
            assert!(!out.stderr.contains("access denied"), "{what}: {}", out.stderr);
        }
        if reason == "MAC not granted" {
            want.push(row.mac.as_deref().unwrap());
        }
        if reason == "needs --mac" {
            want.push("--mac=MAC");
        }
        out.failure(ns, &want);
        return;
    }
    let tap = out.success(true);
    let port = port_flags(ns, &tap);
    let fdb = ns.bridge(&format!("fdb show br {}", row.bridge));
    // `MAC dev TAP [sticky] master BRIDGE static`: the static entries on the tap.
    let dev = format!("dev {}", tap.name());
    let master = format!("master {}", row.bridge);
    let statics: Vec<&str> = fdb
        .lines()
        .filter(|l| l.contains(&dev) && l.contains(&master) && l.ends_with(" static"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let kind = expect.split_whitespace().next().unwrap();
    let (learning, locked) = match kind {
        "plain" => ("learning on flood on", false),
        "managed" => ("learning off flood off", false),
        "locked" => ("learning off flood off", true),
        other => panic!("fdb-bridge-helper column: {other:?}"),
    };
    assert!(port.contains(learning), "{what}: {port}");
    assert_eq!(port.contains("locked on"), locked, "{what}: {port}");
    match (kind, &row.mac) {
        ("plain", _) => assert!(statics.is_empty(), "{what}: {fdb}"),
        (_, Some(mac)) => assert_eq!(statics, [mac.as_str()], "{what}: {fdb}"),
        (_, None) => panic!("{what}: a managed row needs a MAC"),
    }
    gone(ns, tap);
}

/// Closes the guest's end, which deletes the tap and its FDB entries, and waits for that.
fn gone(ns: &Netns, tap: TapFd) {
    drop(tap);
    assert!(common::wait_for(5.0, || ns.taps().is_empty()), "{:?}", ns.taps());
}

#[test]
fn both_helpers_do_what_the_readme_table_says() {
    let ns = Netns::new();
    for bridge in ["br0", "br1", "br-lab", "br2"] {
        ns.add_bridge(bridge);
    }
    install(&ns);
    for row in readme_table() {
        for name in &row.callers {
            let caller = user(name);
            let what = format!("{name} on {} with --mac={:?}", row.bridge, row.mac);
            let out = run_qbh(&ns, caller, &row.bridge);
            if row.qbh_allows {
                let tap = out.success(true);
                assert!(
                    ns.ip(&format!("-o link show master {}", row.bridge))
                        .contains(&format!(" {}: ", tap.name())),
                    "qemu-bridge-helper, {what}"
                );
                gone(&ns, tap);
            } else {
                assert_eq!(
                    (out.code, out.stderr.as_str(), out.fd.is_some()),
                    (Some(1), "access denied by acl file\n", false),
                    "qemu-bridge-helper, {what}"
                );
            }
            let out = run_ours(&ns, caller, &row.bridge, row.mac.as_deref());
            check_ours(&ns, &row, out, &what);
        }
    }
}
