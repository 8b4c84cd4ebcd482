# Sourced by demo.sh and test.sh (POSIX sh): the root check, finding cargo when sudo has
# hidden it, and giving back to their owners the files root writes into a user's checkout
# and toolchain.

# need_root WHAT: both scripts make namespaces and setuid copies.
need_root() {
    if [ "$(id -u)" != 0 ]; then
        echo "fdb-bridge-helper: failed to run $1: it needs root (namespaces, setuid copies): sudo $0" >&2
        exit 1
    fi
}

# Puts a cargo of Rust >= 1.80 on PATH. sudo's secure_path drops ~/.cargo/bin, so unless
# PATH has one, take the invoking user's rustup install ($SUDO_USER's home from getent,
# the directory rustup's env file puts on PATH), then root's own. CARGO_HOME and
# RUSTUP_HOME are set too: under sudo HOME is root's, where rustup would look otherwise.
find_cargo() {
    if ! rust_ok; then
        for user in ${SUDO_USER:-} root; do
            home=$(getent passwd "$user" | cut -d: -f6)
            [ -n "$home" ] && [ -x "$home/.cargo/bin/cargo" ] || continue
            export CARGO_HOME="$home/.cargo" RUSTUP_HOME="$home/.rustup"
            PATH="$home/.cargo/bin:$PATH"
            if rust_ok; then break; fi
        done
    fi
    if ! rust_ok; then
        found=$(rustc --version 2>/dev/null || echo "no cargo on PATH, for \$SUDO_USER or root")
        echo "fdb-bridge-helper: failed to find Rust >= 1.80 ($found): install it with rustup" \
            "(https://rustup.rs; Debian's rustc is too old), as root or as the user who runs sudo" >&2
        exit 1
    fi
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        echo "fdb-bridge-helper: failed to find cargo fmt and cargo clippy:" \
            "rustup component add rustfmt clippy" >&2
        exit 1
    fi
    echo "using $(command -v cargo), $(rustc --version)"
}

rust_ok() {
    command -v cargo >/dev/null || return 1
    minor=$(rustc --version 2>/dev/null | sed -n 's/^rustc 1\.\([0-9]*\)\..*/\1/p')
    [ "${minor:-0}" -ge 80 ]
}

# Gives what root created in the checkout (target/ above all) and in the toolchain
# directories back to whoever owns them, unless that is root. Only files owned by root
# change owner, and symlinks are not followed.
give_back() {
    for dir in "$PWD" "${CARGO_HOME:-}" "${RUSTUP_HOME:-}"; do
        [ -n "$dir" ] && [ -d "$dir" ] || continue
        owner=$(stat -c %u:%g "$dir")
        case $owner in
        0:*) ;;
        *) chown -R -P -h --from=0 "$owner" "$dir" ;;
        esac
    done
}
