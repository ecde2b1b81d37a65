/**
 * `ecs-cwlogs completion bash|zsh|fish`: a shell completion script generated from the commander
 * program itself (its commands, options, option choices and argument choices), so it never drifts
 * from the real command line. Hidden commands and options are left out.
 *
 * The scripts complete: subcommands (nested ones too), each command's options plus the program's
 * global options, the values of options with fixed choices (e.g. `--latency none|fast|realistic`),
 * and arguments with fixed choices (e.g. `completion bash|zsh|fish`). After an option whose value
 * is a file (`--state <file>`) they complete file names; after other free values, nothing.
 */
import { Argument, Command, Help, InvalidArgumentError, type Option } from 'commander';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

/** One command of the tree, flattened for the generators. */
export interface CompletionNode {
  /** Command names from the root, e.g. [] (the program), ['logs'], ['sandbox']. */
  path: string[];
  description: string;
  subcommands: { name: string; description: string }[];
  /** This command's options plus the options of its ancestors (global options), deduplicated. */
  options: CompletionOption[];
  /** Choices of the first argument, if it has fixed ones. */
  argChoices: string[];
}

export interface CompletionOption {
  /** `--follow`, `-f` (both when both exist). */
  names: string[];
  description: string;
  /** Takes a value (required or optional). */
  takesValue: boolean;
  choices: string[];
  /** The value is a file or directory (its placeholder says so: `<file>`, `<path>`, `<dir>`). */
  file: boolean;
}

export function completionCommand(getProgram: () => Command): Command {
  const shell = new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS).argParser((value: string) => {
    if ((SHELLS as readonly string[]).includes(value)) return value;
    throw new InvalidArgumentError(`Unknown shell "${value}": ecs-cwlogs completion supports bash, zsh and fish.`);
  });
  return new Command('completion')
    .description('Print a shell completion script (bash, zsh or fish), generated from the commands and options')
    .addArgument(shell)
    .addHelpText(
      'after',
      `
Install:
  bash  echo 'source <(ecs-cwlogs completion bash)' >> ~/.bashrc
  zsh   ecs-cwlogs completion zsh > "\${fpath[1]}/_ecs-cwlogs"   (or: source <(ecs-cwlogs completion zsh) after compinit)
  fish  ecs-cwlogs completion fish > ~/.config/fish/completions/ecs-cwlogs.fish
`,
    )
    .action((name: Shell) => {
      process.stdout.write(completionScript(getProgram(), name));
    });
}

export function completionScript(program: Command, shell: Shell): string {
  const nodes = completionTree(program);
  const bin = program.name();
  switch (shell) {
    case 'bash':
      return bashScript(bin, nodes);
    case 'zsh':
      return zshScript(bin, nodes);
    case 'fish':
      return fishScript(bin, nodes);
  }
}

// ---------------------------------------------------------------------------------------------
// The tree

export function completionTree(program: Command): CompletionNode[] {
  const help = new Help();
  const nodes: CompletionNode[] = [];
  const walk = (cmd: Command, path: string[], inherited: CompletionOption[]) => {
    const own = help.visibleOptions(cmd).map(toCompletionOption);
    // Inherited (global) options, minus each ancestor's --help / --version (the command has its own help).
    const passDown = own.filter((o) => !o.names.includes('--help') && !o.names.includes('--version'));
    const options = dedupe([...own, ...inherited]);
    const subs = help.visibleCommands(cmd);
    const firstArg = cmd.registeredArguments[0];
    nodes.push({
      path,
      description: cmd.description(),
      subcommands: subs.flatMap((s) => [s.name(), ...s.aliases()].map((name) => ({ name, description: firstLine(s.description()) }))),
      options,
      argChoices: firstArg?.argChoices ? [...firstArg.argChoices] : [],
    });
    for (const sub of subs) {
      const down = dedupe([...passDown, ...inherited]);
      if (cmd.commands.includes(sub)) walk(sub, [...path, sub.name()], down);
      else if (sub.name() === 'help') {
        // commander's implicit `help [command]`: completes the sibling command names.
        nodes.push({
          path: [...path, 'help'],
          description: sub.description(),
          subcommands: [],
          options: down,
          argChoices: subs.map((s) => s.name()).filter((n) => n !== 'help'),
        });
      }
    }
  };
  walk(program, [], []);
  return nodes;
}

function toCompletionOption(o: Option): CompletionOption {
  return {
    names: [o.long, o.short].filter((n): n is string => Boolean(n)),
    description: firstLine(o.description),
    takesValue: o.required || o.optional,
    choices: o.argChoices ? [...o.argChoices] : [],
    file: /[<[][^>\]]*(file|path|dir)[^>\]]*[>\]]/i.test(o.flags),
  };
}

