#!/bin/bash
# PID 1 of the test VM: mount, load the modules, run /test.sh under bash, then print its exit
# status on the marker line the host waits for and reset (QEMU runs with -no-reboot, so it exits).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
nonce=$(cat /etc/fbh-vm/nonce)
finish() {
    echo "fbh-vm-exit $nonce $1"
    reboot -f
    sleep 60
}
mount -t proc proc /proc && mount -t sysfs sysfs /sys && mount -t devtmpfs devtmpfs /dev &&
    mount -t tmpfs -o mode=0755 tmpfs /run || finish 125
while read -r module; do
    insmod "/lib/modules/$module.ko" || { echo "fbh-vm: failed to load module $module"; finish 125; }
done </etc/fbh-vm/modules
# No IPv6 on any link: fewer frames the tests did not send (bridges still send an IGMP report).
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up
read -r uptime _ </proc/uptime
echo "fbh-vm-up $nonce $uptime"
mkdir -p /run/vm && cd /run/vm
bash -c '. /usr/lib/fbh-vm/lib.sh && . /test.sh' </dev/null 2>&1
finish $?
