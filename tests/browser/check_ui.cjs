// Opens ComfyUI's frontend and reports, as one JSON line, which of the given node ids the frontend registered;
// adds one of them to the canvas and writes a screenshot.
// Usage: node check_ui.cjs URL MODE SCREENSHOT ADD_NODE_ID NODE_ID...   (MODE: classic | vue)
const { launch, openComfy, run } = require("./lib.cjs");

run(async (result) => {
  const [url, mode, screenshot, addId, ...nodeIds] = process.argv.slice(2);
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result, { width: 1280, height: 800 });
    result.registered = await page.evaluate((ids) => {
      const types = window.LiteGraph.registered_node_types;
      return Object.fromEntries(ids.map((id) => [id, id in types ? (types[id].category || types[id].prototype?.category || "") : null]));
    }, nodeIds);
    result.extension = await page.evaluate(() => window.SDE_EDIT || null);
    result.extensions = await page.evaluate(() => (window.app.extensions || []).map((e) => e.name)
      .filter((n) => n.startsWith("sde_edit")));
    result.added = await page.evaluate((id) => {
      window.app.graph.clear();
      const node = window.LiteGraph.createNode(id);
      if (!node) return null;
      node.pos = [300, 200];
      window.app.graph.add(node);
      window.app.canvas.setDirty(true, true);
      return { title: node.title, inputs: (node.inputs || []).map((i) => i.name), widgets: (node.widgets || []).map((w) => w.name) };
    }, addId);
    await page.waitForTimeout(800);
    await page.screenshot({ path: screenshot });
  } finally {
    await browser.close();
  }
});
