/**
 * Generic search for copied media hidden inside other UDP/TCP payloads
 * (lawful-intercept and mirroring wrappers: PacketCable/CCC, jmirror,
 * IP-in-UDP, ETSI X3...). Placeholder: the dup-encapsulated work fills it in.
 */
import type { PacketRecord } from '../decode/packet.js';
import type { Flow } from '../flow/flow.js';
import type { StreamTable } from '../media/stream-table.js';
import type { EmbeddedRtpObservation } from '../detect/observations.js';

export class EmbeddedRtpScanner {
  constructor(
    readonly streams: StreamTable,
    private readonly emit: (o: EmbeddedRtpObservation) => void,
  ) {}

  /** Look into the payload of a UDP or TCP packet of a flow that is not media. */
  scan(flow: Flow, dir: 0 | 1, rec: PacketRecord, buf: Buffer, off: number, len: number, proto: 'udp' | 'tcp'): void {
    void flow;
    void dir;
    void rec;
    void buf;
    void off;
    void len;
    void proto;
    void this.emit;
  }
}
