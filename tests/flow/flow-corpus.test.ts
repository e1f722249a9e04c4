/**
 * The flow stage over real captures: IPv6 fragment reassembly, the flow table
 * and TCP reassembly, checked against what tshark reports for the same files
 * (see /work/shared/corpus/INVENTORY.md).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { decodeFrame, defaultDecodeContext } from '../../sensor/src/decode/decode-frame.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';
import { FlowTable } from '../../sensor/src/flow/flow-table.js';
import type { Flow } from '../../sensor/src/flow/flow.js';
import { IpDefragmenter } from '../../sensor/src/flow/ip-defrag.js';
import { TcpFlowState, tcpFlush, tcpPush } from '../../sensor/src/flow/tcp-reassembly.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../../shared/corpus');

interface Seen {
  proto: number;
  srcPort: number;
  dstPort: number;
  len: number;
  reassembled: boolean;
  fragment: boolean;
  head: string;
}

async function decodeAll(file: string, onRec?: (rec: PacketRecord) => void) {
  const weirds = new WeirdCounters();
  const defrag = new IpDefragmenter(weirds);
  const ctx = defaultDecodeContext(weirds, defrag);
  const table = new FlowTable();
  const seen: Seen[] = [];
  const rec = new PacketRecord();
  await openCaptureFile(path.join(corpus, file)).run(rec, (r) => {
    decodeFrame(r, ctx);
    seen.push({
      proto: r.l4Proto,
      srcPort: r.srcPort,
      dstPort: r.dstPort,
      len: r.payloadLength,
      reassembled: r.reassembled,
      fragment: r.isFragment,
      head: r.payloadBuf.toString('latin1', r.payloadOffset, r.payloadOffset + Math.min(r.payloadLength, 16)),
    });
    table.lookup(r);
    onRec?.(r);
  });
  return { weirds, defrag, table, seen };
}

function flows(table: FlowTable): Flow[] {
  const out: Flow[] = [];
  table.forEach((f) => out.push(f));
  return out;
}

const SIP_START = /^(SIP\/2\.0 \d{3}|[A-Z]+ sip:)/;

/** Split a reassembled SIP/TCP byte stream into messages (RFC 3261 §18.3: Content-Length frames the body). */
function sipMessages(stream: string): string[] {
  const out: string[] = [];
  let p = 0;
  while (p < stream.length) {
    const eoh = stream.indexOf('\r\n\r\n', p);
    if (eoh < 0) break;
    const head = stream.slice(p, eoh);
    const m = /\r\n(?:Content-Length|l)\s*:\s*(\d+)/i.exec(head);
    const bodyLen = m ? Number(m[1]) : 0;
    out.push(stream.slice(p, eoh + 4 + bodyLen));
    p = eoh + 4 + bodyLen;
    while (stream.startsWith('\r\n', p)) p += 2; // keep-alive CRLFs (RFC 5626)
  }
  return out;
}

async function reassembleTcp(file: string) {
  const streams = new Map<Flow, [string, string]>();
  let weirds!: WeirdCounters;
  const deliverFor = (f: Flow) => (dir: 0 | 1, data: Buffer, off: number, len: number) => {
    const s = streams.get(f)!;
    s[dir] += len === 0 ? '\u0000GAP\u0000' : data.toString('latin1', off, off + len);
  };
  const handlers = new Map<Flow, ReturnType<typeof deliverFor>>();
  const tableRef: { t: FlowTable | null } = { t: null };
  const w = new WeirdCounters();
  const table = new FlowTable();
  tableRef.t = table;
  const defrag = new IpDefragmenter(w);
  const ctx = defaultDecodeContext(w, defrag);
  const rec = new PacketRecord();
  await openCaptureFile(path.join(corpus, file)).run(rec, (r) => {
    decodeFrame(r, ctx);
    if (r.l4Proto !== 6) return;
    const f = table.lookup(r);
    if (f === null) return;
    if (f.tcp === null) {
      f.tcp = new TcpFlowState();
      streams.set(f, ['', '']);
      handlers.set(f, deliverFor(f));
    }
    tcpPush(f.tcp, table.lastDirection, r.tcpSeq, r.tcpFlags, r.payloadBuf, r.payloadOffset, r.payloadLength, handlers.get(f)!, w, r.ts);
  });
  for (const [f, h] of handlers) tcpFlush(f.tcp!, h, w);
  weirds = w;
  return { streams, weirds, table };
}

