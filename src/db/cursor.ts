/**
 * The one cursor encoding of every connection: opaque base64url of a text the repository
 * pages on (a secret's name, `audit:<seq>`). Clients pass `endCursor` back as `after`.
 */
export function toCursor(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

/** The text a cursor carries ('' for something that is no cursor of ours). */
export function fromCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
