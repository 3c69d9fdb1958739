"""Executes every notebook in this folder headless; fails on any cell error.

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
        print(f"ok      {path.name} ({sum(c.cell_type == 'code' for c in nb.cells)} code cells)")
    except Exception as e:  # nbclient raises CellExecutionError with the traceback
        failed.append(f"{path.name}: {e}")
for f in failed:
    print(f"FAILED  {f}", file=sys.stderr)
sys.exit(1 if failed else 0)
