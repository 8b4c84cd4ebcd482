//! Reading an ACL file the way sudo's secure open does: as the caller, and only if no one
//! but root could have written it.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::acl::ReadError;

const MAX_FILE: u64 = 1 << 20;

/// Opens `path` with the caller's permissions (an unreadable include is the caller's
/// business: `ReadError::Io`), then refuses it unless the file and every directory above
/// it, both as named and with symlinks resolved, are owned by root and not writable by
/// group or others. O_NONBLOCK, so that a FIFO cannot hang us before it is refused.
pub fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(ReadError::Io)?;
    let meta = file.metadata().map_err(ReadError::Io)?;
    if !meta.is_file() {
        return Err(ReadError::Untrusted("is not a regular file".into()));
    }
    root_only(&meta).map_err(ReadError::Untrusted)?;
    let real = fs::canonicalize(path).map_err(ReadError::Io)?;
    for dir in path.ancestors().chain(real.ancestors()).skip(1) {
        if dir.as_os_str().is_empty() || dir == path {
            continue;
        }
        let meta = fs::metadata(dir).map_err(ReadError::Io)?;
        root_only(&meta)
            .map_err(|why| ReadError::Untrusted(format!("is in {}, which {why}", dir.display())))?;
    }
    read_capped(file)
}

fn root_only(meta: &Metadata) -> Result<(), String> {
    if meta.uid() != 0 {
        return Err(format!("is owned by uid {}, not root", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "is writable by group or others (mode {:o})",
            meta.mode() & 0o7777
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
