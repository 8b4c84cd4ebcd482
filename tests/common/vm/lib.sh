# Shell library for VM test scripts, sourced before /test.sh (under bash: busybox sh would run
# its own `ip` applet instead of iproute2's).
#
#   guest NAME UID ARG...     run the helper as UID the way QEMU does (fbh-guest); fails unless
#                             it hands over a tap. Sets TAP[NAME].
#   guest_try NAME UID ARG... the same, returning the helper's exit code instead of failing
#   packet NAME IFNAME        an AF_PACKET socket on IFNAME: a host outside the bridge, or a
#                             listener on a port (sees what it receives; no promiscuity)
#   send NAME DST SRC TEXT    NAME sends one frame with payload TEXT (one word)
#   wait_rx NAME TEXT [SECS]  waits until NAME received a frame with payload TEXT
#   got NAME TEXT             whether NAME received a frame with payload TEXT
#   stop NAME                 closes NAME's fd (a guest's tap goes away) and waits for it
#   helper_time NAME          seconds the helper took for NAME (fork to reaped)
#   fact KEY VALUE...         reports a measurement to the host ("fact KEY VALUE" on the console)
set -Eeuo pipefail
trap 'echo "fbh-vm: status $? at line $LINENO: $BASH_COMMAND" >&2' ERR
declare -A TAP GUEST_FD GUEST_PID
HELPER=/usr/libexec/fdb-bridge-helper
mkfifo /run/vm/.sleep
exec {SLEEP_FD}<>/run/vm/.sleep

# nap SECS: sleep without starting a process (read times out on a pipe nobody writes to).
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

# wait_line FILE REGEX SECS
wait_line() {
    local i
    for ((i = 0; i < $3 * 50; i++)); do
        grep -Eq "$2" "$1" 2>/dev/null && return 0
        nap 0.02
    done
    echo "fbh-vm: no line /$2/ in $1 after $3 s:" >&2
    cat "$1" >&2
    return 1
}

start() {
    local name=$1
    shift
    mkfifo "/run/vm/$name.in"
    fbh-guest "$@" <"/run/vm/$name.in" >"/run/vm/$name.out" 2>"/run/vm/$name.err" &
    GUEST_PID[$name]=$!
    local fd
    exec {fd}>"/run/vm/$name.in"
    GUEST_FD[$name]=$fd
}

guest_try() {
    local name=$1 uid=$2
    shift 2
    start "$name" helper "$uid" "$uid" "$HELPER" "$@"
    if ! wait_line "/run/vm/$name.out" '^(tap |no-fd)' 10; then
        cat "/run/vm/$name.err" >&2
        return 126
    fi
    cat "/run/vm/$name.err" >&2
    if grep -q '^no-fd' "/run/vm/$name.out"; then
        stop "$name"
    else
        TAP[$name]=$(awk '/^tap /{print $2}' "/run/vm/$name.out")
    fi
    return "$(awk '/^helper-exit /{print $2}' "/run/vm/$name.out")"
}

# (set -e does not act inside a function called left of ||: every step above checks itself.)
guest() {
    guest_try "$@" || { echo "fbh-vm: the helper gave $1 no tap (status $?)" >&2; return 1; }
}

packet() {
    start "$1" packet "$2"
    wait_line "/run/vm/$1.out" '^ready' 10
}

helper_time() { awk '/^helper-time /{print $2}' "/run/vm/$1.out"; }

send() { echo "send $2 $3 $4" >&"${GUEST_FD[$1]}"; }

wait_rx() { wait_line "/run/vm/$1.out" "^rx .* $2\$" "${3:-5}"; }

got() { grep -Eq "^rx .* $2\$" "/run/vm/$1.out"; }

stop() {
    local fd=${GUEST_FD[$1]}
    exec {fd}>&-
    wait "${GUEST_PID[$1]}" || true
    unset "TAP[$1]"
}

fact() { echo "fact $*"; }

# "PROMISCUITY FLAG": the count in `ip -d link` and bit 0x100 (IFF_PROMISC) of the flags.
promisc() {
    local count flags
    count=$(ip -d link show "$1" | grep -o 'promiscuity [0-9]*' | cut -d' ' -f2)
    flags=$(cat "/sys/class/net/$1/flags")
    echo "$count $(((flags & 0x100) >> 8))"
}
