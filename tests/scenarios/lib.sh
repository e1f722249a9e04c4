# shellcheck shell=bash
# Shared helpers for the scenario scripts: build a namespace lab
# (phones A/B, router R with a SPAN port, tap and relay hosts), run real
# peers in it, capture on the SPAN sink, and always clean up.
# Facts this relies on are in shared/design/LAB.md: veth + tc clsact/mirred
# exist on this kernel, dummy/gretap do not; TX checksum offload must be off
# or the captured UDP checksums are wrong; IPv6 is disabled to keep ND/MLD
# noise out of the captures.
# Network rule: only private test addresses inside namespaces made here,
# no route out of them; only PIDs started here are killed.

set -euo pipefail

TW_PFX="tw-$$-"
TW_PIDS=()
TW_NS=()
TW_TORN=0
SCEN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CAP_DIR="$SCEN_DIR/captures"
TW_TMP="$(mktemp -d /tmp/tw-scen.XXXXXX)"
TW_LOG() { echo "[$(date +%T)] $*" >&2; }

tw_teardown() {
  [ "$TW_TORN" = 1 ] && return 0
  TW_TORN=1
  local p
  for p in "${TW_PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in "${TW_PIDS[@]:-}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  local n
  for n in "${TW_NS[@]:-}"; do
    [ -n "$n" ] && ip netns del "$n" 2>/dev/null || true
  done
  [ -n "${TW_KEEP:-}" ] && echo "kept $TW_TMP" >&2 || rm -rf "$TW_TMP"
}
trap tw_teardown EXIT
trap 'exit 130' INT TERM

# Full namespace name for a short name.
nsn() { echo "${TW_PFX}$1"; }
# Run a command inside a namespace.
inns() { local n="$1"; shift; ip netns exec "$(nsn "$n")" "$@"; }

# Create a namespace with loopback up and IPv6 off.
tw_ns() {
  local n; n="$(nsn "$1")"
  ip netns add "$n"
  TW_NS+=("$n")
  ip -n "$n" link set lo up
  inns "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# Deterministic locally administered MAC from a small id (readable captures).
tw_mac() { printf '02:00:00:00:%02x:%02x' "$1" "$2"; }

# veth between ns1/if1 and ns2/if2; optional MACs; TX offload off; up.
tw_link() {
  local n1="$1" i1="$2" n2="$3" i2="$4" m1="${5:-}" m2="${6:-}"
  ip link add "$i1" netns "$(nsn "$n1")" type veth peer name "$i2" netns "$(nsn "$n2")"
  [ -n "$m1" ] && ip -n "$(nsn "$n1")" link set "$i1" address "$m1"
  [ -n "$m2" ] && ip -n "$(nsn "$n2")" link set "$i2" address "$m2"
  inns "$n1" ethtool -K "$i1" tx off >/dev/null
  inns "$n2" ethtool -K "$i2" tx off >/dev/null
  ip -n "$(nsn "$n1")" link set "$i1" up
  ip -n "$(nsn "$n2")" link set "$i2" up
}

tw_addr() { ip -n "$(nsn "$1")" addr add "$3" dev "$2"; }
tw_route() { local n="$1"; shift; ip -n "$(nsn "$n")" route add "$@"; }
tw_forward() { inns "$1" sysctl -qw net.ipv4.ip_forward=1; }

# SPAN port on router ns $1: veth span0 -> peer span1 in sink ns $2 (left
# unconfigured), ingress mirror on every port in $3 (space separated) and
# egress mirror on the ports in $4 (optional). The mirror action ends with
# 'continue' (TC_ACT_UNSPEC) so later filters on the same hook still run;
# mirred's default 'pipe' would end classification after this filter.
tw_span() {
  local r="$1" sink="$2" ing="$3" egr="${4:-}" p
  tw_link "$r" span0 "$sink" span1
  for p in $ing $egr; do
    inns "$r" tc qdisc replace dev "$p" clsact
  done
  for p in $ing; do
    inns "$r" tc filter add dev "$p" ingress protocol all prio 1 u32 match u32 0 0 action mirred egress mirror dev span0 continue
  done
  for p in $egr; do
    inns "$r" tc filter add dev "$p" egress protocol all prio 1 u32 match u32 0 0 action mirred egress mirror dev span0 continue
  done
}

# Background command in a namespace; its PID (ip netns exec execs the
# command, so the PID is the command's own) goes to TW_PIDS and TW_LASTPID.
tw_bg() {
  local n="$1" log="$2"; shift 2
  ip netns exec "$(nsn "$n")" "$@" >"$log" 2>&1 </dev/null &
  TW_LASTPID=$!
  TW_PIDS+=("$TW_LASTPID")
}

# tcpdump -U -w on ns/dev; waits until it prints "listening on".
tw_capture() {
  local n="$1" dev="$2" file="$3" filter="${4:-}"
  local log="$TW_TMP/tcpdump-$n-$dev.log"
  # shellcheck disable=SC2086
  tw_bg "$n" "$log" tcpdump -n -Z root -i "$dev" -s 0 -U --immediate-mode -w "$file" $filter
  TW_CAPPID=$TW_LASTPID
  local i
  for i in $(seq 1 100); do
    grep -q 'listening on' "$log" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "tcpdump did not start: $(cat "$log")" >&2
  return 1
}

# Stop the capture started last, wait for it. SIGINT makes tcpdump exit
# without reading what still sits in the kernel ring buffer, so even with
# --immediate-mode give it a moment first.
tw_stop_capture() {
  sleep 1
  kill -INT "$TW_CAPPID" 2>/dev/null || true
  wait "$TW_CAPPID" 2>/dev/null || true
}

# Wait for a background PID to exit, at most $2 seconds.
tw_wait() {
  local pid="$1" t="${2:-30}" i
  for i in $(seq 1 $((t * 10))); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return $?; }
    sleep 0.1
  done
  echo "timeout waiting for pid $pid" >&2
  return 1
}

