/** Status detail values the service accepts: no control characters, at most 1024 characters (the tail). */
export const DETAIL_VALUE_MAX = 1024;

export function detailTail(text: string, max = DETAIL_VALUE_MAX): string {
  const clean = text.replace(/\p{C}+/gu, ' ').trim();
  const chars = Array.from(clean);
  return chars.length > max ? chars.slice(chars.length - max).join('') : clean;
}

/** Lines a process wrote (a trailing newline does not start another line). */
export function lineCount(text: string): number {
  if (text.length === 0) return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}
