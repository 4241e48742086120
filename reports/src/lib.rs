//! Run records to Markdown, HTML and JUnit XML.
