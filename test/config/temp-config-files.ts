// Test helper: writes config files into a fresh directory under os.tmpdir(), removed after the test file's run.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

export function tempConfigDir(): { write: (name: string, text: string) => string; dir: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'egress-proxy-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    write(name, text) {
      const filePath = path.join(dir, name);
      writeFileSync(filePath, text);
      return filePath;
    },
  };
}
