/**
 * Privacy: no event may carry media payload bytes or key material
 * (sensor/src/events/types.ts; PROTOCOLS.md: "Report that it happened, never
 * the key itself"). The test feeds captures whose RTP/RTCP/TURN payloads, SIP
 * MESSAGE body and SDES a=crypto keys (RFC 4568 inline key||salt) hold known
 * marker bytes, then searches every emitted event — as objects serialised with
 * JSON.stringify, and as the bytes the jsonl and text sinks wrote — for each
 * marker in raw, hex (both cases) and base64 form (all three alignments).
 *
 * Identifiers are not payload and are left out of the marker set on purpose:
 * Call-IDs, SIP URIs, RTCP CNAMEs and STUN USERNAMEs may legitimately appear.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Xorshift32 } from '../fixtures/gen/prng.js';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { Sensor } from '../../sensor/src/sensor.js';
import { JsonlSink } from '../../sensor/src/output/jsonl-sink.js';
import { TextSink } from '../../sensor/src/output/text-sink.js';
import type { TapwatchEvent } from '../../sensor/src/events/types.js';
import { runSensorOnFile, type CollectingSink } from '../lib/run-sensor.js';
import { findLeaks, markerForms, secretForms, type SecretForm } from './leak-search.js';
import { buildSyntheticCapture, writeSyntheticPcap, type SyntheticCapture, type SyntheticSecrets } from './synthetic-capture.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const KEY_EXPOSURE_PCAP = path.resolve(here, '../scenarios/captures/key_exposure_sdes.pcap');
const KEY_EXPOSURE_LABEL = path.resolve(here, '../scenarios/captures/key_exposure_sdes.json');

const PAYLOAD_MARKER = 'TAPWATCH-SECRET-PAYLOAD';
const MESSAGE_MARKER = 'TAPWATCH-SECRET-IM-BODY';

/** 30-byte SDES key||salt: a readable marker, then deterministic pseudo-random bytes. */
function makeKey(i: number): Buffer {
  const key = Buffer.alloc(30);
  key.write(`TWKEY${i}-SECRET`, 0, 'latin1');
  new Xorshift32(0x5ec7e7 + i).fillBytes(key, 12, 18);
  return key;
}

function secretsFor(keys: Buffer[]): SyntheticSecrets {
  return { payloadMarker: Buffer.from(PAYLOAD_MARKER), keys, messageBody: `${MESSAGE_MARKER} ${MESSAGE_MARKER}` };
}

function formsFor(keys: Buffer[]): SecretForm[] {
  const forms = [...secretForms('RTP payload marker', Buffer.from(PAYLOAD_MARKER)), ...secretForms('SIP MESSAGE body marker', Buffer.from(MESSAGE_MARKER))];
  keys.forEach((k, i) => {
    forms.push(...secretForms(`key ${i} key||salt`, k));
    forms.push(...secretForms(`key ${i} master key`, k.subarray(0, 16)));
    forms.push(...secretForms(`key ${i} salt`, k.subarray(16)));
    forms.push(...secretForms(`key ${i} marker`, k.subarray(0, 12)));
    forms.push(...markerForms(`key ${i} inline base64`, k.toString('base64')));
  });
  return forms;
}

function leaksIn(events: TapwatchEvent[], forms: SecretForm[]): string[] {
  const hits: string[] = [];
  for (const e of events) {
    const text = JSON.stringify(e);
    for (const name of findLeaks(text, forms)) hits.push(`${e.type} ${e.id}: ${name}`);
  }
  return hits;
}

/** Run the sensor once more with the real output sinks writing to files; returns what they wrote. */
async function sinkOutputs(file: string, dir: string): Promise<{ jsonl: string; text: string }> {
  const jsonlPath = path.join(dir, 'events.jsonl');
  const textPath = path.join(dir, 'events.txt');
  const jfd = openSync(jsonlPath, 'w');
  const tfd = openSync(textPath, 'w');
  try {
    const sensor = new Sensor({ sensorId: 'privacy', statsIntervalSec: 0 }, [new JsonlSink(jfd), new TextSink(tfd, false)]);
    await sensor.run(openCaptureFile(file));
  } finally {
    closeSync(jfd);
    closeSync(tfd);
  }
  return { jsonl: readFileSync(jsonlPath, 'latin1'), text: readFileSync(textPath, 'latin1') };
}

