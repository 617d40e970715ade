//! (in progress) counters, lateness, trace
