/**
 * What a process's open descriptors are, coarse enough to compare over time: a socket by its
 * protocol and the far port it talks to (its inode and its own ephemeral port change), a file in
 * the data directory by its name with LevelDB's file numbers folded. A soak that sees the count
 * grow then says which kind grew.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

const TCP_STATES: Record<string, string> = {
  '01': 'established',
  '06': 'time-wait',
  '08': 'close-wait',
  '0A': 'listen',
};

/** inode → description, from the process's own view of /proc/net. */
function sockets(pid: number): Map<string, string> {
  const out = new Map<string, string>();
  const port = (hexAddr: string): number => parseInt(hexAddr.split(':')[1] ?? '0', 16);
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${proto}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const [local, remote, st, inode] = [f[1], f[2], f[3], f[9]];
      if (!local || !remote || !st || !inode) continue;
      const state = TCP_STATES[st] ?? st;
      const what = proto.startsWith('udp')
        ? `udp :${port(local)}`
        : state === 'listen'
          ? `tcp listen :${port(local)}`
          : `tcp → :${port(remote)} ${state}`;
      out.set(inode, what);
    }
  }
  return out;
}

/** Counts of each kind of open descriptor of `pid`, and the total. */
export function descriptorKinds(
  pid: number,
  dataDir: string,
): { fds: number; kinds: Record<string, number> } {
  const kinds: Record<string, number> = {};
  let table: Map<string, string> | undefined;
  let fds = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed between the listing and the readlink
    }
    fds++;
    let kind: string;
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket) kind = (table ??= sockets(pid)).get(socket[1] ?? '') ?? 'unix or other socket';
    else if (target.startsWith(dataDir))
      kind = `data:${target.slice(dataDir.length).replace(/\d{6}\.(ldb|log)$/, 'NNNNNN.$1')}`;
    else kind = target.replace(/\[\d+\]$/, '').replace(/^\/dev\/pts\/\d+$/, '/dev/pts/N');
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return { fds, kinds };
}
