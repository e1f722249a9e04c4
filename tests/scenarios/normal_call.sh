#!/usr/bin/env bash
# normal_call: one plain G.711 call A -> B through the router, SPAN mirrors
# ingress on every router port (each packet seen once). Nothing to report.
source "$(dirname "$0")/lib.sh"
NAME=normal_call
tw_std_lab
tw_span r s "ra rb rc rd"
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
  "description": "One plain G.711 A-law call, sipp UAC 10.10.1.2 -> sipp UAS 10.10.2.2 through a router; SPAN mirrors router ingress on every port, so each packet appears once.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" }
  ],
  "mustFind": [],
  "mustNotFind": ["duplicate_stream", "unexpected_relay", "key_exposure", "signaling_copy", "declared_recording"]
}
JSON
