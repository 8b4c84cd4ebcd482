//! libvirt's session mode for real: Debian's libvirtd (9.0), started by hand as a test
//! user inside the test's network namespace, a mount namespace of its own (the test's
//! /etc/qemu and /etc/libvirt/hooks bind-mounted) and a pid namespace whose init is
//! killed at the end, so that no daemon, virtlogd or QEMU can outlive the test. The
//! user's qemu.conf points `bridge_helper` at a setuid copy of the helper; the hook's
//! symlink points at a copy of the hook beside it, which finds the helper there.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::hooks::hooks_dir;
use super::{env, wait_for, Netns, TestUser};

pub const HOOK_BIN: &str = "fdb-bridge-helper-libvirt-hook";

/// `DIR/fdb-bridge-helper` (setuid root) and `DIR/fdb-bridge-helper-libvirt-hook`, made
/// once per test process.
pub fn bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = env().dir.join("libvirt-bin");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let helper = dir.join("fdb-bridge-helper");
        fs::copy(&env().setuid, &helper).unwrap();
        chown(&helper, Some(0), Some(0)).unwrap();
        fs::set_permissions(&helper, fs::Permissions::from_mode(0o4755)).unwrap();
        fs::copy(hook_binary(), dir.join(HOOK_BIN)).unwrap();
        dir
    })
}

/// The hook built beside the helper (`cargo test` builds the whole workspace); refused
/// if missing or older than its sources, so that a test never runs a stale hook.
fn hook_binary() -> PathBuf {
    let built = Path::new(env!("CARGO_BIN_EXE_fdb-bridge-helper")).with_file_name(HOOK_BIN);
    let how =
        "build it with `cargo build --workspace` before `cargo test --test libvirt` (packaging/test.sh does)";
    let built_at = fs::metadata(&built)
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{}: {e}: {how}", built.display()));
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("libvirt-hook");
    for source in ["Cargo.toml", "src/lib.rs", "src/main.rs"].map(|f| sources.join(f)) {
        let changed = source.metadata().unwrap().modified().unwrap();
        assert!(
            changed <= built_at,
            "{} is older than {}: {how}",
            built.display(),
            source.display()
        );
    }
    built
}

/// One user's libvirtd session, in `ns`.
pub struct Session<'a> {
    pub ns: Netns,
    pub user: &'a TestUser,
    pub home: PathBuf,
    xdg: PathBuf,
    /// `ip netns exec`, which waits for the `unshare` below it.
    launcher: Option<Child>,
    /// `unshare --kill-child`: killing it kills the pid namespace's init, and so the rest.
    unshare: i32,
    /// The pid namespace (`/proc/PID/ns/pid` of its init).
    pidns: String,
}

