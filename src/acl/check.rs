//! `--check`: every problem in the ACL files, as `visudo -c` lists sudoers': not only the
//! first one, which is where the parser stops. Pure (the files come through a reader, as
//! for the parser); `run` reads them as root with `sys::trusted::read` and prints.
//!
//! Problems: what refuses every request (a hazard, any mistake in a top file, an untrusted
//! file, a top file that cannot be read), what quietly ends an include (its first unknown
//! line, as qemu-bridge-helper does), and our lines in a file qemu-bridge-helper also
//! reads (bridge.conf and its includes), which it refuses or stops at. An include that
//! cannot be read is only a warning: the real call skips it too.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use super::{parse_line, Line, LineError, ReadError, Reader, MAX_DEPTH};

/// A top file to check.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Top<'a> {
    pub path: &'a Path,
    /// qemu-bridge-helper reads it (and its includes) too: our lines are problems there.
    pub shared: bool,
    /// It may be absent (our own file).
    pub optional: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub finding: Finding,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Finding {
    /// A top file that cannot be read or is not trusted: every request is refused.
    Read(String),
    /// A bad line; `ends_include`: in an include and no hazard, so it only ends that
    /// include (the lines after it are ignored); otherwise every request is refused.
    Line { reason: LineError, ends_include: bool },
    /// One of our lines in a file qemu-bridge-helper reads; `top`: in bridge.conf itself,
    /// which it then refuses whole, else in one of its includes, which it stops reading.
    Extension { top: bool },
    /// An include that cannot be read (why): skipped, for root as for the caller.
    Skipped(PathBuf, String),
}

impl Problem {
    pub fn is_error(&self) -> bool {
        !matches!(self.finding, Finding::Skipped(..))
    }
}

/// Checks `tops` and everything they include; the problems in the order they are found.
/// Also returns how many files were read.
pub(crate) fn check(tops: &[Top<'_>], read: Reader<'_>) -> (Vec<Problem>, usize) {
    let mut checker = Checker {
        read,
        problems: Vec::new(),
        stack: Vec::new(),
        files: 0,
    };
    for top in tops {
        match (checker.read)(top.path) {
            Ok(text) => checker.file(top.path, &text, top.shared, true),
            Err(ReadError::Io(e)) if top.optional && e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => checker.problems.push(Problem {
                path: top.path.to_owned(),
                line: None,
                finding: Finding::Read(e.to_string()),
            }),
        }
    }
    (checker.problems, checker.files)
}

struct Checker<'a> {
    read: Reader<'a>,
    problems: Vec<Problem>,
    stack: Vec<PathBuf>,
    files: usize,
}

