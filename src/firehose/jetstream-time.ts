// Reads the top-level `time_us` of a Jetstream message without a full JSON.parse:
// the client needs only that number, and the consumer parses the text anyway.
const KEY = '"time_us":';

/**
 * Returns the top-level time_us, `undefined` for a JSON object without a numeric one,
 * or `null` when the text is not a JSON object at all.
 */
export function extractTimeUs(text: string): number | undefined | null {
  const at = text.indexOf(KEY);
  // Servers write time_us second (after did); a key match in the short prefix is
  // top-level when the prefix is at object depth 1 outside any string.
  if (at > 0 && atTopLevel(text, at)) {
    let end = at + KEY.length;
    while (end < text.length && isDigit(text.charCodeAt(end))) end++;
    const next = text.charCodeAt(end);
    if (end > at + KEY.length && (next === 44 /* , */ || next === 125 /* } */)) {
      return Number(text.slice(at + KEY.length, end));
    }
  }
  // Unusual layout (key order, whitespace, exponent): fall back to the real parser.
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const t = (parsed as { time_us?: unknown }).time_us;
  return typeof t === 'number' && Number.isFinite(t) ? t : undefined;
}

function atTopLevel(text: string, end: number): boolean {
  if (text.charCodeAt(0) !== 123 /* { */) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91 /* [ */) depth++;
    else if (c === 125 || c === 93 /* ] */) depth--;
  }
  return depth === 1 && !inString;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