impl<'a> Session<'a> {
    /// Starts libvirtd as `user` in `ns`, with the hook installed or not.
    pub fn start(ns: Netns, user: &'a TestUser, hook: bool) -> Self {
        let (home, xdg) = (ns.run.join("h"), ns.run.join("x"));
        let config = home.join(".config/libvirt");
        fs::create_dir_all(&config).unwrap();
        fs::create_dir(&xdg).unwrap();
        let helper = bin_dir().join("fdb-bridge-helper");
        let qemu_conf = format!("bridge_helper = \"{}\"\n", helper.display());
        fs::write(config.join("qemu.conf"), qemu_conf).unwrap();
        for dir in [
            &home,
            &home.join(".config"),
            &config,
            &config.join("qemu.conf"),
            &xdg,
        ] {
            chown(dir, Some(user.uid), Some(user.gid)).unwrap();
        }
        fs::set_permissions(&xdg, fs::Permissions::from_mode(0o700)).unwrap();
        let hooks = hooks_dir(&ns, hook.then(|| bin_dir().join(HOOK_BIN)).as_deref());
        let pidfile = ns.dir.join("unshare.pid");
        let daemon = "setpriv --reuid=\"$0\" --regid=\"$0\" --init-groups -- env -i HOME=\"$1\" \
                      XDG_RUNTIME_DIR=\"$2\" PATH=/usr/bin:/bin LIBVIRT_AUTOSTART=0 /usr/sbin/libvirtd & wait";
        let script = format!(
            "mount --bind \"$1\" /etc/qemu && mount --bind \"$2\" /etc/libvirt/hooks || exit 125; \
             echo $$ > \"$3\"; exec unshare --pid --fork --kill-child --mount-proc sh -c '{daemon}' \"$4\" \"$5\" \"$6\""
        );
        let log = fs::File::create(ns.dir.join("libvirtd.log")).unwrap();
        let launcher = Command::new("ip")
            .args(["netns", "exec", &ns.name, "sh", "-c", &script, "sh"])
            .args([&ns.etc, &hooks, &pidfile])
            .arg(user.name)
            .args([&home, &xdg])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start libvirtd");
        let read_pid = || {
            fs::read_to_string(&pidfile)
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
        };
        assert!(wait_for(5.0, || read_pid().is_some()), "no unshare pid");
        let unshare = read_pid().unwrap();
        ns.track(unshare);
        let init = || {
            let children = fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
            let pid = children.split_whitespace().next()?.to_owned();
            let link = fs::read_link(format!("/proc/{pid}/ns/pid")).ok()?;
            Some(link.display().to_string())
        };
        assert!(wait_for(5.0, || init().is_some()), "no init in the pid namespace");
        let mut session = Self {
            pidns: init().unwrap(),
            ns,
            user,
            home,
            xdg,
            launcher: Some(launcher),
            unshare,
        };
        let socket = session.xdg.join("libvirt/libvirt-sock");
        if !wait_for(10.0, || socket.exists()) {
            session.stop();
            panic!("libvirtd did not start: {}", session.log());
        }
        session
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.ns.dir.join("libvirtd.log")).unwrap_or_default()
    }

    /// `virsh -q -c qemu:///session ARGS` as the session's user, bounded in time.
    pub fn virsh(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns.name, "timeout", "60", "setpriv"])
            .arg(format!("--reuid={}", self.user.name))
            .arg(format!("--regid={}", self.user.name))
            .args(["--init-groups", "--", "env", "-i"])
            .arg(format!("HOME={}", self.home.display()))
            .arg(format!("XDG_RUNTIME_DIR={}", self.xdg.display()))
            .args([
                "PATH=/usr/bin:/bin",
                "LIBVIRT_AUTOSTART=0",
                "virsh",
                "-q",
                "-c",
                "qemu:///session",
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run virsh")
    }

    /// `virsh ARGS`, which must succeed; returns its stdout.
    pub fn virsh_ok(&self, args: &[&str]) -> String {
        let out = self.virsh(args);
        assert!(
            out.status.success(),
            "virsh {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Writes `xml` where the user can read it; returns the path.
    pub fn write_xml(&self, name: &str, xml: &str) -> String {
        let path = self.ns.run.join(format!("{name}.xml"));
        fs::write(&path, xml).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path.display().to_string()
    }

    /// Processes in the session's pid namespace: `(pid, comm)`.
    pub fn processes(&self) -> Vec<(i32, String)> {
        let mut found = Vec::new();
        for entry in fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let ns = fs::read_link(format!("/proc/{pid}/ns/pid")).map(|l| l.display().to_string());
            if ns.is_ok_and(|ns| ns == self.pidns) && super::ns::alive(pid) {
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                found.push((pid, comm.trim().to_owned()));
            }
        }
        found
    }

    pub fn qemus(&self) -> Vec<i32> {
        let all = self.processes();
        all.into_iter()
            .filter(|(_, c)| c.starts_with("qemu-system"))
            .map(|(p, _)| p)
            .collect()
    }

    /// Kills the pid namespace and returns what is left in it after 5 s (nothing, always).
    pub fn stop(&mut self) -> Vec<(i32, String)> {
        let _ = kill(Pid::from_raw(self.unshare), Signal::SIGKILL);
        if let Some(mut launcher) = self.launcher.take() {
            let _ = launcher.wait();
        }
        self.ns.untrack(self.unshare);
        wait_for(5.0, || self.processes().is_empty());
        self.processes()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if self.launcher.is_some() {
            self.stop();
        }
    }
}

/// A TCG domain with no disk and 64 MiB, one virtio NIC per `(bridge, mac)`; ACPI for
/// PCI hot-plug.
pub fn domain(name: &str, nics: &[(&str, &str)]) -> String {
    let nics: String = nics
        .iter()
        .map(|(bridge, mac)| {
            format!(
                "    <interface type='bridge'><source bridge='{bridge}'/><mac address='{mac}'/>\
                 <model type='virtio'/></interface>\n"
            )
        })
        .collect();
    format!(
        "<domain type='qemu'>\n  <name>{name}</name>\n  <memory unit='MiB'>64</memory>\n  <vcpu>1</vcpu>\n  \
         <os><type arch='x86_64' machine='pc'>hvm</type></os>\n  <features><acpi/></features>\n  <devices>\n    \
         <emulator>/usr/bin/qemu-system-x86_64</emulator>\n{nics}  </devices>\n</domain>\n"
    )
}
