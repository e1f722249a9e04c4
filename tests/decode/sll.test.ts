import { describe, expect, it } from 'vitest';
import { cat, decodeBytes, dst, eth, hex, ipv4, ipv6, src, udp } from './frames.js';

const v4 = () => ipv4(17, udp(5060, 5061, hex('01020304')), { src: '172.16.0.1' });
const v6 = () => ipv6(17, udp(5060, 5061, hex('01020304')));

describe('Linux cooked captures', () => {
  it('SLL: 16-byte header, protocol at 14', () => {
    const frame = cat(hex('0000' + '0001' + '0006' + '001122334455' + '0000' + '0800'), v4());
    const { rec, weirds } = decodeBytes(frame, 113);
    expect(weirds.total()).toBe(0);
    expect(src(rec)).toBe('172.16.0.1');
    expect(rec.ethOffset).toBe(-1);
    expect(rec.payloadOffset).toBe(16 + 20 + 8);
  });

  it('SLL2: 20-byte header, protocol at 0', () => {
    const frame = cat(hex('86dd' + '0000' + '00000002' + '0001' + '00' + '06' + '0011223344550000'), v6());
    const { rec, weirds } = decodeBytes(frame, 276);
    expect(weirds.total()).toBe(0);
    expect(rec.ipVersion).toBe(6);
    expect(dst(rec)).toBe('2001:db8::2');
  });

  it('SLL on an ARPHRD_IPGRE device: 0x6558 means an Ethernet frame follows', () => {
    const frame = cat(hex('0000' + '030a' + '0000' + '0000000000000000' + '6558'), eth(0x0800, v4()));
    const { rec } = decodeBytes(frame, 113);
    expect(rec.ipVersion).toBe(4);
    expect(rec.ethOffset).toBe(16);
  });

  it('counts truncated_sll and truncated_sll2', () => {
    expect(decodeBytes(Buffer.alloc(15), 113).weirds.get('truncated_sll')).toBe(1);
    expect(decodeBytes(Buffer.alloc(19), 276).weirds.get('truncated_sll2')).toBe(1);
  });
});

describe('raw IP, BSD NULL and LOOP link types', () => {
  it.each([101, 12, 14])('raw IP (link type %i) by version nibble', (lt) => {
    expect(decodeBytes(v4(), lt).rec.ipVersion).toBe(4);
    expect(decodeBytes(v6(), lt).rec.ipVersion).toBe(6);
  });

  it('LINKTYPE_IPV4 and LINKTYPE_IPV6', () => {
    expect(decodeBytes(v4(), 228).rec.srcPort).toBe(5060);
    expect(decodeBytes(v6(), 229).rec.srcPort).toBe(5060);
  });

  it('raw IP with a bad version nibble counts bad_ip_version', () => {
    expect(decodeBytes(hex('5500'), 101).weirds.get('bad_ip_version')).toBe(1);
  });

  it('NULL: family in either byte order; AF_INET6 as 24, 28 or 30', () => {
    expect(decodeBytes(cat(hex('02000000'), v4()), 0).rec.ipVersion).toBe(4);
    expect(decodeBytes(cat(hex('00000002'), v4()), 0).rec.ipVersion).toBe(4);
    for (const fam of ['18000000', '1c000000', '1e000000', '0000001e']) {
      expect(decodeBytes(cat(hex(fam), v6()), 0).rec.ipVersion).toBe(6);
    }
    expect(decodeBytes(cat(hex('07000000'), v4()), 0).weirds.get('unhandled_null_family')).toBe(1);
    expect(decodeBytes(hex('020000'), 0).weirds.get('truncated_null')).toBe(1);
  });

  it('LOOP: network byte order only', () => {
    expect(decodeBytes(cat(hex('00000002'), v4()), 108).rec.ipVersion).toBe(4);
    expect(decodeBytes(cat(hex('0000001c'), v6()), 108).rec.ipVersion).toBe(6);
    expect(decodeBytes(cat(hex('02000000'), v4()), 108).weirds.get('unhandled_loop_family')).toBe(1);
  });

  it('unknown link types are counted', () => {
    expect(decodeBytes(v4(), 105).weirds.get('unhandled_link_type')).toBe(1);
  });
});
