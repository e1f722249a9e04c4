/**
 * Live capture on the loopback interface only: the test sends UDP datagrams
 * to 127.0.0.1 from this process and checks that both backends see each of
 * them once, with the right lengths and bytes, in time order, and that the
 * kernel counters are readable. Needs root or CAP_NET_RAW; skips otherwise.
 */
import * as dgram from 'node:dgram';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTapcapAddon, openLiveCapture, VOIP_BPF_FILTER, VOIP_BPF_FILTER_NO_VLAN } from '../../sensor/src/capture/live-capture.js';
import { CaptureError, type PacketSource } from '../../sensor/src/capture/packet-source.js';
import { LINKTYPE_ETHERNET } from '../../sensor/src/capture/link-types.js';
import { collect } from './capture-builders.js';

/** Why live capture cannot run here, or null when it can. */
function captureBlocker(backend: 'tapcap' | 'cap'): string | null {
  if (backend === 'tapcap' && loadTapcapAddon() === null) return 'tapcap addon not built (node sensor/native/build.mjs)';
  try {
    const src = openLiveCapture({ device: 'lo', backend, filter: 'udp and port 9' });
    src.stop();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const sockets: dgram.Socket[] = [];
afterAll(() => {
  for (const s of sockets) s.close();
});

function send(sock: dgram.Socket, payload: Buffer, port: number): Promise<void> {
  return new Promise((resolve, reject) => sock.send(payload, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())));
}

async function waitFor(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

for (const backend of ['tapcap', 'cap'] as const) {
  const blocker = captureBlocker(backend);
  if (blocker !== null) console.warn(`live capture test (${backend}) skipped: ${blocker}`);

  describe.skipIf(blocker !== null)(`live capture on lo (${backend})`, () => {
    it('captures every datagram sent to 127.0.0.1 with lengths, bytes and monotone timestamps', async () => {
      const port = 40000 + Math.floor(Math.random() * 20000);
      const N = 300;
      const src: PacketSource = openLiveCapture({ device: 'lo', filter: `udp and port ${port}`, backend });
      expect(src.kind).toBe('live');
      expect(src.name).toBe('lo');
      let seen = 0;
      const done = collect(src, (n) => (seen = n));
      const sock = dgram.createSocket('udp4');
      sockets.push(sock);
      const payloads: Buffer[] = [];
      for (let i = 0; i < N; i++) {
        const p = Buffer.alloc(2 + ((i * 7) % 1400), i & 0xff);
        p.writeUInt16BE(i, 0);
        payloads.push(p);
        await send(sock, p, port);
      }
      await waitFor(() => seen >= N, 5000);
      const statsBefore = src.stats();
      src.stop();
      const got = await done;

      expect(got).toHaveLength(N);
      for (let i = 0; i < N; i++) {
        const g = got[i]!;
        expect(g.linkType).toBe(LINKTYPE_ETHERNET); // lo is DLT_EN10MB on Linux
        expect(g.capLength).toBe(14 + 20 + 8 + payloads[i]!.length);
        expect(g.wireLength).toBe(g.capLength);
        expect(g.frameNumber).toBe(i + 1);
        // UDP payload starts after Ethernet + IPv4 (no options from the kernel) + UDP.
        expect(g.hex.slice(2 * 42)).toBe(payloads[i]!.toString('hex'));
        if (i > 0) {
          const prev = got[i - 1]!;
          expect(g.tsSec > prev.tsSec || (g.tsSec === prev.tsSec && g.tsNsec >= prev.tsNsec)).toBe(true);
        }
        expect(Math.abs(g.ts - Date.now() / 1000)).toBeLessThan(60);
      }
      expect(statsBefore.packets).toBe(N);
      expect(typeof statsBefore.kernelReceived).toBe('number');
      expect(statsBefore.kernelDrops).toBe(0);
      expect(statsBefore.ifDrops).toBe(0);
      if (backend === 'tapcap') {
        expect(statsBefore.dropsUnavailable).toBe(false);
        expect(statsBefore.kernelReceived).toBeGreaterThanOrEqual(N);
        // Counters survive stop() (read before the handle closed).
        expect(src.stats().kernelReceived).toBeGreaterThanOrEqual(N);
      } else {
        expect(statsBefore.dropsUnavailable).toBe(true);
      }
    }, 20000);

    it('rejects an invalid filter at open time with CaptureError ELIVE', () => {
      try {
        openLiveCapture({ device: 'lo', filter: 'udp and port', backend });
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CaptureError);
        expect((err as CaptureError).code).toBe('ELIVE');
      }
    });

    it('rejects an interface that does not exist', () => {
      expect(() => openLiveCapture({ device: 'tapwatch-no-such-if0', backend })).toThrowError(CaptureError);
    });

    it('compiles VOIP_BPF_FILTER on lo and VOIP_BPF_FILTER_NO_VLAN on any', () => {
      openLiveCapture({ device: 'lo', filter: VOIP_BPF_FILTER, backend }).stop();
      openLiveCapture({ device: 'any', filter: VOIP_BPF_FILTER_NO_VLAN, backend }).stop();
      expect(() => openLiveCapture({ device: 'any', filter: VOIP_BPF_FILTER, backend })).toThrowError(/VLAN/);
    });

    it('lets SIP, RTP-like UDP and VXLAN through VOIP_BPF_FILTER but not low-port UDP', async () => {
      const src = openLiveCapture({ device: 'lo', filter: `(${VOIP_BPF_FILTER}) and dst host 127.0.0.1`, backend });
      const ports: number[] = [];
      let seen = 0;
      const done = collect(src, (n) => (seen = n));
      const sock = dgram.createSocket('udp4');
      sockets.push(sock);
      await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', () => resolve())); // ephemeral source port >= 1024
      for (const port of [5060, 4789, 40000 + Math.floor(Math.random() * 20000), 53, 123]) {
        ports.push(port);
        await send(sock, Buffer.from('probe'), port);
      }
      await waitFor(() => seen >= 3, 3000);
      await new Promise((r) => setTimeout(r, 100));
      src.stop();
      const got = await done;
      const dstPorts = got.filter((g) => g.hex.length >= 2 * 42).map((g) => parseInt(g.hex.slice(72, 76), 16));
      expect(dstPorts).toContain(5060);
      expect(dstPorts).toContain(4789);
      expect(dstPorts).toContain(ports[2]);
      expect(dstPorts).not.toContain(53);
      expect(dstPorts).not.toContain(123);
    });
  });
}

describe.skipIf(captureBlocker('tapcap') !== null)('tapcap specifics', () => {
  it('honours snaplen and reports the original length', async () => {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const src = openLiveCapture({ device: 'lo', filter: `udp and port ${port}`, snaplen: 100, bufferSizeMiB: 4 });
    let seen = 0;
    const done = collect(src, (n) => (seen = n));
    const sock = dgram.createSocket('udp4');
    sockets.push(sock);
    await send(sock, Buffer.alloc(1000, 0x55), port);
    await waitFor(() => seen >= 1, 5000);
    src.stop();
    const got = await done;
    expect(got).toHaveLength(1);
    expect(got[0]!.capLength).toBe(100);
    expect(got[0]!.wireLength).toBe(1042);
    expect(src.warnings).toEqual([]);
  });

  it('addon: a packet that does not fit the caller buffer is kept for the next dispatch, in order', async () => {
    const addon = loadTapcapAddon()!;
    const port = 40000 + Math.floor(Math.random() * 20000);
    const h = new addon.Tapcap();
    h.open('lo', { snaplen: 65535, bufferSize: 1 << 22, promisc: false, immediate: true, timeoutMs: 10, filter: `udp and port ${port}` });
    expect([1e6, 1e9]).toContain(h.tstampPrecision());
    const sock = dgram.createSocket('udp4');
    sockets.push(sock);
    for (let i = 0; i < 20; i++) await send(sock, Buffer.alloc(1000, i), port);
    await new Promise((r) => setTimeout(r, 100));
    const small = Buffer.alloc(3 * 1100); // room for 3 records of 16 + 1044 bytes
    const order: number[] = [];
    for (let calls = 0; calls < 50 && order.length < 20; calls++) {
      const n = h.dispatch(small, 1000);
      expect(n).toBeGreaterThanOrEqual(0);
      expect(n).toBeLessThanOrEqual(3);
      let p = 0;
      for (let k = 0; k < n; k++) {
        const cap = small.readUInt32LE(p + 8);
        expect(cap).toBe(1042);
        expect(small.readUInt32LE(p + 12)).toBe(1042);
        order.push(small[p + 16 + 42]!);
        p += 16 + ((cap + 3) & ~3);
      }
    }
    const stats = h.stats()!;
    h.close();
    expect(order).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(stats.dropped).toBe(0);
  });

  it('stop() before any traffic resolves run()', async () => {
    const src = openLiveCapture({ device: 'lo', filter: 'udp and port 9' });
    const done = collect(src);
    setTimeout(() => src.stop(), 50);
    await expect(done).resolves.toEqual([]);
  });
});
