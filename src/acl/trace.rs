//! What `--explain` shows of the ACL: every file the parser tried, in order (the index
//! an [`At`] names), how that went, and the text of those it read, so that a rule's line
//! can be quoted. Kept only when explaining: the normal path records nothing here.
//!
//! Nothing of a file the caller could not read is kept: only its path and why it was
//! skipped, as the real call would skip it.
#![forbid(unsafe_code)]

use std::io;
use std::path::{Path, PathBuf};

use super::{At, LineError, ReadError};

#[derive(Debug, Default)]
pub(crate) struct Trace {
    pub files: Vec<FileRead>,
}

#[derive(Debug)]
pub(crate) struct FileRead {
    pub path: PathBuf,
    /// The include line that named it; `None` for a top file.
    pub from: Option<At>,
    pub outcome: Outcome,
    /// The file as read; empty unless read.
    text: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Read and honoured, up to `stopped`: an include ends at its first bad line (line
    /// number, why), as in qemu-bridge-helper.
    Read { stopped: Option<(u32, LineError)> },
    /// Our top file, absent: no extension lines.
    Absent,
    /// The caller cannot read it (why): an include is skipped, a top file refuses all.
    Unreadable(String),
    /// Anyone but root could have written it (why): refuses every request.
    Untrusted(String),
}

impl Trace {
    pub(super) fn record(&mut self, path: &Path, from: Option<At>, read: &Result<Vec<u8>, ReadError>) {
        let (outcome, text) = match read {
            Ok(text) => (Outcome::Read { stopped: None }, text.clone()),
            Err(ReadError::Io(e)) if from.is_none() && e.kind() == io::ErrorKind::NotFound => {
                (Outcome::Absent, Vec::new())
            }
            Err(ReadError::Io(e)) => (
                Outcome::Unreadable(crate::text::Reason(e).to_string()),
                Vec::new(),
            ),
            Err(ReadError::Untrusted(why)) => (Outcome::Untrusted(why.clone()), Vec::new()),
        };
        self.files.push(FileRead {
            path: path.to_owned(),
            from,
            outcome,
            text,
        });
    }

    pub(super) fn stopped(&mut self, file: u16, line: u32, reason: LineError) {
        if let Some(read) = self.files.get_mut(usize::from(file)) {
            read.outcome = Outcome::Read {
                stopped: Some((line, reason)),
            };
        }
    }

    /// The path of file `index`.
    pub fn path(&self, index: u16) -> Option<&Path> {
        self.files.get(usize::from(index)).map(|f| f.path.as_path())
    }

    /// The text of the line at `at`, lossily decoded, if its file was read.
    pub fn line(&self, at: At) -> Option<String> {
        let file = self.files.get(usize::from(at.file))?;
        if !matches!(file.outcome, Outcome::Read { .. }) {
            return None;
        }
        let index = usize::try_from(at.line).ok()?.checked_sub(1)?;
        let raw = file.text.split(|&b| b == b'\n').nth(index)?;
        Some(String::from_utf8_lossy(raw).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::acl::{load_both_traced, Verb};

    #[test]
    fn files_and_lines() {
        let files: HashMap<&str, Option<&str>> = [
            (
                "/q/bridge.conf",
                Some("allow br0\ninclude /q/alice.conf\ninclude /q/bob.conf\n"),
            ),
            ("/q/alice.conf", None),
            ("/q/bob.conf", Some("deny br0\nbogus line\nallow br9\n")),
            (
                "/q/ours.conf",
                Some("# ours\nmanaged br0\nmac br0 user=#5 52:54:00:*\n"),
            ),
        ]
        .into_iter()
        .collect();
        let read = |p: &Path| match files.get(p.to_str().unwrap()) {
            Some(Some(text)) => Ok(text.as_bytes().to_vec()),
            Some(None) => Err(ReadError::Io(io::Error::from_raw_os_error(libc::EACCES))),
            None => Err(ReadError::Io(io::ErrorKind::NotFound.into())),
        };
        let (acl, trace) = load_both_traced(Path::new("/q/bridge.conf"), Path::new("/q/ours.conf"), &read);
        let acl = acl.unwrap();
        let paths: Vec<_> = trace.files.iter().map(|f| f.path.to_str().unwrap()).collect();
        assert_eq!(
            paths,
            ["/q/bridge.conf", "/q/alice.conf", "/q/bob.conf", "/q/ours.conf"]
        );
        assert_eq!(
            trace.files[1].outcome,
            Outcome::Unreadable("Permission denied".into())
        );
        assert_eq!(trace.files[1].from, Some(At { file: 0, line: 2 }));
        assert!(trace.files[1].text.is_empty(), "nothing of an unreadable file");
        let stopped = Some((2, LineError::UnknownDirective("bogus".into())));
        assert_eq!(trace.files[2].outcome, Outcome::Read { stopped });
        let deny = acl.rules.iter().find(|r| r.verb == Verb::Deny).unwrap();
        assert_eq!(deny.at, At { file: 2, line: 1 });
        assert_eq!(trace.line(deny.at).as_deref(), Some("deny br0"));
        assert_eq!(acl.macs[0].at, At { file: 3, line: 3 });
        assert_eq!(
            trace.line(acl.macs[0].at).as_deref(),
            Some("mac br0 user=#5 52:54:00:*")
        );
        assert_eq!(trace.line(At { file: 1, line: 1 }), None);
        assert_eq!(acl.rules.len(), 3, "br9 after the bad line is not read");
    }

    #[test]
    fn absent_and_failed_tops() {
        let read = |p: &Path| match p.to_str().unwrap() {
            "/q/bridge.conf" => Ok(b"allow all\n".to_vec()),
            _ => Err(ReadError::Io(io::ErrorKind::NotFound.into())),
        };
        let (acl, trace) = load_both_traced(Path::new("/q/bridge.conf"), Path::new("/q/ours.conf"), &read);
        assert!(acl.is_ok());
        assert_eq!(trace.files[1].outcome, Outcome::Absent);
        let untrusted = |_: &Path| Err(ReadError::Untrusted("is owned by uid 5, not root".into()));
        let (acl, trace) =
            load_both_traced(Path::new("/q/bridge.conf"), Path::new("/q/ours.conf"), &untrusted);
        assert!(acl.is_err());
        assert_eq!(trace.files.len(), 1, "the trace ends with the file that failed");
        assert_eq!(
            trace.files[0].outcome,
            Outcome::Untrusted("is owned by uid 5, not root".into())
        );
    }
}
