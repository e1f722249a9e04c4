/**
 * Unsigned reads in either byte order, for capture file headers whose order
 * is set per file (pcap magic) or per section (pcapng byte-order magic).
 * Manual shifts instead of Buffer#readUInt32LE/BE: no bounds-check throw
 * (callers have already checked lengths), and one function V8 inlines for
 * both orders so the readers need no duplicated loops.
 */

export function readU32(b: Buffer, p: number, le: boolean): number {
  return le
    ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16)) + b[p + 3] * 0x1000000
    : b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}

export function readU16(b: Buffer, p: number, le: boolean): number {
  return le ? b[p] | (b[p + 1] << 8) : (b[p] << 8) | b[p + 1];
}
