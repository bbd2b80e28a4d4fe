/**
 * The log lines of many processes on one terminal: each line prefixed with its service's name,
 * padded to the longest, and coloured per service when the output is a terminal (never with
 * NO_COLOR set, or when piped to a file or another program).
 */
import type { Writable } from "node:stream";

/** ANSI foreground colours, red left out: it reads as an error. */
const COLOURS = [36, 35, 33, 32, 34, 96, 95, 93, 92, 94];

export function useColour(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
}

export class Prefixer {
  private readonly width: number;

  constructor(
    names: string[],
    private readonly out: Writable,
    private readonly colour: boolean,
  ) {
    this.width = Math.max(...names.map((n) => n.length), 5);
  }

  /** The prefix of `name`'s lines: `name  | `, coloured by its position among the names. */
  prefix(name: string, index: number): string {
    const text = `${name.padEnd(this.width)} | `;
    return this.colour ? `\x1b[${COLOURS[index % COLOURS.length]}m${text}\x1b[0m` : text;
  }

  /** Writes each line with the prefix. */
  write(prefix: string, lines: string[]): void {
    if (lines.length > 0) this.out.write(lines.map((line) => `${prefix}${line}\n`).join(""));
  }
}

/** Splits a stream of chunks into whole lines; the last partial line waits for the next chunk or end(). */
export class LineSplitter {
  private partial = "";

  push(chunk: string): string[] {
    const lines = (this.partial + chunk).split(/\r?\n/);
    this.partial = lines.pop() ?? "";
    return lines;
  }

  end(): string[] {
    const rest = this.partial;
    this.partial = "";
    return rest ? [rest] : [];
  }
}
