import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WeirdCounters } from '../../../sensor/src/decode/weird.js';
import {
  certificateFingerprint,
  DtlsCertificateAssembler,
  DtlsFacts,
  type DtlsVisitor,
  walkDtlsRecords,
} from '../../../sensor/src/app/media/dtls.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const u24 = (n: number) => Buffer.from([(n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
const u16 = (n: number) => Buffer.from([(n >>> 8) & 255, n & 255]);

function record(type: number, epoch: number, seq: number, body: Buffer, version = 0xfefd): Buffer {
  const h = Buffer.alloc(13);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(epoch, 3);
  h.writeUIntBE(seq, 5, 6);
  h.writeUInt16BE(body.length, 11);
  return Buffer.concat([h, body]);
}
function handshake(msgType: number, msgSeq: number, body: Buffer, fragOffset = 0, fragLength = body.length, totalLength = body.length): Buffer {
  return Buffer.concat([Buffer.from([msgType]), u24(totalLength), u16(msgSeq), u24(fragOffset), u24(fragLength), body.subarray(fragOffset, fragOffset + fragLength)]);
}
function certificateBody(der: Buffer): Buffer {
  return Buffer.concat([u24(der.length + 3), u24(der.length), der]);
}
function serverHello(extensions: Buffer): Buffer {
  return Buffer.concat([hex('fefd'), Buffer.alloc(32, 0x42), hex('00'), hex('c02b'), hex('00'), u16(extensions.length), extensions]);
}
const CLIENT_HELLO = handshake(1, 0, Buffer.concat([hex('fefd'), Buffer.alloc(32, 1), hex('00 00 0002 c02b 01 00')]));
// use_srtp (14) offering SRTP_AES128_CM_HMAC_SHA1_80 (0x0001), no MKI.
const SH_12 = handshake(2, 0, serverHello(hex('000e 0005 0002 0001 00')));
const SH_13 = handshake(2, 0, serverHello(hex('002b 0002 fefc')));

function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tapwatch-dtls-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A real self-signed certificate, and openssl's own SHA-256 fingerprint of it. */
function makeCertificate(): { der: Buffer; opensslFingerprint: string } {
  const key = path.join(tmp, 'k.pem');
  const crt = path.join(tmp, 'c.der');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', crt, '-outform', 'DER', '-subj', '/CN=tapwatch-test', '-days', '1'], { stdio: 'ignore' });
  const out = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', crt, '-noout', '-fingerprint', '-sha256'], { encoding: 'utf8' });
  return { der: fs.readFileSync(crt), opensslFingerprint: out.trim().split('=')[1]! };
}

describe('certificateFingerprint (RFC 8122 §5 format)', () => {
  it('uppercase colon-separated hex for the SDP hash names', () => {
    const blob = Buffer.from('not really DER, any bytes hash the same way');
    const sha256 = createHash('sha256').update(blob).digest('hex').toUpperCase();
    expect(certificateFingerprint(blob, 'sha-256')).toBe(sha256.match(/../g)!.join(':'));
    expect(certificateFingerprint(blob, 'SHA-1').split(':').length).toBe(20);
    expect(certificateFingerprint(blob, 'sha-512').split(':').length).toBe(64);
    expect(certificateFingerprint(blob, 'sha-3000')).toBe('');
  });
});

describe.skipIf(!haveOpenssl())('DTLS 1.2 Certificate with a real openssl certificate', () => {
  const { der, opensslFingerprint } = makeCertificate();
  const certMsg = handshake(11, 2, certificateBody(der));

  it('unfragmented: ServerHello + Certificate in one datagram, fingerprint = openssl x509 -fingerprint', () => {
    const dgram = Buffer.concat([record(22, 0, 1, SH_12), record(22, 0, 2, certMsg)]);
    const facts = new DtlsFacts();
    expect(walkDtlsRecords(dgram, 0, dgram.length, facts)).toBe(true);
    expect(facts.sawServerHello).toBe(true);
    expect(facts.sawDtls13).toBe(false);
    expect(facts.certificate).not.toBeNull();
    expect(facts.certificate!.equals(der)).toBe(true);
    expect(certificateFingerprint(facts.certificate!, 'sha-256')).toBe(opensslFingerprint);
  });

  it('the certificate copy survives reuse of the capture buffer', () => {
    const dgram = Buffer.concat([record(22, 0, 2, certMsg)]);
    const facts = new DtlsFacts();
    walkDtlsRecords(dgram, 0, dgram.length, facts);
    dgram.fill(0);
    expect(certificateFingerprint(facts.certificate!, 'sha-256')).toBe(opensslFingerprint);
  });

  it('fragmented across datagrams, out of order, with a retransmitted overlap', () => {
    const body = certificateBody(der);
    const n = body.length;
    const a = Math.floor(n / 3);
    const b = Math.floor((2 * n) / 3);
    const frag = (o: number, l: number, seq: number) => record(22, 0, seq, handshake(11, 2, body, o, l, n));
    const facts = new DtlsFacts();
    const order = [frag(b, n - b, 5), frag(0, a + 10, 3), frag(a - 5, 20, 6) /* overlap */, frag(a, b - a, 4)];
    for (let i = 0; i < order.length; i++) {
      const d = order[i]!;
      expect(facts.certificate, `before datagram ${i}`).toBeNull();
      expect(walkDtlsRecords(d, 0, d.length, facts)).toBe(true);
    }
    expect(facts.certificate).not.toBeNull();
    expect(certificateFingerprint(facts.certificate!, 'sha-256')).toBe(opensslFingerprint);
  });

  it('assembler: bounded, restarts on a new message_seq, refuses oversize', () => {
    const body = certificateBody(der);
    const asm = new DtlsCertificateAssembler(body.length);
    expect(asm.add(2, body.length, 0, 10, body, 0)).toBe(false);
    expect(asm.add(3, body.length, 0, body.length, body, 0)).toBe(true); // new seq: restart, then complete at once
    expect(asm.firstCertificate()).toBe(true);
    expect(asm.copyFirstCertificate().equals(der)).toBe(true);
    expect(asm.message().length).toBe(body.length);
    const small = new DtlsCertificateAssembler(100);
    expect(small.add(2, body.length, 0, 50, body, 0)).toBe(false);
    expect(small.oversize).toBe(true);
  });
});

