// What every browser-tier script shares: Debian's chromium (playwright-core), ComfyUI's page opened in the
// classic canvas or in Nodes 2.0, and the errors the page reports.
const { chromium } = require("playwright-core");

// The flags this machine needs: no sandbox as root, and no background connections (the network is closed).
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];

async function launch() {
  return chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ARGS });
}

/**
 * A page of ComfyUI at `url`, its graph ready, in `mode` ("classic" or "vue": Comfy.VueNodes.Enabled).
 * `report.errors` gets uncaught page errors, `report.console` console errors, `report.missing` the requests the
 * server refused (a route this ComfyUI lacks); the caller judges them. With `watch`, `report.watched` gets the
 * paths of the requests that match it.
 */
async function openComfy(browser, url, mode, report, viewport = { width: 1600, height: 900 }, watch = null) {
  const page = await browser.newPage({ viewport });
  if (watch) { // the paths of the requests matching `watch` (a RegExp) go to report.watched
    report.watched = [];
    page.on("request", (r) => watch.test(new URL(r.url()).pathname) && report.watched.push(new URL(r.url()).pathname));
  }
  page.on("pageerror", (e) => report.errors.push(String(e.stack || e).slice(0, 1200)));
  page.on("console", (m) => m.type() === "error" && report.console.push(m.text().slice(0, 500)));
  page.on("response", (r) => r.status() >= 400 && report.missing.push(`${r.status()} ${new URL(r.url()).pathname}`));
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
  await page.waitForFunction(() => window.app && window.app.graph && window.LiteGraph &&
    Object.keys(window.LiteGraph.registered_node_types || {}).length > 50, null, { timeout: 90000 });
  report.frontend = await page.evaluate(async (vue) => {
    const settings = window.app.extensionManager.setting;
    await settings.set("Comfy.VueNodes.Enabled", vue);
    return { version: window.__COMFYUI_FRONTEND_VERSION__ ?? null, vue: settings.get("Comfy.VueNodes.Enabled") };
  }, mode === "vue");
  return page;
}

/** Run `main(report)` and print the report as the last line of stdout; exit 1 on a thrown error. */
function run(main) {
  const report = { errors: [], console: [], missing: [] };
  main(report).then(() => process.stdout.write(JSON.stringify(report) + "\n"))
    .catch((e) => { console.error(e); process.stdout.write(JSON.stringify(report) + "\n"); process.exit(1); });
}

module.exports = { launch, openComfy, run };
