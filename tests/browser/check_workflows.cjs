// Loads workflow files into ComfyUI's frontend (headless Chromium, playwright-core) and prints, as one JSON
// line, the API graph the frontend itself makes of each (app.graphToPrompt), plus a screenshot of the last.
// Usage: node check_workflows.cjs URL SCREENSHOT WORKFLOW.json...
const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

async function main() {
  const [url, screenshot, ...files] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const result = { errors: [], prompts: {} };
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
    page.on("pageerror", (e) => result.errors.push(String(e)));
    await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
    await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph &&
      Object.keys(window.LiteGraph.registered_node_types || {}).length > 50, null, { timeout: 90000 });
    for (const file of files) {
      const workflow = JSON.parse(fs.readFileSync(file, "utf8"));
      result.prompts[path.basename(file)] = await page.evaluate(async (wf) => {
        await window.app.loadGraphData(wf);
        const p = await window.app.graphToPrompt();
        return p.output;
      }, workflow);
    }
    await page.keyboard.press("Escape");  // a missing-model notice, if any
    await page.evaluate(() => window.app.canvas.ds && (window.app.canvas.ds.scale = 0.6, window.app.canvas.ds.offset = [100, 160], window.app.canvas.setDirty(true, true)));
    await page.waitForTimeout(500);
    await page.screenshot({ path: screenshot });
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => { console.error(e); process.exit(1); });
