/**
 * Corpus smoke test: for the public captures that need special decoding
 * (tunnels, odd link types), compare our innermost 5-tuple per frame with
 * tshark's (the last value of each nested field list). HEP has no tshark
 * dissector, so for HEP files we check the inner SIP start lines instead.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { formatAddr } from '../../sensor/src/decode/address.js';
import type { DecodeContext, Defragmenter } from '../../sensor/src/decode/context.js';
import { decodeFrame, defaultDecodeContext } from '../../sensor/src/decode/decode-frame.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../../shared/corpus');
const haveCorpus = fs.existsSync(corpus);
let haveTshark = false;
try {
  execFileSync('tshark', ['-v'], { stdio: 'ignore' });
  haveTshark = true;
} catch {
  haveTshark = false;
}

interface Ours {
  tuple: string;
  tunnels: number[];
  payloadHead: string;
  weirds: Record<string, number>;
}

/** Minimal in-order defragmenter for the test (the real one lives in flow/). */
function testDefrag(): Defragmenter {
  const pending = new Map<string, { parts: Buffer[]; next: number }>();
  return {
    add(v, src, dst, proto, id, fragOffset, more, buf, off, len) {
      const key = `${v}/${src.join('.')}/${dst.join('.')}/${proto}/${id}`;
      let p = pending.get(key);
      if (fragOffset === 0) {
        p = { parts: [], next: 0 };
        pending.set(key, p);
      }
      if (!p || fragOffset !== p.next) return null;
      p.parts.push(Buffer.from(buf.subarray(off, off + len)));
      p.next += len;
      if (more) return null;
      pending.delete(key);
      return Buffer.concat(p.parts);
    },
  };
}

async function decodeFile(file: string, tune?: (ctx: DecodeContext) => void): Promise<{ frames: Ours[]; weirds: Record<string, number> }> {
  const weirds = new WeirdCounters();
  const ctx = defaultDecodeContext(weirds, testDefrag());
  tune?.(ctx);
  const rec = new PacketRecord();
  const frames: Ours[] = [];
  const src = openCaptureFile(path.join(corpus, file));
  await src.run(rec, (r) => {
    const before = weirds.toJSON();
    decodeFrame(r, ctx);
    const after = weirds.toJSON();
    const delta: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v !== (before[k] ?? 0)) delta[k] = v - (before[k] ?? 0);
    let tuple = '';
    if (r.ipVersion !== 0) {
      tuple = `${formatAddr(r.ipVersion, r.srcAddr)} ${formatAddr(r.ipVersion, r.dstAddr)}`;
      if (r.l4Proto !== 0) tuple += ` ${r.l4Proto}:${r.srcPort}>${r.dstPort}`;
    }
    const tunnels: number[] = [];
    for (let i = 0; i < r.tunnelDepth; i++) tunnels.push(r.tunnels[i]!.kind);
    const head = r.payloadBuf.subarray(r.payloadOffset, r.payloadOffset + Math.min(r.payloadLength, 40)).toString('latin1');
    frames.push({ tuple, tunnels, payloadHead: head, weirds: delta });
  });
  return { frames, weirds: weirds.toJSON() };
}

const last = (s: string | undefined): string => {
  if (!s) return '';
  const parts = s.split(',');
  return parts[parts.length - 1]!;
};

/** tshark's innermost tuple, in the same format as ours ('' when it saw no IP). */
function tsharkTuples(file: string, extra: string[] = []): { tuple: string; protocols: string }[] {
  const out = execFileSync(
    'tshark',
    [
      '-r', path.join(corpus, file), ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a',
      '-e', 'frame.protocols',
      '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst',
      '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.srcport', '-e', 'tcp.dstport',
      '-e', 'sctp.srcport', '-e', 'sctp.dstport',
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const f = line.split('\t');
      const protocols = f[0]!;
      const layers = protocols.split(':');
      // innermost network and transport layers, by their position in frame.protocols
      const lastIp = layers.lastIndexOf('ip');
      const lastIp6 = layers.lastIndexOf('ipv6');
      let tuple = '';
      if (lastIp >= 0 || lastIp6 >= 0) {
        tuple = lastIp > lastIp6 ? `${last(f[1])} ${last(f[2])}` : `${last(f[3])} ${last(f[4])}`;
        const iUdp = layers.lastIndexOf('udp');
        const iTcp = layers.lastIndexOf('tcp');
        const iSctp = layers.lastIndexOf('sctp');
        const top = Math.max(iUdp, iTcp, iSctp);
        if (top > Math.max(lastIp, lastIp6)) {
          if (top === iUdp) tuple += ` 17:${last(f[5])}>${last(f[6])}`;
          else if (top === iTcp) tuple += ` 6:${last(f[7])}>${last(f[8])}`;
          else tuple += ` 132:${last(f[9])}>${last(f[10])}`;
        }
      }
      return { tuple, protocols };
    });
}