impl Checker<'_> {
    fn file(&mut self, path: &Path, text: &[u8], shared: bool, top: bool) {
        self.files += 1;
        self.stack.push(path.to_owned());
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let finding = match parse_line(raw) {
                Ok(Line::Include(include)) => self.include(&include, shared),
                Ok(line) if shared && line.is_extension() => Some(Finding::Extension { top }),
                Ok(_) => None,
                Err(reason) => Some(Finding::Line {
                    ends_include: !top && !reason.is_hazard(),
                    reason,
                }),
            };
            if let Some(finding) = finding {
                self.problems.push(Problem {
                    path: path.to_owned(),
                    line: Some(index + 1),
                    finding,
                });
            }
        }
        self.stack.pop();
    }

    /// Checks an included file; returns the problem of the include line itself, if any.
    fn include(&mut self, path: &Path, shared: bool) -> Option<Finding> {
        let refuse = |reason| {
            Some(Finding::Line {
                reason,
                ends_include: false,
            })
        };
        if self.stack.len() >= MAX_DEPTH {
            return refuse(LineError::TooDeep);
        }
        if self.stack.iter().any(|p| p == path) {
            return refuse(LineError::Cycle);
        }
        match (self.read)(path) {
            Ok(text) => {
                self.file(path, &text, shared, false);
                None
            }
            Err(ReadError::Untrusted(why)) => refuse(LineError::UntrustedInclude(path.to_owned(), why)),
            Err(ReadError::Io(e)) => Some(Finding::Skipped(
                path.to_owned(),
                crate::text::Reason(&e).to_string(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const TOP: &str = "/etc/qemu/bridge.conf";
    const OURS: &str = "/etc/qemu/fdb-bridge-helper.conf";

    /// Paths and contents; `None`: the file exists but cannot be read.
    type Files<'a> = Vec<(&'a str, Option<&'a str>)>;
    /// Path, line and the short name of a finding.
    type Found = (String, Option<usize>, &'static str);

    fn run(files: &[(&str, Option<&str>)]) -> Vec<Found> {
        let files: HashMap<&str, Option<&str>> = files.iter().copied().collect();
        let read = |p: &Path| match files.get(p.to_str().unwrap()) {
            Some(Some(text)) if text.starts_with("UNTRUSTED") => {
                Err(ReadError::Untrusted("is owned by uid 1000, not root".into()))
            }
            Some(Some(text)) => Ok(text.as_bytes().to_vec()),
            Some(None) => Err(ReadError::Io(io::ErrorKind::PermissionDenied.into())),
            None => Err(ReadError::Io(io::ErrorKind::NotFound.into())),
        };
        let tops = [
            Top {
                path: Path::new(TOP),
                shared: true,
                optional: false,
            },
            Top {
                path: Path::new(OURS),
                shared: false,
                optional: true,
            },
        ];
        let (problems, _) = check(&tops, &read);
        problems
            .into_iter()
            .map(|p| {
                let kind = match p.finding {
                    Finding::Read(_) => "read",
                    Finding::Line { reason, .. } if reason.is_hazard() => "hazard",
                    Finding::Line {
                        ends_include: true, ..
                    } => "ends-include",
                    Finding::Line { .. } => "refuses",
                    Finding::Extension { top: true } => "ext-top",
                    Finding::Extension { top: false } => "ext-include",
                    Finding::Skipped(..) => "skipped",
                };
                (p.path.display().to_string(), p.line, kind)
            })
            .collect()
    }

    fn p(path: &str, line: Option<usize>, kind: &'static str) -> Found {
        (path.into(), line, kind)
    }

    #[test]
    fn table() {
        let cases: Vec<(Files, Vec<Found>)> = vec![
            // Clean: our lines in our file only.
            (
                vec![(TOP, Some("allow br0\n# c\n")), (OURS, Some("managed br0\nmac br0 52:54:00:*\n"))],
                vec![],
            ),
            // Our file may be absent; bridge.conf may not.
            (vec![(TOP, Some("allow br0\n"))], vec![]),
            (vec![], vec![p(TOP, None, "read")]),
            (vec![(TOP, Some("UNTRUSTED"))], vec![p(TOP, None, "read")]),
            (vec![(TOP, None)], vec![p(TOP, None, "read")]),
            // Every problem, not the first only: both lines of bridge.conf, then ours.
            (
                vec![
                    (TOP, Some("allow br0 # lab\nmanaged br0\nfoo br0\n")),
                    (OURS, Some("allow br1\nbar baz\n")),
                ],
                vec![
                    p(TOP, Some(1), "hazard"),
                    p(TOP, Some(2), "ext-top"),
                    p(TOP, Some(3), "refuses"),
                    p(OURS, Some(2), "refuses"),
                ],
            ),
            // Includes: our lines in bridge.conf's includes, an unknown line ending one, an
            // untrusted and an unreadable one, a missing one; ours' includes may hold ours.
            (
                vec![
                    (
                        TOP,
                        Some("include /etc/qemu/a.conf\ninclude /etc/qemu/u.conf\ninclude /etc/qemu/gone.conf\ninclude /etc/qemu/secret.conf\n"),
                    ),
                    ("/etc/qemu/a.conf", Some("allow br1\nlocked br1\nfoo bar\ninclude rel\n")),
                    ("/etc/qemu/u.conf", Some("UNTRUSTED")),
                    ("/etc/qemu/secret.conf", None),
                    (OURS, Some("include /etc/qemu/o.conf\n")),
                    ("/etc/qemu/o.conf", Some("locked br1\nvlan br1 101\n")),
                ],
                vec![
                    p("/etc/qemu/a.conf", Some(2), "ext-include"),
                    p("/etc/qemu/a.conf", Some(3), "ends-include"),
                    p("/etc/qemu/a.conf", Some(4), "hazard"),
                    p(TOP, Some(2), "hazard"),
                    p(TOP, Some(3), "skipped"),
                    p(TOP, Some(4), "skipped"),
                ],
            ),
            // A cycle, found at the include line that closes it.
            (
                vec![
                    (TOP, Some("include /etc/qemu/a.conf\n")),
                    ("/etc/qemu/a.conf", Some("include /etc/qemu/bridge.conf\n")),
                ],
                vec![p("/etc/qemu/a.conf", Some(1), "hazard")],
            ),
        ];
        for (files, want) in cases {
            assert_eq!(run(&files), want, "{files:?}");
        }
    }
}
