// Where the Drag Points editor's picture comes from when no Load Image feeds it (the shapes example: VAE
// Decode's output): the node's run, and a run in which the node was cached, on a fresh page.
// Prints one JSON line. Usage: node picture_sources.cjs URL MODE WORKFLOW.json SCREENSHOT   (MODE: classic | vue)
const fs = require("fs");
const { launch, openComfy, run } = require("./lib.cjs");

const VIEW = { width: 1800, height: 1000 };

/** The Drag Points editor's state: has it a picture (its size), what it says. */
const editorState = (page) => page.evaluate(() => {
  const node = window.app.graph.nodes.find((n) => n.type === "SDEEditDragPoints");
  const ed = node?.sdeDragEditor;
  return ed ? { size: ed.image ? [ed.image.naturalWidth, ed.image.naturalHeight] : null,
    status: ed.status.textContent, shown: ed.canvas.getBoundingClientRect().width } : null;
});

/** Load a workflow, framed at a zoom where the classic canvas still draws widgets (at least 0.6). */
const load = (page, workflow) => page.evaluate(async (wf) => {
  await window.app.loadGraphData(wf);
  await new Promise((r) => setTimeout(r, 300)); // after the frontend's own framing of a loaded graph
  Object.assign(window.app.canvas.ds, { scale: 0.62, offset: [30, 60] });
  window.app.canvas.setDirty(true, true);
}, workflow);

/** Load the workflow file, run it, and wait until the editor has a picture; the nodes the server had cached. */
async function loadAndRun(page, workflow) {
  await load(page, workflow);
  return page.evaluate(async () => {
    const { api } = window.comfyAPI?.api ?? {};
    const events = api ?? window.app.api;
    let cached = null;
    events.addEventListener("execution_cached", (e) => (cached = e.detail.nodes));
    await window.app.queuePrompt(0);
    const node = window.app.graph.nodes.find((n) => n.type === "SDEEditDragPoints");
    for (let i = 0; i < 2400 && !node.sdeDragEditor.image; i++) await new Promise((r) => setTimeout(r, 100));
    return { cached, dragPointsId: String(node.id) };
  });
}

run(async (result) => {
  const [url, mode, workflowFile, screenshot] = process.argv.slice(2);
  const workflow = JSON.parse(fs.readFileSync(workflowFile, "utf8"));
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result, VIEW);
    await load(page, workflow);
    await page.waitForTimeout(800);
    result.beforeRun = await editorState(page);
    // "Show picture": only what feeds Drag Points runs (a prompt whose one output node is Drag Points).
    // (dispatched: 1.32.9's Nodes 2.0 layer can lag the framing this script sets, leaving the node off the page)
    await page.locator("[data-sde-edit=drag-editor]").getByRole("button", { name: "Show picture" })
      .dispatchEvent("click");
    await page.waitForFunction(() => window.app.graph.nodes.find((n) => n.type === "SDEEditDragPoints")
      .sdeDragEditor.image, null, { timeout: 120000 });
    result.shown = await editorState(page);
    result.showButtonAfter = await page.evaluate(() => window.app.graph.nodes
      .find((n) => n.type === "SDEEditDragPoints").sdeDragEditor.show.style.display);
    result.firstRun = await loadAndRun(page, workflow);
    result.afterRun = await editorState(page);
    await page.waitForFunction(() => {
      const node = window.app.graph.nodes.find((n) => n.type === "PreviewImage");
      return window.app.nodeOutputs?.[String(node.id)]?.images?.length;
    }, null, { timeout: 60000 }).catch(() => null);
    await page.waitForTimeout(1000); // the pictures drawn
    result.preview = await page.evaluate(() => {  // Preview Image's picture, as the frontend keeps it
      const node = window.app.graph.nodes.find((n) => n.type === "PreviewImage");
      const shown = window.app.nodeOutputs?.[String(node.id)]?.images?.[0];
      return shown ?? null;
    });
    await page.keyboard.press("Escape");
    await page.evaluate(() => {
      Object.assign(window.app.canvas.ds, { scale: 0.62, offset: [30, 60] });
      window.app.canvas.setDirty(true, true);
    });
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });

    // A fresh page, the same file again: every node is cached on the server, Drag Points among them.
    const fresh = await openComfy(browser, url, mode, result, VIEW);
    result.cachedRun = await loadAndRun(fresh, workflow);
    result.afterCachedRun = await editorState(fresh);
  } finally {
    await browser.close();
  }
});
