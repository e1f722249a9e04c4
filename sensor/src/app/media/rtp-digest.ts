/**
 * 32-bit digests of RTP packets for copy detection. A covert copy made by
 * NAT, TEE, nft dup or a tunnel is byte-identical from the RTP header on
 * (PROTOCOLS.md), so equal digests on two deliveries mark the same packet.
 *
 * Cost matters (every RTP packet): the digest mixes the 12-byte fixed header,
 * the length and up to 8 words from each end of the payload with murmur3's
 * mixer, about 20 reads, no allocation. Collisions between different packets
 * are harmless: detectors also require SSRC, sequence and timestamp to agree.
 */
import { murmurFinal, murmurMix } from '../../util/murmur3.js';

function word(buf: Buffer, i: number): number {
  return (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
}

/** Digest of bytes [off, off+len): both ends sampled, length included. */
export function sampledDigest(buf: Buffer, off: number, len: number, seed: number): number {
  let h = seed ^ len;
  const end = off + len;
  const head = Math.min(len >>> 2, 8);
  for (let i = 0; i < head; i++) h = murmurMix(h, word(buf, off + 4 * i));
  if (len > 64) for (let i = 1; i <= 8; i++) h = murmurMix(h, word(buf, end - 4 * i));
  for (let i = off + (head << 2); i < off + len && i < off + (head << 2) + 3; i++) h = murmurMix(h, buf[i]!);
  return murmurFinal(h);
}

/** Digest of a whole RTP packet (header + payload). */
export function rtpDigest(buf: Buffer, off: number, len: number): number {
  return sampledDigest(buf, off, len, 0x7a9);
}
