/**
 * Which tunnel relay runs (tunnel-relay-selection.ts), and the install step that builds the native one
 * (native/build.mjs): it must never fail an install, whatever is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../src/errors.js';
import { availableTunnelRelays, chooseTunnelRelay } from '../../src/proxy/tunnel-relay-selection.js';

const nativeDir = fileURLToPath(new URL('../../native/', import.meta.url));

test('EGRESS_PROXY_TUNNEL_RELAY: js forces the JavaScript relay; a bad value is one line naming the variable', () => {
  assert.equal(chooseTunnelRelay('js').name, 'js');
  assert.equal(chooseTunnelRelay(undefined).name, availableTunnelRelays()[0]);
  assert.equal(chooseTunnelRelay('auto').name, availableTunnelRelays()[0]);
  assert.throws(
    () => chooseTunnelRelay('fast'),
    (err: unknown) => err instanceof ConfigError && err.message === 'environment: EGRESS_PROXY_TUNNEL_RELAY: expected "js", "splice" or "auto", got "fast"',
  );
});

test('EGRESS_PROXY_TUNNEL_RELAY=splice is the native relay, or a refusal to start where it is missing', () => {
  if (availableTunnelRelays().includes('splice')) {
    assert.equal(chooseTunnelRelay('splice').name, 'splice');
  } else {
    assert.throws(() => chooseTunnelRelay('splice'), /EGRESS_PROXY_TUNNEL_RELAY: "splice" is not available/);
    // Without it, the JavaScript relay says why in the start-up line.
    assert.match(chooseTunnelRelay(undefined).detail, /native relay unavailable|Linux-only/);
  }
});

/** Runs native/build.mjs from a copy of native/ (so the repository's own build is left alone). */
async function buildCopy(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; files: string[] }> {
  const dir = await mkdtemp(join(tmpdir(), 'egress-native-'));
  try {
    for (const file of ['build.mjs', 'binding.gyp', 'tunnel_splice.c', 'low_memory.cc']) await copyFile(join(nativeDir, file), join(dir, file));
    const { code, stdout } = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [join(dir, 'build.mjs')], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, out) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: out });
      });
    });
    return { code, stdout, files: await readdir(dir) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('the install step succeeds when the addon cannot be built: a failing compiler, or the build switched off', async () => {
  const failing = await buildCopy({ CC: 'false', CXX: 'false' });
  assert.equal(failing.code, 0);
  assert.match(failing.stdout, /^egress-proxy: no native tunnel relay \((the build failed|splice\(2\) is Linux-only|node-gyp not found)[^\n]*; tunnels will be relayed in JavaScript\n$/);
  assert.ok(!failing.files.includes('build'), 'no half-built addon is left behind');

  const off = await buildCopy({ EGRESS_PROXY_NATIVE: '0' });
  assert.equal(off.code, 0);
  assert.match(off.stdout, /no native tunnel relay \((EGRESS_PROXY_NATIVE=0|splice\(2\) is Linux-only)\)/);
});
