/**
 * Findings in plain words for a terminal: a headline a network engineer can
 * act on, then the key evidence. Shared by the text sink (live) and
 * `tapwatch explain` (full evidence).
 */
import type { FindingEvent, FindingUpdatedEvent } from '../events/types.js';

const TITLES: Record<FindingEvent['type'], string> = {
  duplicate_stream: 'DUPLICATE MEDIA',
  signaling_copy: 'SIGNALLING COPY',
  unexpected_relay: 'UNEXPECTED RELAY',
  key_exposure: 'KEY EXPOSURE',
  declared_recording: 'DECLARED RECORDING',
};

export function findingHeadline(f: FindingEvent): string {
  switch (f.type) {
    case 'duplicate_stream':
      return `media of call ${f.callId ?? '(no signalling seen)'}${f.ssrc !== null ? ` (ssrc 0x${hex8(f.ssrc)})` : ''} is also sent to ${f.copyTo} [${f.mode}${f.declared ? ', declared recorder' : ''}]`;
    case 'signaling_copy':
      return `SIP of call ${f.callId ?? '?'} is also delivered to ${f.copyTo}, which is not a hop of the dialog`;
    case 'unexpected_relay':
      return `media of call ${f.callId ?? '?'} passes through ${f.relay}, which no SDP negotiated (${f.reason.replace(/_/g, ' ')})`;
    case 'key_exposure':
      return `SRTP key (${f.suite}, hash ${f.keyHash}) sent in cleartext SIP on ${f.leg}${f.reusedOn.length ? `; same key also on ${f.reusedOn.join(', ')}` : ''}`;
    case 'declared_recording':
      return `call ${f.callId ?? '?'} is being recorded by ${f.recorder} (${f.kind}, declared in signalling)`;
  }
}

/** A few lines per finding, for the live text output. */
export function formatFindingShort(f: FindingEvent): string[] {
  const lines = [`${TITLES[f.type]} [${f.severity}, confidence ${f.confidence.toFixed(2)}] ${findingHeadline(f)}`];
  if (f.summary) lines.push(`    ${f.summary}`);
  if (f.allowlisted) lines.push(`    allowlisted by '${f.allowlisted.rule}': ${f.allowlisted.why}`);
  if (f.evidenceIncomplete) lines.push('    note: packets were dropped while this evidence was gathered; it may be incomplete');
  lines.push(`    heuristic ${f.heuristic.id} v${f.heuristic.version}; first seen ${iso(f.firstSeen)}, detected ${iso(f.detectedAt)} (+${(f.detectedAt - f.firstSeen).toFixed(3)} s); finding ${f.findingId}`);
  return lines;
}

export function formatFindingUpdate(u: FindingUpdatedEvent): string {
  return `UPDATE ${u.findingType} ${u.findingId}: ${u.severity}, confidence ${u.confidence.toFixed(2)} (update ${u.updates})`;
}

/** Everything, for `tapwatch explain`. */
export function formatFindingFull(f: FindingEvent): string {
  const out = formatFindingShort(f);
  out.push('', 'Evidence:');
  for (const [k, v] of Object.entries(f.evidence)) out.push(`  ${k.padEnd(22)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
  const extra: Record<string, unknown> = { ...f };
  for (const k of ['v', 'type', 'id', 'ts', 'sensor', 'findingId', 'severity', 'confidence', 'detectedAt', 'firstSeen', 'heuristic', 'allowlisted', 'evidenceIncomplete', 'summary', 'evidence']) delete extra[k];
  out.push('', 'Fields:');
  for (const [k, v] of Object.entries(extra)) out.push(`  ${k.padEnd(22)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`);
  out.push('', `Sensor ${f.sensor}, event ${f.id}. See docs/heuristics/${f.heuristic.id}.md for what this heuristic checks and its known false positives.`);
  return out.join('\n');
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

function iso(ts: number): string {
  return new Date(ts * 1000).toISOString();
}
