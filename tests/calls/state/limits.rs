//! Low RLIMIT_NOFILE and RLIMIT_AS: a clean failure, never a signal of ours or a panic.

use super::*;

/// Guards "a low RLIMIT_NOFILE makes a step fail with its message": every limit from 0
/// to 12 open files either works completely or fails with exit 1 and one line, leaving
/// nothing — never a signal, never a panic. The lowest limits must fail.
#[test]
fn low_nofile_limits_fail_closed_with_a_message() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let results: Vec<(u64, Result<bool, String>)> = in_ns(&ns, "", || {
        let mut held = Vec::new();
        let mut results = Vec::new();
        for limit in 0..=12u64 {
            let mac = Mac::random().to_string();
            let args = managed_args(&mac);
            let run = spawn_limited(
                helper,
                &strs(&args),
                Some(&env().alice),
                &[(libc::RLIMIT_NOFILE, limit)],
                Some(SOCK_FD),
            )
            .finish_signal();
            eprintln!("RLIMIT_NOFILE={limit}: {run:?}");
            let verdict = judge(&ns, &mac, run, false);
            if !matches!(verdict, Ok(Some(_))) {
                assert_nothing_left(&ns, &mac, &ns.taps_of(&held));
            }
            results.push((limit, verdict.map(|tap| tap.map(|t| held.push(t)).is_some())));
        }
        results
    });
    let bad: Vec<String> = results
        .iter()
        .filter_map(|(limit, r)| r.as_ref().err().map(|e| format!("RLIMIT_NOFILE={limit}: {e}")))
        .collect();
    assert!(bad.is_empty(), "not a clean outcome:\n{}", bad.join("\n"));
    assert_eq!(results[4].1, Ok(false), "RLIMIT_NOFILE=4 must fail");
    assert_eq!(results[12].1, Ok(true), "RLIMIT_NOFILE=12 must work");
}

/// How a run under a low RLIMIT_AS ended, in a word, for the summary.
fn class(run: &Finished) -> String {
    let first = run.outcome.stderr.lines().find(|l| !l.is_empty()).unwrap_or("");
    // Thread ids and line numbers vary; the kind of ending does not.
    let first: String = first
        .chars()
        .map(|c| if c.is_ascii_digit() { '#' } else { c })
        .collect();
    match (run.signal, run.outcome.code) {
        (Some(signal), _) => format!("signal {signal} {first:?}"),
        (None, Some(code)) => format!("exit {code} {first:?}"),
        (None, None) => unreachable!(),
    }
}

/// What std's runtime says when it cannot map the signal stack it sets up before `main`:
/// a limit that low stops the process before any of our code runs.
const RUNTIME_ALTSTACK: &str = "failed to allocate an alternative stack: Cannot allocate memory";

/// Guards the same for RLIMIT_AS, page by page through the 512 KiB below the smallest
/// limit under which a call works (found by bisection): every run there fails — exit
/// non-zero, no fd, nothing left — never by the seccomp filter (SIGSYS), and never with
/// a panic of ours. The runtimes fail first: the dynamic loader and glibc's start-up (SIGSEGV, or "Cannot
/// allocate TLS block") and then std's, which aborts with RUNTIME_ALTSTACK; both happen
/// before `main`, so nothing privileged has been done. (Further down the kernel cannot
/// even map the binary: execve fails past its point of no return, SIGSEGV.)
#[test]
fn low_address_space_limits_never_panic() {
    let ns = setup();
    let helper: &Path = &env().setuid;
    let (works_from, runs) = in_ns(&ns, "", || {
        let run = |kib: u64| {
            let mac = Mac::random().to_string();
            let args = managed_args(&mac);
            let limits = [(libc::RLIMIT_AS, kib * 1024)];
            let run = spawn_limited(helper, &strs(&args), Some(&env().alice), &limits, Some(SOCK_FD))
                .finish_signal();
            (mac, run)
        };
        let works = |kib: u64| run(kib).1.outcome.code == Some(0);
        let (mut lo, mut hi) = (1024u64, 256 * 1024u64);
        assert!(
            !works(lo) && works(hi),
            "no call works at {lo} KiB, every call at {hi} KiB"
        );
        while hi - lo > 4 {
            let mid = (lo + hi) / 2 / 4 * 4;
            *(if works(mid) { &mut hi } else { &mut lo }) = mid;
        }
        let runs: Vec<(u64, String, Result<(), String>)> = (hi - 512..hi)
            .step_by(4)
            .map(|kib| {
                let (mac, run) = run(kib);
                let class = class(&run);
                let Finished { outcome: out, signal } = run;
                let before_main = signal == Some(libc::SIGABRT)
                    && out.stderr.contains("/library/std/src/")
                    && out.stderr.contains(RUNTIME_ALTSTACK);
                let verdict = if out.stderr.contains("panicked") && !before_main {
                    Err(format!("panic message: {:?}", out.stderr))
                } else if signal == Some(libc::SIGSYS) {
                    Err("killed by the seccomp filter (SIGSYS)".into())
                } else if out.code == Some(0) || out.fd.is_some() {
                    Err(format!("exit {:?}, fd sent: {}", out.code, out.fd.is_some()))
                } else {
                    Ok(())
                };
                assert_nothing_left(&ns, &mac, &[]);
                (kib, class, verdict)
            })
            .collect();
        (hi, runs)
    });
    eprintln!("a call works from RLIMIT_AS={works_from} KiB; below it:");
    let mut last = String::new();
    for (kib, class, _) in &runs {
        if *class != last {
            eprintln!("  from {kib} KiB: {class}");
            last.clone_from(class);
        }
    }
    let bad: Vec<String> = runs
        .iter()
        .filter_map(|(kib, _, r)| r.as_ref().err().map(|e| format!("RLIMIT_AS={kib} KiB: {e}")))
        .collect();
    assert!(bad.is_empty(), "not a clean failure:\n{}", bad.join("\n"));
}
