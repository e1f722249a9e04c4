/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, so
 * that CI logs state the outcome in a form any tool can read.
 */
import type { Reporter } from 'vitest/reporters';

type TaskLike = { type?: string; mode?: string; result?: { state?: string }; tasks?: TaskLike[] };

export default class SummaryReporter implements Reporter {
  onFinished(files: TaskLike[] = []): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const walk = (t: TaskLike): void => {
      if (t.tasks) {
        for (const c of t.tasks) walk(c);
        if (t.type === 'suite' || t.tasks.length) {
          // A file or suite that failed to load has no tests but a failed state.
          if (t.result?.state === 'fail' && t.tasks.length === 0) failed++;
        }
        return;
      }
      if (t.mode === 'skip' || t.mode === 'todo') skipped++;
      else if (t.result?.state === 'pass') passed++;
      else if (t.result?.state === 'fail') failed++;
      else skipped++;
    };
    for (const f of files) walk(f);
    process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
