/**
 * An open dashboard page, as far as the proxy can tell: one connection to the admin listener's `/events` stream
 * (Server-Sent Events), read to the end, for the `egress-forward-dashboard` scenario, which measures plain
 * forwarding while a page watches. It does what a browser tab does to the proxy (the page's own drawing costs the
 * browser, not the proxy), without a browser in the bench's process tree.
 */
import http from 'node:http';
import { once } from 'node:events';

export interface DashboardViewer {
  /** `sample` events received so far: each one a push the proxy made to this page. */
  samples(): number;
  close(): void;
}

/** Opens `/events` on 127.0.0.1:`adminPort` and resolves once the `history` event (what a new page first gets) arrived. */
export async function openDashboardViewer(adminPort: number, timeoutMs = 15_000): Promise<DashboardViewer> {
  const req = http.get({ host: '127.0.0.1', port: adminPort, path: '/events', agent: false, timeout: timeoutMs });
  req.once('timeout', () => req.destroy(new Error(`no dashboard history from 127.0.0.1:${adminPort} within ${timeoutMs} ms`)));
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  if (res.statusCode !== 200) {
    req.destroy();
    throw new Error(`dashboard /events answered ${res.statusCode}`);
  }
  let text = '';
  let samples = 0;
  let sawHistory = false;
  let onHistory: () => void = () => undefined;
  const history = new Promise<void>((resolve) => (onHistory = resolve));
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => {
    // Only event names matter: keep the unfinished tail, never the whole stream.
    text += chunk;
    const lines = text.split('\n');
    text = lines.pop() ?? '';
    for (const line of lines) {
      if (line === 'event: sample') samples++;
      else if (line === 'event: history' && !sawHistory) {
        sawHistory = true;
        onHistory();
      }
    }
  });
  await Promise.race([history, once(res, 'close').then(() => Promise.reject(new Error('dashboard /events closed before its history')))]);
  req.setTimeout(0);
  return { samples: () => samples, close: () => req.destroy() };
}
