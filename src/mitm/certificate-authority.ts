/**
 * The CA that signs leaf certificates, in memory, and the one way to get one: from a PEM certificate and key,
 * checked the way a TLS client will check the leaves it signs (a CA, not expired, allowed to sign certificates,
 * and the key really is the certificate's key). Used for both a user-supplied CA and the generated one on disk.
 */

import { createPrivateKey, X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { DAY_MS } from './certificate-fields.js';
import { CaInvalidError, CaKeyMismatchError } from './mitm-errors.js';
import { subtle, x509, type CryptoKey } from './x509-library.js';

/** Where a CA came from: made now, reused from the data directory, or the user's own files. */
export type CaSource = 'generated' | 'stored' | 'user';

/** How the CA signs leaves: ECDSA with the hash that goes with its curve, or RSASSA-PKCS1-v1_5 with SHA-256. */
export interface CaSigningAlgorithm {
  readonly name: 'ECDSA' | 'RSASSA-PKCS1-v1_5';
  readonly hash: 'SHA-256' | 'SHA-384' | 'SHA-512';
}

export interface CertificateAuthority {
  /** The CA certificate alone (PEM): what clients must trust. */
  readonly certPem: string;
  /**
   * What follows a leaf in the chain the proxy serves (PEM): the CA certificate, then any further certificates of
   * `caCertFile` (an intermediate CA's own chain). Equal to `certPem` for a generated CA.
   */
  readonly chainPem: string;
  readonly certificate: x509.X509Certificate;
  /** The CA key for WebCrypto and `@peculiar/x509` (non-extractable): the leaves' `signingKey`. */
  readonly privateKey: CryptoKey;
  /** The leaves' `signingAlgorithm`, chosen by the key (CA/Browser Forum BR §7.1.3.2: SHA-384 for P-384, ...). */
  readonly signingAlgorithm: CaSigningAlgorithm;
  /** Hex, for the leaves' authorityKeyIdentifier: the CA's own subjectKeyIdentifier, or else one computed from its key. */
  readonly keyIdentifier: string;
  /** The certificate file, or undefined for a CA that only lives in memory. */
  readonly certPath: string | undefined;
  /** The key file, or undefined for a CA that only lives in memory. */
  readonly keyPath: string | undefined;
  readonly source: CaSource;
}

export interface CaPemInput {
  certPem: string;
  keyPem: string;
  certPath?: string | undefined;
  keyPath?: string | undefined;
  source: CaSource;
  /** Warnings that do not stop startup (for example a CA that expires soon). */
  log?: ((message: string) => void) | undefined;
  /** Current time in ms since the epoch. Default `Date.now()`. */
  now?: number | undefined;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const MIN_RSA_BITS = 2048;
/** A CA this close to expiry gets a warning: every leaf is capped at its notAfter and will soon stop verifying. */
export const CA_EXPIRY_WARNING_MS = 7 * DAY_MS;

/** Parses, checks and imports a CA. Throws `CaInvalidError` or `CaKeyMismatchError`. */
export async function certificateAuthorityFromPem(input: CaPemInput): Promise<CertificateAuthority> {
  const { certPath, keyPath } = input;
  const now = input.now ?? Date.now();
  const pemCertificates = input.certPem.match(PEM_CERTIFICATE) ?? [];
  const certPem = pemCertificates[0];
  if (certPem === undefined) throw new CaInvalidError(certPath, 'no PEM certificate (BEGIN CERTIFICATE) found');

  let nodeCertificate: NodeX509Certificate;
  let certificate: x509.X509Certificate;
  try {
    nodeCertificate = new NodeX509Certificate(certPem);
    certificate = new x509.X509Certificate(certPem);
  } catch (err) {
    throw new CaInvalidError(certPath, `not a valid X.509 certificate (${(err as Error).message})`, { cause: err });
  }
  checkIsCa(certificate, certPath, input.log);
  checkValidity(certificate, certPath, now, input.log);

  const keyObject = parsePrivateKey(input.keyPem, keyPath);
  let keyMatches: boolean;
  try {
    keyMatches = nodeCertificate.checkPrivateKey(keyObject);
  } catch {
    keyMatches = false; // different key types (RSA key, EC certificate) throw instead of answering false
  }
  if (!keyMatches) throw new CaKeyMismatchError(certPath, keyPath);

  const algorithms = algorithmsForKey(keyObject, keyPath);
  const pkcs8 = keyObject.export({ format: 'der', type: 'pkcs8' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, algorithms.importAlgorithm, false, ['sign']);

  return {
    certPem: `${certPem}\n`,
    chainPem: `${pemCertificates.join('\n')}\n`,
    certificate,
    privateKey,
    signingAlgorithm: algorithms.signingAlgorithm,
    keyIdentifier: await keyIdentifierOf(certificate),
    certPath,
    keyPath,
    source: input.source,
  };
}

function checkIsCa(certificate: x509.X509Certificate, certPath: string | undefined, log?: (m: string) => void): void {
  const basicConstraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (basicConstraints === null) {
    log?.(`${certPath ?? 'CA certificate'}: no basicConstraints extension; strict clients will not accept it as a CA`);
  } else if (!basicConstraints.ca) {
    throw new CaInvalidError(certPath, 'not a CA certificate (basicConstraints cA is false)');
  }
  const keyUsage = certificate.getExtension(x509.KeyUsagesExtension);
  if (keyUsage !== null && (keyUsage.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CaInvalidError(certPath, 'its keyUsage does not allow signing certificates (keyCertSign)');
  }
}

function checkValidity(
  certificate: x509.X509Certificate,
  certPath: string | undefined,
  now: number,
  log?: (m: string) => void,
): void {
  const notAfter = certificate.notAfter.getTime();
  if (notAfter <= now) {
    throw new CaInvalidError(certPath, `the CA certificate expired on ${certificate.notAfter.toISOString()}`);
  }
  if (certificate.notBefore.getTime() > now) {
    throw new CaInvalidError(certPath, `the CA certificate is not valid before ${certificate.notBefore.toISOString()}`);
  }
  if (notAfter - now < CA_EXPIRY_WARNING_MS) {
    log?.(`${certPath ?? 'CA certificate'}: expires on ${certificate.notAfter.toISOString()}; replace it soon`);
  }
}

function parsePrivateKey(keyPem: string, keyPath: string | undefined): KeyObject {
  // PKCS#8 `ENCRYPTED PRIVATE KEY` or a legacy `Proc-Type: 4,ENCRYPTED` header. Checked first: without a
  // passphrase OpenSSL only says "interrupted or cancelled".
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(keyPem)) {
    throw new CaInvalidError(
      keyPath,
      'the key is encrypted; give an unencrypted PKCS#8 key and protect it with file permissions (0600)',
    );
  }
  try {
    return createPrivateKey({ key: keyPem, format: 'pem' });
  } catch (err) {
    throw new CaInvalidError(keyPath, `not a valid PEM private key (${(err as Error).message})`, { cause: err });
  }
}

interface KeyAlgorithms {
  importAlgorithm: { name: string; namedCurve?: string; hash?: string };
  signingAlgorithm: CaSigningAlgorithm;
}

// Which hash goes with which curve follows the CA/Browser Forum Baseline Requirements §7.1.3.2.2.
const EC_CURVES: Record<string, { namedCurve: string; hash: CaSigningAlgorithm['hash'] }> = {
  prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
  secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
  secp521r1: { namedCurve: 'P-521', hash: 'SHA-512' },
};

function algorithmsForKey(keyObject: KeyObject, keyPath: string | undefined): KeyAlgorithms {
  const details = keyObject.asymmetricKeyDetails ?? {};
  if (keyObject.asymmetricKeyType === 'ec') {
    const curve = EC_CURVES[details.namedCurve ?? ''];
    if (curve === undefined) {
      throw new CaInvalidError(keyPath, `unsupported EC curve ${details.namedCurve ?? '(unknown)'}; use P-256 or P-384`);
    }
    return {
      importAlgorithm: { name: 'ECDSA', namedCurve: curve.namedCurve },
      signingAlgorithm: { name: 'ECDSA', hash: curve.hash },
    };
  }
  if (keyObject.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < MIN_RSA_BITS) {
      // TLS libraries refuse chains with RSA keys below 2048 bits: every leaf would fail to verify.
      throw new CaInvalidError(keyPath, `the RSA key has ${details.modulusLength} bits; at least ${MIN_RSA_BITS} needed`);
    }
    return {
      importAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    };
  }
  throw new CaInvalidError(
    keyPath,
    `unsupported key type ${keyObject.asymmetricKeyType ?? '(unknown)'}; use EC (P-256, P-384) or RSA`,
  );
}

async function keyIdentifierOf(certificate: x509.X509Certificate): Promise<string> {
  const subjectKeyIdentifier = certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (subjectKeyIdentifier !== null) return subjectKeyIdentifier.keyId;
  return (await x509.SubjectKeyIdentifierExtension.create(certificate.publicKey)).keyId;
}
