import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clockRateFor, clockRateOf, payloadTypeName } from '../../../sensor/src/app/media/rtp-clock.js';
import { RtpStats } from '../../../sensor/src/app/media/rtp-stats.js';

/** Feed packets (seq, ts, arrival seconds) at 8 kHz PCMA. */
function feed(s: RtpStats, pkts: Array<[number, number, number]>, pt = 8, rate = 8000): RtpStats {
  for (const [seq, ts, t] of pkts) s.update(seq, ts, t, pt, rate);
  return s;
}
/** seqs are unwrapped (may exceed 65535); the timestamp follows the unwrapped value. */
function regular(seqs: number[], start = 0): Array<[number, number, number]> {
  return seqs.map((q, i) => [q & 0xffff, (start + q * 160) >>> 0, i * 0.02]);
}

describe('RtpStats sequence accounting', () => {
  it('in order: no loss', () => {
    const s = feed(new RtpStats(), regular(Array.from({ length: 100 }, (_, i) => 1000 + i)));
    expect(s.received).toBe(100);
    expect(s.expectedTshark).toBe(100);
    expect(s.lost).toBe(0);
    expect(s.lostRfc3550).toBe(0);
    expect(s.duplicates).toBe(0);
    expect(s.reordered).toBe(0);
  });

  it('loss of two packets', () => {
    const seqs = [1, 2, 3, 4, 7, 8, 9, 10];
    const s = feed(new RtpStats(), regular(seqs));
    expect(s.lost).toBe(2);
    expect(s.lostRfc3550).toBe(2);
    expect(s.expectedRfc3550).toBe(10);
  });

  it('every packet twice: negative loss like tshark (rtpdump_sample1)', () => {
    const pk: Array<[number, number, number]> = [];
    for (let q = 0; q < 10; q++) {
      pk.push([500 + q, q * 160, q * 0.02]);
      pk.push([500 + q, q * 160, q * 0.02 + 0.0001]);
    }
    const s = feed(new RtpStats(), pk);
    expect(s.received).toBe(20);
    expect(s.expectedTshark).toBe(10);
    expect(s.lost).toBe(-10);
    expect(s.lostRfc3550).toBe(-10);
    expect(s.duplicates).toBe(10);
  });

  it('reordering is not loss', () => {
    const s = feed(new RtpStats(), regular([1, 2, 4, 3, 5, 6]));
    expect(s.lost).toBe(0);
    expect(s.lostRfc3550).toBe(0);
    expect(s.reordered).toBe(1);
    expect(s.duplicates).toBe(0);
  });

  it('sequence wraparound counts a cycle', () => {
    const seqs = Array.from({ length: 12 }, (_, i) => 65530 + i); // 65530..65541 -> wraps to 5
    const s = feed(new RtpStats(), regular(seqs));
    expect(s.cycles).toBe(65536);
    expect(s.extendedMaxSeq).toBe(65536 + 5);
    expect(s.lost).toBe(0);
    expect(s.lostRfc3550).toBe(0);
    expect(s.expectedTshark).toBe(12);
  });

  it('wrap with loss across the boundary', () => {
    const seqs = [65533, 65534, 65535, 65536, 65538, 65539]; // unwrapped: 0, (1 lost), 2, 3
    const s = feed(new RtpStats(), regular(seqs));
    expect(s.lost).toBe(1);
    expect(s.lostRfc3550).toBe(1);
  });

  it('big jump: RFC 3550 resync after two sequential packets, tshark counts the gap', () => {
    const pk = regular([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    for (let i = 0; i < 11; i++) pk.push([20000 + i, (20000 + i) * 160, 0.2 + i * 0.02]);
    const s = feed(new RtpStats(), pk);
    expect(s.seqJumps).toBe(1);
    expect(s.lostRfc3550).toBe(0);
    expect(s.received).toBe(21);
    expect(s.lost).toBe(20010 - 1 + 1 - 21);
  });

  it('a single stray packet far away is not taken as a restart', () => {
    const pk = regular([1, 2, 3, 4, 5]);
    pk.push([40000, 40000 * 160, 0.11]);
    for (const q of [6, 7, 8]) pk.push([q, q * 160, 0.1 + q * 0.02]);
    const s = feed(new RtpStats(), pk);
    expect(s.seqJumps).toBe(0);
    expect(s.maxSeq).toBe(8);
    expect(s.lostRfc3550).toBe(-1); // the stray packet is counted as received
  });

  it('reset() forgets everything', () => {
    const s = feed(new RtpStats(), regular([1, 2, 5]));
    s.reset();
    expect(s.received).toBe(0);
    expect(s.lost).toBe(0);
    feed(s, regular([7, 8]));
    expect(s.firstSeq).toBe(7);
    expect(s.lost).toBe(0);
  });
});

describe('RtpStats jitter (RFC 3550 A.8, tshark rtppacket_analyse)', () => {
  it('matches a hand-computed example', () => {
    // 8 kHz, 160 ticks (20 ms) per packet; arrivals 0, 20, 45, 60 ms.
    // D: 0, 5, 5 ms -> J = 0, 5/16 = 0.3125, (15*0.3125 + 5)/16 = 0.60546875 ms.
    // RFC A.8 in timestamp units: transit 0,0,40,0 -> J 0, 2.5, 4.84375 ticks = 0.60546875 ms.
    const s = new RtpStats();
    feed(s, [
      [1, 0, 0],
      [2, 160, 0.02],
      [3, 320, 0.045],
      [4, 480, 0.06],
    ]);
    expect(s.jitterMs).toBeCloseTo(0.60546875, 9);
    expect(s.jitterRtpUnits(8000)).toBeCloseTo(4.84375, 6);
    expect(s.maxJitterMs).toBeCloseTo(0.60546875, 9);
    expect(s.maxDeltaMs).toBeCloseTo(25, 9);
    // tshark's running mean over total_nr: (0 + 0.3125/2*2 ...) = ((0.15625*2) + 0.60546875)/3
    expect(s.meanJitterMs).toBeCloseTo((0.15625 * 2 + 0.60546875) / 3, 9);
  });

  it('no clock rate: no jitter, delta still tracked', () => {
    const s = new RtpStats();
    s.update(1, 0, 0, 111, 0);
    s.update(2, 960, 0.05, 111, 0);
    expect(s.jitterMs).toBe(0);
    expect(s.maxDeltaMs).toBeCloseTo(50, 9);
  });

  it('marker and comfort-noise packets are excluded from the maxima', () => {
    const s = new RtpStats();
    s.update(1, 0, 0, 8, 8000);
    s.update(2, 160, 0.02, 8, 8000);
    s.update(3, 8000, 1.5, 8, 8000, true); // talk spurt after 1.5 s silence, marker set
    s.update(4, 8160, 1.52, 13, 8000); // CN
    s.update(5, 8320, 1.6, 8, 8000); // follows CN: not regular either
    s.update(6, 8480, 1.62, 8, 8000);
    expect(s.maxDeltaMs).toBeCloseTo(20, 6);
  });

  it('timestamp wrap does not disturb jitter', () => {
    const s = new RtpStats();
    let ts = 0xffffff00;
    for (let i = 0; i < 10; i++) {
      s.update(i, ts >>> 0, i * 0.02, 0, 8000);
      ts += 160;
    }
    expect(s.jitterMs).toBeCloseTo(0, 9);
    expect(s.lost).toBe(0);
  });
});

describe('rtp-clock', () => {
  it('static table and tshark names', () => {
    expect(clockRateOf(0)).toBe(8000);
    expect(clockRateOf(9)).toBe(8000); // G.722: 8000 timestamp rate (RFC 3551 §4.5.2)
    expect(clockRateOf(10)).toBe(44100);
    expect(clockRateOf(34)).toBe(90000);
    expect(clockRateOf(96)).toBe(0);
    expect(payloadTypeName(0)).toBe('g711U');
    expect(payloadTypeName(8)).toBe('g711A');
    expect(payloadTypeName(18)).toBe('g729');
    expect(payloadTypeName(13)).toBe('CN');
    expect(payloadTypeName(118)).toBe('RTPType-118');
    expect(clockRateFor(101, 'telephone-event', 8000)).toBe(0);
    expect(clockRateFor(111, 'opus', 48000)).toBe(48000);
    expect(clockRateFor(99)).toBe(0);
  });
});

// ---- tshark 4.0 as the oracle, on corpus files (skipped without tshark or the corpus) ----

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../../../shared/corpus');
function haveTshark(): boolean {
  try {
    execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const oracle = fs.existsSync(corpus) && haveTshark();

const TSHARK_OPTS = ['--enable-heuristic', 'rtp_udp', '--enable-heuristic', 'rtp_stun'];

interface TsharkStream {
  key: string;
  pkts: number;
  lost: number;
  maxDelta: number;
  meanJitter: number;
  maxJitter: number;
}

function tsharkStreams(file: string): TsharkStream[] {
  const out = execFileSync('tshark', ['-r', file, ...TSHARK_OPTS, '-q', '-z', 'rtp,streams'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const rows: TsharkStream[] = [];
  for (const line of out.split('\n')) {
    const m = line.trim().match(/^\S+\s+\S+\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-F]+)\s+(.+?)\s+(\d+)\s+(-?\d+) \(\S+\)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)/);
    if (!m) continue;
    rows.push({
      key: `${m[1]}:${m[2]}>${m[3]}:${m[4]}/${parseInt(m[5]!, 16)}`,
      pkts: Number(m[7]),
      lost: Number(m[8]),
      maxDelta: Number(m[11]),
      meanJitter: Number(m[13]),
      maxJitter: Number(m[14]),
    });
  }
  return rows;
}

/** Replays tshark's per-PDU RTP fields through RtpStats, one per (5-tuple, SSRC). */
function ourStreams(file: string): Map<string, RtpStats> {
  const fields = ['frame.time_relative', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'udp.srcport', 'tcp.srcport', 'udp.dstport', 'tcp.dstport', 'rtp.ssrc', 'rtp.seq', 'rtp.timestamp', 'rtp.p_type', 'rtp.marker'];
  const args = ['-r', file, ...TSHARK_OPTS, '-Y', 'rtp', '-T', 'fields', '-E', 'aggregator=|'];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  const map = new Map<string, RtpStats>();
  const last = (s: string) => s.split('|').pop() ?? '';
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const c = line.split('\t');
    const t = Number(c[0]);
    const src = last(c[1] || c[2]!);
    const dst = last(c[3] || c[4]!);
    const sport = last(c[5] || c[6]!);
    const dport = last(c[7] || c[8]!);
    const ssrcs = c[9]!.split('|');
    const seqs = c[10]!.split('|');
    const tss = c[11]!.split('|');
    const pts = c[12]!.split('|');
    const marks = c[13]!.split('|');
    for (let i = 0; i < ssrcs.length; i++) {
      const key = `${src}:${sport}>${dst}:${dport}/${parseInt(ssrcs[i]!, 16)}`;
      let s = map.get(key);
      if (s === undefined) map.set(key, (s = new RtpStats()));
      const pt = Number(pts[i]);
      s.update(Number(seqs[i]), Number(tss[i]), t, pt, clockRateOf(pt), marks[i] === '1' || marks[i] === 'True');
    }
  }
  return map;
}

describe.skipIf(!oracle)('RtpStats against tshark 4.0 -z rtp,streams (corpus)', () => {
  const files = [
    'rtpdump_sample1_ipv4_amr-nb.pcap', // duplicates: negative loss
    'srtpdec_tcp_call_02_03_client_s2.pcap', // TURN over TCP, lost 28
    'sippscen_mario_choppy_speech.pcap', // jitter: mean 16.8, max 30.2, max delta 79.1
    'sippscen_recv_streams_SSRC_0x3201e4_0x1000a323.pcap', // SSRC change, lost 1
    'ndpi_rtp.pcapng',
    'heplify_rtp_rtcp_sip_ipv4_udp.pcap', // relayed legs with the same SSRCs
    'sippscen_sip-rtp-g729a.pcap',
    'heplify_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap', // lost 6, PCMA + CN + dynamic types
  ];
  for (const f of files) {
    it(f, () => {
      const file = path.join(corpus, f);
      if (!fs.existsSync(file)) return;
      const theirs = tsharkStreams(file);
      const ours = ourStreams(file);
      expect(theirs.length).toBeGreaterThan(0);
      for (const t of theirs) {
        const s = ours.get(t.key);
        expect(s, t.key).toBeDefined();
        expect(s!.received, `${t.key} pkts`).toBe(t.pkts);
        expect(s!.lost, `${t.key} lost`).toBe(t.lost);
        expect(s!.maxDeltaMs, `${t.key} max delta`).toBeCloseTo(t.maxDelta, 2);
        expect(s!.maxJitterMs, `${t.key} max jitter`).toBeCloseTo(t.maxJitter, 2);
        expect(s!.meanJitterMs, `${t.key} mean jitter`).toBeCloseTo(t.meanJitter, 2);
      }
    });
  }
});
