// The CA store: a generated CA persists with owner-only permissions and is reused, is a real CA, is replaced when
// about to expire; a user-supplied CA is loaded, and unusable ones fail with typed errors.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate as NodeX509Certificate } from 'node:crypto';
import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CA_CERT_FILE_NAME, CA_KEY_FILE_NAME, caFilePaths, loadOrCreateCa } from '../../src/mitm/ca-store.js';
import { createLeafCertificate } from '../../src/mitm/certificate-factory.js';
import { parseLeafHostname } from '../../src/mitm/leaf-hostname.js';
import { CaInvalidError, CaKeyMismatchError, CaStoreError } from '../../src/mitm/mitm-errors.js';
import { x509 } from '../../src/mitm/x509-library.js';
import { createExternalCa, makeTempDir, mitmConfig } from './ca-test-support.js';

const execFileAsync = promisify(execFile);

describe('loadOrCreateCa with a generated CA', () => {
  it('generates a CA on first use and reuses the same one afterwards', async (t) => {
    const dataDir = path.join(await makeTempDir(t), 'nested', 'data');
    const messages: string[] = [];
    const first = await loadOrCreateCa(mitmConfig({ dataDir }), (m) => messages.push(m));
    const second = await loadOrCreateCa(mitmConfig({ dataDir }), (m) => messages.push(m));

    assert.equal(first.source, 'generated');
    assert.equal(second.source, 'stored');
    assert.equal(second.certificate.serialNumber, first.certificate.serialNumber);
    assert.equal(
      new NodeX509Certificate(second.certPem).fingerprint256,
      new NodeX509Certificate(first.certPem).fingerprint256,
    );
    assert.equal(first.certPath, path.join(dataDir, CA_CERT_FILE_NAME));
    assert.equal(first.keyPath, path.join(dataDir, CA_KEY_FILE_NAME));
    assert.equal(await readFile(first.certPath, 'utf8'), first.certPem);
    assert.equal(messages.length, 1, 'one line for the generation, none for the reuse');
    assert.match(messages[0] ?? '', /generated a new MITM CA .*clients must trust/);
  });

  it('writes the key 0600, the certificate 0644 and the directory 0700, and leaves no temp files', async (t) => {
    const dataDir = path.join(await makeTempDir(t), 'data');
    const ca = await loadOrCreateCa(mitmConfig({ dataDir }));
    assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    assert.equal((await stat(ca.keyPath!)).mode & 0o777, 0o600);
    assert.equal((await stat(ca.certPath!)).mode & 0o777, 0o644);
    assert.deepEqual((await readdir(dataDir)).sort(), [CA_CERT_FILE_NAME, CA_KEY_FILE_NAME]);
  });

  it('makes a CA that Node accepts as a CA and that verifies the leaves it signs', async (t) => {
    const ca = await loadOrCreateCa(mitmConfig({ dataDir: await makeTempDir(t), caCommonName: 'Acme, "MITM" CA' }));
    const caCert = new NodeX509Certificate(ca.certPem);
    assert.equal(caCert.ca, true);
    assert.deepEqual(ca.certificate.subjectName.getField('CN'), ['Acme, "MITM" CA'], 'a comma or quote stays literal');
    assert.deepEqual(ca.certificate.subjectName.getField('O'), ['egress-proxy']);
    assert.equal(caCert.checkIssued(caCert), true, 'self-signed');
    assert.equal(caCert.verify(caCert.publicKey), true);
    assert.equal(ca.certificate.getExtension(x509.BasicConstraintsExtension)?.pathLength, 0);

    const leaf = await createLeafCertificate(ca, parseLeafHostname('api.example.test'), { now: Date.now(), validityDays: 30 });
    const leafCert = new NodeX509Certificate(leaf.certPem);
    assert.equal(leafCert.checkIssued(caCert), true);
    assert.equal(leafCert.verify(caCert.publicKey), true);
    assert.equal(leafCert.ca, false);
    assert.equal(leafCert.checkHost('api.example.test'), 'api.example.test');
  });

  it('generates an RSA-2048 CA when caKeyType is rsa', async (t) => {
    const ca = await loadOrCreateCa(mitmConfig({ dataDir: await makeTempDir(t), caKeyType: 'rsa' }));
    const caCert = new NodeX509Certificate(ca.certPem);
    assert.equal(caCert.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(caCert.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    const leaf = await createLeafCertificate(ca, parseLeafHostname('rsa.example.test'), { now: Date.now(), validityDays: 30 });
    assert.equal(new NodeX509Certificate(leaf.certPem).verify(caCert.publicKey), true);
  });

  it('replaces a stored CA that expires within 7 days', async (t) => {
    const dataDir = await makeTempDir(t);
    const shortLived = await loadOrCreateCa(mitmConfig({ dataDir, caValidityDays: 3 }));
    const messages: string[] = [];
    const replaced = await loadOrCreateCa(mitmConfig({ dataDir }), (m) => messages.push(m));
    assert.equal(replaced.source, 'generated');
    assert.notEqual(replaced.certificate.serialNumber, shortLived.certificate.serialNumber);
    assert.match(messages[0] ?? '', /the stored CA expires on .*generated a new MITM CA/);
  });

  it('replaces a stored pair whose key does not match the certificate', async (t) => {
    const dataDir = await makeTempDir(t);
    const original = await loadOrCreateCa(mitmConfig({ dataDir }));
    await writeFile(original.keyPath!, (await createExternalCa({ keyType: 'ec-p256' })).keyPem, { mode: 0o600 });
    const replaced = await loadOrCreateCa(mitmConfig({ dataDir }));
    assert.equal(replaced.source, 'generated');
    assert.notEqual(replaced.certificate.serialNumber, original.certificate.serialNumber);
  });

  it('tightens a stored key file that others can read, and says so', async (t) => {
    const dataDir = await makeTempDir(t);
    const ca = await loadOrCreateCa(mitmConfig({ dataDir }));
    await chmod(ca.keyPath!, 0o644);
    const messages: string[] = [];
    await loadOrCreateCa(mitmConfig({ dataDir }), (m) => messages.push(m));
    assert.equal((await stat(ca.keyPath!)).mode & 0o777, 0o600);
    assert.match(messages.join('\n'), /accessible to other users \(mode 0644\)/);
  });

  it('lets separate processes starting at once agree on one CA', async (t) => {
    const dataDir = await makeTempDir(t);
    const storeModule = new URL('../../src/mitm/ca-store.ts', import.meta.url).href;
    const script = `
      import { loadOrCreateCa } from ${JSON.stringify(storeModule)};
      const ca = await loadOrCreateCa({ dataDir: process.argv[1], caCommonName: 'multi-process', caValidityDays: 30, caKeyType: 'ec' });
      process.stdout.write(ca.source + ' ' + ca.certificate.serialNumber);`;
    const outputs = await Promise.all(
      Array.from({ length: 4 }, () =>
        execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dataDir]).then((r) => r.stdout),
      ),
    );
    const serials = new Set(outputs.map((line) => line.split(' ')[1]));
    assert.equal(serials.size, 1, outputs.join('\n'));
    assert.equal(outputs.filter((line) => line.startsWith('generated ')).length, 1, outputs.join('\n'));
    assert.equal((await loadOrCreateCa(mitmConfig({ dataDir }))).certificate.serialNumber, [...serials][0]);
  });

  it('lets concurrent starts agree on one CA, with a matching key on disk', async (t) => {
    const dataDir = await makeTempDir(t);
    const cas = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateCa(mitmConfig({ dataDir }))));
    const serials = new Set(cas.map((ca) => ca.certificate.serialNumber));
    assert.equal(serials.size, 1);
    assert.equal(cas.filter((ca) => ca.source === 'generated').length, 1);
    const reloaded = await loadOrCreateCa(mitmConfig({ dataDir }));
    assert.equal(reloaded.certificate.serialNumber, cas[0]?.certificate.serialNumber);
    assert.deepEqual((await readdir(dataDir)).sort(), [CA_CERT_FILE_NAME, CA_KEY_FILE_NAME]);
  });
});

