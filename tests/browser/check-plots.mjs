// Opens each `lumbar stats --plot` figure (a standalone SVG) in headless
// Chromium and fails on any console error or warning, page error or request
// beyond the file itself, and when the figure is not drawn as expected: the
// number of curves, bands and censoring marks, or of forest rows; the
// number-at-risk table's values; every element inside the viewBox; no two
// texts overlapping. Writes a PNG of each beside it.
//
//   node check-plots.mjs '[{"file": "km.svg", "kind": "km", "curves": 2,
//                           "risk": [[138, 62, 20, 7, 2], [90, 53, 21, 3, 0]]},
//                          {"file": "forest.svg", "kind": "forest", "rows": 3}]'
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const specs = JSON.parse(process.argv[2] || "[]");
if (!Array.isArray(specs) || specs.length === 0) {
  console.error("usage: node check-plots.mjs '[{\"file\": \"km.svg\", \"kind\": \"km\", \"curves\": 2}, ...]'");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  for (const spec of specs) {
    const url = pathToFileURL(resolve(spec.file)).href;
    const say = (p) => problems.push(`${spec.file}: ${p}`);
    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") say(`console ${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => say(`page error: ${e.message}`));
    page.on("request", (r) => { if (r.url() !== url) say(`request to ${r.url()} (the figure must need nothing but itself)`); });
    const response = await page.goto(url, { waitUntil: "load" });
    if (!response || !response.ok()) { say(`could not open ${url}`); continue; }
    // Everything measured in the figure's own units: the SVG is shown at its
    // width and height, which equal its viewBox, so a CSS pixel is a unit.
    const got = await page.evaluate(() => {
      const svg = document.documentElement;
      const box = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, w: r.width, h: r.height }; };
      const vb = svg.viewBox.baseVal;
      const texts = [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim() !== "");
      return {
        root: svg.tagName,
        title: svg.querySelector(":scope > title")?.textContent ?? "",
        scripts: svg.querySelectorAll("script, foreignObject, image, use").length,
        viewBox: { w: vb.width, h: vb.height },
        size: box(svg),
        lines: [...svg.querySelectorAll("path.km-line")].map(box),
        bands: [...svg.querySelectorAll("path.km-band")].map(box),
        censors: [...svg.querySelectorAll("path.km-censor")].map((p) => (p.getAttribute("d").match(/M/g) || []).length / 2),
        riskLabels: [...svg.querySelectorAll("text.risk-label")].map((t) => t.textContent),
        riskN: [...svg.querySelectorAll("text.risk-n")].map((t) => t.textContent),
        squares: svg.querySelectorAll("rect[width='8']").length,
        one: svg.querySelectorAll("line[stroke='#333']").length,
        drawn: [...svg.querySelectorAll("path, line, rect, text, polygon, polyline, circle")].map((e) => ({ tag: e.tagName, cls: e.getAttribute("class") || "", ...box(e) })),
        texts: texts.map((t) => ({ text: t.textContent, ...box(t) })),
      };
    });
    if (got.root !== "svg") say(`the document is <${got.root}>, not an SVG`);
    if (!got.title) say("no <title>");
    if (got.scripts) say(`${got.scripts} script, foreignObject, image or use elements`);
    if (Math.abs(got.size.w - got.viewBox.w) > 0.5 || Math.abs(got.size.h - got.viewBox.h) > 0.5)
      say(`shown at ${got.size.w}×${got.size.h}, but its viewBox is ${got.viewBox.w}×${got.viewBox.h}`);
    const eps = 0.5;
    for (const e of got.drawn) {
      const inside = e.x >= -eps && e.y >= -eps && e.x + e.w <= got.viewBox.w + eps && e.y + e.h <= got.viewBox.h + eps;
      if (!inside) say(`<${e.tag} class="${e.cls}"> at ${e.x.toFixed(1)},${e.y.toFixed(1)} ${e.w.toFixed(1)}×${e.h.toFixed(1)} leaves the ${got.viewBox.w}×${got.viewBox.h} viewBox`);
    }
    // No text over another (a pixel of slack for antialiasing).
    const overlap = (a, b) => a.x + 1 < b.x + b.w && b.x + 1 < a.x + a.w && a.y + 1 < b.y + b.h && b.y + 1 < a.y + a.h;
    for (let i = 0; i < got.texts.length; i++)
      for (let j = i + 1; j < got.texts.length; j++)
        if (overlap(got.texts[i], got.texts[j])) say(`texts overlap: "${got.texts[i].text}" and "${got.texts[j].text}"`);
    if (spec.kind === "km") {
      if (got.lines.length !== spec.curves) say(`${got.lines.length} curves, expected ${spec.curves}`);
      if (got.bands.length !== spec.curves) say(`${got.bands.length} CI bands, expected ${spec.curves}`);
      if (got.lines.some((b) => !(b.w > 100 && b.h > 50))) say(`a curve is not drawn across the plot: ${JSON.stringify(got.lines)}`);
      if (got.bands.some((b) => !(b.w > 100 && b.h > 50))) say(`a band is not drawn across the plot: ${JSON.stringify(got.bands)}`);
      if (got.censors.length !== spec.curves || got.censors.some((n) => !(n >= 1))) say(`censoring marks per curve: ${got.censors}`);
      if (got.riskLabels.length !== spec.curves) say(`risk table rows ${got.riskLabels.join(", ")}, expected ${spec.curves}`);
      if (spec.risk) {
        const want = spec.risk.flat().map(String);
        if (JSON.stringify(got.riskN) !== JSON.stringify(want)) say(`number at risk ${got.riskN.join(" ")}, expected ${want.join(" ")}`);
      }
    } else if (spec.kind === "forest") {
      if (got.squares !== spec.rows) say(`${got.squares} estimates drawn, expected ${spec.rows}`);
      if (got.one !== 1) say(`${got.one} lines at 1, expected one`);
    }
    await page.screenshot({ path: spec.file.replace(/\.svg$/, ".png"), clip: { x: 0, y: 0, width: got.viewBox.w, height: got.viewBox.h }, timeout: 10000 });
    console.log(`${spec.file}: "${got.title}", ${got.viewBox.w}×${got.viewBox.h}, ${got.texts.length} texts, ${
      spec.kind === "km" ? `${got.lines.length} curves, at risk ${got.riskN.join(" ")}` : `${got.squares} rows`}`);
    await page.close();
  }
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
