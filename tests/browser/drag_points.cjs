// Drives the Drag Points editor in ComfyUI's frontend (headless Chromium, playwright-core) with real mouse
// clicks, and prints one JSON line of what it saw. Usage:
//   node drag_points.cjs URL WORKFLOW.json NODE_ID CLICKS_JSON SCREENSHOT
// CLICKS_JSON: image pixels [[x, y], ...] clicked in order (source, target, ...). Then: Undo (the button),
// the last point again, Backspace, the last point again; a save / load round trip of the workflow; a run;
// the Load Image disconnected (the editor then shows the run's picture).
const fs = require("fs");
const { chromium } = require("playwright-core");

const pointsOf = (page, id) => page.evaluate((id) => window.app.graph.getNodeById(id).widgets
  .find((w) => w.name === "points").value, id);

async function main() {
  const [url, workflowFile, nodeId, clicksJson, screenshot] = process.argv.slice(2);
  const id = Number(nodeId);
  const clicks = JSON.parse(clicksJson);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const result = { errors: [], steps: {} };
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on("pageerror", (e) => result.errors.push(String(e)));
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
    await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph &&
      Object.keys(window.LiteGraph.registered_node_types || {}).length > 50, null, { timeout: 90000 });
    const workflow = JSON.parse(fs.readFileSync(workflowFile, "utf8"));
    await page.evaluate(async (wf) => {
      await window.app.loadGraphData(wf);
      const ds = window.app.canvas.ds;
      ds.scale = 1;
      ds.offset = [30, 90];
      window.app.canvas.setDirty(true, true);
    }, workflow);
    // The editor shows the Load Image's picture without a run.
    await page.waitForFunction((id) => {
      const ed = window.app.graph.getNodeById(id)?.sdeDragEditor;
      return ed?.image?.naturalWidth > 0 && ed.canvas.getBoundingClientRect().width > 50;
    }, id, { timeout: 30000 });
    await page.waitForTimeout(300);

    // Screen position of an image pixel's centre: through the letterbox and the element's on-screen box.
    const screenOf = (p) => page.evaluate(([id, [x, y]]) => {
      const ed = window.app.graph.getNodeById(id).sdeDragEditor;
      const r = ed.canvas.getBoundingClientRect();
      const { s, ox, oy } = ed.fit();
      return [r.left + (ox + (x + 0.5) * s) * r.width / ed.canvas.width,
              r.top + (oy + (y + 0.5) * s) * r.height / ed.canvas.height];
    }, [id, p]);
    const click = async (p) => {
      const [sx, sy] = await screenOf(p);
      await page.mouse.click(sx, sy);
      await page.waitForTimeout(50);
    };

    for (const p of clicks) await click(p);
    result.steps.clicked = await pointsOf(page, id);
    await page.getByRole("button", { name: "Undo" }).click();
    result.steps.undone = await pointsOf(page, id);
    await click(clicks.at(-1));
    await page.keyboard.press("Backspace"); // the canvas has the focus after a click
    result.steps.backspaced = await pointsOf(page, id);
    result.steps.nodeStillThere = await page.evaluate((id) => !!window.app.graph.getNodeById(id), id);
    await click(clicks.at(-1));
    result.steps.final = await pointsOf(page, id);
    result.steps.status = await page.evaluate((id) => window.app.graph.getNodeById(id).sdeDragEditor
      .status.textContent, id);

    // What a saved workflow holds, and what a load of it restores into the editor.
    const saved = await page.evaluate(() => window.app.graph.serialize());
    result.steps.savedWidgets = saved.nodes.find((n) => n.id === id).widgets_values;
    result.steps.reloaded = await page.evaluate(async ([wf, id]) => {
      await window.app.loadGraphData(wf);
      const node = window.app.graph.getNodeById(id);
      return { widget: node.widgets.find((w) => w.name === "points").value, editor: node.sdeDragEditor.points };
    }, [saved, id]);
    await page.evaluate(() => {
      const ds = window.app.canvas.ds;
      ds.scale = 1;
      ds.offset = [30, 90];
      window.app.canvas.setDirty(true, true);
    });
    result.steps.prompt = await page.evaluate(async (id) => (await window.app.graphToPrompt()).output[id].inputs, id);

    // Run it: the node's own preview reaches the editor (onExecuted), the Preview Image node shows the result.
    await page.evaluate(() => window.app.queuePrompt(0));
    await page.waitForFunction((id) => window.app.graph.getNodeById(id).sdeDragEditor.lastRun,
      id, { timeout: 240000 });
    await page.waitForFunction(() => window.app.graph.nodes.some((n) => n.type === "PreviewImage" &&
      n.imgs?.length && n.imgs[0].complete), null, { timeout: 60000 });
    result.steps.lastRun = await page.evaluate((id) => window.app.graph.getNodeById(id).sdeDragEditor.lastRun, id);
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });
    // Without a Load Image the editor shows the picture the last run sent.
    await page.evaluate((id) => window.app.graph.getNodeById(id).disconnectInput(0), id);
    await page.waitForFunction((id) => {
      window.app.canvas.setDirty(true, true);
      return window.app.graph.getNodeById(id).sdeDragEditor.image?.src.includes("sde_edit_points");
    }, id, { timeout: 15000 });
    result.steps.unlinkedImage = await page.evaluate((id) => {
      const img = window.app.graph.getNodeById(id).sdeDragEditor.image;
      return [img.naturalWidth, img.naturalHeight];
    }, id);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
