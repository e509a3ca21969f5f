/**
 * A CONNECT through the parent proxy on a connected socket: send the request, read the answer's head with the
 * strict parser, and hand the socket back as a byte stream to the origin once the parent says 2xx (RFC 9110
 * §9.3.6: the tunnel begins right after the head; a 2xx CONNECT answer has no body). Anything the parent sent after
 * the head is already the origin's and is put back on the socket.
 */
import type { Socket } from 'node:net';
import { ParentProxyAuthError, ParentProxyRefusedError, UpstreamFailedError } from '../errors.js';
import { MessageHeadError, parseResponseHead } from '../http1/message-head.js';
import { MAX_HEAD_BYTES } from '../http1/message-scanner.js';
import { addListeners } from './listeners.js';
import type { ParentProxy } from './parent-proxy.js';

const HEAD_END = Buffer.from('\r\n\r\n');

/** The bytes the CONNECT exchange itself took each way: not the tunnel's, so byte counts leave them out. */
export interface ParentOverhead {
  written: number;
  read: number;
}

/**
 * Asks `parent` (connected as `socket`) for a tunnel to `authority`; calls back once with the failure, or with the
 * exchange's own byte counts when the socket is the tunnel. The socket is left paused, its listeners as they were.
 * `target` names the destination in errors. Returns what abandons the exchange (the caller then closes the socket).
 */
export function connectThroughParent(
  socket: Socket,
  parent: ParentProxy,
  authority: string,
  target: string,
  callback: (err: Error | undefined, overhead: ParentOverhead) => void,
): () => void {
  const request = parent.connectRequest(authority);
  const overhead: ParentOverhead = { written: Buffer.byteLength(request, 'latin1'), read: 0 };
  let received: Buffer = Buffer.alloc(0);
  let done = false;
  const finish = (err: Error | undefined): void => {
    if (done) return;
    done = true;
    socket.pause();
    detach();
    callback(err, overhead);
  };
  const detach = addListeners(socket, {
    data: (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      // The head ends at the first CRLFCRLF; the search restarts a little before the new bytes, not at 0.
      const end = received.indexOf(HEAD_END, Math.max(0, received.length - chunk.length - 3));
      if (end === -1) {
        if (received.length > MAX_HEAD_BYTES) finish(new UpstreamFailedError(target, `the upstream proxy's answer to CONNECT has a head over ${MAX_HEAD_BYTES} bytes`));
        return;
      }
      let status: number;
      try {
        // The parser takes the head without its final CRLFCRLF, as the message scanner hands it over, and reads the
        // bytes it was decoded from rather than encoding the text again.
        status = parseResponseHead(received.toString('latin1', 0, end), received, 0).statusCode;
      } catch (err) {
        const detail = err instanceof MessageHeadError ? err.message : String(err);
        return finish(new UpstreamFailedError(target, `the upstream proxy's answer to CONNECT is not HTTP: ${detail}`));
      }
      // The parent's own refusals name the origin alone: they say themselves that the parent refused.
      if (status === 407) return finish(new ParentProxyAuthError(authority, `the upstream proxy ${parent.display} answered 407 to CONNECT`));
      if (status < 200 || status > 299) return finish(new ParentProxyRefusedError(authority, status));
      const rest = received.subarray(end + 4);
      overhead.read = end + 4;
      finish(undefined);
      if (rest.length > 0) socket.unshift(rest);
    },
    end: () => finish(new UpstreamFailedError(target, 'the upstream proxy closed the connection before answering CONNECT')),
    error: (err: Error) => finish(err),
  });
  socket.write(request, 'latin1');
  return () => {
    done = true;
    detach();
  };
}
