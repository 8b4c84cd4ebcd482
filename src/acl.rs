//! The ACL, parsed exactly as qemu-bridge-helper parses it, plus our lines.
//!
//! Two top files form one ACL: bridge.conf, which qemu-bridge-helper reads too (QEMU still
//! runs it whenever `helper=` is omitted, and it refuses our lines), then ours,
//! [`EXTENSION_PATH`], if it exists, with the same grammar, trust rules and includes.
//! Every directive is honoured in either file.
//!
//! qemu-bridge-helper's rules, kept on purpose because admins' files rely on them:
//! leading whitespace and `#` lines are skipped; the directive ends at the first space
//! (or, if the line has none, the first tab); the argument is trimmed; an error in the
//! top file refuses everything, an error in an include ends that include quietly (its
//! earlier lines still count) and an unreadable include is skipped, which is how
//! per-user include files readable by one user or group work.
//!
//! Where qemu-bridge-helper silently does something dangerous, the line is refused and
//! the whole request fails closed ([`LineError::is_hazard`]): a name that can never
//! match (a trailing `# comment` that silently disables a `deny`), a relative include
//! (resolved against the caller's cwd), an over-long line (split by fgets into two
//! lines), a NUL byte, include loops and excessive depth (a crash there). And, the one
//! deliberate difference on well-formed files: a file that anyone but root could have
//! written is not honoured (see `sys::trusted`).
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::ifname::{IfName, IfNameError, IFNAMSIZ};
pub(crate) mod check;
mod mac_rule;
mod trace;
mod vlan_rule;

pub use mac_rule::{Caller, MacRule, Scope};
pub(crate) use trace::{Outcome, Trace};
pub use vlan_rule::VlanRule;

pub const DEFAULT_PATH: &str = "/etc/qemu/bridge.conf";
/// Read by us alone, after [`DEFAULT_PATH`]: where `managed`, `locked` and `mac` lines go.
pub const EXTENSION_PATH: &str = "/etc/qemu/fdb-bridge-helper.conf";
/// qemu-bridge-helper reads lines with fgets() into 4096 bytes, NUL included.
const MAX_LINE: usize = 4095;
const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Allow,
    Deny,
    /// Ours: learning and flooding off and a static FDB entry on ports of this bridge.
    Managed,
    /// Ours: managed, and the port locked to the guest's MAC (anti-spoofing).
    Locked,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    All,
    Name(IfName),
}

impl Target {
    /// Whether a line with this target is about `bridge`: the one place a name is matched.
    pub fn names(&self, bridge: &IfName) -> bool {
        match self {
            Self::All => true,
            Self::Name(name) => name == bridge,
        }
    }
}

/// Where a line is: the index of its file among those the parser tried, in order (see
/// [`Trace`]), and its line number. Two integers per rule, so that `--explain` can name the
/// lines that decided while the normal path keeps no text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct At {
    pub file: u16,
    pub line: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub verb: Verb,
    pub target: Target,
    pub at: At,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Acl {
    pub rules: Vec<Rule>,
    pub macs: Vec<MacRule>,
    pub vlans: Vec<VlanRule>,
}

impl Acl {
    /// Whether any `mac` or `vlan` line is scoped to a group, so the caller's groups are needed.
    pub fn names_groups(&self) -> bool {
        let scopes = self.macs.iter().map(|r| &r.scope);
        scopes
            .chain(self.vlans.iter().map(|r| &r.scope))
            .any(|s| matches!(s, Scope::Group(_)))
    }

    /// Whether any `verb` line names `bridge` or `all`; order does not matter.
    pub fn matches(&self, verb: Verb, bridge: &IfName) -> bool {
        self.rules
            .iter()
            .any(|r| r.verb == verb && r.target.names(bridge))
    }
}

#[derive(Debug)]
pub enum Error {
    Read {
        path: PathBuf,
        source: ReadError,
    },
    Parse {
        path: PathBuf,
        line: usize,
        reason: LineError,
    },
}

