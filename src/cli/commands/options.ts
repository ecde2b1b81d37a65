/**
 * What every command's flags and help share: a setting's flag (and its --no- twin), the examples block.
 */
import { Command, Option } from 'commander';
import { SETTINGS, type SettingKey } from '../../core/settings.js';
import type { StepCommand } from '../../core/step.js';

export function addSettingOptions(cmd: Command, keys: readonly SettingKey[]): Command {
  for (const k of keys) {
    const s = SETTINGS[k];
    const def = s.default !== undefined ? ` (default: ${s.default})` : '';
    cmd.addOption(new Option(s.flag, `${s.description}${def}`));
    // A switch can be turned off again: the saved answer (or the environment's) is overridden by --no-….
    if (!s.flag.includes('<')) cmd.addOption(new Option(`--no-${s.flagName.replace(/^--/, '')}`, `turn ${s.flagName} off`).hideHelp());
  }
  return cmd;
}

export function examples(lines: readonly string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** A step command's help after its options: the examples, then the step's notes. */
export function stepHelp(spec: Pick<StepCommand, 'examples' | 'notes'>): string {
  return examples(spec.examples) + (spec.notes ? `\n${spec.notes}\n` : '');
}
