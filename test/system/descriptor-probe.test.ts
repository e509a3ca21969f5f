/** The descriptor probe (src/system/descriptor-probe.ts) against the real open(2): quiet while descriptors are free. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { DescriptorProbe } from '../../src/system/descriptor-probe.js';

test('probes with descriptors to spare report nothing, and close what they open', async () => {
  const reports: unknown[] = [];
  const probe = new DescriptorProbe((err) => reports.push(err));
  const before = (await readdir('/proc/self/fd')).length;
  for (let i = 0; i < 200; i++) probe.probe();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(reports, []);
  // 200 probes that leaked would leave 200 descriptors; the test runner's own come and go by a few.
  assert.ok((await readdir('/proc/self/fd')).length < before + 20);
});
