import type { Command } from './command.ts';
import { directorySyncCommand, directoryTestCommand } from './directory.ts';

/** Every subcommand; each area registers its own line here. */
export const COMMANDS: Command[] = [directoryTestCommand, directorySyncCommand];
