/**
 * Every heuristic tapwatch ships, in evaluation order. Each has a page in
 * docs/heuristics/<id>.md. Add a heuristic here and in the docs, nowhere else.
 */
import type { HeuristicModule } from './detector.js';

export const HEURISTICS: HeuristicModule[] = [];
