//! Closed stdio, a hostile environment, SIGSTOP mid-way, and where the seccomp filter sits.

use super::*;

/// Guards "fds 0-2 closed at exec are reopened before main": a valid request works with
/// any of them closed, an invalid one still exits 1 (its message is visible exactly when
/// stderr is open), and nothing the helper opens becomes fd 0, 1 or 2 (strace below).
#[test]
fn closed_stdio_at_exec() {
    let ns = setup();
    // (redirections applied to the exec, valid request?, stderr open?)
    let cases = [
        ("<&- >&- 2>&-", true, false),
        ("<&- >&- 2>&-", false, false),
        ("<&-", true, true),
        ("<&-", false, true),
        (">&-", false, true),
        ("2>&-", true, false),
        ("2>&-", false, false),
        ("<&- 2>&-", false, false),
    ];
    let mut held = Vec::new();
    for (redirect, valid, stderr_open) in cases {
        let script = format!("exec \"$0\" \"$@\" {redirect}");
        let mac = Mac::random().to_string();
        let args = if valid {
            managed_args(&mac)
        } else {
            INVALID.map(String::from).to_vec()
        };
        let out = call_via(&ns, &alice_call(&strs(&args)), &["sh", "-c", &script]);
        eprintln!("{redirect} valid={valid}: {out:?}");
        match (valid, stderr_open) {
            (true, _) => {
                let tap = out.success(true);
                assert_managed(&ns, &tap, &mac);
                held.push(tap);
            }
            (false, true) => out.failure_leaving(&ns, &[DENIED], &ns.taps_of(&held)),
            (false, false) => {
                assert_eq!(out.code, Some(1), "{redirect}: {out:?}");
                assert!(out.fd.is_none() && out.stderr.is_empty(), "{out:?}");
            }
        }
    }

    // What the helper opens with 0-2 closed: only the reopened /dev/null or /dev/full may
    // take those numbers; /dev/net/tun, sockets and the ACL land at 3 or above.
    let out_file = ns.run.join("stdio.strace");
    let mac = Mac::random().to_string();
    let args = managed_args(&mac);
    let call = alice_call(&strs(&args)).strace(out_file.clone(), "trace=execve,openat,open,socket");
    let tap = call_via(&ns, &call, &["sh", "-c", "exec \"$0\" \"$@\" <&- >&- 2>&-"]).success(true);
    assert_managed(&ns, &tap, &mac);
    let lines = trace::after_exec(&out_file, &env().setuid);
    let all = lines.join("\n");
    let mut reopened = Vec::new();
    for line in &lines {
        let (name, fd) = (trace::name(line), trace::retval(line));
        if !matches!(name, "openat" | "open" | "socket") || fd.map_or(true, |fd| fd < 0) {
            continue;
        }
        let fd = fd.unwrap();
        if fd <= 2 {
            assert!(
                line.contains("\"/dev/null\"") || line.contains("\"/dev/full\""),
                "fd {fd} given to {line}:\n{all}"
            );
            reopened.push(fd);
        }
    }
    reopened.sort();
    assert_eq!(
        reopened,
        vec![0, 1, 2],
        "0-2 reopened before anything else:\n{all}"
    );
    let tun = trace::first(&lines, "open of /dev/net/tun", |l| l.contains("\"/dev/net/tun\""));
    assert!(
        trace::retval(&lines[tun]).is_some_and(|fd| fd >= 3),
        "{}",
        lines[tun]
    );
}

/// Guards "the environment is never read": every variable an attacker would try, alone
/// and all at once; a valid request works and prints nothing, an invalid one prints the
/// same line as with a clean environment.
#[test]
fn hostile_environment_changes_nothing() {
    let ns = setup();
    let junk = ns.run.join("junk");
    fs::create_dir(&junk).unwrap();
    for lib in ["junk.so", "libc.so.6", "libgcc_s.so.1", "libnss_files.so.2"] {
        fs::write(junk.join(lib), b"\x7fELF this is not a library\n").unwrap();
    }
    let j = junk.display().to_string();
    let vars = vec![
        format!("LD_PRELOAD={j}/junk.so"),
        format!("LD_LIBRARY_PATH={j}"),
        format!("LD_AUDIT={j}/junk.so"),
        "LD_DEBUG=all".to_owned(),
        "LD_BIND_NOW=1".to_owned(),
        "GLIBC_TUNABLES=glibc.malloc.check=3:glibc.malloc.tcache_count=0".to_owned(),
        "MALLOC_CHECK_=3".to_owned(),
        "MALLOC_PERTURB_=165".to_owned(),
        "RUST_BACKTRACE=full".to_owned(),
        "RUST_LIB_BACKTRACE=1".to_owned(),
        "RUST_LOG=trace".to_owned(),
        "RUST_MIN_STACK=1".to_owned(),
        "LC_ALL=xx_YY".to_owned(),
        "LANG=xx_YY.UTF-8".to_owned(),
        "LANGUAGE=xx".to_owned(),
        format!("NLSPATH={j}/%N"),
        "PATH=/nonexistent".to_owned(),
        "IFS=x".to_owned(),
        "TZ=/etc/passwd".to_owned(),
        "HOME=/nonexistent".to_owned(),
        format!("TMPDIR={j}"),
        "HOSTALIASES=/etc/passwd".to_owned(),
        "LOCALDOMAIN=example.invalid".to_owned(),
        "RES_OPTIONS=debug".to_owned(),
        "NSS_FILES_passwd=/etc/shadow".to_owned(),
    ];
    let baseline = alice_call(&INVALID).run(&ns);
    baseline.failure(&ns, &[DENIED]);
    let mut sets: Vec<Vec<String>> = vars.iter().map(|v| vec![v.clone()]).collect();
    sets.push(vars.clone());
    let mut held = Vec::new();
    for set in sets {
        let wrapper: Vec<&str> = ["env"].into_iter().chain(strs(&set)).collect();
        let mac = Mac::random().to_string();
        let args = managed_args(&mac);
        let out = call_via(&ns, &alice_call(&strs(&args)), &wrapper);
        eprintln!("{set:?}: {out:?}");
        let tap = out.success(true);
        assert_managed(&ns, &tap, &mac);
        held.push(tap);
        let out = call_via(&ns, &alice_call(&INVALID), &wrapper);
        assert_eq!(
            (
                out.code,
                out.stdout.as_str(),
                out.stderr.as_str(),
                out.fd.is_none()
            ),
            (baseline.code, "", baseline.stderr.as_str(), true),
            "{set:?}"
        );
    }
}

