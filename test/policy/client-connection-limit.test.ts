/** The per-client connection cap as a unit (the guard test drives it through real sockets). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientConnectionLimitError } from '../../src/errors.js';
import { ClientConnectionLimit } from '../../src/policy/client-connection-limit.js';

test('each client holds at most the cap; a release makes room; other clients are unaffected; the table empties', () => {
  let max = 2;
  const limit = new ClientConnectionLimit(() => max);
  assert.equal(limit.admit('10.0.0.1'), undefined);
  assert.equal(limit.admit('10.0.0.1'), undefined);
  const refused = limit.admit('10.0.0.1');
  assert.ok(refused instanceof ClientConnectionLimitError);
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.reason, 'client_limit');
  assert.deepEqual(refused.responseFields, [['Retry-After', '1']]);
  assert.equal(limit.admit('10.0.0.2'), undefined, 'another client has its own count');
  limit.release('10.0.0.1');
  assert.equal(limit.admit('10.0.0.1'), undefined);
  max = 3;
  assert.equal(limit.admit('10.0.0.1'), undefined, 'the cap is read at each accept');
  assert.equal(limit.openConnections('10.0.0.1'), 3);
  for (let i = 0; i < 3; i++) limit.release('10.0.0.1');
  limit.release('10.0.0.2');
  limit.release('10.0.0.2');
  assert.equal(limit.clients, 0, 'nothing is kept for clients with no connection');
});
