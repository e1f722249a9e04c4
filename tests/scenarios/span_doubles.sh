#!/usr/bin/env bash
# span_doubles: the normal call, but the SPAN mirrors ingress AND egress on
# every router port, so each forwarded packet appears twice: once as sent
# (sender's MACs, TTL 64) and once as forwarded (router's MACs, TTL 63),
# with the same IP ID and payload. A real SPAN set to "both" does this; the
# sensor must deduplicate and report nothing.
source "$(dirname "$0")/lib.sh"
NAME=span_doubles
tw_std_lab
tw_span r s "ra rb rc rd" "ra rb rc rd"
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
  "description": "Plain G.711 call A -> B; SPAN mirrors both ingress and egress of every router port, so every forwarded packet is captured twice (TTL 64 with the sender's MACs, TTL 63 with the router's MACs; same IP ID). SPAN doubles, not copies.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "spanDoubles": true,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" }
  ],
  "mustFind": [],
  "mustNotFind": ["duplicate_stream", "unexpected_relay", "key_exposure", "signaling_copy", "declared_recording"]
}
JSON
