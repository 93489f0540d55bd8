/** The command framework: strict flags, typed values, env fallbacks and --help on every command. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineCommand, suggest } from '../../../firmware/src/commands/command.ts';
import { COMMANDS } from '../../../firmware/src/commands/index.ts';
import { ErrorCode, isMfaError } from '../../../firmware/src/errors.ts';

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

function captureLog(): string[] {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  return lines;
}

async function usageErrorOf(p: Promise<number>): Promise<string> {
  const e: unknown = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(isMfaError(e, ErrorCode.CliUsage), String(e)).toBe(true);
  return (e as Error).message;
}

/** A command that hands back what it was given. */
function probe() {
  const seen: { values?: unknown; args?: string[] } = {};
  const cmd = defineCommand({
    name: 'thing do',
    summary: 'Do the thing',
    options: {
      config: { type: 'string', value: 'FILE', env: 'MFABOX_TEST_CONFIG', required: true, help: 'config' },
      port: { type: 'integer', value: 'N', min: 0, max: 65535, default: 1812, help: 'port' },
      level: { type: 'string', value: 'L', choices: ['warn', 'info'], help: 'level' },
      confirm: { type: 'boolean', help: 'really' },
    },
    args: { value: 'TEXT', help: 'words' },
    run({ values, args }) {
      // Compile-time checks of the typed values: these lines fail `tsc` if the types drift.
      const c: string = values.config;
      const p: number = values.port;
      const l: 'warn' | 'info' | undefined = values.level;
      const b: boolean = values.confirm;
      seen.values = { config: c, port: p, level: l, confirm: b };
      seen.args = args;
      return 0;
    },
  });
  return { cmd, seen };
}

describe('defineCommand', () => {
  it('hands run typed values: strings, integers, defaults, booleans and the words after the options', async () => {
    const { cmd, seen } = probe();
    expect(
      await cmd.run(['--config', 'a.json', '--port=0', '--level', 'info', '--confirm', 'hi', 'there']),
    ).toBe(0);
    expect(seen.values).toEqual({ config: 'a.json', port: 0, level: 'info', confirm: true });
    expect(seen.args).toEqual(['hi', 'there']);
    await cmd.run(['--config', 'b.json']);
    expect(seen.values).toEqual({ config: 'b.json', port: 1812, level: undefined, confirm: false });
  });

  it('takes a text that starts with a dash after --', async () => {
    const { cmd, seen } = probe();
    await cmd.run(['--config', 'a', '--', '--not-a-flag', '-5']);
    expect(seen.args).toEqual(['--not-a-flag', '-5']);
  });

  it('falls back to the environment variable, and the flag wins over it', async () => {
    const { cmd, seen } = probe();
    vi.stubEnv('MFABOX_TEST_CONFIG', '/etc/mfabox/config.json');
    await cmd.run([]);
    expect(seen.values).toMatchObject({ config: '/etc/mfabox/config.json' });
    await cmd.run(['--config', 'flag.json']);
    expect(seen.values).toMatchObject({ config: 'flag.json' });
  });

  it('refuses a misspelt flag, naming the closest and every known one', async () => {
    const { cmd, seen } = probe();
    const msg = await usageErrorOf(cmd.run(['--config', 'a', '--confim']));
    expect(msg).toContain('unknown option --confim');
    expect(msg).toContain('did you mean --config or --confirm?');
    expect(msg).toContain('known options: --config, --port, --level, --confirm, --help');
    expect(seen.values).toBeUndefined();
  });

  it('refuses a missing required option, a bad integer, a value outside the range or the choices', async () => {
    const { cmd } = probe();
    expect(await usageErrorOf(cmd.run([]))).toBe(
      'thing do: --config (or MFABOX_TEST_CONFIG) FILE is required',
    );
    expect(await usageErrorOf(cmd.run(['--config', ''])), 'an empty value is no value').toContain(
      'is required',
    );
    expect(await usageErrorOf(cmd.run(['--config', 'a', '--port', '18x']))).toBe(
      'thing do: --port must be an integer 0–65535, got "18x"',
    );
    expect(await usageErrorOf(cmd.run(['--config', 'a', '--port', '65536']))).toContain('0–65535');
    expect(await usageErrorOf(cmd.run(['--config', 'a', '--level', 'loud']))).toBe(
      'thing do: --level must be one of warn, info, got "loud"',
    );
    expect(await usageErrorOf(cmd.run(['--config']))).toContain("'--config <value>' argument missing");
    expect(await usageErrorOf(cmd.run(['--config', 'a', '--confirm=yes']))).toContain('--confirm');
  });

  it('refuses stray words when the command takes none', async () => {
    const cmd = defineCommand({ name: 'x', summary: 's', options: {}, run: () => 0 });
    expect(await usageErrorOf(cmd.run(['oops']))).toMatch(
      /^x: Unexpected argument 'oops': this command takes only options/,
    );
  });

  it('answers --help and -h with the usage, every option and its notes, before checking anything else', async () => {
    const { cmd, seen } = probe();
    const out = captureLog();
    expect(await cmd.run(['--bogus', '-h'])).toBe(0);
    const help = out.join('\n');
    expect(help).toContain('Usage: mfabox thing do --config FILE [--port N] [--level L] [--confirm] [TEXT…]');
    expect(help).toMatch(/--config FILE\s+config \(required; or MFABOX_TEST_CONFIG\)/);
    expect(help).toMatch(/--port N\s+port \(0–65535; default 1812\)/);
    expect(help).toMatch(/--level L\s+level \(one of warn, info\)/);
    expect(seen.values).toBeUndefined();
  });
});

describe('every mfabox command', () => {
  it.each(COMMANDS.map((c) => [c.name, c] as const))(
    '"%s" answers --help with its options',
    async (name, c) => {
      const out = captureLog();
      expect(await c.run(['--help'])).toBe(0);
      const help = out.join('\n');
      expect(help.startsWith(`Usage: mfabox ${name}`)).toBe(true);
      expect(help).toContain(c.summary);
      // Every flag in the usage line is explained below it.
      for (const [flag] of c.usage.matchAll(/--[a-z-]+/g)) expect(help.split('Options:')[1]).toContain(flag);
    },
  );

  it.each(COMMANDS.map((c) => [c.name, c] as const))('"%s" refuses an unknown flag', async (_name, c) => {
    expect(await usageErrorOf(c.run(['--no-such-flag']))).toContain('unknown option --no-such-flag');
  });
});

describe('suggest', () => {
  it('offers the near names only', () => {
    expect(suggest('--confim', ['--config', '--confirm', '--user'])).toEqual(['--config', '--confirm']);
    expect(suggest('--prot', ['--port', '--baud'])).toEqual(['--port']);
    expect(suggest('--frobnicate', ['--port', '--baud'])).toEqual([]);
  });
});
