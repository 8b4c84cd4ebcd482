//! `--check [FILE]`, for root: every problem in the ACL files (both top files, or FILE,
//! and everything they include), one line each, as `visudo -c` does. Exit 1 on any error.
//! Read through the same trusted reader as a real call; nothing else is done.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::Held;
use crate::acl::{self, check::Top};
use crate::error::{CheckSummary, Error};
use crate::sys::{privs, trusted};

pub(super) fn check(file: Option<&Path>, held: &mut Held) -> Result<(), Error> {
    // The real uid: a setuid binary runs as root for everyone until step 1.
    if !nix::unistd::getuid().is_root() {
        return Err(Error::CheckNotRoot);
    }
    privs::drop_all()?;
    let given: Option<PathBuf> = file.map(|f| std::path::absolute(f).unwrap_or_else(|_| f.to_owned()));
    let tops = match &given {
        Some(path) => vec![Top {
            path,
            shared: path == Path::new(acl::DEFAULT_PATH),
            optional: false,
        }],
        None => vec![
            Top {
                path: Path::new(acl::DEFAULT_PATH),
                shared: true,
                optional: false,
            },
            Top {
                path: Path::new(acl::EXTENSION_PATH),
                shared: false,
                optional: true,
            },
        ],
    };
    let (problems, files) = acl::check::check(&tops, &trusted::read);
    let errors = problems.iter().filter(|p| p.is_error()).count();
    let mut out = String::new();
    for problem in &problems {
        out.push_str(&format!("{problem}\n"));
    }
    let summary = CheckSummary {
        files,
        errors,
        warnings: problems.len() - errors,
    };
    out.push_str(&format!("{summary}\n"));
    let _ = io::stdout().write_all(out.as_bytes());
    held.exit = Some(i32::from(errors > 0));
    Ok(())
}
