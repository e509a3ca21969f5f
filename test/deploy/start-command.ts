/**
 * The one start command: package.json's `start` script (`exec node FLAGS dist/cli.js run`), which the Dockerfile,
 * the systemd unit and the launchd plist must repeat, and whose node flags the CLI tests run the proxy with.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
const words = (pkg.scripts['start'] ?? '').trim().split(/\s+/);

/** `exec` makes node replace npm's shell, so the signal npm forwards on `kill <npm pid>` reaches the proxy. */
export const START_SCRIPT_EXECS = words[0] === 'exec';

/** The command itself: `node`, its flags, the CLI and `run`. */
export const START_COMMAND: readonly string[] = START_SCRIPT_EXECS ? words.slice(1) : words;

/** The node flags of the start command (between `node` and the script). */
export const START_NODE_FLAGS: readonly string[] = START_COMMAND.slice(1, START_COMMAND.indexOf('dist/cli.js'));
