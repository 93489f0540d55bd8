/**
 * The reset button as a Linux input device (`dtoverlay=gpio-key`), read from an evdev node such
 * as /dev/mfabox-button (a udev symlink, hardware/udev/90-mfabox-leds.rules). Needs no native
 * module and no sysfs write; the unit allows exactly this device.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { logger } from '../log.ts';
import type { ButtonSource } from './types.ts';

const EV_KEY = 1;
/** struct input_event: a timeval (two longs), u16 type, u16 code, s32 value. */
const EVENT_SIZE = process.arch === 'arm64' || process.arch === 'x64' ? 24 : 16;

/** Applies a chunk of input events to the pressed state; returns the new state and the leftover bytes. */
export function applyInputEvents(
  buf: Buffer,
  pressed: boolean,
  size = EVENT_SIZE,
): { pressed: boolean; rest: Buffer } {
  let off = 0;
  for (; off + size <= buf.length; off += size) {
    const type = buf.readUInt16LE(off + size - 8);
    const value = buf.readInt32LE(off + size - 4);
    if (type === EV_KEY && value !== 2) pressed = value === 1; // 2 = autorepeat
  }
  return { pressed, rest: buf.subarray(off) };
}

export function inputButton(path: string): ButtonSource {
  let pressed = false;
  let rest: Buffer = Buffer.alloc(0);
  const stream: ReadStream = createReadStream(path);
  stream.on('data', (chunk: Buffer | string) => {
    const r = applyInputEvents(Buffer.concat([rest, Buffer.from(chunk)]), pressed);
    pressed = r.pressed;
    rest = r.rest;
  });
  stream.on('error', (e) => logger('leds').warn({ err: String(e), path }, 'reset button unreadable'));
  return {
    description: `input ${path}`,
    pressed: () => pressed,
    close: () =>
      new Promise((res) => {
        stream.destroy();
        res();
      }),
  };
}
