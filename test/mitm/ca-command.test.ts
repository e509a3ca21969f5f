// `ca export` prints the CA clients must trust (creating it on first use); `ca path` prints where it lives.

import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { runCaCommand } from '../../src/mitm/ca-command.js';
import { loadOrCreateCa } from '../../src/mitm/ca-store.js';
import { createExternalCa, makeTempDir, mitmConfig } from './ca-test-support.js';

function collect(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { out, text: () => Buffer.concat(chunks).toString('utf8') };
}

describe('runCaCommand', () => {
  it('export creates the CA on first use and prints exactly the stored certificate', async (t) => {
    const dataDir = path.join(await makeTempDir(t), 'data');
    const first = collect();
    assert.equal(await runCaCommand('export', mitmConfig({ dataDir }), first.out), 0);
    const stored = await readFile(path.join(dataDir, 'ca.crt'), 'utf8');
    assert.match(first.text(), /^-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n$/);
    assert.equal(first.text(), stored);

    const second = collect();
    await runCaCommand('export', mitmConfig({ dataDir }), second.out);
    assert.equal(second.text(), stored, 'the same CA the next time, and the one the proxy loads');
    assert.equal((await loadOrCreateCa(mitmConfig({ dataDir }))).certPem, stored);
  });

  it('path prints the certificate and key paths without creating anything', async (t) => {
    const dataDir = path.join(await makeTempDir(t), 'data');
    const output = collect();
    assert.equal(await runCaCommand('path', mitmConfig({ dataDir }), output.out), 0);
    assert.equal(output.text(), `${path.join(dataDir, 'ca.crt')}\n${path.join(dataDir, 'ca.key')}\n`);
    await assert.rejects(stat(dataDir), { code: 'ENOENT' });
  });

  it('uses the user-supplied CA files for both subcommands', async (t) => {
    const dir = await makeTempDir(t);
    const external = await createExternalCa({ keyType: 'ec-p256' });
    const caCertFile = path.join(dir, 'corp-ca.pem');
    const caKeyFile = path.join(dir, 'corp-ca.key');
    await writeFile(caCertFile, external.certPem);
    await writeFile(caKeyFile, external.keyPem, { mode: 0o600 });
    const options = mitmConfig({ dataDir: path.join(dir, 'data'), caCertFile, caKeyFile });

    const exported = collect();
    await runCaCommand('export', options, exported.out);
    assert.equal(exported.text(), external.certPem);
    const paths = collect();
    await runCaCommand('path', options, paths.out);
    assert.equal(paths.text(), `${caCertFile}\n${caKeyFile}\n`);
    await assert.rejects(stat(path.join(dir, 'data')), { code: 'ENOENT' }, 'no CA generated');
  });
});
