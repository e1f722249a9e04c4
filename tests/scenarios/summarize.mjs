// Adds tshark's view of a scenario capture to its label JSON, so a reader
// (and the detector tests) can see what the independent decoder saw:
// SIP message counts (-z sip,stat), RTP streams with the rtp_udp heuristic
// (-z rtp,streams), UDP conversations (-z conv,udp), plus VXLAN-inner and
// HEP-port counts when present. tshark 4.0 has no HEP dissector, so HEP is
// counted by port only.
// Usage: node summarize.mjs CAPTURE.pcap LABEL-FRAGMENT.json OUT.json
import { readFileSync, writeFileSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [pcap, fragFile, outFile] = process.argv.slice(2);
const frag = JSON.parse(readFileSync(fragFile, 'utf8'));

function tshark(args) {
  const r = spawnSync('tshark', ['-n', '-r', pcap, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error('tshark failed: ' + r.stderr);
  return r.stdout;
}

const rtpOut = tshark(['--enable-heuristic', 'rtp_udp', '-q', '-z', 'rtp,streams']);
const rtpStreams = [];
for (const line of rtpOut.split('\n')) {
  const m = line.trim().match(
    /^(\d+\.\d+)\s+(\d+\.\d+)\s+(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(0x[0-9A-Fa-f]+)\s+(.+?)\s+(\d+)\s+(-?\d+) \(/,
  );
  if (m) {
    rtpStreams.push({
      src: `${m[3]}:${m[4]}`, dst: `${m[5]}:${m[6]}`, ssrc: m[7].toLowerCase(),
      payload: m[8].trim(), packets: Number(m[9]), lost: Number(m[10]),
      startS: Number(m[1]), endS: Number(m[2]),
    });
  }
}

const sipOut = tshark(['-q', '-z', 'sip,stat']);
const sip = { messages: 0, requests: {}, responses: {} };
let section = '';
for (const line of sipOut.split('\n')) {
  let m;
  if ((m = line.match(/Number of SIP messages: (\d+)/))) sip.messages = Number(m[1]);
  else if (line.includes('SIP Status Codes')) section = 'responses';
  else if (line.includes('SIP Request methods')) section = 'requests';
  else if ((m = line.match(/^\s+SIP (\d+ [^:]+?)\s*:\s*(\d+) Packets/)) && section === 'responses')
    sip.responses[m[1]] = Number(m[2]);
  else if ((m = line.match(/^\s+([A-Z]+)\s*:\s*(\d+) Packets/)) && section === 'requests')
    sip.requests[m[1]] = Number(m[2]);
}

const convOut = tshark(['-q', '-z', 'conv,udp']);
const udpConversations = [];
for (const line of convOut.split('\n')) {
  const m = line.match(/^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+ \w+\s+(\d+)\s+\d+ \w+\s+(\d+)\s+\d+ \w+/);
  if (m) udpConversations.push({ a: `${m[1]}:${m[2]}`, b: `${m[3]}:${m[4]}`, framesBtoA: Number(m[5]), framesAtoB: Number(m[6]), frames: Number(m[7]) });
}

const count = (filter) => tshark(['-Y', filter, '-T', 'fields', '-e', 'frame.number']).split('\n').filter(Boolean).length;
const total = count('frame');
const t = { packets: total, bytes: statSync(pcap).size, sip, rtpStreams, udpConversations };
const vx = count('vxlan');
if (vx) t.vxlanPackets = vx, t.vxlanInnerRtp = Number(tshark(['--enable-heuristic', 'rtp_udp', '-Y', 'vxlan && rtp', '-T', 'fields', '-e', 'frame.number']).split('\n').filter(Boolean).length);
const hep = count('udp.dstport == 9060');
if (hep) t.hepPortPackets = hep;
const srtp = count('sdp.media.proto contains "SAVP"');
if (srtp) t.sdpSavpMessages = srtp;
const crypto = count('sdp.media_attr contains "crypto"');
if (crypto) t.sdpCryptoMessages = crypto;
// The same IP packet captured more than once (SPAN doubles, dup/TEE copies):
// same source, destination, IP ID and UDP ports; TTL and checksum may differ.
const dups = tshark(['-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ip.id', '-e', 'udp.srcport', '-e', 'udp.dstport', '-Y', 'udp && !vxlan'])
  .split('\n').filter(Boolean);
const seen = new Map();
for (const k of dups) seen.set(k, (seen.get(k) ?? 0) + 1);
t.udpPacketsSeenTwice = [...seen.values()].filter((c) => c >= 2).length;

const out = { ...frag, tshark: t };
writeFileSync(outFile, JSON.stringify(out, null, 2) + '\n');
console.log(`${frag.name}: ${total} packets, ${sip.messages} SIP, ${rtpStreams.length} RTP streams`);
