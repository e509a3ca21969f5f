/** `egress-proxy check-config FILE`: validate a config file without starting anything. */
import { checkConfigFile } from '../config/resolve-config.js';
import { UsageError } from '../errors.js';
import { CHECK_CONFIG_USAGE } from './usage.js';

export async function checkConfigCommand(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(CHECK_CONFIG_USAGE);
    return 0;
  }
  if (argv.length !== 1 || argv[0]!.startsWith('-')) throw new UsageError('check-config takes exactly one FILE');
  const file = argv[0]!;
  // Only the file is checked: the environment must not make a broken file look valid, or a valid one broken.
  const { warnings } = await checkConfigFile(file, {});
  for (const warning of warnings) process.stdout.write(`warning: ${warning}\n`);
  process.stdout.write(`${file}: ok\n`);
  return 0;
}
