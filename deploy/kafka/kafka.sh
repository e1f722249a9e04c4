#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft mode, no ZooKeeper, no Docker) for
# tests and local runs. The jars come from Maven Central through pom.xml;
# the broker runs on the machine's Java 17 (Kafka 4.x needs 17+).
#
#   deploy/kafka/kafka.sh fetch    copy the broker jars into the cache (once per pom change)
#   deploy/kafka/kafka.sh start    fetch, format storage (first time), start, wait until ready, create topics
#   deploy/kafka/kafka.sh stop     stop the broker (controlled shutdown, then SIGKILL after 30 s)
#   deploy/kafka/kafka.sh status   exit 0 when the broker is up
#   deploy/kafka/kafka.sh reset    stop and delete the broker's data
#
# start and stop are idempotent. Environment:
#   TAPWATCH_KAFKA_CACHE  cache folder for the jars (default deploy/kafka/.cache, git-ignored)
#   TAPWATCH_KAFKA_STATE  folder for data, config, pid and log (default: the cache folder);
#                         with TAPWATCH_KAFKA_PORT, runs a second, private broker (the outage test)
#   TAPWATCH_KAFKA_PORT   client port (default 9092); the controller uses PORT+1
#   KAFKA_HEAP_OPTS       JVM heap (default -Xms256m -Xmx1g)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${TAPWATCH_KAFKA_CACHE:-$here/.cache}"
host=127.0.0.1
port="${TAPWATCH_KAFKA_PORT:-9092}"
controller_port=$((port + 1))
state="${TAPWATCH_KAFKA_STATE:-$cache}"
jars="$cache/jars"
data="$state/data"
conf="$state/server.properties"
pidfile="$state/kafka.pid"
readyfile="$state/kafka.ready"
logfile="$state/kafka.log"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
# Findings, telemetry and fingerprints are keyed by call: 6 partitions spread
# calls over consumers; the dead-letter topic is small and ordered.
topics=(tapwatch.findings:6 tapwatch.telemetry:6 tapwatch.fingerprints:6 tapwatch.dlq:1)

log() { echo "kafka: $*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$host/$1") 2>/dev/null; }

pid_alive() { [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

fetch() {
  local stamp="$jars/.pom.sha256" want
  mkdir -p "$cache"
  exec 8>"$cache/.fetch.lock"
  flock 8
  want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then return 0; fi
  log "fetching broker jars from Maven Central into $jars"
  rm -rf "$jars"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$jars"
  echo "$want" >"$stamp"
}

render_config() {
  mkdir -p "$data"
  sed -e "s|@HOST@|$host|g" -e "s|@PORT@|$port|g" -e "s|@CONTROLLER_PORT@|$controller_port|g" -e "s|@DATA_DIR@|$data|g" \
    "$here/server.properties.template" >"$conf"
}

format() {
  if [[ -f "$data/meta.properties" ]]; then return 0; fi
  local id=""
  # A cluster id is 16 random bytes in URL-safe base64 without padding (Kafka's Uuid);
  # one starting with '-' would read as an option.
  while [[ -z "$id" || "$id" == -* ]]; do
    id="$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  log "formatting storage in $data (cluster $id)"
  "$java" -cp "$jars/*" -Dlog4j2.configurationFile="$here/log4j2.properties" kafka.tools.StorageTool format \
    -t "$id" -c "$conf" --ignore-formatted >>"$logfile" 2>&1
}

ensure_topics() {
  "$java" -cp "$jars/*" \
    -Dlog4j2.configurationFile="$here/log4j2-quiet.properties" \
    "$here/EnsureTopics.java" "$host:$port" "${1:-90}" "${topics[@]}"
}

start() {
  mkdir -p "$cache" "$state"
  # Fast path: this broker process already passed the readiness check.
  if pid_alive && port_open "$port" && [[ -f "$readyfile" && "$(cat "$readyfile")" == "$(cat "$pidfile")" ]]; then
    log "already running (pid $(cat "$pidfile")) on $host:$port"
    return 0
  fi
  if ! pid_alive && port_open "$port"; then
    log "something else listens on $host:$port; using it as the broker"
    ensure_topics 60
    return 0
  fi
  fetch
  render_config
  if ! pid_alive; then
    rm -f "$readyfile"
    format
    log "starting on $host:$port (log: $logfile)"
    # setsid: the broker outlives the shell that started it and gets no terminal signals.
    setsid "$java" ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="$here/log4j2.properties" \
      -cp "$jars/*" kafka.Kafka "$conf" </dev/null >>"$logfile" 2>&1 8>&- 9>&- &
    echo $! >"$pidfile"
  fi
  local deadline=$((SECONDS + 90))
  until port_open "$port"; do
    if ! pid_alive; then
      log "broker exited during start-up; last lines of $logfile:"
      tail -n 30 "$logfile" >&2
      rm -f "$pidfile"
      return 1
    fi
    if ((SECONDS > deadline)); then
      log "broker did not open $host:$port within 90 s"
      return 1
    fi
    sleep 0.3
  done
  # The port opens before the broker has caught up with its metadata log: a
  # metadata request (and topic creation) succeeding is what "ready" means.
  ensure_topics 90
  cat "$pidfile" >"$readyfile"
  log "ready on $host:$port"
}

stop() {
  if ! pid_alive; then
    rm -f "$pidfile" "$readyfile"
    log "not running"
    return 0
  fi
  local pid deadline
  pid="$(cat "$pidfile")"
  log "stopping (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS > deadline)); then
      log "no exit after 30 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  # Wait for the port to close so that an immediate restart can bind it.
  deadline=$((SECONDS + 10))
  while port_open "$port" && ((SECONDS < deadline)); do sleep 0.2; done
  rm -f "$pidfile" "$readyfile"
  log "stopped"
}

# One start or stop at a time per broker (test files start it in parallel);
# fetch has its own lock on the shared jar cache.
lock_state() {
  mkdir -p "$state"
  exec 9>"$state/.lock"
  flock 9
}

case "${1:-}" in
  fetch) fetch ;;
  start) lock_state; start ;;
  stop) lock_state; stop ;;
  status) pid_alive && port_open "$port" ;;
  reset) lock_state; stop; rm -rf "$data" "$conf" ;;
  *) echo "usage: $0 fetch|start|stop|status|reset" >&2; exit 2 ;;
esac
