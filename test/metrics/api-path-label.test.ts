/** The `api` label normalisation and the label cap, as pure functions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiPathLabel } from '../../src/metrics/api-path-label.js';
import { LabelValueLimiter, OVERFLOW_LABEL } from '../../src/metrics/label-value-limiter.js';

test('DataKit paths are kept; queries dropped; ids and long tokens collapsed', () => {
  assert.equal(apiPathLabel('/v1/write/metric?token=tkn_abc'), '/v1/write/metric');
  assert.equal(apiPathLabel('/v1/write/logging'), '/v1/write/logging');
  assert.equal(apiPathLabel('/v1/election/heartbeat'), '/v1/election/heartbeat');
  assert.equal(apiPathLabel('/v1/check/token/tkn_0123456789abcdef0123456789abcdef'), '/v1/check/token/:id');
  assert.equal(apiPathLabel('/v1/users/12345/items/550e8400-e29b-41d4-a716-446655440000'), '/v1/users/:id/items/:id');
  assert.equal(apiPathLabel('/blob/deadbeef01'), '/blob/:id');
  assert.equal(apiPathLabel('/a/b/c/d/e/f/g/h'), '/a/b/c/d/e/f/…');
  assert.equal(apiPathLabel(''), '/');
  assert.equal(apiPathLabel('/'), '/');
  assert.equal(apiPathLabel('/v1/' + 'x'.repeat(100)), '/v1/:id');
});

test('the limiter keeps the first N distinct values and maps later ones to "other"', () => {
  const limiter = new LabelValueLimiter(3);
  assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'b', 'e'].map((v) => limiter.value(v)), ['a', 'b', 'a', 'c', OVERFLOW_LABEL, 'b', OVERFLOW_LABEL]);
  assert.equal(limiter.size, 3);
});
