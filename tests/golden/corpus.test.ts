/**
 * Golden tests on the real public captures in ../shared/corpus, with tshark
 * as the oracle (Zeek's btest idea: a capture plus the expected output).
 *
 * For every capture in INVENTORY.md, the RTP streams the sensor reports must
 * equal tshark's `-q -z rtp,streams` (run live with the options the inventory
 * names) on SSRC, source, destination and packet count, and the SIP message
 * count must equal tshark's `sip,stat`. Where we and tshark disagree and we
 * are right, the difference is documented in KNOWN_DIFFERENCES below.
 *
 * A user's clone has no ../shared; these tests then skip with a message, and
 * tests/golden/generated.test.ts covers the same ground on our own captures.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { haveTshark } from '../lib/tshark.js';
import { compareWithTshark, type Difference } from '../lib/golden.js';
import type { SensorOptions } from '../../sensor/src/sensor.js';

const CORPUS = resolve(__dirname, '../../../shared/corpus');
const present = existsSync(join(CORPUS, 'INVENTORY.md'));
const tshark = haveTshark();

interface Row {
  file: string;
  options: string[];
  /** From the inventory's SIP column: distinct Call-IDs with an INVITE, and distinct Call-IDs. */
  inviteCalls: number;
  callIds: number;
}

function inventory(): Row[] {
  const text = readFileSync(join(CORPUS, 'INVENTORY.md'), 'utf8');
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split(' | ');
    if (cells.length < 11 || !/^\| \d+$/.test(cells[0]!.trim())) continue;
    const file = /`([^`]+)`/.exec(cells[1]!)?.[1];
    if (!file) continue;
    const optCell = cells[9]!.split('<br>')[0]!;
    const opt = /`([^`]*)`/.exec(optCell)?.[1] ?? '';
    // The HEP Lua dissector is third-party and not installed: run tshark without it.
    const options = opt.includes('lua_script') ? [] : opt.split(/\s+/).filter(Boolean);
    const sip = /^\s*(\d+) \((\d+)\) · (\d+) · (\d+)/.exec(cells[6]!);
    rows.push({ file, options, inviteCalls: sip ? Number(sip[3]) : 0, callIds: sip ? Number(sip[4]) : 0 });
  }
  return rows;
}

/** Sensor options a user would pass for the same file (non-standard tunnel ports). */
const SENSOR_OPTIONS: Record<string, Partial<SensorOptions>> = {
  'filesamples_simple_http_tzsp.pcapng': { decode: { tzspPorts: [37008, 31337] } },
};

const KNOWN_DIFFERENCES: Record<string, Difference> = {
  'heplify_FAX-Call-t38-CA-TDM-SIP-FB-1.pcap': {
    streamPackets: { '0x0EAF0EAF 10.35.60.100:15580 -> 10.23.1.52:16756': 3848 },
    why:
      'At 64.46 s a re-INVITE offers T.38 (m=image udptl) on 15580/16756; it is declined with 488 and audio is re-offered at 64.57 s. ' +
      'tshark keeps decoding 15580 as T.38 and so drops 2010 packets from the stream, but they are PCMA RTP of the same SSRC ' +
      '(bytes 80 08 <seq> <ts> 0e af 0e af, 180-byte UDP): 1838 + 2010 = 3848.',
  },
  'srtpdec_tcp_call_02_03_client_s2.pcap': {
    streamPackets: { '0x1C090D15 54.145.233.59:3478 -> 192.168.88.240:50663': 1950 },
    why:
      'TURN over TCP: 28 ChannelData frames straddle TCP segment boundaries and tshark 4.0 does not reassemble them, ' +
      'so it counts 1922 packets and "lost=28". We reassemble the TCP stream (RFC 8656 §12.5 framing) and see all 1950 with ' +
      'no gap in the sequence numbers (lost 0).',
  },
  'hepws_hep.pcap': {
    sipMessages: 6,
    inviteCalls: 1,
    callIds: 1,
    why: 'tshark 4.0 has no HEP dissector; the inventory decoded 6 SIP messages inside HEP3 with the third-party hep.lua, and so do we.',
  },
  'hepws_hep3_compressed.pcapng': {
    sipMessages: 21,
    callIds: 1,
    why: 'HEP3 with zlib-compressed payload chunks (type 0x10): tshark cannot show the inner SIP; the inventory decoded 12 REGISTER, 6 401 and 3 200 in Python; we inflate the chunks the same way.',
  },
};

describe.skipIf(!present || !tshark)('golden: ../shared/corpus against tshark', () => {
  if (!present) it.skip('../shared/corpus is absent in this clone; tests/golden/generated.test.ts covers the same ground', () => {});
  const rows = present ? inventory() : [];
  it('reads the inventory', () => {
    expect(rows.length).toBeGreaterThanOrEqual(50);
  });
  for (const row of rows) {
    it(`${row.file}`, async () => {
      const path = join(CORPUS, row.file);
      await compareWithTshark(path, row.options, SENSOR_OPTIONS[row.file] ?? {}, KNOWN_DIFFERENCES[row.file]);
    });
  }
});
