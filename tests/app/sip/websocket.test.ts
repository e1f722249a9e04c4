import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import { WebSocketFramer } from '../../../sensor/src/app/sip/websocket.js';
import { wsFrame } from './ws-frames.js';

const MASK = [0x37, 0xfa, 0x21, 0x3d];

function run(chunks: Buffer[], framer = new WebSocketFramer(), w = new WeirdCounters()): string[] {
  const out: string[] = [];
  for (const c of chunks) framer.push(c, 0, c.length, (p) => out.push(p.toString('utf8')), w);
  return out;
}

describe('WebSocketFramer (RFC 6455)', () => {
  it('decodes the RFC 6455 §5.7 examples: unmasked and masked "Hello"', () => {
    expect(run([Buffer.from('810548656c6c6f', 'hex')])).toEqual(['Hello']);
    expect(run([Buffer.from('818537fa213d7f9f4d5158', 'hex')])).toEqual(['Hello']);
  });

  it('reassembles a fragmented message (§5.7 "Hel" + "lo") and ignores an interleaved ping', () => {
    const chunk = Buffer.concat([Buffer.from('010348656c', 'hex'), wsFrame(9, 'ping?'), Buffer.from('80026c6f', 'hex')]);
    expect(run([chunk])).toEqual(['Hello']);
  });

  it('unmasks into a copy and leaves the input untouched', () => {
    const f = wsFrame(1, 'OPTIONS sip:a@b SIP/2.0\r\n\r\n', { mask: MASK });
    const before = Buffer.from(f);
    let got: Buffer | undefined;
    new WebSocketFramer().push(f, 0, f.length, (p) => (got = p));
    expect(got!.toString()).toBe('OPTIONS sip:a@b SIP/2.0\r\n\r\n');
    expect(f.equals(before)).toBe(true);
  });

  it('handles 16-bit and 64-bit extended lengths, split byte by byte', () => {
    const big = Buffer.alloc(70000, 0x61);
    const mid = Buffer.alloc(300, 0x62);
    const stream = Buffer.concat([wsFrame(2, mid, { mask: MASK }), wsFrame(2, big, { lenBits: 64 }), wsFrame(1, 'x', { lenBits: 16 })]);
    const framer = new WebSocketFramer();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 997) {
      const n = Math.min(997, stream.length - i);
      framer.push(stream, i, n, (p) => out.push(p));
    }
    expect(out.map((b) => b.length)).toEqual([300, 70000, 1]);
    expect(out[0].every((b) => b === 0x62)).toBe(true);
    expect(out[1].every((b) => b === 0x61)).toBe(true);
    const byByte = run([...wsFrame(1, 'abc'.repeat(50), { mask: MASK })].map((b) => Buffer.from([b])));
    expect(byByte).toEqual(['abc'.repeat(50)]);
  });

  it('ignores control frames and marks close', () => {
    const framer = new WebSocketFramer();
    const w = new WeirdCounters();
    expect(run([wsFrame(10, ''), wsFrame(9, 'x', { mask: MASK }), wsFrame(8, Buffer.from([0x03, 0xe8]))], framer, w)).toEqual([]);
    expect(framer.closed).toBe(true);
    expect(w.total()).toBe(0);
  });

  it('counts weirds for bad frames and keeps going', () => {
    const w = new WeirdCounters();
    const out = run([
      Buffer.concat([
        wsFrame(3, 'reserved opcode'),
        wsFrame(0, 'orphan'),
        wsFrame(9, 'x', { fin: false }),
        wsFrame(1, 'deflated', { rsv: 4 }),
        wsFrame(1, 'ok'),
      ]),
    ], undefined, w);
    expect(out).toEqual(['ok']);
    expect(w.toJSON()).toEqual({
      websocket_unknown_opcode: 1, websocket_orphan_continuation: 1, websocket_bad_control_frame: 1, websocket_reserved_bits: 1,
    });
  });

  it('skips messages larger than the bound without buffering them', () => {
    const w = new WeirdCounters();
    const framer = new WebSocketFramer(1000);
    const huge = wsFrame(1, Buffer.alloc(5000, 0x41), { mask: MASK });
    const out = run([huge.subarray(0, 100), huge.subarray(100), wsFrame(1, 'after')], framer, w);
    expect(out).toEqual(['after']);
    expect(w.get('websocket_message_too_large')).toBe(1);
    // a fragmented message that grows too large is dropped whole
    const frags = [wsFrame(1, Buffer.alloc(600), { fin: false }), wsFrame(0, Buffer.alloc(600), { fin: false }), wsFrame(0, 'end'), wsFrame(2, 'next')];
    expect(run(frags, framer, w)).toEqual(['next']);
    expect(w.get('websocket_message_too_large')).toBe(2);
  });
});
