/**
 * tshark as the independent decoding oracle: runs `-q -z rtp,streams -z sip,stat`
 * once per file and parses both tables.
 */
import { spawnSync } from 'node:child_process';

export interface OracleStream {
  ssrc: number;
  src: string;
  dst: string;
  packets: number;
  lost: number;
  payload: string;
}

export interface OracleResult {
  streams: OracleStream[];
  sipMessages: number;
  sipResent: number;
  /** Distinct Call-IDs of SIP frames whose method is INVITE. */
  inviteCallIds: number;
  /** Distinct Call-IDs of all SIP frames. */
  callIds: number;
}

export function haveTshark(): boolean {
  return spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function runTshark(file: string, options: string[]): OracleResult {
  const r = spawnSync('tshark', ['-n', '-r', file, ...options, '-q', '-z', 'rtp,streams', '-z', 'sip,stat'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`tshark failed on ${file}: ${r.stderr}`);
  const result = parseTsharkOutput(r.stdout);
  // The inventory's dialog counts: distinct Call-IDs, and those of INVITE frames.
  const f = spawnSync('tshark', ['-n', '-r', file, ...options, '-Y', 'sip', '-T', 'fields', '-E', 'separator=|', '-e', 'sip.Method', '-e', 'sip.Call-ID'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const all = new Set<string>();
  const invites = new Set<string>();
  for (const line of f.stdout.split('\n')) {
    if (!line) continue;
    const [methods = '', ids = ''] = line.split('|');
    const idList = ids.split(',').filter(Boolean);
    for (const id of idList) all.add(id);
    if (methods.split(',').includes('INVITE')) for (const id of idList) invites.add(id);
  }
  result.inviteCallIds = invites.size;
  result.callIds = all.size;
  return result;
}

export function parseTsharkOutput(out: string): OracleResult {
  const streams: OracleStream[] = [];
  const lines = out.split('\n');
  let inRtp = false;
  for (const line of lines) {
    if (line.includes('RTP Streams')) {
      inRtp = true;
      continue;
    }
    if (!inRtp) continue;
    if (line.startsWith('=')) {
      inRtp = false;
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || !/^0x[0-9A-Fa-f]+$/.test(f[6] ?? '')) continue;
    // start end srcip srcport dstip dstport ssrc payload... pkts lost(%)...
    let i = 7;
    const payload: string[] = [];
    while (i < f.length && !/^\d+$/.test(f[i]!)) payload.push(f[i++]!);
    streams.push({
      src: `${f[2]}:${f[3]}`,
      dst: `${f[4]}:${f[5]}`,
      ssrc: parseInt(f[6]!, 16),
      payload: payload.join(' '),
      packets: Number(f[i]),
      lost: Number(f[i + 1]),
    });
  }
  const msgs = /Number of SIP messages: (\d+)/.exec(out);
  const resent = /Number of resent SIP messages: (\d+)/.exec(out);
  return { streams, sipMessages: msgs ? Number(msgs[1]) : 0, sipResent: resent ? Number(resent[1]) : 0, inviteCallIds: 0, callIds: 0 };
}
