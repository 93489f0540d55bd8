import { describe, expect, it } from 'vitest';
import { DEFAULT_GUARD_SETTINGS } from '../../../firmware/src/auth/guard.ts';
import { limitsSchema, lockoutSchema, methodsSchema } from '../../../firmware/src/config/auth-schema.ts';
import { AUTH_DEFAULTS } from '../../../firmware/src/config/defaults.ts';
import { parseConfig } from '../../../firmware/src/config/load.ts';

describe('config defaults read outside validation', () => {
  it('are what the schema gives a config that leaves lockout, limits and methods out', () => {
    expect(AUTH_DEFAULTS).toStrictEqual({
      lockout: lockoutSchema.parse({}),
      limits: limitsSchema.parse({}),
      methods: methodsSchema.parse({}),
    });
    const c = parseConfig({});
    expect(AUTH_DEFAULTS).toStrictEqual({ lockout: c.lockout, limits: c.limits, methods: c.methods });
    expect(DEFAULT_GUARD_SETTINGS).toBe(AUTH_DEFAULTS);
  });
});
