/**
 * The last line of defence of a serving process (the single process, or each cluster worker): errors a broken
 * client connection can raise outside any request handler. One bad connection must not take down the process
 * serving everyone else; anything else is a bug, and a crash with a stack trace is the honest answer to a bug.
 */

const CONNECTION_ERROR_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'ERR_STREAM_PREMATURE_CLOSE', 'ERR_STREAM_DESTROYED']);

export function survivePerConnectionErrors(): void {
  process.on('uncaughtException', (err: NodeJS.ErrnoException) => {
    if (err.code && CONNECTION_ERROR_CODES.has(err.code)) {
      process.stderr.write(`${JSON.stringify({ level: 'error', msg: 'connection error outside a handler', code: err.code, err: err.message })}\n`);
      return;
    }
    process.stderr.write(`egress-proxy: fatal: ${err.stack ?? err.message}\n`);
    process.exit(70);
  });
}
