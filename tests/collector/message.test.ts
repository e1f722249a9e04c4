import { describe, expect, it } from 'vitest';
import { decodeMessage, deadLetterHeaders, MAX_MESSAGE_BYTES } from '../../collector/src/ingest/message.js';
import { commitOffsets } from '../../collector/src/ingest/pipeline.js';
import { callStarted, duplicateFinding, fingerprint } from './fixtures.js';
import { msg, testValidators } from './helpers.js';

describe('decodeMessage', () => {
  const v = testValidators();

  it('accepts a valid event and keeps its raw text', () => {
    const d = decodeMessage(msg(callStarted('e1', 'c1')), v);
    expect(d.kind).toBe('event');
    if (d.kind === 'event') {
      expect(d.event.id).toBe('e1');
      expect(JSON.parse(d.raw)).toEqual(callStarted('e1', 'c1'));
    }
  });

  it('accepts a valid fingerprint', () => {
    expect(decodeMessage(msg(fingerprint({ id: 'f', sensor: 's', streamId: 'x', dst: '1.2.3.4:5' })), v).kind).toBe('fingerprint');
  });

  it.each([
    ['malformed JSON', '{"v":1,', 'json', /malformed JSON/],
    ['a JSON array', '[1,2]', 'schema', /type/],
    ['an unknown event type', JSON.stringify({ v: 1, type: 'nope', id: 'x', ts: 1, sensor: 's' }), 'schema', /unknown event type/],
    ['a missing field', JSON.stringify({ ...callStarted('e', 'c'), from: undefined }), 'schema', /from/],
    ['an extra field (e.g. payload bytes)', JSON.stringify({ ...duplicateFinding('d'), payload: 'AAAA' }), 'schema', /additional/],
    ['a NUL character', JSON.stringify({ ...callStarted('e', 'c'), from: 'a\u0000b' }), 'schema', /NUL/],
  ])('sends %s to the dead-letter topic', (_name, text, reason, error) => {
    const d = decodeMessage(msg(text), v);
    expect(d.kind).toBe('dead');
    if (d.kind === 'dead') {
      expect(d.dead.reason).toBe(reason);
      expect(d.dead.error).toMatch(error);
    }
  });

  it('rejects empty and oversized messages without parsing them', () => {
    const empty = decodeMessage({ topic: 't', partition: 0, offset: 1, key: null, value: null }, v);
    expect(empty.kind === 'dead' && empty.dead.reason).toBe('empty');
    const big = decodeMessage(msg(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20)), v);
    expect(big.kind === 'dead' && big.dead.reason).toBe('too_large');
  });

  it('puts the origin and the error in the dead letter headers', () => {
    const d = decodeMessage(msg('nope', { topic: 'tapwatch.findings', partition: 3, offset: 77 }), v);
    if (d.kind !== 'dead') throw new Error('expected a dead letter');
    expect(deadLetterHeaders(d.dead)).toMatchObject({
      'tapwatch-dlq-reason': 'json',
      'tapwatch-origin-topic': 'tapwatch.findings',
      'tapwatch-origin-partition': '3',
      'tapwatch-origin-offset': '77',
    });
  });
});

describe('commitOffsets', () => {
  it('commits the highest offset + 1 of each partition', () => {
    const m = (topic: string, partition: number, offset: number) => ({ topic, partition, offset, key: null, value: null });
    const c = commitOffsets([m('a', 0, 5), m('a', 0, 9), m('a', 1, 2), m('b', 0, 0), m('a', 0, 7)]);
    expect(c.sort((x, y) => (x.topic + x.partition).localeCompare(y.topic + y.partition))).toEqual([
      { topic: 'a', partition: 0, offset: 10 },
      { topic: 'a', partition: 1, offset: 3 },
      { topic: 'b', partition: 0, offset: 1 },
    ]);
  });
});
