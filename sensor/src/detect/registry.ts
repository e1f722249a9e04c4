/**
 * Every heuristic tapwatch ships, in evaluation order. Each has a page in
 * docs/heuristics/<id>.md. Add a heuristic here and in the docs, nowhere else.
 */
import type { HeuristicModule } from './detector.js';
import { relayUnsignaled } from './heuristics/relay-unsignaled.js';
import { relayPathChange } from './heuristics/relay-path-change.js';
import { relayDtlsFingerprint } from './heuristics/relay-dtls-fingerprint.js';
import { relayZrtpHash } from './heuristics/relay-zrtp-hash.js';
import { relayCryptoStripped } from './heuristics/relay-crypto-stripped.js';
import { dupCorrelated } from './heuristics/dup-correlated.js';
import { dupExact } from './heuristics/dup-exact.js';
import { dupEncapsulated } from './heuristics/dup-encapsulated.js';
import { declaredRecordingHeuristic } from './heuristics/declared-recording.js';
import { sigCopyHeuristic } from './heuristics/sig-copy.js';
import { keyExposureHeuristic } from './heuristics/key-exposure.js';

/** Modules have narrower settings types than the array's; the engine only reads `defaults`. */
function m<T>(x: T): HeuristicModule {
  return x as unknown as HeuristicModule;
}

export const HEURISTICS: HeuristicModule[] = [
  // Declarations first: a copy to a just-declared recorder is then already known as declared.
  m(declaredRecordingHeuristic),
  m(dupExact),
  m(dupEncapsulated),
  m(sigCopyHeuristic),
  m(keyExposureHeuristic),
  m(dupCorrelated),
  m(relayUnsignaled),
  m(relayPathChange),
  m(relayDtlsFingerprint),
  m(relayZrtpHash),
  m(relayCryptoStripped),
];
