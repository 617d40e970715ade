//! Loading libnrt at run time (in progress).
