//! Reading an ACL file the way sudo's secure open does: as the caller, and only if no one
//! but root could have written it or anything that leads to it.
//!
//! The name is resolved here one component at a time, as the kernel resolves it, so that
//! every directory any symlink hop looks a name up in is checked: whoever can write one of
//! them can repoint the name at another file, or at none. [`walk`] is pure (the lookup is
//! passed in) and table-tested in trusted/tests.rs; [`read`] adds the system calls.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};

use crate::acl::ReadError;

#[cfg(test)]
mod tests;

const MAX_FILE: u64 = 1 << 20;
/// Symlinks followed in one resolution, as the kernel allows (MAXSYMLINKS, <linux/namei.h>).
const MAX_LINKS: usize = 40;

/// Opens `path` with the caller's permissions (an unreadable include is the caller's
/// business: `ReadError::Io`) and refuses it unless the file, every directory the
/// resolution looks a name up in, and so every symlink's directory, are owned by root and
/// not writable by group or others. O_NONBLOCK, so that a FIFO cannot hang us before it is
/// refused; the opened file must be the one the walk checked (same device and inode).
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path);
    // Walked even when the open failed: an untrusted hop is refused, not skipped.
    let walked = walk(path, &mut lookup)?;
    let file = opened.map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::Untrusted("is not a regular file".into()));
    }
    let id = Id::of(&meta);
    if (id.dev, id.ino) != (walked.dev, walked.ino) {
        return Err(ReadError::Untrusted(
            "was replaced while it was being checked".into(),
        ));
    }
    root_only(id).map_err(ReadError::Untrusted)?;
    read_capped(file)
}

/// What `lstat` (and `readlink`, for a symlink) says about one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    Dir(Id),
    Link(PathBuf),
    /// A file, FIFO, device or socket.
    Other(Id),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Id {
    pub dev: u64,
    pub ino: u64,
    pub uid: u32,
    pub mode: u32,
}

impl Id {
    fn of(meta: &Metadata) -> Self {
        let (dev, ino, uid, mode) = (meta.dev(), meta.ino(), meta.uid(), meta.mode());
        Self { dev, ino, uid, mode }
    }
}

fn lookup(path: &Path) -> io::Result<Node> {
    let meta = fs::symlink_metadata(path)?;
    Ok(if meta.file_type().is_symlink() {
        Node::Link(fs::read_link(path)?)
    } else if meta.is_dir() {
        Node::Dir(Id::of(&meta))
    } else {
        Node::Other(Id::of(&meta))
    })
}

enum Step {
    Name(OsString),
    Up,
    /// A symlink's target is used up: from here on, name places by the link again.
    Back(PathBuf),
}

/// An untrusted directory a name was looked up in, named as the ACL or a symlink wrote it.
struct Bad {
    shown: PathBuf,
    real: PathBuf,
    link: Option<PathBuf>,
    why: String,
}

impl Bad {
    fn text(&self, end: Option<&Path>) -> String {
        let (shown, why) = (self.shown.display(), &self.why);
        match (end, &self.link) {
            (Some(end), _) if end.starts_with(&self.real) => format!("is in {shown}, which {why}"),
            (_, Some(link)) => format!(
                "is reached through {}, whose directory {shown} {why}",
                link.display()
            ),
            (_, None) => format!("is reached through {shown}, which {why}"),
        }
    }
}

/// Resolves absolute `path` as the kernel does (a relative symlink target against the
/// link's directory, `..` against the real path so far, at most 40 symlinks) and returns
/// the final node's identity. Refuses it if any directory a name was looked up in is not
/// root-only, naming the last such directory: also when the walk then fails, so that a hop
/// pointed at nothing cannot turn a file into a skipped include.
pub(crate) fn walk(path: &Path, lookup: Lookup<'_>) -> Result<Id, ReadError> {
    if !path.is_absolute() {
        return Err(ReadError::Untrusted("is not named by an absolute path".into()));
    }
    let root = match lookup(Path::new("/")).map_err(ReadError::Io)? {
        Node::Dir(root) => root,
        _ => return Err(ReadError::Io(errno(libc::ENOTDIR))),
    };
    let mut walker = Walker {
        real: PathBuf::from("/"),
        shown: PathBuf::from("/"),
        dirs: vec![root],
        todo: Vec::new(),
        end: None,
        links: 0,
        last: None,
    };
    walker.push(path);
    while let Some(step) = walker.todo.pop() {
        if walker.end.is_some() && !matches!(step, Step::Back(_)) {
            return Err(walker.fail(errno(libc::ENOTDIR)));
        }
        match step {
            Step::Back(link) => walker.shown = link,
            Step::Up => walker.up(),
            Step::Name(name) => walker.name(name, lookup)?,
        }
    }
    match walker.last {
        Some(bad) => Err(ReadError::Untrusted(bad.text(Some(&walker.real)))),
        None => Ok(walker.end.unwrap_or(walker.dirs[walker.dirs.len() - 1])),
    }
}

