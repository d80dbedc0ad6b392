// Progress on stderr: a redrawn line on a terminal; elsewhere (CI logs) a plain line every 10 seconds.
import type { Progress as CampaignProgress } from "../fuzz/campaign.ts";

export class Progress {
  private label = "";
  private total = 0;
  private readonly live: boolean;
  private readonly periodic: boolean;
  private lastLine = 0;
  /** The target's search found a failure and shrinking began: said at once, not only on the 10-second tick. */
  private shrinkSaid = false;

  constructor(quiet: boolean) {
    this.live = !quiet && process.stderr.isTTY === true;
    this.periodic = !quiet && !this.live;
  }

  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.lastLine = 0;
    this.shrinkSaid = false;
    this.draw(`${label} starting…`);
  }

  update(p: CampaignProgress): void {
    if (p.shrink) {
      this.shrinking(p);
      return;
    }
    const rate = p.elapsedMs > 0 ? Math.round((p.ops / p.elapsedMs) * 1000) : 0;
    if (this.periodic && p.elapsedMs - this.lastLine >= 10_000) {
      this.lastLine = p.elapsedMs;
      const of = this.total < Number.MAX_SAFE_INTEGER ? `/${this.total}` : "";
      process.stderr.write(
        `${this.label}: ${p.runs}${of} runs, ${p.ops.toLocaleString("en-US")} ops, ${rate.toLocaleString("en-US")} ops/s, ${Math.round(p.elapsedMs / 1000)}s\n`,
      );
    }
    if (!this.live) return;
    const width = 24;
    const stats = `${rate.toLocaleString("en-US")} ops/s, ${Math.round(p.elapsedMs / 1000)}s`;
    if (this.total === Number.MAX_SAFE_INTEGER) {
      this.draw(`${this.label} ${p.runs} runs, ${stats}`); // bounded by --time
      return;
    }
    const done = Math.min(width, Math.round((p.runs / this.total) * width));
    this.draw(`${this.label} [${"#".repeat(done)}${".".repeat(width - done)}] ${p.runs}/${this.total} runs, ${stats}`);
  }

  /** After a failure: how far shrinking has got (the op rate means nothing then). */
  private shrinking(p: CampaignProgress): void {
    const text = `${this.label}: failure found after ${p.runs} runs; shrinking: ${p.shrink!.tried} candidates tried, shortest failing so far ${p.shrink!.best} ops, ${Math.round(p.elapsedMs / 1000)}s`;
    if (this.live) this.draw(text);
    else if (this.periodic && (!this.shrinkSaid || p.elapsedMs - this.lastLine >= 10_000)) {
      this.shrinkSaid = true;
      this.lastLine = p.elapsedMs;
      process.stderr.write(`${text}\n`);
    }
  }

  /** A free-form status line (terminal only). */
  note(text: string): void {
    this.draw(`${this.label} ${text}`);
  }

  done(): void {
    this.draw("");
  }

  private draw(text: string): void {
    if (this.live) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns || 100) - 1)}`);
  }
}
