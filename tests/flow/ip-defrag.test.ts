import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';
import { parseAddr } from '../../sensor/src/decode/address.js';
import { IpDefragmenter, type IpDefragOptions } from '../../sensor/src/flow/ip-defrag.js';

function addr(text: string): Uint32Array {
  const a = new Uint32Array(4);
  parseAddr(text, a);
  return a;
}

const V4S = addr('192.0.2.1');
const V4D = addr('192.0.2.2');
const V6S = addr('2001:db8::1');
const V6D = addr('2001:db8::2');

function payload(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 7) & 255;
  return b;
}

type Frag = { off: number; data: Buffer; mf: boolean };

/** Split like a router: non-final fragments are multiples of 8 bytes. */
function split(p: Buffer, size: number): Frag[] {
  const out: Frag[] = [];
  for (let off = 0; off < p.length; off += size) {
    out.push({ off, data: p.subarray(off, Math.min(p.length, off + size)), mf: off + size < p.length });
  }
  return out;
}

function setup(opts?: IpDefragOptions) {
  const w = new WeirdCounters();
  const d = new IpDefragmenter(w, opts);
  const add = (v: 4 | 6, f: Frag, id = 77, ts = 0, src = v === 4 ? V4S : V6S, proto = 17): Buffer | null => {
    // Place the fragment inside a bigger frame buffer, as a decoder would pass it.
    const frame = Buffer.alloc(f.data.length + 40, 0xee);
    f.data.copy(frame, 34);
    return d.add(v, src, v === 4 ? V4D : V6D, proto, id, f.off, f.mf, frame, 34, f.data.length, ts);
  };
  return { w, d, add };
}

