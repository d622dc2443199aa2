"""``truesli report``: the SLI's story as one self-contained HTML file; and summary.py, the text summary
every finite run prints.

inputs.py (counters / anomalies JSON lines; change events come from streams/sources/change_files.py) →
view_model.py (pure view model, downsampling, verdict.py) → render.py + svg.py (HTML with inline SVG).
streams/runs/html_report.py is the step that reads the inputs and writes the file.
"""