pub(crate) type Lookup<'a> = &'a mut dyn FnMut(&Path) -> io::Result<Node>;

struct Walker {
    /// Where the walk is, with no symlink in it.
    real: PathBuf,
    /// The same place as the ACL line or the innermost symlink target names it.
    shown: PathBuf,
    /// The directories of `real`, `/` first.
    dirs: Vec<Id>,
    /// What is left to resolve, the next step last.
    todo: Vec<Step>,
    /// Set when `real` names something that is not a directory.
    end: Option<Id>,
    links: usize,
    last: Option<Bad>,
}

impl Walker {
    fn push(&mut self, path: &Path) {
        let start = self.todo.len();
        for part in path.components() {
            match part {
                Component::Normal(name) => self.todo.push(Step::Name(name.to_owned())),
                Component::ParentDir => self.todo.push(Step::Up),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            }
        }
        self.todo[start..].reverse();
    }

    /// `..` is the parent of the real directory, as in the kernel (never above `/`).
    fn up(&mut self) {
        if self.real.pop() {
            self.dirs.pop();
        }
        self.shown.push("..");
    }

    fn name(&mut self, name: OsString, lookup: Lookup<'_>) -> Result<(), ReadError> {
        let node = lookup(&self.real.join(&name));
        if let Err(why) = root_only(self.dirs[self.dirs.len() - 1]) {
            let link = matches!(node, Ok(Node::Link(_))).then(|| self.shown.join(&name));
            let (shown, real) = (self.shown.clone(), self.real.clone());
            self.last = Some(Bad {
                shown,
                real,
                link,
                why,
            });
        }
        match node.map_err(|e| self.fail(e))? {
            Node::Dir(id) => self.dirs.push(id),
            Node::Other(id) => self.end = Some(id),
            Node::Link(target) => return self.follow(&name, &target),
        }
        self.real.push(&name);
        self.shown.push(&name);
        Ok(())
    }

    fn follow(&mut self, name: &OsStr, target: &Path) -> Result<(), ReadError> {
        self.links += 1;
        if self.links > MAX_LINKS {
            return Err(self.fail(errno(libc::ELOOP)));
        }
        if target.as_os_str().is_empty() {
            return Err(self.fail(errno(libc::ENOENT)));
        }
        self.todo.push(Step::Back(self.shown.join(name)));
        if target.is_absolute() {
            (self.real, self.shown) = (PathBuf::from("/"), PathBuf::from("/"));
            self.dirs.truncate(1);
        }
        self.push(target);
        Ok(())
    }

    /// A failed lookup past an untrusted directory is refused, not skipped as unreadable.
    fn fail(&self, e: io::Error) -> ReadError {
        match &self.last {
            Some(bad) => ReadError::Untrusted(bad.text(None)),
            None => ReadError::Io(e),
        }
    }
}

fn errno(code: i32) -> io::Error {
    io::Error::from_raw_os_error(code)
}

fn root_only(id: Id) -> Result<(), String> {
    if id.uid != 0 {
        return Err(format!("is owned by uid {}, not root", id.uid));
    }
    if id.mode & 0o022 != 0 {
        return Err(format!(
            "is writable by group or others (mode {:o})",
            id.mode & 0o7777
        ));
    }
    Ok(())
}

fn read_capped(file: File) -> Result<Vec<u8>, ReadError> {
    let mut text = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut text)
        .map_err(ReadError::Io)?;
    if text.len() as u64 > MAX_FILE {
        return Err(ReadError::Untrusted(format!("is larger than {MAX_FILE} bytes")));
    }
    Ok(text)
}
