#!/usr/bin/env bash
# siprec_declared: a declared recording. Phone A (10.10.1.2) calls B and, as
# a SIPREC recording client (RFC 7866), opens a recording session with the
# recording server 10.10.3.2 (Require: siprec, Contact ;+sip.src,
# multipart/mixed SDP + rs-metadata, RFC 7865) and streams both sides of the
# call to it: label 1 = A's audio (same RTP as A -> B), label 2 = B's audio
# (same RTP as B -> A). The copies go where signalling says: declared.
source "$(dirname "$0")/lib.sh"
NAME=siprec_declared
tw_std_lab
tw_span r s "ra rb rc rd"
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds 8 --hz 600
# Label 2 copy: B's audio again (node needs ~0.2 s to start, so a bit shorter).
tw_audio "$TW_TMP/b-copy.pcap" --ssrc 0xb0b0b0b0 --seconds 3.6 --hz 600
tw_render_call /usr/share/sip-tester/g711a.pcap "$TW_TMP/b.pcap"
tw_render "$SCEN_DIR/sipp/siprec_src.xml" "$TW_TMP/src.xml" AUDIO=/usr/share/sip-tester/g711a.pcap CALLSESSION=ab30317f1a784dc48ff824d0d3715d86
cp "$SCEN_DIR/sipp/siprec_srs.xml" "$TW_TMP/srs.xml"
# The SRS's sipp owns 30000 and 30002; label 2 arrives on 30004.
tw_sink c 10.10.3.2 30004
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
UASB=$TW_UASPID
tw_sipp_uas c 10.10.3.2 30000 "$TW_TMP/srs.xml"
tw_sipp_uac_bg a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" 4500
CALL=$TW_UACPID
TW_SIP_PORT=5070 tw_sipp_uac_bg a 10.10.1.2 10100 10.10.3.2:5060 "$TW_TMP/src.xml" 4000
SRC=$TW_UACPID
sleep 0.05
tw_bg a "$TW_TMP/play.log" node "$SCEN_DIR/media/play-pcap.mjs" "$TW_TMP/b-copy.pcap" 10.10.1.2 10104 10.10.3.2 30004
PLAY=$TW_LASTPID
tw_wait "$SRC" 30
tw_wait "$CALL" 30
kill "$PLAY" 2>/dev/null || true
tw_wait "$UASB" 10
tw_wait "$TW_UASPID" 10
tw_stop_capture
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "Call A -> B plus a SIPREC recording session from A (SRC, SIP port 5070) to the recording server 10.10.3.2:5060: INVITE with Require: siprec, Contact ;+sip.src, multipart/mixed (SDP with two sendonly streams a=label:1/2 + application/rs-metadata+xml, Content-Disposition: recording-session). A streams label 1 (a copy of A's RTP, SSRC 0xdee0ee8f) to 10.10.3.2:30000 and label 2 (a copy of B's RTP, SSRC 0xb0b0b0b0) to 10.10.3.2:30004.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 2,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A" },
    { "src": "10.10.1.2:10100", "dst": "10.10.3.2:30000", "ssrc": "0xdee0ee8f", "role": "SIPREC label 1: copy of A's audio to the recorder" },
    { "src": "10.10.1.2:10104", "dst": "10.10.3.2:30004", "ssrc": "0xb0b0b0b0", "role": "SIPREC label 2: copy of B's audio to the recorder" }
  ],
  "mustFind": [
    { "type": "declared_recording", "method": "siprec", "recorder": "10.10.3.2:5060", "reason": "INVITE with Require: siprec, +sip.src, rs-metadata recording-session" },
    { "type": "duplicate_stream", "copyTo": "10.10.3.2:30000", "declared": true, "notCritical": true, "reason": "copy of A's stream to the SIPREC recorder, announced by the SIPREC SDP (label 1)" },
    { "type": "duplicate_stream", "copyTo": "10.10.3.2:30004", "declared": true, "notCritical": true, "reason": "copy of B's stream to the SIPREC recorder, announced by the SIPREC SDP (label 2)" }
  ],
  "mustNotFind": ["unexpected_relay", "key_exposure", "signaling_copy"],
  "notes": "The SIPREC INVITE (about 2 kB) is larger than the 1500-byte MTU and travels as two IP fragments. A duplicate_stream event towards 10.10.3.2 is acceptable only when marked declared (not critical). An undeclared/critical copy event here is a false positive."
}
JSON
