#!/usr/bin/env bash
# relay_dnat_midcall: an unsignalled mid-call relay. Two seconds into the
# call, the router starts DNAT-ing A's RTP to B (10.10.1.2:10000 ->
# 10.10.2.2:20000) to the relay host 10.10.4.2:30000. The relay forwards in
# the kernel (DNAT back to 10.10.2.2:20000, SNAT to 10.10.4.2:30000), so the
# relayed packets are a real extra hop: TTL 64 at A, 62 when they re-enter
# the router from the relay. No re-INVITE announces any of it. The NAT
# table on the router is created mid-call on purpose: conntrack in that
# namespace starts then, so the next packet of the running flow is NATed.
# B's packets back to A are left untracked: otherwise one of them could
# create the conntrack entry first, A's packets would then match its reply
# direction and never be NATed.
source "$(dirname "$0")/lib.sh"
NAME=relay_dnat_midcall
tw_std_lab
tw_span r s "ra rb rc rd"
tw_forward d
inns d nft -f - <<'NFT'
table ip tw_relay {
  chain pre {
    type nat hook prerouting priority -100; policy accept;
    ip daddr 10.10.4.2 udp dport 30000 dnat to 10.10.2.2:20000
  }
  chain post {
    type nat hook postrouting priority 100; policy accept;
    ip daddr 10.10.2.2 udp dport 20000 snat to 10.10.4.2:30000
  }
}
NFT
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds 8 --hz 600
tw_render_call /usr/share/sip-tester/g711a.pcap "$TW_TMP/b.pcap"
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
(
  sleep 2
  inns r nft -f - <<'NFT'
table ip tw_divert {
  chain raw {
    type filter hook prerouting priority raw; policy accept;
    ip saddr 10.10.2.2 udp sport 20000 ip daddr 10.10.1.2 udp dport 10000 notrack
  }
  chain pre {
    type nat hook prerouting priority -100; policy accept;
    ip saddr 10.10.1.2 udp sport 10000 ip daddr 10.10.2.2 udp dport 20000 dnat to 10.10.4.2:30000
  }
}
NFT
) &
DIVERT=$!
tw_sipp_uac a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" 4500
wait "$DIVERT"
tw_wait "$TW_UASPID" 10
tw_stop_capture
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "Plain G.711 call A -> B. About 2 s in, the router DNATs A's RTP to the relay 10.10.4.2:30000, which forwards it (kernel, DNAT+SNAT) to B: B then receives A's stream (same SSRC 0xdee0ee8f, continuing seq/timestamp) from 10.10.4.2:30000 with TTL 62. No re-INVITE. The SPAN (ingress on every router port) shows A -> B (as sent by A, before the router's DNAT) for the whole call and relay -> B after the switch.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B as sent (whole call)" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A, direct" },
    { "src": "10.10.4.2:30000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A's stream re-entering from the relay after ~2 s (TTL 62)" }
  ],
  "mustFind": [
    { "type": "unexpected_relay", "relay": "10.10.4.2:30000", "relayedStream": "10.10.1.2:10000->10.10.2.2:20000", "reason": "path_change or unsignaled_endpoint: B receives the signalled A stream from an address no SDP announced, mid-call, without a re-INVITE" }
  ],
  "mustNotFind": ["key_exposure", "signaling_copy", "declared_recording"]
}
JSON
