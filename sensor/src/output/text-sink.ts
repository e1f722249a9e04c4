/**
 * A readable live summary for a terminal (`--format text`, the default on a
 * TTY): one line per call and stream event, and a closing summary that a
 * network engineer can read at a glance.
 */
import type { EventSink, SensorStatsEvent, TapwatchEvent } from '../events/types.js';
import { FdWriter } from './fd-writer.js';
import { formatFindingShort, formatFindingUpdate } from './finding-text.js';

export class TextSink implements EventSink {
  private readonly out: FdWriter;
  private streamsEnded = 0;
  private callsStarted = 0;
  private findings = 0;

  constructor(
    fd = 1,
    private readonly color = false,
  ) {
    this.out = new FdWriter(fd);
  }

  private c(code: string, s: string): string {
    return this.color ? `\x1b[${code}m${s}\x1b[0m` : s;
  }

  write(e: TapwatchEvent): void {
    const t = formatTime(e.ts);
    switch (e.type) {
      case 'call_started':
        this.callsStarted++;
        this.out.write(`${t} ${this.c('1;36', 'CALL  ')} ${e.callId}  ${e.from} -> ${e.to}  (${e.transport} ${e.src} -> ${e.dst})\n`);
        break;
      case 'call_updated':
        if (e.media.length) {
          const m = e.media.map((x) => `${x.party} ${x.role} ${x.media} ${x.endpoint} ${x.direction}${x.secure ? ' srtp' : ''}`).join('; ');
          this.out.write(`${t} ${this.c('36', 'SDP   ')} ${e.callId}  ${e.reason}${e.statusCode ? ' ' + e.statusCode : ''}: ${m}\n`);
        } else {
          this.out.write(`${t} ${this.c('36', 'CALL  ')} ${e.callId}  ${e.state} (${e.reason}${e.statusCode ? ' ' + e.statusCode : ''})\n`);
        }
        break;
      case 'call_ended':
        this.out.write(
          `${t} ${this.c('1;36', 'END   ')} ${e.callId}  ${e.state} by ${e.reason}${e.finalStatus ? ' ' + e.finalStatus : ''}, ${e.durationSec.toFixed(1)} s, ${e.sipMessages} SIP msgs\n`,
        );
        break;
      case 'stream_started':
        this.out.write(
          `${t} ${this.c('32', 'RTP   ')} ssrc 0x${hex8(e.ssrc)} ${e.src} -> ${e.dst}  pt ${e.payloadType}${e.encrypted ? ' srtp' : ''}  ${e.callId ? 'call ' + e.callId : 'no signalling seen'} [${e.classifiedBy}${e.transport !== 'udp' ? ', ' + e.transport : ''}]\n`,
        );
        break;
      case 'stream_ended':
        this.streamsEnded++;
        this.out.write(
          `${t} ${this.c('32', 'RTP.. ')} ssrc 0x${hex8(e.ssrc)} ${e.src} -> ${e.dst}  ${e.packets} pkts, lost ${e.lost}, jitter ${e.jitterMs.toFixed(2)} ms (${e.reason})\n`,
        );
        break;
      case 'sensor_stats':
        if (e.final) this.summary(e);
        break;
      case 'finding_updated':
        this.out.write(`${t} ${this.c('33', 'UPD   ')} ${formatFindingUpdate(e)}\n`);
        break;
      default: {
        // Findings: a few plain lines each, coloured by severity.
        this.findings++;
        const code = e.severity === 'critical' ? '1;31' : e.severity === 'warning' ? '1;33' : '1;34';
        const [head, ...rest] = formatFindingShort(e);
        this.out.write(`${t} ${this.c(code, 'ALERT ')} ${head}\n${rest.map((l) => '             ' + l + '\n').join('')}`);
        break;
      }
    }
  }

  private summary(s: SensorStatsEvent): void {
    const errs = Object.entries(s.decodeErrors);
    const lines = [
      '',
      this.c('1', 'Summary'),
      `  packets      ${s.packets} (${s.bytes} bytes)${s.dropsUnavailable ? '' : `, kernel drops ${s.kernelDrops}, interface drops ${s.ifDrops}`}`,
      `  SIP          ${s.sip.messages} messages (${s.sip.retransmissions} retransmitted), ${s.sip.inviteDialogs} calls, ${s.sip.callIds} Call-IDs`,
      `  media        ${s.classified.rtp} RTP, ${s.classified.rtcp} RTCP, ${s.classified.stun} STUN/TURN, ${s.classified.dtls} DTLS, ${s.classified.zrtp} ZRTP packets; ${this.streamsEnded} streams`,
      `  findings     ${this.findings === 0 ? 'none' : this.findings}`,
      `  decode       ${errs.length === 0 ? 'no errors' : errs.map(([k, v]) => `${k}=${v}`).join(' ')}`,
      ...s.warnings.map((w) => `  warning      ${w}`),
      '',
    ];
    this.out.write(lines.join('\n'));
  }

  async flush(): Promise<void> {
    this.out.flush();
  }
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

function formatTime(ts: number): string {
  const d = new Date(ts * 1000);
  return d.toISOString().slice(11, 23);
}
