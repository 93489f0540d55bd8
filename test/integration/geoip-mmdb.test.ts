/**
 * Country conditions on a real .mmdb: a tiny GeoIP2-Country database written here by MaxMind's own
 * writer (Debian's libmaxmind-db-writer-perl), read by the firmware through npm `maxmind`, cross-
 * checked with libmaxminddb's `mmdblookup`, and used by `mfabox policy explain` as a real process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCallingStationId } from '../../firmware/src/auth/calling-station.ts';
import { openGeoip, type CountryLookup } from '../../firmware/src/auth/geoip.ts';
import { e2eConfig } from '../helpers/e2e-box.ts';
import { mfabox } from '../helpers/mfabox-cli.ts';

/** Three networks: 192.0.2.0/24 and 2001:db8:de::/48 in DE, 198.51.100.0/24 in FR. */
const WRITER = String.raw`
use strict; use warnings;
use MaxMind::DB::Writer::Tree;
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => 'GeoIP2-Country',
  languages => ['en'], description => { en => 'MFA Box test' },
  remove_reserved_networks => 0,
  map_key_type_callback => sub { { country => 'map', iso_code => 'utf8_string' }->{$_[0]} },
);
$tree->insert_network('192.0.2.0/24', { country => { iso_code => 'DE' } });
$tree->insert_network('2001:db8:de::/48', { country => { iso_code => 'DE' } });
$tree->insert_network('198.51.100.0/24', { country => { iso_code => 'FR' } });
open my $fh, '>:raw', $ARGV[0] or die "cannot write $ARGV[0]";
$tree->write_tree($fh);
close $fh;
`;

describe('GeoIP country conditions on a real .mmdb (MaxMind writer, maxmind reader, mmdblookup)', () => {
  let dir: string;
  let mmdb: string;
  let geo: CountryLookup;
  const country = (ip: string) => geo.country(parseCallingStationId(ip));

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mfabox-geoip-'));
    mmdb = join(dir, 'country.mmdb');
    execFileSync('perl', ['-e', WRITER, mmdb]);
    geo = await openGeoip(mmdb);
  }, 30_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('finds the country of IPv4 and IPv6 addresses; an address the file lacks is unknown', () => {
    expect(country('192.0.2.7')).toEqual({ known: true, code: 'DE' });
    expect(country('2001:db8:de:1::5')).toEqual({ known: true, code: 'DE' });
    expect(country('198.51.100.200')).toEqual({ known: true, code: 'FR' });
    expect(country('203.0.113.1')).toMatchObject({ known: false, why: 'address not in the GeoIP database' });
    expect(country('2001:db8:df::1')).toMatchObject({ known: false });
    expect(geo.country(undefined)).toMatchObject({ known: false, why: 'no end-user IP' });
  });

  it('agrees with libmaxminddb (mmdblookup) on the same file', () => {
    for (const [ip, code] of [
      ['192.0.2.7', 'DE'],
      ['2001:db8:de:1::5', 'DE'],
      ['198.51.100.200', 'FR'],
    ] as const) {
      const out = execFileSync('mmdblookup', ['--file', mmdb, '--ip', ip, 'country', 'iso_code'], {
        encoding: 'utf8',
      });
      expect(out).toContain(`"${code}"`);
      expect(country(ip)).toEqual({ known: true, code });
    }
  });

  it('a corrupt or missing file gives "no database" (unknown), never a crash', async () => {
    const bad = join(dir, 'bad.mmdb');
    await writeFile(bad, 'not a maxmind database');
    for (const f of [bad, join(dir, 'missing.mmdb')]) {
      const g = await openGeoip(f);
      expect(g.country(parseCallingStationId('198.51.100.200'))).toEqual({
        known: false,
        why: 'no GeoIP database',
      });
    }
  });

  it('`mfabox policy explain` rejects from FR; an unknown country is no match, so the default challenge', async () => {
    const configFile = join(dir, 'config.json');
    await writeFile(
      configFile,
      JSON.stringify(
        e2eConfig(dir, 'geoip-nas-secret-0123', {
          directory: { kind: 'demo', syncIntervalMinutes: 0 },
          policy: {
            geoipFile: mmdb,
            rules: [{ name: 'abroad', if: { notCountries: ['DE'] }, then: 'reject' }],
          },
        }),
      ),
    );
    const explain = (ip: string) =>
      mfabox(['policy', 'explain', '--config', configFile, '--user', 'alice', '--ip', ip]);
    const fr = await explain('198.51.100.200');
    expect(fr.code, fr.err).toBe(0);
    expect(fr.out).toMatch(/yes\s+country not in \[DE\] \(country is FR\)/);
    expect(fr.out).toMatch(/→ reject/);
    const unknown = await explain('203.0.113.1');
    expect(unknown.out).toMatch(/unknown\s+country not in \[DE\] \(address not in the GeoIP database\)/);
    expect(unknown.out).toMatch(/→ challenge/);
  }, 60_000); // two runs of the command from source: about 4 s each, 15 s on a loaded machine
});
