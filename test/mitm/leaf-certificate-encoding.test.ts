// The hand-built DER of leaf certificates: the encoding rules it relies on, and its fields read back by two
// independent parsers (OpenSSL through Node, and the X.509 library).

import assert from 'node:assert/strict';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { describe, it } from 'node:test';
import { certificateAuthorityFromPem } from '../../src/mitm/certificate-authority.js';
import { createCaCertificate, createLeafCertificate } from '../../src/mitm/certificate-factory.js';
import { derOid, derTime, derUnsignedInteger, derOctetString, derChildren } from '../../src/mitm/der-encoding.js';
import { parseLeafHostname } from '../../src/mitm/leaf-hostname.js';
import { x509 } from '../../src/mitm/x509-library.js';

describe('DER encoding', () => {
  it('encodes times as UTCTime through 2049 and GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', () => {
    assert.equal(derTime(new Date('2049-12-31T23:59:59.999Z')).toString('latin1'), '\x17\x0d491231235959Z');
    assert.equal(derTime(new Date('2050-01-01T00:00:00Z')).toString('latin1'), '\x18\x0f20500101000000Z');
  });

  it('encodes INTEGERs minimal and positive', () => {
    assert.equal(derUnsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex'), '02017f');
    assert.equal(derUnsignedInteger(Buffer.from([0x80])).toString('hex'), '02020080');
    assert.equal(derUnsignedInteger(Buffer.from([0x00])).toString('hex'), '020100');
  });

  it('encodes OIDs with multi-byte arcs and long lengths', () => {
    assert.equal(derOid('1.2.840.10045.4.3.2').toString('hex'), '06082a8648ce3d040302');
    const long = derOctetString(Buffer.alloc(300));
    assert.equal(long.subarray(0, 4).toString('hex'), '0482012c');
    assert.equal(derChildren(long)[0]?.content.length, 300);
  });
});

describe('leaf certificate fields', () => {
  it('carry key identifiers, SAN and issuer that an independent parser agrees with', async () => {
    const pem = await createCaCertificate({ commonName: 'encoding test CA', validityDays: 30, keyType: 'ec' });
    const ca = await certificateAuthorityFromPem({ ...pem, source: 'generated' });
    const leafPem = createLeafCertificate(ca, parseLeafHostname('::1'), { now: Date.now(), validityDays: 7 });
    const leaf = new x509.X509Certificate(leafPem.certPem);

    const ski = leaf.getExtension(x509.SubjectKeyIdentifierExtension);
    assert.equal(ski?.keyId, (await x509.SubjectKeyIdentifierExtension.create(leaf.publicKey)).keyId);
    assert.equal(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    assert.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [{ type: 'ip', value: '::1' }]);
    assert.equal(leaf.issuer, ca.certificate.subject);
    assert.equal(leaf.notBefore.getTime(), leafPem.notBefore.getTime());
    assert.equal(leaf.notAfter.getTime(), leafPem.notAfter.getTime());
    assert.equal(await leaf.verify({ publicKey: ca.certificate.publicKey, signatureOnly: true }), true);
  });

  it('encodes and verifies dates past 2049', async () => {
    const now = Date.parse('2049-12-20T00:00:00Z');
    const pem = await createCaCertificate({ commonName: 'far future CA', validityDays: 3650, keyType: 'ec', now });
    const ca = await certificateAuthorityFromPem({ ...pem, source: 'generated', now });
    const leafPem = createLeafCertificate(ca, parseLeafHostname('future.test'), { now, validityDays: 30 });
    const leaf = new NodeX509Certificate(leafPem.certPem);
    assert.equal(leaf.validTo, 'Jan 19 00:00:00 2050 GMT');
    assert.equal(leaf.verify(new NodeX509Certificate(ca.certPem).publicKey), true);
  });
});