function dedupe(options: CompletionOption[]): CompletionOption[] {
  const seen = new Set<string>();
  return options.filter((o) => {
    const key = o.names[0];
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function firstLine(s: string): string {
  return (s ?? '').split('\n')[0].trim();
}

function fnName(bin: string): string {
  return `_${bin.replace(/[^A-Za-z0-9]/g, '_')}`;
}

/** For a single-quoted shell word. */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

// ---------------------------------------------------------------------------------------------
// bash

function bashScript(bin: string, nodes: CompletionNode[]): string {
  const fn = fnName(bin);
  const valueOptions = (n: CompletionNode) => n.options.filter((o) => o.takesValue).flatMap((o) => o.names);
  const cases: string[] = [];
  for (const n of nodes) {
    const key = n.path.join(' ');
    const optionWords = n.options.flatMap((o) => o.names).join(' ');
    const valued = n.options.filter((o) => o.takesValue);
    const choiceCases = valued
      .filter((o) => o.choices.length)
      .map((o) => `        ${o.names.join('|')}) COMPREPLY=($(compgen -W ${sq(o.choices.join(' '))} -- "$cur")); return ;;`);
    const files = valued.filter((o) => !o.choices.length && o.file).flatMap((o) => o.names);
    const free = valued.filter((o) => !o.choices.length && !o.file).flatMap((o) => o.names);
    if (files.length) choiceCases.push(`        ${files.join('|')}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`);
    if (free.length) choiceCases.push(`        ${free.join('|')}) COMPREPLY=(); return ;;`);
    cases.push(
      `    ${sq(key)})`,
      `      case "$prev" in`,
      ...choiceCases,
      `      esac`,
      `      opts=${sq(optionWords)}`,
      `      words=${sq([...n.subcommands.map((s) => s.name), ...n.argChoices].join(' '))}`,
      `      ;;`,
    );
  }
  // The command path is found again from the words typed: options are skipped (with the value of
  // those that take one), other words extend the path while the result is a known command.
  const allValueOptions = [...new Set(nodes.flatMap(valueOptions))].join(' ');
  const allPaths = `|${nodes.map((n) => n.path.join(' ')).join('|')}|`;
  return `# ${bin} completion for bash (generated by \`${bin} completion bash\`).
# Load it now:         source <(${bin} completion bash)
# Or for every shell:  echo 'source <(${bin} completion bash)' >> ~/.bashrc
${fn}() {
  local cur prev cmdpath="" next i w skip="" opts="" words=""
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev=""
  [ "$COMP_CWORD" -gt 0 ] && prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [ -n "$skip" ]; then skip=""; continue; fi
    case "$w" in
      --*=*) ;;
      -*) case ${sq(` ${allValueOptions} `)} in *" $w "*) skip=1 ;; esac ;;
      *)
        if [ -z "$cmdpath" ]; then next="$w"; else next="$cmdpath $w"; fi
        case ${sq(allPaths)} in *"|$next|"*) cmdpath="$next" ;; esac
        ;;
    esac
  done
  case "$cmdpath" in
${cases.join('\n')}
    *) return ;;
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
  fi
}
complete -F ${fn} ${bin}
`;
}

// ---------------------------------------------------------------------------------------------
// zsh

function zshEscape(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/:/g, '\\:');
}

function zshScript(bin: string, nodes: CompletionNode[]): string {
  const fn = fnName(bin);
  const cases: string[] = [];
  for (const n of nodes) {
    const key = n.path.join(' ');
    const optionItems = n.options.flatMap((o) => o.names.map((name) => sq(`${zshEscape(name)}:${o.description}`)));
    const valued = n.options.filter((o) => o.takesValue);
    const valueCases = valued
      .filter((o) => o.choices.length)
      .map((o) => `        ${o.names.join('|')}) compadd -- ${o.choices.map(sq).join(' ')}; return ;;`);
    const files = valued.filter((o) => !o.choices.length && o.file).flatMap((o) => o.names);
    const free = valued.filter((o) => !o.choices.length && !o.file).flatMap((o) => o.names);
    if (files.length) valueCases.push(`        ${files.join('|')}) _files; return ;;`);
    if (free.length) valueCases.push(`        ${free.join('|')}) _message 'value'; return ;;`);
    cases.push(
      `    ${sq(key)})`,
      `      case "$prev" in`,
      ...valueCases,
      `      esac`,
      `      opts=(${optionItems.join(' ')})`,
      `      cmds=(${n.subcommands.map((s) => sq(`${zshEscape(s.name)}:${s.description}`)).join(' ')})`,
      `      args=(${n.argChoices.map(sq).join(' ')})`,
      `      ;;`,
    );
  }
  const allValueOptions = [...new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.names)))];
  const allPaths = nodes.map((n) => n.path.join(' '));
  return `#compdef ${bin}
# ${bin} completion for zsh (generated by \`${bin} completion zsh\`).
# Install: ${bin} completion zsh > "\${fpath[1]}/_${bin}", or after compinit: source <(${bin} completion zsh)
${fn}() {
  local cur="\${words[CURRENT]}" prev="\${words[CURRENT-1]}" cmdpath="" next w skip="" i
  local -a opts cmds args
  local -a valueopts=(${allValueOptions.map(sq).join(' ')})
  local -a cmdpaths=(${allPaths.map(sq).join(' ')})
  for ((i = 2; i < CURRENT; i++)); do
    w="\${words[i]}"
    if [[ -n "$skip" ]]; then skip=""; continue; fi
    if [[ "$w" == --*=* ]]; then continue; fi
    if [[ "$w" == -* ]]; then
      (( \${valueopts[(Ie)$w]} )) && skip=1
      continue
    fi
    next="\${cmdpath:+$cmdpath }$w"
    (( \${cmdpaths[(Ie)$next]} )) && cmdpath="$next"
  done
  case "$cmdpath" in
${cases.join('\n')}
    *) return 1 ;;
  esac
  if [[ "$cur" == -* ]]; then
    _describe -t options 'option' opts
  else
    (( \${#cmds} )) && _describe -t commands 'command' cmds
    (( \${#args} )) && compadd -- "\${args[@]}"
  fi
}
if [[ "\${funcstack[1]}" == "_${bin}" || "\${funcstack[1]}" == "${fn}" ]]; then
  ${fn} "$@"
else
  compdef ${fn} ${bin}
fi
`;
}

