/**
 * Where each variable of .env content is defined, and which lines are not assignments.
 * The values themselves are parsed by `dotenv`, which skips lines it cannot read without
 * a word; this scan finds those lines so an import can report each one by its number
 * (never by its content, which may hold a secret).
 *
 * Accepted, as dotenv reads them: blank lines, `# comments`, and `[export ]KEY=value` or
 * `KEY: value` with KEY of letters, digits, `_ . -`; a value opening a quote (" ' `) that
 * does not close on its line continues until the line that closes it.
 */
export interface DotenvLines {
  /** Line number (1-based) of the last assignment of each key (the one dotenv keeps). */
  lineOfKey: Map<string, number>;
  /** Line numbers that are neither blank, a comment, an assignment nor inside a quoted value. */
  malformed: number[];
}

const ASSIGNMENT = /^\s*(?:export\s+)?([\w.-]+)(?:\s*=|:\s)(.*)$/;

/** Whether `text` contains `quote` not preceded by a backslash. */
function closes(text: string, quote: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return true;
  }
  return false;
}

export function scanDotenv(content: string): DotenvLines {
  const lines = content.split(/\r\n|\r|\n/);
  // A quote that never closes does not span lines for dotenv either: it reads that line as
  // it is and the following ones on their own, so such an opener is rescanned as one line.
  // No later line holds that quote character, so this repeats at most once per quote kind.
  const unclosed = new Set<number>();
  for (;;) {
    const { openedAt, ...result } = scan(lines, unclosed);
    if (openedAt === null) return result;
    unclosed.add(openedAt);
  }
}

function scan(lines: string[], unclosed: ReadonlySet<number>): DotenvLines & { openedAt: number | null } {
  const lineOfKey = new Map<string, number>();
  const malformed: number[] = [];
  let opened: { index: number; quote: string } | null = null;
  for (const [index, line] of lines.entries()) {
    if (opened) {
      if (closes(line, opened.quote)) opened = null;
      continue;
    }
    const trimmed = line.trim();
    if (!trimmed || trimmed.startsWith('#')) continue;
    const match = ASSIGNMENT.exec(line);
    if (!match) {
      malformed.push(index + 1);
      continue;
    }
    lineOfKey.set(match[1]!, index + 1);
    const value = match[2]!.trimStart();
    const quote = value[0];
    if ((quote === '"' || quote === "'" || quote === '`') && !closes(value.slice(1), quote) && !unclosed.has(index)) opened = { index, quote };
  }
  return { lineOfKey, malformed, openedAt: opened?.index ?? null };
}
