//! Results: one [`row::Row`] per run of a case, written as CSV; per case the
//! [`summary::Summary`] of its runs (medians and spreads), written as a markdown table and
//! an SVG chart, and the targets judged on the medians as a pass/miss table.

pub mod csv;
pub mod markdown;
pub mod row;
pub mod summary;
pub mod svg;
pub mod targets;
