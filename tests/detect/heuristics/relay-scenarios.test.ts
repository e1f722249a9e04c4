/**
 * All five unexpected_relay heuristics over the labelled scenario captures
 * and the real captures in ../shared/corpus: the only finding is the true one
 * in relay_dnat_midcall. heplify_rtp_rtcp_sip_ipv4_udp (the same SSRCs on an
 * SDP-announced leg and on 200.57.7.196:40378 <-> 200.57.7.199:4800) is the
 * media anchor 200.57.7.196 bridging to a device signalled outside SIP (see
 * docs/heuristics/relay-unsignaled.md): not a relay finding.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CORPUS, SCENARIOS, describeRelays, runRelay } from '../fixtures/relay-run.js';

describe('unexpected_relay over the labelled scenarios', () => {
  for (const name of ['normal_call', 'span_doubles', 'reinvite_hold', 'copy_nft_dup', 'copy_vxlan_mirred', 'key_exposure_sdes', 'siprec_declared', 'hep_siptrace']) {
    it(`silent: ${name}`, async () => {
      const { relays } = await runRelay(path.join(SCENARIOS, `${name}.pcap`));
      expect(relays, describeRelays(relays)).toHaveLength(0);
    });
  }

  it('relay_dnat_midcall: exactly the labelled relay', async () => {
    const label = JSON.parse(fs.readFileSync(path.join(SCENARIOS, 'relay_dnat_midcall.json'), 'utf8')) as { mustFind: Array<{ type: string; relay: string }> };
    const want = label.mustFind.filter((m) => m.type === 'unexpected_relay').map((m) => m.relay);
    const { relays } = await runRelay(path.join(SCENARIOS, 'relay_dnat_midcall.pcap'));
    expect(relays.map((r) => r.relay)).toEqual(want);
  });
});

const corpusFiles = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).filter((f) => /\.pcap(ng)?$/.test(f)).sort() : [];

describe.skipIf(corpusFiles.length === 0)('unexpected_relay over ../shared/corpus (real captures: silent)', () => {
  for (const f of corpusFiles) {
    it(`silent: ${f}`, async () => {
      const { relays } = await runRelay(path.join(CORPUS, f));
      expect(relays, describeRelays(relays)).toHaveLength(0);
    });
  }

  it('heplify_rtp_rtcp_sip_ipv4_udp: the anchor legs are SDP-linked streams the heuristics saw', async () => {
    const f = path.join(CORPUS, 'heplify_rtp_rtcp_sip_ipv4_udp.pcap');
    if (!fs.existsSync(f)) return;
    const { sink } = await runRelay(f);
    const started = sink.ofType('stream_started');
    // The SDP-announced leg is tied to the call; the 200.57.7.199 leg carries the same SSRCs but no call.
    expect(started.some((s) => s.src === '200.57.7.196:40376' && s.callId !== null)).toBe(true);
    expect(started.some((s) => s.src === '200.57.7.199:4800' && s.ssrc === 0x58f33dea)).toBe(true);
  });
});
