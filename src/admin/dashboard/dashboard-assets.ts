/**
 * The dashboard page's files (HTML, script, stylesheet), shipped in the package's `dashboard/` folder and served
 * as they are: no build step, no CDN (the proxy often runs where nothing outside is reachable). Read once at
 * start-up; each response carries a Content-Security-Policy that lets the page talk to its own origin only, so
 * even a bug in the page cannot make the browser fetch from anywhere else.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** URL path → file in dashboard/, and its type. */
const ASSET_FILES: Record<string, [file: string, contentType: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
});

/** The folder holding the page, from src/admin/dashboard/ (tsx) or dist/admin/dashboard/ alike. */
const ASSET_DIR = new URL('../../../dashboard/', import.meta.url);

export class DashboardAssets {
  readonly #assets: Map<string, Asset>;

  private constructor(assets: Map<string, Asset>) {
    this.#assets = assets;
  }

  /** Reads every file; rejects (naming the file) when one is missing, e.g. an install that left dashboard/ out. */
  static async load(dir: URL = ASSET_DIR): Promise<DashboardAssets> {
    const assets = new Map<string, Asset>();
    for (const [path, [file, contentType]] of Object.entries(ASSET_FILES)) {
      const url = new URL(file, dir);
      const body = await readFile(url).catch((err: unknown) => {
        throw new Error(`cannot read the dashboard page ${fileURLToPath(url)} (an install without the package's dashboard/ folder?); set admin.dashboard = false to run without it`, { cause: err });
      });
      assets.set(path, { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
    }
    return new DashboardAssets(assets);
  }

  has(path: string): boolean {
    return this.#assets.has(path);
  }

  serve(path: string, req: http.IncomingMessage, res: http.ServerResponse): void {
    const asset = this.#assets.get(path)!;
    const headers = { ...DASHBOARD_SECURITY_HEADERS, 'Content-Type': asset.contentType, 'Cache-Control': 'no-cache', ETag: asset.etag };
    if (req.headers['if-none-match'] === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': String(asset.body.length) });
    res.end(req.method === 'HEAD' ? undefined : asset.body);
  }
}