describe('privacy: no payload or key bytes in any event', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-privacy-'));
  const keys = [0, 1, 2, 3, 4, 5].map(makeKey);
  const forms = formsFor(keys);
  const pcap = path.join(tmp, 'secrets.pcap');
  let capture: SyntheticCapture;
  let sink: CollectingSink;

  beforeAll(async () => {
    capture = buildSyntheticCapture(secretsFor(keys));
    writeSyntheticPcap(pcap, capture.frames);
    sink = await runSensorOnFile(pcap);
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('the matcher finds a deliberately leaked secret in every encoding', () => {
    const k = keys[2]!;
    const payload = Buffer.from(`xx${PAYLOAD_MARKER}${PAYLOAD_MARKER}yy`);
    const leaking: Array<[string, string]> = [
      ['payload raw', JSON.stringify({ note: `got ${PAYLOAD_MARKER} here` })],
      ['payload hex', JSON.stringify({ dump: payload.toString('hex') })],
      ['payload HEX', JSON.stringify({ dump: payload.toString('hex').toUpperCase() })],
      // base64 at each alignment: 0, 1 and 2 bytes of prefix before the secret.
      ['payload base64@0', JSON.stringify({ b: Buffer.from(PAYLOAD_MARKER).toString('base64') })],
      ['payload base64@1', JSON.stringify({ b: Buffer.concat([Buffer.from('z'), Buffer.from(PAYLOAD_MARKER)]).toString('base64') })],
      ['payload base64@2', JSON.stringify({ b: Buffer.concat([Buffer.from('zz'), Buffer.from(PAYLOAD_MARKER)]).toString('base64') })],
      ['key inline', JSON.stringify({ line: `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${k.toString('base64')}` })],
      ['master key hex', JSON.stringify({ key: k.subarray(0, 16).toString('hex') })],
      ['key||salt in a base64 blob', JSON.stringify({ blob: Buffer.concat([Buffer.from([1]), k, Buffer.from([2, 3])]).toString('base64') })],
      ['salt HEX', JSON.stringify({ salt: k.subarray(16).toString('hex').toUpperCase() })],
      ['binary key, JSON-escaped', JSON.stringify({ raw: k.toString('latin1') })],
      ['IM body', JSON.stringify({ body: MESSAGE_MARKER })],
    ];
    for (const [what, text] of leaking) expect(findLeaks(text, forms), what).not.toEqual([]);
    // And a clean event of the same shape is not flagged (no false positives from short forms).
    expect(findLeaks(JSON.stringify({ note: 'TAPWATCH', keyHash: 'ab12cd34ef56ab12' }), forms)).toEqual([]);
  });

  it('the capture really carries the markers (otherwise the test proves nothing)', () => {
    const bytes = readFileSync(pcap).toString('latin1');
    expect(bytes).toContain(PAYLOAD_MARKER);
    expect(bytes).toContain(MESSAGE_MARKER);
    for (const k of keys) expect(bytes).toContain(`inline:${k.toString('base64')}`);
  });

  it('the sensor parsed the calls, their SDES offers and their media', () => {
    for (const c of capture.calls) {
      expect(sink.ofType('call_started').map((e) => e.callId), c.callId).toContain(c.callId);
      const ended = sink.ofType('call_ended').find((e) => e.callId === c.callId);
      expect(ended?.reason, c.callId).toBe('bye');
      const sdes = sink.ofType('call_updated').filter((e) => e.callId === c.callId).flatMap((e) => e.media).filter((m) => m.keying === 'sdes');
      expect(sdes.map((m) => m.role).sort(), `${c.callId} SDES offer and answer`).toEqual(['answer', 'offer']);
      for (const s of c.streams) {
        const st = sink.ofType('stream_ended').find((e) => e.src === s.src && e.dst === s.dst && e.ssrc === s.ssrc);
        expect(st?.packets ?? 0, `${c.callId} ${s.src} -> ${s.dst}`).toBeGreaterThan(0);
        expect(st?.callId).toBe(c.callId);
      }
    }
    // TURN-relayed RTP (Send indication + ChannelData) and RFC 4571 RTP over TCP were decoded too.
    const transports = new Set(sink.ofType('stream_ended').map((e) => e.transport));
    expect([...transports].sort()).toEqual(expect.arrayContaining(['tcp', 'turn-indication', 'udp']));
  });

  it('no event holds a marker, a key or a payload in raw, hex or base64 form', () => {
    expect(sink.events.length).toBeGreaterThan(20);
    expect(leaksIn(sink.events, forms)).toEqual([]);
  });

  it('neither the jsonl nor the text output holds one', async () => {
    const out = await sinkOutputs(pcap, tmp);
    expect(out.jsonl.split('\n').filter(Boolean).length).toBe(sink.events.length);
    expect(out.text).toContain('e2e-udp-call-1@10.20.1.2');
    expect(findLeaks(out.jsonl, forms)).toEqual([]);
    expect(findLeaks(out.text, forms)).toEqual([]);
  });
});

describe.skipIf(!existsSync(KEY_EXPOSURE_PCAP) || !existsSync(KEY_EXPOSURE_LABEL))(
  'privacy: labelled capture key_exposure_sdes.pcap (real sipp SRTP call with SDES keys)',
  () => {
    it('no secretMarker of the label appears in any event', async () => {
      const label = JSON.parse(readFileSync(KEY_EXPOSURE_LABEL, 'utf8')) as { secretMarkers: string[]; streams: Array<{ src: string; dst: string }> };
      expect(label.secretMarkers.length).toBeGreaterThanOrEqual(2);
      const forms = label.secretMarkers.flatMap((m, i) => markerForms(`secretMarkers[${i}]`, m));
      // The capture does carry the inline keys in its SDP.
      const raw = readFileSync(KEY_EXPOSURE_PCAP).toString('latin1');
      for (const m of label.secretMarkers.filter((x) => x.length === 40)) expect(raw).toContain(`inline:${m}`);

      const sink = await runSensorOnFile(KEY_EXPOSURE_PCAP);
      expect(sink.ofType('call_started')).toHaveLength(1);
      const secure = sink.ofType('call_updated').flatMap((e) => e.media).filter((m) => m.keying === 'sdes');
      expect(secure.length).toBeGreaterThanOrEqual(2);
      for (const s of label.streams) {
        expect(sink.ofType('stream_ended').some((e) => e.src === s.src && e.dst === s.dst && e.packets > 0), `${s.src} -> ${s.dst}`).toBe(true);
      }
      expect(leaksIn(sink.events, forms)).toEqual([]);
    });
  },
);
