// Opens ComfyUI's frontend in headless Chromium (Debian's, driven by playwright-core) and reports,
// as one JSON line, which of the given node ids the frontend registered; adds one of them to the
// canvas and writes a screenshot.  Usage: node check_ui.cjs URL SCREENSHOT ADD_NODE_ID NODE_ID...
const { chromium } = require("playwright-core");

async function main() {
  const [url, screenshot, addId, ...nodeIds] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const result = { errors: [] };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("pageerror", (e) => result.errors.push(String(e)));
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
    await page.waitForFunction(
      () => window.app && window.app.graph && window.LiteGraph &&
            Object.keys(window.LiteGraph.registered_node_types || {}).length > 50,
      null, { timeout: 90000 });
    result.registered = await page.evaluate((ids) => {
      const types = window.LiteGraph.registered_node_types;
      return Object.fromEntries(ids.map((id) => [id, id in types ? (types[id].category || types[id].prototype?.category || "") : null]));
    }, nodeIds);
    result.extension = await page.evaluate(() => window.SDE_EDIT || null);
    result.added = await page.evaluate((id) => {
      window.app.graph.clear();
      const node = window.LiteGraph.createNode(id);
      if (!node) return null;
      node.pos = [300, 200];
      window.app.graph.add(node);
      window.app.canvas.setDirty(true, true);
      return { title: node.title, inputs: (node.inputs || []).map((i) => i.name), widgets: (node.widgets || []).map((w) => w.name) };
    }, addId);
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
