import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeclaredRecordingDetector, declaredRecordingHeuristic } from '../../../sensor/src/detect/heuristics/declared-recording.js';
import type { HeuristicModule } from '../../../sensor/src/detect/detector.js';
import { runSensorOnFile } from '../../lib/run-sensor.js';
import { directDialog, renderSip, sdp, withHeaders } from '../fixtures/sip-pcap.js';
import { expectLabel, expectValidEvents, makeCall, makeContext, runScenario, sdpObs, sipObs } from '../fixtures/sip-harness.js';
import { writeCiscoBib, writePDcsLaes, writeSiprecTcp, writeSiptraceRawCopy } from '../fixtures/sip-scenarios.js';

const SRC = '10.0.1.2:5070';
const SRS = '10.0.3.2:5060';

function setup() {
  const { ctx, sink } = makeContext();
  return { ctx, sink, det: new DeclaredRecordingDetector(ctx, { ...declaredRecordingHeuristic.defaults }) };
}

function siprecInvite(opts: { require?: boolean; srcTag?: boolean; metadata?: boolean; srs?: boolean } = {}): string {
  const b = 'bnd';
  const body =
    `--${b}\r\nContent-Type: application/sdp\r\n\r\n${sdp('10.0.1.2', 10100, { direction: 'sendonly', label: '1' })}\r\n` +
    (opts.metadata === false ? '' : `--${b}\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n<recording xmlns="urn:ietf:params:xml:ns:recording:1"/>\r\n`) +
    `--${b}--\r\n`;
  return renderSip({
    startLine: `INVITE sip:srs@${SRS} SIP/2.0`,
    headers: [
      ['Via', `SIP/2.0/UDP ${SRC};branch=z9hG4bK-1`],
      ['From', `<sip:src@${SRC}>;tag=a1`],
      ['To', `<sip:srs@${SRS}>`],
      ['Call-ID', 'rs-1'],
      ['CSeq', '1 INVITE'],
      ['Contact', `<sip:src@${SRC}>${opts.srcTag === false ? '' : opts.srs ? ';+sip.srs' : ';+sip.src'}`],
      ...(opts.require === false ? [] : [['Require', 'siprec'] as [string, string]]),
    ],
    body,
    contentType: `multipart/mixed;boundary=${b}`,
  });
}

