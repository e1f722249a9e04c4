import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayCryptoStrippedDetector, relayCryptoStripped } from '../../../sensor/src/detect/heuristics/relay-crypto-stripped.js';
import { fakeStream, makeCall, sdpObs, simpleSdp, unitContext } from '../fixtures/relay-unit.js';
import { SCENARIOS, describeRelays, runRelay, tmpDir } from '../fixtures/relay-run.js';
import { sbcScene } from '../fixtures/relay-scenarios.js';

const CRYPTO = 'crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz';

describe('relay-crypto-stripped (unit, signalling legs of one Call-ID)', () => {
  it('offer secure on A -> P, cleartext on P -> B: crypto_stripped with the shared hop as relay', () => {
    const u = unitContext();
    const det = new RelayCryptoStrippedDetector(u.ctx, { ...relayCryptoStripped.defaults });
    const call = makeCall('cs1');
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000, [CRYPTO], 'RTP/SAVP'), { ts: 100, src: '10.1.0.2:5060', dst: '10.0.0.5:5060' }));
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.0.0.5', 7000), { ts: 100.01, src: '10.0.0.5:5060', dst: '10.2.0.2:5060' }));
    const f = u.sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.reason).toBe('crypto_stripped');
    expect(f[0]!.relay).toBe('10.0.0.5:7000');
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.evidence.secureProto).toBe('RTP/SAVP');
    expect(f[0]!.evidence.clearProto).toBe('RTP/AVP');
  });

  it('the same SDP on two legs (a proxy that keeps it, a HEP copy) is silent; so is one leg changing its mind', () => {
    const u = unitContext();
    const det = new RelayCryptoStrippedDetector(u.ctx, { ...relayCryptoStripped.defaults });
    const call = makeCall('cs2');
    const body = simpleSdp('10.1.0.2', 10000, [CRYPTO], 'RTP/SAVP');
    det.onSdp(sdpObs(call, 'caller', body, { ts: 100, src: '10.1.0.2:5060', dst: '10.0.0.5:5060' }));
    det.onSdp(sdpObs(call, 'caller', body, { ts: 100.01, src: '10.0.0.5:5060', dst: '10.2.0.2:5060' }));
    // A later re-offer without SRTP on one leg is renegotiation, not a copy of the other leg's SDP.
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000), { ts: 130, src: '10.1.0.2:5060', dst: '10.0.0.5:5060' }));
    expect(u.sink.ofType('unexpected_relay')).toHaveLength(0);
  });

  it('legs that share no host are not correlated', () => {
    const u = unitContext();
    const det = new RelayCryptoStrippedDetector(u.ctx, { ...relayCryptoStripped.defaults });
    const call = makeCall('cs3');
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.1.0.2', 10000, [CRYPTO], 'RTP/SAVP'), { ts: 100, src: '10.1.0.2:5060', dst: '10.0.0.5:5060' }));
    det.onSdp(sdpObs(call, 'caller', simpleSdp('10.3.0.2', 7000), { ts: 100.01, src: '10.3.0.2:5060', dst: '10.2.0.2:5060' }));
    expect(u.sink.ofType('unexpected_relay')).toHaveLength(0);
  });
});

describe('relay-crypto-stripped (unit, media correlation)', () => {
  function setup() {
    const u = unitContext();
    const det = new RelayCryptoStrippedDetector(u.ctx, { ...relayCryptoStripped.defaults });
    const c1 = makeCall('leg1');
    const c2 = makeCall('leg2');
    const ex = u.ctx.calls.expectations;
    const add = (key: string, call: typeof c1, secure: boolean) => ex.add(key, { call, party: 'callee', media: 'audio', proto: secure ? 'RTP/SAVP' : 'RTP/AVP', secure, kind: 'rtp', clockRates: new Map(), ts: 100 });
    add('10.9.0.2:60000', c1, true);
    add('10.2.0.2:20000', c2, false);
    return { ...u, det, c1, c2 };
  }

  it('same SSRC and sequence into the relay as SRTP and out of it as RTP: finding', () => {
    const { det, c1, c2, sink } = setup();
    det.onStreamStarted(fakeStream({ src: '10.1.0.2:10000', dst: '10.9.0.2:60000', ssrc: 5, call: c1, lastSeq: 1200 }));
    det.onStreamStarted(fakeStream({ src: '10.9.0.2:60002', dst: '10.2.0.2:20000', ssrc: 5, call: c2, lastSeq: 1199 }));
    det.onTick(103);
    const f = sink.ofType('unexpected_relay');
    expect(f).toHaveLength(1);
    expect(f[0]!.relay).toBe('10.9.0.2:60002');
    expect(f[0]!.callId).toBe('leg1');
    expect(f[0]!.evidence.clearCallId).toBe('leg2');
  });

  it('an SSRC collision on unrelated flows (no shared host, far sequence numbers) is silent', () => {
    const { det, c1, c2, sink } = setup();
    det.onStreamStarted(fakeStream({ src: '10.1.0.2:10000', dst: '10.9.0.2:60000', ssrc: 6, call: c1, lastSeq: 1200 }));
    det.onStreamStarted(fakeStream({ src: '10.7.0.2:60002', dst: '10.2.0.2:20000', ssrc: 6, call: c2, lastSeq: 1199 }));
    det.onStreamStarted(fakeStream({ src: '10.9.0.2:60004', dst: '10.2.0.2:20000', ssrc: 6, call: c2, lastSeq: 40000 }));
    det.onTick(103);
    expect(sink.ofType('unexpected_relay')).toHaveLength(0);
  });
});

const dir = tmpDir();
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('relay-crypto-stripped (end to end)', () => {
  it('SBC with SRTP on leg 1 and RTP on leg 2: crypto_stripped, relay = the SBC on the cleartext side', async () => {
    const { relays } = await runRelay(sbcScene(path.join(dir, 'sbc-strip.pcap'), { secureLeg1: true }));
    expect(relays, describeRelays(relays)).toHaveLength(1);
    expect(relays[0]!.reason).toBe('crypto_stripped');
    expect(relays[0]!.relay).toBe('10.9.0.2:60002');
    expect(relays[0]!.callId).toBe('sbc-leg1@test');
  });

  it('SBC anchoring with RTP on both legs, each announced in SDP: silent', async () => {
    const { relays } = await runRelay(sbcScene(path.join(dir, 'sbc-plain.pcap'), { secureLeg1: false }));
    expect(relays, describeRelays(relays)).toHaveLength(0);
  });

  it('key_exposure_sdes.pcap (SRTP on both sides of one call): silent', async () => {
    const { relays } = await runRelay(path.join(SCENARIOS, 'key_exposure_sdes.pcap'), [relayCryptoStripped as never]);
    expect(relays, describeRelays(relays)).toHaveLength(0);
  });
});
