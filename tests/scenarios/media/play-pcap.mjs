// Replays the UDP payloads of a pcap (Ethernet/IPv4/UDP, as written by
// gen-audio-pcap.mjs) from a bound local address/port to a destination,
// keeping the capture's inter-packet timing: a second RTP sender for the
// scenarios where one sipp can only play one stream (SIPREC's label 2).
// Usage: node play-pcap.mjs FILE LOCAL_IP LOCAL_PORT DST_IP DST_PORT
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';

const [file, lip, lport, dip, dport] = process.argv.slice(2);
const b = readFileSync(file);
const pkts = [];
for (let o = 24; o + 16 <= b.length; ) {
  const us = b.readUInt32LE(o) * 1e6 + b.readUInt32LE(o + 4);
  const len = b.readUInt32LE(o + 8);
  const f = b.subarray(o + 16, o + 16 + len);
  const ihl = (f[14] & 0x0f) * 4;
  pkts.push({ us, payload: f.subarray(14 + ihl + 8) });
  o += 16 + len;
}
const sock = createSocket('udp4');
sock.bind(Number(lport), lip, () => {
  const t0 = performance.now(), base = pkts.length ? pkts[0].us : 0;
  let i = 0;
  const tick = () => {
    const now = (performance.now() - t0) * 1000;
    while (i < pkts.length && pkts[i].us - base <= now) sock.send(pkts[i++].payload, Number(dport), dip);
    if (i < pkts.length) setTimeout(tick, 5);
    else setTimeout(() => sock.close(), 50);
  };
  tick();
});
