//! Reading `strace -f -o FILE` output: the system calls one program made after its exec.

use std::path::Path;

/// The lines of the process that exec'd `program`, from that `execve` on (a wrapper's
/// lines before it are dropped), pid removed and whitespace collapsed to one space, as
/// the tests spell them.
pub fn after_exec(out: &Path, program: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    let exec = format!("execve(\"{}\"", program.display());
    let mut pid = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let (who, call) = line.split_once(' ').unwrap_or(("", line));
        let call = call.split_whitespace().collect::<Vec<_>>().join(" ");
        if pid.is_none() && call.starts_with(&exec) && call.ends_with("= 0") {
            pid = Some(who.to_owned());
        }
        if pid.as_deref() == Some(who) {
            lines.push(call);
        }
    }
    assert!(
        pid.is_some(),
        "no successful {exec} in {}:\n{text}",
        out.display()
    );
    lines
}

/// The system call a line shows (`openat` for `openat(AT_FDCWD, ...) = 3`).
pub fn name(line: &str) -> &str {
    line.split('(').next().unwrap_or("")
}

/// The return value of a finished call, if it is a number.
pub fn retval(line: &str) -> Option<i64> {
    let (_, rest) = line.rsplit_once(") = ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The first argument of a call, as written.
pub fn first_arg(line: &str) -> &str {
    let args = line.split_once('(').map_or("", |(_, a)| a);
    args.split([',', ')']).next().unwrap_or("").trim()
}

/// Index of the first line matching `pred`, panicking with the whole trace otherwise.
pub fn first(lines: &[String], what: &str, pred: impl Fn(&str) -> bool) -> usize {
    lines
        .iter()
        .position(|l| pred(l))
        .unwrap_or_else(|| panic!("no {what} in strace output:\n{}", lines.join("\n")))
}
