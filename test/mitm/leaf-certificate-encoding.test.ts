// Leaf certificates as clients see them: OpenSSL's strict X.509 and TLS-server checks, every field read back by
// two independent parsers (OpenSSL through Node, and the X.509 library), the signature hash following the CA key,
// and the issuer equal byte for byte to the subject of CAs whose names use the less common string types.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { certificateAuthorityFromPem, type CertificateAuthority } from '../../src/mitm/certificate-authority.js';
import { createCaCertificate, createLeafCertificate } from '../../src/mitm/certificate-factory.js';
import { randomSerialNumber } from '../../src/mitm/certificate-fields.js';
import { parseLeafHostname } from '../../src/mitm/leaf-hostname.js';
import { x509 } from '../../src/mitm/x509-library.js';
import { createExternalCa, makeTempDir } from './ca-test-support.js';

const execFileAsync = promisify(execFile);
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;

async function openssl(args: string[], cwd?: string): Promise<string> {
  return (await execFileAsync('openssl', args, { cwd })).stdout;
}

const opensslMissing = await openssl(['version']).then(
  () => false,
  () => 'the openssl command is not installed',
);

async function generatedCa(keyType: 'ec' | 'rsa' = 'ec', now = Date.now(), validityDays = 30): Promise<CertificateAuthority> {
  const pem = await createCaCertificate({ commonName: 'encoding test CA', validityDays, keyType, now });
  return certificateAuthorityFromPem({ ...pem, source: 'generated', now });
}

/** A CA made by `openssl req`, with a subject in the string types the config asks for. */
async function opensslCa(dir: string, name: string, keyArgs: string[], config: string): Promise<CertificateAuthority> {
  await writeFile(path.join(dir, `${name}.cnf`), config);
  await openssl(
    ['req', '-x509', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3', '-config', `${name}.cnf`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  const certPem = await readFile(path.join(dir, `${name}.pem`), 'utf8');
  const keyPem = await readFile(path.join(dir, `${name}.key`), 'utf8');
  return certificateAuthorityFromPem({ certPem, keyPem, source: 'user' });
}

/** `openssl verify -x509_strict -purpose sslserver` of a leaf against its CA; the output, or the failure's. */
async function opensslVerify(dir: string, ca: CertificateAuthority, leafPem: string, extra: string[] = []): Promise<string> {
  await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
  await writeFile(path.join(dir, 'leaf.pem'), leafPem);
  try {
    return await openssl(['verify', '-x509_strict', '-purpose', 'sslserver', ...extra, '-CAfile', 'ca.pem', 'leaf.pem'], dir);
  } catch (err) {
    const { stdout, stderr } = err as { stdout: string; stderr: string };
    return `${stdout}${stderr}`;
  }
}

describe('leaf certificate fields', () => {
  it('carry key identifiers, SAN and issuer that an independent parser agrees with', async () => {
    const ca = await generatedCa();
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('::1'), { now: Date.now(), validityDays: 7 });
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

  it('are a server certificate: not a CA, digitalSignature only, serverAuth only, with critical constraints', async () => {
    const now = Date.now();
    // A CA that outlives the leaf: with equal 30-day lives, the leaf's end was capped at the CA's whenever the two
    // Date.now() calls fell on either side of a second boundary.
    const ca = await generatedCa('ec', now, 365);
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('Api.Example.Test'), { now, validityDays: 30 });
    const leaf = new x509.X509Certificate(leafPem.certPem);

    const basicConstraints = leaf.getExtension(x509.BasicConstraintsExtension);
    assert.equal(basicConstraints?.ca, false);
    assert.equal(basicConstraints?.critical, true);
    const keyUsage = leaf.getExtension(x509.KeyUsagesExtension);
    assert.equal(keyUsage?.usages, x509.KeyUsageFlags.digitalSignature);
    assert.equal(keyUsage?.critical, true);
    assert.deepEqual([...(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])], [x509.ExtendedKeyUsage.serverAuth]);
    assert.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [{ type: 'dns', value: 'api.example.test' }]);

    const node = new NodeX509Certificate(leafPem.certPem);
    assert.equal(node.ca, false);
    assert.equal(node.subjectAltName, 'DNS:api.example.test');
    assert.equal(node.checkHost('api.example.test'), 'api.example.test');
    assert.deepEqual(node.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    assert.equal(node.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'a P-256 key of its own');
    assert.equal(node.checkPrivateKey(createPrivateKey(leafPem.keyPem)), true);
    assert.equal(node.checkIssued(new NodeX509Certificate(ca.certPem)), true);
    assert.match(node.serialNumber, /^[0-7]/, 'positive: the top bit of the serial is clear');
    assert.ok(node.serialNumber.length >= 30, 'about 16 random bytes');
    assert.equal(leafPem.notBefore.getTime(), Math.floor((now - HOUR_MS) / 1000) * 1000, 'an hour of clock skew allowed');
    assert.equal(leafPem.notAfter.getTime(), Math.floor((now + 30 * DAY_MS) / 1000) * 1000);
  });

  it('never outlive the CA, and are refused once it has expired', async () => {
    const now = Date.now();
    const ca = await generatedCa('ec', now, 3);
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('capped.test'), { now, validityDays: 30 });
    assert.equal(leafPem.notAfter.getTime(), ca.certificate.notAfter.getTime());
    await assert.rejects(
      createLeafCertificate(ca, parseLeafHostname('late.test'), { now: now + 4 * DAY_MS, validityDays: 30 }),
      /the CA expired on/,
    );
  });

  it('encode and verify dates past 2049', async () => {
    const now = Date.parse('2049-12-20T00:00:00Z');
    const ca = await generatedCa('ec', now, 3650);
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('future.test'), { now, validityDays: 30 });
    const leaf = new NodeX509Certificate(leafPem.certPem);
    assert.equal(leaf.validFrom, 'Dec 19 23:00:00 2049 GMT');
    assert.equal(leaf.validTo, 'Jan 19 00:00:00 2050 GMT');
    assert.equal(leaf.verify(new NodeX509Certificate(ca.certPem).publicKey), true);
  });

  it('truncate a long name to 64 characters in a UTF8String CN', { skip: opensslMissing }, async (t) => {
    const dir = await makeTempDir(t);
    const ca = await generatedCa();
    const longName = `${'a'.repeat(60)}.${'b'.repeat(60)}.example.test`;
    const leafPem = await createLeafCertificate(ca, parseLeafHostname(longName), { now: Date.now(), validityDays: 30 });
    await writeFile(path.join(dir, 'leaf.pem'), leafPem.certPem);
    const subject = await openssl(['x509', '-in', 'leaf.pem', '-noout', '-subject', '-nameopt', 'multiline,show_type'], dir);
    assert.match(subject, new RegExp(`commonName += UTF8STRING:${longName.slice(0, 64)}\\n`));
    assert.equal(new NodeX509Certificate(leafPem.certPem).subjectAltName, `DNS:${longName}`);
  });
});

