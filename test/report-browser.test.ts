// report.html in a real browser: for a failing run of each layer, Debian's Chromium (headless, driven by
// puppeteer-core, never a downloaded browser) loads the report offline and must show no console error, the failure's
// pictures with the parts of the trace they must draw, and a stepper that moves. Screenshots go to the report
// folder, reports/out/browser/<layer>/ (kept after the run, to look at).
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../cli/main.ts";
import { captureOutput } from "./helpers.ts";

const CHROMIUM = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find((p) => existsSync(p));
if (!CHROMIUM) console.warn("report-browser: skipped: no Chromium at /usr/bin/chromium (.ci/run installs Debian's)");

captureOutput();
const OUT = resolve("reports/out/browser");

interface Case {
  readonly layer: string;
  readonly mutant: string;
  /** Node titles (picture ids) the state pictures must hold, as patterns. */
  readonly nodes: readonly RegExp[];
  /** Group titles (Graphviz clusters: "cluster_" and the group's id) they must hold. */
  readonly groups?: readonly RegExp[];
  /** Marks (classes) some node of the failing op's pictures must carry. */
  readonly marks: readonly string[];
  /** Titles of the trace's own pictures. */
  readonly tracePictures?: readonly string[];
}

const CASES: readonly Case[] = [
  {
    layer: "mm",
    mutant: "fork-parent-writable",
    groups: [/^cluster_pid:1$/, /^cluster_pid:2$/],
    nodes: [/^pid:1:pte:\d+$/, /^pid:2:pte:\d+$/, /^frame:\d+$/],
    marks: ["shared", "new"],
  },
  { layer: "overlay", mutant: "unlink-no-whiteout", nodes: [/^layer\d+:\//, /^c\d+\.merged:\//], marks: ["lower"] },
  { layer: "snapshot", mutant: "drop-frees-shared", nodes: [/^tree\d+$/, /^n\d+$/], marks: ["shared"] },
  {
    layer: "mvcc",
    mutant: "no-ssi",
    groups: [/^cluster_key\d+$/, /^cluster_sessions$/],
    nodes: [/^client\d+$/, /^v1\.\d+\.\d+$/, /^v2\.\d+\.\d+$/],
    marks: ["commit"],
    tracePictures: ["timeline", "dependency cycle"],
  },
];

describe.skipIf(!CHROMIUM)("report.html in headless Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    rmSync(OUT, { recursive: true, force: true });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      // root in a container has no user namespace for Chromium's sandbox; the page is our own file
      args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  /** The page of a report, with every console error and page error it raised. */
  async function open(file: string): Promise<{ page: Page; errors: string[] }> {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("requestfailed", (r) => errors.push(`request failed: ${r.url()}`));
    // offline: any request but the report itself is an error
    await page.setRequestInterception(true);
    page.on("request", (r) => (r.url() === `file://${file}` ? r.continue() : r.abort()));
    await page.setViewport({ width: 1500, height: 1000 });
    await page.goto(`file://${file}`, { waitUntil: "load" });
    return { page, errors };
  }

  for (const c of CASES)
    test(`${c.layer}: a failing run's report draws the failure, and its stepper moves`, async () => {
      const dir = join(OUT, c.layer);
      mkdirSync(dir, { recursive: true });
      const code = await main([
        "run",
        "--layer",
        c.layer,
        "--engine",
        `mutant:${c.mutant}`,
        "--quiet",
        "--report",
        dir,
      ]);
      expect(code).toBe(1);
      const { page, errors } = await open(join(dir, "report.html"));
      const section = (await page.$("section.failure"))!;
      expect(section).not.toBeNull();

      // the trace's own pictures
      const titles = await page.$$eval("section.failure > figure.trace-picture > figcaption", (e) =>
        e.map((x) => x.textContent),
      );
      expect(titles).toEqual(expect.arrayContaining([...(c.tracePictures ?? [])]));
      if (c.tracePictures?.includes("timeline")) {
        const lanes = await page.$$eval("svg.lanes .lane", (e) => e.length);
        expect(lanes).toBeGreaterThanOrEqual(2); // one per client
        const edges = await page.$$eval("figure.trace-picture g.edge", (e) => e.map((x) => x.getAttribute("class")));
        expect(edges.some((k) => /\b(rw|ww|wr)\b/.test(k ?? ""))).toBe(true);
      }

      // the stepper opens on the failing op, whose panel shows both states
      const stepper = (await page.$(".stepper"))!;
      const failing = Number(await stepper.evaluate((s) => s.getAttribute("data-failing")));
      const visible = () =>
        stepper.$$eval(":scope > .step", (ps) =>
          ps.filter((p) => !p.hasAttribute("hidden")).map((p) => p.getAttribute("data-op")),
        );
      expect(await visible()).toEqual([String(failing)]);
      const nodes = await page.$$eval(`.step[data-op="${failing}"] .states svg g.node > title`, (e) =>
        e.map((x) => x.textContent ?? ""),
      );
      for (const n of c.nodes)
        expect(
          nodes.some((t) => n.test(t)),
          `a node like ${n} in ${nodes}`,
        ).toBe(true);
      const groups = await page.$$eval(`.step[data-op="${failing}"] .states svg g.cluster > title`, (e) =>
        e.map((x) => x.textContent ?? ""),
      );
      for (const g of c.groups ?? [])
        expect(
          groups.some((t) => g.test(t)),
          `a group like ${g} in ${groups}`,
        ).toBe(true);
      const classes = await page.$$eval(`.step[data-op="${failing}"] svg g.node`, (e) =>
        e.flatMap((x) => (x.getAttribute("class") ?? "").split(" ")),
      );
      for (const m of c.marks) expect(classes, `a node marked ${m}`).toContain(m);
      await section.screenshot({ path: join(dir, `${c.layer}-failing-op.png`) });

      // it moves: back one op, and to the first with the slider's keyboard
      if (failing > 0) {
        await page.click(".stepper .prev");
        expect(await visible()).toEqual([String(failing - 1)]);
        expect(await page.$eval(".stepper .where", (e) => e.textContent)).toBe(`op ${failing - 1} of ${failing + 1}`);
        await page.focus(".stepper input[type=range]");
        await page.keyboard.press("Home");
        expect(await visible()).toEqual(["0"]);
        await page.click(".stepper .next");
        expect(await visible()).toEqual([failing > 1 ? "1" : String(failing)]);
        await section.screenshot({ path: join(dir, `${c.layer}-stepped.png`) });
      }
      expect(errors).toEqual([]);
      expect(existsSync(join(dir, `${c.layer}-failing-op.png`))).toBe(true);
      await page.close();
    }, 120_000);
});
