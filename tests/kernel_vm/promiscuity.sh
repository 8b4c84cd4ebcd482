# Uplink promiscuity from the kernel's own counters. Set by the test: $MACS (three guest MACs).
# br0 and br1 both have vlan_filtering 1 and a virtio-net uplink (eth0, eth1), which has a
# unicast filter; eth2 is a host outside. The ACL makes br0 managed and br1 not: the same
# calls on br1 are the control, showing what the kernel does when learning and flood stay on.
for br in br0 br1; do ip link add "$br" type bridge vlan_filtering 1; done
ip link set eth0 master br0
ip link set eth1 master br1
for link in br0 br1 eth0 eth1 eth2; do ip link set "$link" up; done
X=$(cat /sys/class/net/eth2/address)

fact uplink-alone "$(promisc eth0) $(promisc eth1)"

i=0
for mac in $MACS; do
    i=$((i + 1))
    guest "m$i" 1000 --use-vnet --br=br0 --mac="$mac"
    guest "c$i" 1000 --use-vnet --br=br1 --mac="$mac"
    for g in "m$i" "c$i"; do
        tap=${TAP[$g]}
        fact "$g.port" "$(cat "/sys/class/net/$tap/brport/learning") $(cat "/sys/class/net/$tap/brport/unicast_flood")"
    done
    fact "guests-$i" "$(promisc eth0) $(promisc eth1)"
    fact "m$i.fdb" "$(bridge fdb show dev "${TAP[m$i]}" | awk '!/permanent/ {printf "%s;", $0}')"
    fact "m$i.altnames" "$(ip -d link show "${TAP[m$i]}" | awk '/altname/ {printf "%s;", $2}')"
    fact call-time "$(helper_time "m$i") $(helper_time "c$i")"
done
bridge fdb show dev eth0

# What the filter does with the uplink out of promiscuous mode: three frames to an unknown
# MAC and one to a guest. A listener on eth0 sees what its filter let in; its receive counter
# (reported, not checked: it counts any other frame too) should grow by one.
packet x eth2
packet u eth0
first=${MACS%% *}
rx() { cat /sys/class/net/eth0/statistics/rx_packets; }
before=$(rx)
for n in 1 2 3; do send x "$UNKNOWN" "$X" "unknown-$n"; done
send x "$first" "$X" for-m1
wait_rx m1 for-m1
nap 0.3
fact uplink-rx "$(($(rx) - before))"
for text in unknown-1 unknown-2 unknown-3 for-m1; do
    got u "$text" && fact "uplink.got.$text" yes || fact "uplink.got.$text" no
done

# The outside host's address, which br0 learned on eth0 (in VLAN 1) from for-m1: a guest
# may not claim it.
code=0
guest_try r-learned 1000 --use-vnet --br=br0 --mac="$X" || code=$?
fact r-learned.code "$code"
fact r-learned.err "$(tr '\n' ' ' </run/vm/r-learned.err)"

# One plain port on br0 (the ACL no longer says managed): the uplink must go promiscuous.
printf 'allow br0\nallow br1\n' >/etc/qemu/bridge.conf
guest p 1000 --use-vnet --br=br0
fact p.port "$(cat "/sys/class/net/${TAP[p]}/brport/learning") $(cat "/sys/class/net/${TAP[p]}/brport/unicast_flood")"
fact with-plain "$(promisc eth0)"
# Now the filter is off: the listener sees unknown unicast (which shows it could see it above).
send x "$UNKNOWN" "$X" unknown-4
send x "$first" "$X" for-m1-again
wait_rx m1 for-m1-again
nap 0.3
got u unknown-4 && fact uplink.got.unknown-4 yes || fact uplink.got.unknown-4 no
stop p
fact plain-gone "$(promisc eth0)"
