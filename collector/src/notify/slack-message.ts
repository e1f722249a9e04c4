/**
 * The Slack incoming-webhook payload for findings: `text` (the notification
 * and fallback text) plus Block Kit `blocks` with the same facts
 * (https://api.slack.com/messaging/webhooks, https://api.slack.com/reference/block-kit/blocks).
 *
 * Only named fields of a finding go into a message: type, severity, call id,
 * the parties (endpoints the evidence names), where the copy or relay goes,
 * the sensor and the one-line summary. Evidence is never copied wholesale, so
 * neither digests nor key hashes reach Slack (findings carry no payload or key
 * material in the first place; tests/collector/slack-notify.test.ts checks both).
 * Dynamic text is escaped as Slack's mrkdwn requires (&, <, >).
 */
import type { FindingEvent } from '../../../sensor/src/events/types.js';

export interface SlackLinks {
  /**
   * Dashboard link; `{sensor}`, `{callId}`, `{findingId}` and `{id}` are
   * replaced by the finding's (URL-encoded) values. Empty: no dashboard link.
   */
  dashboardUrl: string;
  /** The collector's public base URL (e.g. https://tapwatch.example.net); empty: the API path only. */
  apiBaseUrl: string;
}

export interface SlackPayload {
  text: string;
  blocks?: Array<Record<string, unknown>>;
}

const SEVERITY_ICON: Record<string, string> = { critical: ':rotating_light:', warning: ':warning:', info: ':information_source:' };

/** Slack mrkdwn control characters (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack's section text limit is 3000 characters; keep well inside it. */
const MAX_FIELD = 300;
const clip = (s: string): string => (s.length > MAX_FIELD ? `${s.slice(0, MAX_FIELD - 1)}…` : s);
/** A mrkdwn section block; Slack refuses section text over 3000 characters. */
const section = (text: string): Record<string, unknown> => ({ type: 'section', text: { type: 'mrkdwn', text: text.length > 3000 ? `${text.slice(0, 2999)}…` : text } });
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

/** The two ends of the call the evidence names, when it names them. */
export function partiesOf(f: FindingEvent): { from: string | null; to: string | null } {
  const e = f.evidence ?? {};
  return {
    from: str(e.from) ?? str(e.caller) ?? str(e.originalSrc) ?? null,
    to: str(e.to) ?? str(e.callee) ?? str(e.originalDst) ?? null,
  };
}

/** Where the copy goes, or the relay, recorder or exposed leg, by finding type. */
export function destinationOf(f: FindingEvent): { label: string; value: string } | null {
  switch (f.type) {
    case 'duplicate_stream':
      return { label: 'Copy destination', value: f.copyTo };
    case 'signaling_copy':
      return { label: 'Signalling copied to', value: f.copyTo };
    case 'unexpected_relay':
      return { label: 'Relay', value: `${f.relay} (${f.reason})` };
    case 'declared_recording':
      return { label: 'Recorder', value: `${f.recorder} (${f.kind})` };
    case 'key_exposure':
      return { label: 'Exposed on leg', value: f.leg };
    default:
      return null;
  }
}

function fill(template: string, f: FindingEvent): string {
  const values: Record<string, string> = { sensor: f.sensor, callId: f.callId ?? '', findingId: f.findingId, id: f.id };
  return template.replace(/\{(sensor|callId|findingId|id)\}/g, (_, k: string) => encodeURIComponent(values[k]!));
}

export function findingApiUrl(f: FindingEvent, links: SlackLinks): string {
  return `${links.apiBaseUrl.replace(/\/+$/, '')}/api/findings/${encodeURIComponent(f.id)}`;
}

/** One message for one finding. */
export function findingMessage(f: FindingEvent, links: SlackLinks): SlackPayload {
  const { from, to } = partiesOf(f);
  const dest = destinationOf(f);
  const headline = `${SEVERITY_ICON[f.severity] ?? ''} *${escapeMrkdwn(f.severity)}* \`${escapeMrkdwn(f.type)}\` on call ${f.callId ? `\`${escapeMrkdwn(clip(f.callId))}\`` : '(no call)'} — sensor \`${escapeMrkdwn(f.sensor)}\``;
  const lines: string[] = [headline, escapeMrkdwn(clip(f.summary))];
  if (from || to) lines.push(`*Parties:* ${escapeMrkdwn(clip(from ?? '?'))} → ${escapeMrkdwn(clip(to ?? '?'))}`);
  if (dest) lines.push(`*${dest.label}:* ${escapeMrkdwn(clip(dest.value))}`);
  lines.push(`*Sensor:* ${escapeMrkdwn(f.sensor)}   *Confidence:* ${Math.round(f.confidence * 100)}%${f.evidenceIncomplete ? '   _evidence incomplete (drops)_' : ''}`);
  const api = findingApiUrl(f, links);
  const linkParts: string[] = [];
  if (links.dashboardUrl) linkParts.push(`<${fill(links.dashboardUrl, f)}|Dashboard>`);
  linkParts.push(links.apiBaseUrl ? `<${api}|GET /api/findings/${escapeMrkdwn(f.id)}>` : `GET ${escapeMrkdwn(api)}`);
  lines.push(linkParts.join(' · '));
  const text = lines.join('\n');
  return { text, blocks: [section(text)] };
}

/** Most findings listed by name in one summary message. */
export const SUMMARY_LIST_MAX = 10;

/**
 * One message for the findings held back by the rate limit: "N more
 * findings", the first few by type, call and sensor, and where to see all.
 * `unlisted` counts findings not even kept in memory (queue overflow).
 */
export function summaryMessage(held: readonly FindingEvent[], unlisted: number, links: SlackLinks): SlackPayload {
  const n = held.length + unlisted;
  const lines = [`:bell: *${n} more finding${n === 1 ? '' : 's'}* (Slack rate limit reached; not sent one by one)`];
  for (const f of held.slice(0, SUMMARY_LIST_MAX)) {
    const dest = destinationOf(f);
    lines.push(
      `• *${escapeMrkdwn(f.severity)}* \`${escapeMrkdwn(f.type)}\` call ${f.callId ? `\`${escapeMrkdwn(clip(f.callId))}\`` : '(none)'}` +
        `${dest ? ` → ${escapeMrkdwn(clip(dest.value))}` : ''} — sensor \`${escapeMrkdwn(f.sensor)}\``,
    );
  }
  const rest = n - Math.min(held.length, SUMMARY_LIST_MAX);
  if (rest > 0) lines.push(`…and ${rest} more.`);
  const base = links.apiBaseUrl.replace(/\/+$/, '');
  lines.push(`All findings: ${links.apiBaseUrl ? `<${base}/api/findings|GET /api/findings>` : 'GET /api/findings'}${links.dashboardUrl && !/\{(sensor|callId|findingId|id)\}/.test(links.dashboardUrl) ? ` · <${links.dashboardUrl}|Dashboard>` : ''}`);
  const text = lines.join('\n');
  return { text, blocks: [section(text)] };
}
