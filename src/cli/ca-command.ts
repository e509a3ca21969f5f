/** `egress-proxy ca export|path`: hand the MITM CA to the people who must trust it. */
import { resolveConfig } from '../config/resolve-config.js';
import { runCaCommand } from '../mitm/ca-command.js';
import { UsageError } from '../errors.js';
import { parseCommandArgs } from './command-args.js';
import { CA_USAGE } from './usage.js';

export async function caCommand(argv: string[]): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { config: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    { allowPositionals: true },
  );
  if (parsed.values.help) {
    process.stdout.write(CA_USAGE);
    return 0;
  }
  const [subcommand, ...extra] = parsed.positionals;
  if ((subcommand !== 'export' && subcommand !== 'path') || extra.length > 0) {
    throw new UsageError('ca takes one of: export, path');
  }
  // The same sources as `run` (file, environment), so `ca export` names the CA the proxy will actually use.
  const { config } = await resolveConfig({ configFile: parsed.values.config, dataDir: parsed.values['data-dir'] }, process.env);
  return runCaCommand(subcommand, config.mitmOptions, process.stdout);
}
