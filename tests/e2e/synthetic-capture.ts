/**
 * One synthetic capture that touches every path of the sensor core: SIP over
 * UDP (IPv4, with a fragmented 200 OK), SIP over TCP split across segments,
 * SIP over IPv6 with a fragmented INVITE, SDES a=crypto keys, RTP both ways,
 * RTCP compounds (SR + SDES + APP), RTP over TCP (RFC 4571), STUN, TURN Send
 * indication and ChannelData carrying RTP, a DTLS ClientHello, and SIP/RTP
 * inside VXLAN, GRE and HEP3.
 *
 * Every place that holds media payload or key material is filled from the
 * caller's markers, so the privacy test can look for them in the events, and
 * the fuzz test uses the frames as its valid seeds.
 */
import { PcapWriter } from '../fixtures/gen/pcap-writer.js';
import {
  LINKTYPE_ETHERNET,
  STUN_ATTR_DATA,
  STUN_ATTR_SOFTWARE,
  STUN_ATTR_USERNAME,
  STUN_ATTR_XOR_PEER_ADDRESS,
  STUN_BINDING_REQUEST,
  STUN_SEND_INDICATION,
  TCP_ACK,
  TCP_FIN,
  TCP_PSH,
  TCP_SYN,
  channelData,
  dtlsClientHello,
  ethernet,
  greFrame,
  hep3Frame,
  ipPacket,
  ipv4Fragments,
  ipv6Fragments,
  rfc4571,
  rtcpCompound,
  rtp,
  sipDialog,
  stun,
  tcpFrame,
  udp,
  udpFrame,
  vxlanFrame,
  xorPeerAddressV4,
  type SipDialog,
  type SipMsg,
} from './frame-kit.js';

export interface SyntheticFrame {
  ts: number;
  linkType: number;
  frame: Buffer;
  /** What the frame is, for failure messages and seed statistics. */
  label: string;
}

export interface SyntheticSecrets {
  /** Filler for every media payload (RTP, RTCP APP data, TURN-relayed RTP). */
  payloadMarker: Buffer;
  /** SDES key||salt (30 bytes) of each call party; base64 goes into a=crypto inline:. */
  keys: Buffer[];
  /** Text of an in-dialog SIP MESSAGE body (user content, like a payload). */
  messageBody: string;
}

export interface ExpectedCall {
  callId: string;
  /** RTP streams the capture carries with their SDP endpoints ("ip:port" as the sensor prints them: IPv6 unbracketed, like tshark). */
  streams: Array<{ src: string; dst: string; ssrc: number }>;
}

export interface SyntheticCapture {
  frames: SyntheticFrame[];
  calls: ExpectedCall[];
}

export const BASE_TS = 1_700_000_000;

function fill(marker: Buffer, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i++) out[i] = marker[i % marker.length]!;
  return out;
}

/** Default secrets for callers that only need valid frames (the fuzz seeds). */
export function defaultSecrets(): SyntheticSecrets {
  return {
    payloadMarker: Buffer.from('FUZZ-SEED-PAYLOAD-'),
    keys: [0, 1, 2, 3, 4, 5].map((i) => Buffer.alloc(30, 0x41 + i)),
    messageBody: 'hello from the fuzz seeds',
  };
}

