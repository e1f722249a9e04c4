/**
 * Open a capture file by its content, not its name: several public captures
 * named *.pcap are pcapng (Wireshark's file_access.c also sniffs magics in
 * order). The magic numbers are the pcap ones (draft-ietf-opsawg-pcap §4) and
 * the pcapng Section Header Block (draft-ietf-opsawg-pcapng §4.1).
 *
 * This is the one place a capture file error is thrown (CaptureError with
 * code ENOTCAPTURE or EOPEN); once a source exists, its run() never throws on
 * bad input and reports problems in `warnings` instead.
 */
import * as fs from 'node:fs';
import { CaptureError, type PacketSource } from './packet-source.js';
import type { FileSourceOptions } from './chunk-reader.js';
import { PcapFileSource, pcapByteOrder, PCAP_FILE_HEADER_LENGTH } from './pcap-file.js';
import { PcapngFileSource, isPcapngHeader } from './pcapng-file.js';

/** Bytes needed to recognise either format (pcap file header is the longer). */
const SNIFF_LENGTH = PCAP_FILE_HEADER_LENGTH;

function describeBytes(head: Buffer): string {
  if (head.length === 0) return 'the file is empty';
  const shown = head.subarray(0, 16);
  const printable = shown.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `first bytes ${shown.toString('hex')} ("${printable}")`;
}

export function openCaptureFile(path: string, opts: FileSourceOptions = {}): PacketSource {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (err) {
    throw new CaptureError(`cannot open capture file ${path}: ${(err as Error).message}`, 'EOPEN');
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile()) {
      throw new CaptureError(`${path} is not a regular file`, 'EOPEN');
    }
    const head = Buffer.alloc(SNIFF_LENGTH);
    let got = 0;
    while (got < SNIFF_LENGTH) {
      const n = fs.readSync(fd, head, got, SNIFF_LENGTH - got, got);
      if (n <= 0) break;
      got += n;
    }
    const header = head.subarray(0, got);
    if (pcapByteOrder(header) !== null) return new PcapFileSource(path, fd, st.size, header, opts);
    if (isPcapngHeader(header)) return new PcapngFileSource(path, fd, st.size, header, opts);
    throw new CaptureError(
      `${path} is not a pcap or pcapng capture: ${describeBytes(header)}; ` +
        'expected pcap magic a1b2c3d4/a1b23c4d (either byte order) or a pcapng section header 0a0d0d0a',
      'ENOTCAPTURE',
    );
  } catch (err) {
    fs.closeSync(fd);
    if (err instanceof CaptureError) throw err;
    throw new CaptureError(`cannot read capture file ${path}: ${(err as Error).message}`, 'EOPEN');
  }
}
