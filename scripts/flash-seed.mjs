#!/usr/bin/env node
// Part of scripts/flash: turns the seed JSON into the card's files. The seed:
//   {
//     "hostname": "mfabox1",
//     "network": { "interface": "eth0", "address": "192.0.2.10/24", "gateway": "192.0.2.1",
//                  "dns": ["192.0.2.2"] },          // or { "dhcp": true } (the default)
//     "ntp": ["dc1.corp.example"],                   // default: the directory's DCs
//     "config": { ...the box's config.json: radius (NAS clients), directory, modems, web... }
//   }
// The config is validated with the release's own loader before anything is written, and its
// dataDir is always /var/lib/mfabox (the unit's StateDirectory).
// Usage: flash-seed.mjs --seed FILE --root DIR --release DIR
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: { seed: { type: 'string' }, root: { type: 'string' }, release: { type: 'string' } },
});
const fail = (m) => {
  console.error(`flash: ${m}`);
  process.exit(1);
};
if (!values.seed || !values.root || !values.release)
  fail('flash-seed.mjs needs --seed, --root and --release');
let seed;
try {
  seed = JSON.parse(readFileSync(values.seed, 'utf8'));
} catch (e) {
  fail(`seed ${values.seed}: ${e.message}`);
}
const R = (p) => join(values.root, p);
const write = (p, text, mode = 0o644) => {
  mkdirSync(dirname(R(p)), { recursive: true });
  writeFileSync(R(p), text, { mode });
  chmodSync(R(p), mode);
};

const hostname = seed.hostname ?? 'mfabox';
if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(hostname))
  fail(`seed hostname "${hostname}" is not a valid host name`);
if (typeof seed.config !== 'object' || seed.config === null)
  fail('seed has no "config" object (the box config)');
const config = { ...seed.config, dataDir: '/var/lib/mfabox' };

// Validate with the loader of the release being installed: the box will run exactly this.
const loader = join(values.release, 'dist/firmware/src/config/load.js');
if (existsSync(loader)) {
  const { parseConfig } = await import(pathToFileURL(loader).href);
  try {
    parseConfig(config);
  } catch (e) {
    fail(`seed config: ${e.message}`);
  }
}

// The box's config: secrets inside (shared secrets, the bind password), so 0600; first boot
// hands it to the service user.
write('/etc/mfabox/config.json', `${JSON.stringify(config, null, 2)}\n`, 0o600);
chmodSync(R('/etc/mfabox'), 0o750);

write('/etc/hostname', `${hostname}\n`);
const hosts = existsSync(R('/etc/hosts')) ? readFileSync(R('/etc/hosts'), 'utf8') : '127.0.0.1\tlocalhost\n';
write('/etc/hosts', `${hosts.replace(/^127\.0\.1\.1\s.*\n?/m, '').trimEnd()}\n127.0.1.1\t${hostname}\n`);

// Network: a NetworkManager keyfile (Raspberry Pi OS Bookworm uses NetworkManager).
const net = seed.network ?? { dhcp: true };
const ifname = net.interface ?? 'eth0';
const ipv4 =
  net.dhcp || !net.address
    ? 'method=auto\n'
    : `method=manual\naddress1=${net.address}${net.gateway ? `,${net.gateway}` : ''}\n${net.dns?.length ? `dns=${net.dns.join(';')};\n` : ''}`;
write(
  `/etc/NetworkManager/system-connections/mfabox-${ifname}.nmconnection`,
  `[connection]\nid=mfabox-${ifname}\ntype=ethernet\ninterface-name=${ifname}\nautoconnect=true\n\n[ipv4]\n${ipv4}\n[ipv6]\nmethod=auto\n`,
  0o600,
);

// Time: NTP from the DCs (a Pi has no battery clock; TLS to the DCs and passcode expiry need it).
const dcs = (config.directory?.urls ?? [])
  .map((u) => /^ldaps?:\/\/([^:/]+)/i.exec(String(u))?.[1])
  .filter(Boolean);
const ntp = seed.ntp ?? dcs;
if (ntp.length)
  write(
    '/etc/systemd/timesyncd.conf.d/50-mfabox.conf',
    `# Written by scripts/flash\n[Time]\nNTP=${ntp.join(' ')}\n`,
  );

console.log(
  `flash: config for ${hostname} (${net.dhcp || !net.address ? 'DHCP' : net.address} on ${ifname}; NTP ${ntp.join(' ') || 'default pool'})`,
);
