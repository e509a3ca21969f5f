// The leaf certificate cache: one mint per host (even under a burst of first calls), IP SANs, the LRU bound,
// expiry on an injected clock, failures not cached, and real TLS handshakes that verify against the CA.

import assert from 'node:assert/strict';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, it, before } from 'node:test';
import tls from 'node:tls';
import { certificateAuthorityFromPem, type CertificateAuthority } from '../../src/mitm/certificate-authority.js';
import { createCaCertificate } from '../../src/mitm/certificate-factory.js';
import { LeafCertificateCache } from '../../src/mitm/leaf-certificate-cache.js';
import { CaInvalidError, LeafHostnameError } from '../../src/mitm/mitm-errors.js';
import { createExternalCa } from './ca-test-support.js';

const DAY_MS = 24 * 60 * 60 * 1000;

async function inMemoryCa(keyType: 'ec' | 'rsa' = 'ec', validityDays = 3650): Promise<CertificateAuthority> {
  const pem = await createCaCertificate({ commonName: 'egress-proxy CA (leaf test)', validityDays, keyType });
  return certificateAuthorityFromPem({ ...pem, source: 'generated' });
}

describe('LeafCertificateCache', () => {
  let ca: CertificateAuthority;
  before(async () => {
    ca = await inMemoryCa();
  });

  it('mints a leaf once and answers the next call from the cache', async () => {
    const generated: string[] = [];
    const hits: string[] = [];
    const cache = new LeafCertificateCache({
      ca,
      maxEntries: 10,
      leafValidityDays: 30,
      onGenerated: (host, ms) => {
        assert.ok(ms >= 0);
        generated.push(host);
      },
      onHit: (host) => hits.push(host),
    });
    const first = await cache.getSecureContext('api.example.test');
    const second = await cache.getSecureContext('API.Example.Test.');
    assert.equal(second, first, 'case and a trailing dot do not make another leaf');
    assert.deepEqual(cache.stats, { generated: 1, hits: 1, misses: 1 });
    assert.deepEqual(generated, ['api.example.test']);
    assert.deepEqual(hits, ['api.example.test']);
  });

  it('mints exactly once for 50 concurrent first calls', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const contexts = await Promise.all(Array.from({ length: 50 }, () => cache.getSecureContext('burst.example.test')));
    assert.equal(cache.stats.generated, 1);
    assert.equal(cache.stats.misses, 1);
    assert.equal(cache.stats.hits, 49);
    assert.equal(new Set(contexts).size, 1);
  });

  it('issues a DNS SAN for names and an IP SAN for IPv4 and IPv6 addresses', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const dns = new NodeX509Certificate((await cache.getLeafCertificate('Service.Example.Test')).certPem);
    assert.equal(dns.subjectAltName, 'DNS:service.example.test');
    assert.equal(dns.subject, 'CN=service.example.test');

    const v4 = new NodeX509Certificate((await cache.getLeafCertificate('192.0.2.10')).certPem);
    assert.equal(v4.subjectAltName, 'IP Address:192.0.2.10');
    assert.equal(v4.checkIP('192.0.2.10'), '192.0.2.10');

    const v6leaf = await cache.getLeafCertificate('[2001:DB8:0:0::1]');
    assert.equal(v6leaf.hostname, '2001:db8::1');
    const v6 = new NodeX509Certificate(v6leaf.certPem);
    assert.equal(v6.subjectAltName, 'IP Address:2001:DB8:0:0:0:0:0:1');
    assert.equal(v6.checkIP('2001:db8::1'), '2001:db8::1');
    await cache.getSecureContext('2001:db8::0:1');
    assert.equal(cache.stats.generated, 3, 'another spelling of the same IPv6 address is a hit');
  });

  it('gives every leaf its own key, a fresh serial, the CA as issuer and the expected extensions', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const a = new NodeX509Certificate((await cache.getLeafCertificate('a.example.test')).certPem);
    const b = new NodeX509Certificate((await cache.getLeafCertificate('b.example.test')).certPem);
    const exportKey = (cert: NodeX509Certificate): string => cert.publicKey.export({ format: 'der', type: 'spki' }).toString('hex');
    assert.notEqual(exportKey(a), exportKey(b));
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.ok(a.serialNumber.length >= 30, 'about 16 random bytes');
    assert.equal(a.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.equal(a.issuer, new NodeX509Certificate(ca.certPem).subject);
    assert.deepEqual(a.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
    assert.equal(a.ca, false);
  });

  it('truncates a long name to 64 characters in the CN only', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const longName = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.test`;
    const leaf = new NodeX509Certificate((await cache.getLeafCertificate(longName)).certPem);
    assert.equal(leaf.subject, `CN=${longName.slice(0, 64)}`);
    assert.equal(leaf.subjectAltName, `DNS:${longName}`);
  });

  it('refuses wildcards and malformed names', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    for (const bad of ['*.example.test', '', 'exa mple.test', 'a..b', '-a.test', `${'a'.repeat(64)}.test`, 'fe80::1%eth0']) {
      await assert.rejects(cache.getSecureContext(bad), (err) => err instanceof LeafHostnameError && err.code === 'EPROXY_MITM_HOSTNAME');
    }
    assert.equal(cache.stats.misses, 0);
  });

  it('evicts the least recently used leaf beyond maxEntries', async () => {
    const cache = new LeafCertificateCache({ ca, maxEntries: 2, leafValidityDays: 30 });
    await cache.getSecureContext('one.example.test');
    await cache.getSecureContext('two.example.test');
    await cache.getSecureContext('three.example.test');
    assert.equal(cache.size, 2);
    assert.equal(cache.stats.generated, 3);
    await cache.getSecureContext('three.example.test');
    assert.equal(cache.stats.generated, 3, 'the newest is still cached');
    await cache.getSecureContext('one.example.test');
    assert.equal(cache.stats.generated, 4, 'the oldest was evicted and is minted again');
  });

  it('drops a leaf halfway through its life and mints a new one', async () => {
    let clock = Date.now();
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30, now: () => clock });
    const first = await cache.getLeafCertificate('clock.example.test');
    assert.equal(first.notAfter.getTime() - first.notBefore.getTime(), 30 * DAY_MS + 60 * 60 * 1000, '30 days + 1 h skew allowance');
    clock += 14 * DAY_MS;
    assert.equal(await cache.getLeafCertificate('clock.example.test'), first);
    assert.equal(cache.stats.generated, 1);
    clock += 2 * DAY_MS;
    const renewed = await cache.getLeafCertificate('clock.example.test');
    assert.notEqual(renewed, first);
    assert.equal(cache.stats.generated, 2);
    assert.equal(renewed.notBefore.getTime(), Math.floor((clock - 60 * 60 * 1000) / 1000) * 1000, 'whole seconds');
    assert.ok(renewed.notAfter.getTime() - first.notAfter.getTime() >= 16 * DAY_MS);
  });

  it('never issues a leaf that outlives the CA', async () => {
    const shortCa = await inMemoryCa('ec', 10);
    const cache = new LeafCertificateCache({ ca: shortCa, maxEntries: 10, leafValidityDays: 30 });
    const leaf = await cache.getLeafCertificate('capped.example.test');
    assert.equal(leaf.notAfter.getTime(), shortCa.certificate.notAfter.getTime());
  });

  it('does not cache a failure: the next call tries again', async () => {
    let clock = Date.now() + 4000 * DAY_MS; // past the CA's notAfter
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30, now: () => clock });
    const failures = await Promise.allSettled([cache.getSecureContext('retry.example.test'), cache.getSecureContext('retry.example.test')]);
    for (const failure of failures) {
      assert.equal(failure.status, 'rejected');
      assert.ok(failure.status === 'rejected' && failure.reason instanceof CaInvalidError);
    }
    assert.equal(cache.size, 0);
    clock = Date.now();
    await cache.getSecureContext('retry.example.test');
    assert.deepEqual(cache.stats, { generated: 1, hits: 1, misses: 2 });
  });

  it('validates its options', () => {
    assert.throws(() => new LeafCertificateCache({ ca, maxEntries: 0, leafValidityDays: 30 }), /options\.maxEntries/);
    assert.throws(() => new LeafCertificateCache({ ca, maxEntries: 1, leafValidityDays: 0 }), /options\.leafValidityDays/);
  });
});

/**
 * A TLS server the way the interceptor uses the cache: a plain TCP server whose sockets are wrapped in a server
 * TLSSocket with a default context (for clients that send no SNI) and an SNICallback.
 */
async function startTlsServer(cache: LeafCertificateCache, defaultHost: string): Promise<{ port: number; close: () => Promise<void> }> {
  const defaultContext = await cache.getSecureContext(defaultHost);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    const tlsSocket = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: defaultContext,
      SNICallback: (servername, callback) => {
        cache.getSecureContext(servername).then(
          (context) => callback(null, context),
          (err: Error) => callback(err),
        );
      },
    });
    tlsSocket.on('error', () => socket.destroy());
    tlsSocket.on('secure', () => tlsSocket.end('hello'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

function handshake(options: tls.ConnectionOptions): Promise<{ authorized: boolean; error?: NodeJS.ErrnoException; peer?: tls.PeerCertificate }> {
  return new Promise((resolve) => {
    const socket = tls.connect(options, () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      resolve({ authorized: socket.authorized, peer });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ authorized: false, error }));
  });
}

describe('LeafCertificateCache in a real TLS handshake', () => {
  for (const keyType of ['ec', 'rsa'] as const) {
    it(`verifies against the ${keyType} CA, by SNI name and by IP without SNI`, async (t) => {
      const ca = await inMemoryCa(keyType);
      const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
      const server = await startTlsServer(cache, '127.0.0.1');
      t.after(server.close);

      const byName = await handshake({ host: '127.0.0.1', port: server.port, servername: 'example.test', ca: ca.certPem });
      assert.equal(byName.error, undefined);
      assert.equal(byName.authorized, true);
      assert.equal(byName.peer?.subject.CN, 'example.test');

      // Node (like Go) sends no SNI for an IP address: the default context, the CONNECT host's leaf, answers.
      const byIp = await handshake({ host: '127.0.0.1', port: server.port, ca: ca.certPem });
      assert.equal(byIp.error, undefined);
      assert.equal(byIp.authorized, true);
      assert.equal(byIp.peer?.subjectaltname, 'IP Address:127.0.0.1');
      assert.equal(cache.stats.generated, 2);
    });
  }

  it('serves an intermediate CA\'s chain, so clients that trust only the root verify', async (t) => {
    const root = await createExternalCa({ keyType: 'rsa', subject: 'CN=Corp Root CA' });
    const intermediate = await createExternalCa({ keyType: 'ec-p384', subject: 'CN=Corp MITM Intermediate', issuer: root });
    const ca = await certificateAuthorityFromPem({
      certPem: intermediate.certPem + root.certPem,
      keyPem: intermediate.keyPem,
      source: 'user',
    });
    assert.equal(ca.certPem, intermediate.certPem);
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const server = await startTlsServer(cache, '127.0.0.1');
    t.after(server.close);
    const result = await handshake({ host: '127.0.0.1', port: server.port, servername: 'corp.example.test', ca: root.certPem });
    assert.equal(result.error, undefined);
    assert.equal(result.authorized, true);
    assert.equal(result.peer?.issuer.CN, 'Corp MITM Intermediate');
  });

  it('fails verification for a client that does not trust the CA', async (t) => {
    const ca = await inMemoryCa();
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const server = await startTlsServer(cache, '127.0.0.1');
    t.after(server.close);
    const result = await handshake({ host: '127.0.0.1', port: server.port, servername: 'example.test' });
    assert.equal(result.authorized, false);
    // The served chain ends in the (self-signed) CA, which this client's roots do not hold.
    assert.equal(result.error?.code, 'SELF_SIGNED_CERT_IN_CHAIN');
  });

  it('fails verification when the name does not match the leaf', async (t) => {
    const ca = await inMemoryCa();
    const cache = new LeafCertificateCache({ ca, maxEntries: 10, leafValidityDays: 30 });
    const server = await startTlsServer(cache, '127.0.0.1');
    t.after(server.close);
    const result = await handshake({
      host: '127.0.0.1',
      port: server.port,
      servername: 'example.test',
      ca: ca.certPem,
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity('other.test', cert),
    });
    assert.equal(result.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