export function buildSyntheticCapture(secrets: SyntheticSecrets): SyntheticCapture {
  const frames: SyntheticFrame[] = [];
  const calls: ExpectedCall[] = [];
  let ts = BASE_TS + 0.5;
  const push = (frame: Buffer, label: string, dt = 0.001, linkType = LINKTYPE_ETHERNET): void => {
    ts += dt;
    frames.push({ ts, linkType, frame, label });
  };
  const key = (i: number): string => secrets.keys[i % secrets.keys.length]!.toString('base64');
  const payload = (len: number): Buffer => fill(secrets.payloadMarker, len);

  /** Media both ways, 20 ms apart: RTP, with an RTCP compound every 25 packets. */
  const media = (a: { ip: string; port: number; ssrc: number }, b: { ip: string; port: number; ssrc: number }, count: number, label: string): void => {
    for (let i = 0; i < count; i++) {
      push(udpFrame(a.ip, a.port, b.ip, b.port, rtp(a.ssrc, 1000 + i, 160 * i, 8, payload(160), i === 0)), `${label} rtp a->b`, 0.01);
      push(udpFrame(b.ip, b.port, a.ip, a.port, rtp(b.ssrc, 5000 + i, 8000 + 160 * i, 8, payload(160), i === 0)), `${label} rtp b->a`, 0.01);
      if (i % 25 === 24) {
        push(udpFrame(a.ip, a.port + 1, b.ip, b.port + 1, rtcpCompound(a.ssrc, 'alice@e2e', payload(24))), `${label} rtcp a->b`);
        push(udpFrame(b.ip, b.port + 1, a.ip, a.port + 1, rtcpCompound(b.ssrc, 'bob@e2e', payload(24))), `${label} rtcp b->a`);
      }
    }
  };

  // ---- 1. SIP over UDP/IPv4 with SDES, fragmented 200 OK, in-dialog MESSAGE, RTP + RTCP.
  {
    const d: SipDialog = {
      callId: 'e2e-udp-call-1@10.20.1.2',
      transport: 'UDP',
      caller: { user: 'alice', ip: '10.20.1.2', sipPort: 5060, rtpPort: 16000, cryptoKey: key(0) },
      callee: { user: 'bob', ip: '10.20.2.2', sipPort: 5060, rtpPort: 26000, cryptoKey: key(1) },
    };
    const { setup, teardown } = sipDialog(d, { contentType: 'text/plain', body: secrets.messageBody });
    const send = (m: SipMsg, i: number): void => {
      const [s, t] = m.from === 'caller' ? [d.caller, d.callee] : [d.callee, d.caller];
      if (i === 3) {
        // The 200 OK with the answer, as IPv4 fragments of 200 payload bytes.
        const pkt = ipPacket(s.ip, t.ip, 17, udp(s.ip, s.sipPort, t.ip, t.sipPort, m.bytes), { id: 0x4242 });
        for (const f of ipv4Fragments(pkt, 200)) push(f, 'udp call 200 OK fragment');
      } else push(udpFrame(s.ip, s.sipPort, t.ip, t.sipPort, m.bytes), `udp call sip ${i}`);
    };
    setup.forEach(send);
    const a = { ip: d.caller.ip, port: d.caller.rtpPort, ssrc: 0x11111111 };
    const b = { ip: d.callee.ip, port: d.callee.rtpPort, ssrc: 0x22222222 };
    media(a, b, 60, 'udp call');
    teardown.forEach((m, i) => send(m, 100 + i));
    calls.push({
      callId: d.callId,
      streams: [
        { src: '10.20.1.2:16000', dst: '10.20.2.2:26000', ssrc: a.ssrc },
        { src: '10.20.2.2:26000', dst: '10.20.1.2:16000', ssrc: b.ssrc },
      ],
    });
  }

  // ---- 2. SIP over TCP, each message split over segments; RTP over UDP and RFC 4571 RTP over TCP.
  {
    const d: SipDialog = {
      callId: 'e2e-tcp-call-2@10.20.3.2',
      transport: 'TCP',
      caller: { user: 'carol', ip: '10.20.3.2', sipPort: 5062, rtpPort: 17000, cryptoKey: key(2) },
      callee: { user: 'dave', ip: '10.20.4.2', sipPort: 5060, rtpPort: 27000, cryptoKey: key(3) },
    };
    const { setup, teardown } = sipDialog(d);
    const c = d.caller;
    const e = d.callee;
    let cSeq = 1000;
    let eSeq = 9000;
    push(tcpFrame(c.ip, c.sipPort, e.ip, e.sipPort, cSeq++, 0, TCP_SYN, Buffer.alloc(0)), 'tcp syn');
    push(tcpFrame(e.ip, e.sipPort, c.ip, c.sipPort, eSeq++, cSeq, TCP_SYN | TCP_ACK, Buffer.alloc(0)), 'tcp syn-ack');
    push(tcpFrame(c.ip, c.sipPort, e.ip, e.sipPort, cSeq, eSeq, TCP_ACK, Buffer.alloc(0)), 'tcp ack');
    const sendTcp = (m: SipMsg): void => {
      const fromCaller = m.from === 'caller';
      // Three segments per message: the start line and a few header bytes, up to the middle, the rest.
      // (The first segment holds the whole start line: see known-gaps.test.ts for why.)
      const firstCut = m.bytes.indexOf('\r\n') + 10;
      const cuts = [0, firstCut, Math.max(firstCut + 1, Math.floor(m.bytes.length / 2)), m.bytes.length];
      for (let k = 0; k + 1 < cuts.length; k++) {
        const part = m.bytes.subarray(cuts[k], cuts[k + 1]);
        if (fromCaller) {
          push(tcpFrame(c.ip, c.sipPort, e.ip, e.sipPort, cSeq, eSeq, TCP_ACK | TCP_PSH, part), 'tcp sip segment');
          cSeq += part.length;
        } else {
          push(tcpFrame(e.ip, e.sipPort, c.ip, c.sipPort, eSeq, cSeq, TCP_ACK | TCP_PSH, part), 'tcp sip segment');
          eSeq += part.length;
        }
      }
    };
    setup.forEach(sendTcp);
    const a = { ip: c.ip, port: c.rtpPort, ssrc: 0x33333333 };
    const b = { ip: e.ip, port: e.rtpPort, ssrc: 0x44444444 };
    media(a, b, 40, 'tcp call');
    // RFC 4571: RTP framed on a TCP connection to the callee's SDP media endpoint.
    let mSeq = 1;
    push(tcpFrame(c.ip, 17002, e.ip, e.rtpPort, mSeq++, 0, TCP_SYN, Buffer.alloc(0)), 'rfc4571 syn');
    for (let i = 0; i < 10; i++) {
      const f = rfc4571(rtp(0x55555555, 300 + i, 160 * i, 8, payload(160)));
      push(tcpFrame(c.ip, 17002, e.ip, e.rtpPort, mSeq, 1, TCP_ACK | TCP_PSH, f), 'rfc4571 rtp', 0.02);
      mSeq += f.length;
    }
    teardown.forEach(sendTcp);
    push(tcpFrame(c.ip, c.sipPort, e.ip, e.sipPort, cSeq, eSeq, TCP_FIN | TCP_ACK, Buffer.alloc(0)), 'tcp fin');
    calls.push({
      callId: d.callId,
      streams: [
        { src: '10.20.3.2:17000', dst: '10.20.4.2:27000', ssrc: a.ssrc },
        { src: '10.20.4.2:27000', dst: '10.20.3.2:17000', ssrc: b.ssrc },
      ],
    });
  }

  // ---- 3. SIP over IPv6 with a fragmented INVITE.
  {
    const d: SipDialog = {
      callId: 'e2e-v6-call-3@fd00:20::5',
      transport: 'UDP',
      caller: { user: 'erin', ip: 'fd00:20::5', sipPort: 5060, rtpPort: 18000, cryptoKey: key(4) },
      callee: { user: 'frank', ip: 'fd00:20::6', sipPort: 5060, rtpPort: 28000, cryptoKey: key(5) },
    };
    const { setup, teardown } = sipDialog(d);
    const send = (m: SipMsg, i: number): void => {
      const [s, t] = m.from === 'caller' ? [d.caller, d.callee] : [d.callee, d.caller];
      if (i === 0) {
        const pkt = ipPacket(s.ip, t.ip, 17, udp(s.ip, s.sipPort, t.ip, t.sipPort, m.bytes));
        for (const f of ipv6Fragments(pkt, 256)) push(f, 'v6 INVITE fragment');
      } else push(udpFrame(s.ip, s.sipPort, t.ip, t.sipPort, m.bytes), `v6 call sip ${i}`);
    };
    setup.forEach(send);
    const a = { ip: d.caller.ip, port: d.caller.rtpPort, ssrc: 0x66666666 };
    const b = { ip: d.callee.ip, port: d.callee.rtpPort, ssrc: 0x77777777 };
    media(a, b, 30, 'v6 call');
    teardown.forEach((m, i) => send(m, 100 + i));
    calls.push({
      callId: d.callId,
      streams: [
        { src: 'fd00:20::5:18000', dst: 'fd00:20::6:28000', ssrc: a.ssrc },
        { src: 'fd00:20::6:28000', dst: 'fd00:20::5:18000', ssrc: b.ssrc },
      ],
    });
  }

  // ---- 4. STUN, TURN Send indication and ChannelData carrying RTP; DTLS ClientHello.
  {
    const client = '10.20.5.2';
    const server = '10.20.6.2';
    const txid = Buffer.from('0123456789ab');
    push(udpFrame(client, 50000, server, 3478, stun(STUN_BINDING_REQUEST, txid, [[STUN_ATTR_USERNAME, Buffer.from('e2e:user')], [STUN_ATTR_SOFTWARE, Buffer.from('tapwatch-e2e')]])), 'stun binding');
    for (let i = 0; i < 20; i++) {
      const inner = rtp(0x88888888, 700 + i, 160 * i, 8, payload(160));
      if (i < 5) {
        push(udpFrame(client, 50000, server, 3478, stun(STUN_SEND_INDICATION, txid, [[STUN_ATTR_XOR_PEER_ADDRESS, xorPeerAddressV4('10.20.7.2', 40000)], [STUN_ATTR_DATA, inner]])), 'turn send indication', 0.02);
      } else {
        push(udpFrame(client, 50000, server, 3478, channelData(0x4001, inner)), 'turn channeldata', 0.02);
      }
    }
    const random = fill(Buffer.from('dtls-random-'), 32);
    push(udpFrame('10.20.5.2', 51000, '10.20.6.2', 52000, dtlsClientHello(random)), 'dtls clienthello');
  }

  // ---- 5. Tunnels: VXLAN(SIP INVITE + RTP), GRE(RTP), HEP3(SIP, RTCP).
  {
    const d: SipDialog = {
      callId: 'e2e-tunnel-call-4@10.30.1.2',
      transport: 'UDP',
      caller: { user: 'gina', ip: '10.30.1.2', sipPort: 5060, rtpPort: 19000 },
      callee: { user: 'hank', ip: '10.30.2.2', sipPort: 5060, rtpPort: 29000 },
    };
    const { setup } = sipDialog(d);
    const invite = setup[0]!.bytes;
    push(vxlanFrame('192.0.2.10', '192.0.2.20', 77, udpFrame(d.caller.ip, 5060, d.callee.ip, 5060, invite)), 'vxlan sip');
    for (let i = 0; i < 10; i++) {
      push(vxlanFrame('192.0.2.10', '192.0.2.20', 77, udpFrame(d.caller.ip, 19000, d.callee.ip, 29000, rtp(0x99999999, i, 160 * i, 8, payload(160)))), 'vxlan rtp', 0.02);
      const innerIp = ipPacket(d.callee.ip, d.caller.ip, 17, udp(d.callee.ip, 29000, d.caller.ip, 19000, rtp(0xaaaaaaaa, i, 160 * i, 8, payload(160))));
      push(greFrame('192.0.2.30', '192.0.2.40', innerIp), 'gre rtp', 0.02);
    }
    const hepInner = { src: d.caller.ip, sport: 5060, dst: d.callee.ip, dport: 5060, proto: 17 };
    push(hep3Frame('192.0.2.50', '192.0.2.60', hepInner, 1, invite), 'hep3 sip');
    push(hep3Frame('192.0.2.50', '192.0.2.60', { ...hepInner, sport: 19001, dport: 29001 }, 5, rtcpCompound(0x99999999, 'gina@e2e', payload(16))), 'hep3 rtcp');
    // An IPv4-in-Ethernet frame with an unknown EtherType and an ARP, for the non-IP path.
    push(ethernet(0x0806, Buffer.alloc(28)), 'arp');
  }
  return { frames, calls };
}

export function writeSyntheticPcap(file: string, frames: SyntheticFrame[]): void {
  const w = new PcapWriter(file, { nanosecond: true });
  for (const f of frames) {
    const sec = Math.floor(f.ts);
    w.writePacket(sec, Math.min(999_999_999, Math.round((f.ts - sec) * 1e9)), f.frame, 0, f.frame.length);
  }
  w.close();
}
