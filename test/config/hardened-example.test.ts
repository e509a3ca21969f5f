// The README's hardened config (its Security section) is a valid file that means what the text says.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { hashPassword } from '../../src/auth/password-hash.js';
import { checkConfigFile } from '../../src/config/resolve-config.js';
import { tempConfigDir } from './temp-config-files.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const files = tempConfigDir();

test('README: the hardened config loads without warnings and locks the proxy down as described', async () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const security = readme.slice(readme.indexOf('## Security'));
  const block = /```toml\n([\s\S]*?)```/.exec(security)?.[1];
  assert.ok(block !== undefined, 'a toml block in the Security section');
  // The placeholders stand for what `egress-proxy passwd` prints.
  const hash = await hashPassword('pw', { logN: 4, r: 8, p: 1 });
  const file = files.write('hardened.toml', block.replaceAll('"$scrypt$ln=15,r=8,p=3$..."', JSON.stringify(hash)));
  const { config, warnings } = await checkConfigFile(file, {});
  assert.deepEqual(warnings, []);
  assert.equal(config.bind, '0.0.0.0');
  assert.deepEqual(config.allowedClientCidrs, ['10.0.0.0/8']);
  assert.deepEqual(config.proxyAuth.users.map((u) => u.name), ['datakit']);
  assert.deepEqual(config.destinations.allow, ['openway.guance.com:443', '*.guance.com:443', '10.1.2.0/24:9528']);
  assert.equal(config.destinations.blockSpecialRanges, true);
  assert.deepEqual(config.admin.users.map((u) => u.name), ['prometheus']);
});
