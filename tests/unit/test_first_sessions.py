"""The first sessions after a server starts build figures in several script threads at once."""
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A fresh interpreter, as a new server is: what every page imports first (app.py imports
# lossviz.ui), then one thread importing pandas, as Streamlit does lazily in whichever script
# thread needs it first, while another builds figures, as a second session does meanwhile.
RACE = textwrap.dedent("""
    import threading
    import numpy as np
    from lossviz import ui
    import plotly.graph_objects as go

    go.Figure(go.Scatter(x=np.arange(3.0), y=np.arange(3.0)))  # plotly itself loaded
    importer = threading.Thread(target=lambda: __import__("pandas"))
    importer.start()
    errors = []
    while importer.is_alive() and not errors:
        try:
            go.Figure(go.Scatter(x=np.arange(3.0), y=np.arange(3.0), customdata=np.zeros((3, 2))))
        except Exception as error:
            errors.append(repr(error))
    importer.join()
    print(errors[0] if errors else "no error")
""")


def test_figures_built_while_another_session_imports_pandas():
    for _ in range(3):  # a race: a few fresh interpreters
        done = subprocess.run([sys.executable, "-c", RACE], cwd=ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "no error"
