/**
 * The part of asciichart (1.5.x, https://github.com/kroitor/asciichart) this tool uses: it ships no
 * types. `plot` draws one series or several on a shared y axis, `height` rows tall.
 */
declare module 'asciichart' {
  export interface PlotConfig {
    height?: number;
    min?: number;
    max?: number;
    offset?: number;
    padding?: string;
    colors?: string[];
    format?: (x: number, i: number) => string;
  }
  export function plot(series: number[] | number[][], cfg?: PlotConfig): string;
  export const cyan: string;
  export const magenta: string;
  const asciichart: { plot: typeof plot; cyan: string; magenta: string };
  export default asciichart;
}
