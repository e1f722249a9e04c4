/**
 * Named counters for malformed or surprising input ("weirds", after Zeek).
 *
 * A decoder never throws on bad bytes: it calls `weird('truncated_ipv4')` and
 * returns. The names are the public vocabulary of `sensor_stats.decodeErrors`,
 * so keep them snake_case, stable, and specific about the layer.
 * Increments happen only on bad packets, so a Map is cheap enough here.
 */
export class WeirdCounters {
  private readonly counts = new Map<string, number>();

  weird(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  get(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  total(): number {
    let n = 0;
    for (const v of this.counts.values()) n += v;
    return n;
  }

  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of [...this.counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out[k] = v;
    return out;
  }
}
