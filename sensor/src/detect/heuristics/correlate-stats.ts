/**
 * Small allocation-free statistics for the `dup-correlated` heuristic:
 * in-place median (Hoare's quickselect, C.A.R. Hoare, "Algorithm 65: Find",
 * CACM 4(7), 1961), a robust standard deviation from the median absolute
 * deviation (MAD x 1.4826, consistent for a normal distribution), Pearson
 * correlation and a binomial upper tail in log space.
 *
 * Robust statistics matter here: one late packet (a scheduler hiccup, a
 * talk-spurt gap) must not decide whether two streams share a timing
 * fingerprint.
 */

/** Median of a[0..n) (reorders a). NaN for n = 0. */
export function medianInPlace(a: Float64Array, n: number): number {
  if (n <= 0) return NaN;
  const k = n >> 1;
  const hi = select(a, 0, n - 1, k);
  if (n & 1) return hi;
  // Even n: the lower middle is the maximum of a[0..k) after the partition.
  let lo = -Infinity;
  for (let i = 0; i < k; i++) if (a[i]! > lo) lo = a[i]!;
  return (lo + hi) / 2;
}

function select(a: Float64Array, left: number, right: number, k: number): number {
  while (right > left) {
    const pivot = a[(left + right) >> 1]!;
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k]!;
  }
  return a[k]!;
}

/** Robust standard deviation of a[0..n) around its median: 1.4826 x MAD (reorders a). */
export function robustStd(a: Float64Array, n: number): number {
  if (n < 2) return 0;
  const m = medianInPlace(a, n);
  for (let i = 0; i < n; i++) a[i] = Math.abs(a[i]! - m);
  return 1.4826 * medianInPlace(a, n);
}

/**
 * Pearson correlation of x[0..n) and y[0..n); NaN when either has no
 * variance. One pass over raw sums: the inputs are packet sizes (small
 * integers), for which the textbook cancellation problem does not arise.
 */
export function pearson(x: Float64Array, y: Float64Array, n: number): number {
  if (n < 3) return NaN;
  let sx = 0;
  let sy = 0;
  let sxx = 0;
  let syy = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    const a = x[i]!;
    const b = y[i]!;
    sx += a;
    sy += b;
    sxx += a * a;
    syy += b * b;
    sxy += a * b;
  }
  const vx = n * sxx - sx * sx;
  const vy = n * syy - sy * sy;
  if (vx <= 0 || vy <= 0) return NaN;
  return (n * sxy - sx * sy) / Math.sqrt(vx * vy);
}

/** Standard deviation of x[0..n) (population). */
export function stddev(x: Float64Array, n: number): number {
  if (n < 2) return 0;
  let s = 0;
  for (let i = 0; i < n; i++) s += x[i]!;
  const m = s / n;
  let v = 0;
  for (let i = 0; i < n; i++) {
    const d = x[i]! - m;
    v += d * d;
  }
  return Math.sqrt(v / n);
}

function logChoose(n: number, k: number): number {
  let s = 0;
  for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
  return s;
}

/** log10 P(X >= k) for X ~ Binomial(n, p). 0 when k <= 0; -Infinity when p = 0 and k > 0. */
export function log10BinomialTail(n: number, k: number, p: number): number {
  if (k <= 0) return 0;
  if (k > n) return -Infinity;
  if (p <= 0) return -Infinity;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  // Two passes (max, then the scaled sum) instead of storing the terms: nothing allocated.
  let max = -Infinity;
  for (let i = k; i <= n; i++) {
    const t = logChoose(n, i) + i * lp + (n - i) * lq;
    if (t > max) max = t;
  }
  let s = 0;
  for (let i = k; i <= n; i++) s += Math.exp(logChoose(n, i) + i * lp + (n - i) * lq - max);
  return Math.min(0, (max + Math.log(s)) / Math.LN10);
}
