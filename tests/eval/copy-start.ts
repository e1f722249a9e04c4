/**
 * When did the copy (or the relayed stream) start? The evaluation measures
 * detection delay from the first packet of the copy, as the issue states the
 * bound ("within 1 second of capture time after the copy starts"), not only
 * from the finding's own firstSeen.
 *
 * Independent of the heuristics: one pass over the capture with the sensor's
 * frame decoder, looking at the OUTER addresses (the first tunnel layer with
 * an IP header, else the packet itself), which is where a copy is addressed:
 *   duplicate_stream / signaling_copy: first UDP/TCP/GRE packet to copyTo
 *     (or, when the label names copyToMac, first IP packet to that MAC: a
 *     copy that keeps its IP destination, such as nft dup);
 *   unexpected_relay: first packet from or to the relay.
 * Labels of generated captures give copyStartTs directly.
 */
import { openCaptureFile } from '../../sensor/src/capture/open-file.js';
import { PacketRecord } from '../../sensor/src/decode/packet.js';
import { WeirdCounters } from '../../sensor/src/decode/weird.js';
import { decodeFrame, defaultDecodeContext } from '../../sensor/src/decode/decode-frame.js';
import { formatAddr } from '../../sensor/src/decode/address.js';
import type { ExpectedFinding } from './match.js';
import { parseEndpoint, type Endpoint } from './match.js';

interface Probe {
  index: number;
  to: Endpoint | null;
  either: Endpoint | null;
  mac: string | null;
  first: number | null;
}

function macText(buf: Buffer, off: number): string {
  let s = '';
  for (let i = 0; i < 6; i++) s += (i ? ':' : '') + buf[off + i]!.toString(16).padStart(2, '0');
  return s;
}

function endpointHit(want: Endpoint, ip: string, port: number): boolean {
  return want.ip === ip && (want.port === null || want.port === port);
}

/**
 * For each expected finding, the capture time of the first packet of its copy
 * or relayed stream, or null when the label does not say and no packet fits.
 */
export async function findCopyStarts(pcap: string, expected: readonly ExpectedFinding[]): Promise<Array<number | null>> {
  const result: Array<number | null> = expected.map((e) => (typeof e.copyStartTs === 'number' ? e.copyStartTs : null));
  const probes: Probe[] = [];
  expected.forEach((e, index) => {
    if (result[index] !== null) return;
    if ((e.type === 'duplicate_stream' || e.type === 'signaling_copy') && e.copyTo) {
      const mac = typeof e.copyToMac === 'string' ? e.copyToMac.toLowerCase() : null;
      probes.push({ index, to: mac ? null : parseEndpoint(e.copyTo), either: null, mac, first: null });
    } else if (e.type === 'unexpected_relay' && e.relay) {
      probes.push({ index, to: null, either: parseEndpoint(e.relay), mac: null, first: null });
    }
  });
  if (probes.length === 0) return result;

  const source = openCaptureFile(pcap);
  const rec = new PacketRecord();
  const ctx = defaultDecodeContext(new WeirdCounters());
  let open = probes.length;
  await source.run(rec, (r) => {
    if (open === 0) return;
    decodeFrame(r, ctx);
    let version = r.ipVersion;
    let src: Uint32Array = r.srcAddr;
    let dst: Uint32Array = r.dstAddr;
    let sport = r.srcPort;
    let dport = r.dstPort;
    for (let i = 0; i < r.tunnelDepth; i++) {
      const t = r.tunnels[i]!;
      if (t.ipVersion !== 0) {
        version = t.ipVersion;
        src = t.srcAddr;
        dst = t.dstAddr;
        sport = t.srcPort;
        dport = t.dstPort;
        break;
      }
    }
    if (version === 0) return;
    const srcIp = formatAddr(version, src);
    const dstIp = formatAddr(version, dst);
    // The outer Ethernet header (LINKTYPE_ETHERNET) names the next hop the copy was sent to.
    const dstMac = r.linkType === 1 && r.capLength >= 6 ? macText(r.frame, r.frameOffset) : null;
    for (const p of probes) {
      if (p.first !== null) continue;
      const hit =
        (p.to !== null && endpointHit(p.to, dstIp, dport)) ||
        (p.either !== null && (endpointHit(p.either, dstIp, dport) || endpointHit(p.either, srcIp, sport))) ||
        (p.mac !== null && dstMac === p.mac && r.l4Proto !== 0);
      if (hit) {
        p.first = r.ts;
        open--;
      }
    }
    if (open === 0) source.stop();
  });
  for (const p of probes) result[p.index] = p.first;
  return result;
}
