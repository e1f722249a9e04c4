import { it } from 'vitest';
import { buildSyntheticCapture, defaultSecrets, writeSyntheticPcap } from './synthetic-capture.js';
import { runSensorOnFile } from '../lib/run-sensor.js';
it('x', async () => {
  const c = buildSyntheticCapture(defaultSecrets());
  writeSyntheticPcap('/tmp/e2e/syn.pcap', c.frames);
  const s = await runSensorOnFile('/tmp/e2e/syn.pcap');
  for (const e of s.events) console.log(JSON.stringify(e));
});
