// Makes a subgraph blueprint in ComfyUI's own frontend, the way its "Publish Subgraph" command does: load a
// workflow, turn the nodes of the given types into one subgraph, name it, and serialize it with the
// canvas's own serializer. Prints one JSON line whose `blueprint` is the file's content.
// Usage: node blueprint.cjs URL MODE WORKFLOW.json NAME DESCRIPTION TYPE...   (MODE: classic | vue)
const fs = require("fs");
const { launch, openComfy, run } = require("./lib.cjs");

run(async (result) => {
  const [url, mode, workflowFile, name, description, ...types] = process.argv.slice(2);
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result);
    result.blueprint = await page.evaluate(async ([wf, name, description, types]) => {
      const app = window.app;
      await app.loadGraphData(wf);
      const items = new Set(app.graph.nodes.filter((n) => types.includes(n.type)));
      if (items.size !== types.length) throw new Error(`found ${items.size} of the ${types.length} node types`);
      const { node, subgraph } = app.graph.convertToSubgraph(items);
      subgraph.name = name;
      node.title = name;
      const { nodes = [], subgraphs = [] } = app.canvas._serializeItems([node]);
      // As the frontend's publishSubgraph writes it, plus the description its blueprint loader reads.
      return { revision: 0, last_node_id: node.id, last_link_id: 0, nodes, links: [], version: 0.4,
        definitions: { subgraphs }, extra: { BlueprintDescription: description } };
    }, [JSON.parse(fs.readFileSync(workflowFile, "utf8")), name, description, types]);
  } finally {
    await browser.close();
  }
});
