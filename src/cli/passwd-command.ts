/**
 * `egress-proxy passwd USER`: makes the config entry for a user of the admin listener (and, later, of proxy
 * authentication): `{ name = "USER", password_hash = "$scrypt$..." }` on stdout, nothing else, so it can be
 * appended to a file by a script. The password comes from standard input when that is not a terminal (scripts,
 * secrets managers), otherwise from a prompt shown twice without echo. It never appears on the command line,
 * where any local user could read it in the process list.
 */
import { passwordProblem, userNameProblem } from '../auth/basic-credentials.js';
import { hashPassword } from '../auth/password-hash.js';
import { UsageError } from '../errors.js';
import { PASSWD_USAGE } from './usage.js';

/** More than any password we accept (1024 characters of up to 4 bytes), so a runaway pipe is cut off early. */
const MAX_STDIN_BYTES = 8192;

export async function passwdCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(PASSWD_USAGE);
    return 0;
  }
  if (argv.length !== 1 || argv[0]!.startsWith('-')) throw new UsageError('passwd takes exactly one USER');
  const name = argv[0]!.normalize('NFC');
  const nameProblem = userNameProblem(name);
  if (nameProblem !== undefined) throw new UsageError(`the user name ${nameProblem}`);

  const password = process.stdin.isTTY ? await promptTwice() : await readPasswordFromStdin();
  const problem = passwordProblem(password);
  if (problem !== undefined) throw new UsageError(`the password ${problem}`);

  const hash = await hashPassword(password);
  // JSON string syntax is valid TOML basic-string syntax for any text that passed userNameProblem.
  process.stdout.write(`{ name = ${JSON.stringify(name)}, password_hash = "${hash}" }\n`);
  return 0;
}

async function readPasswordFromStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > MAX_STDIN_BYTES) throw new UsageError(`standard input holds more than ${MAX_STDIN_BYTES} bytes: expected one password`);
    chunks.push(chunk);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new UsageError('the password on standard input is not UTF-8');
  }
  // `echo pw | egress-proxy passwd u` and a file ending in a newline both mean "pw".
  const line = text.replace(/\r?\n$/, '');
  if (/[\r\n]/.test(line)) throw new UsageError('standard input holds more than one line: expected one password');
  return line;
}

async function promptTwice(): Promise<string> {
  const [first, second] = await promptHidden(['Password: ', 'Repeat password: ']);
  if (first !== second) throw new UsageError('the two passwords differ');
  return first!;
}

/**
 * Reads one line per prompt from the terminal in raw mode, echoing nothing. Keys typed ahead (or pasted) count
 * towards the next prompt. Ctrl-C, and Ctrl-D on an empty line, abort.
 */
function promptHidden(prompts: readonly string[]): Promise<string[]> {
  const stdin = process.stdin;
  const lines: string[] = [];
  let typed = '';
  // Raw mode (echo off) before the prompt shows: keys typed or pasted as soon as it appears must not be echoed.
  stdin.setRawMode(true);
  stdin.resume();
  process.stderr.write(prompts[0]!);
  return new Promise((resolve, reject) => {
    const finish = (err: Error | undefined): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      if (err) {
        process.stderr.write('\n');
        reject(err);
      } else resolve(lines);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          lines.push(typed);
          typed = '';
          process.stderr.write('\n');
          if (lines.length === prompts.length) return finish(undefined);
          process.stderr.write(prompts[lines.length]!);
        } else if (char === '\u0003' || (char === '\u0004' && typed === '')) {
          return finish(new UsageError('aborted'));
        } else if (char === '\u007f' || char === '\b') {
          typed = Array.from(typed).slice(0, -1).join('');
        } else {
          typed += char;
        }
      }
    };
    stdin.on('data', onData);
  });
}
