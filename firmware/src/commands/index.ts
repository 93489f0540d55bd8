import { adminResetPasswordCommand } from './admin.ts';
import { AUTH_COMMANDS } from './auth.ts';
import type { Command } from './command.ts';
import { directorySyncCommand, directoryTestCommand } from './directory.ts';
import { logCommand } from './log.ts';
import { modemProbeCommand, modemSendCommand } from './modem.ts';
import { pduEncodeCommand } from './pdu.ts';
import { demoCommand, startCommand } from './run.ts';
import { simCommand } from './sim.ts';
import { statusCommand } from './status.ts';
import { upgradeCommand } from './upgrade.ts';
import { warmCommand } from './warm.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [
  startCommand,
  demoCommand,
  simCommand,
  modemProbeCommand,
  modemSendCommand,
  pduEncodeCommand,
  directoryTestCommand,
  directorySyncCommand,
  logCommand,
  statusCommand,
  upgradeCommand,
  warmCommand,
  adminResetPasswordCommand,
  ...AUTH_COMMANDS,
];
