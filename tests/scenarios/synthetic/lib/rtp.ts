/**
 * RTP streams (RFC 3550 §5.1, CSRC list per §5.1/§7.1), RTCP SR/RR/SDES/BYE
 * (§6.4, §6.5, §6.6) and RTCP generic NACK (RFC 4585 §6.2.1) for the synthetic
 * scenarios, with the timing of a 20 ms packetiser (50 packets/s), small
 * deterministic send jitter, optional loss and network jitter.
 *
 * Audio payloads come from a "microphone": audioFrame(source, slot) is a
 * deterministic function of the speaker and the 20 ms slot. So two streams
 * that carry the same speaker at the same moment carry the same G.711 bytes,
 * as a stateless codec would (transfer overlaps, conference legs), which is
 * what makes those look-alikes hard.
 */
import { Xorshift32 } from '../../../fixtures/gen/prng.js';
import { Capture, Host, udpFrame, type FrameOptions } from './capture.js';

/** 20 ms of audio (len bytes) of `source` in 20 ms slot `slot`. */
export function audioFrame(source: number, slot: number, len = 160): Buffer {
  const b = Buffer.alloc(len);
  new Xorshift32(Math.imul(source, 7919) ^ Math.imul(slot + 1, 104729)).fillBytes(b, 0, len);
  return b;
}

export function rtpPacket(pt: number, marker: boolean, seq: number, ts: number, ssrc: number, payload: Uint8Array, csrcs: number[] = []): Buffer {
  const b = Buffer.alloc(12 + 4 * csrcs.length + payload.length);
  b[0] = 0x80 | (csrcs.length & 0x0f);
  b[1] = (marker ? 0x80 : 0) | (pt & 0x7f);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(ts >>> 0, 4);
  b.writeUInt32BE(ssrc >>> 0, 8);
  csrcs.forEach((c, i) => b.writeUInt32BE(c >>> 0, 12 + 4 * i));
  b.set(payload, 12 + 4 * csrcs.length);
  return b;
}

export interface SentPacket {
  /** Capture time (relative seconds) of this packet at the tap. */
  t: number;
  /** Index in the stream (0-based, counts lost packets too). */
  i: number;
  seq: number;
  rtpTs: number;
  rtp: Buffer;
  frame: Buffer;
}

export interface StreamSpec {
  src: Host;
  sport: number;
  dst: Host | string;
  dport: number;
  ssrc: number;
  pt: number;
  /** Relative start time (s) and number of 20 ms packets. */
  start: number;
  packets: number;
  seq0: number;
  ts0: number;
  /** Samples per packet (160 for 8 kHz, 20 ms). */
  tsStep?: number;
  ptime?: number;
  /** Payload of packet i (default: audioFrame(speaker, slot)). */
  payload?: (i: number, slot: number) => Uint8Array;
  /** Speaker id for the default payload. */
  speaker?: number;
  payloadLen?: number;
  csrcs?: (i: number) => number[];
  /** Packet i never reaches the tap (lost upstream). */
  lost?: (i: number) => boolean;
  /** Extra delay (s) of packet i at the tap (network jitter). */
  delay?: (i: number) => number;
  /** Packets i with a silence gap before them get the marker bit (talk spurt start); packet 0 always does. */
  marker?: (i: number) => boolean;
  /** Skip packet i entirely (silence suppression: no packet sent, seq does not advance). */
  silent?: (i: number) => boolean;
  frame?: FrameOptions;
  /** Packet i is something else on the same SSRC and sequence space (RFC 4733 events): its PT, payload, timestamp and marker. */
  event?: (i: number) => { pt: number; payload: Uint8Array; rtpTs: number; marker: boolean } | null;
  /** Transform the RTP bytes into the UDP payload actually sent (TURN ChannelData). */
  wrap?: (rtp: Buffer) => Buffer;
  /** Seed of the send-time jitter (±0.3 ms); default from ssrc. */
  seed?: number;
  /** Called for every packet that reaches the tap, after it is added (make copies here). */
  onPacket?: (p: SentPacket) => void;
}

export interface StreamResult {
  first: number;
  last: number;
  sent: number;
  nextSeq: number;
  nextTs: number;
}

/** Add one RTP stream to the capture. */
export function sendStream(cap: Capture, s: StreamSpec): StreamResult {
  const ptime = s.ptime ?? 0.02;
  const tsStep = s.tsStep ?? 160;
  const rnd = new Xorshift32(s.seed ?? s.ssrc);
  const slot0 = Math.round(s.start / ptime);
  let seq = s.seq0;
  let sent = 0;
  let first = -1;
  let last = -1;
  let prevSilent = true;
  for (let i = 0; i < s.packets; i++) {
    const slot = slot0 + i;
    const rtpTs = (s.ts0 + i * tsStep) >>> 0;
    if (s.silent?.(i)) {
      prevSilent = true;
      continue;
    }
    const marker = prevSilent || (s.marker?.(i) ?? false);
    prevSilent = false;
    const ev = s.event?.(i) ?? null;
    const payload = ev ? ev.payload : s.payload ? s.payload(i, slot) : audioFrame(s.speaker ?? s.ssrc, slot, s.payloadLen ?? 160);
    const rtp = rtpPacket(ev ? ev.pt : s.pt, ev ? ev.marker : marker, seq, ev ? ev.rtpTs : rtpTs, s.ssrc, payload, s.csrcs?.(i) ?? []);
    const thisSeq = seq;
    seq = (seq + 1) & 0xffff;
    if (s.lost?.(i)) continue;
    const t = s.start + i * ptime + (rnd.float() - 0.5) * 0.0006 + (s.delay?.(i) ?? 0);
    const frame = udpFrame(s.src, s.sport, s.dst, s.dport, s.wrap ? s.wrap(rtp) : rtp, s.frame);
    cap.add(t, frame);
    sent++;
    if (first < 0) first = t;
    last = Math.max(last, t);
    s.onPacket?.({ t, i, seq: thisSeq, rtpTs, rtp, frame });
  }
  return { first, last, sent, nextSeq: seq, nextTs: (s.ts0 + s.packets * tsStep) >>> 0 };
}

