import { describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';
import {
  TCP_FIN,
  TCP_RST,
  TCP_SYN,
  TcpFlowState,
  tcpFlush,
  tcpPush,
  type TcpReassemblyLimits,
} from '../../sensor/src/flow/tcp-reassembly.js';

const ACK = 0x10;
const PSH = 0x08;

/** Collects the delivered stream per direction; a gap shows as "|". */
class Sink {
  readonly out: [string, string] = ['', ''];
  readonly buffers: Buffer[] = [];
  readonly deliver = (dir: 0 | 1, data: Buffer, off: number, len: number): void => {
    this.buffers.push(data);
    this.out[dir] += len === 0 ? '|' : data.toString('latin1', off, off + len);
  };
}

function setup(limits?: TcpReassemblyLimits) {
  const st = new TcpFlowState(limits);
  const w = new WeirdCounters();
  const sink = new Sink();
  const push = (dir: 0 | 1, seq: number, text: string, flags = ACK | PSH, ts = -1, pad = 0): Buffer => {
    // The payload sits inside a larger "frame" to check that offsets are honoured.
    const frame = Buffer.alloc(pad + text.length + 3, 0x5a);
    frame.write(text, pad, 'latin1');
    tcpPush(st, dir, seq >>> 0, flags, frame, pad, text.length, sink.deliver, w, ts);
    return frame;
  };
  return { st, w, sink, push };
}

const SIP1 = 'INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/TCP 10.0.0.1\r\nContent-Length: 0\r\n\r\n';
const SIP2 = 'SIP/2.0 100 Trying\r\nVia: SIP/2.0/TCP 10.0.0.1\r\nContent-Length: 0\r\n\r\n';
const SIP3 = 'SIP/2.0 180 Ringing\r\nContent-Length: 0\r\n\r\n';

describe('tcpPush', () => {
  it('delivers in-order data after the SYN without copying', () => {
    const { st, w, sink, push } = setup();
    push(0, 1000, '', TCP_SYN);
    const f1 = push(0, 1001, 'INVITE ', ACK, -1, 54);
    push(0, 1008, 'sip:bob SIP/2.0\r\n', ACK, -1, 54);
    expect(sink.out[0]).toBe('INVITE sip:bob SIP/2.0\r\n');
    expect(sink.buffers[0]).toBe(f1); // the caller's buffer itself, not a copy
    expect(st.dir[0].nextSeq).toBe(1001 + 24);
    expect(st.dir[0].delivered).toBe(24);
    expect(w.total()).toBe(0);
  });

  it('holds out-of-order segments until the hole fills', () => {
    const { st, w, sink, push } = setup();
    push(0, 0, '', TCP_SYN);
    push(0, 11, 'world', ACK);
    push(0, 21, '!', ACK);
    expect(sink.out[0]).toBe('');
    expect(st.dir[0].bufferedSegments).toBe(2);
    push(0, 1, 'hello ', ACK);
    expect(sink.out[0]).toBe('hello ');
    push(0, 7, 'big ', ACK);
    expect(sink.out[0]).toBe('hello big world');
    push(0, 16, 'xxxxx', ACK);
    expect(sink.out[0]).toBe('hello big worldxxxxx!');
    expect(st.dir[0].bufferedSegments).toBe(0);
    expect(st.dir[0].bufferedBytes).toBe(0);
    expect(w.total()).toBe(0);
  });

  it('counts full retransmissions and delivers them once', () => {
    const { w, sink, push } = setup();
    push(0, 500, '', TCP_SYN);
    push(0, 501, SIP1);
    push(0, 501, SIP1);
    push(0, 501, SIP1.slice(0, 10));
    expect(sink.out[0]).toBe(SIP1);
    expect(w.get('tcp_retransmission')).toBe(2);
    // A retransmitted out-of-order segment is also recognised.
    push(0, 501 + SIP1.length + 5, 'abc');
    push(0, 501 + SIP1.length + 5, 'abc');
    expect(w.get('tcp_retransmission')).toBe(3);
  });

  it('trims overlaps with delivered and with buffered data', () => {
    const { w, sink, push } = setup();
    push(0, 99, '', TCP_SYN);
    push(0, 100, '0123456789');
    push(0, 105, '56789ABCDE'); // half old, half new
    expect(sink.out[0]).toBe('0123456789ABCDE');
    // Buffered segments overlapping each other: [120,130) and [125,135), then fill [115,120).
    push(0, 120, 'KLMNOPQRST');
    push(0, 125, 'PQRSTUVWXY');
    push(0, 115, 'FGHIJ');
    expect(sink.out[0]).toBe('0123456789ABCDEFGHIJKLMNOPQRSTUVWXY');
    expect(w.get('tcp_gap')).toBe(0);
  });

  it('reassembles one SIP message sent in many segments, shuffled', () => {
    const { sink, push } = setup();
    const isn = 0x12345678;
    push(1, isn, '', TCP_SYN | ACK);
    const msg = SIP1 + SIP2;
    const segs: [number, string][] = [];
    for (let i = 0; i < msg.length; i += 7) segs.push([isn + 1 + i, msg.slice(i, i + 7)]);
    // Swap neighbours pairwise (bounded disorder, as on a real path).
    for (let i = 0; i + 1 < segs.length; i += 2) [segs[i], segs[i + 1]] = [segs[i + 1]!, segs[i]!];
    for (const [seq, text] of segs) push(1, seq, text);
    expect(sink.out[1]).toBe(msg);
    expect(sink.out[0]).toBe('');
  });

  it('passes several messages in one segment through unchanged', () => {
    const { sink, push } = setup();
    push(0, 7, SIP1 + SIP2 + SIP3);
    expect(sink.out[0]).toBe(SIP1 + SIP2 + SIP3);
    expect(sink.buffers.length).toBe(1);
  });

  it('skips a persistent gap when the segment limit is exceeded', () => {
    const { st, w, sink, push } = setup({ maxSegments: 3 });
    push(0, 0, '', TCP_SYN);
    push(0, 1, SIP1);
    let seq = 1 + SIP1.length;
    seq += SIP2.length; // SIP2 is lost on the mirror port
    const parts = ['SIP/2.0 ', '180 Ringing\r\n', 'Content-Length: 0\r\n', '\r\n'];
    for (const p of parts) {
      push(0, seq, p);
      seq += p.length;
    }
    expect(w.get('tcp_reassembly_overflow')).toBe(1);
    expect(w.get('tcp_gap')).toBe(1);
    expect(sink.out[0]).toBe(SIP1 + '|' + SIP3);
    expect(st.dir[0].gaps).toBe(1);
    // The stream continues normally after the gap.
    push(0, seq, 'BYE');
    expect(sink.out[0]).toBe(SIP1 + '|' + SIP3 + 'BYE');
    // A late retransmission of the lost bytes is now old data.
    push(0, 1 + SIP1.length, SIP2);
    expect(w.get('tcp_retransmission')).toBe(1);
  });

  it('skips a gap when the byte limit is exceeded, keeping later holes', () => {
    const { st, w, sink, push } = setup({ maxBytes: 20 });
    push(0, 0, '', TCP_SYN);
    push(0, 11, 'AAAAAAAAAA'); // hole [1,11)
    push(0, 31, 'CCCCCCCCCC'); // hole [21,31)
    expect(w.get('tcp_gap')).toBe(0);
    push(0, 41, 'DDDDD'); // 25 bytes buffered > 20
    expect(w.get('tcp_reassembly_overflow')).toBe(1);
    expect(w.get('tcp_gap')).toBe(1);
    expect(sink.out[0]).toBe('|AAAAAAAAAA');
    expect(st.dir[0].bufferedBytes).toBe(15);
    push(0, 21, 'BBBBBBBBBB');
    expect(sink.out[0]).toBe('|AAAAAAAAAABBBBBBBBBBCCCCCCCCCCDDDDD');
  });

  it('skips a hole older than the hole timeout when capture times are given', () => {
    const { w, sink, push } = setup({ holeTimeoutSec: 2 });
    push(0, 0, '', TCP_SYN, 10);
    push(0, 1, 'one ', ACK, 10);
    push(0, 9, 'three', ACK, 10.5); // 'two ' [5,9) lost
    push(0, 14, ' four', ACK, 12.0);
    expect(sink.out[0]).toBe('one ');
    push(0, 0, '', ACK, 12.6); // a pure ACK later than the timeout
    expect(sink.out[0]).toBe('one |three four');
    expect(w.get('tcp_gap')).toBe(1);
  });

  it('handles sequence numbers wrapping at 2^32', () => {
    const { st, w, sink, push } = setup();
    const isn = 0xfffffff0;
    push(0, isn, '', TCP_SYN);
    push(0, 0xfffffff1, '0123456789'); // up to 0xfffffffa
    push(0, 0x00000005, 'KLMNO'); // out of order, after the wrap
    push(0, 0xfffffffb, 'ABCDEFGHIJ'); // crosses the wrap: 0xfffffffb .. 0x00000004
    expect(sink.out[0]).toBe('0123456789ABCDEFGHIJKLMNO');
    expect(st.dir[0].nextSeq).toBe(0x0000000a);
    push(0, 0xfffffff8, '89AB'); // old data from before the wrap
    expect(w.get('tcp_retransmission')).toBe(1);
    expect(w.get('tcp_seq_jump')).toBe(0);
  });

  it('picks up a stream mid-way without a SYN', () => {
    const { st, w, sink, push } = setup();
    push(1, 0x80000000, SIP2);
    expect(sink.out[1]).toBe(SIP2);
    expect(st.dir[1].synced).toBe(true);
    push(1, 0x80000000 - 10, 'earlier...'); // before the pickup point: treated as old
    expect(sink.out[1]).toBe(SIP2);
    expect(w.get('tcp_retransmission')).toBe(1);
    push(1, 0x80000000 + SIP2.length, SIP3);
    expect(sink.out[1]).toBe(SIP2 + SIP3);
  });

  it('keeps the two directions independent', () => {
    const { sink, push } = setup();
    push(0, 100, '', TCP_SYN);
    push(1, 900, '', TCP_SYN | ACK);
    push(0, 101, 'req');
    push(1, 905, 'late');
    push(1, 901, 'resp');
    expect(sink.out).toEqual(['req', 'resplate']);
  });

  it('marks a direction closed on FIN or RST and restarts on a new SYN', () => {
    const { st, sink, push } = setup();
    push(0, 100, '', TCP_SYN);
    push(0, 101, 'abc', ACK | TCP_FIN);
    expect(st.dir[0].closed).toBe(true);
    push(1, 5, 'x', TCP_RST);
    expect(st.dir[1].closed).toBe(true);
    // Port reuse: a new SYN with another ISN starts afresh.
    push(0, 7000, '', TCP_SYN);
    expect(st.dir[0].closed).toBe(false);
    push(0, 7001, 'def');
    expect(sink.out[0]).toBe('abcdef');
    // A retransmitted SYN does not reset anything.
    push(0, 7000, '', TCP_SYN);
    expect(st.dir[0].nextSeq).toBe(7004);
  });

  it('resynchronises on a sequence jump far beyond the window', () => {
    const { w, sink, push } = setup();
    push(0, 1000, 'aaa');
    push(0, 1000 + 50_000_000, 'bbb');
    expect(w.get('tcp_seq_jump')).toBe(1);
    expect(sink.out[0]).toBe('aaa|bbb');
  });

  it('tcpFlush delivers data stuck behind holes at flow end', () => {
    const { st, w, sink, push } = setup();
    push(0, 0, '', TCP_SYN);
    push(0, 5, 'BBBB');
    push(0, 12, 'CC');
    push(1, 40, 'x');
    tcpFlush(st, sink.deliver, w);
    expect(sink.out[0]).toBe('|BBBB|CC');
    expect(w.get('tcp_gap')).toBe(2);
    expect(st.dir[0].bufferedSegments).toBe(0);
  });

  it('never throws on odd input (zero length, huge seq, flags only)', () => {
    const { w, push } = setup();
    expect(() => {
      push(0, 0xffffffff, '', 0xff);
      push(0, 0, '');
      push(1, -5, 'neg');
      push(1, 2 ** 40, 'big');
    }).not.toThrow();
    expect(w.total()).toBeGreaterThanOrEqual(0);
  });
});
