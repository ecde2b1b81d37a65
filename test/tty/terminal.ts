/**
 * A real terminal for the tty tests: a detached tmux session running the real binary, driven with
 * keystrokes, read as the screen a person would see.
 */
import { execFile } from 'node:child_process';

export function sh(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, (err, out, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(out))),
  );
}

export class Terminal {
  private constructor(readonly name: string) {}

  /** A detached tmux session running `command` in a 110x48 terminal; the shell stays after it exits. */
  static async start(name: string, env: NodeJS.ProcessEnv, command: string): Promise<Terminal> {
    const exports = Object.entries(env)
      .filter(([k]) => /^(AWS_|ECS_CWLOGS_|NO_COLOR|PATH$|HOME$)/.test(k))
      .map(([k, v]) => `${k}=${shellQuote(v ?? '')}`)
      .join(' ');
    await sh('tmux', ['kill-session', '-t', name]).catch(() => undefined);
    await sh('tmux', ['new-session', '-d', '-s', name, '-x', '110', '-y', '48', `env TERM=xterm-256color ${exports} ${command}; echo "EXIT=$?"; sleep 600`]);
    return new Terminal(name);
  }

  screen(ansi = false): Promise<string> {
    return sh('tmux', ['capture-pane', '-p', ...(ansi ? ['-e'] : []), '-t', this.name]);
  }

  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      await sh('tmux', ['send-keys', '-t', this.name, k]);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  async type(text: string): Promise<void> {
    await sh('tmux', ['send-keys', '-t', this.name, '-l', text]);
  }

  async waitFor(re: RegExp, timeoutMs = 60_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      last = await this.screen();
      if (re.test(last)) return last;
      await new Promise((r) => setTimeout(r, 150));
    }
    throw new Error(`timed out waiting for ${re} on screen:\n${last}`);
  }

  /** Answer the prompt whose question matches `question`. */
  async answer(question: RegExp, ...keys: string[]): Promise<void> {
    await this.waitFor(new RegExp(`\\? ${question.source}`));
    await this.keys(...keys);
    await this.waitFor(new RegExp(`✔ ${question.source}`));
  }

  kill(): Promise<void> {
    return sh('tmux', ['kill-session', '-t', this.name]).then(
      () => undefined,
      () => undefined,
    );
  }
}

export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