describe.skipIf(!fs.existsSync(corpus))('flow stage on the public corpus', () => {
  it('reassembles the 5379-byte IPv6 UDP datagram of heplify_ipv6_udp_fragmented.pcap', async () => {
    const { weirds, defrag, table, seen } = await decodeAll('heplify_ipv6_udp_fragmented.pcap');
    expect(seen.length).toBe(6);
    expect(seen.filter((s) => s.fragment).length).toBe(3);
    const whole = seen.filter((s) => s.reassembled);
    expect(whole.length).toBe(1);
    expect(whole[0]).toMatchObject({ proto: 17, srcPort: 6363, dstPort: 6363, len: 5379 });
    expect(defrag.reassembled).toBe(1);
    expect(defrag.pending).toBe(0);
    expect(weirds.get('frag_overlap') + weirds.get('frag_timeout') + weirds.get('frag_table_full')).toBe(0);
    // One UDP conversation 2607:f010:3f9::11:0:6363 <-> 2607:f010:3f9::1001:6363: 2 packets one way, 1 back.
    const fl = flows(table);
    expect(fl.length).toBe(1);
    expect(fl[0]!.aEndpoint()).toBe('2607:f010:3f9::11:0:6363');
    expect(fl[0]!.bEndpoint()).toBe('2607:f010:3f9::1001:6363');
    expect([fl[0]!.pktsAB, fl[0]!.pktsBA]).toEqual([2, 1]);
    expect(fl[0]!.bytesBA).toBe(5379);
  });

  it('recovers the two fragmented SIP messages of sngrep_ipv6frag.pcap', async () => {
    const { weirds, defrag, table, seen } = await decodeAll('sngrep_ipv6frag.pcap');
    expect(seen.length).toBe(34);
    const sip = seen.filter((s) => s.proto === 17 && SIP_START.test(s.head));
    expect(sip.length).toBe(32); // tshark: 32 SIP messages
    const whole = seen.filter((s) => s.reassembled);
    expect(whole.map((s) => [s.head.slice(0, 6), s.len, s.srcPort, s.dstPort])).toEqual([
      ['INVITE', 1691, 15060, 5062],
      ['INVITE', 1871, 5062, 25060],
    ]);
    expect(defrag.pending).toBe(0);
    expect(weirds.get('frag_overlap') + weirds.get('frag_timeout')).toBe(0);
    // tshark -z conv,udp: two conversations of 16 frames each (fragments excluded, reassembled included).
    const fl = flows(table);
    expect(fl.length).toBe(2);
    expect(fl.map((f) => f.pktsAB + f.pktsBA).sort()).toEqual([16, 16]);
  });

  it('reassembles all 406 SIP messages of heplify_sip_ipv4_tcp_fragmented.pcap', async () => {
    const { streams, weirds } = await reassembleTcp('heplify_sip_ipv4_tcp_fragmented.pcap');
    expect(streams.size).toBe(4); // tshark -z conv,tcp: 4 connections
    let total = 0;
    const methods = new Map<string, number>();
    for (const [a, b] of streams.values()) {
      for (const s of [a, b]) {
        expect(s.includes('\u0000GAP\u0000')).toBe(false);
        for (const m of sipMessages(s)) {
          expect(m).toMatch(SIP_START);
          total++;
          const k = m.startsWith('SIP/2.0') ? m.slice(8, 11) : m.slice(0, m.indexOf(' '));
          methods.set(k, (methods.get(k) ?? 0) + 1);
        }
      }
    }
    expect(total).toBe(406);
    // tshark -z sip,stat
    expect(methods.get('INVITE')).toBe(37);
    expect(methods.get('UPDATE')).toBe(63);
    expect(methods.get('200')).toBe(142);
    expect(weirds.get('tcp_gap')).toBe(0);
  });

  it('delivers each byte once despite the retransmission in heplify_sip_ipv4_tcp_retrans.pcap', async () => {
    const { streams, weirds } = await reassembleTcp('heplify_sip_ipv4_tcp_retrans.pcap');
    let sip = 0;
    for (const [a, b] of streams.values()) {
      for (const s of [a, b]) {
        if (!SIP_START.test(s)) continue;
        for (const m of sipMessages(s)) {
          expect(m).toMatch(SIP_START);
          sip++;
        }
      }
    }
    // tshark -z sip,stat counts 8: frames 28, 32, 33, 36 are SIP over TCP 5060;
    // frames 30, 31, 34, 35 are HEP copies of them (TCP 60010), not plain SIP streams.
    expect(sip).toBe(4);
    expect(weirds.get('tcp_retransmission')).toBeGreaterThanOrEqual(1);
    expect(weirds.get('tcp_gap')).toBe(0);
  });
});
