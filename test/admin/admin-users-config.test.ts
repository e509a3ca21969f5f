/**
 * `admin.users` in the config file: entries as `egress-proxy passwd` prints them load, and every mistake (a
 * plaintext password, a bad name, a duplicate, a missing key) is one line naming the key, never echoing the value.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfigFile } from '../../src/config/load-config-file.js';
import { resolveConfig } from '../../src/config/resolve-config.js';
import { ConfigError } from '../../src/errors.js';
import { tempConfigDir } from '../config/temp-config-files.js';

const files = tempConfigDir();
const HASH = '$scrypt$ln=4,r=8,p=1$xi/w9CI5m6Q9DN5s9NInIw$QM6fPzYMrEJP91VzEKn9KXXqmd5A5R6QeEhvM0eLsyU';

test('users as `egress-proxy passwd` prints them', async () => {
  const file = files.write('ok.toml', `[admin]\nusers = [\n  { name = "ops", password_hash = "${HASH}" },\n  { name = "Jos\u00e9", password_hash = "${HASH}" },\n]\n`);
  const { values } = await loadConfigFile(file);
  assert.deepEqual(values.admin?.users, [
    { name: 'ops', passwordHash: HASH },
    { name: 'Jos\u00e9', passwordHash: HASH },
  ]);
});

test('each mistake names the key', async () => {
  const cases: Array<[string, string]> = [
    ['users = [{ name = "ops", password_hash = "hunter2" }]', 'admin.users[0].password_hash: not an scrypt hash'],
    [`users = [{ name = "ops", password_hash = "${HASH.slice(0, HASH.lastIndexOf('$'))}$AAAAAAAAAAA" }]`, 'admin.users[0].password_hash: scrypt hash too short'],
    [`users = [{ name = "ops", password_hash = "${HASH.slice(0, -10)}" }]`, 'admin.users[0].password_hash: scrypt hash is not canonical'],
    [`users = [{ name = "a:b", password_hash = "${HASH}" }]`, 'admin.users[0].name: the user name contains a colon'],
    [`users = [{ name = "", password_hash = "${HASH}" }]`, 'admin.users[0].name: the user name is empty'],
    [`users = [{ name = "ops" }]`, 'admin.users[0].password_hash: expected a "$scrypt$..." string'],
    [`users = [{ name = "ops", password_hash = "${HASH}", password = "x" }]`, 'admin.users[0]'],
    [`users = [{ name = "a", password_hash = "${HASH}" }, { name = "a", password_hash = "${HASH}" }]`, 'admin.users[1].name: the user "a" is listed twice'],
    ['users = "ops"', 'admin.users: expected an array of { name, password_hash } tables'],
    ['dashboard = "yes"', 'admin.dashboard: expected true or false'],
    ['max_failures_per_minute = 0', 'admin.max_failures_per_minute'],
  ];
  for (const [line, expected] of cases) {
    const file = files.write('bad.toml', `[admin]\n${line}\n`);
    await assert.rejects(loadConfigFile(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.ok(err.message.startsWith(`${file}: ${expected}`), `${line}\n  got: ${err.message}`);
      assert.ok(!err.message.includes('hunter2') && !err.message.includes(HASH.slice(25)), 'no secret or hash echoed');
      return true;
    });
  }
});

test('an exposed admin listener without users is warned about; with users it is not', async () => {
  const open = await resolveConfig({ configFile: files.write('open.toml', '[admin]\nbind = "0.0.0.0"\n') }, {});
  assert.ok(open.warnings.some((w) => /admin listener listens on 0\.0\.0\.0 with no admin\.users/.test(w)), open.warnings.join('\n'));
  const closed = await resolveConfig(
    { configFile: files.write('closed.toml', `[admin]\nbind = "0.0.0.0"\nusers = [{ name = "ops", password_hash = "${HASH}" }]\n`) },
    {},
  );
  assert.deepEqual(closed.warnings.filter((w) => w.includes('admin')), []);
});
