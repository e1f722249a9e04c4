import { describe, expect, it } from 'vitest';
import { ConsumerLoop, type BatchSource } from '../../collector/src/ingest/consumer-loop.js';
import type { InMessage } from '../../collector/src/ingest/message.js';
import { commitOffsets, type BatchOutcome, type CommitOffset } from '../../collector/src/ingest/pipeline.js';

const quiet = { warn: () => undefined, error: () => undefined };
const outcome = (m: InMessage[]): BatchOutcome => ({
  inserted: [], duplicates: [], newFindings: [], crossSensor: [], sensors: [], deadLetters: [], commits: commitOffsets(m), seconds: 0,
});

function source(batches: InMessage[][]): BatchSource & { commits: CommitOffset[][]; log: string[] } {
  const log: string[] = [];
  const commits: CommitOffset[][] = [];
  return {
    commits,
    log,
    async next() {
      const b = batches.shift();
      if (!b) await new Promise((r) => setTimeout(r, 5));
      return b ?? [];
    },
    async commit(o) {
      log.push(`commit ${o.map((x) => x.offset).join(',')}`);
      commits.push(o);
    },
  };
}

const m = (offset: number): InMessage => ({ topic: 't', partition: 0, offset, key: null, value: Buffer.from('{}') });
const until = async (cond: () => boolean, ms = 2000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timeout');
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('ConsumerLoop', () => {
  it('commits each batch only after it was processed', async () => {
    const src = source([[m(0), m(1)], [m(2)]]);
    const loop = new ConsumerLoop(src, async (msgs) => {
      src.log.push(`stored ${msgs.map((x) => x.offset).join(',')}`);
      return outcome(msgs);
    }, { batchSize: 10, log: quiet });
    loop.start();
    await until(() => src.commits.length === 2);
    await loop.stop();
    expect(src.log).toEqual(['stored 0,1', 'commit 2', 'stored 2', 'commit 3']);
  });

  it('retries the same batch while the database fails, never skipping past it', async () => {
    const src = source([[m(10)], [m(11)]]);
    let attempts = 0;
    const seen: number[] = [];
    const loop = new ConsumerLoop(src, async (msgs) => {
      seen.push(msgs[0]!.offset);
      if (msgs[0]!.offset === 10 && ++attempts < 3) throw new Error('db down');
      return outcome(msgs);
    }, { batchSize: 10, log: quiet, retryMinMs: 1 });
    loop.start();
    await until(() => src.commits.length === 2);
    await loop.stop();
    expect(seen).toEqual([10, 10, 10, 11]);
    expect(src.commits.map((c) => c[0]!.offset)).toEqual([11, 12]);
  });

  it('takes the next batch without waiting while one is stored, and stores it only after that commit', async () => {
    const asked: boolean[] = [];
    const pending = [[m(30)], [m(31), m(32)]];
    const log: string[] = [];
    const commits: CommitOffset[][] = [];
    const src: BatchSource = {
      async next(_max, wait = true) {
        asked.push(wait);
        log.push(`next wait=${wait}`);
        const b = pending.shift();
        if (!b && wait) await new Promise((r) => setTimeout(r, 5));
        return b ?? [];
      },
      async commit(o) {
        log.push(`commit ${o.map((x) => x.offset).join(',')}`);
        commits.push(o);
      },
    };
    const loop = new ConsumerLoop(src, async (msgs) => {
      log.push(`store ${msgs.map((x) => x.offset).join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
      log.push(`stored ${msgs.map((x) => x.offset).join(',')}`);
      return outcome(msgs);
    }, { batchSize: 10, log: quiet });
    loop.start();
    await until(() => commits.length === 2);
    await loop.stop();
    // The second batch was taken (wait=false) while the first was being stored...
    expect(log.slice(0, 4)).toEqual(['next wait=true', 'store 30', 'next wait=false', 'stored 30']);
    // ...and stored only after the first batch's commit.
    expect(log.indexOf('store 31,32')).toBeGreaterThan(log.indexOf('commit 31'));
    expect(commits.map((c) => c[0]!.offset)).toEqual([31, 33]);
    expect(asked.filter((w) => !w).length).toBeGreaterThanOrEqual(2);
  });

  it('does not commit a batch that was still failing when stopped', async () => {
    const src = source([[m(20)]]);
    const loop = new ConsumerLoop(src, async () => {
      throw new Error('db down');
    }, { batchSize: 10, log: quiet, retryMinMs: 5 });
    loop.start();
    await new Promise((r) => setTimeout(r, 30));
    await loop.stop();
    expect(loop.failures).toBeGreaterThan(0);
    expect(src.commits).toEqual([]);
  });
});
