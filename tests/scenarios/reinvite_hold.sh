#!/usr/bin/env bash
# reinvite_hold: A calls B, puts B on hold with a re-INVITE (a=sendonly) that
# also moves A's receive port from 10000 to 10002, then resumes (a=sendrecv,
# still 10002). B is silent while held and sends to the new port afterwards.
# Every move is signalled: nothing to report.
source "$(dirname "$0")/lib.sh"
NAME=reinvite_hold
SEG=1500
tw_std_lab
tw_span r s "ra rb rc rd"
# B's audio in two parts: before the hold, and after the resume (seq goes on,
# the timestamp jumps by the held time, as a real phone does).
tw_audio "$TW_TMP/b1.pcap" --ssrc 0xb0b0b0b0 --seq 1000 --ts 160000 --seconds 1.5 --hz 600
tw_audio "$TW_TMP/b2.pcap" --ssrc 0xb0b0b0b0 --seq 1075 --ts $((160000 + 75 * 160 + 12000)) --seconds 4 --hz 600
tw_render "$SCEN_DIR/sipp/uac_hold.xml" "$TW_TMP/uac.xml" AUDIO=/usr/share/sip-tester/g711a.pcap HOLDPORT=10002 SEG=$SEG
tw_render "$SCEN_DIR/sipp/uas_hold.xml" "$TW_TMP/uas.xml" AUDIO="$TW_TMP/b1.pcap" AUDIO2="$TW_TMP/b2.pcap"
# 10002 is sipp's own second (video) RTP socket (media port + 2), so media
# sent there after the move reaches a bound socket and draws no ICMP.
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
tw_sipp_uac a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" 1000
tw_wait "$TW_UASPID" 10
tw_stop_capture
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "G.711 call A -> B with hold and resume: re-INVITE a=sendonly moving A's media port 10000 -> 10002, B answers recvonly and goes silent, re-INVITE a=sendrecv, B resumes sending to 10.10.1.2:10002. All signalled.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xdee0ee8f", "role": "A->B, whole call" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A before hold" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10002", "ssrc": "0xb0b0b0b0", "role": "B->A after resume (port moved by re-INVITE)" }
  ],
  "mustFind": [],
  "mustNotFind": ["duplicate_stream", "unexpected_relay", "key_exposure", "signaling_copy", "declared_recording"]
}
JSON
