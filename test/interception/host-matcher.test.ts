/** Which CONNECT targets MITM decrypts: intercept list, pass-through list, `*.suffix` patterns. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostMatcher } from '../../src/mitm/host-matcher.js';

test('empty lists intercept everything', () => {
  assert.equal(new HostMatcher([], []).shouldIntercept('openway.example.com'), true);
});

test('an intercept list limits decryption to the telemetry endpoint', () => {
  const m = new HostMatcher(['openway.example.com', '*.ingest.example.net'], []);
  assert.equal(m.shouldIntercept('openway.example.com'), true);
  assert.equal(m.shouldIntercept('OpenWay.Example.com.'), true);
  assert.equal(m.shouldIntercept('eu.ingest.example.net'), true);
  assert.equal(m.shouldIntercept('ingest.example.net'), false, '*.suffix does not match the suffix itself');
  assert.equal(m.shouldIntercept('bank.example.org'), false);
  assert.equal(m.shouldIntercept('evil-openway.example.com'), false);
});

test('pass-through wins over intercept', () => {
  const m = new HostMatcher(['*.example.com'], ['secure.example.com']);
  assert.equal(m.shouldIntercept('secure.example.com'), false);
  assert.equal(m.shouldIntercept('api.example.com'), true);
});
