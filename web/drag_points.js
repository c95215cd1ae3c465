// The point editor on "SDE Edit: Drag Points" (nodes/drag_points.py): the picture on the node, a click
// sets a drag's source and the next click its target. The points live as JSON in the node's `points`
// widget, so they travel in saved workflows and come back on load; the node checks them in Python.
// Works in the classic canvas and in Nodes 2.0 (Vue): nothing here depends on the canvas drawing the node.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const NODE = "SDEEditDragPoints";
const EDITOR_IMAGE_KEY = "sde_edit_image"; // the clean picture the node sends after a run (drag_points.py)
const EDITORS = new Set(); // live editors; a slow poll keeps each one's picture current (see watch())
const COLOR = { source: "rgb(230,40,40)", shaft: "rgb(255,220,0)", head: "rgb(40,120,255)" }; // as the preview

/** [[x, y], ...] (source, target, source, …) from either format; [] when the text is neither. */
export function readPoints(text) {
  let data;
  try {
    data = JSON.parse(text || "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const xy = (p) => (Array.isArray(p) ? p : p && typeof p === "object" && "x" in p ? [p.x, p.y] : null);
  const out = [];
  for (const item of data) {
    for (const p of item && item.source && item.target ? [item.source, item.target] : [item]) {
      const v = xy(p);
      if (!v || v.length !== 2 || !v.every(Number.isFinite)) return [];
      out.push([Math.floor(v[0]), Math.floor(v[1])]);
    }
  }
  return out;
}

/** Complete drags in the pairs format; while a source waits for its target, KJNodes' alternating list. */
export function writePoints(points) {
  if (points.length % 2) return JSON.stringify(points.map(([x, y]) => ({ x, y })));
  const pairs = [];
  for (let i = 0; i < points.length; i += 2) pairs.push({ source: points[i], target: points[i + 1] });
  return JSON.stringify(pairs);
}

const viewUrl = ({ filename, subfolder = "", type = "input" }) =>
  api.apiURL(`/view?${new URLSearchParams({ filename, subfolder, type })}`);

/** Whether `node` is in a graph (newer litegraph throws on some accessors of a node that is not). */
function inGraph(node) {
  try {
    return !!node.graph;
  } catch {
    return false;
  }
}

/** The node feeding `node`'s input `name`, through the classic frontend-only Reroute nodes; or null. */
function sourceOf(node, name) {
  let src = node;
  let slot = node.inputs?.findIndex((i) => i.name === name) ?? -1;
  for (let hops = 0; src && slot >= 0 && hops < 32; hops++) {
    src = src.getInputNode?.(slot) ?? null;
    if (!src || src.type !== "Reroute") return src;
    slot = 0;
  }
  return null;
}

/** The /view URL of the picture a core Load Image feeds into `node`'s image input, or null. */
function loadImageUrl(node) {
  const src = sourceOf(node, "image");
  if (!src || (src.comfyClass ?? src.type) !== "LoadImage") return null;
  const value = src.widgets?.find((w) => w.name === "image")?.value;
  if (!value || typeof value !== "string") return null;
  const [, path, type = "input"] = /^(.*?)(?: \[(input|output|temp)\])?$/.exec(value);
  const cut = path.lastIndexOf("/");
  return viewUrl({ filename: path.slice(cut + 1), subfolder: cut < 0 ? "" : path.slice(0, cut), type });
}

function button(label, title, onClick) {
  const b = document.createElement("button");
  Object.assign(b, { textContent: label, title });
  b.style.cssText = "font:12px sans-serif;padding:1px 8px;border-radius:4px;border:1px solid #555;" +
    "background:#333;color:#ddd;cursor:pointer";
  b.addEventListener("click", (e) => (e.stopPropagation(), onClick()));
  return b;
}

class DragEditor {
  constructor(node, widget) {
    this.node = node;
    this.widget = widget; // the `points` STRING widget: the only state that is saved
    this.text = widget.value; // the points text last read or written
    this.points = readPoints(this.text);
    this.image = null;
    this.url = null;
    this.lastRun = null; // the /view address of the picture this node's last run sent

    this.root = document.createElement("div");
    this.root.dataset.sdeEdit = "drag-editor"; // for tests and user styles
    this.root.style.cssText = "display:flex;flex-direction:column;gap:4px;box-sizing:border-box";
    const bar = document.createElement("div");
    bar.style.cssText = "display:flex;flex-wrap:wrap;gap:4px 6px;align-items:center;min-height:20px";
    this.status = document.createElement("span");
    // Wraps rather than being cut: the whole sentence stays readable on a narrow node.
    this.status.style.cssText = "font:11px/1.3 sans-serif;color:#bbb;flex:1 1 120px;min-width:0;" +
      "white-space:normal;overflow-wrap:anywhere";
    // Without a picture: run only what feeds this node (it is an output node), not the whole edit.
    this.show = button("Show picture", "Run only the nodes that feed this one (Queue Selected Output Nodes), " +
      "not the edit after it", () => this.runToHere());
    bar.append(button("Undo", "Remove the last point (Backspace)", () => this.undo()),
      button("Clear", "Remove every point", () => this.set([])), this.show, this.status);
    this.canvas = document.createElement("canvas");
    this.canvas.tabIndex = 0;
    this.canvas.style.cssText = "flex:1;min-height:0;width:100%;outline:none;cursor:crosshair;border-radius:4px";
    this.root.append(bar, this.canvas);

    this.canvas.addEventListener("pointerdown", (e) => this.click(e));
    this.canvas.addEventListener("keydown", (e) => {
      if (e.key !== "Backspace") return;
      e.preventDefault();
      e.stopPropagation(); // not the graph's Backspace (delete the node)
      this.undo();
    });
    new ResizeObserver(() => (this.refresh(), this.draw())).observe(this.canvas); // also: mounted
  }

  /** Image-pixel placement of the picture in the canvas: scale and offsets (letterboxed, centred). */
  fit() {
    const { width: w, height: h } = this.canvas;
    const { naturalWidth: iw, naturalHeight: ih } = this.image;
    const s = Math.min(w / iw, h / ih);
    return { s, ox: (w - iw * s) / 2, oy: (h - ih * s) / 2, iw, ih };
  }

  click(e) {
    if (e.button !== 0 || !this.image) return;
    e.preventDefault();
    e.stopPropagation();
    this.canvas.focus();
    // The graph's zoom is a CSS transform: map the client position through the element's on-screen box.
    const r = this.canvas.getBoundingClientRect();
    const { s, ox, oy, iw, ih } = this.fit();
    const x = Math.floor(((e.clientX - r.left) * this.canvas.width / r.width - ox) / s);
    const y = Math.floor(((e.clientY - r.top) * this.canvas.height / r.height - oy) / s);
    if (x < 0 || y < 0 || x >= iw || y >= ih) return;
    const source = this.points.length % 2 ? this.points.at(-1) : null;
    if (source && source[0] === x && source[1] === y) return; // a zero-length drag: wait for another target
    this.set([...this.points, [x, y]]);
  }

  /** Queue this node alone, with what it needs: ComfyUI's "Queue Selected Output Nodes" on it. */
  async runToHere() {
    const canvas = app.canvas;
    if (canvas.selectItems) canvas.selectItems([this.node]);
    else canvas.selectNode(this.node);
    await app.extensionManager.command.execute("Comfy.QueueSelectedOutputNodes");
  }

  undo() {
    this.set(this.points.slice(0, -1));
  }

  /** New points: into the widget (what is saved and run), then redraw. */
  set(points) {
    this.points = points;
    this.widget.value = this.text = writePoints(points);
    this.draw();
    this.node.setDirtyCanvas(true, true);
  }

  /** Re-read the widget (typed by hand, or restored from a saved workflow). */
  sync() {
    this.text = this.widget.value;
    this.points = readPoints(this.text);
    this.draw();
  }

  /** A run's output (sent for a cached run too: the node is an output node). */
  onExecuted(output) {
    const shown = output?.[EDITOR_IMAGE_KEY]?.[0];
    if (shown) this.lastRun = viewUrl(shown);
    this.refresh();
  }

  /**
   * Show the Load Image's picture if one is connected, else the last run's: the one sent to this editor, or
   * the one the frontend keeps for the node (it restores node outputs when a workflow tab is shown again).
   * Cheap when nothing changed.
   */
  refresh() {
    if (!inGraph(this.node)) return; // created but not added yet, or removed: nothing feeds it
    if (this.widget.value !== this.text) this.sync(); // typed, undone or loaded without a callback
    const kept = app.nodeOutputs?.[String(this.node.id)]?.[EDITOR_IMAGE_KEY]?.[0];
    if (!this.lastRun && kept) this.lastRun = viewUrl(kept);
    const url = loadImageUrl(this.node) ?? this.lastRun;
    this.fromRun = url !== null && url === this.lastRun;
    if (url === this.url) return;
    this.url = url;
    if (!url) {
      this.image = null;
      this.draw();
      return;
    }
    const img = new Image();
    img.onload = () => {
      if (this.url !== url) return;
      this.image = img;
      this.draw();
      if (inGraph(this.node)) this.node.setDirtyCanvas(true, true); // not for a node removed meanwhile
    };
    // A last run's picture lives in the server's temp folder, which a restart empties: then wait for a run.
    img.onerror = () => this.url === url && ((this.image = null), this.draw());
    img.src = url;
  }

  draw() {
    const c = this.canvas;
    const w = Math.max(1, Math.round(c.clientWidth * 2));
    const h = Math.max(1, Math.round(c.clientHeight * 2)); // twice the layout size: crisp when zoomed in
    if (c.width !== w || c.height !== h) Object.assign(c, { width: w, height: h });
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#1b1b1b";
    ctx.fillRect(0, 0, w, h);
    const n = this.points.length;
    const drags = `${Math.floor(n / 2)} drag${n === 2 ? "" : "s"}`;
    this.show.style.display = this.image ? "none" : "";
    if (!this.image) {
      this.status.textContent = `${drags} · the picture shows once a Load Image is connected or the workflow has ` +
        "run (Show picture runs only what feeds this node)";
      return;
    }
    this.status.textContent = `${drags} · click ${n % 2 ? "its target" : "a source"} · ` +
      `${this.image.naturalWidth}×${this.image.naturalHeight}${this.fromRun ? " · from the last run" : ""}`;
    const { s, ox, oy } = this.fit();
    ctx.imageSmoothingEnabled = s < 4;
    ctx.drawImage(this.image, ox, oy, this.image.naturalWidth * s, this.image.naturalHeight * s);
    const at = ([x, y]) => [ox + (x + 0.5) * s, oy + (y + 0.5) * s];
    const lw = Math.max(3, Math.min(w, h) / 120);
    for (let i = 0; i < n; i += 2) {
      const [sx, sy] = at(this.points[i]);
      if (i + 1 < n) {
        const [tx, ty] = at(this.points[i + 1]);
        const len = Math.hypot(tx - sx, ty - sy);
        const [ux, uy] = [(tx - sx) / len, (ty - sy) / len];
        const head = Math.min(5 * lw, len);
        const [bx, by] = [tx - ux * head, ty - uy * head];
        ctx.strokeStyle = COLOR.shaft;
        ctx.lineWidth = lw;
        ctx.beginPath();
        ctx.moveTo(sx, sy);
        ctx.lineTo(bx, by);
        ctx.stroke();
        ctx.fillStyle = COLOR.head;
        ctx.beginPath();
        ctx.moveTo(tx, ty);
        ctx.lineTo(bx - uy * head / 2, by + ux * head / 2);
        ctx.lineTo(bx + uy * head / 2, by - ux * head / 2);
        ctx.fill();
      }
      ctx.fillStyle = COLOR.source;
      ctx.strokeStyle = i + 1 < n ? "#000" : "#fff"; // a white ring: this source waits for its target
      ctx.lineWidth = lw / 2;
      ctx.beginPath();
      ctx.arc(sx, sy, 2 * lw, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }
}

/**
 * What the editor shows follows the graph: a Load Image connected, changed, uploaded or swapped (by hand,
 * undo, a subgraph, any frontend), the points text typed or restored, the node mounted or redrawn. Neither
 * the classic canvas nor Nodes 2.0 announces all of these, so one slow poll asks each visible editor;
 * refresh() is a few property reads when nothing changed.
 */
function watch() {
  setInterval(() => {
    for (const editor of EDITORS) if (editor.root.isConnected) editor.refresh();
  }, 300);
}

app.registerExtension({
  name: "sde_edit.drag_points",
  setup: watch,
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData?.name !== NODE) return;

    const created = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const r = created?.apply(this, arguments);
      const widget = this.widgets.find((w) => w.name === "points");
      const editor = new DragEditor(this, widget);
      this.sdeDragEditor = editor;
      EDITORS.add(editor);
      const dom = this.addDOMWidget("drag_editor", "sde_edit_drag_editor", editor.root, {
        serialize: false, // the points widget holds the state
        getMinHeight: () => 160,
      });
      dom.serialize = false;
      const typed = widget.callback;
      widget.callback = function () {
        const out = typed?.apply(this, arguments);
        editor.sync();
        return out;
      };
      this.setSize([Math.max(this.size[0], 320), Math.max(this.size[1], 380)]);
      return r;
    };

    const configure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const r = configure?.apply(this, arguments);
      this.sdeDragEditor?.sync();
      return r;
    };

    const connections = nodeType.prototype.onConnectionsChange;
    nodeType.prototype.onConnectionsChange = function () {
      const r = connections?.apply(this, arguments);
      this.sdeDragEditor?.refresh(); // at once, not at the next poll
      return r;
    };

    const removed = nodeType.prototype.onRemoved;
    nodeType.prototype.onRemoved = function () {
      EDITORS.delete(this.sdeDragEditor);
      return removed?.apply(this, arguments);
    };

    const executed = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      const r = executed?.apply(this, arguments);
      this.sdeDragEditor?.onExecuted(output);
      return r;
    };
  },
});
