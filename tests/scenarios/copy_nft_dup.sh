#!/usr/bin/env bash
# copy_nft_dup: a covert verbatim copy. The router runs nftables
#   ip saddr 10.10.1.2 udp sport 10000 udp dport 20000 dup to 10.10.3.2
# (nf_dup_ipv4: the same IP packet, next hop 10.10.3.2), so A's RTP to B is
# also sent, unchanged from the IP header on, to the tap host's MAC. The
# SPAN mirrors ingress on every port plus egress on rc, the port towards
# the tap host, so the copies leaving the router are visible.
source "$(dirname "$0")/lib.sh"
NAME=copy_nft_dup
tw_std_lab
tw_span r s "ra rb rc rd" "rc"
inns r nft -f - <<'NFT'
table ip tw_covert {
  chain pre {
    type filter hook prerouting priority 0; policy accept;
    ip saddr 10.10.1.2 udp sport 10000 udp dport 20000 dup to 10.10.3.2
  }
}
NFT
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
  "description": "Plain G.711 call A -> B; the router duplicates A's RTP with nftables 'dup to 10.10.3.2'. The copy is the same IP packet (same IP ID, checksum, addresses 10.10.1.2:10000 -> 10.10.2.2:20000) sent to the tap host's MAC 02:00:00:00:03:02 out of port rc. SPAN: ingress on all router ports + egress on rc.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" },
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "covert copy of A->B: same IP packet, dst MAC 02:00:00:00:03:02 (tap host 10.10.3.2), TTL 63, src MAC 02:00:00:00:03:01 (router port rc)" }
  ],
  "mustFind": [
    { "type": "duplicate_stream", "mode": "exact", "copyTo": "10.10.3.2", "copyToMac": "02:00:00:00:03:02", "copiedStream": "10.10.1.2:10000->10.10.2.2:20000", "reason": "nft dup: the same IP packet seen again with another destination MAC; the IP destination stays 10.10.2.2:20000, so copyTo is the next hop (tap host) resolved by ARP" }
  ],
  "mustNotFind": ["unexpected_relay", "key_exposure", "signaling_copy", "declared_recording"]
}
JSON
