/** Reading the open-files limit and fitting the client-connection cap into it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDescriptorExhaustion, planConnectionCap, readOpenFilesLimit } from '../../src/system/open-files-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            1024                 524288               files
Max locked memory         8388608              8388608              bytes
`;

test('reads the soft and hard limits from /proc/self/limits; undefined where there is none', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'limits-'));
  const file = path.join(dir, 'limits');
  await writeFile(file, LIMITS);
  assert.deepEqual(await readOpenFilesLimit(file), { soft: 1024, hard: 524288 });
  await writeFile(file, LIMITS.replace('1024                 524288', 'unlimited            unlimited'));
  assert.deepEqual(await readOpenFilesLimit(file), { soft: Infinity, hard: Infinity });
  assert.equal(await readOpenFilesLimit(path.join(dir, 'missing')), undefined);
  await writeFile(file, 'nothing here\n');
  assert.equal(await readOpenFilesLimit(file), undefined);
  if (process.platform === 'linux') {
    const own = await readOpenFilesLimit();
    assert.ok(own !== undefined && own.soft > 0, 'this process has a limit');
  }
});

test('a cap whose tunnels fit is kept; one that does not is lowered, with one line saying what to do', () => {
  assert.deepEqual(planConnectionCap(10_000, { soft: 1_048_576, hard: 1_048_576 }), { maxClientConnections: 10_000, message: undefined });
  assert.deepEqual(planConnectionCap(10_000, undefined), { maxClientConnections: 10_000, message: undefined });
  assert.deepEqual(planConnectionCap(10_000, { soft: Infinity, hard: Infinity }), { maxClientConnections: 10_000, message: undefined });
  assert.equal(planConnectionCap(10_000, { soft: 20_064, hard: 20_064 }).message, undefined, 'exactly enough');
  const low = planConnectionCap(10_000, { soft: 1024, hard: 524_288 }, '/etc/p.toml: limits.max_client_connections');
  assert.equal(low.maxClientConnections, 480);
  assert.equal(
    low.message,
    '/etc/p.toml: limits.max_client_connections = 10000 needs up to 20064 file descriptors (two per tunnel, and 64 for the rest), ' +
      'but the open-files limit is 1024: at most 480 client connections are accepted, so the admin listener keeps ' +
      'answering; raise the limit to 20064 (the hard limit, 524288, allows it) (LimitNOFILE= in systemd, --ulimit ' +
      'nofile= in Docker, ulimit -n) or lower limits.max_client_connections',
  );
  assert.equal(planConnectionCap(10_000, { soft: 20_000, hard: 20_000 }).maxClientConnections, 9968, 'the issue\'s 20,000');
  assert.equal(planConnectionCap(500, { soft: 10, hard: 10 }).maxClientConnections, 1, 'never 0');
});

test('EMFILE and ENFILE are descriptor exhaustion; nothing else is', () => {
  assert.ok(isDescriptorExhaustion(Object.assign(new Error('x'), { code: 'EMFILE' })));
  assert.ok(isDescriptorExhaustion(Object.assign(new Error('x'), { code: 'ENFILE' })));
  assert.ok(!isDescriptorExhaustion(Object.assign(new Error('x'), { code: 'ECONNRESET' })));
  assert.ok(!isDescriptorExhaustion(undefined));
});
