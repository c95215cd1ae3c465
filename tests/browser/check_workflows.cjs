// Loads workflow files into ComfyUI's frontend and prints, as one JSON line, the API graph the frontend itself
// makes of each (app.graphToPrompt), plus a screenshot of each (SHOT_PREFIX + file stem + ".png").
// Usage: node check_workflows.cjs URL MODE SHOT_PREFIX WORKFLOW.json...   (MODE: classic | vue)
const fs = require("fs");
const path = require("path");
const { launch, openComfy, run } = require("./lib.cjs");

// Where the graph is framed on the 1600 × 900 page: right of the side bar, below the top bar (scripts/
// thumbnails.py crops the screenshots to it).
const FRAME = { x: 80, y: 120, w: 1500, h: 700 };

run(async (result) => {
  const [url, mode, shotPrefix, ...files] = process.argv.slice(2);
  result.prompts = {};
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result);
    // Whole graphs need zooms under 0.6, where the classic canvas would draw nodes as bare boxes: keep the detail.
    await page.evaluate(async () => {
      const settings = window.app.extensionManager.setting;
      await settings.set("LiteGraph.Canvas.MinFontSizeForLOD", 0);
      await settings.set("Comfy.Minimap.Visible", false); // the screenshots show the graph alone
    });
    for (const file of files) {
      const workflow = JSON.parse(fs.readFileSync(file, "utf8"));
      result.prompts[path.basename(file)] = await page.evaluate(async (wf) => {
        await window.app.loadGraphData(wf);
        return (await window.app.graphToPrompt()).output;
      }, workflow);
      // The pack's widgets whose input is fed by a link: a DOM widget (a text box) would stay on screen, as if
      // the value typed in it were used.
      result.linkedWidgets = (result.linkedWidgets ?? []).concat(await page.evaluate(() => window.app.graph.nodes
        .filter((n) => n.type.startsWith("SDEEdit"))
        .flatMap((n) => (n.inputs ?? []).filter((i) => i.widget && i.link != null).map((i) => {
          const w = n.widgets?.find((x) => x.name === i.widget.name);
          return { node: n.type, input: i.name, dom: !!(w?.element), label: i.label ?? i.localized_name ?? i.name };
        }))));
      await page.keyboard.press("Escape"); // a missing-model notice, if any
      await page.waitForTimeout(600); // the frontend's own framing of a loaded graph comes first
      await page.evaluate((frame) => {
        // The whole graph in the frame (the page minus the side bar and the top bar), at most at zoom 1.
        const nodes = window.app.graph.nodes;
        const x0 = Math.min(...nodes.map((n) => n.pos[0])), y0 = Math.min(...nodes.map((n) => n.pos[1] - 30));
        const x1 = Math.max(...nodes.map((n) => n.pos[0] + n.size[0]));
        const y1 = Math.max(...nodes.map((n) => n.pos[1] + n.size[1]));
        const scale = Math.min(1, (frame.w - 40) / (x1 - x0), (frame.h - 40) / (y1 - y0));
        const ds = window.app.canvas.ds;
        ds.scale = scale;
        ds.offset = [(frame.x + 20) / scale - x0, (frame.y + 20) / scale - y0];
        window.app.canvas.setDirty(true, true);
      }, FRAME);
      await page.waitForTimeout(300);
      await page.screenshot({ path: `${shotPrefix}${path.basename(file, ".json")}.png` });
    }
  } finally {
    await browser.close();
  }
});
