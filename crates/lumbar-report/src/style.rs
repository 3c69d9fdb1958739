//! The report's style sheet, and the printed page's footer made for each report.

use crate::ReportMeta;

pub(crate) const CSS: &str = r#"
:root { --ink: #1b1b1b; --muted: #5a5a5a; --accent: #1f4e79; --rule: #d9d9d9; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: var(--ink); margin: 0 auto; max-width: 60rem; padding: 1.5rem; line-height: 1.45; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; color: var(--accent); }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--accent); padding-bottom: .2rem; }
p.lede { color: var(--muted); margin-top: 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: .75rem; margin: 1rem 0; }
.card { border: 1px solid var(--rule); border-radius: .4rem; padding: .6rem .8rem; }
.card .v { font-size: 1.5rem; font-weight: 600; color: var(--accent); }
.card .k { font-size: .85rem; color: var(--muted); }
.card .was { font-size: .8rem; color: var(--muted); margin-top: .2rem; }
.card .was .d { color: var(--ink); font-weight: 600; }
dl.meta { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: .25rem 0 0; font-size: .9rem; }
dl.meta div { display: flex; gap: .4rem; }
dl.meta dt { color: var(--muted); }
dl.meta dd { margin: 0; }
.minis { display: grid; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); gap: 1rem; }
.minis figure { margin: 0; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .92rem; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid var(--ink); }
table.text td, table.text th { text-align: left; vertical-align: top; }
tfoot td { font-weight: 600; border-top: 2px solid var(--ink); }
figure { margin: .5rem 0 1.25rem; }
figcaption { font-size: .85rem; color: var(--muted); }
svg { width: 100%; height: auto; font-family: inherit; }
svg .tick { font-size: 11px; fill: #333; }
svg .axis { font-size: 12px; fill: #333; }
svg .val { font-size: 10px; fill: #333; }
svg .mark { font-size: 10px; fill: #c0392b; }
.note { font-size: .85rem; color: var(--muted); }
section { break-inside: avoid-page; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { break-after: avoid; }
  /* A chart, its caption and its table stay on one page: none is split,
     and no break falls between a chart and the table beside it. */
  figure, table { break-inside: avoid; }
  figure:has(+ table), table:has(+ figure) { break-after: avoid; }
  table + figure, figure + table { break-before: avoid; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  /* The first page is the one-page summary: the header, the tiles and the
     two small charts, then a page break. */
  #summary { break-after: page; }
  #summary .cards { margin: .5rem 0; gap: .5rem; }
  .minis { grid-template-columns: 1fr 1fr; }
  /* Sections may run on over a page (their figures and tables do not
     break); charts and tables are kept compact so that several share one. */
  section { break-inside: auto; }
  figure svg { max-height: 60mm; }
  .minis svg { max-height: none; }
  table { font-size: 8.5pt; margin: .25rem 0 .5rem; }
  th, td { padding: .05rem .4rem; }
  h2 { margin: 1rem 0 .3rem; }
}
"#;

/// The printed page's footer: the title and the report's date on the left,
/// "page N of M" on the right (CSS page-margin boxes).
pub(crate) fn print_footer(meta: &ReportMeta) -> String {
    let mut left = meta.title.clone();
    if let Some(d) = meta.report_date {
        left.push_str(&format!(" · reported {d}"));
    }
    format!(
        "@page {{ @bottom-left {{ content: \"{}\"; font: 8pt system-ui, sans-serif; color: #5a5a5a; }} \
         @bottom-right {{ content: \"page \" counter(page) \" of \" counter(pages); font: 8pt system-ui, sans-serif; color: #5a5a5a; }} }}",
        css_string(&left)
    )
}

/// Text as the inside of a CSS string: letters, digits, spaces and plain
/// punctuation as they are, anything else (quotes, backslashes, `<`, line
/// breaks) as a CSS escape, so a title cannot end the string or the
/// `<style>` element.
fn css_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_alphanumeric() || " .,:;-–—·()/&'!?".contains(c) {
            out.push(c);
        } else {
            out.push_str(&format!("\\{:x} ", c as u32));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A title cannot end the footer's CSS string or the style element.
    #[test]
    fn a_hostile_title_stays_inside_the_footer_string() {
        let mut meta = ReportMeta::new(
            "a\"; } body { x: \"</style><script>1",
            &lumbar_model::Regimen::six_moves(),
        );
        meta.report_date = chrono::NaiveDate::from_ymd_opt(2026, 12, 4);
        let css = print_footer(&meta);
        assert!(!css.contains("</"), "{css}");
        let inside = &css[css.find("content: \"").unwrap() + 10..];
        let inside = &inside[..inside.find('"').unwrap()];
        assert!(
            inside.starts_with("a\\22 ; \\7d  body \\7b  x: \\22 \\3c /style"),
            "{inside}"
        );
        assert!(inside.ends_with(" · reported 2026-12-04"), "{inside}");
        assert!(css.contains("counter(page) \" of \" counter(pages)"));
    }
}