/// Guards "SIGSTOP at any point leaves nothing wrong": each run is stopped 0-2 ms after
/// exec (mid-way: the helper takes a few ms), held stopped for 30 ms, continued, and must
/// complete as if nothing happened.
#[test]
fn sigstop_and_sigcont_mid_way_change_nothing() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let stopped_running = in_ns(&ns, "", || {
        let mut held = Vec::new();
        let mut stopped_running = 0;
        for i in 0..12u64 {
            let mac = Mac::random().to_string();
            let args = managed_args(&mac);
            let pending = spawn(helper, &strs(&args), Some(&env().alice));
            let pid = Pid::from_raw(pending.pid());
            std::thread::sleep(Duration::from_micros(i * 2000 / 11));
            kill(pid, Signal::SIGSTOP).unwrap();
            std::thread::sleep(Duration::from_millis(30));
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat.rsplit(") ").next().is_some_and(|s| s.starts_with('T')) {
                stopped_running += 1;
            }
            kill(pid, Signal::SIGCONT).unwrap();
            let tap = pending.finish().success(true);
            assert_managed(&ns, &tap, &mac);
            held.push(tap);
        }
        stopped_running
    });
    eprintln!("{stopped_running} of 12 runs were stopped before they finished");
    assert!(
        stopped_running >= 3,
        "the runs finished before SIGSTOP: nothing tested"
    );
}

/// Guards the seccomp filter's place (SECURITY.md step 7): installed after the ACL was
/// read and closed, before the first netlink request, exactly once, for a successful call
/// and for a refusal past it (another guest's MAC); both end by exit, not SIGSYS.
#[test]
fn seccomp_filter_sits_between_the_acl_and_netlink() {
    let ns = setup();
    let mac = Mac::random().to_string();
    let mac_arg = format!("--mac={mac}");
    let owner = Call::new(Install::Setuid, &env().bob, &["--br=br0", "--fd={fd}", &mac_arg])
        .run(&ns)
        .success(false);
    let cases = [(Mac::random().to_string(), true), (mac.clone(), false)];
    let mut held = vec![owner];
    for (claim, granted) in cases {
        let out_file = ns.run.join(format!("seccomp-{granted}.strace"));
        let args = managed_args(&claim);
        let out = alice_call(&strs(&args))
            .strace(
                out_file.clone(),
                "trace=execve,openat,open,read,close,prctl,seccomp,socket,sendto,sendmsg",
            )
            .run(&ns);
        let lines = trace::after_exec(&out_file, &env().setuid);
        let all = lines.join("\n");
        if granted {
            let tap = out.success(true);
            assert_managed(&ns, &tap, &claim);
            held.push(tap);
        } else {
            let want = format!("failed to add fdb entry {claim} on tap");
            out.failure_leaving(&ns, &[&want, &held[0].name()], &ns.taps_of(&held));
        }
        let acl = trace::first(&lines, "open of the ACL", |l| {
            l.starts_with("openat(") && l.contains("\"/etc/qemu/bridge.conf\"")
        });
        let acl_fd = trace::retval(&lines[acl]).unwrap();
        let closed = acl
            + trace::first(&lines[acl..], "close of the ACL", |l| {
                l == format!("close({acl_fd}) = 0")
            });
        let filters: Vec<usize> = (0..lines.len())
            .filter(|i| lines[*i].starts_with("seccomp(SECCOMP_SET_MODE_FILTER"))
            .collect();
        assert_eq!(filters.len(), 1, "one seccomp filter:\n{all}");
        let filter = filters[0];
        assert!(lines[filter].ends_with("= 0"), "{}", lines[filter]);
        let netlink = trace::first(&lines, "netlink request", |l| {
            l.starts_with("sendto(") && l.contains("nlmsg_type=")
        });
        assert!(
            closed < filter && filter < netlink,
            "ACL closed at {closed}, filter at {filter}, first netlink request at {netlink}:\n{all}"
        );
        assert!(
            lines[filter..]
                .iter()
                .all(|l| !l.starts_with("openat(") && !l.starts_with("open(")),
            "a file opened under the filter:\n{all}"
        );
    }
}
