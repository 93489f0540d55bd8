/**
 * Country of an end-user IP from an optional MaxMind .mmdb (GeoLite2/GeoIP2 Country or City) the
 * admin uploads. No file, an unreadable file or an address the database does not hold all give
 * "unknown", which no rule counts as a match unless it says so (conditions.ts).
 */
import { open, type CountryResponse, type Reader } from 'maxmind';
import { describeError } from '../errors.ts';
import { logger } from '../log.ts';
import type { ClientIp } from './calling-station.ts';
import type { CountryFact } from './conditions.ts';

const log = logger('auth:geoip');

export interface CountryLookup {
  country(ip: ClientIp | undefined): CountryFact;
}

export const noGeoip: CountryLookup = {
  country: (ip) => ({ known: false, why: ip ? 'no GeoIP database' : 'no end-user IP' }),
};

/** The reader as a lookup (tests hand one in built over a made file). */
export function readerLookup(reader: Reader<CountryResponse>): CountryLookup {
  return {
    country(ip) {
      if (!ip) return { known: false, why: 'no end-user IP' };
      let r: CountryResponse | null;
      try {
        r = reader.get(ip.address);
      } catch {
        return { known: false, why: 'address not in the GeoIP database' };
      }
      const code = r?.country?.iso_code ?? r?.registered_country?.iso_code;
      return code ? { known: true, code } : { known: false, why: 'address not in the GeoIP database' };
    },
  };
}

/** Opens `file`; a missing or bad file is logged and gives the no-database lookup, never a crash. */
export async function openGeoip(file: string | undefined): Promise<CountryLookup> {
  if (file === undefined) return noGeoip;
  try {
    return readerLookup(await open<CountryResponse>(file, { cache: { max: 10_000 } }));
  } catch (e) {
    log.warn({ file, err: describeError(e) }, 'GeoIP database unreadable: country conditions are unknown');
    return noGeoip;
  }
}
