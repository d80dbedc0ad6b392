import fc from "fast-check";
import { mmLayer } from "./layers/mm.ts";
import { sequenceArbitrary } from "./fuzz/campaign.ts";
const g = mmLayer.defaultGeometry;
const arb = sequenceArbitrary(mmLayer, g, new Set(["gup","pin","thp","ksm","file"]), 200);
const seqs = fc.sample(arb, { seed: 1, numRuns: 300 });
let i = 0;
for (const seq of seqs) {
  const m = mmLayer.model(g); process.stderr.write("SEQ\n");
  for (const [k, op] of seq.entries()) {
    const t = Date.now();
    process.stderr.write(JSON.stringify(op) + "\n");
    m.apply(op);
    if (Date.now() - t > 1000) { console.log("slow", i, k, JSON.stringify(op)); process.exit(1); }
  }
  i++;
}
console.log("ok", i);
