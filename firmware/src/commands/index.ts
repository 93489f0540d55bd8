import type { Command } from './command.ts';
import { demoCommand, startCommand } from './run.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [startCommand, demoCommand];
