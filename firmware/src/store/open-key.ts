/** The device key for a config: its deviceKeyFile, moving one an earlier release left in dataDir. */
import type { Config } from '../config/schema.ts';
import { ErrorCode, MfaError } from '../errors.ts';
import { DEFAULT_DEVICE_KEY_FILE, openDeviceKey, type DeviceKey } from './device-key.ts';

export function openKeyFor(config: Pick<Config, 'deviceKeyFile' | 'dataDir'>): Promise<DeviceKey> {
  // A test that forgot deviceKeyFile would otherwise create (as root: overwrite nothing, but
  // create) the machine's real /etc/mfabox/device.key.
  if (process.env.VITEST && config.deviceKeyFile === DEFAULT_DEVICE_KEY_FILE)
    throw new MfaError(
      'tests must set deviceKeyFile to a temporary path, never the real /etc/mfabox/device.key',
      ErrorCode.OutboxKeyInvalid,
      { field: 'deviceKeyFile' },
    );
  return openDeviceKey({ path: config.deviceKeyFile, dataDir: config.dataDir });
}