#[derive(Debug)]
pub enum ReadError {
    /// The caller cannot read it: fatal for the top file, an include is skipped.
    Io(io::Error),
    /// Anyone but root could have written it, or it is not a sane file: always fatal.
    Untrusted(String),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => crate::text::Reason(e).fmt(f),
            Self::Untrusted(why) => write!(f, "not trusted: it {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    NoArgument,
    UnknownDirective(String),
    NameTooLong(usize),
    BadName(String, IfNameError),
    RelativeInclude(String),
    BadMacRule(String, String),
    /// The directive (`vlan` or `vlan-default`), the argument, why.
    BadVlanRule(&'static str, String, String),
    LineTooLong,
    Nul,
    TooDeep,
    Cycle,
    UntrustedInclude(PathBuf, String),
}

impl LineError {
    /// Lines qemu-bridge-helper accepts, or crashes on, but that we refuse everywhere:
    /// ending an include early there could drop a `deny` that qemu-bridge-helper honours.
    pub fn is_hazard(&self) -> bool {
        !matches!(
            self,
            Self::NoArgument | Self::UnknownDirective(_) | Self::NameTooLong(_)
        )
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoArgument => f.write_str("expected `DIRECTIVE ARGUMENT`"),
            Self::UnknownDirective(d) => write!(f, "unknown directive {d:?}"),
            Self::NameTooLong(n) => write!(f, "name is {n} bytes, at most 15 allowed"),
            Self::BadName(n, why) => {
                write!(
                    f,
                    "{n:?} is not an interface name ({why}); comments must be on their own line"
                )
            }
            Self::RelativeInclude(p) => write!(f, "include path {p:?} is not absolute"),
            Self::BadMacRule(line, why) => write!(f, "mac {line:?}: {why}"),
            Self::BadVlanRule(directive, line, why) => write!(f, "{directive} {line:?}: {why}"),
            Self::LineTooLong => write!(f, "line longer than {MAX_LINE} bytes"),
            Self::Nul => f.write_str("NUL byte in line"),
            Self::TooDeep => write!(f, "includes nested deeper than {MAX_DEPTH}"),
            Self::Cycle => f.write_str("include cycle"),
            Self::UntrustedInclude(p, why) => write!(f, "{} is not trusted: it {why}", p.display()),
        }
    }
}

pub type Reader<'a> = &'a dyn Fn(&Path) -> Result<Vec<u8>, ReadError>;

/// Reads one top file, `path`, and its includes through `read` (the fuzzer's in-memory files).
pub fn load_with(path: &Path, read: Reader<'_>) -> Result<Acl, Error> {
    let mut parser = Parser::new(read, false);
    parser.top(path, false)?;
    Ok(parser.acl)
}

/// Reads `top`, then `ours` unless it does not exist, each with its includes, through
/// `read`: in `run`, `sys::trusted::read`, which reads with the calling process's
/// permissions and honours only files that no one but root could have written; in the
/// tests, a table.
pub fn load_both_with(top: &Path, ours: &Path, read: Reader<'_>) -> Result<Acl, Error> {
    let mut parser = Parser::new(read, false);
    parser.top(top, false)?;
    parser.top(ours, true)?;
    Ok(parser.acl)
}

/// [`load_both_with`], also keeping what `--explain` shows: every file it tried, with its
/// outcome and, for those it read, their text (see [`Trace`]). The trace is there on
/// failure too: it ends with the file that failed.
pub fn load_both_traced(top: &Path, ours: &Path, read: Reader<'_>) -> (Result<Acl, Error>, Trace) {
    let mut parser = Parser::new(read, true);
    let result = parser.top(top, false).and_then(|()| parser.top(ours, true));
    let trace = parser.trace.take().unwrap_or_default();
    (result.map(|()| parser.acl), trace)
}

/// One line, parsed: what the parser adds to the ACL, or an include to follow.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Empty, or a comment.
    Blank,
    Include(PathBuf),
    Rule(Verb, Target),
    Mac(MacRule),
    Vlan(VlanRule),
}

impl Line {
    /// Lines qemu-bridge-helper does not know: it refuses them in bridge.conf and stops at
    /// them in an include.
    pub(crate) fn is_extension(&self) -> bool {
        matches!(
            self,
            Self::Rule(Verb::Managed | Verb::Locked, _) | Self::Mac(_) | Self::Vlan(_)
        )
    }
}

struct Parser<'a> {
    read: Reader<'a>,
    acl: Acl,
    /// The files being read, outermost first, with their index (see [`At`]).
    stack: Vec<(PathBuf, u16)>,
    /// How many files were tried so far: the next file's index.
    tried: u16,
    trace: Option<Trace>,
}

impl<'a> Parser<'a> {
    fn new(read: Reader<'a>, traced: bool) -> Self {
        Self {
            read,
            acl: Acl::default(),
            stack: Vec::new(),
            tried: 0,
            trace: traced.then(Trace::default),
        }
    }

