/** A tiny raw-bytes AT client over serialport, for tests that talk to the simulator's pty. */
import { SerialPort } from 'serialport';

export class RawClient {
  buf = '';
  private constructor(readonly port: SerialPort) {
    port.on('data', (d: Buffer) => (this.buf += d.toString('latin1')));
    port.on('error', () => undefined);
  }

  static async open(path: string): Promise<RawClient> {
    const port = new SerialPort({ path, baudRate: 115200, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((e) => (e ? reject(e) : resolve())));
    return new RawClient(port);
  }

  /** Writes `s` and resolves with everything read until `until` matches. */
  async send(
    s: string,
    until: RegExp = /\r\n(OK|ERROR|\+CM[ES] ERROR: [^\r]*)\r\n$/,
    timeoutMs = 3000,
  ): Promise<string> {
    this.buf = '';
    this.port.write(Buffer.from(s, 'latin1'));
    return this.waitFor(until, timeoutMs);
  }

  async waitFor(until: RegExp, timeoutMs = 3000): Promise<string> {
    const start = Date.now();
    while (!until.test(this.buf)) {
      if (Date.now() - start > timeoutMs)
        throw new Error(`timeout waiting for ${until} in ${JSON.stringify(this.buf)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    return this.buf;
  }

  close(): Promise<void> {
    if (!this.port.isOpen) return Promise.resolve();
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}
