// Shared pieces of the MITM certificate tests: temp data dirs, a MitmConfig with defaults, and CAs made
// independently of the code under test (Node's own key generation, signed with the x509 library directly).

import { generateKeyPairSync, webcrypto, type KeyObject } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { MitmConfig } from '../../src/config/proxy-config.js';
import { x509 } from '../../src/mitm/x509-library.js';
import { defaultConfig } from '../../src/config/defaults.js';

export async function makeTempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'egress-proxy-ca-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function mitmConfig(overrides: Partial<MitmConfig>): MitmConfig {
  return {
    ...defaultConfig({}).mitmOptions,
    dataDir: path.join(os.tmpdir(), 'unused'),
    caCommonName: 'egress-proxy CA (test)',
    ...overrides,
  };
}

export interface ExternalCa {
  certPem: string;
  keyPem: string;
  keyObject: KeyObject;
}

export interface ExternalCaOptions {
  keyType: 'ec-p256' | 'ec-p384' | 'rsa';
  /** basicConstraints cA; `undefined` leaves the extension out. Default true. */
  isCa?: boolean | undefined;
  validDays?: number;
  /** Key encoding of `keyPem`. Default pkcs8. */
  keyEncoding?: 'pkcs8' | 'legacy';
  /** Sign with this CA (making an intermediate) instead of self-signing. */
  issuer?: ExternalCa;
  subject?: string;
}

/** A CA as a user might bring one: key from Node's generator, no subjectKeyIdentifier, P-384 or RSA allowed. */
export async function createExternalCa(options: ExternalCaOptions): Promise<ExternalCa> {
  const { privateKey, publicKey } =
    options.keyType === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: options.keyType === 'ec-p384' ? 'P-384' : 'P-256' });
  const signerKeyObject = options.issuer?.keyObject ?? privateKey;
  const signerIsRsa = signerKeyObject.asymmetricKeyType === 'rsa';
  const signerIsP384 = signerKeyObject.asymmetricKeyDetails?.namedCurve === 'secp384r1';
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    signerKeyObject.export({ format: 'der', type: 'pkcs8' }),
    signerIsRsa ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } : { name: 'ECDSA', namedCurve: signerIsP384 ? 'P-384' : 'P-256' },
    false,
    ['sign'],
  );
  const isCa = 'isCa' in options ? options.isCa : true;
  const extensions: x509.Extension[] = [];
  if (isCa !== undefined) extensions.push(new x509.BasicConstraintsExtension(isCa, undefined, true));
  const now = Date.now();
  const subject = options.subject ?? 'CN=Test user CA, O=Example Corp';
  const certificate = await x509.X509CertificateGenerator.create({
    subject,
    issuer: options.issuer ? new x509.X509Certificate(options.issuer.certPem).subjectName : subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 365) * 86_400_000),
    publicKey: publicKey.export({ format: 'der', type: 'spki' }),
    signingKey,
    signingAlgorithm: signerIsRsa ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: signerIsP384 ? 'SHA-384' : 'SHA-256' },
    extensions,
  });
  const keyPem =
    options.keyEncoding === 'legacy'
      ? (privateKey.export({ format: 'pem', type: options.keyType === 'rsa' ? 'pkcs1' : 'sec1' }) as string)
      : (privateKey.export({ format: 'pem', type: 'pkcs8' }) as string);
  return { certPem: certificate.toString('pem') + '\n', keyPem, keyObject: privateKey };
}
