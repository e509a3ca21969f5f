/**
 * Names why a client's TLS handshake with us failed, for the metric label and the warning. The common case is a
 * client that does not trust our CA: it aborts the handshake with an `unknown_ca` or `bad_certificate` alert.
 */
export type ClientTlsFailureReason = 'untrusted_ca' | 'not_tls' | 'protocol' | 'reset' | 'timeout' | 'certificate' | 'other';

export function classifyClientTlsFailure(err: NodeJS.ErrnoException): ClientTlsFailureReason {
  const code = err.code ?? '';
  const text = `${code} ${err.message}`.toUpperCase();
  if (text.includes('UNKNOWN_CA') || text.includes('BAD_CERTIFICATE') || text.includes('CERTIFICATE_UNKNOWN')) {
    return 'untrusted_ca';
  }
  if (text.includes('HTTP_REQUEST') || text.includes('WRONG_VERSION_NUMBER') || text.includes('PACKET_LENGTH_TOO_LONG')) {
    return 'not_tls';
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  if (code === 'ETIMEDOUT' || code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO') return 'protocol';
  if (code.startsWith('ERR_TLS_CERT') || code === 'ERR_MITM_CERTIFICATE') return 'certificate';
  return 'other';
}
