/**
 * Address helpers used off the hot path (when an event or a flow is created).
 * Addresses live as four 32-bit words; see PacketRecord.
 */

export function formatAddr(version: number, w: ArrayLike<number>): string {
  if (version === 4) {
    const a = w[0]! >>> 0;
    return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
  }
  if (version === 6) {
    const parts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const x = w[i]! >>> 0;
      parts.push(((x >>> 16) & 0xffff).toString(16), (x & 0xffff).toString(16));
    }
    return compressV6(parts);
  }
  return '?';
}

/** RFC 5952 §4.2: compress the longest run (>= 2) of zero groups to "::". */
function compressV6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  const head = groups.slice(0, bestStart).join(':');
  const tail = groups.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** "ip:port" as tshark prints it in rtp,streams (IPv6 without brackets there; we bracket for unambiguity in events? No: match tshark). */
export function formatEndpoint(version: number, w: ArrayLike<number>, port: number): string {
  return `${formatAddr(version, w)}:${port}`;
}

/**
 * Dotted-quad IPv4 by hand: the value (0..2^32-1), -1 when the text is not
 * four groups of 1-3 ASCII digits, -2 when it is but a group exceeds 255.
 * Same acceptance as /^\d{1,3}(\.\d{1,3}){3}$/ plus the range check, without
 * the regex, split and map (SDP and SIP handling parse several addresses per
 * message; this is ~10x cheaper).
 */
function dottedQuad(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  let tooBig = false;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x30 && c <= 0x39) {
      if (++digits > 3) return -1;
      octet = octet * 10 + (c - 0x30);
    } else if (c === 0x2e) {
      if (digits === 0 || ++dots > 3) return -1;
      if (octet > 255) tooBig = true;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
    } else return -1;
  }
  if (digits === 0 || dots !== 3) return -1;
  if (octet > 255 || tooBig) return -2;
  return value * 256 + octet;
}

/** Parse a textual IPv4/IPv6 address into words. Returns the version (0 when unparsable). */
export function parseAddr(text: string, out: Uint32Array): number {
  out.fill(0);
  // trim() only when an end could be whitespace (ASCII control/space, or any non-ASCII).
  const n = text.length;
  const first = n > 0 ? text.charCodeAt(0) : 0;
  const last = n > 0 ? text.charCodeAt(n - 1) : 0;
  const s = first <= 0x20 || first >= 0x7f || last <= 0x20 || last >= 0x7f ? text.trim() : text;
  const q = dottedQuad(s);
  if (q === -2) return 0;
  if (q >= 0) {
    out[0] = q;
    return 4;
  }
  let v = s;
  if (v.startsWith('[') && v.endsWith(']')) v = v.slice(1, -1);
  const pct = v.indexOf('%');
  if (pct >= 0) v = v.slice(0, pct);
  if (!v.includes(':')) return 0;
  let groups: string[];
  const dbl = v.indexOf('::');
  let tailV4: number[] | null = null;
  const lastColon = v.lastIndexOf(':');
  const tail = v.slice(lastColon + 1);
  if (tail.includes('.')) {
    const p = tail.split('.').map(Number);
    if (p.length !== 4 || p.some((x) => !(x >= 0 && x <= 255))) return 0;
    tailV4 = p;
    v = v.slice(0, lastColon + 1) + '0:0';
  }
  if (dbl >= 0) {
    const left = v.slice(0, v.indexOf('::')).split(':').filter((x) => x.length);
    const right = v.slice(v.indexOf('::') + 2).split(':').filter((x) => x.length);
    const fill = 8 - left.length - right.length;
    if (fill < 0) return 0;
    groups = [...left, ...Array(fill).fill('0'), ...right];
  } else {
    groups = v.split(':');
  }
  if (groups.length !== 8) return 0;
  const nums = groups.map((g) => parseInt(g, 16));
  if (nums.some((n) => !(n >= 0 && n <= 0xffff))) return 0;
  if (tailV4) {
    nums[6] = (tailV4[0]! << 8) | tailV4[1]!;
    nums[7] = (tailV4[2]! << 8) | tailV4[3]!;
  }
  for (let i = 0; i < 4; i++) out[i] = ((nums[2 * i]! << 16) | nums[2 * i + 1]!) >>> 0;
  return 6;
}
