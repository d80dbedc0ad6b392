// The import rule (docs/architecture.md, "Floors"). Every import runs downward:
//   entry points   cli/, index.ts, bench/, test/, scenarios/     may import anything below
//   layers/        descriptors and the registry                  may import every layer part and the machinery
//   layer parts    models/<L>/, oracles/<L>.ts, properties/<L>/, views/<L>/, fuzz/<L>/, engines/<system>/
//   machinery      fuzz/*.ts, engines/*.ts, reports/              knows layers only through core's Layer contract
//   core/          the ground floor: the shared vocabulary, importing nothing else of the project
// Checked by `npm run lint` and by test/imports.test.ts (so `npm test` fails on an import against the grain).
// Any file of the project's own (a relative import), in a folder named here or not, other than those allowed.
const outside = (allowed) => ({ dependencyTypes: ["local"], pathNot: allowed });

module.exports = {
  forbidden: [
    {
      name: "no-cycle",
      severity: "error",
      comment: "Imports form no cycle, type-only imports included.",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-the-ground-floor",
      severity: "error",
      comment: "core/ imports nothing else of the project.",
      from: { path: "^core/" },
      to: outside("^core/"),
    },
    {
      name: "models-import-only-their-layer",
      severity: "error",
      comment: "A model imports core/ and its own layer's files: never fuzz/, reports/, engines/ or another layer.",
      from: { path: "^models/([^/]+)/" },
      to: outside("^(core/|models/$1/)"),
    },
    {
      name: "layer-types-are-vocabulary",
      severity: "error",
      comment:
        "A layer's types and state shapes (models/<layer>/types.ts, *state.ts) import core/ and each other only, so that what may import them (oracles, views, real engines) reaches no model code through them.",
      from: { path: "^models/([^/]+)/(types|[a-z-]*state)\\.ts$" },
      to: outside("^(core/|models/$1/(types|[a-z-]*state)\\.ts$)"),
    },
    {
      name: "oracles-stand-alone",
      severity: "error",
      comment: "An oracle imports only core/ and its layer's types: nothing of the model it judges.",
      from: { path: "^oracles/([^./-]+)" },
      to: outside("^(core/|models/$1/types\\.ts$|oracles/$1[.-])"),
    },
    {
      name: "properties-read-their-layer",
      severity: "error",
      comment:
        "Properties read their layer's types and state shapes; they import no model code, runner, engine, view or report.",
      from: { path: "^properties/([^/]+)/" },
      to: outside("^(core/|models/$1/(types|[a-z-]*state)\\.ts$|properties/$1/)"),
    },
    {
      name: "views-read-their-layer",
      severity: "error",
      comment:
        "A view (what a real system reports, compared with the model's state) reads its layer's types and state shapes.",
      from: { path: "^views/([^/]+)/" },
      to: outside("^(core/|models/$1/(types|[a-z-]*state)\\.ts$|views/$1/)"),
    },
    {
      name: "generators-know-their-layer",
      severity: "error",
      comment: "A layer's op generators (fuzz/<layer>/) import core/ and their layer's models.",
      from: { path: "^fuzz/([^/]+)/" },
      to: outside("^(core/|models/$1/|fuzz/$1/)"),
    },
    {
      name: "real-engines-speak-types",
      severity: "error",
      comment: "A real system's engine imports core/, the protocol client, layer types and views, never model code.",
      from: { path: "^engines/([^/]+)/" },
      to: outside("^(core/|engines/[^/]+\\.ts$|engines/$1/|models/[^/]+/types\\.ts$|views/)"),
    },
    {
      name: "reports-read-results",
      severity: "error",
      comment: "Report writers read results (core/); they run nothing.",
      from: { path: "^reports/" },
      to: outside("^(core/|reports/)"),
    },
    {
      name: "engine-machinery-is-generic",
      severity: "error",
      comment: "The protocol client and engine resolution know layers only through core's contracts.",
      from: { path: "^engines/[^/]+\\.ts$" },
      to: outside("^(core/|engines/[^/]+\\.ts$)"),
    },
    {
      name: "runner-is-generic",
      severity: "error",
      comment: "The runner, campaigns, explore, minimize and replay take layers and factories as arguments.",
      from: { path: "^fuzz/[^/]+\\.ts$" },
      to: outside("^(core/|fuzz/[^/]+\\.ts$|engines/[^/]+\\.ts$|reports/)"),
    },
    {
      name: "layers-below-the-entry-points",
      severity: "error",
      comment: "Layer descriptors and the registry import no entry point.",
      from: { path: "^layers/" },
      to: { dependencyTypes: ["local"], path: "^(bench|cli|scenarios|test)/|^index\\.ts$" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // test/fixtures/grain breaks every rule on purpose: test/imports.test.ts cruises it on its own
    exclude: { path: "^(node_modules|dist|coverage|reports/out|test/fixtures/grain)/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js", ".mjs"] },
  },
};
