/**
 * Mints certificates: the self-signed CA of an install, and the leaf presented for one intercepted host. Pure
 * functions of their inputs and the clock; storing and caching them is someone else's job.
 *
 * The CA is made once per install with the general X.509 library. Leaves are minted while a client waits in its
 * handshake, so their TBSCertificate is built from the DER blocks of `der-encoding.ts` and signed with one
 * synchronous `crypto.sign`: about 0.3 ms of CPU, where the library spent ~10 ms of event-loop time per leaf.
 */

import { createHash, generateKeyPairSync, KeyObject, sign } from 'node:crypto';
import type { CertificateAuthority } from './certificate-authority.js';
import { CLOCK_SKEW_ALLOWANCE_MS, DAY_MS, randomSerialNumber, truncateCommonName, wholeSeconds } from './certificate-fields.js';
import {
  derBitString,
  derChildren,
  derContext,
  derElement,
  derOctetString,
  derOid,
  derSequence,
  derSet,
  derTime,
  derTrue,
  derUnsignedInteger,
  derUtf8String,
} from './der-encoding.js';
import type { LeafHostname } from './leaf-hostname.js';
import { CaInvalidError } from './mitm-errors.js';
import { subtle, x509, type CryptoKeyPair } from './x509-library.js';

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
  const keys = (await subtle.generateKey(keyAlgorithm, true, ['sign', 'verify'])) as CryptoKeyPair;
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

const VERSION_3 = derContext(0, true, derUnsignedInteger(Buffer.from([2])));
const OID_COMMON_NAME = derOid('2.5.4.3');

// Identical in every leaf, so encoded once. RFC 5280 §4.2.1.9: basicConstraints cA=false (the empty SEQUENCE,
// DEFAULT values are omitted in DER); §4.2.1.3: keyUsage digitalSignature only, as ECDHE with an EC key never
// uses keyEncipherment; §4.2.1.12: extKeyUsage serverAuth, so the key cannot pass for a client or code signer.
const BASIC_CONSTRAINTS_NOT_CA = extension('2.5.29.19', true, derSequence());
const KEY_USAGE_DIGITAL_SIGNATURE = extension('2.5.29.15', true, derElement(0x03, Buffer.from([0x07, 0x80])));
const EXT_KEY_USAGE_SERVER_AUTH = extension('2.5.29.37', false, derSequence(derOid('1.3.6.1.5.5.7.3.1')));

/**
 * Issues the leaf for one host with its own new P-256 key. A key per leaf (0.07 ms) rather than one shared key: a
 * key pulled from one handshake's memory then impersonates one host for a few weeks, not every host there is.
 * Throws `CaInvalidError` when the CA has expired (a leaf can never outlive its CA).
 */
export function createLeafCertificate(
  ca: CertificateAuthority,
  host: LeafHostname,
  options: LeafCertificateOptions,
): LeafCertificatePem {
  const caNotAfter = ca.certificate.notAfter.getTime();
  const notBefore = wholeSeconds(options.now - CLOCK_SKEW_ALLOWANCE_MS);
  // Clients reject a chain where any certificate has expired, so a leaf lasting past its CA gains nothing.
  const notAfter = wholeSeconds(Math.min(options.now + options.validityDays * DAY_MS, caNotAfter));
  if (notAfter.getTime() <= options.now) {
    throw new CaInvalidError(ca.certPath, `the CA expired on ${ca.certificate.notAfter.toISOString()}; no leaf can be issued`);
  }

  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const { signer } = ca;

  const tbsCertificate = derSequence(
    VERSION_3,
    derUnsignedInteger(randomSerialNumber()),
    signer.algorithmIdentifierDer,
    signer.subjectDer,
    derSequence(derTime(notBefore), derTime(notAfter)),
    derSequence(derSet(derSequence(OID_COMMON_NAME, derUtf8String(truncateCommonName(host.name))))),
    spki,
    derContext(
      3,
      true,
      derSequence(
        BASIC_CONSTRAINTS_NOT_CA,
        KEY_USAGE_DIGITAL_SIGNATURE,
        EXT_KEY_USAGE_SERVER_AUTH,
        // Clients match the host against the SAN only (RFC 6125; Go and browsers ignore the CN).
        extension('2.5.29.17', false, derSequence(subjectAltName(host))),
        extension('2.5.29.35', false, derSequence(derContext(0, false, signer.keyIdentifier))),
        extension('2.5.29.14', false, derOctetString(subjectKeyIdentifier(spki))),
      ),
    ),
  );
  // ECDSA signatures come out DER-encoded (r, s), the form X.509 carries; RSA ones as PKCS#1 v1.5.
  const signature = sign(signer.hash, tbsCertificate, signer.key);
  const certificate = derSequence(tbsCertificate, signer.algorithmIdentifierDer, derBitString(signature));

  return {
    certPem: toPem(certificate),
    keyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }) as string,
    notBefore,
    notAfter,
  };
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return critical ? derSequence(derOid(oid), derTrue(), derOctetString(value)) : derSequence(derOid(oid), derOctetString(value));
}

/** GeneralName `[2] dNSName` (IA5String) or `[7] iPAddress` (4 or 16 octets), RFC 5280 §4.2.1.6. */
function subjectAltName(host: LeafHostname): Buffer {
  if (host.kind === 'dns') return derContext(2, false, Buffer.from(host.name, 'ascii'));
  return derContext(7, false, ipAddressBytes(host.name));
}

/** Bytes of a canonical IPv4 or IPv6 address as `parseLeafHostname` returns it. */
function ipAddressBytes(address: string): Buffer {
  if (!address.includes(':')) return Buffer.from(address.split('.').map(Number));
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = tail === undefined ? headGroups : [...headGroups, ...zeros, ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, i) => bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2));
  return bytes;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bits. */
function subjectKeyIdentifier(spki: Buffer): Buffer {
  const bitString = derChildren(derChildren(spki)[0]?.content ?? Buffer.alloc(0))[1];
  if (bitString === undefined) throw new Error('malformed SubjectPublicKeyInfo');
  return createHash('sha1').update(bitString.content.subarray(1)).digest();
}

function toPem(der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
