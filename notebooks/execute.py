"""Executes every notebook in this folder headless; fails on any cell error,
and on any plotting cell that produced no image (a figure a researcher would
not see in Jupyter, e.g. under a non-interactive backend).

Outputs are not written back: notebooks stay committed without outputs.
"""
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

here = Path(__file__).resolve().parent
failed = []
for path in sorted(here.glob("*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    if any(c.get("outputs") for c in nb.cells if c.cell_type == "code"):
        failed.append(f"{path.name}: committed with outputs; clear them before committing")
        continue
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(here)}})
    try:
        client.execute()
        plots = [c for c in nb.cells if c.cell_type == "code" and "plt.subplots" in c.source]
        blank = [i for i, c in enumerate(nb.cells) if c in plots and not any(
            "image/png" in o.get("data", {}) for o in c.get("outputs", []))]
        if not plots:
            failed.append(f"{path.name}: no plotting cell found")
        elif blank:
            failed.append(f"{path.name}: plotting cell(s) {blank} showed no image")
        else:
            print(f"ok      {path.name} ({sum(c.cell_type == 'code' for c in nb.cells)} code cells, {len(plots)} figures shown)")
    except Exception as e:  # nbclient raises CellExecutionError with the traceback
        failed.append(f"{path.name}: {e}")
for f in failed:
    print(f"FAILED  {f}", file=sys.stderr)
sys.exit(1 if failed else 0)
