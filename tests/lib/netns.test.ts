// Live test of the namespace lab (tests/lib/netns.ts) and the sipp call
// helper (tests/lib/sipp.ts). Needs root and `ip netns`; skipped otherwise.
// Traffic stays inside the namespaces the test creates.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { NetnsLab, buildStandardLab, listNamespaces, netnsAvailable } from './netns.js';
import { renderTemplate, runSippCall, sippAvailable } from './sipp.js';

const canRun = netnsAvailable();
const hasTool = (t: string): boolean => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0;

/** Counts pcap records and returns the UDP destination ports seen (Ethernet/IPv4 only). */
function pcapUdpDstPorts(file: string): { records: number; ports: Map<number, number> } {
  const b = readFileSync(file);
  const ports = new Map<number, number>();
  let records = 0;
  for (let o = 24; o + 16 <= b.length; ) {
    const len = b.readUInt32LE(o + 8);
    const f = o + 16;
    records++;
    if (len >= 42 && b.readUInt16BE(f + 12) === 0x0800 && b[f + 23] === 17) {
      const ihl = (b[f + 14] & 0x0f) * 4;
      const dport = b.readUInt16BE(f + 14 + ihl + 2);
      ports.set(dport, (ports.get(dport) ?? 0) + 1);
    }
    o = f + len;
  }
  return { records, ports };
}

describe('renderTemplate', () => {
  it('replaces placeholders and drops lines whose value is empty', () => {
    const t = 'm=audio 1 @PROTO@ 8\n      @CRYPTO@\na=sendrecv';
    expect(renderTemplate(t, { PROTO: 'RTP/AVP', CRYPTO: '' })).toBe('m=audio 1 RTP/AVP 8\na=sendrecv');
    expect(renderTemplate(t, { PROTO: 'RTP/SAVP', CRYPTO: 'a=crypto:1 X' })).toContain('      a=crypto:1 X\n');
  });
});

describe.skipIf(!canRun)('NetnsLab (root + ip netns)', () => {
  const labs: NetnsLab[] = [];
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tw-netns-test-'));
  afterAll(() => {
    for (const l of labs) l.teardown();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds two namespaces, pings across, and tears down without leaks', () => {
    const lab = new NetnsLab('ping');
    labs.push(lab);
    try {
      lab.ns('a');
      lab.ns('b');
      lab.link('a', 'eth0', 'b', 'eth0');
      lab.addr('a', 'eth0', '10.10.9.1/24');
      lab.addr('b', 'eth0', '10.10.9.2/24');
      expect(listNamespaces()).toEqual(expect.arrayContaining([lab.nsName('a'), lab.nsName('b')]));
      if (hasTool('ping')) {
        const r = lab.tryExec('a', ['ping', '-c', '2', '-W', '2', '10.10.9.2']);
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/2 received/);
      }
      // UDP both ways with node itself (works without iputils-ping).
      const echo = lab.bg('b', [process.execPath, '-e',
        "const s=require('dgram').createSocket('udp4');s.on('message',(m,r)=>{s.send(m,r.port,r.address,()=>process.exit(0))});s.bind(7777,'10.10.9.2');setTimeout(()=>process.exit(2),8000)"]);
      spawnSync('sleep', ['0.5']);
      const c = lab.tryExec('a', [process.execPath, '-e',
        "const s=require('dgram').createSocket('udp4');s.on('message',m=>{console.log(String(m));process.exit(0)});s.send('tw-hello',7777,'10.10.9.2');setTimeout(()=>process.exit(3),4000)"]);
      expect(c.stdout.trim()).toBe('tw-hello');
      expect(echo.pid).toBeGreaterThan(0);
    } finally {
      lab.teardown();
      lab.teardown(); // twice is harmless
    }
    expect(listNamespaces().filter((n) => n.startsWith(lab.prefix))).toEqual([]);
  });

  it.skipIf(!sippAvailable() || !hasTool('tcpdump'))('captures a sipp G.711 call on the SPAN port', async () => {
    const lab = new NetnsLab('sipp');
    labs.push(lab);
    try {
      buildStandardLab(lab);
      const file = path.join(tmp, 'call.pcap');
      const cap = await lab.capture('s', 'span1', file);
      const res = await runSippCall({
        lab, workDir: tmp, uacNs: 'a', uacIp: '10.10.1.2', uasNs: 'b', uasIp: '10.10.2.2', durationMs: 1500,
      });
      await cap.stop();
      expect(res.uacExit, readFileSync(res.uacLog, 'utf8').slice(-2000)).toBe(0);
      const { records, ports } = pcapUdpDstPorts(file);
      // SIP both ways, RTP both ways (A: 30 ms packets, B: 20 ms) for 1.5 s.
      expect(ports.get(5060) ?? 0).toBeGreaterThanOrEqual(6);
      expect(ports.get(20000) ?? 0).toBeGreaterThan(30);
      expect(ports.get(10000) ?? 0).toBeGreaterThan(50);
      expect(records).toBeLessThan(1000);
    } finally {
      lab.teardown();
    }
    expect(listNamespaces().filter((n) => n.startsWith(lab.prefix))).toEqual([]);
  }, 60_000);
});