    /// A top file: failing to read it is fatal, except that an `optional` one may be absent.
    fn top(&mut self, path: &Path, optional: bool) -> Result<(), Error> {
        let read = (self.read)(path);
        let index = self.tried(path, None, &read);
        let text = match read {
            Ok(text) => text,
            Err(ReadError::Io(e)) if optional && e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(source) => {
                return Err(Error::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        self.file(path, index, &text, true)
    }

    /// Counts a file tried and, when tracing, records how it went; returns its index.
    fn tried(&mut self, path: &Path, from: Option<At>, read: &Result<Vec<u8>, ReadError>) -> u16 {
        let index = self.tried;
        self.tried = self.tried.saturating_add(1);
        if let Some(trace) = &mut self.trace {
            trace.record(path, from, read);
        }
        index
    }

    fn file(&mut self, path: &Path, index: u16, text: &[u8], top: bool) -> Result<(), Error> {
        self.stack.push((path.to_owned(), index));
        let result = self.lines(path, index, text, top);
        self.stack.pop();
        result
    }

    fn lines(&mut self, path: &Path, file: u16, text: &[u8], top: bool) -> Result<(), Error> {
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let at = At {
                file,
                line: u32::try_from(index + 1).unwrap_or(u32::MAX),
            };
            let fail = |reason| Error::Parse {
                path: path.to_owned(),
                line: index + 1,
                reason,
            };
            match parse_line(raw) {
                Ok(Line::Blank) => {}
                Ok(Line::Include(include)) => self.include(&include, at, &fail)?,
                Ok(Line::Rule(verb, target)) => self.acl.rules.push(Rule { verb, target, at }),
                Ok(Line::Mac(rule)) => self.acl.macs.push(MacRule { at, ..rule }),
                Ok(Line::Vlan(rule)) => self.acl.vlans.push(VlanRule { at, ..rule }),
                // As qemu-bridge-helper: an include's first bad line ends that include.
                Err(reason) if !top && !reason.is_hazard() => {
                    if let Some(trace) = &mut self.trace {
                        trace.stopped(file, at.line, reason);
                    }
                    break;
                }
                Err(reason) => return Err(fail(reason)),
            }
        }
        Ok(())
    }

    /// Follows an include; `fail` locates an error of the include line itself, at `at`.
    fn include(&mut self, path: &Path, at: At, fail: &dyn Fn(LineError) -> Error) -> Result<(), Error> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(fail(LineError::TooDeep));
        }
        if self.stack.iter().any(|(p, _)| p == path) {
            return Err(fail(LineError::Cycle));
        }
        let read = (self.read)(path);
        let index = self.tried(path, Some(at), &read);
        match read {
            Ok(text) => self.file(path, index, &text, false),
            Err(ReadError::Untrusted(why)) => Err(fail(LineError::UntrustedInclude(path.to_owned(), why))),
            // As qemu-bridge-helper: an include the caller cannot read is skipped.
            Err(ReadError::Io(_)) => Ok(()),
        }
    }
}

/// One line, as qemu-bridge-helper splits it, plus our directives.
pub(crate) fn parse_line(raw: &[u8]) -> Result<Line, LineError> {
    if raw.len() > MAX_LINE {
        return Err(LineError::LineTooLong);
    }
    if raw.contains(&0) {
        return Err(LineError::Nul);
    }
    let rest = trim_start(raw);
    if rest.is_empty() || rest[0] == b'#' {
        return Ok(Line::Blank);
    }
    let split = find(rest, b' ').or_else(|| find(rest, b'\t'));
    let split = split.ok_or(LineError::NoArgument)?;
    let (directive, arg) = (&rest[..split], trim_end(trim_start(&rest[split + 1..])));
    let verb = match directive {
        b"include" => return include_path(arg).map(Line::Include),
        b"allow" => Verb::Allow,
        b"deny" => Verb::Deny,
        b"managed" => Verb::Managed,
        b"locked" => Verb::Locked,
        b"mac" => return MacRule::parse(arg).map(Line::Mac),
        b"vlan" | b"vlan-default" => {
            return VlanRule::parse(arg, directive == b"vlan-default").map(Line::Vlan)
        }
        _ if arg.len() >= IFNAMSIZ => return Err(LineError::NameTooLong(arg.len())),
        _ => return Err(LineError::UnknownDirective(lossy(directive))),
    };
    Ok(Line::Rule(verb, parse_target(arg)?))
}

pub(crate) fn parse_target(arg: &[u8]) -> Result<Target, LineError> {
    if arg.len() >= IFNAMSIZ {
        return Err(LineError::NameTooLong(arg.len()));
    }
    if arg == b"all" {
        return Ok(Target::All);
    }
    let text = std::str::from_utf8(arg).map_err(|_| LineError::BadName(lossy(arg), IfNameError::BadChar))?;
    IfName::new(text)
        .map(Target::Name)
        .map_err(|e| LineError::BadName(lossy(arg), e))
}

fn include_path(arg: &[u8]) -> Result<PathBuf, LineError> {
    if arg.first() != Some(&b'/') {
        return Err(LineError::RelativeInclude(lossy(arg)));
    }
    Ok(PathBuf::from(OsStr::from_bytes(arg)))
}

/// g_ascii_isspace(): space, \t, \n, \v, \f, \r.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_space(b)).count();
    &s[n..]
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s.iter().rev().take_while(|&&b| is_space(b)).count();
    &s[..s.len() - n]
}

fn find(s: &[u8], byte: u8) -> Option<usize> {
    s.iter().position(|&b| b == byte)
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}
