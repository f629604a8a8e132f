// Larza dashboard: plain JavaScript, no library, no build step. Pages are drawn from the JSON
// API and kept current by the /api/v1/stream Server-Sent Events; plots are PNG images that the
// API renders (see /api/v1/.../waveforms.png and health.png).
"use strict";

(() => {
  const STATES = {
    OK: { symbol: "✔", css: "state-ok", rank: 0 },
    UNKNOWN: { symbol: "?", css: "state-unknown", rank: 1 },
    DEGRADED: { symbol: "▲", css: "state-degraded", rank: 2 },
    DOWN: { symbol: "✖", css: "state-down", rank: 3 },
  };
  const GROUPS = [
    ["seismometer", "Seismometer"],
    ["accelerometer", "Accelerometer"],
    ["soh", "State of health"],
  ];
  const STATION_REFRESH_MS = 10000;
  const MAX_EVENTS = 15;
  const MAX_DETECTIONS = 25;

  // ---- small helpers -------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) if (child) node.append(child);
    return node;
  }

  function badge(state) {
    const s = STATES[state] || STATES.UNKNOWN;
    return el("span", { class: `badge ${s.css}`, "data-state": state },
      el("span", { "aria-hidden": "true", text: s.symbol }), ` ${state}`);
  }

  function staleBadge() {
    return el("span", {
      class: "badge stale",
      title: "No worker has evaluated this station lately: its state is from data latency only",
    }, el("span", { "aria-hidden": "true", text: "⏱" }), " stale");
  }

  function worst(states) {
    let found = null;
    for (const state of states) {
      if (found === null || (STATES[state] || STATES.UNKNOWN).rank > STATES[found].rank) {
        found = STATES[state] ? state : "UNKNOWN";
      }
    }
    return found || "UNKNOWN";
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
    if (seconds < 10) return `${seconds.toFixed(1)} s`;
    if (seconds < 120) return `${seconds.toFixed(0)} s`;
    if (seconds < 7200) return `${(seconds / 60).toFixed(0)} min`;
    if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
    return `${(seconds / 86400).toFixed(1)} d`;
  }

  function utc(iso, withFraction) {
    if (!iso) return "–";
    const text = new Date(iso).toISOString();
    return `${text.slice(0, 10)} ${text.slice(11, withFraction ? 22 : 19)} UTC`;
  }

  function clock(iso) {
    return iso ? new Date(iso).toISOString().slice(11, 19) : "–";
  }

  function num(value, digits, unit) {
    if (value === null || value === undefined || !Number.isFinite(value)) return "–";
    return `${Number(value).toFixed(digits)}${unit ? ` ${unit}` : ""}`;
  }

  function minOf(values) {
    const real = values.filter((v) => typeof v === "number" && Number.isFinite(v));
    return real.length ? Math.min(...real) : null;
  }

  function maxOf(values) {
    const real = values.filter((v) => typeof v === "number" && Number.isFinite(v));
    return real.length ? Math.max(...real) : null;
  }

  class HttpError extends Error {
    constructor(status, detail) {
      super(`HTTP ${status}: ${detail}`);
      this.status = status;
    }
  }

  async function getJSON(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const body = await response.json();
        if (typeof body.detail === "string") detail = body.detail;
      } catch (_) { /* not JSON */ }
      throw new HttpError(response.status, detail);
    }
    return response.json();
  }

  function problem(error) {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      return "This Larza needs an API key for reading; the dashboard cannot send one.";
    }
    return `Could not load: ${error.message}`;
  }

  function isoAgo(ms) {
    return new Date(Date.now() - ms).toISOString();
  }

  // The newest items of a list that the API pages oldest first: look back over a short
  // window first and widen it until enough are found, then keep the newest `want`.
  async function newest(path, windowsMs, want) {
    let found = [];
    for (const windowMs of windowsMs) {
      found = [];
      let url = `${path}?start=${encodeURIComponent(isoAgo(windowMs))}&limit=500`;
      while (url) {
        const page = await getJSON(url);
        found.push(...page.items);
        url = page.items.length === 500 ? page.next : null;
      }
      if (found.length >= want) break;
    }
    return found.slice(-want).reverse();
  }

  // ---- the live stream -----------------------------------------------------------------

  const listeners = { event: [], detection: [], state: [], alert: [], reconnect: [] };
  const on = (kind, fn) => listeners[kind].push(fn);

  function setLive(mode, text) {
    const live = document.getElementById("live");
    live.dataset.live = mode;
    document.getElementById("live-text").textContent = text;
    document.getElementById("banner").hidden = mode !== "lost";
  }

  function connect() {
    let lost = false;
    const source = new EventSource("/api/v1/stream");
    source.addEventListener("open", () => {
      setLive("live", "live");
      if (lost) listeners.reconnect.forEach((fn) => fn());
      lost = false;
    });
    source.addEventListener("error", () => {
      lost = true;
      setLive("lost", "connection lost — reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        // The server refused the stream (not a dropped connection): try again later.
        setTimeout(() => {
          connect();
          listeners.reconnect.forEach((fn) => fn());
        }, 5000);
      }
    });
    for (const kind of ["event", "detection", "state", "alert"]) {
      source.addEventListener(kind, (message) => {
        let data = null;
        try {
          data = JSON.parse(message.data);
        } catch (_) {
          return;
        }
        if (data !== null) listeners[kind].forEach((fn) => fn(data));
      });
    }
  }

  function debounce(fn, ms) {
    let timer = null;
    return () => {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  // ---- overview ------------------------------------------------------------------------

  function groupRow(station, kind, title) {
    const channels = station.channels.filter((c) => c.kind === kind);
    if (!channels.length) {
      return el("tr", {},
        el("th", { scope: "row", text: title }),
        el("td", { colspan: 4, class: "muted", text: "none in the inventory" }));
    }
    const state = worst(channels.map((c) => c.state));
    const latency = maxOf(channels.map((c) => c.data_latency_s));
    if (kind === "soh") {
      const values = channels
        .filter((c) => c.metrics && c.metrics.value !== undefined && c.metrics.value !== null)
        .map((c) => `${c.metrics.name || c.code} ${num(c.metrics.value, 1, c.metrics.unit || "")}`);
      return el("tr", {},
        el("th", { scope: "row", text: title }),
        el("td", {}, badge(state)),
        el("td", { class: "num", text: age(latency) }),
        el("td", { colspan: 2, text: values.join(", ") || "–" }));
    }
    // Over the window ending now: a silent channel's missing data count (see the API).
    const availability = minOf(channels.map((c) => c.availability_pct));
    const timing = minOf(channels.map((c) => c.metrics && c.metrics.timing_quality_min));
    return el("tr", {},
      el("th", { scope: "row", text: title }),
      el("td", {}, badge(state)),
      el("td", { class: "num", text: age(latency) }),
      el("td", { class: "num", text: num(availability, 1, "%") }),
      el("td", { class: "num", text: num(timing, 0, "%") }));
  }

  // What operators wrote: maintenance (while it is on) and the current state's acknowledgement,
  // on the overview's tiles and on the station page alike.
  function operatorNotes(station) {
    const m = station.maintenance;
    const a = station.acknowledged;
    return [
      m && m.on ? el("p", { class: "operator maintenance", text: `In maintenance since ${utc(m.since)} (${m.by})${m.note ? `: ${m.note}` : ""}` }) : null,
      a ? el("p", { class: "operator acknowledged", text: `Acknowledged by ${a.by} at ${utc(a.at)}: ${a.comment}` }) : null,
    ];
  }

  function maintenanceBadge() {
    return el("span", { class: "badge maint", title: "An operator put this station in maintenance" },
      el("span", { "aria-hidden": "true", text: "⚒" }), " maintenance");
  }

  function tile(station) {
    const inMaintenance = Boolean(station.maintenance && station.maintenance.on);
    const head = el("div", { class: "tile-head" },
      el("h3", {}, el("a", { href: `/stations/${station.id}`, text: station.id })),
      el("span", { class: "badges" }, badge(station.state),
        station.stale ? staleBadge() : null, inMaintenance ? maintenanceBadge() : null));
    const reason = station.reason || (station.state === "OK" ? "All channels healthy." : "");
    const since = station.since ? `${station.state} since ${utc(station.since)}` : null;
    return el("li", {
      class: "tile",
      "data-station": station.id,
      "data-state": station.state,
      "data-stale": station.stale ? "true" : "false",
      "data-maintenance": inMaintenance ? "true" : "false",
      "data-acknowledged": station.acknowledged ? "true" : "false",
    },
      head,
      station.site_name ? el("p", { class: "site", text: station.site_name }) : null,
      el("p", { class: "reason", text: reason }),
      operatorNotes(station),
      el("p", { class: "meta" },
        `data latency ${age(station.data_latency_s)}`, since ? ` · ${since}` : ""),
      el("table", {},
        el("caption", { class: "vh", text: `Channel groups of ${station.id}` }),
        el("thead", {}, el("tr", {},
          el("th", { scope: "col", text: "group" }),
          el("th", { scope: "col", text: "state" }),
          el("th", { scope: "col", class: "num", text: "latency" }),
          el("th", { scope: "col", class: "num", text: "avail." }),
          el("th", { scope: "col", class: "num", text: "timing" }))),
        el("tbody", {}, GROUPS.map(([kind, title]) => groupRow(station, kind, title)))));
  }

  let outline = null;

  async function loadOutline() {
    if (outline === null) {
      try {
        outline = await getJSON("/static/outline.json");
      } catch (_) {
        outline = { countries: [] };
      }
    }
    return outline;
  }

  // The map fits the stations: their box with a margin for the labels, at least as wide as Tajikistan
  // (8.8° by 5.2°), drawn 700 units wide whatever it spans. The outline covers only its own
  // box (the Pamirs and their neighbours): stations outside it are drawn on a blank map and
  // listed under it.
  const MIN_SPAN = { lon: 8.8, lat: 5.2 };
  const MAP_WIDTH = 700;
  const COUNTRY_LABELS = [
    ["Tajikistan", 69.2, 39.3], ["Kyrgyzstan", 73.4, 41.0], ["Uzbekistan", 67.9, 41.1],
    ["Afghanistan", 68.6, 36.6], ["China", 75.1, 39.7], ["Pakistan", 73.2, 36.5],
  ];

  const placed = (s) => Number.isFinite(s.latitude) && Number.isFinite(s.longitude);

  function mapView(stations) {
    const lats = stations.map((s) => s.latitude);
    const lons = stations.map((s) => s.longitude);
    const mid = { lat: 38.8, lon: 71.3 };  // Tajikistan, when no station is placed
    let latSpan = MIN_SPAN.lat;
    let lonSpan = MIN_SPAN.lon;
    if (stations.length) {
      mid.lat = (Math.min(...lats) + Math.max(...lats)) / 2;
      mid.lon = (Math.min(...lons) + Math.max(...lons)) / 2;
      // A fifth of the span on each side, for the markers' labels.
      latSpan = Math.max(latSpan, (Math.max(...lats) - Math.min(...lats)) * 1.4 + 1);
      lonSpan = Math.max(lonSpan, (Math.max(...lons) - Math.min(...lons)) * 1.4 + 1);
    }
    const k = Math.max(0.2, Math.cos(Math.min(Math.abs(mid.lat), 78) * Math.PI / 180));
    // Keep the drawing between square and 16:9.
    if (lonSpan * k < latSpan) lonSpan = latSpan / k;
    if (lonSpan * k > latSpan * 1.8) latSpan = lonSpan * k / 1.8;
    const scale = MAP_WIDTH / (lonSpan * k);
    return {
      west: mid.lon - lonSpan / 2, east: mid.lon + lonSpan / 2,
      south: mid.lat - latSpan / 2, north: mid.lat + latSpan / 2,
      k, scale, lonSpan,
    };
  }

  function project(view, lon, lat) {
    return [(lon - view.west) * view.k * view.scale, (view.north - lat) * view.scale];
  }

  function degrees(value, positive, negative) {
    return `${Math.abs(value)}°${value < 0 ? negative : positive}`;
  }

  function marker(state, x, y) {
    const cls = `marker ${(STATES[state] || STATES.UNKNOWN).css}`;
    const r = 11;
    if (state === "DOWN") {
      return svg("rect", { class: cls, x: x - r, y: y - r, width: 2 * r, height: 2 * r });
    }
    if (state === "DEGRADED") {
      return svg("polygon", { class: cls, points: `${x},${y - r - 2} ${x + r + 2},${y + r} ${x - r - 2},${y + r}` });
    }
    if (state === "UNKNOWN") {
      return svg("polygon", { class: cls, points: `${x},${y - r - 2} ${x + r + 2},${y} ${x},${y + r + 2} ${x - r - 2},${y}` });
    }
    return svg("circle", { class: cls, cx: x, cy: y, r });
  }

  function drawMap(container, stations, shape) {
    const onMap = stations.filter(placed);
    const view = mapView(onMap);
    const at = (lon, lat) => project(view, lon, lat);
    const [width, height] = at(view.east, view.south);
    const root = svg("svg", {
      viewBox: `0 0 ${width.toFixed(0)} ${height.toFixed(0)}`,
      role: "img",
      "aria-labelledby": "map-title",
      "data-view": [view.west, view.south, view.east, view.north].map((v) => v.toFixed(2)).join(","),
    });
    root.append(svg("title", {
      id: "map-title",
      text: `Map of the stations: ${onMap.map((s) => `${s.code} ${s.state}`).join(", ")}`,
    }));
    for (const country of shape.countries || []) {
      const d = country.rings.map((ring) => `M${ring.map(([lon, lat]) => at(lon, lat).map((v) => v.toFixed(1)).join(",")).join("L")}Z`).join("");
      root.append(svg("path", { class: country.iso_a3 === "TJK" ? "land home" : "land", d }));
    }
    const [bw, bs, be, bn] = shape.bbox || [0, 0, 0, 0];
    const beyond = shape.bbox ? onMap.filter((s) => s.longitude < bw || s.longitude > be || s.latitude < bs || s.latitude > bn) : onMap;
    if (shape.bbox && (view.west < bw || view.east > be || view.south < bs || view.north > bn)) {
      // Where the outline ends, so that its cut edges are not taken for borders.
      const [x0, y0] = at(bw, bn);
      const [x1, y1] = at(be, bs);
      root.append(svg("rect", { class: "outline-extent", x: x0, y: y0, width: x1 - x0, height: y1 - y0 }));
    }
    const step = [1, 2, 5, 10, 15, 30, 45, 90].find((s) => view.lonSpan / s <= 6) || 90;
    for (let lon = Math.ceil(view.west / step) * step; lon <= view.east; lon += step) {
      const [x0, y0] = at(lon, view.north);
      const [x1, y1] = at(lon, view.south);
      root.append(svg("line", { class: "grat", x1: x0, y1: y0, x2: x1, y2: y1 }));
      root.append(svg("text", { class: "grat-label", x: x1 + 3, y: y1 - 5, text: degrees(lon, "E", "W") }));
    }
    for (let lat = Math.ceil(view.south / step) * step; lat <= view.north; lat += step) {
      const [x0, y0] = at(view.west, lat);
      const [x1, y1] = at(view.east, lat);
      root.append(svg("line", { class: "grat", x1: x0, y1: y0, x2: x1, y2: y1 }));
      root.append(svg("text", { class: "grat-label", x: x0 + 3, y: y0 - 4, text: degrees(lat, "N", "S") }));
    }
    for (const [name, lon, lat] of COUNTRY_LABELS) {
      // Only names the outline has, and whole: centred, about half a degree each side.
      if (lon < bw || lon > be || lat < bs || lat > bn) continue;
      if (lon < view.west + 0.6 || lon > view.east - 0.6 || lat < view.south + 0.3 || lat > view.north - 0.3) continue;
      const [x, y] = at(lon, lat);
      root.append(svg("text", { class: "country", x, y, "text-anchor": "middle", text: name }));
    }
    for (const station of onMap) {
      const [x, y] = at(station.longitude, station.latitude);
      const link = svg("a", { href: `/stations/${station.id}`, "data-station": station.id },
        svg("title", { text: `${station.id}: ${station.state}${station.reason ? ` — ${station.reason}` : ""}` }),
        marker(station.state, x, y),
        svg("text", { class: "label", x, y: y - 18, "text-anchor": "middle", text: station.code }),
        svg("text", { class: "label", x, y: y + 32, "text-anchor": "middle", text: station.state }));
      root.append(link);
    }
    const source = shape.bbox
      ? `outline: Natural Earth 1:110m, ${degrees(bw, "E", "W")}–${degrees(be, "E", "W")}, ${degrees(bs, "N", "S")}–${degrees(bn, "N", "S")} only`
      : "no outline";
    const unplaced = stations.filter((s) => !placed(s));
    container.replaceChildren(...[root,
      el("p", { class: "legend" }, `● OK  ▲ DEGRADED  ■ DOWN  ◆ UNKNOWN · ${source}`),
      beyond.length
        ? el("p", { class: "legend beyond", id: "map-beyond" }, "Outside the outline (drawn on a blank map): ",
          ...beyond.flatMap((s, i) => [i ? ", " : "", el("a", { href: `/stations/${s.id}`, "data-station": s.id, text: s.id }),
            ` (${s.latitude.toFixed(2)}°, ${s.longitude.toFixed(2)}°)`]))
        : null,
      unplaced.length
        ? el("p", { class: "legend", text: `Without coordinates: ${unplaced.map((s) => s.id).join(", ")}` })
        : null].filter(Boolean));
  }

  // "M 3.8 · 42 km NE of Murghob · depth 110 km" for a located event, else null.
  function quakeLine(event) {
    if (event.latitude == null || event.longitude == null) return null;
    const where = event.place || `${num(event.latitude, 2)}°, ${num(event.longitude, 2)}°`;
    const magnitude = event.magnitude == null ? "M –" : `M ${num(event.magnitude, 1)}`;
    return `${magnitude} · ${where} · depth ${num(event.depth_km, 0, "km")}`;
  }

  function eventItem(event, isNew) {
    const codes = event.stations.map((s) => s.split(".").pop()).join(", ");
    const quake = quakeLine(event);
    const what = quake
      ? ` · ${quake} · ${event.n_stations} station${event.n_stations === 1 ? "" : "s"} · ${event.status}`
      : ` · ${event.n_stations} station${event.n_stations === 1 ? "" : "s"} (${codes}) · ${event.status}`;
    return el("li", { class: isNew ? "new" : null, "data-event": event.id },
      el("span", { class: "when", text: utc(event.time, true) }),
      el("a", { href: `/events/${event.id}`, text: `Event ${event.id}` }),
      what);
  }

  function detectionItem(d, isNew) {
    return el("li", { class: isNew ? "new" : null, "data-detection": d.id },
      el("span", { class: "when", text: utc(d.onset_time, true) }),
      el("a", { href: `/stations/${d.network}.${d.station}`, text: d.stream }),
      `${d.phase ? ` · ${d.phase}` : ""} · STA/LTA ${num(d.peak_ratio, 1)} · SNR ${num(d.snr, 1)}`);
  }

  function upsert(list, item, key, id, max) {
    const old = list.querySelector(`[${key}="${id}"]`);
    if (old) {
      old.replaceWith(item);
    } else {
      list.querySelector(".empty")?.remove();
      list.prepend(item);
      while (list.children.length > max) list.lastElementChild.remove();
    }
  }

  async function overview(main) {
    document.title = "Larza — network overview";
    const tiles = el("ul", { class: "tiles", id: "tiles", "aria-live": "polite" });
    const mapBox = el("div", { id: "map" }, el("p", { class: "muted", text: "Loading the map…" }));
    const updated = el("p", { class: "updated", id: "updated", text: "Loading stations…" });
    const events = el("ol", { class: "feed", id: "events", "aria-live": "polite", "aria-relevant": "additions" });
    const detections = el("ol", { class: "feed", id: "detections", "aria-live": "off" });
    main.replaceChildren(
      el("h1", { text: "Network overview" }),
      updated,
      el("div", { class: "overview" },
        el("section", { class: "stations", "aria-labelledby": "stations-h" },
          el("h2", { id: "stations-h", text: "Stations" }), tiles),
        el("section", { class: "card map", "aria-labelledby": "map-h" },
          el("h2", { id: "map-h", text: "Map" }), mapBox),
        el("section", { class: "card", "aria-labelledby": "events-h" },
          el("h2", { id: "events-h", text: "Events (live)" }), events),
        el("section", { class: "card", "aria-labelledby": "detections-h" },
          el("h2", { id: "detections-h", text: "Detections (live)" }), detections)));

    let lastShape = "";
    async function refreshStations() {
      try {
        const stations = await getJSON("/api/v1/stations");
        for (const station of stations) {
          const fresh = tile(station);
          const old = tiles.querySelector(`[data-station="${station.id}"]`);
          if (!old) tiles.append(fresh);
          else if (old.outerHTML !== fresh.outerHTML) old.replaceWith(fresh);
        }
        const shape = stations.map((s) => `${s.id}:${s.state}:${s.reason}:${s.latitude}:${s.longitude}`).join("|");
        if (shape !== lastShape) {
          lastShape = shape;
          drawMap(mapBox, stations, await loadOutline());
        }
        updated.textContent = `Stations updated ${utc(new Date().toISOString())}.`;
        updated.classList.remove("error");
      } catch (error) {
        updated.textContent = `${problem(error)} (last try ${clock(new Date().toISOString())} UTC)`;
        updated.classList.add("error");
      }
    }

    async function loadLists() {
      try {
        const recentEvents = await newest("/api/v1/events", [9e5, 7.2e6, 8.64e7, 6.048e8], MAX_EVENTS);
        events.replaceChildren(...recentEvents.map((e) => eventItem(e, false)));
        if (!recentEvents.length) events.append(el("li", { class: "empty muted", text: "No events in the last 7 days." }));
        const recentDetections = await newest("/api/v1/detections", [3e5, 3.6e6, 8.64e7], MAX_DETECTIONS);
        detections.replaceChildren(...recentDetections.map((d) => detectionItem(d, false)));
        if (!recentDetections.length) detections.append(el("li", { class: "empty muted", text: "No detections in the last day." }));
      } catch (error) {
        events.replaceChildren(el("li", { class: "error", text: problem(error) }));
      }
    }

    const soon = debounce(refreshStations, 300);
    on("state", soon);
    on("reconnect", () => { soon(); loadLists(); });
    on("event", (e) => upsert(events, eventItem(e, true), "data-event", e.id, MAX_EVENTS));
    on("detection", (d) => upsert(detections, detectionItem(d, true), "data-detection", d.id, MAX_DETECTIONS));
    setInterval(refreshStations, STATION_REFRESH_MS);
    await Promise.all([refreshStations(), loadLists()]);
  }

  // ---- station page --------------------------------------------------------------------

  function metricCell(channel) {
    const m = channel.metrics || {};
    if (channel.kind === "soh") {
      return `${m.name || ""} ${num(m.value, 2, m.unit || "")}`.trim();
    }
    return `RMS ${num(m.rms, 1)} · noise ${num(m.noise_db_above_nlnm, 1, "dB")} above NLNM`;
  }

  function channelTable(station) {
    return el("div", { class: "table-wrap" }, el("table", { id: "channels" },
      el("caption", { class: "vh", text: `Channels of ${station.id}` }),
      el("thead", {}, el("tr", {},
        ["channel", "kind", "state", "reason", "latency", "availability", "timing", "clock", "values"]
          .map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, station.channels.map((c) => {
        const m = c.metrics || {};
        const clockText = m.clock_locked === true ? "locked" : m.clock_locked === false ? "NOT locked" : "–";
        return el("tr", { "data-channel": c.id },
          el("th", { scope: "row", text: `${c.location ? `${c.location}.` : ""}${c.code}` }),
          el("td", { text: c.kind }),
          el("td", {}, badge(c.state)),
          el("td", { text: c.reason || "–" }),
          el("td", { class: "num", text: age(c.data_latency_s) }),
          el("td", { class: "num", text: num(c.availability_pct, 1, "%") }),
          el("td", { class: "num", text: num(m.timing_quality_min, 0, "%") }),
          el("td", { text: clockText }),
          el("td", { text: metricCell(c) }));
      }))));
  }

  function choice(label, options, initial, onChange) {
    let current = initial;
    const buttons = options.map(([value, text]) => el("button", {
      type: "button",
      "aria-pressed": value === initial ? "true" : "false",
      "data-value": value,
      text,
      onclick: () => {
        current = value;
        for (const b of buttons) b.setAttribute("aria-pressed", b.dataset.value === value ? "true" : "false");
        onChange(value);
      },
    }));
    return { node: el("div", { class: "controls", role: "group", "aria-label": label }, el("span", { class: "muted", text: `${label}:` }), buttons), get: () => current };
  }


  async function stationPage(main, id) {
    document.title = `Larza — ${id}`;
    const summary = el("div", { class: "summary", id: "summary" }, el("p", { text: "Loading…" }));
    const table = el("div", { id: "channel-table" });
    const wave = el("img", { class: "plot", id: "station-waveforms", alt: `Latest minutes of waveform of every channel of ${id}`, width: 1000, height: 600 });
    const health = el("img", { class: "plot", id: "station-health", alt: `Health history of ${id}: data latency, availability, RMS and noise against the NLNM and NHNM`, width: 1000, height: 640 });
    const history = el("div", { class: "table-wrap", id: "history" });
    let minutes = "5";
    let hours = "24";
    let kind = "seismometer";

    const loadWave = () => { wave.src = `/api/v1/stations/${id}/waveforms.png?minutes=${minutes}&_=${Date.now()}`; };
    const loadHealth = () => { health.src = `/api/v1/stations/${id}/health.png?hours=${hours}&kind=${kind}&_=${Date.now()}`; };

    async function loadStation() {
      try {
        const station = await getJSON(`/api/v1/stations/${id}`);
        summary.replaceChildren(
          ...[badge(station.state), station.stale ? staleBadge() : null,
            station.maintenance && station.maintenance.on ? maintenanceBadge() : null].filter(Boolean),
          el("p", { class: "reason", text: station.reason || "All channels healthy." }),
          ...operatorNotes(station).filter(Boolean),
          el("p", { class: "muted", text: `since ${utc(station.since)} · data latency ${age(station.data_latency_s)} · ${station.latitude.toFixed(2)}°N ${station.longitude.toFixed(2)}°E, ${station.elevation.toFixed(0)} m` }));
        table.replaceChildren(channelTable(station));
        document.getElementById("site").textContent = station.site_name || "";
      } catch (error) {
        summary.replaceChildren(el("p", { class: "error", text: error.status === 404 ? `No station ${id}.` : problem(error) }));
      }
    }

    async function loadHistory() {
      try {
        const start = isoAgo(Number(hours) * 3.6e6);
        const found = [];
        let url = `/api/v1/stations/${id}/history?start=${encodeURIComponent(start)}&limit=500`;
        while (url) {
          const page = await getJSON(url);
          found.push(...page.items);
          url = page.items.length === 500 ? page.next : null;
        }
        if (!found.length) {
          history.replaceChildren(el("p", { class: "muted", text: "No state changes in this range." }));
          return;
        }
        history.replaceChildren(el("table", { id: "state-changes" },
          el("caption", { class: "vh", text: `State changes of ${id}, newest first` }),
          el("thead", {}, el("tr", {}, ["time", "from", "to", "reason"].map((h) => el("th", { scope: "col", text: h })))),
          el("tbody", {}, found.reverse().map((c) => el("tr", {},
            el("td", { text: utc(c.time) }), el("td", {}, badge(c.from_state)), el("td", {}, badge(c.to_state)), el("td", { text: c.reason || "–" }))))));
      } catch (error) {
        history.replaceChildren(el("p", { class: "error", text: problem(error) }));
      }
    }

    const minutesChoice = choice("Minutes", [["2", "2 min"], ["5", "5 min"], ["10", "10 min"], ["30", "30 min"]], minutes, (v) => { minutes = v; loadWave(); });
    const hoursChoice = choice("Range", [["1", "1 h"], ["6", "6 h"], ["24", "24 h"], ["168", "7 d"], ["720", "30 d"]], hours, (v) => { hours = v; loadHealth(); loadHistory(); });
    const kindChoice = choice("Channels", [["seismometer", "seismometer"], ["accelerometer", "accelerometer"]], kind, (v) => { kind = v; loadHealth(); });

    main.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "/", text: "Network" }), ` › ${id}`),
      el("h1", {}, id, " ", el("small", { class: "muted", id: "site" })),
      summary,
      el("div", { class: "page" },
        el("section", { class: "card", "aria-labelledby": "channels-h" }, el("h2", { id: "channels-h", text: "Channels" }), table),
        el("section", { class: "card", "aria-labelledby": "wave-h" },
          el("h2", { id: "wave-h", text: "Latest waveforms" }),
          el("div", { class: "controls" }, minutesChoice.node, el("button", { type: "button", text: "Refresh", onclick: loadWave })),
          wave),
        el("section", { class: "card", "aria-labelledby": "health-h" },
          el("h2", { id: "health-h", text: "Health history" }),
          el("div", { class: "controls" }, hoursChoice.node, kindChoice.node),
          health),
        el("section", { class: "card", "aria-labelledby": "history-h" },
          el("h2", { id: "history-h", text: "State changes" }), history)));

    on("state", (change) => { if (change.station === id) { loadStation(); loadHistory(); } });
    on("reconnect", () => { loadStation(); loadHistory(); });
    setInterval(loadStation, STATION_REFRESH_MS);
    setInterval(() => { if (!document.hidden) loadWave(); }, 30000);
    setInterval(() => { if (!document.hidden) loadHealth(); }, 120000);
    loadWave();
    loadHealth();
    await Promise.all([loadStation(), loadHistory()]);
  }

  // ---- event page: epicentre map --------------------------------------------------------
  // The API draws the map as SVG (/api/v1/events/{id}/map.svg: stations used and not, the
  // epicentre and its uncertainty, graticule and scale); it is put inline, so that the
  // stations' notes show on hover and the drawing can be read by assistive technology.

  function eventMapSection(id) {
    const holder = el("div", { class: "event-map", id: "event-map" }, el("p", { class: "muted", text: "Loading the map…" }));
    let shown = null;
    async function load(version) {
      if (version === shown) return;
      shown = version;
      try {
        const response = await fetch(`/api/v1/events/${id}/map.svg`, { headers: { Accept: "image/svg+xml" } });
        if (!response.ok) throw new HttpError(response.status, response.statusText);
        const doc = new DOMParser().parseFromString(await response.text(), "image/svg+xml");
        if (doc.documentElement.nodeName !== "svg") throw new Error("the map is not an SVG image");
        holder.replaceChildren(document.importNode(doc.documentElement, true),
          el("p", { class: "legend", text: "▲ arrivals used · △ no arrival used · ★ epicentre; shaded: its 68 % confidence ellipse, or an error circle when the locator gave none" }));
      } catch (error) {
        shown = null;
        holder.replaceChildren(el("p", { class: "error", text: problem(error) }));
      }
    }
    const section = el("section", { class: "card", "aria-labelledby": "event-map-h" },
      el("h2", { id: "event-map-h", text: "Epicentre map" }), holder);
    return { section, load };
  }

  // ---- event page ----------------------------------------------------------------------

  async function eventPage(main, id) {
    document.title = `Larza — event ${id}`;
    const facts = el("dl", { class: "facts", id: "event-facts" });
    const table = el("div", { class: "table-wrap", id: "event-detections" });
    const wave = el("img", { class: "plot", id: "event-waveforms", alt: `Waveforms around the onsets of event ${id}; solid red lines mark the picks, labelled P or S, dashed green lines the arrivals the origin predicts, labelled P pred or S pred with the residual`, width: 1000, height: 500 });
    const map = eventMapSection(id);
    const status = el("p", { class: "muted", id: "event-status", text: "Loading…" });
    const stationTable = el("div", { class: "table-wrap", id: "event-stations" });
    main.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "/", text: "Network" }), ` › event ${id}`),
      el("h1", { text: `Event ${id}` }),
      status,
      el("div", { class: "page" },
        el("section", { class: "card", "aria-labelledby": "facts-h" }, el("h2", { id: "facts-h", text: "Summary" }), facts),
        map.section,
        el("section", { class: "card", "aria-labelledby": "wave-h" }, el("h2", { id: "wave-h", text: "Waveforms: picks and predicted arrivals" }), wave,
          el("p", { class: "legend", text: "solid red: picks (P, S) · dashed green: arrival times the origin predicts (P pred, S pred) with the residual, observed minus predicted" })),
        el("section", { class: "card", "aria-labelledby": "det-h" }, el("h2", { id: "det-h", text: "Detections" }), table),
        el("section", { class: "card", "aria-labelledby": "mag-h" }, el("h2", { id: "mag-h", text: "Station magnitudes and ground motion" }), stationTable)));

    let lastOnset = 0;
    function render(event) {
      status.textContent = `Updated ${utc(event.updated_at)}`;
      const o = event.origin;
      const quake = quakeLine(event);
      const rows = [["time", utc(event.time, true)]];
      if (quake) rows.push(["earthquake", quake]);
      if (o && o.latitude != null) {
        rows.push(
          ["epicentre", `${num(o.latitude, 3)}° ± ${num(o.latitude_error_km, 1, "km")}, ${num(o.longitude, 3)}° ± ${num(o.longitude_error_km, 1, "km")}`],
          ["depth", o.status === "fixed_depth" ? `${num(o.depth_km, 0, "km")} (fixed: ${o.reason})` : `${num(o.depth_km, 1, "km")} ± ${num(o.depth_error_km, 1, "km")}`],
          ["location", `grade ${o.quality} · RMS ${num(o.rms, 2, "s")} · gap ${num(o.azimuthal_gap, 0, "°")} · ${o.n_phases} phases at ${o.n_stations} stations · version ${o.version}`]);
      } else if (o) {
        rows.push(["location", `not located: ${o.reason}`]);
      }
      if (event.magnitude != null) {
        rows.push(["magnitude", `ML ${num(event.magnitude, 1)} ± ${num(event.magnitude_uncertainty, 1)} (${event.magnitude_stations} stations) · K ${num(event.energy_class, 1)}`]);
      }
      rows.push(
        ["status", event.status],
        ["stations", `${event.n_stations}: ${event.stations.join(", ")}`],
        ["coincidence sum", num(event.coincidence_sum, 1)], ["duration", num(event.duration, 1, "s")],
        ["first stored", utc(event.created_at)]);
      const arrivals = new Map(((o && o.arrivals) || []).map((a) => [a.detection_id, a]));
      facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
      table.replaceChildren(el("table", {},
        el("caption", { class: "vh", text: `Detections of event ${id}` }),
        el("thead", {}, el("tr", {}, ["channel", "phase", "onset", "±", "residual", "weight", "distance", "STA/LTA peak", "SNR", "peak amplitude", "profile"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, event.detections.map((d) => el("tr", { "data-detection": d.id },
          el("th", { scope: "row" }, el("a", { href: `/stations/${d.network}.${d.station}`, text: d.stream })),
          el("td", { text: arrivals.has(d.id) ? arrivals.get(d.id).phase : (d.phase || "–") }),
          el("td", { text: utc(d.onset_time, true) }),
          el("td", { class: "num", text: d.onset_uncertainty == null ? "–" : num(d.onset_uncertainty, 2, "s") }),
          el("td", { class: "num", text: arrivals.has(d.id) ? num(arrivals.get(d.id).residual, 2, "s") : "–" }),
          el("td", { class: "num", text: arrivals.has(d.id) ? num(arrivals.get(d.id).weight, 2) : "–" }),
          el("td", { class: "num", text: arrivals.has(d.id) ? num(arrivals.get(d.id).distance_km, 0, "km") : "–" }),
          el("td", { class: "num", text: num(d.peak_ratio, 1) }),
          el("td", { class: "num", text: num(d.snr, 1) }),
          el("td", { class: "num", text: num(d.peak_amplitude, 0) }),
          el("td", { text: d.profile }))))));
      const byStation = new Map();
      for (const m of event.station_magnitudes || []) byStation.set(m.station, { m });
      for (const g of event.ground_motion || []) byStation.set(g.station, { ...(byStation.get(g.station) || {}), g });
      stationTable.replaceChildren(byStation.size
        ? el("table", {},
          el("caption", { class: "vh", text: `Station magnitudes and ground motion of event ${id}` }),
          el("thead", {}, el("tr", {}, ["station", "ML", "in mean", "distance", "PGA", "PGV", "PSA 0.3 s", "PSA 1 s", "PSA 3 s", "intensity"].map((h) => el("th", { scope: "col", text: h })))),
          el("tbody", {}, [...byStation].map(([code, { m, g }]) => el("tr", { "data-station": code },
            el("th", { scope: "row" }, el("a", { href: `/stations/${code}`, text: code })),
            el("td", { class: "num", text: m ? num(m.magnitude, 2) : "–" }),
            el("td", { text: m ? (m.used ? "yes" : "no") : "–" }),
            el("td", { class: "num", text: num((m || g).distance_km, 0, "km") }),
            el("td", { class: "num", text: g ? num(g.pga_g_pct, 3, "%g") : "–" }),
            el("td", { class: "num", text: g ? num(g.pgv_cms, 3, "cm/s") : "–" }),
            el("td", { class: "num", text: g ? num(g.psa_03_g_pct, 3, "%g") : "–" }),
            el("td", { class: "num", text: g ? num(g.psa_10_g_pct, 3, "%g") : "–" }),
            el("td", { class: "num", text: g ? num(g.psa_30_g_pct, 3, "%g") : "–" }),
            el("td", { class: "num", text: g ? num(g.intensity, 1) : "–" })))))
        : el("p", { class: "muted", text: event.origin ? "Measured once the event is final." : "Not located: no magnitude." }));
      lastOnset = Math.max(...event.detections.map((d) => Date.parse(d.onset_time)), Date.parse(event.time));
      wave.src = `/api/v1/events/${id}/waveforms.png?_=${Date.parse(event.updated_at)}-${Date.now()}`;
      map.load(event.updated_at);
    }

    async function load() {
      try {
        render(await getJSON(`/api/v1/events/${id}`));
      } catch (error) {
        status.textContent = error.status === 404 ? `No event ${id}.` : problem(error);
        status.className = "error";
      }
    }

    on("event", (event) => { if (String(event.id) === String(id)) render(event); });
    on("reconnect", load);
    // The archive catches up with a fresh event: redraw until its window has passed.
    const catchUp = setInterval(() => {
      if (lastOnset && Date.now() - lastOnset > 45000) clearInterval(catchUp);
      else if (lastOnset && !document.hidden) wave.src = `/api/v1/events/${id}/waveforms.png?_=${Date.now()}`;
    }, 10000);
    await load();
  }

  // ---- early-warning alerts: the banner on every page ----------------------------------
  // The active alerts come once from /api/v1/alerts (at page load and after the stream
  // reconnects), then only from the stream (event: alert, one message a version). The
  // countdown to the S wave at each target site is the predicted S arrival against this
  // computer's clock, redrawn every second without asking the API anything.

  const ALERT_GONE_MS = 15000; // a cancelled or ended alert's last words stay this long
  const ALERT_ACTIONS = { created: "first message", updated: "updated", cancelled: "cancelled", ended: "ended" };

  // "M 5.2 · 12 km SW of Sarez · depth 10 km", or an on-site alert's station and shaking.
  function alertLine(v) {
    if (v.kind === "onsite") {
      const mmi = v.content && v.content.mmi;
      return `Strong shaking at ${v.station || "a station"}${mmi == null ? "" : ` · intensity ${num(mmi, 1)} observed`} · expect it within about 30 km`;
    }
    if (v.latitude == null || v.longitude == null) return "earthquake (no location)";
    return quakeLine(v);
  }

  function sCountdown(site, nowMs) {
    const left = (Date.parse(site.s_arrival) - nowMs) / 1000;
    return left > 0 ? { text: `S in ${Math.ceil(left)} s`, passed: false } : { text: "S arrived", passed: true };
  }

  function alertSites(v, nowMs) {
    const sites = [...(v.sites || [])].sort((a, b) => Date.parse(a.s_arrival) - Date.parse(b.s_arrival));
    if (!sites.length) return null;
    return el("ul", { class: "ew-sites" }, sites.map((site) => {
      const count = sCountdown(site, nowMs);
      return el("li", { "data-site": site.name, "data-s-arrival": site.s_arrival, "data-passed": count.passed ? "true" : "false", class: site.alert ? "ew-warned" : null },
        el("span", { class: "ew-site", text: site.name }),
        ` intensity ${num(site.mmi, 1)}${site.alert ? " (above its threshold)" : ""} · `,
        el("span", { class: "ew-count", text: count.text }));
    }));
  }

  function alertCard(entry, nowMs) {
    const { latest, detail, gone } = entry;
    const sent = `version ${latest.version} (${ALERT_ACTIONS[latest.action] || latest.action}, sent ${clock(latest.sent_at)} UTC)`;
    const link = el("a", { href: `/alerts?start=${encodeURIComponent(isoDay(Date.parse(latest.sent_at)))}#alert-${latest.alert_id}`, text: `alert ${latest.alert_id}` });
    const what = latest.action === "cancelled" ? "cancelled (false alarm)" : latest.action === "ended" ? "ended: the shaking is over" : null;
    return el("article", { class: "ew-alert", "data-alert": latest.alert_id, "data-version": latest.version, "data-status": gone ? latest.action : "active" },
      el("p", { class: "ew-head" },
        el("strong", { class: "ew-title", text: detail.kind === "onsite" ? "SHAKING ALERT" : "EARTHQUAKE ALERT" }), " ",
        el("span", { class: "ew-what", text: alertLine(detail) }),
        what ? el("strong", { class: "ew-state", text: ` — ${what}` }) : null),
      gone ? null : alertSites(detail, nowMs),
      el("p", { class: "ew-meta" }, link, ` · ${sent}`,
        latest.reason ? ` · ${latest.reason}` : "",
        gone ? "" : detail.kind === "onsite"
          ? " · shaking measured at one station (and confirmed), not a forecast of a source"
          : " · early estimate: the magnitude may grow; no warning near the epicentre"));
  }

  function isoDay(ms) {
    return new Date(ms).toISOString().slice(0, 10);
  }

  function alertBanner() {
    const box = document.getElementById("alert-banner");
    const shown = new Map(); // alert id -> { latest, detail, gone }
    const closed = new Map(); // alert id -> the version that cancelled or ended it, if seen
    let ticker = null;

    function draw() {
      const now = Date.now();
      for (const [id, entry] of shown) if (entry.gone && entry.gone <= now) shown.delete(id);
      const entries = [...shown.values()].sort((a, b) => a.latest.alert_id - b.latest.alert_id);
      box.replaceChildren(...entries.map((entry) => alertCard(entry, now)));
      box.hidden = !entries.length;
      if (entries.length && ticker === null) ticker = setInterval(tick, 1000);
      if (!entries.length && ticker !== null) { clearInterval(ticker); ticker = null; }
    }

    // Each second: the countdowns only (and the end of a cancelled alert's last words).
    function tick() {
      const now = Date.now();
      if ([...shown.values()].some((entry) => entry.gone && entry.gone <= now)) { draw(); return; }
      for (const li of box.querySelectorAll("li[data-s-arrival]")) {
        const count = sCountdown({ s_arrival: li.dataset.sArrival }, now);
        li.dataset.passed = count.passed ? "true" : "false";
        const span = li.querySelector(".ew-count");
        if (span.textContent !== count.text) span.textContent = count.text;
      }
    }

    function accept(v) {
      const known = shown.get(v.alert_id);
      if (known && known.latest.version >= v.version) return; // a repeat, or older
      const estimate = v.action === "created" || v.action === "updated";
      if (!estimate) closed.set(v.alert_id, v.version);
      if (!estimate && !known) return; // the end of an alert this page never showed
      shown.set(v.alert_id, {
        latest: v,
        detail: estimate ? v : known.detail, // a cancel or end keeps the last estimate's words
        gone: estimate ? null : Date.now() + ALERT_GONE_MS,
      });
      draw();
    }

    async function load() {
      try {
        const active = [];
        let url = "/api/v1/alerts?status=active&limit=100";
        while (url) {
          const page = await getJSON(url);
          active.push(...page.items);
          url = page.items.length === 100 ? page.next : null;
        }
        const ids = new Set(active.map((a) => a.id));
        for (const [id, entry] of shown) if (!entry.gone && !ids.has(id)) shown.delete(id); // ended meanwhile
        for (const alert of active) {
          const estimates = alert.versions.filter((v) => v.action === "created" || v.action === "updated");
          const known = shown.get(alert.id);
          if (known && known.latest.version >= alert.latest.version) continue;
          if ((closed.get(alert.id) || 0) > alert.latest.version) continue; // read before its end
          shown.set(alert.id, { latest: alert.latest, detail: estimates[estimates.length - 1] || alert.latest, gone: null });
        }
        draw();
      } catch (_) { /* the stream's banner says when Larza is unreachable */ }
    }

    on("alert", accept);
    on("reconnect", load);
    load();
  }

  // ---- early-warning alerts: the history page ------------------------------------------

  const ALERT_HISTORY_MAX = 2000;

  function alertSitesText(v) {
    if (v.kind === "onsite") return v.content && v.content.mmi != null ? `observed intensity ${num(v.content.mmi, 1)} at ${v.station}` : "–";
    if (!v.sites || !v.sites.length) return "–";
    return v.sites.map((s) => `${s.name} ${num(s.mmi, 1)} (S ${clock(s.s_arrival)}, ${num(s.warning_s, 0, "s")} warning)`).join("; ");
  }

  function alertHistoryCard(alert) {
    const first = alert.versions[0];
    return el("section", { class: "card ew-history", id: `alert-${alert.id}`, "data-alert": alert.id, "aria-labelledby": `alert-${alert.id}-h` },
      el("h2", { id: `alert-${alert.id}-h` },
        `Alert ${alert.id} · ${alert.kind === "onsite" ? "on-site" : "network"} · ${alert.status} `,
        el("small", { class: "muted", text: `created ${utc(first.sent_at, true)}` }), " ",
        el("a", { href: `/api/v1/alerts/${alert.id}`, text: "JSON" })),
      el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "vh", text: `Versions of alert ${alert.id}, oldest first` }),
        el("thead", {}, el("tr", {}, ["version", "message", "sent", "magnitude", "location", "sites: intensity, S arrival", "reason", "CAP"].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, alert.versions.map((v) => el("tr", { "data-version": v.version, "data-action": v.action },
          el("th", { scope: "row", class: "num", text: String(v.version) }),
          el("td", { text: v.action }),
          el("td", { class: "nowrap", text: utc(v.sent_at, true) }),
          el("td", { class: "num", text: v.magnitude == null ? "–" : `M ${num(v.magnitude, 1)}${v.magnitude_sigma == null ? "" : ` ± ${num(v.magnitude_sigma, 1)}`}` }),
          el("td", { text: v.kind === "onsite" ? (v.station || "–") : v.latitude == null ? "–" : `${v.place || `${num(v.latitude, 2)}°, ${num(v.longitude, 2)}°`} · depth ${num(v.depth_km, 0, "km")}` }),
          el("td", { text: alertSitesText(v) }),
          el("td", { text: v.reason || "–" }),
          el("td", { class: "nowrap" }, el("a", { href: `/api/v1/alerts/${alert.id}?format=cap&version=${v.version}`, text: "CAP XML" }))))))));
  }

  async function alertsPage(main) {
    document.title = "Larza — alerts";
    const params = new URLSearchParams(window.location.search);
    const status = el("p", { class: "muted", id: "alerts-status", text: "Loading…" });
    const list = el("div", { class: "page", id: "alert-history" });
    const from = el("input", { type: "date", id: "alerts-from", value: params.get("start") ? isoDay(Date.parse(params.get("start"))) : isoDay(Date.now() - 30 * 8.64e7) });
    const to = el("input", { type: "date", id: "alerts-to", value: params.get("end") ? isoDay(Date.parse(params.get("end")) - 1) : "" });

    function chosen() {
      const start = from.value ? `${from.value}T00:00:00Z` : null;
      const end = to.value ? new Date(Date.parse(`${to.value}T00:00:00Z`) + 8.64e7).toISOString() : null;
      return { start, end };
    }

    async function load() {
      const { start, end } = chosen();
      const query = new URLSearchParams({ limit: "500" });
      if (start) query.set("start", start);
      if (end) query.set("end", end);
      history.replaceState(null, "", `/alerts?${new URLSearchParams(Object.entries({ start, end }).filter(([, v]) => v))}${window.location.hash}`);
      try {
        const found = [];
        let url = `/api/v1/alerts?${query}`;
        while (url && found.length < ALERT_HISTORY_MAX) {
          const page = await getJSON(url);
          found.push(...page.items);
          url = page.items.length === 500 ? page.next : null;
        }
        const range = `${start ? utc(start) : "the beginning"} to ${end ? utc(end) : "now"}`;
        status.textContent = found.length
          ? `${found.length} alert${found.length === 1 ? "" : "s"} created from ${range}, newest first${url ? ` (the first ${found.length}: narrow the range)` : ""}.`
          : `No alerts created from ${range}.`;
        status.className = "muted";
        list.replaceChildren(...found.reverse().map(alertHistoryCard));
        if (window.location.hash) document.getElementById(window.location.hash.slice(1))?.scrollIntoView();
      } catch (error) {
        status.textContent = problem(error);
        status.className = "error";
      }
    }

    const form = el("form", { class: "controls", id: "alerts-range", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("label", { for: "alerts-from", text: "Created from (UTC day)" }), from,
      el("label", { for: "alerts-to", text: "to" }), to,
      el("button", { type: "submit", text: "Show" }),
      ...[["1 d", 1], ["7 d", 7], ["30 d", 30], ["1 year", 365]].map(([text, days]) => el("button", {
        type: "button",
        text,
        onclick: () => { from.value = isoDay(Date.now() - (days - 1) * 8.64e7); to.value = ""; load(); },
      })));
    main.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "/", text: "Network" }), " › alerts"),
      el("h1", { text: "Early-warning alerts" }),
      el("p", { class: "muted", text: "Every message of every alert, as sent: created, updated, cancelled (a false alarm), ended. Magnitudes are early estimates from the first seconds of P." }),
      form, status, list);
    on("alert", debounce(load, 500));
    on("reconnect", load);
    await load();
  }

  // ---- catalogue runs (larza reprocess): the list, two runs compared, one run's events ----
  // Kept apart from the live pages: only runsPage and runPage are called from the routing.

  const RUNS_REFRESH_MS = 5000;
  const RUN_EVENTS_PAGE = 200;

  function runName(name) {
    return encodeURIComponent(name);
  }

  function runSpan(run) {
    return `${utc(run.start)} – ${utc(run.end)}`;
  }

  function runStatus(run) {
    const css = { finished: "state-ok", running: "state-unknown", partial: "state-degraded", interrupted: "state-down" }[run.status] || "state-unknown";
    return el("span", { class: `badge ${css}`, "data-status": run.status, text: run.status });
  }

  function runChunkNotes(run) {
    const failed = run.chunks_failed ? `, ${run.chunks_failed} failed` : "";
    const empty = run.chunks_empty ? `, empty chunks: ${run.chunks_empty}` : "";
    return `${failed}${empty}`;
  }

  function runSource(run) {
    if (!run.source_kind) return "not recorded";
    const kind = run.source_kind === "fdsn" ? "FDSN dataselect" : "SDS archive";
    return `${kind} ${run.source}`;
  }

  function runSelection(run) {
    const how = { given: "named with --stations", all: "every station of the source" }[run.station_selection];
    return how ? `${run.stations.join(", ")} (${how})` : run.stations.join(", ");
  }

  function runProgress(run) {
    const ran = run.chunks_done + run.chunks_failed;
    const text = `${ran}/${run.chunks} chunks${runChunkNotes(run)}`;
    if (run.status !== "running") return el("span", { text });
    return el("span", { class: "run-progress" },
      el("progress", { max: run.chunks, value: ran, "aria-label": `chunks of run ${run.name}` }), ` ${text}`);
  }

  function runProfile(run) {
    const settings = run.config.trim();
    return el("details", { class: "run-config" },
      el("summary", {}, el("code", { text: run.config_digest }), settings ? "" : " (defaults)"),
      el("pre", { text: settings || "# no larza.toml: the default settings" }));
  }

  function runsTable(runs) {
    if (!runs.length) return el("p", { class: "muted", text: "No catalogue runs yet: larza reprocess makes them." });
    return el("table", { id: "runs-table" },
      el("caption", { class: "vh", text: "Catalogue runs, the newest first" }),
      el("thead", {}, el("tr", {}, ["run", "settings", "source", "span", "stations", "status", "progress", "detections", "events", "started", "finished"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, runs.map((run) => el("tr", { "data-run": run.name },
        el("th", { scope: "row" }, el("a", { href: `/runs/${runName(run.name)}`, text: run.name })),
        el("td", {}, runProfile(run)),
        el("td", { class: "run-source", text: runSource(run) }),
        el("td", { text: runSpan(run) }),
        el("td", { class: "num", title: runSelection(run), text: run.stations.length }),
        el("td", {}, runStatus(run)),
        el("td", {}, runProgress(run)),
        el("td", { class: "num", text: run.status === "running" ? "–" : run.detections }),
        el("td", { class: "num", text: run.status === "running" ? "–" : run.events }),
        el("td", { text: utc(run.started_at) }),
        el("td", { text: utc(run.finished_at) })))));
  }

  function runEventRow(event, side) {
    return el("tr", { "data-event": event.id, "data-side": side },
      el("td", { text: utc(event.time, true) }),
      el("td", { text: event.stations.join(", ") }),
      el("td", { class: "num", text: num(event.coincidence_sum, 1) }));
  }

  function compareTables(found) {
    const matched = el("table", { id: "compare-matched" },
      el("caption", { text: `Matched (${found.matched.length})` }),
      el("thead", {}, el("tr", {}, [`time in ${found.a}`, `time in ${found.b}`, "B − A", "stations in A", "stations in B"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, found.matched.map((m) => el("tr", { "data-event": `${m.a.id}-${m.b.id}` },
        el("td", { text: utc(m.a.time, true) }),
        el("td", { text: utc(m.b.time, true) }),
        el("td", { class: "num", text: num(m.seconds, 2, "s") }),
        el("td", { text: m.a.stations.join(", ") }),
        el("td", { text: m.b.stations.join(", ") })))));
    const only = (id, title, events, side) => el("table", { id },
      el("caption", { text: `${title} (${events.length})` }),
      el("thead", {}, el("tr", {}, ["time", "stations", "coincidence sum"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, events.map((e) => runEventRow(e, side))));
    return [
      el("p", { id: "compare-counts", class: "compare-counts" },
        el("strong", { text: `${found.matched.length} matched` }),
        ` · ${found.only_a.length} only in ${found.a} · ${found.only_b.length} only in ${found.b}`,
        el("span", { class: "muted", text: ` (first onsets within ${num(found.tolerance_s, 1, "s")}, a station in common)` })),
      el("div", { class: "compare" },
        el("div", { class: "table-wrap" }, matched),
        el("div", { class: "table-wrap" }, only("compare-only-a", `Only in ${found.a}`, found.only_a, "a")),
        el("div", { class: "table-wrap" }, only("compare-only-b", `Only in ${found.b}`, found.only_b, "b"))),
    ];
  }

  function runSelect(id, label) {
    const select = el("select", { id, name: id });
    return { select, node: el("label", {}, `${label} `, select) };
  }

  async function runsPage(main) {
    document.title = "Larza — catalogue runs";
    const list = el("div", { class: "table-wrap", id: "runs" }, el("p", { class: "muted", text: "Loading…" }));
    const a = runSelect("run-a", "A");
    const b = runSelect("run-b", "B");
    const tolerance = el("input", { id: "run-tolerance", type: "number", min: "0.1", max: "600", step: "0.1", value: "2", "aria-label": "tolerance in seconds" });
    const result = el("div", { id: "compare-result" });
    main.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "/", text: "Network" }), " › catalogue runs"),
      el("h1", { text: "Catalogue runs" }),
      el("div", { class: "page" },
        el("section", { class: "card", "aria-labelledby": "runs-h" },
          el("h2", { id: "runs-h", text: "Runs of larza reprocess" }), list),
        el("section", { class: "card", "aria-labelledby": "compare-h" },
          el("h2", { id: "compare-h", text: "Two runs compared" }),
          el("div", { class: "controls" }, a.node, b.node, el("label", {}, "within ", tolerance, " s")),
          result)));

    const params = new URLSearchParams(window.location.search);
    let names = [];

    async function compare() {
      const [x, y] = [a.select.value, b.select.value];
      if (!x || !y) {
        result.replaceChildren(el("p", { class: "muted", text: "Two runs are needed to compare." }));
        return;
      }
      const query = new URLSearchParams({ a: x, b: y, tolerance: tolerance.value || "2" });
      history.replaceState(null, "", `/runs?${new URLSearchParams({ a: x, b: y })}`);
      result.setAttribute("aria-busy", "true");
      try {
        const found = await getJSON(`/api/v1/runs/compare?${query}`);
        if (a.select.value === x && b.select.value === y) result.replaceChildren(...compareTables(found));
      } catch (error) {
        result.replaceChildren(el("p", { class: "error", text: problem(error) }));
      } finally {
        result.removeAttribute("aria-busy");
      }
    }

    function fillSelects(runs) {
      const fresh = runs.map((r) => r.name);
      if (fresh.join("\n") === names.join("\n")) return false;
      const keepA = a.select.value || params.get("a") || (fresh[1] ?? fresh[0]);
      const keepB = b.select.value || params.get("b") || fresh[0];
      names = fresh;
      for (const [select, keep] of [[a.select, keepA], [b.select, keepB]]) {
        select.replaceChildren(...fresh.map((n) => el("option", { value: n, text: n })));
        if (fresh.includes(keep)) select.value = keep;
      }
      return true;
    }

    let timer = null;
    let shown = "";
    async function refresh() {
      try {
        const runs = await getJSON("/api/v1/runs");
        const shape = JSON.stringify(runs);
        if (shape !== shown) list.replaceChildren(runsTable(runs)); // an open <details> stays open
        shown = shape;
        if (fillSelects(runs)) await compare();
        clearTimeout(timer);
        if (runs.some((r) => r.status === "running")) timer = setTimeout(refresh, RUNS_REFRESH_MS);
      } catch (error) {
        list.replaceChildren(el("p", { class: "error", text: problem(error) }));
        timer = setTimeout(refresh, RUNS_REFRESH_MS);
      }
    }

    a.select.addEventListener("change", compare);
    b.select.addEventListener("change", compare);
    tolerance.addEventListener("change", compare);
    await refresh();
  }

  function runEventsRows(events) {
    return events.map((e) => el("tr", { "data-event": e.id },
      el("td", { class: "num", text: e.id }),
      el("td", { text: utc(e.time, true) }),
      el("td", { class: "num", text: e.n_stations }),
      el("td", { text: e.stations.join(", ") }),
      el("td", { text: e.detections.map((d) => `${d.station} ${d.channel}${d.phase ? ` ${d.phase}` : ""} ${clock(d.onset_time)}`).join(" · ") }),
      el("td", { class: "num", text: num(e.coincidence_sum, 1) }),
      el("td", { class: "num", text: num(e.duration, 1, "s") })));
  }

  async function runPage(main, name) {
    document.title = `Larza — run ${name}`;
    const facts = el("dl", { class: "facts", id: "run-facts" });
    const status = el("p", { class: "muted", id: "run-status", text: "Loading…" });
    const body = el("tbody", {});
    const more = el("button", { type: "button", id: "run-more", hidden: true, text: "More events" });
    const q = `run=${runName(name)}`;
    const downloads = el("p", { class: "downloads" }, "Download: ",
      el("a", { href: `/api/v1/events?${q}&format=csv&limit=1000`, text: "events (CSV)" }), " · ",
      el("a", { href: `/api/v1/events?${q}&format=quakeml&limit=1000`, text: "events (QuakeML)" }), " · ",
      el("a", { href: `/api/v1/detections?${q}&format=csv&limit=1000`, text: "detections (CSV)" }));
    main.replaceChildren(
      el("p", { class: "crumbs" }, el("a", { href: "/", text: "Network" }), " › ", el("a", { href: "/runs", text: "catalogue runs" }), ` › ${name}`),
      el("h1", { text: `Run ${name}` }),
      status,
      el("div", { class: "page" },
        el("section", { class: "card", "aria-labelledby": "run-h" }, el("h2", { id: "run-h", text: "Summary" }), facts),
        el("section", { class: "card", "aria-labelledby": "run-events-h" },
          el("h2", { id: "run-events-h", text: "Events of the run" }), downloads,
          el("div", { class: "table-wrap" }, el("table", { id: "run-events" },
            el("caption", { class: "vh", text: `Events of run ${name}` }),
            el("thead", {}, el("tr", {}, ["id", "time (first onset)", "n", "stations", "picks", "coincidence sum", "duration"].map((h) => el("th", { scope: "col", text: h })))),
            body)),
          el("div", { class: "controls" }, more))));

    let next = null;
    async function loadEvents(url) {
      const page = await getJSON(url);
      body.append(...runEventsRows(page.items));
      next = page.next; // given after any non-empty page: more only after a full one
      more.hidden = !(next && page.items.length >= RUN_EVENTS_PAGE);
      if (!body.children.length) body.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No events in this run." })));
    }
    more.addEventListener("click", () => { if (next) loadEvents(next).catch((e) => { status.textContent = problem(e); }); });

    try {
      const run = (await getJSON("/api/v1/runs")).find((r) => r.name === name);
      if (!run) {
        status.textContent = `No run named ${name}.`;
        status.className = "error";
        return;
      }
      status.textContent = `${run.status === "running" ? "Running" : "Stored"} · settings ${run.config_digest}`;
      const rows = [
        ["status", run.status], ["source", runSource(run)], ["span", runSpan(run)], ["stations", runSelection(run)],
        ["chunks", `${run.chunks_done + run.chunks_failed}/${run.chunks} of ${age(run.chunk_s)}${runChunkNotes(run)}`],
        ["detections", run.detections], ["events", run.events],
        ["started", utc(run.started_at)], ["finished", utc(run.finished_at)]];
      facts.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]),
        el("dt", { text: "settings" }), el("dd", {}, runProfile(run)));
      await loadEvents(`/api/v1/events?${q}&limit=${RUN_EVENTS_PAGE}`);
    } catch (error) {
      status.textContent = problem(error);
      status.className = "error";
    }
  }

  // ---- routing -------------------------------------------------------------------------

  async function start() {
    const main = document.getElementById("main");
    const path = window.location.pathname.replace(/\/+$/, "") || "/";
    let match;
    connect();
    alertBanner();
    if (path === "/") {
      await overview(main);
    } else if (path === "/alerts") {
      await alertsPage(main);
    } else if ((match = path.match(/^\/stations\/([A-Za-z0-9]+\.[A-Za-z0-9]+)$/))) {
      await stationPage(main, match[1].toUpperCase());
    } else if ((match = path.match(/^\/events\/(\d+)$/))) {
      await eventPage(main, match[1]);
    } else if (path === "/runs") {
      await runsPage(main);
    } else if ((match = path.match(/^\/runs\/([^/]+)$/))) {
      await runPage(main, decodeURIComponent(match[1]));
    } else {
      main.replaceChildren(el("h1", { text: "Not found" }), el("p", {}, el("a", { href: "/", text: "Network overview" })));
    }
  }

  start();
})();
