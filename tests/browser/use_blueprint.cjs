// Uses a subgraph blueprint as the frontend's node library does when you pick one (the canvas pastes the
// blueprint's items), wires it into a workflow by input names, and prints one JSON line: the API graph the
// frontend makes of the whole (app.graphToPrompt), and the blueprint requests the page made on load.
// Usage: node use_blueprint.cjs URL MODE WORKFLOW.json BLUEPRINT.json WIRES_JSON SCREENSHOT
// WIRES_JSON: [[from node id, from output slot, blueprint input name], ...] and [["out", output slot, to node id,
// to input name], ...] for the blueprint's outputs.
const fs = require("fs");
const { launch, openComfy, run } = require("./lib.cjs");

run(async (result) => {
  const [url, mode, workflowFile, blueprintFile, wiresJson, screenshot] = process.argv.slice(2);
  const browser = await launch();
  try {
    // Each blueprint's data is fetched at start-up: the frontend listed the server's blueprints.
    const real = await openComfy(browser, url, mode, result, undefined, /\/global_subgraphs\/./);
    for (let i = 0; i < 100 && !result.watched.length; i++) await real.waitForTimeout(200);
    result.prompt = await real.evaluate(async ([wf, blueprint, wires]) => {
      const app = window.app;
      await app.loadGraphData(wf);
      // What the node library does with a blueprint it lists (its file's nodes and subgraph definitions).
      const pasted = app.canvas._deserializeItems({ nodes: blueprint.nodes, subgraphs: blueprint.definitions?.subgraphs },
        { position: [500, 300] });
      const node = pasted.nodes.values().next().value;
      const slot = (n, name, side) => n[side].findIndex((s) => s.name === name);
      for (const w of wires) {
        if (w[0] === "out") {
          const to = app.graph.getNodeById(w[2]);
          node.connect(w[1], to, slot(to, w[3], "inputs"));
        } else {
          app.graph.getNodeById(w[0]).connect(w[1], node, slot(node, w[2], "inputs"));
        }
      }
      return { title: node.title, inputs: node.inputs.map((i) => [i.name, i.link != null]),
        output: (await app.graphToPrompt()).output };
    }, [JSON.parse(fs.readFileSync(workflowFile, "utf8")), JSON.parse(fs.readFileSync(blueprintFile, "utf8")),
      JSON.parse(wiresJson)]);
    await real.waitForTimeout(500);
    await real.screenshot({ path: screenshot });
  } finally {
    await browser.close();
  }
});
