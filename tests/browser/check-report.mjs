// Opens a lumbar report in headless Chromium and fails on any console error,
// page error, or network request (the report must be self-contained), on a
// section expected that is missing or lacks its charts or tables, on a
// chart element outside its viewBox or two texts of one chart overlapping;
// then saves a full-page screenshot and an A4 PDF print.
//
//   node check-report.mjs REPORT.html SCREENSHOT.png [PRINT.pdf [SECTIONS]]
//
// SECTIONS is JSON: [{"id": "dose", "figures": 1, "tables": 1}, ...], the
// least number of charts and of tables with a row each section must have.
import fs from "node:fs";
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [report, shot, pdf, sectionsJson] = process.argv.slice(2);
const sections = JSON.parse(sectionsJson || "[]");
if (!report || !shot) {
  console.error("usage: node check-report.mjs REPORT.html SCREENSHOT.png [PRINT.pdf]");
  process.exit(2);
}
const url = pathToFileURL(resolve(report)).href;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) => problems.push(`failed request: ${r.url()}`));
  page.on("request", (r) => { if (r.url() !== url) problems.push(`request to ${r.url()} (the report must need nothing but itself)`); });
  const response = await page.goto(url, { waitUntil: "load" });
  if (!response || !response.ok()) problems.push(`could not open ${url}`);
  const svgs = await page.locator("svg").count();
  const h1 = await page.locator("h1").innerText();
  if (svgs < 4) problems.push(`expected at least 4 charts, found ${svgs}`);
  // Every chart has a non-zero size once laid out.
  const sizes = await page.locator("svg").evaluateAll((els) => els.map((e) => e.getBoundingClientRect().width));
  if (sizes.some((w) => !(w > 100))) problems.push(`a chart is not laid out: widths ${sizes.join(", ")}`);
  // The sections asked for, each with its charts and its tables' rows.
  for (const want of sections) {
    const got = await page.evaluate((id) => {
      const s = document.getElementById(id);
      if (!s) return null;
      const tables = [...s.querySelectorAll("table")].filter((t) => t.querySelector("tbody tr") && t.getBoundingClientRect().height > 0);
      const figures = [...s.querySelectorAll("figure")].filter((f) => {
        const svg = f.querySelector("svg");
        return svg && svg.getBoundingClientRect().width > 100 && f.querySelector("figcaption");
      });
      return { figures: figures.length, tables: tables.length };
    }, want.id);
    if (!got) problems.push(`no section #${want.id}`);
    else {
      if (got.figures < (want.figures ?? 0)) problems.push(`#${want.id}: ${got.figures} charts with a caption, expected ${want.figures}`);
      if (got.tables < (want.tables ?? 0)) problems.push(`#${want.id}: ${got.tables} tables with rows, expected ${want.tables}`);
    }
  }
  // Every chart in its own units (the SVG is scaled to the page): no drawn
  // element outside the viewBox, no two texts over each other.
  const charts = await page.locator("svg").evaluateAll((svgs) =>
    svgs.map((svg) => {
      const r = svg.getBoundingClientRect();
      const vb = svg.viewBox.baseVal;
      const k = vb.width / r.width;
      const box = (e) => {
        const b = e.getBoundingClientRect();
        return { x: (b.x - r.x) * k, y: (b.y - r.y) * k, w: b.width * k, h: b.height * k };
      };
      const label = svg.getAttribute("aria-label") || "";
      return {
        label,
        vb: { w: vb.width, h: vb.height },
        drawn: [...svg.querySelectorAll("path, line, rect, text, polygon, polyline, circle")].map((e) => ({ tag: e.tagName, text: e.textContent, ...box(e) })),
        texts: [...svg.querySelectorAll("text")].filter((t) => t.textContent.trim() !== "").map((t) => ({ text: t.textContent, ...box(t) })),
      };
    }),
  );
  const eps = 1;
  const overlap = (a, b) => a.x + 1 < b.x + b.w && b.x + 1 < a.x + a.w && a.y + 1 < b.y + b.h && b.y + 1 < a.y + a.h;
  for (const c of charts) {
    for (const e of c.drawn) {
      if (!(e.x >= -eps && e.y >= -eps && e.x + e.w <= c.vb.w + eps && e.y + e.h <= c.vb.h + eps))
        problems.push(`"${c.label}": <${e.tag}>${e.tag === "text" ? ` "${e.text}"` : ""} at ${e.x.toFixed(1)},${e.y.toFixed(1)} ${e.w.toFixed(1)}×${e.h.toFixed(1)} leaves the ${c.vb.w}×${c.vb.h} viewBox`);
    }
    for (let i = 0; i < c.texts.length; i++)
      for (let j = i + 1; j < c.texts.length; j++)
        if (overlap(c.texts[i], c.texts[j])) problems.push(`"${c.label}": texts overlap: "${c.texts[i].text}" and "${c.texts[j].text}"`);
  }
  await page.screenshot({ path: shot, fullPage: true });
  // Each chart with its caption, and the table beside it (the next or the
  // previous element): the texts that must share a printed page.
  const exhibits = await page.locator("figure").evaluateAll((figs) =>
    figs.map((f) => {
      const next = f.nextElementSibling, prev = f.previousElementSibling;
      const table = next && next.tagName === "TABLE" ? next : prev && prev.tagName === "TABLE" ? prev : null;
      const row = table && table.querySelector("tbody tr");
      return {
        caption: f.querySelector("figcaption")?.innerText ?? "",
        row: row ? [...row.cells].map((c) => c.innerText).join(" ") : "",
      };
    }),
  );
  if (pdf) fs.writeFileSync(pdf.replace(/\.pdf$/, ".exhibits.json"), JSON.stringify(exhibits));
  let pages = 0;
  if (pdf) {
    // The report's own @page rules: A4, margins, and the footer with the
    // page number and the report's date in the bottom margin.
    const bytes = await page.pdf({ path: pdf, format: "A4", printBackground: true, preferCSSPageSize: true });
    // Page objects (not the /Pages tree) in the file.
    pages = (bytes.toString("latin1").match(/\/Type\s*\/Page(?![s\w])/g) || []).length;
    if (pages < 1 || pages > 12) problems.push(`the A4 print has ${pages} pages (expected 1 to 12)`);
  }
  console.log(`${report}: "${h1}", ${svgs} charts (each inside its viewBox, no texts overlapping), ${sections.length} sections checked, screenshot ${shot}${pdf ? `, print ${pdf} (${pages} A4 pages)` : ""}`);
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
