/**
 * What a synthetic scenario builder returns, and the label it writes next to
 * its capture (format: tests/scenarios/README.md, "Label format").
 */
import type { FindingType } from '../../../../sensor/src/events/types.js';
import type { ExpectedFinding } from '../../../eval/match.js';
import { Capture } from './capture.js';

export const ALL_FINDING_TYPES: FindingType[] = ['duplicate_stream', 'signaling_copy', 'unexpected_relay', 'key_exposure', 'declared_recording'];

export function allBut(...types: FindingType[]): FindingType[] {
  return ALL_FINDING_TYPES.filter((t) => !types.includes(t));
}

export interface GroundTruthStream {
  src: string;
  dst: string;
  ssrc: string;
  role: string;
}

export interface SyntheticLabel {
  name: string;
  description: string;
  generatedBy: string;
  /** Which look-alike or copy technique of issue 3 this covers. */
  covers: string;
  calls: number;
  streams: GroundTruthStream[];
  mustFind: ExpectedFinding[];
  mustNotFind: FindingType[];
  secretMarkers?: string[];
  notes?: string;
}

export interface Built {
  cap: Capture;
  label: Omit<SyntheticLabel, 'name' | 'generatedBy'>;
}

export interface SyntheticScenario {
  name: string;
  build(): Built;
}

export function hex(ssrc: number): string {
  return `0x${(ssrc >>> 0).toString(16).padStart(8, '0')}`;
}

/** Base capture time of scenario number n: 2026-01-01T00:00:00Z + n hours, so files never overlap in time. */
export function baseTs(n: number): number {
  return 1767225600 + n * 3600;
}
