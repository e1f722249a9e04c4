#!/usr/bin/env bash
# copy_vxlan_mirred: a covert encapsulated copy. On the router, a tc filter
# on port ra's ingress mirrors A's RTP to B (10.10.1.2:10000 ->
# 10.10.2.2:20000) into vx0, a VXLAN device (RFC 7348, VNI 42) whose remote
# is the tap host 10.10.3.2:4789. The tap host has a matching VXLAN device,
# so it takes the packets in silently. SPAN: ingress on all router ports +
# egress on rc (towards the tap host), so the VXLAN packets are visible.
source "$(dirname "$0")/lib.sh"
NAME=copy_vxlan_mirred
tw_std_lab
inns r ip link add vx0 type vxlan id 42 local 10.10.3.1 remote 10.10.3.2 dstport 4789 dev rc
inns r ethtool -K vx0 tx off >/dev/null
inns r ip link set vx0 up
inns c ip link add vx0 type vxlan id 42 local 10.10.3.2 remote 10.10.3.1 dstport 4789 dev eth0
inns c ip link set vx0 up
tw_span r s "ra rb rc rd" "rc"
# Runs after the SPAN filter (prio 1), which ends with 'continue' (lib.sh).
inns r tc filter add dev ra ingress protocol ip prio 2 u32 \
  match ip src 10.10.1.2/32 match ip dst 10.10.2.2/32 match ip protocol 17 0xff \
  match ip sport 10000 0xffff match ip dport 20000 0xffff \
  action mirred egress mirror dev vx0
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds 8 --hz 600
tw_render_call /usr/share/sip-tester/g711a.pcap "$TW_TMP/b.pcap"
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
tw_sipp_uac a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" 4000
tw_wait "$TW_UASPID" 10
tw_stop_capture
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "Plain G.711 call A -> B; the router mirrors A's RTP (as received on port ra, original MACs and TTL 64) into a VXLAN tunnel (VNI 42) to the tap host: outer 10.10.3.1 -> 10.10.3.2:4789. SPAN: ingress on all router ports + egress on rc.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" },
    { "src": "10.10.3.1", "dst": "10.10.3.2:4789", "ssrc": "0xdee0ee8f", "role": "covert VXLAN (VNI 42) copy of A->B; inner frame byte-identical to the A->B frame" }
  ],
  "mustFind": [
    { "type": "duplicate_stream", "mode": "encapsulated", "encapsulation": "vxlan", "copyTo": "10.10.3.2:4789", "copiedStream": "10.10.1.2:10000->10.10.2.2:20000" }
  ],
  "mustNotFind": ["unexpected_relay", "key_exposure", "signaling_copy", "declared_recording"]
}
JSON
