# Managed mode on the VM's kernel. Set by the test: $M (the managed guest's MAC), $UNKNOWN.
# eth0 is the uplink of br0 (managed), eth1 of br1 (plain), eth2 a host outside both; all three
# NICs share one hub, so whatever eth2 sends reaches both bridges.
for br in br0 br1; do ip link add "$br" type bridge; done
ip link set eth0 master br0
ip link set eth1 master br1
for link in br0 br1 eth0 eth1 eth2; do ip link set "$link" up; done
X=$(cat /sys/class/net/eth2/address)

guest m 1000 --use-vnet --br=br0 --mac="$M"
guest p 1000 --use-vnet --br=br1
for g in m p; do
    tap=${TAP[$g]}
    fact "$g.learning" "$(cat "/sys/class/net/$tap/brport/learning")"
    fact "$g.flood" "$(cat "/sys/class/net/$tap/brport/unicast_flood")"
    fact "$g.fdb" "$(bridge fdb show dev "$tap" | awk '!/permanent/ {printf "%s;", $0}')"
    fact "$g.altnames" "$(ip -d link show "$tap" | awk '/altname/ {printf "%s;", $2}')"
done
bridge fdb show br br0

# Unknown unicast first, then a frame for the managed guest: whoever sees the second has had
# every chance to see the first (one hub, one queue per port).
packet x eth2
send x "$UNKNOWN" "$X" unknown
send x "$M" "$X" for-m
wait_rx m for-m
wait_rx p unknown
nap 0.3
for g in m p; do
    for text in unknown for-m; do
        got "$g" "$text" && fact "$g.got.$text" yes || fact "$g.got.$text" no
    done
done
# And the other way: the managed guest writes a frame into its fd.
send m "$X" "$M" from-m
wait_rx x from-m && fact x.got.from-m yes
mtap=${TAP[m]}
stop m
ip link show "$mtap" >/dev/null 2>&1 && fact m.tap-gone no || fact m.tap-gone yes
