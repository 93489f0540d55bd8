import type { Command } from './command.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [];
