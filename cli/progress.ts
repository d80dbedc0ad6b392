// A one-line progress display on stderr (only on a terminal; logs stay clean).
import type { Progress as CampaignProgress } from "../fuzz/campaign.ts";

export class Progress {
  private label = "";
  private total = 0;
  private readonly live: boolean;

  constructor(quiet: boolean) {
    this.live = !quiet && process.stderr.isTTY === true;
  }

  start(label: string, total: number): void {
    this.label = label;
    this.total = total;
    this.draw(`${label} starting…`);
  }

  update(p: CampaignProgress): void {
    const width = 24;
    const done = Math.min(width, Math.round((p.runs / this.total) * width));
    const rate = p.elapsedMs > 0 ? Math.round((p.ops / p.elapsedMs) * 1000) : 0;
    const phase = p.phase === "shrink" ? " shrinking…" : "";
    this.draw(`${this.label} [${"#".repeat(done)}${".".repeat(width - done)}] ${p.runs}/${this.total} runs, ${rate.toLocaleString("en-US")} ops/s${phase}`);
  }

  done(): void {
    this.draw("");
  }

  private draw(text: string): void {
    if (this.live) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns || 100) - 1)}`);
  }
}
