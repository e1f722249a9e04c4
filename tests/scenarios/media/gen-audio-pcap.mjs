// Writes a small pcap of G.711 A-law RTP (RFC 3550, RFC 3551 PT 8) that
// sipp's <exec play_pcap_audio> replays: sipp only uses each packet's UDP
// payload and pcap timestamp, so the Ethernet/IP/UDP addresses here are
// placeholders. With --srtp-key the payload is protected with real SRTP
// (RFC 3711 AES_CM_128_HMAC_SHA1_80: key derivation §4.3, AES-CM §4.1.1,
// HMAC-SHA1 auth tag §4.2), so a capture whose SDP carries that inline key
// has media that really decrypts with it.
// Usage: node gen-audio-pcap.mjs OUT --ssrc 0x1234 [--seq N] [--ts N]
//        [--seconds S] [--ptime MS] [--hz F] [--srtp-key BASE64(30 bytes)]
import { writeFileSync } from 'node:fs';
import { createCipheriv, createHmac } from 'node:crypto';

const argv = process.argv.slice(2);
const out = argv[0];
const opt = (name, dflt) => {
  const i = argv.indexOf('--' + name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const ssrc = Number(opt('ssrc', '0x11223344')) >>> 0;
let seq = Number(opt('seq', '1000')) & 0xffff;
let ts = Number(opt('ts', '160000')) >>> 0;
const seconds = Number(opt('seconds', '5'));
const ptime = Number(opt('ptime', '20'));
const hz = Number(opt('hz', '440'));
const keyB64 = opt('srtp-key', '');
const samples = (8000 * ptime) / 1000;

// ITU-T G.711 A-law encoder (linear 16-bit in).
function alaw(pcm) {
  let sign = pcm >= 0 ? 0x80 : 0;
  if (pcm < 0) pcm = -pcm - 1;
  if (pcm > 32767) pcm = 32767;
  let exp = 7;
  for (let mask = 0x4000; (pcm & mask) === 0 && exp > 0; mask >>= 1) exp--;
  const mant = exp === 0 ? (pcm >> 4) & 0x0f : (pcm >> (exp + 3)) & 0x0f;
  return ((sign | (exp << 4) | mant) ^ 0x55) & 0xff;
}

// RFC 3711 §4.3.1 key derivation with kdr = 0: AES-CM of (salt ^ label<<48)<<16.
function derive(masterKey, masterSalt, label, len) {
  const iv = Buffer.alloc(16);
  masterSalt.copy(iv, 0);
  iv[7] ^= label;
  const c = createCipheriv('aes-128-ctr', masterKey, iv);
  return c.update(Buffer.alloc(len));
}
let srtp = null;
if (keyB64) {
  const km = Buffer.from(keyB64, 'base64');
  if (km.length !== 30) throw new Error('inline key must be 30 bytes (16 key + 14 salt)');
  const mk = km.subarray(0, 16), ms = km.subarray(16);
  srtp = { ek: derive(mk, ms, 0, 16), ak: derive(mk, ms, 1, 20), salt: derive(mk, ms, 2, 14), roc: 0 };
}
function protect(pkt) {
  // pkt: 12-byte RTP header + payload, no CSRC/extension.
  const idx = BigInt(srtp.roc) * 65536n + BigInt(pkt.readUInt16BE(2));
  const iv = Buffer.alloc(16);
  srtp.salt.copy(iv, 0);
  iv.writeUInt32BE((iv.readUInt32BE(4) ^ pkt.readUInt32BE(8)) >>> 0, 4);
  for (let i = 0; i < 6; i++) iv[8 + i] ^= Number((idx >> BigInt(8 * (5 - i))) & 0xffn);
  const c = createCipheriv('aes-128-ctr', srtp.ek, iv);
  const enc = Buffer.concat([pkt.subarray(0, 12), c.update(pkt.subarray(12))]);
  const roc = Buffer.alloc(4);
  roc.writeUInt32BE(srtp.roc);
  const tag = createHmac('sha1', srtp.ak).update(enc).update(roc).digest().subarray(0, 10);
  return Buffer.concat([enc, tag]);
}

const frames = [];
const gh = Buffer.alloc(24);
gh.writeUInt32LE(0xa1b2c3d4, 0); gh.writeUInt16LE(2, 4); gh.writeUInt16LE(4, 6);
gh.writeUInt32LE(65535, 16); gh.writeUInt32LE(1, 20);
frames.push(gh);
const n = Math.round((seconds * 1000) / ptime);
let phase = 0;
const t0 = 1700000000;
for (let k = 0; k < n; k++) {
  const rtp = Buffer.alloc(12 + samples);
  rtp[0] = 0x80; rtp[1] = 8 | (k === 0 ? 0x80 : 0);
  rtp.writeUInt16BE(seq, 2); rtp.writeUInt32BE(ts, 4); rtp.writeUInt32BE(ssrc, 8);
  for (let j = 0; j < samples; j++) {
    rtp[12 + j] = alaw(Math.round(8000 * Math.sin(phase)));
    phase += (2 * Math.PI * hz) / 8000;
  }
  const payload = srtp ? protect(rtp) : rtp;
  const udpLen = 8 + payload.length, ipLen = 20 + udpLen;
  const f = Buffer.alloc(14 + ipLen);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45; f.writeUInt16BE(ipLen, 16); f[22] = 64; f[23] = 17;
  Buffer.from([192, 0, 2, 1, 192, 0, 2, 2]).copy(f, 26);
  f.writeUInt16BE(4000, 34); f.writeUInt16BE(4002, 36); f.writeUInt16BE(udpLen, 38);
  payload.copy(f, 42);
  const us = k * ptime * 1000;
  const ph = Buffer.alloc(16);
  ph.writeUInt32LE(t0 + Math.floor(us / 1e6), 0); ph.writeUInt32LE(us % 1e6, 4);
  ph.writeUInt32LE(f.length, 8); ph.writeUInt32LE(f.length, 12);
  frames.push(ph, f);
  seq = (seq + 1) & 0xffff;
  if (seq === 0 && srtp) srtp.roc++;
  ts = (ts + samples) >>> 0;
}
writeFileSync(out, Buffer.concat(frames));
