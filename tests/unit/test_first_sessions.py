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


# A new playground run in the web server: made, evaluated for its first snapshot and parked as
# bytes, never stepped there. torch's first optimizer imports torch._dynamo (about 2 s of one
# core): the web server must not pay it, and the parked run must still train where it goes.
FIRST_RUN = textwrap.dedent("""
    import sys
    from lossviz.data import load_bundled
    from lossviz.train import Run, TrainConfig
    dataset = load_bundled()
    run = Run(TrainConfig(dim=2), dataset, eval_points=200)
    run.evaluate()
    parked = run.state_bytes()
    print("torch._dynamo" in sys.modules)
    moved = Run.from_state_bytes(parked, dataset)
    moved.train_step()
    print(moved.step)
""")


def test_a_new_run_in_the_web_server_imports_no_optimizer_machinery():
    shown = subprocess.run([sys.executable, "-c", FIRST_RUN], capture_output=True, text=True,
                           cwd=ROOT, check=True, timeout=300).stdout.split()
    assert shown == ["False", "1"]
