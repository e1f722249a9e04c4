/**
 * Finds secret bytes in text output in the encodings a careless serialiser
 * would use: raw text, hex (lower and upper case), and base64 / base64url at
 * each of the three byte alignments (a secret embedded in a longer encoded
 * blob only shows the base64 characters that depend on its own bytes, and
 * which characters those are depends on its offset modulo 3; RFC 4648 §4-5).
 */

export interface SecretForm {
  /** Which secret and which encoding, for the failure message. */
  name: string;
  text: string;
}

/** Base64 characters that depend only on `bytes` when they sit at offset ≡ shift (mod 3) of a longer blob. */
function base64Core(bytes: Buffer, shift: number, url: boolean): string {
  const enc = Buffer.concat([Buffer.alloc(shift), bytes]).toString(url ? 'base64url' : 'base64');
  // Character k covers bits [6k, 6k + 6); the secret covers bits [8 * shift, 8 * (shift + n)).
  const first = Math.ceil((8 * shift) / 6);
  const last = Math.floor((8 * (shift + bytes.length)) / 6) - 1;
  return enc.slice(first, last + 1);
}

/** Every encoded form of `bytes` worth searching for (forms shorter than 8 characters are too weak to mean anything and are dropped). */
export function secretForms(name: string, bytes: Buffer): SecretForm[] {
  const out: SecretForm[] = [];
  const add = (kind: string, text: string): void => {
    if (text.length >= 8 && !out.some((f) => f.text === text)) out.push({ name: `${name} (${kind})`, text });
  };
  const raw = bytes.toString('latin1');
  add('raw', raw);
  // A binary secret inside a JSON string shows its control bytes as \u00XX escapes.
  add('raw, JSON-escaped', JSON.stringify(raw).slice(1, -1));
  add('hex', bytes.toString('hex'));
  add('HEX', bytes.toString('hex').toUpperCase());
  for (let shift = 0; shift < 3; shift++) {
    add(`base64@${shift}`, base64Core(bytes, shift, false));
    add(`base64url@${shift}`, base64Core(bytes, shift, true));
  }
  // The full, padded encodings too (a whole key printed on its own).
  add('base64 whole', bytes.toString('base64'));
  return out;
}

/**
 * Forms of a marker given as text: the text itself and its encodings, plus,
 * when the text is itself an encoding (hex, or base64 as SDES inline keys
 * are), the forms of the bytes it encodes.
 */
export function markerForms(name: string, marker: string): SecretForm[] {
  const forms = secretForms(name, Buffer.from(marker, 'latin1'));
  const seen = new Set(forms.map((f) => f.text));
  const more: SecretForm[] = [];
  if (/^(?:[0-9a-fA-F]{2})+$/.test(marker)) more.push(...secretForms(`${name} as hex bytes`, Buffer.from(marker, 'hex')));
  if (marker.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(marker)) {
    const bytes = Buffer.from(marker, 'base64');
    more.push(...secretForms(`${name} as base64 bytes`, bytes));
    // RFC 4568 §6.1: key||salt; the 16-byte master key alone is also secret.
    if (bytes.length === 30) more.push(...secretForms(`${name} master key`, bytes.subarray(0, 16)));
  }
  for (const f of more) if (!seen.has(f.text)) (seen.add(f.text), forms.push(f));
  return forms;
}

/** Names of the forms that occur in `text` (case-sensitive; hex is searched in both cases by its two forms). */
export function findLeaks(text: string, forms: SecretForm[]): string[] {
  const hits: string[] = [];
  for (const f of forms) if (text.includes(f.text)) hits.push(f.name);
  return hits;
}
