// Drives the Drag Points editor in ComfyUI's frontend with real mouse clicks, and prints one JSON line of what
// it saw. Usage:
//   node drag_points.cjs URL MODE WORKFLOW.json NODE_ID CLICKS_JSON SCREENSHOT OTHER_IMAGE   (MODE: classic | vue)
// CLICKS_JSON: image pixels [[x, y], ...] clicked in order (source, target, ...). Then: Undo (the button),
// the last point again, Backspace, the last point again; a save / load round trip of the workflow; a run;
// the Load Image switched to OTHER_IMAGE (shown at once, no run); the Load Image disconnected (the editor then
// shows the run's picture); points set in the widget directly (the editor follows).
const fs = require("fs");
const { launch, openComfy, run } = require("./lib.cjs");

const pointsOf = (page, id) => page.evaluate((id) => window.app.graph.getNodeById(id).widgets
  .find((w) => w.name === "points").value, id);

run(async (result) => {
  const [url, mode, workflowFile, nodeId, clicksJson, screenshot, otherImage] = process.argv.slice(2);
  const id = Number(nodeId);
  const clicks = JSON.parse(clicksJson);
  result.steps = {};
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result, { width: 1400, height: 900 });
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
    await page.locator("[data-sde-edit=drag-editor]").getByRole("button", { name: "Undo" }).click();
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
      window.app.nodeOutputs?.[String(n.id)]?.images?.length), null, { timeout: 60000 });
    result.steps.lastRun = await page.evaluate((id) => window.app.graph.getNodeById(id).sdeDragEditor.lastRun, id);
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });
    // Another picture chosen in the Load Image: shown at once, without a run.
    result.steps.switched = await page.evaluate(async ([id, name]) => {
      const load = window.app.graph.getNodeById(id).getInputNode(0);
      const widget = load.widgets.find((w) => w.name === "image");
      widget.value = name;
      widget.callback?.(name);
      const editor = window.app.graph.getNodeById(id).sdeDragEditor;
      for (let i = 0; i < 100 && !editor.image?.src.includes(encodeURIComponent(name)); i++) {
        await new Promise((r) => setTimeout(r, 100));
      }
      return editor.image && [editor.image.naturalWidth, editor.image.naturalHeight];
    }, [id, otherImage]);
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
    // Points set in the widget without its callback (as an API client or an undo might): the editor follows.
    result.steps.typed = await page.evaluate(async (id) => {
      const node = window.app.graph.getNodeById(id);
      node.widgets.find((w) => w.name === "points").value = '[{"source": [5, 6], "target": [9, 7]}]';
      for (let i = 0; i < 30 && node.sdeDragEditor.points.length !== 2; i++) await new Promise((r) => setTimeout(r, 100));
      return node.sdeDragEditor.points;
    }, id);
  } finally {
    await browser.close();
  }
});
