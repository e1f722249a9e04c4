/**
 * EmbeddedRtpScanner: RTP (or IP/UDP/RTP) of an active stream found at the
 * offsets lawful-intercept wrappers use (PROTOCOLS.md; Wireshark packet-pcli.c,
 * packet-jmirror.c, packet-li5g.c) and by the bounded generic search, and
 * nothing on look-alikes. Payloads are built from byte literals.
 */
import { describe, expect, it } from 'vitest';
import { EmbeddedRtpScanner } from '../../sensor/src/app/embedded-rtp.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import type { EmbeddedRtpObservation } from '../../sensor/src/detect/observations.js';
import type { StreamTable } from '../../sensor/src/media/stream-table.js';
import { makeFlow, makeStream } from '../detect/fixtures/dup-obs.js';

const SSRC = 0xdee0ee8f;

function setup() {
  const s = makeStream('10.10.1.2:10000', '10.10.2.2:20000', SSRC);
  s.lastSeq = 1000;
  s.packets = 10;
  s.addPayloadType(8);
  const table = { active: new Set([s]) } as unknown as StreamTable;
  const seen: EmbeddedRtpObservation[] = [];
  const scanner = new EmbeddedRtpScanner(table, (o) => seen.push({ ...o }));
  const rec = new PacketRecord();
  rec.ts = 1000;
  return { s, scanner, seen, rec };
}

/** RTP header (PT 8, seq, ts, SSRC) + 160 payload bytes. */
function rtpBytes(seq: number, ssrc = SSRC, pt = 8): Buffer {
  const b = Buffer.alloc(172, 0xd5);
  b[0] = 0x80;
  b[1] = pt;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(ssrc, 8);
  return b;
}

/** IPv4 + UDP 10.10.1.2:10000 -> 10.10.2.2:20000 around an RTP packet. */
function ipUdp(rtp: Buffer, sport = 10000, dport = 20000): Buffer {
  const ip = Buffer.alloc(28);
  ip[0] = 0x45;
  ip.writeUInt16BE(28 + rtp.length, 2);
  ip.writeUInt16BE(0x1234, 4);
  ip[6] = 0x40;
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from([10, 10, 1, 2, 10, 10, 2, 2]).copy(ip, 12);
  ip.writeUInt16BE(sport, 20);
  ip.writeUInt16BE(dport, 22);
  ip.writeUInt16BE(8 + rtp.length, 24);
  return Buffer.concat([ip, rtp]);
}

function x3(format: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt16BE(5, 0);
  h.writeUInt16BE(2, 2);
  h.writeUInt32BE(40, 4);
  h.writeUInt32BE(payload.length, 8);
  h.writeUInt16BE(format, 12);
  return Buffer.concat([h, payload]);
}

function scanUdp(t: ReturnType<typeof setup>, payload: Buffer, dport = 6000, sport = 40000): void {
  const flow = makeFlow(`192.0.2.1:${sport}`, `192.0.2.99:${dport}`);
  t.scanner.scan(flow, 0, t.rec, payload, 0, payload.length, 'udp');
}

