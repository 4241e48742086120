//! Run records to Markdown, HTML with SVG charts, JUnit XML and JSON.
//!
//! Nothing lives here yet: reports need the simulator's run records (a later issue).
