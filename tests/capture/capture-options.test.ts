/**
 * Kernel-side capture options (sensor/src/capture/capture-options.ts): the
 * buffer sizing formula, and the default VoIP filter, compiled by libpcap for
 * real on Ethernet-framed `lo` and on `any` (Linux cooked), with the
 * fallbacks a link type needs. Compiling needs CAP_NET_RAW (root).
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUFFER_MIB,
  KERNEL_FRAME_OVERHEAD,
  VOIP_BPF_FILTER,
  VOIP_BPF_FILTER_IP_ONLY,
  VOIP_BPF_FILTER_NO_VLAN,
  defaultFilterCandidates,
  recommendedBufferMiB,
} from '../../sensor/src/capture/capture-options.js';
import { loadTapcapAddon, openLiveCapture } from '../../sensor/src/capture/live-capture.js';

describe('buffer sizing', () => {
  it('is rate x (frame + kernel overhead) x stall, in MiB rounded up', () => {
    // 200,000 G.711 frames/s (214 bytes) for 1 s.
    expect(recommendedBufferMiB(200_000, 214, 1)).toBe(Math.ceil((200_000 * (214 + KERNEL_FRAME_OVERHEAD)) / 1048576));
    expect(recommendedBufferMiB(200_000, 214, 1)).toBeLessThanOrEqual(DEFAULT_BUFFER_MIB);
    expect(recommendedBufferMiB(1_000_000, 1500, 0.5)).toBeGreaterThan(700);
  });
});

describe('default VoIP filter', () => {
  it('tries the full filter first, and skips vlan/mpls on `any`', () => {
    expect(defaultFilterCandidates('eth0')).toEqual([VOIP_BPF_FILTER, VOIP_BPF_FILTER_NO_VLAN, VOIP_BPF_FILTER_IP_ONLY]);
    expect(defaultFilterCandidates('any')[0]).toBe(VOIP_BPF_FILTER_NO_VLAN);
    // The encapsulations a copy hides in stay in: GRE/ERSPAN, VXLAN, Geneve, TZSP, HEP, fragments, ARP.
    for (const part of ['ip proto 47', 'udp port 4789', 'udp port 6081', 'udp port 37008', 'port 9060', 'ip[6:2] & 0x3fff != 0', 'ip6 proto 44', 'arp', 'vlan and', 'ether proto 0x8847']) {
      expect(VOIP_BPF_FILTER).toContain(part);
    }
  });

  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  for (const backend of ['tapcap', 'cap'] as const) {
    const skip = !root || (backend === 'tapcap' && loadTapcapAddon() === null);
    it.skipIf(skip)(`${backend}: compiles on lo (Ethernet) and on any (cooked, by fallback)`, () => {
      const lo = openLiveCapture({ device: 'lo', voipFilter: true, backend }) as unknown as { filter: string; warnings: string[]; stop(): void };
      expect(lo.filter).toBe(VOIP_BPF_FILTER);
      lo.stop();
      const any = openLiveCapture({ device: 'any', voipFilter: true, backend }) as unknown as { filter: string; stop(): void };
      expect(any.filter).toBe(VOIP_BPF_FILTER_NO_VLAN);
      any.stop();
      // An explicit filter is never replaced; '' captures everything.
      const all = openLiveCapture({ device: 'lo', filter: '', voipFilter: true, backend }) as unknown as { filter: string; stop(): void };
      expect(all.filter).toBe('');
      all.stop();
    });
  }
});