// ---------------------------------------------------------------------------------------------
// fish

function fishScript(bin: string, nodes: CompletionNode[]): string {
  const lines = [
    `# ${bin} completion for fish (generated by \`${bin} completion fish\`).`,
    `# Install: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish`,
    `complete -c ${bin} -e`,
    `complete -c ${bin} -f`,
    '',
    `# True when the command words typed so far (options left out) are exactly the arguments.`,
    `function __${fnName(bin).slice(1)}_path`,
    `    set -l words (commandline -opc)`,
    `    set -e words[1]`,
    `    set -l cmdpath`,
    `    set -l skip 0`,
    `    for w in $words`,
    `        if test $skip -eq 1`,
    `            set skip 0`,
    `            continue`,
    `        end`,
    `        switch $w`,
    `            case '--*=*'`,
    `            case ${[...new Set(nodes.flatMap((n) => n.options.filter((o) => o.takesValue).flatMap((o) => o.names)))].map(sq).join(' ')}`,
    `                set skip 1`,
    `            case '-*'`,
    `            case '*'`,
    `                set -l next (string join ' ' $cmdpath $w)`,
    `                if contains -- $next ${nodes.map((n) => sq(n.path.join(' '))).join(' ')}`,
    `                    set cmdpath $cmdpath $w`,
    `                end`,
    `        end`,
    `    end`,
    `    set -l have (string join ' ' $cmdpath)`,
    `    set -l want (string join ' ' $argv)`,
    `    test "$have" = "$want"`,
    `end`,
    '',
  ];
  const pathFn = `__${fnName(bin).slice(1)}_path`;
  const fishEsc = (s: string) => sq(s);
  for (const n of nodes) {
    const cond = `-n ${sq(`${pathFn}${n.path.length ? ` ${n.path.join(' ')}` : ''}`)}`;
    lines.push(`# ${n.path.length ? n.path.join(' ') : bin}`);
    for (const s of n.subcommands) lines.push(`complete -c ${bin} ${cond} -a ${sq(s.name)} -d ${fishEsc(s.description)}`);
    if (n.argChoices.length) lines.push(`complete -c ${bin} ${cond} -a ${sq(n.argChoices.join(' '))}`);
    for (const o of n.options) {
      const long = o.names.find((x) => x.startsWith('--'));
      const short = o.names.find((x) => !x.startsWith('--'));
      const parts = [`complete -c ${bin}`, cond];
      if (long) parts.push(`-l ${long.slice(2)}`);
      if (short) parts.push(`-s ${short.slice(1)}`);
      if (o.takesValue) parts.push(o.choices.length ? `-x -a ${sq(o.choices.join(' '))}` : o.file ? '-r -F' : '-x');
      parts.push(`-d ${fishEsc(o.description)}`);
      lines.push(parts.join(' '));
    }
    lines.push('');
  }
  return `${lines.join('\n')}`;
}
