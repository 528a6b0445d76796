/** A command line split into options and positional arguments. */
export interface ParsedArgs {
  positionals: string[];
  /** Option values by name (without dashes); repeatable options keep every value. */
  options: Map<string, string[]>;
  flags: Set<string>;
}

import { AppError } from '../lib/errors.ts';

/** A bad command line (an AppError USAGE); the CLI prints the message and exits 2. */
export function usageError(message: string): AppError {
  return new AppError('USAGE', message);
}

/**
 * Splits argv: `--name value`, `--name=value`, flags from `flagNames`, and positionals. Everything
 * after `--` is positional.
 */
export function parseArgs(argv: string[], valueNames: readonly string[], flagNames: readonly string[]): ParsedArgs {
  const out: ParsedArgs = { positionals: [], options: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    const m = /^--?([A-Za-z][\w-]*)(?:=(.*))?$/s.exec(arg);
    if (!m || /^-\d/.test(arg)) {
      out.positionals.push(arg);
      continue;
    }
    const name = m[1]!;
    if (flagNames.includes(name)) {
      if (m[2] !== undefined) throw usageError(`option --${name} takes no value`);
      out.flags.add(name);
    } else if (valueNames.includes(name)) {
      const value = m[2] ?? argv[++i];
      if (value === undefined) throw usageError(`option --${name} needs a value`);
      const list = out.options.get(name) ?? [];
      list.push(value);
      out.options.set(name, list);
    } else {
      throw usageError(`unknown option ${arg}`);
    }
  }
  return out;
}

/** The last value of an option, or undefined. */
export function lastOption(args: ParsedArgs, name: string): string | undefined {
  return args.options.get(name)?.at(-1);
}
