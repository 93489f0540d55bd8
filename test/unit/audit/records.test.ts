import { describe, expect, it } from 'vitest';
import { configChanges, MASK } from '../../../firmware/src/audit/records.ts';

describe('configChanges', () => {
  it('lists changed fields old → new and masks secrets, also inside added objects', () => {
    const before = {
      web: { port: 8080 },
      radius: { clients: [{ name: 'ns', secret: 'old-secret', match: '10.0.0.5' }] },
      directory: { bindPassword: 'hunter2', urls: ['ldaps://dc1'] },
    };
    const after = {
      web: { port: 8443 },
      radius: { clients: [{ name: 'ns', secret: 'new-secret', match: '10.0.0.6' }] },
      directory: { bindPassword: 'hunter3', urls: ['ldaps://dc1', 'ldaps://dc2'] },
      syslog: [{ url: 'udp://siem:514', token: 't0ken' }],
    };
    const c = configChanges(before, after);
    expect(c).toEqual([
      { field: 'directory.bindPassword', old: MASK, new: MASK },
      { field: 'directory.urls', old: '["ldaps://dc1"]', new: '["ldaps://dc1","ldaps://dc2"]' },
      { field: 'radius.clients[0].match', old: '"10.0.0.5"', new: '"10.0.0.6"' },
      { field: 'radius.clients[0].secret', old: MASK, new: MASK },
      { field: 'syslog', new: `[{"url":"udp://siem:514","token":"${MASK}"}]` },
      { field: 'web.port', old: '8080', new: '8443' },
    ]);
    expect(JSON.stringify(c)).not.toMatch(/hunter|old-secret|new-secret|t0ken/);
  });
});
