/**
 * Typed errors of the MITM certificate side (CA store, leaf certificates), each with a stable code. They are
 * startup or handshake failures, never answered with an HTTP status, so they extend `Error` like `ConfigError`.
 * To be merged into `src/errors.ts`.
 */

export abstract class MitmCertificateError extends Error {
  abstract readonly code: string;
}

/**
 * The CA certificate or key cannot be used: unparsable PEM, not a CA, expired, an unsupported key type, or only one
 * of `caCertFile` / `caKeyFile` set.
 */
export class CaInvalidError extends MitmCertificateError {
  override readonly name = 'CaInvalidError';
  readonly code = 'EPROXY_CA_INVALID';
  /** The file the problem is in, when there is one. */
  readonly file: string | undefined;
  constructor(file: string | undefined, problem: string, options?: { cause?: unknown }) {
    super(file ? `${file}: ${problem}` : problem, options);
    this.file = file;
  }
}

/** The CA private key is not the key of the CA certificate: leaves signed with it would never verify. */
export class CaKeyMismatchError extends MitmCertificateError {
  override readonly name = 'CaKeyMismatchError';
  readonly code = 'EPROXY_CA_KEY_MISMATCH';
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  constructor(certFile: string | undefined, keyFile: string | undefined) {
    super(`the key ${keyFile ?? '(in memory)'} does not belong to the certificate ${certFile ?? '(in memory)'}`);
    this.certFile = certFile;
    this.keyFile = keyFile;
  }
}

/** A CA file cannot be read, or the data directory cannot be created or written, or its lock never frees. */
export class CaStoreError extends MitmCertificateError {
  override readonly name = 'CaStoreError';
  readonly code = 'EPROXY_CA_STORE';
  readonly path: string;
  constructor(path: string, problem: string, options?: { cause?: unknown }) {
    super(`${path}: ${problem}`, options);
    this.path = path;
  }
}

/** No leaf certificate can be made for this name (not a valid DNS name or IP address, or a wildcard). */
export class LeafHostnameError extends MitmCertificateError {
  override readonly name = 'LeafHostnameError';
  readonly code = 'EPROXY_MITM_HOSTNAME';
  readonly hostname: string;
  constructor(hostname: string, problem: string) {
    // The name comes from a client (SNI or CONNECT): quote it with JSON so control characters cannot forge log lines.
    super(`cannot issue a certificate for ${JSON.stringify(hostname.slice(0, 300))}: ${problem}`);
    this.hostname = hostname;
  }
}
