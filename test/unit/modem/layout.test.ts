/** The modem room's layout rules, read from the source: a move that breaks one fails here. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '../../../firmware/src');
const importsOf = (file: string): string[] =>
  [...readFileSync(file, 'utf8').matchAll(/^\s*(?:import|export)[^'";]*?from\s+'([^']+)'/gm)].map(
    (m) => m[1] ?? '',
  );

describe('modem/ layout', () => {
  it('at/ is pure: it imports nothing outside itself but errors.ts', () => {
    const dir = join(SRC, 'modem/at');
    const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
    expect(files).toContain('framer.ts');
    expect(files).not.toContain('channel.ts');
    for (const f of files)
      for (const spec of importsOf(join(dir, f)))
        expect(spec.startsWith('./') || spec === '../../errors.ts', `${f} imports ${spec}`).toBe(true);
  });

  it('only sim-pin.ts touches the store in the modem driver', () => {
    const dir = join(SRC, 'modem');
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const touches = importsOf(join(dir, f)).some((s) => s.includes('store/'));
      expect(touches, f).toBe(f === 'sim-pin.ts');
    }
  });
});