describe('DTLS record walking', () => {
  it('reports records and handshake messages; ClientHello', () => {
    const seen: string[] = [];
    const v: DtlsVisitor = {
      onRecord: (t, ver, ep, hi, lo, _o, len) => seen.push(`rec ${t} ${ver.toString(16)} e${ep} s${hi}:${lo} ${len}`),
      onHandshake: (mt, len, ms, fo, fl) => seen.push(`hs ${mt} ${len} ${ms} ${fo}+${fl}`),
    };
    const d = Buffer.concat([record(22, 0, 0x1_0000_0001, CLIENT_HELLO, 0xfeff), record(20, 0, 7, hex('01')), record(22, 1, 0, Buffer.alloc(40, 0xaa))]);
    expect(walkDtlsRecords(d, 0, d.length, v)).toBe(true);
    expect(seen).toEqual([
      `rec 22 feff e0 s1:1 ${CLIENT_HELLO.length}`,
      `hs 1 ${CLIENT_HELLO.length - 12} 0 0+${CLIENT_HELLO.length - 12}`,
      'rec 20 fefd e0 s0:7 1',
      'rec 22 fefd e1 s0:0 40', // epoch 1 handshake (Finished) is encrypted: not parsed
    ]);
    const facts = new DtlsFacts();
    walkDtlsRecords(d, 0, d.length, facts);
    expect(facts.sawClientHello).toBe(true);
  });

  it('DTLS 1.3: supported_versions in ServerHello and unified-header records', () => {
    const f1 = new DtlsFacts();
    const d1 = record(22, 0, 1, SH_13);
    expect(walkDtlsRecords(d1, 0, d1.length, f1)).toBe(true);
    expect(f1.sawDtls13).toBe(true);
    // Unified header 0x2c = 001 0 1 1 00: no CID, 16-bit seq, length present.
    const f2 = new DtlsFacts();
    const uh = Buffer.concat([hex('2c 0001 0005'), Buffer.alloc(5, 0x99), hex('2c 0002 0003'), Buffer.alloc(3, 0x98)]);
    const offsets: number[] = [];
    expect(walkDtlsRecords(uh, 0, uh.length, { onCiphertextRecord: (_b, o, l) => offsets.push(o, l) })).toBe(true);
    expect(offsets).toEqual([0, 10, 10, 8]);
    walkDtlsRecords(uh, 0, uh.length, f2);
    expect(f2.sawDtls13).toBe(true);
    expect(f2.certificate).toBeNull();
  });

  it('rejects bad versions, content types and truncation with weirds, never throws', () => {
    const w = new WeirdCounters();
    const d = Buffer.concat([record(22, 0, 1, SH_12)]);
    for (let len = 0; len < d.length; len++) expect(walkDtlsRecords(d, 0, len, {}, w), `len ${len}`).toBe(false);
    const bad = record(22, 0, 1, SH_12, 0x0303); // TLS 1.2 version in a DTLS record
    expect(walkDtlsRecords(bad, 0, bad.length, {}, w)).toBe(false);
    expect(w.get('dtls_bad_version')).toBe(1);
    expect(walkDtlsRecords(hex('80 fefd'), 0, 2, {}, w)).toBe(false);
    expect(w.get('dtls_bad_content_type')).toBe(1);
  });

  it('a handshake fragment claiming more than its record is a weird, not a crash', () => {
    const w = new WeirdCounters();
    const hs = Buffer.concat([hex('0b 000100 0002 000000 000100'), Buffer.alloc(8)]); // fragment 256 in 20 bytes
    const d = record(22, 0, 1, hs);
    expect(walkDtlsRecords(d, 0, d.length, new DtlsFacts(), w)).toBe(true);
    expect(w.get('dtls_handshake_bad_length')).toBe(1);
  });

  it('random bytes never throw', () => {
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const facts = new DtlsFacts();
    for (let i = 0; i < 3000; i++) {
      const b = Buffer.alloc(13 + (i % 90));
      for (let j = 0; j < b.length; j++) b[j] = rnd();
      b[0] = 20 + (b[0]! % 44);
      b[1] = 0xfe;
      if (i % 2 === 0) {
        b[0] = 22;
        b[3] = 0;
        b[4] = 0;
      }
      walkDtlsRecords(b, 0, b.length, facts);
    }
  });
});