# The standard lab: a(10.10.1.2) - r - b(10.10.2.2), c tap host (10.10.3.2),
# d relay host (10.10.4.2), s = SPAN sink. Router ports ra rb rc rd.
tw_std_lab() {
  local n
  for n in a b c d r s; do tw_ns "$n"; done
  tw_link a eth0 r ra "$(tw_mac 1 2)" "$(tw_mac 1 1)"
  tw_link b eth0 r rb "$(tw_mac 2 2)" "$(tw_mac 2 1)"
  tw_link c eth0 r rc "$(tw_mac 3 2)" "$(tw_mac 3 1)"
  tw_link d eth0 r rd "$(tw_mac 4 2)" "$(tw_mac 4 1)"
  local i
  for i in 1 2 3 4; do tw_addr r "r$(echo abcd | cut -c$i)" "10.10.$i.1/24"; done
  tw_addr a eth0 10.10.1.2/24; tw_route a default via 10.10.1.1
  tw_addr b eth0 10.10.2.2/24; tw_route b default via 10.10.2.1
  tw_addr c eth0 10.10.3.2/24; tw_route c default via 10.10.3.1
  tw_addr d eth0 10.10.4.2/24; tw_route d default via 10.10.4.1
  tw_forward r
  # Resolve neighbours now so ARP does not sit in the middle of the call.
  inns a ping -c1 -W1 10.10.1.1 >/dev/null 2>&1 || true
  inns b ping -c1 -W1 10.10.2.1 >/dev/null 2>&1 || true
  inns c ping -c1 -W1 10.10.3.1 >/dev/null 2>&1 || true
  inns d ping -c1 -W1 10.10.4.1 >/dev/null 2>&1 || true
}

# Render a sipp XML template: replaces @KEY@ with the value of KEY=VALUE
# arguments; a line whose placeholder gets an empty value is dropped (so an
# optional SDP attribute line disappears instead of leaving a blank line,
# which would end the SDP).
tw_render() {
  local tpl="$1" out="$2"; shift 2
  cp "$tpl" "$out"
  local kv k v
  for kv in "$@"; do
    k="${kv%%=*}"; v="${kv#*=}"
    if [ -z "$v" ]; then
      sed -i "/@$k@/d" "$out"
    else
      K="@$k@" V="$v" perl -0pi -e 's/\Q$ENV{K}\E/$ENV{V}/g' "$out"
    fi
  done
}