interface Case {
  file: string;
  tsharkArgs?: string[];
  tune?: (ctx: DecodeContext) => void;
  /** Tunnel kinds every (or some) frame must show. */
  expectTunnel?: number;
}

const cases: Case[] = [
  { file: 'ndpi_gre.pcapng', expectTunnel: 1 },
  { file: 'heplify_erspan_sip_ipv4_udp.pcapng', expectTunnel: 2 },
  { file: 'sngrep_ipip.pcap', expectTunnel: 7 },
  { file: 'heplify_ipip0.pcap' },
  { file: 'ndpi_vxlan.pcap', expectTunnel: 5 },
  {
    file: 'filesamples_simple_http_tzsp.pcapng',
    tsharkArgs: ['-d', 'udp.port==31337,tzsp'],
    tune: (ctx) => ctx.tzspPorts.push(31337),
    expectTunnel: 8,
  },
  { file: 'ndpi_dtls.pcap', expectTunnel: 12 },
  { file: 'heplify_sip_sctp.pcap' },
  { file: 'rtpdump_sample2_vowifi_ipv4_esp_ipv4.pcap' },
  { file: 'heplify_sip_ipv4_tcp_retrans.pcap' },
  { file: 'sngrep_ipv6frag.pcap' },
];

describe.skipIf(!haveCorpus)('corpus: innermost 5-tuples agree with tshark', () => {
  for (const c of cases) {
    it.skipIf(!haveTshark || !fs.existsSync(path.join(corpus, c.file)))(c.file, async () => {
      const ours = await decodeFile(c.file, c.tune);
      const theirs = tsharkTuples(c.file, c.tsharkArgs);
      expect(ours.frames.length).toBe(theirs.length);
      const mismatches: string[] = [];
      let compared = 0;
      for (let i = 0; i < theirs.length; i++) {
        const t = theirs[i]!;
        // ICMP errors quote a packet; tshark decodes the quote, we do not.
        if (/:icmp(v6)?:/.test(t.protocols) && t.protocols.split(':').filter((p) => p === 'ip' || p === 'ipv6').length > 1) continue;
        compared++;
        if (ours.frames[i]!.tuple !== t.tuple) mismatches.push(`frame ${i + 1}: ours "${ours.frames[i]!.tuple}" tshark "${t.tuple}" (${t.protocols})`);
      }
      expect(mismatches).toEqual([]);
      expect(compared).toBeGreaterThan(0);
      if (c.expectTunnel !== undefined) {
        expect(ours.frames.some((f) => f.tunnels.includes(c.expectTunnel!))).toBe(true);
      }
    });
  }
});

describe.skipIf(!haveCorpus)('corpus: HEP captures carry SIP', () => {
  it.skipIf(!fs.existsSync(path.join(corpus, 'hepws_hep.pcap')))('hepws_hep.pcap: HEP3 with plain payload chunks', async () => {
    const { frames } = await decodeFile('hepws_hep.pcap');
    const starts = frames.filter((f) => f.tunnels[0] === 10).map((f) => f.payloadHead.split(/\r?\n/)[0]!);
    expect(starts.filter((s) => /^(INVITE|PUBLISH|OPTIONS) sip:/.test(s)).length).toBe(3);
    expect(starts.filter((s) => /^SIP\/2\.0 (100|200|407) /.test(s)).length).toBe(3);
  });

  it.skipIf(!fs.existsSync(path.join(corpus, 'hepws_hep3_compressed.pcapng')))(
    'hepws_hep3_compressed.pcapng: HEP3 chunk 16 inflates to SIP',
    async () => {
      const { frames, weirds } = await decodeFile('hepws_hep3_compressed.pcapng');
      expect(weirds.hep_zlib_error ?? 0).toBe(0);
      const starts = frames.map((f) => f.payloadHead.split(/\r?\n/)[0]!);
      expect(starts.filter((s) => s.startsWith('REGISTER sip:')).length).toBe(12);
      expect(starts.filter((s) => s.startsWith('SIP/2.0 401 ')).length).toBe(6);
      expect(starts.filter((s) => s.startsWith('SIP/2.0 200 ')).length).toBe(3);
    },
  );
});