describe('loadOrCreateCa with a user-supplied CA', () => {
  async function writeCa(dir: string, certPem: string, keyPem: string): Promise<{ caCertFile: string; caKeyFile: string }> {
    const caCertFile = path.join(dir, 'user-ca.pem');
    const caKeyFile = path.join(dir, 'user-ca.key');
    await writeFile(caCertFile, certPem);
    await writeFile(caKeyFile, keyPem, { mode: 0o600 });
    return { caCertFile, caKeyFile };
  }

  for (const keyType of ['ec-p256', 'ec-p384', 'rsa'] as const) {
    it(`loads a ${keyType} CA and signs leaves that verify against it`, async (t) => {
      const dir = await makeTempDir(t);
      const external = await createExternalCa({ keyType });
      const files = await writeCa(dir, external.certPem, external.keyPem);
      const ca = await loadOrCreateCa(mitmConfig({ dataDir: path.join(dir, 'unused'), ...files }));

      assert.equal(ca.source, 'user');
      assert.equal(ca.certPath, files.caCertFile);
      assert.equal(ca.keyPath, files.caKeyFile);
      assert.equal(ca.certPem, external.certPem);
      const leaf = await createLeafCertificate(ca, parseLeafHostname('10.1.2.3'), { now: Date.now(), validityDays: 30 });
      const caCert = new NodeX509Certificate(ca.certPem);
      const leafCert = new NodeX509Certificate(leaf.certPem);
      assert.equal(leafCert.checkIssued(caCert), true);
      assert.equal(leafCert.verify(caCert.publicKey), true);
      assert.equal(leafCert.checkIP('10.1.2.3'), '10.1.2.3');
      assert.deepEqual(await readdir(dir), ['user-ca.key', 'user-ca.pem'], 'nothing written to dataDir');
    });
  }

  it('accepts SEC1 and PKCS#1 keys as well as PKCS#8', async (t) => {
    const dir = await makeTempDir(t);
    for (const keyType of ['ec-p256', 'rsa'] as const) {
      const external = await createExternalCa({ keyType, keyEncoding: 'legacy' });
      assert.doesNotMatch(external.keyPem, /BEGIN PRIVATE KEY/);
      const ca = await loadOrCreateCa(mitmConfig(await writeCa(dir, external.certPem, external.keyPem)));
      assert.equal(ca.source, 'user');
    }
  });

  it('rejects a key that is not the certificate\'s key', async (t) => {
    const dir = await makeTempDir(t);
    const certOwner = await createExternalCa({ keyType: 'ec-p256' });
    const stranger = await createExternalCa({ keyType: 'ec-p256' });
    const files = await writeCa(dir, certOwner.certPem, stranger.keyPem);
    await assert.rejects(loadOrCreateCa(mitmConfig(files)), (err) => {
      assert.ok(err instanceof CaKeyMismatchError);
      assert.equal(err.code, 'EPROXY_CA_KEY_MISMATCH');
      assert.equal(err.keyFile, files.caKeyFile);
      return true;
    });
  });

  it('rejects a key of another type than the certificate\'s (RSA key, EC certificate)', async (t) => {
    const dir = await makeTempDir(t);
    const ec = await createExternalCa({ keyType: 'ec-p256' });
    const rsa = await createExternalCa({ keyType: 'rsa' });
    await assert.rejects(loadOrCreateCa(mitmConfig(await writeCa(dir, ec.certPem, rsa.keyPem))), CaKeyMismatchError);
  });

  it('rejects a certificate whose basicConstraints says it is not a CA', async (t) => {
    const dir = await makeTempDir(t);
    const notCa = await createExternalCa({ keyType: 'ec-p256', isCa: false });
    const files = await writeCa(dir, notCa.certPem, notCa.keyPem);
    await assert.rejects(loadOrCreateCa(mitmConfig(files)), (err) => {
      assert.ok(err instanceof CaInvalidError);
      assert.equal(err.code, 'EPROXY_CA_INVALID');
      assert.equal(err.file, files.caCertFile);
      assert.match(err.message, /not a CA certificate/);
      return true;
    });
  });

  it('loads a certificate without basicConstraints, with a warning', async (t) => {
    const dir = await makeTempDir(t);
    const legacy = await createExternalCa({ keyType: 'ec-p256', isCa: undefined });
    const messages: string[] = [];
    const ca = await loadOrCreateCa(mitmConfig(await writeCa(dir, legacy.certPem, legacy.keyPem)), (m) => messages.push(m));
    assert.equal(ca.source, 'user');
    assert.match(messages.join('\n'), /no basicConstraints/);
  });

  it('rejects an expired CA, text that is no certificate, and an encrypted key', async (t) => {
    const dir = await makeTempDir(t);
    const expired = await createExternalCa({ keyType: 'ec-p256', validDays: -1 });
    await assert.rejects(loadOrCreateCa(mitmConfig(await writeCa(dir, expired.certPem, expired.keyPem))), /expired on/);

    const good = await createExternalCa({ keyType: 'ec-p256' });
    await assert.rejects(
      loadOrCreateCa(mitmConfig(await writeCa(dir, 'not a certificate\n', good.keyPem))),
      (err) => err instanceof CaInvalidError && /no PEM certificate/.test(err.message),
    );

    const encryptedKey = good.keyObject.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'x' });
    await assert.rejects(
      loadOrCreateCa(mitmConfig(await writeCa(dir, good.certPem, encryptedKey as string))),
      (err) => err instanceof CaInvalidError && /the key is encrypted/.test(err.message),
    );
  });

  it('rejects caCertFile without caKeyFile, and missing files', async (t) => {
    const dir = await makeTempDir(t);
    await assert.rejects(
      loadOrCreateCa(mitmConfig({ caCertFile: path.join(dir, 'ca.pem') })),
      (err) => err instanceof CaInvalidError && /must be given together/.test(err.message),
    );
    await assert.rejects(
      loadOrCreateCa(mitmConfig({ caCertFile: path.join(dir, 'missing.pem'), caKeyFile: path.join(dir, 'missing.key') })),
      (err) => err instanceof CaStoreError && err.code === 'EPROXY_CA_STORE' && /does not exist/.test(err.message),
    );
  });

  it('reports the user files from caFilePaths', () => {
    assert.deepEqual(caFilePaths(mitmConfig({ caCertFile: '/etc/p/ca.pem', caKeyFile: '/etc/p/ca.key' })), {
      certPath: '/etc/p/ca.pem',
      keyPath: '/etc/p/ca.key',
    });
  });
});