describe('declared-recording', () => {
  it('SIPREC: reports the SRS, then declares its media endpoints from its answer', () => {
    const { ctx, sink, det } = setup();
    const call = makeCall('rs-1');
    det.onSdp(sdpObs(call, sdp('10.0.1.2', 10100, { direction: 'sendonly', label: '1' }), 100, SRC, SRS, 'caller'));
    det.onSip(sipObs(call, siprecInvite(), 100, SRC, SRS));
    let f = sink.ofType('declared_recording');
    expect(f).toHaveLength(1);
    expect(f[0]!.kind).toBe('siprec');
    expect(f[0]!.recorder).toBe(SRS);
    expect(f[0]!.severity).toBe('info');
    expect(f[0]!.confidence).toBe(1);
    expect(f[0]!.evidence.markers).toEqual(['require:siprec', '+sip.src', 'rs-metadata', 'recording-session']);
    expect(f[0]!.evidence.labelledStreams).toBe(1);
    expect(ctx.recorders.lookup('10.0.3.2')?.kind).toBe('siprec');

    // The SRS answers with where it wants the media (possibly another host).
    const answer = sdpObs(call, sdp('10.0.3.5', 30000, { direction: 'recvonly' }), 100.1, SRS, SRC, 'callee');
    answer.offers = [{ role: 'answer', party: 'callee', ts: 100.1, media: 'audio', endpoint: '10.0.3.5:30000', proto: 'RTP/AVP', direction: 'recvonly', payloadTypes: [8], secure: false, keying: 'none', candidates: [] }];
    det.onSdp(answer);
    det.onSip(sipObs(call, renderSip({ startLine: 'SIP/2.0 200 OK', headers: [['Via', `SIP/2.0/UDP ${SRC};branch=z9hG4bK-1`], ['From', `<sip:src@${SRC}>;tag=a1`], ['To', `<sip:srs@${SRS}>;tag=s1`], ['Call-ID', 'rs-1'], ['CSeq', '1 INVITE']] }), 100.1, SRS, SRC));
    expect([...ctx.recorders.lookup('10.0.3.5')!.endpoints]).toEqual(['10.0.3.5:30000']);
    f = sink.ofType('declared_recording');
    expect(f).toHaveLength(1); // updated, not repeated
    expect(f[0]!.evidence.mediaEndpoints).toEqual(['10.0.3.5:30000']);
    expectValidEvents(sink);
  });

  it('SIPREC: one marker is enough but lowers the confidence; an SRS-initiated session names the sender', () => {
    const a = setup();
    a.det.onSip(sipObs(makeCall('rs-1'), siprecInvite({ srcTag: false, metadata: false }), 100, SRC, SRS));
    expect(a.sink.ofType('declared_recording')[0]!.confidence).toBe(0.8);
    const b = setup();
    b.det.onSip(sipObs(makeCall('rs-1'), siprecInvite({ srs: true }), 100, SRS, SRC));
    const f = b.sink.ofType('declared_recording')[0]!;
    expect(f.recorder).toBe(SRS);
    expect(f.evidence.srsInitiated).toBe(true);
  });

  it('Cisco Built-in Bridge: x-nearend / x-refci on the From-URI', () => {
    const { ctx, sink, det } = setup();
    const call = makeCall('bib', 100, 'c1');
    const inv = renderSip({
      startLine: 'INVITE sip:rec@10.0.0.50 SIP/2.0',
      headers: [
        ['Via', 'SIP/2.0/UDP 10.0.0.10:5060;branch=z9hG4bK-b'],
        ['From', '<sip:1000@10.0.0.10;x-farend;x-refci=25015408;x-nearenddevice=SEP001122334455>;tag=c1'],
        ['To', '<sip:rec@10.0.0.50>'],
        ['Call-ID', 'bib'],
        ['CSeq', '101 INVITE'],
      ],
    });
    det.onSip(sipObs(call, inv, 100, '10.0.0.10:5060', '10.0.0.50:5060'));
    const f = sink.ofType('declared_recording');
    expect(f.map((x) => [x.kind, x.recorder])).toEqual([['cisco-bib', '10.0.0.50:5060']]);
    expect(f[0]!.evidence.stream).toBe('far-end');
    expect(ctx.recorders.lookup('10.0.0.50')).toBeDefined();
  });

  it('P-DCS-LAES: reports the content delivery address and never the key', () => {
    const { ctx, sink, det } = setup();
    const d = directDialog('10.0.1.2:5060', '10.0.2.2:5060', { callId: 'l1', inviteExtra: [['P-DCS-LAES', '[2001:db8::9]:1813; content=10.0.9.2:5000; key=U0VDUkVUS0VZ; cccid=00ab12cd']] });
    det.onSip(sipObs(makeCall('l1'), d.invite, 100, '10.0.1.2:5060', '10.0.2.2:5060'));
    const f = sink.ofType('declared_recording');
    expect(f.map((x) => [x.kind, x.recorder])).toEqual([['p-dcs-laes', '10.0.9.2:5000']]);
    expect(f[0]!.evidence.laesSignalling).toBe('2001:db8::9:1813');
    expect(f[0]!.evidence.cccid).toBe(true);
    expect(JSON.stringify(sink.events)).not.toContain('U0VDUkVUS0VZ');
    expect([...ctx.recorders.lookup('10.0.9.2')!.endpoints]).toEqual(['10.0.9.2:5000']);
  });

  it('siptrace: X-Siptrace headers name the collector, which is not declared as a media recorder', () => {
    const { ctx, sink, det } = setup();
    const d = directDialog('10.0.1.2:5060', '10.0.2.2:5060', { callId: 't1' });
    const copy = withHeaders(d.invite, [['X-Siptrace-Fromip', 'udp:10.0.1.2:5060'], ['X-Siptrace-Dir', 'in']]);
    det.onSip(sipObs(makeCall('t1'), copy, 100, '10.0.0.1:5060', '10.0.9.9:9060'));
    const f = sink.ofType('declared_recording');
    expect(f.map((x) => [x.kind, x.recorder])).toEqual([['siptrace', '10.0.9.9:9060']]);
    expect(f[0]!.evidence.tracedFrom).toBe('udp:10.0.1.2:5060');
    expect(ctx.recorders.lookup('10.0.9.9')).toBeUndefined();
  });

  it('stays silent on ordinary calls and out-of-dialog messages', () => {
    const { sink, det } = setup();
    const d = directDialog('10.0.1.2:5060', '10.0.2.2:5060', { callId: 'n1' });
    det.onSip(sipObs(makeCall('n1'), d.invite, 100, '10.0.1.2:5060', '10.0.2.2:5060'));
    det.onSip(sipObs(null, withHeaders(d.invite, [['X-Siptrace-Dir', 'in']]), 100, '10.0.1.2:5060', '10.0.2.2:5060'));
    expect(sink.ofType('declared_recording')).toHaveLength(0);
  });
});

