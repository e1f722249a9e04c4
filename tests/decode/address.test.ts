import { describe, expect, it } from 'vitest';
import { formatAddr, parseAddr } from '../../sensor/src/decode/address.js';

/** The regex-based IPv4 parse that parseAddr's hand-written fast path replaced (the reference). */
function referenceV4(text: string, out: Uint32Array): number | 'not-v4' {
  out.fill(0);
  const s = text.trim();
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(s)) return 'not-v4';
  const p = s.split('.').map(Number);
  if (p.some((x) => x > 255)) return 0;
  out[0] = ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
  return 4;
}

describe('parseAddr', () => {
  it('parses IPv4 exactly like the dotted-quad regex it replaced', () => {
    const cases = [
      '1.2.3.4', ' 1.2.3.4', '1.2.3.4 ', '\u00a010.0.0.1\t', '255.255.255.255', '0.0.0.0', '256.1.1.1', '1.2.3.256',
      '1.2.3', '1.2.3.4.5', '01.002.003.004', '1..2.3', '.1.2.3', '1.2.3.', '1234.1.1.1', 'a.b.c.d', '', ' ',
      '1.2.3.4\n', '999.999.999.999', '1.2.3.4a', '\u0661.2.3.4', '1.2.3.-4', '+1.2.3.4',
    ];
    // Pseudo-random dotted strings: 1-6 groups of 1-4 digits.
    for (let i = 0; i < 5000; i++) {
      const groups = Array.from({ length: 1 + (i % 6) }, (_, k) => String((i * 7919 + k * 104729) % 1300).slice(0, 1 + ((i + k) % 4)));
      cases.push(groups.join(i % 7 === 0 ? '..' : '.'));
    }
    for (const c of cases) {
      const want = new Uint32Array(4);
      const got = new Uint32Array([9, 9, 9, 9]);
      const ref = referenceV4(c, want);
      const v = parseAddr(c, got);
      if (ref === 'not-v4') expect(v, c).not.toBe(4);
      else expect([v, [...got]], c).toEqual([ref, [...want]]);
    }
  });

  it('still parses IPv6 (compressed, bracketed, zone, embedded IPv4) and round-trips with formatAddr', () => {
    const w = new Uint32Array(4);
    expect(parseAddr('2001:db8::1', w)).toBe(6);
    expect(formatAddr(6, w)).toBe('2001:db8::1');
    expect(parseAddr('[fe80::1%eth0]', w)).toBe(6);
    expect(formatAddr(6, w)).toBe('fe80::1');
    expect(parseAddr('::ffff:192.0.2.1', w)).toBe(6);
    expect([...w]).toEqual([0, 0, 0xffff, 0xc0000201]);
    expect(parseAddr('1:2:3', w)).toBe(0);
    expect([...w]).toEqual([0, 0, 0, 0]);
  });
});
