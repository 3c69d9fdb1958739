// Opens a lumbar report in headless Chromium and fails on any console error,
// page error, or network request (the report must be self-contained), then
// saves a full-page screenshot and an A4 PDF print.
//
//   node check-report.mjs REPORT.html SCREENSHOT.png [PRINT.pdf]
import fs from "node:fs";
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const [report, shot, pdf] = process.argv.slice(2);
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
  console.log(`${report}: "${h1}", ${svgs} charts, screenshot ${shot}${pdf ? `, print ${pdf} (${pages} A4 pages)` : ""}`);
} finally {
  await browser.close();
}
if (problems.length) {
  for (const p of problems) console.error(p);
  process.exit(1);
}
