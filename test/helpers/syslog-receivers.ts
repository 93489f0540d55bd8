/**
 * Real syslog receivers on loopback for tests: UDP (one datagram a message), TCP and TLS (RFC 6587
 * octet counting), each parsing what arrives with the strict RFC 5424 parser. TLS material is made
 * by tls-files.ts.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { deframe, parse5424, type Syslog5424 } from './rfc5424.ts';
import type { TlsFiles } from './tls-files.ts';

export interface Receiver {
  port: number;
  messages: Syslog5424[];
  /** Raw frames as received (UDP datagrams, or de-framed TCP messages). */
  raw: Buffer[];
  /** Parse failures: must stay empty. */
  errors: string[];
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

function collector(): Pick<Receiver, 'messages' | 'raw' | 'errors' | 'waitFor'> & { add(f: Buffer): void } {
  const messages: Syslog5424[] = [];
  const raw: Buffer[] = [];
  const errors: string[] = [];
  let waiters: (() => void)[] = [];
  return {
    messages,
    raw,
    errors,
    add(f) {
      raw.push(f);
      try {
        messages.push(parse5424(f));
      } catch (e) {
        errors.push(String(e));
      }
      for (const w of waiters) w();
    },
    waitFor(n, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          waiters = waiters.filter((w) => w !== check);
          reject(new Error(`${messages.length}/${n} syslog messages within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = (): void => {
          if (messages.length + errors.length >= n) {
            clearTimeout(t);
            waiters = waiters.filter((w) => w !== check);
            resolve();
          }
        };
        waiters.push(check);
        check();
      });
    },
  };
}

export async function udpReceiver(): Promise<Receiver> {
  const c = collector();
  const sock = dgram.createSocket('udp4');
  sock.on('message', (m) => c.add(m));
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
  return { ...c, port: sock.address().port, close: () => new Promise((r) => sock.close(() => r())) };
}

function streamHandler(c: ReturnType<typeof collector>): (s: net.Socket) => void {
  return (s) => {
    let buf: Buffer = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      try {
        const { frames, rest } = deframe(buf);
        for (const f of frames) c.add(f);
        buf = rest;
      } catch (e) {
        c.errors.push(String(e));
        s.destroy();
      }
    });
    s.on('error', () => undefined);
  };
}

function closer(server: net.Server, sockets: Set<net.Socket>): () => Promise<void> {
  return () =>
    new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
}

/** `port` 0 picks one; a given port lets a test bring a collector back where it was. */
export async function tcpReceiver(port = 0): Promise<Receiver & { connections: () => number }> {
  const c = collector();
  const sockets = new Set<net.Socket>();
  let connections = 0;
  const handle = streamHandler(c);
  const server = net.createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    handle(s);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    ...c,
    port: (server.address() as net.AddressInfo).port,
    connections: () => connections,
    close: closer(server, sockets),
  };
}

/** Accepts connections and never reads: the kernel buffers fill and the sender must not care. */
export async function blackHoleReceiver(): Promise<{
  port: number;
  accepted: () => number;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => sockets.size,
    close: closer(server, sockets),
  };
}

export async function tlsReceiver(files: TlsFiles): Promise<Receiver & { handshakes: () => number }> {
  const c = collector();
  const sockets = new Set<net.Socket>();
  let handshakes = 0;
  const handle = streamHandler(c);
  const server = tls.createServer(
    { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile), minVersion: 'TLSv1.2' },
    (s) => {
      handshakes++;
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      handle(s);
    },
  );
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    ...c,
    port: (server.address() as net.AddressInfo).port,
    handshakes: () => handshakes,
    close: closer(server, sockets),
  };
}
