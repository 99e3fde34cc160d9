import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "lossviz"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_only_lossviz_ui_imports_streamlit():
    offenders = [str(path.relative_to(LIBRARY)) for path in LIBRARY.rglob("*.py")
                 if "ui" not in path.relative_to(LIBRARY).parts[:1]
                 and "streamlit" in imported_modules(path)]
    assert offenders == []
    assert "streamlit" in imported_modules(LIBRARY / "ui" / "__init__.py")  # the rule can bite
