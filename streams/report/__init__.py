"""``truesli report``: the SLI's story as one self-contained HTML file.

inputs.py (counters / anomalies / change events JSON lines) → model.py (pure view model, downsampling,
verdict.py) → render.py + svg.py (HTML with inline SVG). history.py generates counter histories for
tests and benchmarks.
"""
