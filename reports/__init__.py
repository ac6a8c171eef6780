"""The auditor report: artefacts in (collect), plain data (analyse), HTML, Markdown and JSON out (render)."""
