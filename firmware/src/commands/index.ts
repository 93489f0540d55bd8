import type { Command } from './command.ts';
import { modemProbeCommand, modemSendCommand } from './modem.ts';
import { pduEncodeCommand } from './pdu.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [pduEncodeCommand, modemProbeCommand, modemSendCommand];
