/**
 * The synthetic labelled scenarios: the committed captures match their
 * builders byte for byte, stay small, carry valid labels, and tshark (the
 * oracle) reads them without a malformed frame and with the SIP messages and
 * RTP streams recorded in the label when they were built.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { haveTshark } from '../../lib/tshark.js';
import { validateLabel } from '../../eval/scenarios.js';
import { MAX_CAPTURE_BYTES, SYNTHETIC_SCENARIOS, checkCommitted, syntheticDir, tsharkSummaryAsync, type TsharkSummary } from './build.js';
import { fragmentFrame, Host, udpFrame } from './lib/capture.js';
import { hep3, erspan2, erspan3 } from './lib/encap.js';

const dir = syntheticDir();

describe('synthetic scenarios', () => {
  it('has a committed capture and label for every builder, each under the size budget', () => {
    for (const s of SYNTHETIC_SCENARIOS) {
      const pcap = path.join(dir, `${s.name}.pcap`);
      const json = path.join(dir, `${s.name}.json`);
      expect(fs.existsSync(pcap), pcap).toBe(true);
      expect(fs.statSync(pcap).size).toBeLessThan(MAX_CAPTURE_BYTES);
      const label = validateLabel(JSON.parse(fs.readFileSync(json, 'utf8')), json);
      expect(label.name).toBe(s.name);
      // Look-alikes expect nothing at all; positive scenarios name what they expect and what they forbid.
      if (s.name.startsWith('silent_')) expect(label.mustNotFind.length).toBe(5);
      else expect(label.mustFind.length).toBeGreaterThan(0);
    }
  });

  it('committed files are what the builders produce (run build.ts after changing a builder)', () => {
    expect(checkCommitted()).toEqual([]);
  });

  it.skipIf(!haveTshark())('tshark reads every capture without malformed frames, as recorded in the label', async () => {
    const names = SYNTHETIC_SCENARIOS.map((s) => s.name);
    const results = new Map<string, TsharkSummary>();
    // A few tshark processes at once: one run per capture is ~1.5 s, mostly start-up.
    for (let i = 0; i < names.length; i += 6) {
      const batch = names.slice(i, i + 6);
      const got = await Promise.all(batch.map((n) => tsharkSummaryAsync(path.join(dir, `${n}.pcap`))));
      batch.forEach((n, k) => results.set(n, got[k]!));
    }
    for (const name of names) {
      const t = results.get(name)!;
      const label = JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as { tshark?: TsharkSummary };
      expect(t.malformed, name).toBe(0);
      expect(t.packets, name).toBeGreaterThan(0);
      expect(t.sipMessages, name).toBeGreaterThanOrEqual(7);
      expect(t.rtpStreams.length, name).toBeGreaterThan(0);
      if (label.tshark && label.tshark.tshark === t.tshark) {
        expect({ packets: t.packets, sip: t.sipMessages, streams: t.rtpStreams.length }, name).toEqual({
          packets: label.tshark.packets,
          sip: label.tshark.sipMessages,
          streams: label.tshark.rtpStreams.length,
        });
      }
    }
  }, 120_000);
});

describe('synthetic frame helpers', () => {
  it('fragments a large UDP datagram into RFC 791 fragments that cover it exactly', () => {
    const h = new Host('10.20.1.10');
    const frame = udpFrame(h, 5060, '10.99.0.20', 5060, Buffer.alloc(3000, 0x41));
    const frags = fragmentFrame(frame);
    expect(frags.length).toBe(3);
    let covered = 0;
    frags.forEach((f, k) => {
      const flags = f.readUInt16BE(14 + 6);
      expect((flags & 0x1fff) * 8).toBe(covered);
      expect((flags & 0x2000) !== 0).toBe(k < frags.length - 1);
      expect(f.readUInt16BE(14 + 4)).toBe(frame.readUInt16BE(14 + 4)); // same IP ID
      covered += f.length - 34;
    });
    expect(covered).toBe(frame.length - 34);
    expect(fragmentFrame(udpFrame(h, 5060, '10.99.0.20', 5060, Buffer.alloc(100)))).toHaveLength(1);
  });

  it('builds HEP3 with the total length in the header and SIP as chunk 15', () => {
    const sip = Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n');
    const h = hep3({ srcIp: '10.0.0.1', dstIp: '10.0.0.2', sport: 5060, dport: 5060, tsSec: 1, tsUsec: 2, payload: sip, agentId: 7 });
    expect(h.subarray(0, 4).toString()).toBe('HEP3');
    expect(h.readUInt16BE(4)).toBe(h.length);
    const last = h.length - sip.length - 6;
    expect(h.readUInt16BE(last + 2)).toBe(15);
    expect(h.subarray(last + 6).equals(sip)).toBe(true);
  });

  it('puts the mirrored frame after 8 (ERSPAN II) and 12 (ERSPAN III) header bytes behind an 8-byte GRE header', () => {
    const eth = Buffer.from('00112233445566778899aabb0800', 'hex');
    const e2 = erspan2(eth, 5, 9);
    expect(e2.readUInt16BE(2)).toBe(0x88be);
    expect(e2[8]! >> 4).toBe(1);
    expect(e2.subarray(16).equals(eth)).toBe(true);
    const e3 = erspan3(eth, 5, 9, 1234);
    expect(e3.readUInt16BE(2)).toBe(0x22eb);
    expect(e3[8]! >> 4).toBe(2);
    expect(e3.subarray(20).equals(eth)).toBe(true);
  });
});
