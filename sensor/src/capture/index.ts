/**
 * The capture stage: every way packets enter tapwatch, behind one
 * PacketSource interface (packet-source.ts). Files are recognised by their
 * magic (open-file.ts); live interfaces go through libpcap (live-capture.ts).
 */
export { openCaptureFile } from './open-file.js';
export { openLiveCapture, VOIP_BPF_FILTER, VOIP_BPF_FILTER_NO_VLAN, type LiveCaptureOptions } from './live-capture.js';
export type { FileSourceOptions } from './chunk-reader.js';
export {
  LINKTYPE_NULL,
  LINKTYPE_ETHERNET,
  LINKTYPE_RAW,
  LINKTYPE_LOOP,
  LINKTYPE_LINUX_SLL,
  LINKTYPE_IPV4,
  LINKTYPE_IPV6,
  LINKTYPE_LINUX_SLL2,
  LINKTYPE_MASK,
} from './link-types.js';
export { CaptureError, type PacketSource, type CaptureStats, type SourceProgress } from './packet-source.js';
