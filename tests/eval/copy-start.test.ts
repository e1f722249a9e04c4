/** findCopyStarts: the first packet of a copy or relayed stream, found by scanning the capture. */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findCopyStarts } from './copy-start.js';
import type { ExpectedFinding } from './match.js';
import { repoRoot } from './scenarios.js';

const synth = path.join(repoRoot(), 'tests', 'scenarios', 'synthetic');
const captures = path.join(repoRoot(), 'tests', 'scenarios', 'captures');

function label(dir: string, name: string): { mustFind: ExpectedFinding[] } {
  return JSON.parse(fs.readFileSync(path.join(dir, `${name}.json`), 'utf8')) as { mustFind: ExpectedFinding[] };
}

describe('findCopyStarts', () => {
  it.each(['copy_dnat_exact', 'copy_erspan2', 'copy_pcli_ccc', 'sigcopy_hep3', 'relay_path_change', 'relay_unsignaled_endpoint'])(
    'finds the generator-recorded start of %s by scanning',
    async (name) => {
      const expected = label(synth, name).mustFind;
      const stripped = expected.map(({ copyStartTs: _drop, ...rest }) => rest as ExpectedFinding);
      const found = await findCopyStarts(path.join(synth, `${name}.pcap`), stripped);
      expected.forEach((e, i) => expect(found[i]).toBeCloseTo(e.copyStartTs!, 5));
    },
  );

  it('uses a label copyStartTs as given and leaves types without a copy unknown', async () => {
    const e: ExpectedFinding[] = [{ type: 'duplicate_stream', copyTo: '10.99.0.7:40000', copyStartTs: 12.5 }, { type: 'key_exposure' }];
    expect(await findCopyStarts(path.join(synth, 'copy_dnat_exact.pcap'), e)).toEqual([12.5, null]);
  });

  it.skipIf(!fs.existsSync(path.join(captures, 'copy_nft_dup.pcap')))('follows copyToMac for a copy that keeps its IP destination (nft dup)', async () => {
    const [t] = await findCopyStarts(path.join(captures, 'copy_nft_dup.pcap'), label(captures, 'copy_nft_dup').mustFind);
    expect(t).not.toBeNull();
  });
});
