//! Throwaway network namespaces with a private /etc/qemu, and commands run inside them.

use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::{env, links, wait_for, Install, TestUser};

/// How to run a command inside a [`Netns`]: always with /etc/qemu replaced by the test's
/// ACL directory; optionally as a test user, with the 0666 tun, or under strace.
#[derive(Debug, Default, Clone)]
pub struct Run<'a> {
    pub user: Option<&'a TestUser>,
    /// Bind-mount the harness's 0666 tun over /dev/net/tun (for the file-caps copy).
    pub tun0666: bool,
    /// `strace -f -u USER -o FILE -e trace=EXPR`: root runs strace, strace becomes the user,
    /// so a setuid binary is still setuid.
    pub strace: Option<(PathBuf, String)>,
    /// More bind mounts `(source, target)` after /etc/qemu's (an nsswitch.conf, say).
    pub binds: Vec<(PathBuf, PathBuf)>,
    /// Run as these numbers `(uid, gid, supplementary gids)` instead of `user`: for a
    /// caller that no NSS source of the host knows.
    pub ids: Option<(u32, u32, Vec<u32>)>,
}

impl<'a> Run<'a> {
    pub fn root() -> Self {
        Self::default()
    }

    /// As `user`, with what `install` needs (the 0666 tun for file caps).
    pub fn user(user: &'a TestUser, install: Install) -> Self {
        Self {
            user: Some(user),
            tun0666: install == Install::FileCaps,
            ..Self::default()
        }
    }
}

/// A network namespace of its own, deleted (with every process it was told about) on drop.
/// `etc` is bind-mounted over /etc/qemu for commands started with [`Netns::command`].
pub struct Netns {
    pub name: String,
    pub dir: PathBuf,
    /// The test's /etc/qemu (root 0755: the helper honours only root-only ACL paths).
    pub etc: PathBuf,
    /// Scratch space writable by the test users (QEMU pid files, logs).
    pub run: PathBuf,
    pids: Mutex<Vec<i32>>,
}

impl Netns {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let env = env();
        let name = format!(
            "fbh-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let dir = env.dir.join(&name);
        let (etc, run) = (dir.join("etc"), dir.join("run"));
        for d in [&dir, &etc, &run] {
            fs::create_dir(d).unwrap();
            fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
        }
        chown(&run, Some(env.alice.uid), Some(env.alice.gid)).unwrap();
        super::sh_ok("ip", &["netns", "add", &name]);
        let ns = Self {
            name,
            dir,
            etc,
            run,
            pids: Mutex::new(Vec::new()),
        };
        ns.sh("ip link set lo up && \
             sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1");
        ns
    }

    /// Writes `/etc/qemu/NAME` as root:root 0644.
    pub fn write_acl(&self, name: &str, text: &str) {
        self.write_acl_as(name, text, 0o644, 0, 0);
    }

    pub fn write_acl_as(&self, name: &str, text: &str, mode: u32, uid: u32, gid: u32) {
        let path = self.etc.join(name);
        fs::write(&path, text).unwrap();
        chown(&path, Some(uid), Some(gid)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A command that runs `program args` inside the namespace as `run` says.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, run: &Run, program: &Path, args: &[S]) -> Command {
        let mut script = String::from("mount --bind \"$1\" /etc/qemu || exit 125; shift; ");
        let mut cmd = Command::new("ip");
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        cmd.args(["netns", "exec", &self.name, "sh", "-c"]);
        let mut tail: Vec<std::ffi::OsString> = vec!["sh".into(), self.etc.clone().into()];
        if run.tun0666 {
            script.push_str("mount --bind \"$1\" /dev/net/tun || exit 125; shift; ");
            tail.push(env().tun.clone().into());
        }
        for (source, target) in &run.binds {
            script.push_str("mount --bind \"$1\" \"$2\" || exit 125; shift 2; ");
            tail.extend([source.into(), target.into()]);
        }
        script.push_str("exec \"$@\"");
        cmd.arg(script).args(tail);
        match (&run.strace, run.user, &run.ids) {
            (Some(_), _, Some(_)) => panic!("Run::ids does not combine with strace"),
            (Some((out, expr)), user, None) => {
                cmd.args(["strace", "-f", "-qq", "-o"])
                    .arg(out)
                    .arg(format!("-e{expr}"));
                if let Some(user) = user {
                    cmd.args(["-u", user.name]);
                }
            }
            (None, _, Some((uid, gid, groups))) => {
                let groups: Vec<String> = groups.iter().map(u32::to_string).collect();
                cmd.arg("setpriv")
                    .arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"));
                match groups.is_empty() {
                    true => cmd.arg("--clear-groups"),
                    false => cmd.arg(format!("--groups={}", groups.join(","))),
                };
                cmd.arg("--");
            }
            (None, Some(user), None) => {
                cmd.arg("setpriv")
                    .arg(format!("--reuid={}", user.name))
                    .arg(format!("--regid={}", user.name))
                    .args(["--init-groups", "--"]);
            }
            (None, None, None) => {}
        }
        cmd.arg(program).args(args);
        cmd
    }

    /// Runs a shell script in the namespace as root; panics on failure, returns stdout.
    pub fn sh(&self, script: &str) -> String {
        let out = self.try_sh(script);
        assert!(
            out.status.success(),
            "in {}: {script}: {}\n{}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn try_sh(&self, script: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c", script])
            .output()
            .unwrap()
    }

