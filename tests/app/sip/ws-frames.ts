/** Test helper: build RFC 6455 frames (§5.2) for the WebSocket and framer tests. */
export function wsFrame(
  opcode: number,
  payload: Buffer | string,
  opts: { fin?: boolean; mask?: number[]; rsv?: number; lenBits?: 7 | 16 | 64 } = {},
): Buffer {
  const p = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
  const fin = opts.fin ?? true;
  const bits = opts.lenBits ?? (p.length < 126 ? 7 : p.length < 65536 ? 16 : 64);
  const head: number[] = [(fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode];
  const maskBit = opts.mask ? 0x80 : 0;
  if (bits === 7) head.push(maskBit | p.length);
  else if (bits === 16) head.push(maskBit | 126, p.length >> 8, p.length & 0xff);
  else {
    head.push(maskBit | 127, 0, 0, 0, 0);
    head.push((p.length >>> 24) & 0xff, (p.length >>> 16) & 0xff, (p.length >>> 8) & 0xff, p.length & 0xff);
  }
  let body = Buffer.from(p);
  if (opts.mask) {
    head.push(...opts.mask);
    body = Buffer.from(p.map((b, i) => b ^ opts.mask![i & 3]));
  }
  return Buffer.concat([Buffer.from(head), body]);
}
