/**
 * The two steps of MurmurHash3's 32-bit variant (Austin Appleby, public
 * domain), shared by every hash table key and digest in the sensor: flow keys,
 * fragment keys, RTP packet digests, stream fingerprints and shard choice.
 * Small enough that V8 inlines them at each call site; no allocation.
 */

/** Mixes one 32-bit word k into the running state h (murmur3_32's block step). */
export function murmurMix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** murmur3_32's finaliser: every input bit reaches every output bit. Unsigned result. */
export function murmurFinal(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
