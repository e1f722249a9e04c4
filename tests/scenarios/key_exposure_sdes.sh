#!/usr/bin/env bash
# key_exposure_sdes: SDES-keyed SRTP (RFC 4568) over cleartext SIP/UDP. Both
# SDPs carry a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:<key||salt>, so anyone
# on the path reads the master keys. The media is real SRTP made with those
# keys (media/gen-audio-pcap.mjs --srtp-key). The keys are random per run and
# recorded in the label as secretMarkers: no sensor event may contain them.
source "$(dirname "$0")/lib.sh"
NAME=key_exposure_sdes
KA="$(head -c 30 /dev/urandom | base64)"
KB="$(head -c 30 /dev/urandom | base64)"
tw_std_lab
tw_span r s "ra rb rc rd"
tw_audio "$TW_TMP/a.pcap" --ssrc 0xa1a1a1a1 --seq 3000 --ts 80000 --seconds 8 --hz 440 --srtp-key "$KA"
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds 8 --hz 600 --srtp-key "$KB"
tw_render "$SCEN_DIR/sipp/uac.xml" "$TW_TMP/uac.xml" PROTO=RTP/SAVP CRYPTO="a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$KA" AUDIO="$TW_TMP/a.pcap"
tw_render "$SCEN_DIR/sipp/uas.xml" "$TW_TMP/uas.xml" PROTO=RTP/SAVP CRYPTO="a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:$KB" AUDIO="$TW_TMP/b.pcap"
tw_capture s span1 "$CAP_DIR/$NAME.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
tw_sipp_uac a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" 4000
tw_wait "$TW_UASPID" 10
tw_stop_capture
KA_HEX="$(echo "$KA" | base64 -d | head -c 16 | od -An -tx1 | tr -d ' \n')"
KB_HEX="$(echo "$KB" | base64 -d | head -c 16 | od -An -tx1 | tr -d ' \n')"
tw_label "$NAME" <<JSON
{
  "name": "$NAME",
  "description": "G.711 call A -> B with RTP/SAVP and SDES keys (a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:...) in both the cleartext INVITE and 200 OK. Media is real SRTP (AES-CM-128, HMAC-SHA1-80 tag) encrypted with those keys. The keys are synthetic, random per run.",
  "generatedBy": "tests/scenarios/$NAME.sh",
  "calls": 1,
  "streams": [
    { "src": "10.10.1.2:10000", "dst": "10.10.2.2:20000", "ssrc": "0xa1a1a1a1", "role": "A->B SRTP, keyed by A's inline key" },
    { "src": "10.10.2.2:20000", "dst": "10.10.1.2:10000", "ssrc": "0xb0b0b0b0", "role": "B->A SRTP, keyed by B's inline key" }
  ],
  "mustFind": [
    { "type": "key_exposure", "method": "sdes", "suite": "AES_CM_128_HMAC_SHA1_80", "reason": "a=crypto inline key in cleartext SIP over UDP (INVITE from 10.10.1.2)" },
    { "type": "key_exposure", "method": "sdes", "suite": "AES_CM_128_HMAC_SHA1_80", "reason": "a=crypto inline key in cleartext SIP over UDP (200 OK from 10.10.2.2)" }
  ],
  "mustNotFind": ["duplicate_stream", "unexpected_relay", "signaling_copy", "declared_recording"],
  "secretMarkers": ["$KA", "$KB", "$KA_HEX", "$KB_HEX"]
}
JSON