describe('EmbeddedRtpScanner', () => {
  it('PacketCable CCC with a small ID: IP at 4', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), ipUdp(rtpBytes(1001))]));
    expect(t.seen).toHaveLength(1);
    expect(t.seen[0]).toMatchObject({ wrapper: 'packetcable', embedded: 'ip', offset: 4, ssrc: SSRC, seq: 1001, outerDst: '192.0.2.99:6000', outerDstIp: '192.0.2.99', outerProto: 'udp' });
    expect(t.seen[0]!.matched?.ssrc).toBe(SSRC);
  });

  it('CCC + NTP timestamp: bare RTP at 12', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.from('0000002a' + 'e3a1b2c3d4e5f607', 'hex'), rtpBytes(999)]));
    expect(t.seen[0]).toMatchObject({ wrapper: 'packetcable', embedded: 'rtp', offset: 12, seq: 999 });
  });

  it('jmirror on UDP 30030: IP at 8', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.from('7a00000100000009', 'hex'), ipUdp(rtpBytes(1002))]), 30030, 30030);
    expect(t.seen[0]).toMatchObject({ wrapper: 'jmirror', embedded: 'ip', offset: 8 });
  });

  it('bare IP-in-UDP: IP at 0', () => {
    const t = setup();
    scanUdp(t, ipUdp(rtpBytes(1003)), 6635);
    expect(t.seen[0]).toMatchObject({ wrapper: 'ip-in-udp', embedded: 'ip', offset: 0 });
  });

  it('an unknown shim: found by the bounded search at its offset', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.alloc(17, 0x11), rtpBytes(1004)]));
    expect(t.seen[0]).toMatchObject({ wrapper: 'unknown', embedded: 'rtp', offset: 17 });
  });

  it('ETSI X3 over TCP: two PDUs in one segment, IPv4 and RTP payload formats', () => {
    const t = setup();
    const seg = Buffer.concat([x3(5, ipUdp(rtpBytes(1005))), x3(8, rtpBytes(1006))]);
    const flow = makeFlow('192.0.2.1:41000', '192.0.2.99:5000');
    t.scanner.scan(flow, 0, t.rec, seg, 0, seg.length, 'tcp');
    expect(t.seen.map((o) => [o.wrapper, o.embedded, o.seq, o.offset])).toEqual([
      ['x3', 'ip', 1005, 40],
      ['x3', 'rtp', 1006, 40 + 40 + 28 + 172],
    ]);
  });

  it('the digest of an embedded copy equals the original packet digest', async () => {
    const { rtpDigest } = await import('../../sensor/src/app/media/rtp-digest.js');
    const t = setup();
    const r = rtpBytes(1007);
    scanUdp(t, Buffer.concat([Buffer.from('0a00002a', 'hex'), ipUdp(r)]));
    expect(t.seen[0]!.digest).toBe(rtpDigest(r, 0, r.length));
  });

  it('rejects SSRC matches whose sequence, payload type or inner ports do not fit the stream', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), rtpBytes(1000 + 500)])); // seq far away
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), rtpBytes(1001, SSRC, 0)])); // PT never used
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), rtpBytes(1001, 0x12345678)])); // other SSRC
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), rtpBytes(1001, SSRC, 72)])); // RTCP PT
    expect(t.seen.map((o) => [o.offset, o.embedded, o.seq])).toEqual([]);
  });

  it('an inner IP/UDP header with other ports is not the stream, but the RTP inside it still is (inner NAT)', () => {
    const t = setup();
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), ipUdp(rtpBytes(1001), 10000, 20002)]));
    expect(t.seen.map((o) => [o.offset, o.embedded])).toEqual([[32, 'rtp']]);
  });

  it('samples a flow that never matched, but keeps looking', () => {
    const t = setup();
    const flow = makeFlow('192.0.2.1:53000', '192.0.2.99:6000');
    const junk = Buffer.alloc(200, 0x41);
    for (let i = 0; i < 64 + 160; i++) t.scanner.scan(flow, 0, t.rec, junk, 0, junk.length, 'udp');
    expect(t.scanner.counters.sparseSkipped).toBe(150);
    expect(t.scanner.counters.scanned).toBe(64 + 10);
    // A copy appearing later is still found (at the sampling rate), and full scanning resumes.
    const hit = Buffer.concat([Buffer.from('00000001', 'hex'), ipUdp(rtpBytes(1001))]);
    for (let i = 0; i < 16; i++) t.scanner.scan(flow, 0, t.rec, hit, 0, hit.length, 'udp');
    expect(t.seen.length).toBeGreaterThanOrEqual(1);
    const before = t.seen.length;
    t.scanner.scan(flow, 0, t.rec, hit, 0, hit.length, 'udp');
    expect(t.seen.length).toBe(before + 1);
  });

  it('does nothing while no stream is active', () => {
    const t = setup();
    (t.scanner.streams.active as Set<unknown>).clear();
    scanUdp(t, Buffer.concat([Buffer.from('00000001', 'hex'), ipUdp(rtpBytes(1001))]));
    expect(t.seen).toHaveLength(0);
    expect(t.scanner.counters.scanned).toBe(0);
  });
});
