//! `fdb-bridge-helper-libvirt-hook`: installed as the symlink
//! `/etc/libvirt/hooks/qemu.d/fdb-bridge-helper`, run by libvirt's session daemon as its
//! user. At `start begin` it claims each pending port of the domain with the
//! `fdb-bridge-helper` beside its own real path. Never setuid: it refuses to run so.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::time::Instant;

use fdb_bridge_helper_libvirt_hook::{
    bridge_nics, is_pending, is_start_begin, privileges, Error, Nic, Privileges, HELPER, MAX_STDERR, MAX_XML,
    TIMEOUT,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Error> {
    if !is_start_begin(args) {
        return Ok(());
    }
    // Before stdin is read: the parser never runs with privileges.
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    match privileges(&status) {
        Privileges::User => {}
        Privileges::Root => return Ok(()),
        Privileges::Elevated => return Err(Error::Privileged),
    }
    let xml = read_xml()?;
    let nics = bridge_nics(&xml).map_err(|source| Error::Xml {
        domain: args[0].clone(),
        source,
    })?;
    let pending: Vec<&Nic> = nics.iter().filter(|n| pending(&n.tap)).collect();
    if pending.is_empty() {
        return Ok(());
    }
    let helper = helper()?;
    pending.into_iter().try_for_each(|nic| claim(&helper, nic))
}

/// stdin up to [`MAX_XML`]; libvirt writes the XML and closes it.
fn read_xml() -> Result<String, Error> {
    let mut bytes = Vec::new();
    io::stdin()
        .lock()
        .take(MAX_XML + 1)
        .read_to_end(&mut bytes)
        .map_err(Error::ReadXml)?;
    if bytes.len() as u64 > MAX_XML {
        return Err(Error::XmlTooLarge);
    }
    String::from_utf8(bytes).map_err(|e| Error::ReadXml(io::Error::new(io::ErrorKind::InvalidData, e)))
}

fn pending(tap: &str) -> bool {
    let read = |attr: &str| fs::read_to_string(Path::new("/sys/class/net").join(tap).join(attr));
    match (read("brport/learning"), read("flags")) {
        (Ok(learning), Ok(flags)) => is_pending(&learning, &flags),
        _ => false,
    }
}

/// `fdb-bridge-helper` in the directory of the hook's real path (the symlink resolved):
/// /usr/libexec in a package, any directory in a test.
fn helper() -> Result<PathBuf, Error> {
    let exe = std::env::current_exe().map_err(Error::FindHelper)?;
    Ok(exe.with_file_name(HELPER))
}

/// `fdb-bridge-helper --claim=TAP --mac=MAC`, killed after [`TIMEOUT`].
fn claim(helper: &Path, nic: &Nic) -> Result<(), Error> {
    let tap = nic.tap.clone();
    let mut child = Command::new(helper)
        .arg(format!("--claim={}", nic.tap))
        .arg(format!("--mac={}", nic.mac))
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| Error::RunHelper {
            tap: tap.clone(),
            source,
        })?;
    let status = wait(&mut child).map_err(|source| Error::RunHelper {
        tap: tap.clone(),
        source,
    })?;
    let Some(status) = status else {
        return Err(Error::TimedOut { tap });
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.take() {
        let mut bytes = Vec::new();
        let _ = pipe.take(MAX_STDERR).read_to_end(&mut bytes);
        stderr = String::from_utf8_lossy(&bytes).into_owned();
    }
    Err(Error::Refused { tap, status, stderr })
}

/// The child's status, or `None` if it was still running at [`TIMEOUT`] (then killed).
fn wait(child: &mut std::process::Child) -> io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    while start.elapsed() < TIMEOUT {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(None)
}
