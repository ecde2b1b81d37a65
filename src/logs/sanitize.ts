/**
 * What a log line may put on the operator's terminal. A log message is written by whatever runs in
 * the containers (and, through httpd's access log, by anyone who can send a request), so it may hold
 * terminal control sequences: OSC 0 to retitle the window (`ESC ] 0 ; … BEL`), OSC 52 to write the
 * clipboard, CSI sequences to move the cursor and overwrite earlier lines. `logs` never passes them
 * through (issue 19, item 3):
 *   - text output drops every C0 control character but tab (U+0000-U+0008, U+000A-U+001F), DEL
 *     (U+007F) and every C1 control character (U+0080-U+009F, which some terminals read as 8-bit
 *     CSI/OSC introducers), so the printable rest of a sequence stays readable ("]0;pwned") while
 *     nothing of it is interpreted;
 *   - JSON output keeps the message whole but escapes them: JSON.stringify already writes C0 as
 *     \u00XX; DEL and C1 are written as \u007f…\u009f too, so the document holds no raw control
 *     byte and a consumer gets the exact message back.
 */

// eslint-disable-next-line no-control-regex
const TEXT_CONTROLS = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g;
// eslint-disable-next-line no-control-regex
const JSON_RAW = /[\u007f-\u009f]/g;

/** A message (or stream name) for text output: control characters other than tab removed. */
export function forTerminal(text: string): string {
  return text.replace(TEXT_CONTROLS, '');
}

/** JSON.stringify, with DEL and C1 escaped as well as C0 (the value parses back unchanged). */
export function jsonLine(value: unknown): string {
  return JSON.stringify(value).replace(JSON_RAW, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
