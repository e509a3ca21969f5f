// What a reload applies and what waits for a restart (src/reload/restart-scope.ts), and the config fingerprint.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultConfig } from '../../src/config/defaults.js';
import { configHash } from '../../src/reload/config-hash.js';
import { reloadableConfig, restartNeededKeys } from '../../src/reload/restart-scope.js';

const running = defaultConfig({});

describe('restart scope', () => {
  it('applies reloadable settings, keeps every restart-only one at its running value, and names those that changed', () => {
    const next = {
      ...defaultConfig({}),
      port: 1234,
      allowedClientCidrs: ['10.0.0.0/8'],
      verbose: true,
      timeouts: { ...running.timeouts, connectMs: 1000 },
      limits: { ...running.limits, maxClientConnections: 5, upstreamMaxSocketsPerHost: 7 },
      admin: { ...running.admin, port: 1 },
      mitmOptions: { ...running.mitmOptions, caKeyType: 'rsa' as const, interceptHosts: ['example.test'] },
    };
    assert.deepEqual(restartNeededKeys(running, next), ['proxy.port', 'limits.max_client_connections', 'admin', 'mitm (CA and leaf settings)']);
    const applied = reloadableConfig(running, next);
    assert.equal(applied.port, running.port);
    assert.equal(applied.limits.maxClientConnections, running.limits.maxClientConnections);
    assert.deepEqual(applied.admin, running.admin);
    assert.equal(applied.mitmOptions.caKeyType, running.mitmOptions.caKeyType);
    assert.deepEqual(applied.allowedClientCidrs, ['10.0.0.0/8']);
    assert.equal(applied.verbose, true);
    assert.equal(applied.timeouts.connectMs, 1000);
    assert.equal(applied.limits.upstreamMaxSocketsPerHost, 7);
    assert.deepEqual(applied.mitmOptions.interceptHosts, ['example.test']);
    assert.deepEqual(restartNeededKeys(running, applied), [], 'what a reload runs with needs no restart');
  });
});

describe('config hash', () => {
  it('follows the values, not the order they were built in nor where they came from', () => {
    const reordered = Object.fromEntries(Object.entries(running).reverse()) as typeof running;
    assert.equal(configHash(reordered), configHash(running));
    assert.equal(configHash({ ...running, origins: { ...running.origins, bind: { source: 'command line', key: '--bind' } } }), configHash(running));
    assert.notEqual(configHash({ ...running, allowedClientCidrs: ['10.0.0.0/8'] }), configHash(running));
    assert.match(configHash(running), /^[0-9a-f]{16}$/);
  });
});
