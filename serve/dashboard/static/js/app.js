// The dashboard's entry point: a hash router over three views and one live feed shared by them.
//   #/                      fleet overview           (overview.js)
//   #/incidents?filters     the incident list        (incidents.js)
//   #/incidents/<id>        one incident             (incident.js)

import { LiveFeed } from "./live.js";
import * as incident from "./incident.js";
import * as incidents from "./incidents.js";
import * as overview from "./overview.js";

const root = document.getElementById("app");
const live = new LiveFeed(document.getElementById("live"));
let dispose = null;

function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "incidents" && parts[1]) return { nav: "incidents", view: incident, ctx: { id: decodeURIComponent(parts[1]) } };
  if (parts[0] === "incidents") return { nav: "incidents", view: incidents, ctx: { params } };
  return { nav: "overview", view: overview, ctx: { params } };
}

function show() {
  if (dispose) dispose();
  const { nav, view, ctx } = route();
  for (const a of document.querySelectorAll("[data-nav]")) a.classList.toggle("active", a.dataset.nav === nav);
  document.body.dataset.view = nav;
  window.scrollTo(0, 0);
  dispose = view.render(root, { ...ctx, live });
}

window.addEventListener("hashchange", show);
show();
live.start();
