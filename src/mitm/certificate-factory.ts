/**
 * Mints certificates: the self-signed CA of an install, and the leaf presented for one intercepted host, both with
 * the X.509 library. Pure functions of their inputs and the clock; storing and caching them is someone else's job.
 */

import { KeyObject } from 'node:crypto';
import type { CertificateAuthority } from './certificate-authority.js';
import { CLOCK_SKEW_ALLOWANCE_MS, DAY_MS, randomSerialNumber, truncateCommonName, wholeSeconds } from './certificate-fields.js';
import type { LeafHostname } from './leaf-hostname.js';
import { CaInvalidError } from './mitm-errors.js';
import { subtle, x509 } from './x509-library.js';

// ---- The CA ----

const CA_ORGANIZATION = 'egress-proxy';

export interface CaCertificateOptions {
  commonName: string;
  validityDays: number;
  keyType: 'ec' | 'rsa';
  /** Current time in ms since the epoch. Default `Date.now()`. */
  now?: number;
}

export interface GeneratedCaPem {
  certPem: string;
  /** Unencrypted PKCS#8: the file's 0600 mode is what protects it. */
  keyPem: string;
}

/** Generates a fresh key pair and a self-signed CA certificate that may sign leaves but no further CAs. */
export async function createCaCertificate(options: CaCertificateOptions): Promise<GeneratedCaPem> {
  const now = options.now ?? Date.now();
  const keyAlgorithm =
    options.keyType === 'rsa'
      ? { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
      : { name: 'ECDSA', namedCurve: 'P-256' };
  const keys = await subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerialNumber().toString('hex'),
    name: distinguishedName(options.commonName, CA_ORGANIZATION),
    notBefore: wholeSeconds(now - CLOCK_SKEW_ALLOWANCE_MS),
    notAfter: wholeSeconds(now + options.validityDays * DAY_MS),
    keys,
    signingAlgorithm: options.keyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [
      // pathLen 0: even if this key leaks, it can sign leaves but cannot create a CA that would outlive it.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }) as string;
  return { certPem: `${certificate.toString('pem')}\n`, keyPem };
}

/**
 * A DN from literal values. Typed UTF8String values, because plain strings are parsed as RFC 4514 text by the
 * library: a configured common name with a quote, comma or leading `#` would silently become a different name.
 */
function distinguishedName(commonName: string, organization: string): x509.Name {
  return new x509.Name([{ CN: [{ utf8String: truncateCommonName(commonName) }] }, { O: [{ utf8String: organization }] }]);
}

// ---- Leaves ----

export interface LeafCertificateOptions {
  /** Current time in ms since the epoch. */
  now: number;
  validityDays: number;
}

export interface LeafCertificatePem {
  /** The leaf alone; the chain to serve is this followed by `ca.chainPem`. */
  certPem: string;
  /** The leaf's own key, PKCS#8. */
  keyPem: string;
  notBefore: Date;
  notAfter: Date;
}

const LEAF_KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };

// The same in every leaf, so built once. RFC 5280 §4.2.1.9: not a CA. §4.2.1.3: digitalSignature only, as ECDHE
// with an EC key never uses keyEncipherment. §4.2.1.12: serverAuth only, so the key cannot pass for a client or
// code signer.
const LEAF_CONSTRAINTS: readonly x509.Extension[] = [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
];

/**
 * Issues the leaf for one host with its own new P-256 key. A key per leaf rather than one shared key: a key pulled
 * from one handshake's memory then impersonates one host for a few weeks, not every host there is. Rejects with
 * `CaInvalidError` when the CA has expired (a leaf can never outlive its CA).
 */
export async function createLeafCertificate(
  ca: CertificateAuthority,
  host: LeafHostname,
  options: LeafCertificateOptions,
): Promise<LeafCertificatePem> {
  const caNotAfter = ca.certificate.notAfter.getTime();
  const notBefore = wholeSeconds(options.now - CLOCK_SKEW_ALLOWANCE_MS);
  // Clients reject a chain where any certificate has expired, so a leaf lasting past its CA gains nothing.
  const notAfter = wholeSeconds(Math.min(options.now + options.validityDays * DAY_MS, caNotAfter));
  if (notAfter.getTime() <= options.now) {
    throw new CaInvalidError(ca.certPath, `the CA expired on ${ca.certificate.notAfter.toISOString()}; no leaf can be issued`);
  }

  const keys = await subtle.generateKey(LEAF_KEY_ALGORITHM, true, ['sign', 'verify']);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialNumber().toString('hex'),
    // The CA's subject as its certificate encodes it (the library re-encodes a parsed Name byte for byte), so the
    // chain links by exact match, not only by the canonical comparison OpenSSL falls back on.
    issuer: ca.certificate.subjectName,
    subject: new x509.Name([{ CN: [{ utf8String: truncateCommonName(host.name) }] }]),
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: ca.signingAlgorithm,
    extensions: [
      ...LEAF_CONSTRAINTS,
      // Clients match the host against the SAN only (RFC 6125; Go and browsers ignore the CN). An IP gets an
      // iPAddress SAN: clients never match an address against a dNSName.
      new x509.SubjectAlternativeNameExtension([{ type: host.kind, value: host.name }]),
      new x509.AuthorityKeyIdentifierExtension(ca.keyIdentifier),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });

  return {
    certPem: `${certificate.toString('pem')}\n`,
    keyPem: KeyObject.from(keys.privateKey).export({ format: 'pem', type: 'pkcs8' }) as string,
    notBefore,
    notAfter,
  };
}
