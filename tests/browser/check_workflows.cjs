// Loads workflow files into ComfyUI's frontend and prints, as one JSON line, the API graph the frontend itself
// makes of each (app.graphToPrompt), plus a screenshot of each (SHOT_PREFIX + file stem + ".png").
// Usage: node check_workflows.cjs URL MODE SHOT_PREFIX WORKFLOW.json...   (MODE: classic | vue)
const fs = require("fs");
const path = require("path");
const { launch, openComfy, run } = require("./lib.cjs");

run(async (result) => {
  const [url, mode, shotPrefix, ...files] = process.argv.slice(2);
  result.prompts = {};
  const browser = await launch();
  try {
    const page = await openComfy(browser, url, mode, result);
    for (const file of files) {
      const workflow = JSON.parse(fs.readFileSync(file, "utf8"));
      result.prompts[path.basename(file)] = await page.evaluate(async (wf) => {
        await window.app.loadGraphData(wf);
        const ds = window.app.canvas.ds;
        Object.assign(ds, { scale: 0.6, offset: [60, 120] });
        window.app.canvas.setDirty(true, true);
        return (await window.app.graphToPrompt()).output;
      }, workflow);
      await page.keyboard.press("Escape"); // a missing-model notice, if any
      await page.waitForTimeout(400);
      await page.screenshot({ path: `${shotPrefix}${path.basename(file, ".json")}.png` });
    }
  } finally {
    await browser.close();
  }
});