# Audio pcap for sipp's play_pcap_audio, made by media/gen-audio-pcap.mjs.
tw_audio() {
  local out="$1"; shift
  node "$SCEN_DIR/media/gen-audio-pcap.mjs" "$out" "$@"
}

# sipp UAS in ns $1 on ip $2 (SIP 5060, media $3) with scenario $4; extra args after.
tw_sipp_uas() {
  local n="$1" ip="$2" mp="$3" sf="$4"; shift 4
  tw_bg "$n" "$TW_TMP/sipp-uas-$n.log" sipp -sf "$sf" -i "$ip" -p 5060 -mi "$ip" -mp "$mp" \
    -m 1 -nostdin -timeout 60 -trace_err -error_file "$TW_TMP/sipp-uas-$n.err" "$@"
  TW_UASPID=$TW_LASTPID
  # Wait until the UAS socket is bound.
  local i
  for i in $(seq 1 50); do
    inns "$n" ss -lun 2>/dev/null | grep -q "$ip:5060" && return 0
    sleep 0.1
  done
  echo "sipp uas did not bind" >&2; cat "$TW_TMP/sipp-uas-$n.log" >&2; return 1
}

# sipp UAC in ns $1 from ip $2 (media $3) to $4 (host:port), scenario $5,
# call pause $6 ms; SIP port $TW_SIP_PORT (default 5060). tw_sipp_uac waits
# for the call to end (bounded by -timeout); tw_sipp_uac_bg leaves it running
# with its PID in TW_UACPID.
tw_sipp_uac_bg() {
  local n="$1" ip="$2" mp="$3" dst="$4" sf="$5" ms="$6"; shift 6
  local sp="${TW_SIP_PORT:-5060}"
  TW_UACLOG="$TW_TMP/sipp-uac-$n-$sp"
  tw_bg "$n" "$TW_UACLOG.log" sipp "$dst" -sf "$sf" -i "$ip" -p "$sp" -mi "$ip" -mp "$mp" \
    -m 1 -d "$ms" -nostdin -timeout 60 -trace_err -error_file "$TW_UACLOG.err" "$@"
  TW_UACPID=$TW_LASTPID
}
tw_sipp_uac() {
  tw_sipp_uac_bg "$@"
  if ! tw_wait "$TW_UACPID" 60; then
    echo "sipp uac failed" >&2; cat "$TW_UACLOG.log" "$TW_UACLOG.err" >&2 2>/dev/null; return 1
  fi
}

# Write captures/$1.json from the label fragment on stdin plus tshark's view
# of captures/$1.pcap (see summarize.mjs).
tw_label() {
  local name="$1"
  cat >"$TW_TMP/label.json"
  node "$SCEN_DIR/summarize.mjs" "$CAP_DIR/$name.pcap" "$TW_TMP/label.json" "$CAP_DIR/$name.json"
}

# UDP sink (keeps the kernel from answering ICMP port unreachable for media
# sent to a port no sipp socket owns).
tw_sink() { tw_bg "$1" /dev/null socat -u "UDP4-RECV:$3,bind=$2" /dev/null; }

# Render the plain call templates. Extra KEY=VALUE pairs come first, so they
# win over the defaults (a placeholder is replaced once).
tw_render_call() {
  local uac_audio="$1" uas_audio="$2"; shift 2
  tw_render "$SCEN_DIR/sipp/uac.xml" "$TW_TMP/uac.xml" "$@" PROTO=RTP/AVP CRYPTO= AUDIO="$uac_audio"
  tw_render "$SCEN_DIR/sipp/uas.xml" "$TW_TMP/uas.xml" "$@" PROTO=RTP/AVP CRYPTO= AUDIO="$uas_audio"
}
