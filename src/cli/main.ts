/**
 * The `peft-studio` command line: the studio's trainer core on Node, with WebGPU through Dawn.
 * Every error ends the process with a non-zero status and one line saying why.
 */
import { parseArgs } from 'node:util';
import { CliUsageError } from './errors';
import { commandHelp, parseArgsOptions, positionalFlag, type Values } from './flags';
import { COMMANDS, USAGE } from './command-table';

export async function main(argv: string[]): Promise<number> {
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name ? 0 : 2;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  try {
    if (!command) throw new CliUsageError(`unknown command "${name}"; commands: ${Object.keys(COMMANDS).join(', ')}`);
    if (rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(`${commandHelp(name, command.flags)}\n`);
      return 0;
    }
    let values: Values;
    const positional = positionalFlag(command.flags);
    try {
      const parsed = parseArgs({ args: rest, options: parseArgsOptions(command.flags), strict: true, allowPositionals: positional !== undefined });
      values = parsed.values as Values;
      if (positional !== undefined) {
        if (parsed.positionals.length > 1) throw new CliUsageError(`${name} takes one ${command.flags[positional].value ?? positional}, got ${parsed.positionals.join(' ')}`);
        values[positional] = parsed.positionals[0];
      }
    } catch (e) {
      throw new CliUsageError((e as Error).message.split('\n')[0]);
    }
    await command.run(values);
    return 0;
  } catch (e) {
    const err = e as Error;
    // One line: a multi-line message (a dataset's list of bad records) is joined with "; ".
    const line = `${err.message ?? String(e)}`.split('\n').map((l) => l.trim()).filter(Boolean).join('; ');
    process.stderr.write(`peft-studio: ${line}${err instanceof CliUsageError ? ' (see peft-studio --help)' : ''}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Dawn can keep the process alive; exit explicitly.
process.exit(code);
