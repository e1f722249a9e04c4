#!/usr/bin/env bash
# hep_siptrace: a signalling copy. Kamailio 5.6 runs as a stateless proxy in
# the router namespace (kamailio/siptrace.cfg): A sends its INVITE to the
# proxy 10.10.1.1, which forwards to B 10.10.2.2 and, with the siptrace
# module (hep_version=3), sends a HEP3 copy of every SIP message it handles
# to 10.10.3.2:9060. The SPAN mirrors ingress on every router port plus
# egress on rc, so the HEP packets the router itself sends are visible, and
# the proxy's SIP leaving towards the phones.
source "$(dirname "$0")/lib.sh"
NAME=hep_siptrace
tw_std_lab
tw_span r s "ra rb rc rd" "rc"
# The proxy's own SIP towards the phones leaves ra/rb: mirror that egress
# too (only UDP from port 5060, so the forwarded RTP is not doubled).
for p in ra rb; do
  inns r tc filter add dev "$p" egress protocol ip prio 1 u32 \
    match ip protocol 17 0xff match ip sport 5060 0xffff action mirred egress mirror dev span0
done
tw_sink c 10.10.3.2 9060
tw_bg r "$TW_TMP/kamailio.log" kamailio -f "$SCEN_DIR/kamailio/siptrace.cfg" -DD -E -Y "$TW_TMP" -P "$TW_TMP/kamailio.pid"
for i in $(seq 1 50); do
  inns r ss -lun | grep -q '10.10.1.1:5060' && break
  sleep 0.1
done
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds 8 --hz 600
tw_render_call /usr/share/sip-tester/g711a.pcap "$TW_TMP/b.pcap"
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
tw_sipp_uac a 10.10.1.2 10000 10.10.1.1:5060 "$TW_TMP/uac.xml" 4000
tw_wait "$TW_UASPID" 10
tw_stop_capture
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "G.711 call A -> B through a Kamailio 5.6 stateless proxy on the router (10.10.1.1 / 10.10.2.1); Kamailio's siptrace module sends a HEP3 copy (proto type 1 = SIP) of each SIP message to 10.10.3.2:9060. RTP flows directly A <-> B. SPAN: ingress on all router ports + egress on rc + the proxy's own SIP (UDP from port 5060) leaving ra and rb, so each SIP message is seen on both legs (A <-> 10.10.1.1, 10.10.2.1 <-> B). tshark 4.0 has no HEP dissector: the HEP packets show as UDP to port 9060.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" }
  ],
  "mustFind": [
    { "type": "signaling_copy", "encapsulation": "hep3", "copyTo": "10.10.3.2:9060", "reason": "Kamailio siptrace HEP3 copies of the call's SIP messages to a host that is no party of the call" }
  ],
  "mustNotFind": ["duplicate_stream", "unexpected_relay", "key_exposure", "declared_recording"]
}
JSON