describe('leaf certificates under OpenSSL', { skip: opensslMissing }, () => {
  it('pass openssl verify -x509_strict -purpose sslserver, for a name and for IPv4 and IPv6 addresses', async (t) => {
    const dir = await makeTempDir(t);
    for (const keyType of ['ec', 'rsa'] as const) {
      const ca = await generatedCa(keyType);
      for (const [host, check] of [['api.example.test', '-verify_hostname'], ['192.0.2.10', '-verify_ip'], ['2001:db8::1', '-verify_ip']] as const) {
        const leafPem = await createLeafCertificate(ca, parseLeafHostname(host), { now: Date.now(), validityDays: 30 });
        assert.equal(await opensslVerify(dir, ca, leafPem.certPem, [check, host]), 'leaf.pem: OK\n', `${keyType} CA, ${host}`);
      }
    }
  });

  it('fail it for another host name', async (t) => {
    const dir = await makeTempDir(t);
    const ca = await generatedCa();
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('api.example.test'), { now: Date.now(), validityDays: 30 });
    assert.match(await opensslVerify(dir, ca, leafPem.certPem, ['-verify_hostname', 'other.example.test']), /hostname mismatch/);
  });

  for (const [keyType, keyArgs, hash] of [
    ['P-256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], 'SHA-256'],
    ['P-384', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384'], 'SHA-384'],
    ['RSA', ['-newkey', 'rsa:2048'], 'SHA-256'],
  ] as const) {
    it(`are signed with ${hash} by a ${keyType} CA from openssl, and verify against it`, async (t) => {
      const dir = await makeTempDir(t);
      const config = '[req]\ndistinguished_name=dn\nprompt=no\n[dn]\nCN=OpenSSL CA\nO=Example Corp\n';
      const ca = await opensslCa(dir, 'ca', [...keyArgs], config);
      const leafPem = await createLeafCertificate(ca, parseLeafHostname('signed.example.test'), { now: Date.now(), validityDays: 30 });
      const leaf = new x509.X509Certificate(leafPem.certPem);
      assert.deepEqual(leaf.signatureAlgorithm, keyType === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5', hash: { name: hash } } : { name: 'ECDSA', hash: { name: hash } });
      assert.equal(await opensslVerify(dir, ca, leafPem.certPem), 'leaf.pem: OK\n');
    });
  }

  it('name as issuer the CA subject exactly as encoded (T61String, BMPString, IA5String, multi-valued RDNs)', async (t) => {
    const dir = await makeTempDir(t);
    const p256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
    const configs = {
      // OpenSSL's default mask writes non-ASCII text as T61String, and ASCII as PrintableString where it can.
      t61: '[req]\ndistinguished_name=dn\nprompt=no\nutf8=yes\nstring_mask=default\n[dn]\nCN=Tëst CA\nO=Örg\nOU=plain\n',
      bmp: '[req]\ndistinguished_name=dn\nprompt=no\nutf8=yes\nstring_mask=pkix\n[dn]\nCN=Tëst CA\nO=Örg\n',
      mixed:
        '[req]\ndistinguished_name=dn\nprompt=no\nutf8=yes\nstring_mask=utf8only\n[dn]\nC=US\nO=Acme, Inc.\n' +
        'OU=Sec\n+CN=Multi\nCN=Teß CA\nemailAddress=ca@example.test\nDC=example\n',
    };
    for (const [name, config] of Object.entries(configs)) {
      const ca = await opensslCa(dir, name, p256, config);
      const leafPem = await createLeafCertificate(ca, parseLeafHostname('issuer.example.test'), { now: Date.now(), validityDays: 30 });
      await writeFile(path.join(dir, 'leaf.pem'), leafPem.certPem);
      // The "old" name hash is MD5 over the name's DER as found in the certificate; the current one canonicalises.
      const caSubject = await openssl(['x509', '-in', `${name}.pem`, '-noout', '-subject_hash_old', '-subject', '-nameopt', 'multiline,show_type'], dir);
      const leafIssuer = await openssl(['x509', '-in', 'leaf.pem', '-noout', '-issuer_hash_old', '-issuer', '-nameopt', 'multiline,show_type'], dir);
      assert.equal(leafIssuer.replace('issuer=', 'subject='), caSubject, name);
      assert.equal(await opensslVerify(dir, ca, leafPem.certPem), 'leaf.pem: OK\n', name);
    }
    assert.match(await openssl(['x509', '-in', 't61.pem', '-noout', '-subject', '-nameopt', 'multiline,show_type'], dir), /T61STRING/);
    assert.match(await openssl(['x509', '-in', 'bmp.pem', '-noout', '-subject', '-nameopt', 'multiline,show_type'], dir), /BMPSTRING/);
  });

  it('verify against a user CA without a subjectKeyIdentifier, with an authorityKeyIdentifier computed from its key', async (t) => {
    const dir = await makeTempDir(t);
    const external = await createExternalCa({ keyType: 'ec-p384' });
    const ca = await certificateAuthorityFromPem({ certPem: external.certPem, keyPem: external.keyPem, source: 'user' });
    assert.equal(ca.certificate.getExtension(x509.SubjectKeyIdentifierExtension), null);
    const leafPem = await createLeafCertificate(ca, parseLeafHostname('legacy.example.test'), { now: Date.now(), validityDays: 30 });
    const leaf = new x509.X509Certificate(leafPem.certPem);
    assert.equal(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId, (await x509.SubjectKeyIdentifierExtension.create(ca.certificate.publicKey)).keyId);
    // Not -x509_strict: OpenSSL 3 requires a subjectKeyIdentifier in the CA itself under that flag.
    await writeFile(path.join(dir, 'ca.pem'), ca.certPem);
    await writeFile(path.join(dir, 'leaf.pem'), leafPem.certPem);
    assert.equal(await openssl(['verify', '-purpose', 'sslserver', '-CAfile', 'ca.pem', 'leaf.pem'], dir), 'leaf.pem: OK\n');
  });
});

describe('serial numbers', () => {
  it('are positive and minimally encoded: the first byte is never 0x00 and never has its top bit set', () => {
    // 1 draw in 128 used to start with 0x00, a non-minimal DER INTEGER that strict parsers refuse.
    for (let i = 0; i < 5000; i++) {
      const first = randomSerialNumber()[0] ?? 0;
      assert.ok(first >= 0x01 && first <= 0x7f, `first byte 0x${first.toString(16)}`);
    }
  });
});
