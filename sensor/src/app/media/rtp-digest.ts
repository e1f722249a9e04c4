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

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function word(buf: Buffer, i: number): number {
  return (buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!;
}

/** Digest of bytes [off, off+len): both ends sampled, length included. */
export function sampledDigest(buf: Buffer, off: number, len: number, seed: number): number {
  let h = seed ^ len;
  const end = off + len;
  const head = Math.min(len >>> 2, 8);
  for (let i = 0; i < head; i++) h = mix(h, word(buf, off + 4 * i));
  if (len > 64) for (let i = 1; i <= 8; i++) h = mix(h, word(buf, end - 4 * i));
  for (let i = off + (head << 2); i < off + len && i < off + (head << 2) + 3; i++) h = mix(h, buf[i]!);
  return fmix(h);
}

/** Digest of a whole RTP packet (header + payload). */
export function rtpDigest(buf: Buffer, off: number, len: number): number {
  return sampledDigest(buf, off, len, 0x7a9);
}
