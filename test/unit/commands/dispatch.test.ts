/** `mfabox <command>` dispatch: groups answer --help, typos get a suggestion, usage errors exit 2. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../../firmware/src/commands/dispatch.ts';
import { COMMANDS } from '../../../firmware/src/commands/index.ts';

afterEach(() => vi.restoreAllMocks());

function capture(): { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((s: unknown) => void out.push(String(s)));
  vi.spyOn(console, 'error').mockImplementation((s: unknown) => void err.push(String(s)));
  return { out, err };
}

const groups = [
  ...new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0] ?? '')),
];

describe('runCli', () => {
  it('has command groups to test', () => {
    expect(groups).toEqual(expect.arrayContaining(['modem', 'directory', 'pdu']));
  });

  it.each(groups)('"%s --help" lists its subcommands, exit 0', async (g) => {
    const { out, err } = capture();
    expect(await runCli([g, '--help'], COMMANDS)).toBe(0);
    const text = out.join('\n');
    expect(text).toContain(`Usage: mfabox ${g} <subcommand>`);
    for (const c of COMMANDS.filter((x) => x.name.startsWith(`${g} `)))
      expect(text).toMatch(new RegExp(`^  ${c.name.slice(g.length + 1)}\\s+${c.summary.slice(0, 20)}`, 'm'));
    expect(err).toEqual([]);
  });

  it('"modem" alone prints the group and exits 2', async () => {
    const { out } = capture();
    expect(await runCli(['modem'], COMMANDS)).toBe(2);
    expect(out.join('\n')).toContain('probe');
  });

  it('runs the subcommand\'s own --help, and "help modem send" too', async () => {
    for (const argv of [
      ['modem', 'send', '--help'],
      ['help', 'modem', 'send'],
    ]) {
      const { out } = capture();
      expect(await runCli(argv, COMMANDS)).toBe(0);
      expect(out.join('\n')).toMatch(/^Usage: mfabox modem send --port PATH/);
      vi.restoreAllMocks();
    }
  });

  it('suggests the subcommand or command meant, exit 2', async () => {
    const { err } = capture();
    expect(await runCli(['modem', 'sned'], COMMANDS)).toBe(2);
    expect(err.join('\n')).toContain('unknown subcommand "modem sned" (did you mean "modem send"?)');
    expect(await runCli(['modme'], COMMANDS)).toBe(2);
    expect(err.join('\n')).toContain('unknown command "modme" (did you mean "modem"?)');
  });

  it('prints the top help: exit 0 for --help, 2 for nothing', async () => {
    const { out } = capture();
    expect(await runCli(['--help'], COMMANDS)).toBe(0);
    for (const c of COMMANDS) expect(out.join('\n')).toContain(`  ${c.name}`);
    expect(await runCli([], COMMANDS)).toBe(2);
  });
});
