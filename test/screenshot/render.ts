/**
 * Render a captured terminal screen (tmux capture-pane -e: text with ANSI colours) to SVG, then PNG
 * with rsvg-convert (Debian's librsvg2-bin). scripts/screenshot.sh (npm run screenshot) makes the README's
 * picture, docs/up.png, with it; by hand:
 *
 *   ECS_CWLOGS_SCREENSHOT=/tmp/up.ansi node --test dist/test/tty/wizard.test.js
 *   node dist/test/screenshot/render.js /tmp/up.ansi docs/up.png
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const PALETTE = ['#1d1f21', '#cc6666', '#7cb342', '#e6c547', '#81a2be', '#b294bb', '#70c0ba', '#c5c8c6'];
const BRIGHT = ['#666666', '#ff3334', '#9ec400', '#f0c674', '#81a2be', '#b77ee0', '#54ced6', '#ffffff'];
const FG = '#d0d3d1';
const BG = '#14161a';

function xterm256(n: number): string {
  if (n < 8) return PALETTE[n]!;
  if (n < 16) return BRIGHT[n - 8]!;
  if (n < 232) {
    const i = n - 16;
    const c = (v: number) => (v === 0 ? 0 : 55 + v * 40);
    return `rgb(${c(Math.floor(i / 36))},${c(Math.floor(i / 6) % 6)},${c(i % 6)})`;
  }
  const g = 8 + (n - 232) * 10;
  return `rgb(${g},${g},${g})`;
}

interface Style {
  fg: string;
  bold: boolean;
  dim: boolean;
}

function escape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function ansiToSvg(text: string, opts: { cols?: number; title?: string } = {}): string {
  const lines = text.replace(/\s+$/, '').split('\n');
  const cols = opts.cols ?? Math.max(80, ...lines.map((l) => l.replace(/\u001b\[[0-9;]*m/g, '').length));
  const cw = 8.4;
  const lh = 18;
  const pad = 16;
  const top = 36;
  const width = Math.ceil(cols * cw + pad * 2);
  const height = top + lines.length * lh + pad;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans Mono, monospace" font-size="14">`,
    `<rect width="100%" height="100%" rx="8" fill="${BG}"/>`,
    `<circle cx="20" cy="18" r="6" fill="#ff5f56"/><circle cx="40" cy="18" r="6" fill="#ffbd2e"/><circle cx="60" cy="18" r="6" fill="#27c93f"/>`,
    opts.title ? `<text x="${width / 2}" y="23" fill="#8a8f98" text-anchor="middle" font-size="13">${escape(opts.title)}</text>` : '',
  ];
  let style: Style = { fg: FG, bold: false, dim: false };
  lines.forEach((line, row) => {
    const y = top + (row + 1) * lh - 4;
    let col = 0;
    const spans: string[] = [];
    const re = /\u001b\[([0-9;]*)m|([^\u001b]+)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(line))) {
      if (m[1] !== undefined) {
        const codes = m[1] === '' ? [0] : m[1].split(';').map(Number);
        for (let i = 0; i < codes.length; i++) {
          const c = codes[i]!;
          if (c === 0) style = { fg: FG, bold: false, dim: false };
          else if (c === 1) style = { ...style, bold: true };
          else if (c === 2) style = { ...style, dim: true };
          else if (c === 22) style = { ...style, bold: false, dim: false };
          else if (c >= 30 && c <= 37) style = { ...style, fg: PALETTE[c - 30]! };
          else if (c >= 90 && c <= 97) style = { ...style, fg: BRIGHT[c - 90]! };
          else if (c === 39) style = { ...style, fg: FG };
          else if (c === 38 && codes[i + 1] === 5) {
            style = { ...style, fg: xterm256(codes[i + 2] ?? 7) };
            i += 2;
          } else if (c === 38 && codes[i + 1] === 2) {
            style = { ...style, fg: `rgb(${codes[i + 2]},${codes[i + 3]},${codes[i + 4]})` };
            i += 4;
          }
        }
      } else if (m[2]) {
        const t = m[2];
        const attrs = [`x="${(pad + col * cw).toFixed(1)}"`, `fill="${style.fg}"`];
        if (style.bold) attrs.push('font-weight="bold"');
        if (style.dim) attrs.push('fill-opacity="0.6"');
        spans.push(`<tspan ${attrs.join(' ')}>${escape(t)}</tspan>`);
        col += [...t].length;
      }
    }
    if (spans.length) out.push(`<text y="${y}" xml:space="preserve">${spans.join('')}</text>`);
  });
  out.push('</svg>');
  return out.filter(Boolean).join('\n');
}

if (process.argv[1]?.endsWith('render.js')) {
  const [input, output] = process.argv.slice(2);
  if (!input || !output) {
    console.error('usage: node dist/test/screenshot/render.js <capture.ansi> <out.png>');
    process.exit(2);
  }
  const svg = ansiToSvg(readFileSync(input, 'utf8'), { title: 'ecs-cwlogs up' });
  const svgFile = output.replace(/\.png$/, '.svg');
  writeFileSync(svgFile, svg);
  execFileSync('rsvg-convert', ['-o', output, svgFile]);
  console.log(`wrote ${output}`);
}