const modules: HeuristicModule[] = [declaredRecordingHeuristic];

describe('declared-recording: captures', () => {
  for (const [name, write] of [
    ['Cisco BiB recording INVITE (delayed offer)', writeCiscoBib],
    ['P-DCS-LAES', writePDcsLaes],
    ['SIPREC over TCP, INVITE split over segments', writeSiprecTcp],
    ['Kamailio siptrace raw copies', writeSiptraceRawCopy],
  ] as const) {
    it(name, async () => {
      const { sink, label, recorders } = await runScenario(write, modules);
      expectLabel(sink, { ...label, mustFind: label.mustFind.filter((m) => m.type === 'declared_recording') }, recorders);
    });
  }

  const SCEN = path.resolve(__dirname, '../../scenarios/captures');
  it.skipIf(!fs.existsSync(path.join(SCEN, 'siprec_declared.pcap')))('siprec_declared: the SRS and its two media ports', async () => {
    let recorders: { lookup(ip: string): { endpoints: Set<string> } | undefined } | null = null;
    const probe: HeuristicModule = { id: 'probe', version: 1, defaults: { enabled: true }, create: (ctx) => ((recorders = ctx.recorders), { id: 'probe', version: 1 }) };
    const sink = await runSensorOnFile(path.join(SCEN, 'siprec_declared.pcap'), { heuristics: [probe, ...modules] });
    expectValidEvents(sink);
    const f = sink.ofType('declared_recording');
    expect(f.map((x) => [x.kind, x.recorder])).toEqual([['siprec', '10.10.3.2:5060']]);
    expect([...recorders!.lookup('10.10.3.2')!.endpoints].sort()).toEqual(['10.10.3.2:30000', '10.10.3.2:30004']);
  });

  it.skipIf(!fs.existsSync(SCEN))('stays silent on the other scenarios (HEP siptrace is a copy, not a declaration)', async () => {
    for (const n of ['normal_call', 'span_doubles', 'hep_siptrace', 'key_exposure_sdes', 'reinvite_hold', 'copy_nft_dup', 'copy_vxlan_mirred', 'relay_dnat_midcall']) {
      const sink = await runSensorOnFile(path.join(SCEN, `${n}.pcap`), { heuristics: modules });
      expect(sink.ofType('declared_recording'), n).toEqual([]);
    }
  });

  const CORPUS = path.resolve(__dirname, '../../../../shared/corpus');
  it.skipIf(!fs.existsSync(CORPUS))('stays silent on the real captures', async () => {
    for (const f of fs.readdirSync(CORPUS).filter((x) => /\.pcap(ng)?$/.test(x))) {
      const sink = await runSensorOnFile(path.join(CORPUS, f), { heuristics: modules });
      expect(sink.ofType('declared_recording'), f).toEqual([]);
    }
  });
});
