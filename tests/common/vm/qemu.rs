//! Booting one VM: `-kernel vmlinux` (PVH entry) with the shared initramfs plus this run's
//! files, console on the serial port read line by line, the script's status taken from the
//! marker line `/init` prints, and a wall-clock limit. `FBH_VM_CONSOLE=1` echoes the console.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::initramfs::{base, scratch, Cpio};
use super::kernel::kernel;
use super::{nic_mac, Vm, VmRun};

/// Console lines kept in failure messages.
const TAIL_LINES: usize = 80;
/// `panic=-1`: a kernel panic resets at once, and with -no-reboot QEMU exits instead of hanging.
const CMDLINE: &str = "console=ttyS0 panic=-1 loglevel=4 rdinit=/init";

pub fn tail(console: &str) -> String {
    let lines: Vec<&str> = console.lines().collect();
    lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
}

fn hex_nonce() -> String {
    super::super::random_bytes::<8>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The initramfs for one run: the shared archive, then one with the run's files.
fn initrd(vm: &Vm, nonce: &str) -> PathBuf {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let (shared, dirs) = base();
    let mut own = Cpio::on_top_of(dirs);
    own.file("/etc/fbh-vm/nonce", 0o644, nonce.as_bytes());
    own.file("/test.sh", 0o644, vm.script.as_bytes());
    for (path, perm, data) in &vm.files {
        own.file(path, *perm, data);
    }
    let mut data = shared.clone();
    data.extend_from_slice(&own.finish());
    let path = scratch(&format!("initrd-{}", COUNT.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&path, data).unwrap();
    path
}

fn command(vm: &Vm, initrd: &Path) -> Command {
    let mut cmd = Command::new("qemu-system-x86_64");
    // KVM fails on this kind of host; TCG is slower but works everywhere. -nodefaults and
    // -serial stdio are -nographic without the default NIC and monitor.
    cmd.args(["-machine", "pc,accel=tcg", "-m", "512", "-smp", "1"])
        .args([
            "-nodefaults",
            "-display",
            "none",
            "-serial",
            "stdio",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(&kernel().vmlinux)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", CMDLINE]);
    // Entropy: without it the first getrandom() (the helper's tap address) waits seconds for
    // the kernel's random pool under TCG.
    cmd.args(["-device", "virtio-rng-pci"]);
    for (n, model) in vm.nics.iter().enumerate() {
        cmd.args(["-netdev", &format!("hubport,id=hp{n},hubid=0")]);
        cmd.args(["-device", &format!("{model},netdev=hp{n},mac={}", nic_mac(n))]);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn boot(vm: &Vm) -> VmRun {
    let nonce = hex_nonce();
    let initrd = initrd(vm, &nonce);
    let start = Instant::now();
    let mut child = command(vm, &initrd)
        .spawn()
        .unwrap_or_else(|e| panic!("failed to run qemu-system-x86_64 (package qemu-system-x86): {e}"));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        let echo = std::env::var_os("FBH_VM_CONSOLE").is_some();
        for line in BufReader::new(stdout).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).replace('\r', "");
            if echo {
                eprintln!("vm| {line}");
            }
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (up, exit) = (format!("fbh-vm-up {nonce} "), format!("fbh-vm-exit {nonce} "));
    let (mut console, mut boot, mut status) = (String::new(), None, None);
    let (deadline, mut timed_out) = (start + vm.timeout, false);
    let stop = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.contains(&up) {
                    boot.get_or_insert(start.elapsed());
                }
                console.push_str(&line);
                console.push('\n');
                if let Some(at) = line.find(&exit) {
                    status = line[at + exit.len()..].trim().parse::<i32>().ok();
                    // Nothing in the VM outlives the run: no need to wait for its reset.
                    break true;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break true;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
        }
    };
    if stop {
        let _ = child.kill();
    }
    let qemu_status = child.wait().expect("wait for qemu");
    let total = start.elapsed();
    let qemu_stderr = stderr.join().unwrap_or_default();
    let _ = std::fs::remove_file(&initrd);
    let Some(status) = status else {
        let why = match (timed_out, stop) {
            (true, _) => format!("timed out after {:?}", vm.timeout),
            (false, true) => "its exit marker has no number".to_owned(),
            (false, false) => format!("QEMU exited ({qemu_status})"),
        };
        panic!(
            "the VM gave no exit status: {why}; QEMU's stderr:\n{qemu_stderr}\nconsole:\n{}",
            tail(&console)
        );
    };
    VmRun {
        status,
        console,
        boot: boot.unwrap_or(total),
        total,
    }
}
