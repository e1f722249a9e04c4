-- tapwatch collector schema, version 1.
-- Times are epoch seconds (double precision), exactly as the sensor's events
-- carry them (sensor/src/events/types.ts), so the API returns what the
-- sensor wrote and keyset cursors round-trip without precision loss.

-- Every stored event. The primary key on the event id is what makes the
-- ingest idempotent: a redelivered message hits ON CONFLICT DO NOTHING and
-- none of the derived tables below is touched again.
CREATE TABLE events (
  id          text PRIMARY KEY,
  type        text NOT NULL,
  sensor      text NOT NULL,
  ts          double precision NOT NULL,
  call_id     text,
  ingested_at timestamptz NOT NULL DEFAULT now(),
  body        jsonb NOT NULL
);
-- GET /api/calls/:callId (timeline across sensors).
CREATE INDEX events_call_ts ON events (call_id, ts) WHERE call_id IS NOT NULL;
-- Retention sweep. Events arrive roughly in capture-time order, so a BRIN
-- index (a few pages, almost free to maintain) finds the old ones.
CREATE INDEX events_ts ON events USING brin (ts);

-- One row per finding event (duplicate_stream, signaling_copy, ...).
CREATE TABLE findings (
  id            text PRIMARY KEY,
  finding_id    text NOT NULL,
  type          text NOT NULL,
  severity      text NOT NULL,
  confidence    double precision NOT NULL,
  sensor        text NOT NULL,
  call_id       text,
  ssrc          bigint,
  copy_to       text,
  relay         text,
  summary       text NOT NULL,
  ts            double precision NOT NULL,
  first_seen    double precision NOT NULL,
  updates       integer NOT NULL DEFAULT 0,
  updated_ts    double precision,
  evidence      jsonb NOT NULL,
  body          jsonb NOT NULL
);
-- GET /api/findings: newest first, keyset pagination on (ts, id), optionally
-- filtered by one of type / severity / sensor / callId.
CREATE INDEX findings_ts_id ON findings (ts DESC, id DESC);
CREATE INDEX findings_type_ts ON findings (type, ts DESC, id DESC);
CREATE INDEX findings_severity_ts ON findings (severity, ts DESC, id DESC);
CREATE INDEX findings_sensor_ts ON findings (sensor, ts DESC, id DESC);
CREATE INDEX findings_call ON findings (call_id, ts DESC) WHERE call_id IS NOT NULL;
-- finding_updated events refer to the finding by its findingId.
CREATE INDEX findings_finding_id ON findings (finding_id);

-- One row per call per sensor (the same Call-ID may be seen by several sensors).
CREATE TABLE calls (
  call_id       text NOT NULL,
  sensor        text NOT NULL,
  from_uri      text,
  to_uri        text,
  transport     text,
  src           text,
  dst           text,
  state         text,
  state_ts      double precision,
  start_ts      double precision,
  answer_ts     double precision,
  end_ts        double precision,
  duration_sec  double precision,
  final_status  integer,
  end_reason    text,
  ended         boolean NOT NULL DEFAULT false,
  first_ts      double precision NOT NULL,
  last_ts       double precision NOT NULL,
  PRIMARY KEY (call_id, sensor)
);
-- Active-calls gauge.
CREATE INDEX calls_active ON calls (last_ts) WHERE NOT ended;
CREATE INDEX calls_last_ts ON calls USING brin (last_ts);

-- One row per RTP stream per sensor.
CREATE TABLE streams (
  stream_id      text NOT NULL,
  sensor         text NOT NULL,
  ssrc           bigint NOT NULL,
  src            text NOT NULL,
  dst            text NOT NULL,
  call_id        text,
  payload_type   integer,
  encrypted      boolean,
  classified_by  text,
  transport      text,
  start_ts       double precision,
  end_ts         double precision,
  packets        bigint,
  bytes          bigint,
  lost           bigint,
  duplicates     bigint,
  jitter_ms      double precision,
  end_reason     text,
  ended          boolean NOT NULL DEFAULT false,
  first_ts       double precision NOT NULL,
  last_ts        double precision NOT NULL,
  PRIMARY KEY (stream_id, sensor)
);
CREATE INDEX streams_call ON streams (call_id) WHERE call_id IS NOT NULL;
CREATE INDEX streams_active ON streams (last_ts) WHERE NOT ended;
CREATE INDEX streams_last_ts ON streams USING brin (last_ts);

-- One row per sensor: liveness and the latest telemetry.
CREATE TABLE sensors (
  sensor             text PRIMARY KEY,
  first_seen         double precision NOT NULL,
  last_seen          double precision NOT NULL,
  stats_ts           double precision,
  uptime_sec         double precision,
  packets            bigint,
  kernel_drops       bigint,
  if_drops           bigint,
  drops_unavailable  boolean,
  packet_rate        double precision,
  producer_queue     bigint,
  stats              jsonb
);

-- Latest fingerprint of each stream per sensor: the cross-sensor join
-- looks rows up by SSRC within a time window.
CREATE TABLE fingerprints (
  stream_id       text NOT NULL,
  sensor          text NOT NULL,
  id              text NOT NULL,
  ssrc            bigint NOT NULL,
  src             text NOT NULL,
  dst             text NOT NULL,
  outer_dst       text,
  call_id         text,
  classified_by   text NOT NULL,
  first_ts        double precision NOT NULL,
  last_ts         double precision NOT NULL,
  packets         bigint NOT NULL,
  rtp_ts_first    bigint NOT NULL,
  rtp_ts_last     bigint NOT NULL,
  block_size      integer NOT NULL,
  blocks          jsonb NOT NULL,
  PRIMARY KEY (stream_id, sensor)
);
CREATE INDEX fingerprints_ssrc ON fingerprints (ssrc, last_ts);
CREATE INDEX fingerprints_last_ts ON fingerprints USING brin (last_ts);
