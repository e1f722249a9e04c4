#!/usr/bin/env bash
# Regenerates every scenario capture and label in captures/. Needs root,
# iproute2, nftables, tc, ethtool, tcpdump, tshark, sipp (sip-tester),
# socat, iputils-ping, node, and kamailio for hep_siptrace. Not run in CI:
# the captures are committed. Each script builds its own namespaces
# (tw-<pid>-*) and removes them on exit.
set -euo pipefail
cd "$(dirname "$0")"
SCENARIOS=(normal_call span_doubles reinvite_hold copy_nft_dup copy_vxlan_mirred
  relay_dnat_midcall key_exposure_sdes siprec_declared hep_siptrace)
[ "$#" -gt 0 ] && SCENARIOS=("$@")
for s in "${SCENARIOS[@]}"; do
  if [ "$s" = hep_siptrace ] && ! command -v kamailio >/dev/null; then
    echo "skip $s: kamailio not installed" >&2
    continue
  fi
  bash "./$s.sh"
done
du -sh captures
