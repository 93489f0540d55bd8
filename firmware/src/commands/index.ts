import type { Command } from './command.ts';
import { modemProbeCommand, modemSendCommand } from './modem.ts';
import { pduEncodeCommand } from './pdu.ts';
import { simCommand } from './sim.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [pduEncodeCommand, simCommand, modemProbeCommand, modemSendCommand];
