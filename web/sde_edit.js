// SDE Edit's frontend extension: loaded by ComfyUI from WEB_DIRECTORY ("./web").
import { app } from "../../scripts/app.js";

const TRAJECTORY = "SDE_TRAJECTORY";

app.registerExtension({
  name: "sde_edit.core",
  async setup() {
    // A trajectory link (stage 1 -> stage 2) gets its own colour so the two-stage graph reads at a glance.
    const colors = window.LGraphCanvas?.link_type_colors ?? app.canvas?.constructor?.link_type_colors;
    if (colors) colors[TRAJECTORY] = "#c792ea";
    window.SDE_EDIT = { version: "0.1.0", trajectoryType: TRAJECTORY };
  },
});