describe('IpDefragmenter', () => {
  for (const v of [4, 6] as const) {
    it(`reassembles IPv${v} fragments in order`, () => {
      const { w, d, add } = setup();
      const p = payload(3000);
      const frags = split(p, 1480);
      expect(add(v, frags[0]!)).toBeNull();
      expect(add(v, frags[1]!)).toBeNull();
      expect(d.pending).toBe(1);
      const out = add(v, frags[2]!);
      expect(out).not.toBeNull();
      expect(out!.equals(p)).toBe(true);
      expect(d.pending).toBe(0);
      expect(d.bufferedBytes).toBe(0);
      expect(d.reassembled).toBe(1);
      expect(w.total()).toBe(0);
    });

    it(`reassembles IPv${v} fragments in reverse order`, () => {
      const { w, add } = setup();
      const p = payload(5379, 3);
      const frags = split(p, 1448).reverse();
      let out: Buffer | null = null;
      for (const f of frags) {
        expect(out).toBeNull();
        out = add(v, f);
      }
      expect(out!.equals(p)).toBe(true);
      expect(w.total()).toBe(0);
    });

    it(`ignores exact duplicate IPv${v} fragments (mirror port doubles)`, () => {
      const { w, add } = setup();
      const p = payload(2000);
      const frags = split(p, 512);
      let out: Buffer | null = null;
      for (let i = 0; i < frags.length; i++) {
        out = add(v, frags[i]!);
        if (i < frags.length - 1) expect(add(v, frags[i]!)).toBeNull();
      }
      expect(out!.equals(p)).toBe(true);
      expect(w.get('frag_duplicate')).toBe(3);
      expect(w.get('frag_overlap')).toBe(0);
    });
  }

  it('keeps the first copy of overlapping IPv4 bytes', () => {
    const { w, add } = setup();
    const A = Buffer.alloc(16, 0x41);
    const B = Buffer.alloc(16, 0x42);
    const C = Buffer.alloc(8, 0x43);
    expect(add(4, { off: 8, data: B, mf: true })).toBeNull(); // [8,24) arrives first
    expect(add(4, { off: 0, data: A, mf: true })).toBeNull(); // [0,16): only [0,8) is new
    const out = add(4, { off: 24, data: C, mf: false });
    expect(out!.toString('latin1')).toBe('AAAAAAAA' + 'BBBBBBBBBBBBBBBB' + 'CCCCCCCC');
    expect(w.get('frag_overlap')).toBe(1);
  });

  it('drops the whole IPv6 datagram on overlap (RFC 5722) and swallows its later fragments', () => {
    const { w, d, add } = setup();
    expect(add(6, { off: 0, data: Buffer.alloc(16, 1), mf: true }, 9, 1)).toBeNull();
    expect(add(6, { off: 8, data: Buffer.alloc(16, 2), mf: true }, 9, 2)).toBeNull();
    expect(w.get('frag_overlap')).toBe(1);
    expect(add(6, { off: 24, data: Buffer.alloc(8, 3), mf: false }, 9, 3)).toBeNull();
    expect(add(6, { off: 16, data: Buffer.alloc(8, 3), mf: true }, 9, 3)).toBeNull();
    expect(d.pending).toBe(1);
    expect(d.bufferedBytes).toBe(0);
    expect(d.expire(40)).toBe(1);
    expect(w.get('frag_timeout')).toBe(0); // a dropped datagram does not time out again
    // Once expired, the same id reassembles normally.
    const p = payload(64);
    add(6, { off: 0, data: p.subarray(0, 32), mf: true }, 9, 41);
    expect(add(6, { off: 32, data: p.subarray(32), mf: false }, 9, 41)!.equals(p)).toBe(true);
  });

  it('times out incomplete datagrams by capture time, on add and via expire()', () => {
    const { w, d, add } = setup({ timeoutSec: 30 });
    const p = payload(100);
    add(4, { off: 0, data: p.subarray(0, 48), mf: true }, 1, 1000);
    add(4, { off: 0, data: p.subarray(0, 48), mf: true }, 2, 1020);
    expect(d.expire(1030)).toBe(0);
    expect(d.expire(1031)).toBe(1);
    expect(w.get('frag_timeout')).toBe(1);
    // Lazily on add: the fragment of id 2 at 1051 is too late for its first fragment at 1020.
    expect(add(4, { off: 48, data: p.subarray(48), mf: false }, 2, 1051)).toBeNull();
    expect(w.get('frag_timeout')).toBe(2);
    expect(d.pending).toBe(1); // the late last fragment waits alone
    d.flush();
    expect(d.pending).toBe(0);
    expect(w.get('frag_timeout')).toBe(3);
  });

  it('drops the oldest datagram when the table is full', () => {
    const { w, d, add } = setup({ maxDatagrams: 2 });
    const p = payload(64);
    for (const id of [1, 2, 3]) add(4, { off: 0, data: p.subarray(0, 32), mf: true }, id, id);
    expect(w.get('frag_table_full')).toBe(1);
    expect(d.pending).toBe(2);
    expect(add(4, { off: 32, data: p.subarray(32), mf: false }, 1, 5)).toBeNull(); // id 1 was dropped
    expect(add(4, { off: 32, data: p.subarray(32), mf: false }, 3, 5)!.equals(p)).toBe(true);
  });

  it('bounds the total bytes held', () => {
    const { w, d, add } = setup({ maxTotalBytes: 100 });
    const p = payload(200);
    add(4, { off: 0, data: p.subarray(0, 80), mf: true }, 1);
    expect(d.bufferedBytes).toBe(80);
    add(4, { off: 0, data: p.subarray(0, 40), mf: true }, 2);
    expect(w.get('frag_table_full')).toBe(1);
    expect(d.bufferedBytes).toBe(40);
    expect(d.pending).toBe(1);
    // A single datagram larger than the whole budget cannot be held.
    expect(add(4, { off: 40, data: p.subarray(40, 160), mf: true }, 2)).toBeNull();
    expect(w.get('frag_table_full')).toBe(2);
    expect(d.bufferedBytes).toBe(40);
  });

  it('rejects datagrams larger than 65535 bytes and swallows their fragments', () => {
    const { w, d, add } = setup();
    expect(add(4, { off: 0, data: payload(1480), mf: true }, 5)).toBeNull();
    expect(add(4, { off: 65528, data: payload(16), mf: false }, 5)).toBeNull();
    expect(w.get('frag_too_large')).toBe(1);
    expect(d.bufferedBytes).toBe(0);
    expect(add(4, { off: 1480, data: payload(1480), mf: true }, 5)).toBeNull();
    expect(d.pending).toBe(1);
  });

  it('gives up on inconsistent total lengths', () => {
    const { w, add } = setup();
    add(4, { off: 16, data: payload(8), mf: false }, 8);
    expect(add(4, { off: 16, data: payload(16), mf: false }, 8)).toBeNull();
    expect(w.get('frag_inconsistent')).toBe(1);
    expect(add(4, { off: 0, data: payload(16), mf: true }, 8)).toBeNull();
  });

  it('keeps datagrams with different keys apart', () => {
    const { add } = setup();
    const p1 = payload(64, 1);
    const p2 = payload(64, 2);
    const p3 = payload(64, 3);
    const other = addr('192.0.2.99');
    add(4, { off: 0, data: p1.subarray(0, 32), mf: true }, 7);
    add(4, { off: 0, data: p2.subarray(0, 32), mf: true }, 7, 0, other);
    add(4, { off: 0, data: p3.subarray(0, 32), mf: true }, 7, 0, V4S, 6);
    expect(add(4, { off: 32, data: p3.subarray(32), mf: false }, 7, 0, V4S, 6)!.equals(p3)).toBe(true);
    expect(add(4, { off: 32, data: p2.subarray(32), mf: false }, 7, 0, other)!.equals(p2)).toBe(true);
    expect(add(4, { off: 32, data: p1.subarray(32), mf: false }, 7)!.equals(p1)).toBe(true);
  });

  it('returns an atomic fragment at once, as a copy', () => {
    const { d, add } = setup();
    const p = payload(40);
    const out = add(6, { off: 0, data: p, mf: false })!;
    expect(out.equals(p)).toBe(true);
    p[0] = (p[0]! + 1) & 255;
    expect(out.equals(p)).toBe(false);
    expect(d.pending).toBe(0);
  });

  it('never throws on a bad range', () => {
    const { w, d } = setup();
    const b = Buffer.alloc(10);
    expect(d.add(4, V4S, V4D, 17, 1, 0, true, b, 8, 10, 0)).toBeNull();
    expect(d.add(4, V4S, V4D, 17, 1, -8, true, b, 0, 8, 0)).toBeNull();
    expect(w.get('frag_bad_range')).toBe(2);
  });
});
