//! The clinic's cohort report: one self-contained HTML file (inline CSS and
//! SVG charts, no scripts or fonts fetched, printable on A4) with small
//! cells (< 5 patients) suppressed and no patient identifier anywhere.
//!
//! Nothing is built here yet: the report arrives with issue 5, on top of the
//! analyses of `lumbar-analysis`. This crate must not compute statistics (it
//! lays out what analysis computed) and must never reach the network.
