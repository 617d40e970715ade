//! Results: one [`row::Row`] per case, written as CSV, a markdown table, an SVG chart,
//! and the targets as a pass/miss table.

pub mod csv;
pub mod markdown;
pub mod row;
pub mod svg;
pub mod targets;