/** RTCP compound: SR (or RR when packetCount < 0) + SDES CNAME (RFC 3550 §6.1: every compound starts with SR/RR and has SDES). */
export function rtcpReport(
  ssrc: number,
  cname: string,
  o: { ntpSec: number; rtpTs: number; packets: number; octets: number; reportOn?: { ssrc: number; lost: number; highestSeq: number; jitter: number } },
): Buffer {
  const blocks: Buffer[] = [];
  const rc = o.reportOn ? 1 : 0;
  const isSr = o.packets >= 0;
  const len = (isSr ? 28 : 8) + rc * 24;
  const sr = Buffer.alloc(len);
  sr[0] = 0x80 | rc;
  sr[1] = isSr ? 200 : 201;
  sr.writeUInt16BE(len / 4 - 1, 2);
  sr.writeUInt32BE(ssrc >>> 0, 4);
  let p = 8;
  if (isSr) {
    const sec = Math.floor(o.ntpSec);
    sr.writeUInt32BE((sec + 2208988800) >>> 0, 8);
    sr.writeUInt32BE(Math.floor((o.ntpSec - sec) * 4294967296) >>> 0, 12);
    sr.writeUInt32BE(o.rtpTs >>> 0, 16);
    sr.writeUInt32BE(o.packets >>> 0, 20);
    sr.writeUInt32BE(o.octets >>> 0, 24);
    p = 28;
  }
  if (o.reportOn) {
    sr.writeUInt32BE(o.reportOn.ssrc >>> 0, p);
    const lost = Math.max(0, o.reportOn.lost);
    sr[p + 4] = 0; // fraction lost
    sr[p + 5] = (lost >>> 16) & 0xff;
    sr[p + 6] = (lost >>> 8) & 0xff;
    sr[p + 7] = lost & 0xff;
    sr.writeUInt32BE(o.reportOn.highestSeq >>> 0, p + 8);
    sr.writeUInt32BE(o.reportOn.jitter >>> 0, p + 12);
    // LSR and DLSR 0: no SR received yet.
  }
  blocks.push(sr);
  const cn = Buffer.from(cname, 'utf8');
  // SDES chunk: SSRC, CNAME item (type 1, len, text), END (0), padded to 32 bits.
  const chunkLen = 4 + 2 + cn.length + 1;
  const padded = (chunkLen + 3) & ~3;
  const sdes = Buffer.alloc(4 + padded);
  sdes[0] = 0x81;
  sdes[1] = 202;
  sdes.writeUInt16BE((4 + padded) / 4 - 1, 2);
  sdes.writeUInt32BE(ssrc >>> 0, 4);
  sdes[8] = 1;
  sdes[9] = cn.length;
  cn.copy(sdes, 10);
  blocks.push(sdes);
  return Buffer.concat(blocks);
}

/** RTCP RR + SDES + generic NACK (RFC 4585 §6.2.1: PT 205 RTPFB, FMT 1) asking for `lost` seqs of `mediaSsrc`. */
export function rtcpNack(senderSsrc: number, cname: string, mediaSsrc: number, lost: number[]): Buffer {
  const rr = rtcpReport(senderSsrc, cname, { ntpSec: 0, rtpTs: 0, packets: -1, octets: 0 });
  const fci: Array<[number, number]> = [];
  const sorted = [...lost].sort((a, b) => a - b);
  for (const s of sorted) {
    const last = fci[fci.length - 1];
    if (last && s - last[0] >= 1 && s - last[0] <= 16) last[1] |= 1 << (s - last[0] - 1);
    else fci.push([s, 0]);
  }
  const nack = Buffer.alloc(12 + 4 * fci.length);
  nack[0] = 0x80 | 1;
  nack[1] = 205;
  nack.writeUInt16BE(nack.length / 4 - 1, 2);
  nack.writeUInt32BE(senderSsrc >>> 0, 4);
  nack.writeUInt32BE(mediaSsrc >>> 0, 8);
  fci.forEach(([pid, blp], k) => {
    nack.writeUInt16BE(pid & 0xffff, 12 + 4 * k);
    nack.writeUInt16BE(blp, 14 + 4 * k);
  });
  return Buffer.concat([rr, nack]);
}

/** Send an RTCP report every `every` seconds for a stream (sender report from its sender). */
export function sendRtcpReports(
  cap: Capture,
  o: { src: Host; sport: number; dst: Host | string; dport: number; ssrc: number; cname: string; start: number; end: number; every: number; peerSsrc?: number },
): void {
  for (let t = o.start + o.every; t < o.end; t += o.every) {
    const packets = Math.round((t - o.start) / 0.02);
    const report = rtcpReport(o.ssrc, o.cname, {
      ntpSec: cap.abs(t),
      rtpTs: packets * 160,
      packets,
      octets: packets * 160,
      reportOn: o.peerSsrc !== undefined ? { ssrc: o.peerSsrc, lost: 0, highestSeq: packets, jitter: 12 } : undefined,
    });
    cap.add(t + 0.0031, udpFrame(o.src, o.sport, o.dst, o.dport, report));
  }
}