    pub fn ip(&self, args: &str) -> String {
        self.sh(&format!("ip {args}"))
    }

    pub fn bridge(&self, args: &str) -> String {
        self.sh(&format!("bridge {args}"))
    }

    /// Names of the tun/tap devices in the namespace.
    pub fn taps(&self) -> Vec<String> {
        links::taps(&|s| self.sh(s))
    }

    /// The names of `held` taps in the order [`Netns::taps`] lists them (by ifindex), for
    /// `Outcome::failure_leaving`: any other tap in the namespace then fails that check.
    pub fn taps_of(&self, held: &[super::TapFd]) -> Vec<String> {
        let names: Vec<String> = held.iter().map(super::TapFd::name).collect();
        let listed: Vec<String> = self.taps().into_iter().filter(|t| names.contains(t)).collect();
        assert_eq!(
            listed.len(),
            names.len(),
            "held taps {names:?}, listed {listed:?}"
        );
        listed
    }

    /// `ip link add NAME type bridge`, up.
    pub fn add_bridge(&self, name: &str) {
        links::add_bridge(&|s| self.sh(s), name);
    }

    /// A veth pair: `port` enslaved to `bridge`, `peer` outside it, both up and ready.
    pub fn add_veth(&self, bridge: &str, port: &str, peer: &str) {
        links::add_veth(&|s| self.sh(s), bridge, port, peer);
    }

    /// Waits until `link` can carry frames ([`links::wait_ready`]).
    pub fn wait_ready(&self, link: &str) {
        links::wait_ready(&|s| self.sh(s), link);
    }

    /// A link that is not a bridge: one end of a veth pair (`NAMEp`), as this kernel has no
    /// dummy driver.
    pub fn add_plain_link(&self, name: &str) {
        self.sh(&format!(
            "ip link add {name} type veth peer name {name}p && ip link set {name} up"
        ));
    }

    pub fn mac_of(&self, link: &str) -> String {
        links::mac_of(&|s| self.sh(s), link)
    }

    /// Kills `pid` (SIGKILL) when the namespace is dropped.
    pub fn track(&self, pid: i32) {
        self.pids.lock().unwrap().push(pid);
    }

    pub fn untrack(&self, pid: i32) {
        self.pids.lock().unwrap().retain(|p| *p != pid);
    }
}

/// Whether a process exists (a zombie does not count: it holds no fds).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit(") ")
            .next()
            .is_some_and(|rest| !rest.starts_with('Z')),
        Err(_) => false,
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let pids = std::mem::take(&mut *self.pids.lock().unwrap_or_else(|e| e.into_inner()));
        for pid in &pids {
            let _ = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        }
        wait_for(3.0, || pids.iter().all(|p| !alive(*p)));
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Deletes what crashed earlier test processes (or bench runs) left: namespaces
/// `NS_PREFIX<PID>[-N]` and directories `PARENT/DIR_PREFIX<PID>` whose PID is gone.
pub fn remove_stale(ns_prefix: &str, dir_prefix: &str, parents: &[&str]) {
    let dead = |pid: &str| {
        pid.parse::<u32>()
            .is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists())
    };
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or("");
            if let Some(pid) = name.strip_prefix(ns_prefix).and_then(|r| r.split('-').next()) {
                if dead(pid) {
                    let _ = Command::new("ip").args(["netns", "del", name]).output();
                }
            }
        }
    }
    for parent in parents {
        for entry in fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.strip_prefix(dir_prefix).is_some_and(dead) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}
