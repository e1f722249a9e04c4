// One real SIP call (RFC 3261) with G.711 A-law RTP (RFC 3551) between two
// sipp instances (Debian's sip-tester 3.6) in two namespaces of a NetnsLab.
// The scenario XML templates are shared with the bash scenario scripts
// (tests/scenarios/sipp/*.xml): @KEY@ placeholders are filled in here; a line
// whose placeholder gets an empty value is dropped, so an optional SDP line
// (e.g. a=crypto) disappears instead of leaving a blank line that would end
// the SDP. Audio comes from pcaps replayed by <exec play_pcap_audio>.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetnsLab } from './netns.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const SCENARIO_DIR = path.resolve(here, '../scenarios');
/** sipp's bundled 7 s G.711 A-law capture (SSRC 0xdee0ee8f, 30 ms packets). */
export const G711A_PCAP = '/usr/share/sip-tester/g711a.pcap';

export function sippAvailable(): boolean {
  return spawnSync('sipp', ['-v'], { encoding: 'utf8' }).error === undefined && existsSync(G711A_PCAP);
}

/** Replaces @KEY@ placeholders; drops lines whose placeholder value is empty. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  let out = template;
  for (const [k, v] of Object.entries(values)) {
    const mark = `@${k}@`;
    out = v === '' ? out.split('\n').filter((l) => !l.includes(mark)).join('\n') : out.split(mark).join(v);
  }
  return out;
}

export interface AudioPcapOptions {
  ssrc: number;
  seq?: number;
  ts?: number;
  seconds?: number;
  ptimeMs?: number;
  hz?: number;
  /** base64 of 30 bytes (master key || salt): payloads become real SRTP (AES_CM_128_HMAC_SHA1_80). */
  srtpKey?: string;
}

/** Writes a G.711 A-law RTP pcap for play_pcap_audio (tests/scenarios/media/gen-audio-pcap.mjs). */
export function generateAudioPcap(out: string, o: AudioPcapOptions): void {
  const args = [path.join(SCENARIO_DIR, 'media/gen-audio-pcap.mjs'), out, '--ssrc', '0x' + o.ssrc.toString(16)];
  if (o.seq !== undefined) args.push('--seq', String(o.seq));
  if (o.ts !== undefined) args.push('--ts', String(o.ts));
  if (o.seconds !== undefined) args.push('--seconds', String(o.seconds));
  if (o.ptimeMs !== undefined) args.push('--ptime', String(o.ptimeMs));
  if (o.hz !== undefined) args.push('--hz', String(o.hz));
  if (o.srtpKey) args.push('--srtp-key', o.srtpKey);
  const r = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`gen-audio-pcap failed: ${r.stderr}`);
}

export interface SippCallOptions {
  lab: NetnsLab;
  /** Scratch directory for rendered XML, generated audio and logs. */
  workDir: string;
  uacNs: string;
  uacIp: string;
  uasNs: string;
  uasIp: string;
  /** Where the UAC sends its INVITE (default `${uasIp}:5060`; a proxy address otherwise). */
  target?: string;
  uacMediaPort?: number;
  uasMediaPort?: number;
  /** Time between ACK and BYE. */
  durationMs?: number;
  uacAudio?: string;
  uasAudio?: string;
  /** SDES: a=crypto inline keys (base64 of 30 bytes) for each side; switches the SDP to RTP/SAVP. */
  sdes?: { uacKey: string; uasKey: string };
}

export interface SippCallResult {
  uacExit: number | null;
  uasExit: number | null;
  uacLog: string;
  uasLog: string;
}

/**
 * Runs one complete call: UAS in uasNs answers with its SDP and plays audio
 * back; UAC in uacNs offers SDP, plays audio, hangs up after durationMs.
 */
export async function runSippCall(o: SippCallOptions): Promise<SippCallResult> {
  const uacMp = o.uacMediaPort ?? 10000;
  const uasMp = o.uasMediaPort ?? 20000;
  const dur = o.durationMs ?? 3000;
  let uasAudio = o.uasAudio;
  let uacAudio = o.uacAudio ?? G711A_PCAP;
  const seconds = dur / 1000 + 2;
  if (o.sdes) {
    uacAudio = path.join(o.workDir, 'uac-srtp.pcap');
    generateAudioPcap(uacAudio, { ssrc: 0xa1a1a1a1, seconds, srtpKey: o.sdes.uacKey });
    uasAudio = path.join(o.workDir, 'uas-srtp.pcap');
    generateAudioPcap(uasAudio, { ssrc: 0xb0b0b0b0, seconds, hz: 600, srtpKey: o.sdes.uasKey });
  } else if (!uasAudio) {
    uasAudio = path.join(o.workDir, 'uas.pcap');
    generateAudioPcap(uasAudio, { ssrc: 0xb0b0b0b0, seconds, hz: 600 });
  }
  const proto = o.sdes ? 'RTP/SAVP' : 'RTP/AVP';
  const crypto = (k?: string): string => (k ? `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${k}` : '');
  const uacXml = path.join(o.workDir, 'uac.xml');
  const uasXml = path.join(o.workDir, 'uas.xml');
  writeFileSync(uacXml, renderTemplate(readFileSync(path.join(SCENARIO_DIR, 'sipp/uac.xml'), 'utf8'),
    { PROTO: proto, CRYPTO: crypto(o.sdes?.uacKey), AUDIO: uacAudio }));
  writeFileSync(uasXml, renderTemplate(readFileSync(path.join(SCENARIO_DIR, 'sipp/uas.xml'), 'utf8'),
    { PROTO: proto, CRYPTO: crypto(o.sdes?.uasKey), AUDIO: uasAudio }));

  const uasLog = path.join(o.workDir, 'uas.log');
  const uacLog = path.join(o.workDir, 'uac.log');
  const uas = o.lab.bg(o.uasNs, ['sipp', '-sf', uasXml, '-i', o.uasIp, '-p', '5060', '-mi', o.uasIp, '-mp', String(uasMp),
    '-m', '1', '-nostdin', '-timeout', '60'], uasLog);
  // Wait until the UAS socket is bound, or the INVITE may draw an ICMP error.
  for (let i = 0; i < 50; i++) {
    const ss = o.lab.tryExec(o.uasNs, ['ss', '-lun']);
    if (ss.stdout.includes(`${o.uasIp}:5060`)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const uac = o.lab.bg(o.uacNs, ['sipp', o.target ?? `${o.uasIp}:5060`, '-sf', uacXml, '-i', o.uacIp, '-p', '5060',
    '-mi', o.uacIp, '-mp', String(uacMp), '-m', '1', '-d', String(dur), '-nostdin', '-timeout', '60'], uacLog);
  const uacExit = await o.lab.waitExit(uac, dur + 30_000);
  const uasExit = await o.lab.waitExit(uas, 10_000);
  return { uacExit, uasExit, uacLog, uasLog };
}
